// mixq::python_random against CPython's random module: stored numbers (tests/data/dataset,
// written by make_expectations.py) and, where /usr/bin/python3 is there, a live comparison.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dataset_test_util.hpp"

#include "mixq/calibration/dataset.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

std::uint64_t fnv1a64(const std::vector<std::uint64_t>& v) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint64_t x : v)
    for (int b = 0; b < 8; ++b) {
      h ^= (x >> (8 * b)) & 0xff;
      h *= 0x100000001b3ull;
    }
  return h;
}

std::vector<std::uint64_t> shuffled(std::int64_t seed, std::size_t n) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  python_random r(seed);
  r.shuffle(v);
  return v;
}

}  // namespace

TEST_CASE("shuffle matches CPython's random.seed(s) and random.shuffle for stored seeds and lengths", "[python_random]") {
  std::ifstream in(std::string(MIXQ_TEST_DATA_DIR) + "/dataset/python_random.txt");
  REQUIRE(in);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind != "shuffle") continue;
    std::int64_t seed = 0;
    std::size_t n = 0;
    std::uint64_t hash = 0;
    s >> seed >> n >> hash;
    INFO("seed " << seed << ", length " << n);
    const auto v = shuffled(seed, n);
    CHECK(fnv1a64(v) == hash);
    for (std::size_t i = 0; i < 8 && i < n; ++i) {
      std::uint64_t x = 0;
      s >> x;
      CHECK(v[i] == x);
    }
    ++checked;
  }
  CHECK(checked == 36);
}

TEST_CASE("getrandbits and random() match CPython for stored seeds", "[python_random]") {
  std::ifstream in(std::string(MIXQ_TEST_DATA_DIR) + "/dataset/python_random.txt");
  REQUIRE(in);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind != "bits") continue;
    std::int64_t seed = 0;
    s >> seed;
    INFO("seed " << seed);
    python_random r(seed);
    for (unsigned k : {32u, 32u, 32u, 64u, 17u}) {
      std::uint64_t want = 0;
      s >> want;
      CHECK(r.getrandbits(k) == want);
    }
    std::string want_hex;
    s >> want_hex;
    CHECK(r.random() == std::strtod(want_hex.c_str(), nullptr));  // float.hex() text, exact
    ++checked;
  }
  CHECK(checked == 6);
}

TEST_CASE("the seed-1684 shuffle of ten items, as TPU-MLIR's DataSelector orders them", "[python_random]") {
  CHECK(shuffled(1684, 10) == std::vector<std::uint64_t>{1, 8, 9, 6, 5, 3, 2, 4, 0, 7});
}

TEST_CASE("randbelow only returns values below its bound and rejects 0", "[python_random]") {
  python_random r(3);
  for (std::uint64_t n : {1ull, 2ull, 3ull, 5ull, 1000ull, 1ull << 40, (1ull << 63) + 1})
    for (int i = 0; i < 200; ++i) CHECK(r.randbelow(n) < n);
  CHECK_THROWS_AS(r.randbelow(0), mixq::error);
  CHECK_THROWS_AS(r.getrandbits(65), mixq::error);
  CHECK(r.getrandbits(0) == 0);
}

TEST_CASE("shuffle matches /usr/bin/python3 live", "[python_random][python]") {
  if (!have_python()) MIXQ_SKIP("/usr/bin/python3 is not there");
  for (std::int64_t seed : {1684ll, 42ll, -1ll, 9007199254740993ll})
    for (std::size_t n : {0u, 1u, 2u, 3u, 100u, 1000u, 100000u}) {
      INFO("seed " << seed << ", length " << n);
      bool ok = false;
      const std::string out = run_command(
          "/usr/bin/python3 -c \"import random\nv=list(range(" + std::to_string(n) + "))\nrandom.seed(" + std::to_string(seed) +
              ")\nrandom.shuffle(v)\nprint(' '.join(map(str,v)))\"",
          ok);
      REQUIRE(ok);
      std::istringstream s(out);
      std::vector<std::uint64_t> want;
      for (std::uint64_t x; s >> x;) want.push_back(x);
      CHECK(shuffled(seed, n) == want);
    }
}
