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

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/math.hpp"
#include "mixq/quant/candidate_score.hpp"

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

namespace detail {

/// Bin indices of the kept lanes of x[i, i + W), packed to the front of `out`; returns how many.
/// A lane is kept when x != 0 and its bin is below `nbins` (NaN never is). The bin is
/// floor(|x| / w + 0.5); that sum is never negative, so truncating conversion is the floor, and
/// for an integer n, floor(y) < n exactly when y < n: no rounding instruction is needed. About half of a
/// post-ReLU activation is zero, so packing first keeps those lanes out of the scatter, which is
/// what the histogram's time goes into.
#if defined(__AVX512F__)
inline std::size_t packed_bins(__m512 v, __m512 w, __m512 limit, std::int32_t* out) {
  const __m512 b = _mm512_add_ps(_mm512_div_ps(_mm512_abs_ps(v), w), _mm512_set1_ps(0.5f));
  const __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_OQ) & _mm512_cmp_ps_mask(b, limit, _CMP_LT_OQ);
  // maskz: GCC 12 reports the unmasked form's undefined source as maybe-uninitialized (bug 105593).
  _mm512_storeu_si512(out, _mm512_maskz_compress_epi32(keep, _mm512_maskz_cvttps_epi32(keep, b)));
  return static_cast<std::size_t>(__builtin_popcount(keep));
}
#elif defined(__AVX2__)
/// For each 8-bit lane mask, the lane numbers of its set bits, first set bit first.
struct left_pack_table {
  alignas(32) std::int32_t lanes[256][8];
  constexpr left_pack_table() : lanes{} {
    for (int m = 0; m < 256; ++m) {
      int k = 0;
      for (int l = 0; l < 8; ++l)
        if (m & (1 << l)) lanes[m][k++] = l;
    }
  }
};
inline constexpr left_pack_table left_pack{};

inline std::size_t packed_bins(__m256 v, __m256 w, __m256 limit, std::int32_t* out) {
  const __m256 abs = _mm256_andnot_ps(_mm256_set1_ps(-0.f), v);
  const __m256 b = _mm256_add_ps(_mm256_div_ps(abs, w), _mm256_set1_ps(0.5f));
  const __m256 keep = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_OQ), _mm256_cmp_ps(b, limit, _CMP_LT_OQ));
  const int m = _mm256_movemask_ps(keep);
  const __m256i order = _mm256_load_si256(reinterpret_cast<const __m256i*>(left_pack.lanes[m]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(_mm256_cvttps_epi32(b), order));
  return static_cast<std::size_t>(__builtin_popcount(static_cast<unsigned>(m)));
}
#endif

}  // namespace detail

