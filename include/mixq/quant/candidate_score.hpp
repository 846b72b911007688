#pragma once
// Scores a point-wise function on fake-quantized inputs against a reference, for threshold
// searches (the auto-tuner tries some twenty thresholds per tensor). Fake-quantizing a copy,
// running the op and comparing are three passes over memory per candidate; for an op that is
// one batch formula per element the three fuse into one loop that stays in registers.
//
// The sums are defined by squared_distance_continue: float lanes over runs of 64 vectors, each
// run added to a double total, a scalar double tail. Everything here computes the same IEEE
// operations in the same order as fake_quantize + the op's map_unary + squared_distance, so a
// fused score is bit-identical to the unfused one (tests/unit/calibration/tile_sweep.cpp).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/quant/fake_quant.hpp"

namespace mixq::quant {

/// Sum of (a - b)^2 in double, element by element. The multiply-adds are written as fma:
/// left to -ffp-contract=fast, GCC fuses them in some inlined copies and not in others, and
/// the fused and unfused scorers below must agree to the bit.
inline double squared_distance_reference(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s = std::fma(d, d, s);
  }
  return s;
}

/// `total` plus the sum of (a - b)^2. Summing a range in consecutive parts whose sizes are
/// multiples of `squared_distance_chunk`, threading the total through, gives the bits of one
/// call over the whole range.
inline double squared_distance_continue(std::span<const float> a, std::span<const float> b, double total) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  constexpr std::size_t flush = 64 * W;
  while (i + W <= n) {
    fbatch s(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch d = fbatch::load_unaligned(a.data() + i) - fbatch::load_unaligned(b.data() + i);
      s = xsimd::fma(d, d, s);
    }
    total += simd::reduce_add(s);
  }
  return total + squared_distance_reference(a.subspan(i, n - i), b.subspan(i, n - i));
}

/// Parts of this many elements keep squared_distance_continue's runs (64 vectors at any ISA).
inline constexpr std::size_t squared_distance_chunk = 64 * 16;

namespace detail {

template <rounding Mode, class F>
double score_one(const F& f, const float* x, const float* ref, std::size_t n, const int_fake_quant& q, double total) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  constexpr std::size_t flush = 64 * W;
  const fbatch inv(q.inv_scale), zp(q.zero_point), lo(q.qmin), hi(q.qmax);
  std::size_t i = 0;
  while (i + W <= n) {
    fbatch s(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch y = f(int_fake_quant_formula(fbatch::load_unaligned(x + i), inv, zp, lo, hi, Mode));
      const fbatch d = fbatch::load_unaligned(ref + i) - y;
      s = xsimd::fma(d, d, s);
    }
    total += simd::reduce_add(s);
  }
  if (i == n) return total + 0.0;
  // The tail as fake_quantize (scalar formula) and map_unary (one padded batch) compute it.
  alignas(64) float t[W] = {};
  for (std::size_t j = i; j < n; ++j) t[j - i] = int_fake_quant_formula(x[j], q.inv_scale, q.zero_point, q.qmin, q.qmax, Mode);
  f(fbatch::load_aligned(t)).store_aligned(t);
  return total + squared_distance_reference(std::span<const float>(ref + i, n - i), std::span<const float>(t, n - i));
}

}  // namespace detail

/// For each candidate k: totals[k] += the sum over i < n of (ref[i] - f(fq_k(x[i])))^2, summed as
/// squared_distance_continue sums. `f` is an op's batch functor (simd::map_unary's contract).
template <class F>
void score_fake_quantized_map(const F& f, const float* x, const float* ref, std::size_t n, std::span<const int_fake_quant> candidates,
                              double* totals) {
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    const int_fake_quant& q = candidates[k];
    totals[k] = q.mode == rounding::half_to_even ? detail::score_one<rounding::half_to_even>(f, x, ref, n, q, totals[k])
                                                  : detail::score_one<rounding::half_away_from_zero>(f, x, ref, n, q, totals[k]);
  }
}

}  // namespace mixq::quant
