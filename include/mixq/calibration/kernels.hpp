#pragma once
// The per-batch reductions that calibration statistics are made of. Each has a plain scalar
// `*_reference` and a vectorized version; tests compare the two. Where TPU-MLIR computes in
// float32 (numpy on float32 arrays) the kernels do too, so histogram bins land where TPU-MLIR's
// land; sums that numpy does pairwise in float32 are done here in double (closer to the exact
// value; the difference is far below the 1e-5 agreement the thresholds need).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/math.hpp"

namespace mixq::calibration {

/// min, max, and whether every element is finite.
struct value_range {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  bool finite = true;
  float abs_max() const noexcept { return std::max(std::fabs(min), std::fabs(max)); }
};

inline value_range range_of_reference(std::span<const float> x) {
  value_range r;
  for (float v : x) {
    if (!std::isfinite(v)) {
      r.finite = false;
      continue;
    }
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

/// Min and max of the finite elements (a NaN/inf only clears `finite`).
inline value_range range_of(std::span<const float> x) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  std::size_t i = 0;
  value_range r;
  if (n >= W) {
    fbatch lo(std::numeric_limits<float>::infinity()), hi(-std::numeric_limits<float>::infinity()), poison(0.f);
    for (; i + W <= n; i += W) {
      const fbatch v = fbatch::load_unaligned(x.data() + i);
      poison += v * fbatch(0.f);  // NaN as soon as one element is inf or NaN
      lo = xsimd::min(lo, v);
      hi = xsimd::max(hi, v);
    }
    if (!(simd::reduce_add(poison) == 0.f)) {
      return range_of_reference(x);  // rare: recompute with the exact finite-only rule
    }
    r.min = simd::reduce_min(lo);
    r.max = simd::reduce_max(hi);
  }
  for (; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) {
      r.finite = false;
      continue;
    }
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

/// TPU-MLIR's histogram of |x|: bin = floor(|x| / width + 0.5) computed in float32, exact zeros
/// skipped, bins past the end dropped (numpy.histogram's closed last edge keeps bin n-1).
/// Counts are added to `counts`.
inline void add_abs_histogram_reference(std::span<const float> x, float width, std::span<std::int64_t> counts) {
  const auto n = static_cast<std::int64_t>(counts.size());
  for (float v : x) {
    if (v == 0.f) continue;
    const float b = std::floor(std::fabs(v) / width + 0.5f);
    if (!(b < static_cast<float>(n))) continue;
    ++counts[static_cast<std::size_t>(b)];
  }
}

inline void add_abs_histogram(std::span<const float> x, float width, std::span<std::int64_t> counts) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  const auto nbins = static_cast<std::int64_t>(counts.size());
  // Bin indices as float are exact integers below 2^24; beyond that the scalar path decides.
  // Short inputs do not pay for the scratch histograms below.
  if (nbins >= (1 << 24) || n < 4096) return add_abs_histogram_reference(x, width, counts);
  // Increments of one bin depend on each other through memory; consecutive values often share a
  // bin (activations crowd the low bins), so lanes go to four interleaved histograms and skipped
  // lanes (zeros, past-the-end bins, NaN) to a spare slot instead of a branch.
  constexpr std::size_t copies = 4;
  const std::size_t stride = static_cast<std::size_t>(nbins) + 1;
  thread_local std::vector<std::uint32_t> scratch;
  scratch.assign(copies * stride, 0u);
  std::uint32_t* h[copies];
  for (std::size_t c = 0; c < copies; ++c) h[c] = scratch.data() + c * stride;
  const fbatch w(width), half(0.5f), limit(static_cast<float>(nbins)), zero(0.f), spare(static_cast<float>(nbins));
  alignas(64) std::int32_t idx[W];
  std::size_t i = 0;
  // uint32 counts cannot overflow: a copy sees at most n / 4 increments, and no tensor has 2^34
  // elements.
  for (; i + W <= n; i += W) {
    const fbatch v = fbatch::load_unaligned(x.data() + i);
    const fbatch b = xsimd::floor(xsimd::abs(v) / w + half);
    const auto keep = (v != zero) & (b < limit);
    xsimd::batch_cast<std::int32_t>(xsimd::select(keep, b, spare)).store_aligned(idx);
    for (std::size_t k = 0; k < W; ++k) ++h[k % copies][idx[k]];
  }
  for (std::size_t j = 0; j < static_cast<std::size_t>(nbins); ++j) {
    std::uint64_t sum = 0;
    for (std::size_t c = 0; c < copies; ++c) sum += h[c][j];
    counts[j] += static_cast<std::int64_t>(sum);
  }
  add_abs_histogram_reference(x.subspan(i), width, counts);
}

/// Sum and count of the |x| strictly above s (one OCTAV iteration's reductions).
struct tail_sums {
  double sum_above = 0;
  std::int64_t count_above = 0;
  double sum_abs = 0;
  std::int64_t count_nonzero = 0;
};

inline tail_sums tail_sums_reference(std::span<const float> x, float s) {
  tail_sums t;
  for (float v : x) {
    const float a = std::fabs(v);
    if (a > s) {
      t.sum_above += a;
      ++t.count_above;
    }
    t.sum_abs += a;
    t.count_nonzero += a > 0 ? 1 : 0;
  }
  return t;
}

inline tail_sums tail_sums_of(std::span<const float> x, float s) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  tail_sums t;
  std::size_t i = 0;
  const fbatch sb(s), zero(0.f), one(1.f);
  // Float partial sums over short runs, flushed to double: exact enough and vector speed.
  constexpr std::size_t flush = 256 * W;
  while (i + W <= n) {
    fbatch above(0.f), all(0.f), cnt_above(0.f), cnt_nz(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch a = xsimd::abs(fbatch::load_unaligned(x.data() + i));
      const auto gt = a > sb;
      above += xsimd::select(gt, a, zero);
      cnt_above += xsimd::select(gt, one, zero);
      all += a;
      cnt_nz += xsimd::select(a > zero, one, zero);
    }
    alignas(64) float buf[4][W];
    above.store_aligned(buf[0]);
    all.store_aligned(buf[1]);
    cnt_above.store_aligned(buf[2]);
    cnt_nz.store_aligned(buf[3]);
    for (std::size_t k = 0; k < W; ++k) {
      t.sum_above += buf[0][k];
      t.sum_abs += buf[1][k];
      t.count_above += static_cast<std::int64_t>(buf[2][k]);
      t.count_nonzero += static_cast<std::int64_t>(buf[3][k]);
    }
  }
  const tail_sums rest = tail_sums_reference(x.subspan(i), s);
  t.sum_above += rest.sum_above;
  t.count_above += rest.count_above;
  t.sum_abs += rest.sum_abs;
  t.count_nonzero += rest.count_nonzero;
  return t;
}

/// Sums of |x - mean| and (x - mean)^2 (ACIQ-Laplace's mean absolute deviation, the variance).
struct central_sums {
  double abs_dev = 0, m2 = 0;
};

inline central_sums central_sums_reference(std::span<const float> x, double mean) {
  central_sums c;
  for (float v : x) {
    const double d = static_cast<double>(v) - mean;
    c.abs_dev += std::fabs(d);
    c.m2 += d * d;
  }
  return c;
}

inline central_sums central_sums_of(std::span<const float> x, double mean) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  central_sums c;
  std::size_t i = 0;
  const fbatch mb(static_cast<float>(mean));
  // Deviations in float (as numpy computes them on float32 data), summed in short float runs.
  constexpr std::size_t flush = 64 * W;
  while (i + W <= n) {
    fbatch s1(0.f), s2(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch d = fbatch::load_unaligned(x.data() + i) - mb;
      s1 += xsimd::abs(d);
      s2 += d * d;
    }
    c.abs_dev += simd::reduce_add(s1);
    c.m2 += simd::reduce_add(s2);
  }
  const central_sums rest = central_sums_reference(x.subspan(i), mean);
  c.abs_dev += rest.abs_dev;
  c.m2 += rest.m2;
  return c;
}

