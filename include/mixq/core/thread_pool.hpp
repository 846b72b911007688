#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mixq {

namespace detail {
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
}  // namespace detail

/// A fixed set of worker threads for data-parallel loops. One loop runs at a
/// time; a loop started from inside a worker runs inline, so kernels may nest
/// parallel_for freely without deadlock or oversubscription.
///
/// An inference is hundreds of short loops (a few microseconds each on small models), so
/// waking sleeping workers through a condition variable for each would cost more than the
/// loop: idle workers first spin for `spin_time` watching for the next loop, and only then
/// sleep. The submitting thread runs chunks too and waits for the others by spinning (they
/// are running, so the wait is short).
class thread_pool {
 public:
  /// How long an idle worker polls for new work before it sleeps.
  static constexpr std::chrono::microseconds spin_time{200};

  explicit thread_pool(std::size_t threads) : size_(std::max<std::size_t>(1, threads)) {
    for (std::size_t i = 1; i < size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~thread_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  std::size_t size() const noexcept { return size_; }

  /// Runs fn(begin, end) over [0, n) split into contiguous chunks of at least `grain`.
  void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<std::int64_t>(1, grain);
    const std::int64_t max_chunks = (n + grain - 1) / grain;
    const auto chunks = static_cast<std::int64_t>(std::min<std::int64_t>(max_chunks, static_cast<std::int64_t>(size_)));
    if (chunks <= 1 || in_worker() || size_ == 1) {
      fn(0, n);
      return;
    }
    std::unique_lock submit(submit_mutex_);  // one loop at a time from outside threads
    job j;
    j.fn = &fn;
    j.n = n;
    j.chunks = chunks;
    job_.store(&j);
    generation_.fetch_add(1);
    if (sleeping_.load() > 0) {
      std::lock_guard lock(mutex_);  // a worker between its last check and its wait sees the new generation
      wake_.notify_all();
    }
    run_chunks(j);
    for (unsigned spins = 0; j.finished.load(std::memory_order_acquire) != j.chunks; ++spins) {
      if (spins < 4096) detail::spin_pause();
      else std::this_thread::yield();  // a worker holding a chunk was descheduled
    }
    // No worker may still be about to touch j once this returns: a worker counts itself in
    // `active_` before it reads job_, so after job_ is cleared, active_ == 0 means none has j.
    job_.store(nullptr);
    while (active_.load() != 0) detail::spin_pause();
    if (j.failure) std::rethrow_exception(j.failure);
  }

  /// The process-wide pool: MIXQ_NUM_THREADS threads, else every hardware thread.
  static thread_pool& global() {
    static thread_pool pool(default_threads());
    return pool;
  }
  static std::size_t default_threads() {
    if (const char* env = std::getenv("MIXQ_NUM_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v > 0) return static_cast<std::size_t>(v);
    }
    return std::max(1u, std::thread::hardware_concurrency());
  }

 private:
  struct job {
    const std::function<void(std::int64_t, std::int64_t)>* fn = nullptr;
    std::int64_t n = 0;
    std::int64_t chunks = 0;
    std::atomic<std::int64_t> next{0};
    std::atomic<std::int64_t> finished{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
  };

  static bool& in_worker() {
    thread_local bool flag = false;
    return flag;
  }

  void run_chunks(job& j) {
    const bool was = in_worker();
    in_worker() = true;
    for (std::int64_t c; (c = j.next.fetch_add(1)) < j.chunks;) {
      const std::int64_t begin = j.n * c / j.chunks, end = j.n * (c + 1) / j.chunks;
      try {
        (*j.fn)(begin, end);
      } catch (...) {
        std::lock_guard lock(j.failure_mutex);
        if (!j.failure) j.failure = std::current_exception();
      }
      j.finished.fetch_add(1, std::memory_order_release);
    }
    in_worker() = was;
  }

  /// Joins the current loop, if any is still published.
  void help() {
    active_.fetch_add(1);
    if (job* j = job_.load()) run_chunks(*j);
    active_.fetch_sub(1);
  }

  void worker_loop() {
    std::uint64_t seen = generation_.load();
    for (;;) {
      // Poll: checking the clock every 256 pauses keeps its cost out of the loop.
      const auto until = std::chrono::steady_clock::now() + spin_time;
      bool found = false;
      for (unsigned i = 0; !found; ++i) {
        if (stopping_.load(std::memory_order_relaxed)) return;
        if (generation_.load(std::memory_order_acquire) != seen) {
          found = true;
          break;
        }
        detail::spin_pause();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) break;
      }
      if (!found) {
        std::unique_lock lock(mutex_);
        sleeping_.fetch_add(1);
        wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
        sleeping_.fetch_sub(1);
        if (stopping_.load()) return;
      }
      seen = generation_.load();
      help();
    }
  }

  std::size_t size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_, submit_mutex_;
  std::condition_variable wake_;
  std::atomic<job*> job_{nullptr};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> active_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace mixq
