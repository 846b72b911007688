// Calibration reductions against their scalar references, and the statistics built on them
// against hand-computed TPU-MLIR behaviour.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "mixq/calibration/kernels.hpp"
#include "mixq/calibration/kl.hpp"
#include "mixq/calibration/statistics.hpp"

using namespace mixq;
using namespace mixq::calibration;

namespace {

std::vector<float> normal_values(std::size_t n, float sd, unsigned seed, float mean = 0.f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

}  // namespace

TEST_CASE("range_of matches the reference and flags NaN and inf") {
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 65537u}) {
    auto v = normal_values(n, 3.f, static_cast<unsigned>(n));
    const auto a = range_of(v), b = range_of_reference(v);
    CHECK(a.min == b.min);
    CHECK(a.max == b.max);
    CHECK(a.finite);
  }
  auto v = normal_values(100, 1.f, 3);
  v[37] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(range_of(v).finite);
  v[37] = std::numeric_limits<float>::quiet_NaN();
  const auto r = range_of(v);
  CHECK_FALSE(r.finite);
  CHECK(r.max == range_of_reference(v).max);
}

TEST_CASE("abs histogram kernel bins like numpy on float32: floor(|x|/w + 0.5), zeros skipped") {
  for (std::size_t n : {0u, 7u, 16u, 33u, 5000u, 300001u}) {
    auto v = normal_values(n, 2.f, static_cast<unsigned>(n) + 1);
    for (std::size_t i = 0; i < v.size(); i += 11) v[i] = 0.f;
    const float w = 8.f / 2047.f;
    std::vector<std::int64_t> a(2048, 0), b(2048, 0);
    add_abs_histogram(v, w, a);
    add_abs_histogram_reference(v, w, b);
    CHECK(a == b);
  }
  std::vector<float> v{0.f, 1.f, -1.f, 1.49f, 1.5f, 2.f, 9.f};
  std::vector<std::int64_t> h(3, 0);
  add_abs_histogram(v, 1.f, h);
  CHECK(h == std::vector<std::int64_t>{0, 3, 2});  // 9 lies past the last bin; 1.5 rounds up to 2
}

TEST_CASE("abs histogram kernel leaves out zeros, NaN and past-the-end values exactly as the reference") {
  // Post-ReLU shape: long zero runs (dead channels) and scattered zeros, plus the lanes the
  // vector path must drop without a branch: -0, NaN, inf, values binned at or past the last bin.
  auto v = normal_values(70001, 1.f, 21);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i % 3 == 0 || (i >= 1000 && i < 5000)) v[i] = 0.f;
    if (i % 97 == 1) v[i] = -0.f;
    if (i % 101 == 2) v[i] = std::numeric_limits<float>::quiet_NaN();
    if (i % 103 == 4) v[i] = -std::numeric_limits<float>::infinity();
    if (i % 107 == 5) v[i] = 4.0f;  // exactly the last bin's upper edge and beyond with w = 4/1023
  }
  for (std::size_t bins : {2u, 1024u, 2048u}) {
    const float w = 4.f / 1023.f;
    std::vector<std::int64_t> a(bins, 0), b(bins, 0);
    add_abs_histogram(v, w, a);
    add_abs_histogram_reference(v, w, b);
    CHECK(a == b);
  }
  std::vector<float> zeros(9000, 0.f);
  std::vector<std::int64_t> h(16, 0);
  add_abs_histogram(zeros, 0.5f, h);
  CHECK(h == std::vector<std::int64_t>(16, 0));
}

TEST_CASE("abs histogram kernel counts the crowded low bins exactly, however often one bin repeats") {
  // The scatter deals consecutive values to four copies of the counts and the remainder after
  // the last whole four to the first: one bin hit by every value, across many index-buffer
  // refills and with a length that is no multiple of a vector or of four, must add up exactly.
  const float w = 1.f / 2047.f;
  for (float value : {5.f * w, 63.49f * w, 63.5f * w, 300.f * w}) {
    std::vector<float> v(3 * 4096 + 77, value);
    std::vector<std::int64_t> a(2048, 0), b(2048, 0);
    add_abs_histogram(v, w, a);
    add_abs_histogram_reference(v, w, b);
    CHECK(a == b);
    CHECK(std::accumulate(a.begin(), a.end(), std::int64_t{0}) == static_cast<std::int64_t>(v.size()));
  }
  // Activation-like: most values in the first 128 bins, runs of equal values, zeros, signs.
  std::mt19937 gen(7);
  std::exponential_distribution<float> d(40.f);
  std::vector<float> v(400003);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = i % 5 == 0 ? 0.f : (i % 2 ? -1.f : 1.f) * d(gen);
    if (i >= 9000 && i < 90000) v[i] = static_cast<float>((i / 700) % 70) * w;  // long runs of one bin
  }
  for (std::size_t bins : {16u, 64u, 100u, 2048u}) {
    std::vector<std::int64_t> a(bins, 0), b(bins, 0);
    add_abs_histogram(v, w, a);
    add_abs_histogram_reference(v, w, b);
    CHECK(a == b);
  }
  value_range r;
  std::vector<std::int64_t> a(2048, 0), b(2048, 0);
  CHECK(add_abs_histogram_within(v, w, a, 1e9, r));
  add_abs_histogram_reference(v, w, b);
  CHECK(a == b);
}

