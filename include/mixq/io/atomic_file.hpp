#pragma once
// Write-to-temporary-then-rename: readers of `path` see either the old file or the complete new
// one, never a half-written file (a crash or an exception mid-write leaves `path` untouched).
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

#include "mixq/core/error.hpp"

#if __has_include(<unistd.h>)
#include <unistd.h>
#define MIXQ_HAVE_UNISTD 1
#else
#define MIXQ_HAVE_UNISTD 0
#endif

namespace mixq {

namespace detail {
inline std::string errno_message(int code) { return std::generic_category().message(code); }

/// A sibling of `path` (same directory, so rename() stays within one file system) that no other
/// writer in this or another process picks at the same time.
inline std::string temporary_sibling(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
#if MIXQ_HAVE_UNISTD
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  return path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter.fetch_add(1));
}
}  // namespace detail

/// Streams bytes into a temporary file next to `path`; commit() makes them appear at `path`.
/// Destroying the writer without commit() removes the temporary file and leaves `path` as it was.
class atomic_file_writer {
 public:
  explicit atomic_file_writer(std::string path) : path_(std::move(path)), temp_path_(detail::temporary_sibling(path_)) {
    // "x": never reuse a temporary file somebody else is writing.
    file_ = std::fopen(temp_path_.c_str(), "wbx");
    if (!file_) {
      const int code = errno;
      throw error("mixq: cannot write '" + path_ + "': cannot create the temporary file '" + temp_path_ +
                  "' (" + detail::errno_message(code) + ")");
    }
  }
  atomic_file_writer(const atomic_file_writer&) = delete;
  atomic_file_writer& operator=(const atomic_file_writer&) = delete;
  ~atomic_file_writer() { discard(); }

  void write(const void* data, std::size_t n) {
    if (!file_) throw error("mixq: cannot write '" + path_ + "': the file was already committed or discarded");
    if (n == 0) return;
    if (std::fwrite(data, 1, n, file_) != n) {
      const int code = errno;
      discard();
      throw error("mixq: cannot write '" + path_ + "' (" + detail::errno_message(code) + ")");
    }
    written_ += n;
  }
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  std::uint64_t bytes_written() const noexcept { return written_; }
  const std::string& path() const noexcept { return path_; }

  /// Flushes to disk and renames the temporary file over `path`.
  void commit() {
    if (!file_) throw error("mixq: cannot write '" + path_ + "': the file was already committed or discarded");
    bool ok = std::fflush(file_) == 0;
    int code = ok ? 0 : errno;
#if MIXQ_HAVE_UNISTD
    // Without fsync a crash shortly after rename() can leave an empty file under the new name.
    if (ok && ::fsync(::fileno(file_)) != 0) {
      ok = false;
      code = errno;
    }
#endif
    if (std::fclose(file_) != 0 && ok) {
      ok = false;
      code = errno;
    }
    file_ = nullptr;
    if (ok && std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      ok = false;
      code = errno;
    }
    if (!ok) {
      std::remove(temp_path_.c_str());
      throw error("mixq: cannot write '" + path_ + "' (" + detail::errno_message(code) + ")");
    }
  }

  /// Drops everything written so far; `path` is left untouched.
  void discard() noexcept {
    if (!file_) return;
    std::fclose(file_);
    file_ = nullptr;
    std::remove(temp_path_.c_str());
  }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  std::uint64_t written_ = 0;
};

/// Replaces the file at `path` with `bytes` atomically (see atomic_file_writer).
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  atomic_file_writer out(path);
  out.write(bytes);
  out.commit();
}

}  // namespace mixq