/// Sum of z^4 with z = (x - mean) * inv_denominator: standardizing first keeps the fourth
/// power in range whatever the scale of x (kurtosis, facts doc §8.6).
inline double fourth_moment_reference(std::span<const float> x, double mean, double inv_denominator) {
  double s = 0;
  for (float v : x) {
    const double z = (static_cast<double>(v) - mean) * inv_denominator;
    s += z * z * z * z;
  }
  return s;
}

inline double fourth_moment_of(std::span<const float> x, double mean, double inv_denominator) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  double total = 0;
  std::size_t i = 0;
  const fbatch mb(static_cast<float>(mean)), ib(static_cast<float>(inv_denominator));
  constexpr std::size_t flush = 64 * W;
  while (i + W <= n) {
    fbatch s(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch z = (fbatch::load_unaligned(x.data() + i) - mb) * ib;
      const fbatch z2 = z * z;
      s += z2 * z2;
    }
    total += simd::reduce_add(s);
  }
  return total + fourth_moment_reference(x.subspan(i), mean, inv_denominator);
}

/// Sum of (a - b)^2 (the tuner's output error, per candidate threshold).
inline double squared_distance_reference(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    s += d * d;
  }
  return s;
}

inline double squared_distance(std::span<const float> a, std::span<const float> b) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = std::min(a.size(), b.size());
  double total = 0;
  std::size_t i = 0;
  constexpr std::size_t flush = 64 * W;
  while (i + W <= n) {
    fbatch s(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) {
      const fbatch d = fbatch::load_unaligned(a.data() + i) - fbatch::load_unaligned(b.data() + i);
      s += d * d;
    }
    total += simd::reduce_add(s);
  }
  return total + squared_distance_reference(a.subspan(i, n - i), b.subspan(i, n - i));
}

/// Sum of |x|.
inline double abs_sum(std::span<const float> x) { return tail_sums_of(x, std::numeric_limits<float>::infinity()).sum_abs; }

inline double sum_reference(std::span<const float> x) {
  double s = 0;
  for (float v : x) s += v;
  return s;
}

inline double sum_of(std::span<const float> x) {
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  double total = 0;
  std::size_t i = 0;
  constexpr std::size_t flush = 256 * W;
  while (i + W <= n) {
    fbatch s(0.f);
    const std::size_t end = std::min(n - (n - i) % W, i + flush);
    for (; i < end; i += W) s += fbatch::load_unaligned(x.data() + i);
    total += simd::reduce_add(s);
  }
  return total + sum_reference(x.subspan(i));
}

}  // namespace mixq::calibration
