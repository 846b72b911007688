#pragma once
#include <algorithm>
#include <atomic>
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

/// A fixed set of worker threads for data-parallel loops. One loop runs at a
/// time; a loop started from inside a worker runs inline, so kernels may nest
/// parallel_for freely without deadlock or oversubscription.
class thread_pool {
 public:
  explicit thread_pool(std::size_t threads) : size_(std::max<std::size_t>(1, threads)) {
    for (std::size_t i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ~thread_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
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
    {
      std::lock_guard lock(mutex_);
      job_ = &j;
      ++generation_;
    }
    wake_.notify_all();
    run_chunks(j);
    std::unique_lock lock(mutex_);
    // Workers that picked the job up must have left it before it goes out of scope.
    done_.wait(lock, [&] { return j.finished.load() == j.chunks && j.active == 0; });
    job_ = nullptr;
    lock.unlock();
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
    int active = 0;  // workers inside run_chunks; guarded by the pool mutex
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
      if (j.finished.fetch_add(1) + 1 == j.chunks) {
        std::lock_guard lock(mutex_);
        done_.notify_all();
      }
    }
    in_worker() = was;
  }

  void worker_loop(std::size_t) {
    std::uint64_t seen = 0;
    for (;;) {
      job* j;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || (job_ && generation_ != seen); });
        if (stopping_) return;
        seen = generation_;
        j = job_;
        ++j->active;
      }
      run_chunks(*j);
      {
        std::lock_guard lock(mutex_);
        --j->active;
      }
      done_.notify_all();
    }
  }

  std::size_t size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_, submit_mutex_;
  std::condition_variable wake_, done_;
  job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace mixq
