#pragma once
// Recycles large tensor buffers. An inference allocates every activation afresh and frees it
// after its last use; for buffers past glibc's mmap threshold each allocation is fresh pages
// (a page fault per 4 KiB on first touch) and each free unmaps them: on small CNNs at batch 8
// that was half of the run time, in the kernel. Freed blocks of 64 KiB and more are kept here,
// binned by size class, and handed out again to the next request of the same class.
//
// Bound: at most MIXQ_BUFFER_CACHE_MB MiB (default 1024; 0 turns the cache off) are kept; a
// block that does not fit is freed at once. Under AddressSanitizer the cache is off, so that
// use-after-free of a tensor buffer is still reported.
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace mixq::detail {

class buffer_cache {
 public:
  static constexpr std::size_t alignment = 64;
  static constexpr std::size_t min_cached = std::size_t{64} << 10;

  /// A block of at least `bytes` bytes, 64-byte aligned; release it with `release(p, bytes)`.
  static std::byte* allocate(std::size_t bytes) {
    if (bytes < min_cached || !enabled()) return raw_new(bytes);
    const std::size_t cls = size_class(bytes);
    buffer_cache& c = instance();
    {
      std::lock_guard lock(c.mutex_);
      if (cls < c.bins_.size() && !c.bins_[cls].empty()) {
        std::byte* p = c.bins_[cls].back();
        c.bins_[cls].pop_back();
        c.cached_ -= class_bytes(cls);
        return p;
      }
    }
    return raw_new(class_bytes(cls));
  }

  static void release(std::byte* p, std::size_t bytes) noexcept {
    if (!p) return;
    if (bytes < min_cached || !enabled()) return raw_delete(p);
    const std::size_t cls = size_class(bytes);
    buffer_cache& c = instance();
    {
      std::lock_guard lock(c.mutex_);
      if (c.cached_ + class_bytes(cls) <= c.limit_) {
        try {
          if (c.bins_.size() <= cls) c.bins_.resize(cls + 1);
          c.bins_[cls].push_back(p);
          c.cached_ += class_bytes(cls);
          return;
        } catch (const std::bad_alloc&) {  // no room for the bookkeeping: free the block instead
        }
      }
    }
    raw_delete(p);
  }

  /// Frees every cached block (e.g. after a large model is done).
  static void trim() noexcept {
    if (!enabled()) return;
    buffer_cache& c = instance();
    std::lock_guard lock(c.mutex_);
    for (auto& bin : c.bins_) {
      for (std::byte* p : bin) raw_delete(p);
      bin.clear();
    }
    c.cached_ = 0;
  }

  static std::size_t cached_bytes() noexcept {
    if (!enabled()) return 0;
    buffer_cache& c = instance();
    std::lock_guard lock(c.mutex_);
    return c.cached_;
  }

 private:
  // Four classes per power of two (x1, x1.25, x1.5, x1.75): at most 25% of a block is unused,
  // and the same model's activations land in the same classes run after run.
  static std::size_t size_class(std::size_t bytes) noexcept {
    std::size_t exp = 0;
    while ((std::size_t{1} << (exp + 1)) <= bytes) ++exp;
    const std::size_t base = std::size_t{1} << exp;
    const std::size_t quarter = base / 4;
    const std::size_t step = (bytes - base + quarter - 1) / quarter;  // 0..4; 4 is the next power
    return step == 4 ? (exp + 1) * 4 : exp * 4 + step;
  }
  static std::size_t class_bytes(std::size_t cls) noexcept {
    const std::size_t exp = cls / 4, step = cls % 4;
    const std::size_t base = std::size_t{1} << exp;
    return base + step * (base / 4);
  }

  static std::byte* raw_new(std::size_t bytes) {
    return static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{alignment}));
  }
  static void raw_delete(std::byte* p) noexcept { ::operator delete[](p, std::align_val_t{alignment}); }

  static bool enabled() noexcept {
#if defined(__SANITIZE_ADDRESS__)
    return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return false;
#else
    return instance().limit_ > 0;
#endif
#else
    return instance().limit_ > 0;
#endif
  }

  // Never destroyed: tensors held in static storage may be freed after any static destructor
  // ran. The cached blocks stay reachable from here, so leak checkers do not report them.
  static buffer_cache& instance() noexcept {
    static buffer_cache* c = new buffer_cache;
    return *c;
  }

  buffer_cache() {
    if (const char* env = std::getenv("MIXQ_BUFFER_CACHE_MB")) {
      char* end = nullptr;
      const long long mb = std::strtoll(env, &end, 10);
      if (end != env && mb >= 0) limit_ = static_cast<std::size_t>(mb) << 20;
    }
  }

  std::mutex mutex_;
  std::vector<std::vector<std::byte*>> bins_;
  std::size_t cached_ = 0;
  std::size_t limit_ = std::size_t{1024} << 20;
};

}  // namespace mixq::detail