TEST_CASE("one-pass histogram and range: the range of range_of, the bins of add_abs_histogram, nothing counted past max_abs") {
  for (std::size_t n : {9u, 4095u, 4096u, 70001u}) {
    auto v = normal_values(n, 2.f, static_cast<unsigned>(n) + 5);
    for (std::size_t i = 0; i < v.size(); i += 3) v[i] = 0.f;
    const float w = 8.f / 2047.f;
    std::vector<std::int64_t> a(2048, 0), b(2048, 0);
    value_range r;
    CHECK(add_abs_histogram_within(v, w, a, 1e9, r));
    add_abs_histogram_reference(v, w, b);
    CHECK(a == b);
    const value_range e = range_of_reference(v);
    CHECK(r.min == e.min);
    CHECK(r.max == e.max);
    CHECK(r.finite);
    // Past max_abs: the range is still reported, the counts stay as they were.
    const std::vector<std::int64_t> before = a;
    CHECK_FALSE(add_abs_histogram_within(v, w, a, static_cast<double>(e.abs_max()) * 0.5, r));
    CHECK(a == before);
    CHECK(r.max == e.max);
    v[n / 2] = std::numeric_limits<float>::quiet_NaN();
    CHECK_FALSE(add_abs_histogram_within(v, w, a, 1e9, r));
    CHECK_FALSE(r.finite);
    CHECK(a == before);
    CHECK(r.max == range_of_reference(v).max);
  }
}

TEST_CASE("abs histogram fed through add_within_range counts exactly what add() alone counts, growing ranges included") {
  thread_pool pool(2);
  for (thread_pool* p : {static_cast<thread_pool*>(nullptr), &pool}) {
    abs_histogram one_pass(512), reference(512);
    float running = 0;
    for (unsigned batch = 0; batch < 12; ++batch) {
      // Batches 3 and 7 reach further than the ones before: the histogram must grow there.
      const float sd = batch == 3 ? 4.f : batch == 7 ? 9.f : 1.f;
      const auto v = normal_values(batch % 2 ? 200000 : 3000, sd, 40 + batch);
      const value_range e = range_of_reference(v);
      running = std::max(running, e.abs_max());
      reference.add(v, running, p);
      const double range_before = one_pass.range();
      const auto w = one_pass.add_within_range(v, p);
      CHECK(w.range.min == e.min);
      CHECK(w.range.max == e.max);
      if (!w.counted) one_pass.add(v, running, p);
      CHECK(w.counted == (range_before > 0 && static_cast<double>(e.abs_max()) <= range_before));
      if (batch == 3 || batch == 7) CHECK_FALSE(w.counted);
    }
    CHECK(one_pass.counts() == reference.counts());
    CHECK(one_pass.range() == reference.range());
  }
}

TEST_CASE("tail sums, central sums, fourth moment and sums agree with double references") {
  for (std::size_t n : {1u, 17u, 4096u, 100003u}) {
    const auto v = normal_values(n, 5.f, static_cast<unsigned>(n) + 9, 1.f);
    const auto a = tail_sums_of(v, 2.f), b = tail_sums_reference(v, 2.f);
    CHECK(a.count_above == b.count_above);
    CHECK(a.count_nonzero == b.count_nonzero);
    CHECK(a.sum_above == Approx(b.sum_above).epsilon(1e-6));
    CHECK(a.sum_abs == Approx(b.sum_abs).epsilon(1e-6));
    const auto c = central_sums_of(v, 1.0), d = central_sums_reference(v, 1.0);
    CHECK(c.abs_dev == Approx(d.abs_dev).epsilon(1e-5));
    CHECK(c.m2 == Approx(d.m2).epsilon(1e-5));
    CHECK(fourth_moment_of(v, 1.0, 0.2) == Approx(fourth_moment_reference(v, 1.0, 0.2)).epsilon(1e-5));
    CHECK(sum_of(v) == Approx(sum_reference(v)).epsilon(1e-5).margin(1e-3));
  }
}

