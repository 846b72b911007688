#pragma once
// Helpers shared by the unit tests: seeded random tensors and element-wise comparisons.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "mixq/core/tensor.hpp"

namespace mixq::test {

inline std::mt19937& rng() {
  static std::mt19937 gen(1234);
  return gen;
}

inline tensor random_tensor(shape_t shape, float lo = -1.f, float hi = 1.f) {
  tensor t = tensor::empty(dtype::f32, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t.values<float>()) v = d(rng());
  return t;
}

inline std::int64_t random_int(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

/// Checks |a - b| <= atol + rtol * |b| everywhere and reports the worst element.
inline void require_close(const tensor& a, const tensor& b, double rtol = 1e-5, double atol = 1e-6) {
  REQUIRE(a.shape() == b.shape());
  const tensor fa = a.cast(dtype::f64), fb = b.cast(dtype::f64);
  const double* pa = fa.data<double>();
  const double* pb = fb.data<double>();
  double worst = 0;
  std::int64_t at = -1;
  for (std::int64_t i = 0; i < fa.numel(); ++i) {
    const double excess = std::abs(pa[i] - pb[i]) - (atol + rtol * std::abs(pb[i]));
    if (excess > worst || (std::isnan(pa[i]) != std::isnan(pb[i]))) {
      worst = std::isnan(excess) ? 1e300 : excess;
      at = i;
    }
  }
  INFO("worst element " << at << ": " << (at >= 0 ? pa[at] : 0.0) << " vs " << (at >= 0 ? pb[at] : 0.0));
  REQUIRE(at < 0);
}

}  // namespace mixq::test
