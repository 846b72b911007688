// The observer's fast paths against their plain references.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "mixq/calibration/histogram_observer.hpp"

namespace obs = mixq::calibration::detail::torch_observer;

namespace {

std::vector<float> random_values(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_CASE("add_histc_counts matches the scalar histc kernel, edges and outside values included") {
  std::mt19937 rng(11);
  for (int bins : {1, 3, 128, 1000, 2048}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{17}, std::size_t{1000}, std::size_t{5003}}) {
      std::vector<float> x = random_values(rng, n, -2.5f, 3.5f);
      const float lo = -2.f, hi = 3.f;
      // Values exactly on the edges and on interior bin boundaries, where rounding decides.
      for (std::size_t i = 0; i < n; i += 7) x[i] = lo + (hi - lo) * static_cast<float>(i % (bins + 1)) / static_cast<float>(bins);
      if (n > 2) {
        x[1] = hi;
        x[2] = lo;
      }
      std::vector<std::uint64_t> fast(static_cast<std::size_t>(bins) + 1, 0), ref(fast);
      obs::add_histc_counts(x, lo, hi, fast);
      obs::add_histc_counts_reference(x, lo, hi, ref);
      INFO(bins << " bins, " << n << " values");
      REQUIRE(fast == ref);
    }
  }
}

TEST_CASE("add_histc_counts accumulates one bin's long run exactly") {
  std::vector<float> x(100000, 0.f);  // a ReLU output: everything in one bin
  x[5] = 1.f;
  std::vector<std::uint64_t> fast(2049, 0), ref(2049, 0);
  obs::add_histc_counts(x, 0.f, 1.f, fast);
  obs::add_histc_counts_reference(x, 0.f, 1.f, ref);
  REQUIRE(fast == ref);
  REQUIRE(fast[0] == 99999);
  REQUIRE(fast[2047] == 1);
}

TEST_CASE("combine_histograms equals torch's materialized up-sample, cumsum and down-sample") {
  std::mt19937 rng(5);
  for (int bins : {1, 3, 64, 256}) {
    for (std::int64_t downsample : {128, 129, 200, 1000}) {
      for (int kind = 0; kind < 3; ++kind) {
        // Integer counts (the common case), float counts, and float counts with tiny negative
        // bins (what repeated combining produces), where the double cumsum rounds.
        std::vector<float> old_hist(static_cast<std::size_t>(bins)), fast, ref;
        std::uniform_int_distribution<int> count(0, 1000);
        std::uniform_real_distribution<float> frac(0.f, 1.f);
        for (float& h : old_hist) {
          h = static_cast<float>(count(rng));
          if (kind >= 1) h *= frac(rng) / 37.f;
          if (kind == 2 && frac(rng) < 0.2f) h = -frac(rng) * 1e-9f;
        }
        fast = random_values(rng, static_cast<std::size_t>(bins), 0.f, 50.f);
        ref = fast;
        const std::int64_t slack = (downsample - obs::upsample_rate) * bins;
        const std::int64_t start_idx = std::uniform_int_distribution<std::int64_t>(0, slack)(rng);
        obs::combine_histograms(fast, old_hist, downsample, start_idx);
        obs::combine_histograms_reference(ref, old_hist, downsample, start_idx);
        INFO(bins << " bins, downsample " << downsample << ", start " << start_idx << ", kind " << kind);
        for (std::size_t b = 0; b < fast.size(); ++b) {
          INFO("bin " << b);
          REQUIRE(fast[b] == ref[b]);
        }
      }
    }
  }
}

TEST_CASE("add_repeatedly equals one addition at a time") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int t = 0; t < 2000; ++t) {
    double s = t % 3 == 0 ? std::floor(u(rng) * 1e6) : u(rng) * std::pow(10.0, 8 * u(rng));
    const double v = static_cast<float>(t % 2 ? std::floor(u(rng) * 100) : (u(rng) - 0.1) * std::pow(10.0, -12 * u(rng)));
    const std::int64_t count = 1 + t % 128;
    double seq = s;
    for (std::int64_t k = 0; k < count; ++k) seq = obs::no_fuse(seq + v);
    INFO("s " << s << " v " << v << " count " << count);
    REQUIRE(obs::add_repeatedly(s, v, count) == seq);
  }
}

TEST_CASE("exact_fmod equals std::fmod and torch_floor_divide is Python's floor division") {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int t = 0; t < 20000; ++t) {
    const float a = u(rng) * std::pow(10.f, 6 * u(rng)), b = std::fabs(u(rng)) * std::pow(10.f, 6 * u(rng)) + 1e-30f;
    INFO(a << " / " << b);
    REQUIRE(obs::exact_fmod(a, b) == std::fmod(a, b));
    // c10::div_floor_floating, transcribed with std::fmod
    const float mod = std::fmod(a, b);
    float div = (a - mod) / b;
    if (mod != 0.f && (mod < 0.f)) div -= 1.f;
    float expected = std::floor(div);
    if (div - expected > 0.5f) expected += 1.f;
    if (div == 0.f) expected = std::copysign(0.f, a / b);
    REQUIRE(obs::torch_floor_divide(a, b) == expected);
  }
  REQUIRE(obs::torch_floor_divide(7.f, 2.f) == 3.f);
  REQUIRE(obs::torch_floor_divide(-7.f, 2.f) == -4.f);
  REQUIRE(obs::torch_floor_divide(6.f, 2.f) == 3.f);
  REQUIRE(obs::torch_floor_divide(-0.5f, 2.f) == -1.f);
  REQUIRE(std::signbit(obs::torch_floor_divide(-0.f, 2.f)));
}

TEST_CASE("range_of is the min and max, and names the first NaN or infinity") {
  std::mt19937 rng(1);
  for (std::size_t n : {1, 7, 16, 33, 1000}) {
    const std::vector<float> x = random_values(rng, n, -4.f, 9.f);
    const auto fast = obs::range_of(x);
    const auto ref = obs::range_of_reference(x);
    REQUIRE(fast.min == ref.min);
    REQUIRE(fast.max == ref.max);
  }
  std::vector<float> x(100, 1.f);
  x[42] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(obs::range_of(x), Catch::Contains("element 42 of the 100") && Catch::Contains("NaN"));
  x[42] = 1.f;
  x[97] = -std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_WITH(obs::range_of(x), Catch::Contains("element 97") && Catch::Contains("infinite"));
}