TEST_CASE("python_floordiv is Python's float //") {
  CHECK(calibration::detail::python_floordiv(0.3, 0.1) == 2.0);  // fmod-based: 0.3 // 0.1 == 2.0 in Python
  CHECK(calibration::detail::python_floordiv(1.0, 0.1) == 9.0);  // 1.0 // 0.1 == 9.0 in Python
  CHECK(calibration::detail::python_floordiv(7.0, 2.0) == 3.0);
  CHECK(calibration::detail::python_floordiv(-7.0, 2.0) == -4.0);
  CHECK(calibration::detail::python_floordiv(0.0, 3.0) == 0.0);
}

TEST_CASE("abs_histogram: first batch sets width absmax/(B-1), smaller batches add in place") {
  abs_histogram h(5);
  std::vector<float> a{4.f, -2.f, 1.f, 0.f};
  h.add(a, 4.f);
  CHECK(h.counts() == std::vector<std::int64_t>{0, 1, 1, 0, 1});
  CHECK(h.width() == 1.0);
  std::vector<float> b{3.f, 0.4f};
  h.add(b, 4.f);
  CHECK(h.counts() == std::vector<std::int64_t>{1, 1, 1, 1, 1});  // only exact zeros are skipped: 0.4 lands in bin 0
}

TEST_CASE("abs_histogram grows by whole bins of range/bins when the range widens, as TPU-MLIR's combine_histogram") {
  abs_histogram h(5);
  std::vector<float> a{4.f};
  h.add(a, 4.f);  // range 4, 5 bins of width 1
  std::vector<float> b{6.f};
  h.add(b, 6.f);
  // step = 4/5 = 0.8; added = (6 - 4) // 0.8 + 1 = 3; 8 bins over range 3*0.8 + 4 = 6.4, width 6.4/7.
  REQUIRE(h.counts().size() == 8);
  CHECK(h.range() == Approx(6.4));
  CHECK(h.width() == Approx(6.4 / 7));
  // old counts occupy the first 5 bins as they were; 6 lands at floor(6 / (6.4/7) + 0.5) = 7.
  std::vector<std::int64_t> want(8, 0);
  want[4] = 1;
  want[7] = 1;
  CHECK(h.counts() == want);
  CHECK(h.restarts() == 0);
}

TEST_CASE("abs_histogram restarts from the current batch past 8M bins, and after an all-zero start") {
  abs_histogram h(2048);
  std::vector<float> zero(10, 0.f);
  h.add(zero, 0.f);
  std::vector<float> one{1.f};
  h.add(one, 1.f);  // a zero range cannot be extended: TPU-MLIR divides by zero here
  CHECK(h.counts().size() == 2048);
  CHECK(h.counts().back() == 1);
  std::vector<float> huge{1e5f};
  h.add(huge, 1e5f);  // would need ~200M bins
  CHECK(h.restarts() == 1);
  CHECK(h.counts().size() == 2048);
  CHECK(std::accumulate(h.counts().begin(), h.counts().end(), std::int64_t{0}) == 1);
}

TEST_CASE("top_k keeps exactly the k most extreme values over batches") {
  std::vector<float> all;
  top_k hi(37, top_k::order::largest), lo(37, top_k::order::smallest), ab(37, top_k::order::largest_abs);
  for (unsigned s = 0; s < 6; ++s) {
    const auto v = normal_values(1000 + s * 77, 1.f + static_cast<float>(s), s);
    all.insert(all.end(), v.begin(), v.end());
    hi.add(v);
    lo.add(v);
    ab.add(v);
  }
  std::vector<float> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  const auto h = hi.extremes(), l = lo.extremes(), a = ab.extremes();
  REQUIRE(h.size() == 37);
  for (std::size_t i = 0; i < 37; ++i) {
    CHECK(h[i] == sorted[sorted.size() - 1 - i]);
    CHECK(l[i] == sorted[i]);
  }
  std::vector<float> absv(all.size());
  std::transform(all.begin(), all.end(), absv.begin(), [](float x) { return std::fabs(x); });
  std::sort(absv.begin(), absv.end(), std::greater<float>());
  for (std::size_t i = 0; i < 37; ++i) CHECK(a[i] == absv[i]);
}

