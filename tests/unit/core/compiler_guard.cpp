// GCC 12 with AVX-512 SLP-vectorizes small int64 vector literals into a broadcast of their first
// element (CMakeLists.txt turns SLP off for our targets). This pins the workaround: it fails if
// the flag is lost on a machine and compiler that have the bug.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

namespace {
[[gnu::noinline]] long weighted_sum(std::vector<std::int64_t> v) {
  long s = 0;
  for (std::size_t i = 0; i < v.size(); ++i) s += v[i] * static_cast<long>(i + 1) * 10;
  return s;
}
}  // namespace

TEST_CASE("small integer vector literals keep their values (GCC 12 AVX-512 SLP miscompilation)") {
  CHECK(weighted_sum({1, 1, 0, 0}) == 30);
  CHECK(weighted_sum({0, 0, 1, 1}) == 70);
  CHECK(weighted_sum({2, 0, 0, 5}) == 220);
}