namespace detail {

/// The histogram kernel. With `range` set it also takes the range of x in the same pass and
/// adds to `counts` only when every element is finite and max |x| <= `max_abs`; otherwise
/// `counts` is left as it was. Returns whether it counted.
inline bool abs_histogram_pass(std::span<const float> x, float width, std::span<std::int64_t> counts, value_range* range, double max_abs) {
  const std::size_t n = x.size();
  const auto nbins = static_cast<std::int64_t>(counts.size());
  auto accepted = [&] { return !range || (range->finite && static_cast<double>(range->abs_max()) <= max_abs); };
  // Bin indices as float are exact integers below 2^24; beyond that the scalar path decides.
  // Short inputs do not pay for the scratch histograms below.
  if (nbins >= (1 << 24) || n < 4096) {
    if (range) *range = range_of(x);
    if (!accepted()) return false;
    add_abs_histogram_reference(x, width, counts);
    return true;
  }
  // Increments of one bin depend on each other through memory; consecutive values often share a
  // bin (activations crowd the low bins), so increments go round-robin to four histograms.
  // uint32 counts cannot overflow: a copy sees at most n / 4 increments, and no tensor has 2^34
  // elements.
  constexpr std::size_t copies = 4;
  const auto stride = static_cast<std::size_t>(nbins) + 1;
  thread_local std::vector<std::uint32_t> scratch;
  scratch.assign(copies * stride, 0u);
  std::uint32_t* h[copies];
  for (std::size_t c = 0; c < copies; ++c) h[c] = scratch.data() + c * stride;
  std::size_t i = 0;
  float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
  bool finite = true;
#if defined(__AVX512F__) || defined(__AVX2__)
#if defined(__AVX512F__)
  constexpr std::size_t W = 16;
  const __m512 w = _mm512_set1_ps(width), limit = _mm512_set1_ps(static_cast<float>(nbins));
#else
  constexpr std::size_t W = 8;
  const __m256 w = _mm256_set1_ps(width), limit = _mm256_set1_ps(static_cast<float>(nbins));
#endif
  static_assert(simd::width<float> == W, "the native xsimd batch is the register the intrinsics use");
  // The range is tracked with xsimd (GCC 12 flags the raw min/max intrinsics' undefined source,
  // bug 105593); the batch converts to the register type for the packing step.
  using simd::fbatch;
  fbatch vlo(lo), vhi(hi), poison(0.f);
  auto load = [](const float* p) { return fbatch::load_unaligned(p); };
  auto track = [&](const fbatch& v) {
    vlo = xsimd::min(vlo, v);
    vhi = xsimd::max(vhi, v);
    poison += v * fbatch(0.f);  // NaN once an element is inf or NaN
  };
  auto finish_range = [&] {
    lo = simd::reduce_min(vlo);
    hi = simd::reduce_max(vhi);
    finite = simd::reduce_add(poison) == 0.f;
  };
  // Indices collect in a small buffer (a full vector of slack past `pending`), then scatter.
  constexpr std::size_t buffer = 1024;
  alignas(64) std::int32_t idx[buffer + W];
  std::size_t pending = 0;
  auto scatter = [&] {
    std::size_t j = 0;
    // Unrolled by hand with the copies in registers: GCC 12 at -O2 keeps the loop over copies and
    // reloads h[c] for every value (20% of the whole pass on PP-OCR det's tensors).
    static_assert(copies == 4);
    std::uint32_t *h0 = h[0], *h1 = h[1], *h2 = h[2], *h3 = h[3];
    for (; j + copies <= pending; j += copies) {
      ++h0[idx[j]];
      ++h1[idx[j + 1]];
      ++h2[idx[j + 2]];
      ++h3[idx[j + 3]];
    }
    for (; j < pending; ++j) ++h0[idx[j]];
    pending = 0;
  };
  if (range) {
    for (; i + W <= n; i += W) {
      const auto v = load(x.data() + i);
      track(v);
      pending += packed_bins(v, w, limit, idx + pending);
      if (pending >= buffer) scatter();
    }
    finish_range();
  } else {
    for (; i + W <= n; i += W) {
      pending += packed_bins(load(x.data() + i), w, limit, idx + pending);
      if (pending >= buffer) scatter();
    }
  }
  scatter();
#else
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  // Without a compress instruction skipped lanes (zeros, past-the-end bins, NaN) go to a spare
  // slot instead of a branch.
  const fbatch vw(width), half(0.5f), limit(static_cast<float>(nbins)), zero(0.f), spare(static_cast<float>(nbins));
  fbatch vlo(lo), vhi(hi), poison(0.f);
  alignas(64) std::int32_t idx[W];
  for (; i + W <= n; i += W) {
    const fbatch v = fbatch::load_unaligned(x.data() + i);
    if (range) {
      vlo = xsimd::min(vlo, v);
      vhi = xsimd::max(vhi, v);
      poison += v * zero;
    }
    const fbatch b = xsimd::abs(v) / vw + half;
    const auto keep = (v != zero) & (b < limit);
    xsimd::batch_cast<std::int32_t>(xsimd::select(keep, b, spare)).store_aligned(idx);
    for (std::size_t k = 0; k < W; ++k) ++h[k % copies][idx[k]];
  }
  if (range) {
    lo = simd::reduce_min(vlo);
    hi = simd::reduce_max(vhi);
    finite = simd::reduce_add(poison) == 0.f;
  }
#endif
  // The tail, scalar, into the scratch as well (the counts stay untouched until accepted).
  for (std::size_t k = i; k < n; ++k) {
    const float v = x[k];
    if (range) {
      if (!std::isfinite(v)) finite = false;
      else {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    if (v == 0.f) continue;
    const float b = std::floor(std::fabs(v) / width + 0.5f);
    if (b < static_cast<float>(nbins)) ++h[0][static_cast<std::size_t>(b)];
  }
  if (range) {
    // A NaN/inf in the vector part poisons lo/hi too: the finite-only range is taken again
    // (rare: such a batch is an error for the caller).
    *range = finite ? value_range{lo, hi, true} : range_of_reference(x);
    if (!accepted()) return false;
  }
  for (std::size_t j = 0; j < static_cast<std::size_t>(nbins); ++j) {
    std::uint64_t sum = 0;
    for (std::size_t c = 0; c < copies; ++c) sum += h[c][j];
    counts[j] += static_cast<std::int64_t>(sum);
  }
  return true;
}

}  // namespace detail

inline void add_abs_histogram(std::span<const float> x, float width, std::span<std::int64_t> counts) {
  detail::abs_histogram_pass(x, width, counts, nullptr, 0.0);
}

/// add_abs_histogram and range_of in one pass over x (half the memory traffic of the two): the
/// range of x is stored in `range`, and x's bins are added to `counts` only if every element is
/// finite and max |x| <= `max_abs`. Returns whether they were added.
inline bool add_abs_histogram_within(std::span<const float> x, float width, std::span<std::int64_t> counts, double max_abs, value_range& range) {
  return detail::abs_histogram_pass(x, width, counts, &range, max_abs);
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

// The tuner's output error, per candidate threshold: defined beside the fused scoring kernel
// that must reproduce its sums bit for bit.
using quant::squared_distance_chunk;
using quant::squared_distance_continue;
using quant::squared_distance_reference;

inline double squared_distance(std::span<const float> a, std::span<const float> b) { return squared_distance_continue(a, b, 0.0); }

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

// --- the same reductions over large tensors, on a thread pool ---
// Large activations (a 640x640 detector has tensors of millions of elements) would otherwise be
// reduced on one thread while the pool's other threads wait. The blocks are fixed in size, not
// in number, and partial results are combined in block order: a sum comes out the same with any
// number of threads.

inline constexpr std::size_t reduction_block = std::size_t{1} << 16;

/// Runs fn(block index, begin, end) over [0, n) in blocks of `reduction_block` elements.
template <class Fn>
void for_each_block(std::size_t n, thread_pool* pool, Fn&& fn) {
  const std::size_t blocks = (n + reduction_block - 1) / reduction_block;
  auto run = [&](std::int64_t b, std::int64_t e) {
    for (auto k = static_cast<std::size_t>(b); k < static_cast<std::size_t>(e); ++k)
      fn(k, k * reduction_block, std::min(n, (k + 1) * reduction_block));
  };
  if (pool && blocks > 1) pool->parallel_for(static_cast<std::int64_t>(blocks), 1, run);
  else run(0, static_cast<std::int64_t>(blocks));
}

inline value_range range_of(std::span<const float> x, thread_pool* pool) {
  if (!pool || x.size() < 2 * reduction_block) return range_of(x);
  std::vector<value_range> parts((x.size() + reduction_block - 1) / reduction_block);
  for_each_block(x.size(), pool, [&](std::size_t k, std::size_t b, std::size_t e) { parts[k] = range_of(x.subspan(b, e - b)); });
  value_range r;
  for (const value_range& p : parts) {
    r.min = std::min(r.min, p.min);
    r.max = std::max(r.max, p.max);
    r.finite = r.finite && p.finite;
  }
  return r;
}

inline double squared_distance(std::span<const float> a, std::span<const float> b, thread_pool* pool) {
  if (!pool || a.size() < 2 * reduction_block) return squared_distance(a, b);
  std::vector<double> parts((a.size() + reduction_block - 1) / reduction_block);
  for_each_block(a.size(), pool, [&](std::size_t k, std::size_t lo, std::size_t hi) {
    parts[k] = squared_distance(a.subspan(lo, hi - lo), b.subspan(lo, hi - lo));
  });
  double total = 0;
  for (double p : parts) total += p;
  return total;
}

inline double abs_sum(std::span<const float> x, thread_pool* pool) {
  if (!pool || x.size() < 2 * reduction_block) return abs_sum(x);
  std::vector<double> parts((x.size() + reduction_block - 1) / reduction_block);
  for_each_block(x.size(), pool, [&](std::size_t k, std::size_t b, std::size_t e) { parts[k] = abs_sum(x.subspan(b, e - b)); });
  double total = 0;
  for (double p : parts) total += p;
  return total;
}

}  // namespace mixq::calibration