TEST_CASE("interpolated percentile equals numpy's linear percentile on the top-k it was built from") {
  const auto v = normal_values(20000, 1.f, 5);
  const double p = 99.99;
  const std::int64_t total = static_cast<std::int64_t>(v.size());
  const std::int64_t k = percentile_k(total, p);
  CHECK(k == 3);
  top_k hi(k, top_k::order::largest);
  hi.add(v);
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  // numpy 'linear': position p/100 * (n-1) between sorted[floor] and sorted[floor+1].
  const double pos = p / 100 * static_cast<double>(total - 1);
  const auto f = static_cast<std::size_t>(pos);
  const double numpy = sorted[f] + (pos - static_cast<double>(f)) * (sorted[f + 1] - sorted[f]);
  CHECK(interpolated_percentile(hi.extremes(), p, total) == Approx(numpy).epsilon(1e-6));
}

TEST_CASE("OCTAV matches its reference and the fixed point of its recurrence") {
  for (std::size_t n : {3u, 100u, 70001u}) {
    const auto v = normal_values(n, 1.f, static_cast<unsigned>(n));
    const float mn = *std::min_element(v.begin(), v.end());
    CHECK(octav_threshold(v, 8, mn) == Approx(octav_threshold_reference(v, 8, mn)).epsilon(1e-6));
    CHECK(octav_threshold(v, 4, mn) == Approx(octav_threshold_reference(v, 4, mn)).epsilon(1e-6));
  }
  std::vector<float> zeros(50, 0.f);
  CHECK(octav_threshold(zeros, 8, 0.f) == 0.0);
  // For a standard normal the 8-bit OCTAV clip is close to the known optimum (~4.2 sigma).
  const auto big = normal_values(200000, 1.f, 11);
  const double s = octav_threshold(big, 8, -1.f);
  CHECK(s > 3.5);
  CHECK(s < 5.0);
}

TEST_CASE("ACIQ thresholds follow TPU-MLIR's formulas") {
  const double c = 0.175 * (1 + std::sqrt(M_PI * std::log(4.0)));
  CHECK(aciq_gauss_threshold(-1.f, 3.f, 1000, 8) == Approx(3.92403337 * 4 * c / std::sqrt(2 * std::log(1000.0))));
  CHECK(aciq_gauss_threshold(-1.f, 3.f, 1000, 4) == Approx(2.55913642 * 4 * c / std::sqrt(2 * std::log(1000.0))));
  CHECK(std::isinf(aciq_gauss_threshold(1.f, 1.f, 1, 8)));
  std::vector<float> v{1.f, 2.f, 3.f, 6.f};  // mean 3, mean |x - 3| = (2 + 1 + 0 + 3) / 4
  CHECK(aciq_laplace_threshold(v, 8) == Approx(9.89675982 * 1.5));
  CHECK(aciq_laplace_threshold(v, 4) == Approx(5.02864014 * 1.5));
}

TEST_CASE("kurtosis is E[z^4] with z standardized by std + 1e-8, inf for a constant tensor") {
  std::vector<float> v{-1.f, 1.f, -1.f, 1.f};  // z = +-1/(1+1e-8)
  CHECK(kurtosis(v) == Approx(1.0).epsilon(1e-7));
  const auto n = normal_values(300000, 2.f, 2, 5.f);
  CHECK(kurtosis(n) == Approx(3.0).epsilon(0.02));
  std::vector<float> c(10, 4.f);
  CHECK(std::isinf(kurtosis(c)));
}

TEST_CASE("TPU-MLIR KL: a histogram inside the first 128 bins is matched exactly at i = 128") {
  std::vector<std::int64_t> h(2048, 0);
  for (int i = 0; i < 128; ++i) h[static_cast<std::size_t>(i)] = 1 + (i * 7) % 13;
  CHECK(kl_threshold(h, 0.5) == Approx(0.5 * 128));
}

TEST_CASE("TPU-MLIR KL: a flat histogram keeps every bin (threshold = width * N)") {
  std::vector<std::int64_t> h(2048, 100);
  CHECK(kl_threshold(h, 0.25) == Approx(0.25 * 2048));
}

TEST_CASE("TPU-MLIR KL pads to a multiple of 128 and folds histograms above 131072 bins") {
  const auto s = prepare_for_search(std::vector<std::int64_t>(2050, 1), 1.0, 128);
  CHECK(s.counts.size() == 2176);
  CHECK(s.width == 1.0);
  const auto f = prepare_for_search(std::vector<std::int64_t>(131073, 1), 1.0, 128);
  CHECK(f.counts.size() <= 131072);
  CHECK(f.width == 2.0);
  CHECK(std::accumulate(f.counts.begin(), f.counts.end(), std::int64_t{0}) == 131073);
}

