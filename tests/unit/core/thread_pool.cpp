#include "test_support.hpp"

#include <atomic>
#include <thread>

#include "mixq/core/thread_pool.hpp"

TEST_CASE("parallel_for covers every index exactly once", "[threads]") {
  mixq::thread_pool pool(3);
  for (std::int64_t n : {0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    pool.parallel_for(n, 1, [&](std::int64_t b, std::int64_t e) {
      for (auto i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    for (auto& h : hits) CHECK(h.load() == 1);
  }
}

TEST_CASE("parallel_for nests and forwards exceptions", "[threads]") {
  mixq::thread_pool pool(2);
  std::atomic<int> total{0};
  pool.parallel_for(4, 1, [&](std::int64_t b, std::int64_t e) {
    for (auto i = b; i < e; ++i) pool.parallel_for(10, 1, [&](std::int64_t b2, std::int64_t e2) { total += static_cast<int>(e2 - b2); });
  });
  CHECK(total == 40);
  CHECK_THROWS_AS(pool.parallel_for(8, 1, [](std::int64_t b, std::int64_t) { if (b > 0) throw mixq::error("boom"); }), mixq::error);
}

TEST_CASE("back-to-back short loops each run every chunk once", "[threads]") {
  // Workers that spin between loops must join each loop at most once and never touch a
  // finished one (its job lives on the submitter's stack).
  mixq::thread_pool pool(2);
  std::int64_t total = 0;
  for (int loop = 0; loop < 20000; ++loop) {
    std::atomic<std::int64_t> sum{0};
    pool.parallel_for(4, 1, [&](std::int64_t b, std::int64_t e) { sum += e - b; });
    total += sum.load();
  }
  CHECK(total == 4 * 20000);
}

TEST_CASE("sleeping workers wake up for the next loop", "[threads]") {
  mixq::thread_pool pool(3);
  for (int loop = 0; loop < 3; ++loop) {
    std::this_thread::sleep_for(mixq::thread_pool::spin_time * 5);  // past the spin: workers sleep
    std::vector<std::atomic<int>> hits(9);
    pool.parallel_for(9, 3, [&](std::int64_t b, std::int64_t e) {
      for (auto i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    for (auto& h : hits) CHECK(h.load() == 1);
  }
}