TEST_CASE("TPU-MLIR KL on a Gaussian lies between the bulk and the range, INT4 clips harder") {
  const auto v = normal_values(500000, 1.f, 21);
  float mx = 0;
  for (float x : v) mx = std::max(mx, std::fabs(x));
  abs_histogram h(2048);
  h.add(v, mx);
  const double th = kl_threshold(h.counts(), h.width());
  CHECK(th > 2.0);
  CHECK(th <= mx + 2 * h.width());  // width * i may pass the max by a bin; callers clamp
  const double trt = kl_trt_threshold(h.counts(), h.width());
  CHECK(trt > 2.0);
  CHECK(trt <= mx + h.width());
  // INT4 searches in groups of 8 bins and clips harder.
  CHECK(kl_threshold(h.counts(), h.width(), 8) < th);
  CHECK_THROWS_AS(kl_threshold(h.counts(), h.width(), 64), error);
}

namespace {
/// kl_trt written the obvious way: build P and Q for every cut, normalise, sum p ln(p/q).
double kl_trt_reference(const std::vector<std::int64_t>& counts, double width, int bins) {
  const auto n = static_cast<std::int64_t>(counts.size());
  double best_kl = INFINITY;
  std::int64_t best_i = n;
  for (std::int64_t i = bins; i <= n; ++i) {
    std::vector<double> p(counts.begin(), counts.begin() + i), q(static_cast<std::size_t>(i), 0.0);
    for (std::int64_t k = i; k < n; ++k) p.back() += static_cast<double>(counts[static_cast<std::size_t>(k)]);
    for (std::int64_t g = 0; g < bins; ++g) {
      const std::int64_t b = g * i / bins, e = (g + 1) * i / bins;
      double s = 0;
      int nz = 0;
      for (std::int64_t k = b; k < e; ++k) s += static_cast<double>(counts[static_cast<std::size_t>(k)]), nz += counts[static_cast<std::size_t>(k)] > 0;
      for (std::int64_t k = b; k < e; ++k)
        if (counts[static_cast<std::size_t>(k)] > 0) q[static_cast<std::size_t>(k)] = s / nz;
    }
    double ps = 0, qs = 0;
    for (std::int64_t k = 0; k < i; ++k) ps += p[static_cast<std::size_t>(k)], qs += q[static_cast<std::size_t>(k)];
    if (ps <= 0 || qs <= 0) continue;
    double kl = 0;
    bool finite = true;
    for (std::int64_t k = 0; k < i; ++k) {
      const double pk = p[static_cast<std::size_t>(k)] / ps, qk = q[static_cast<std::size_t>(k)] / qs;
      if (pk <= 0) continue;
      if (qk <= 0) {
        finite = false;
        break;
      }
      kl += pk * std::log(pk / qk);
    }
    if (finite && kl < best_kl) best_kl = kl, best_i = i;
  }
  return (static_cast<double>(best_i) - 0.5) * width;
}
}  // namespace

TEST_CASE("kl_trt's factored search picks the cut of the plain P/Q construction") {
  for (unsigned seed : {1u, 2u, 3u}) {
    auto v = normal_values(200000, 1.f, seed + 40);
    for (std::size_t i = 0; i < v.size(); i += 97) v[i] *= 6.f;  // outliers
    float mx = 0;
    for (float x : v) mx = std::max(mx, std::fabs(x));
    for (int bins : {2048, 1000}) {
      abs_histogram h(bins);
      h.add(v, mx);
      for (int target : {128, 8}) {
        INFO("seed " << seed << " bins " << bins << " target " << target);
        CHECK(kl_trt_threshold(h.counts(), h.width(), target) == Approx(kl_trt_reference(h.counts(), h.width(), target)).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("squared distance and abs sum agree with double references") {
  for (std::size_t n : {0u, 5u, 16u, 1000u, 123457u}) {
    const auto a = normal_values(n, 2.f, static_cast<unsigned>(n) + 3), b = normal_values(n, 2.f, static_cast<unsigned>(n) + 4);
    CHECK(squared_distance(a, b) == Approx(squared_distance_reference(a, b)).epsilon(1e-5).margin(1e-9));
    double l1 = 0;
    for (float v : a) l1 += std::fabs(v);
    CHECK(abs_sum(a) == Approx(l1).epsilon(1e-6).margin(1e-9));
  }
}
