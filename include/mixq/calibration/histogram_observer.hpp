#pragma once
// torch.ao.quantization.HistogramObserver(bins, dtype=qint8, qscheme=per_tensor_affine) as torch
// 1.13 computes it: the observer behind run_calibration's `--debug_cmd use_torch_observer_for_cali`
// (facts doc §2.6). Every step repeats torch's arithmetic so the scale and zero point come out
// bit-identical, not merely close:
//  - float32 wherever torch works on float32 tensors, double where it works on Python floats, and
//    a Python float meeting a float32 tensor is rounded to float32 first (type promotion);
//  - no product is fused into a following addition (torch runs each operator as its own kernel);
//  - torch.histc's range is int(min)..int(max) (truncated, so values outside it are dropped);
//  - torch.sum's CPU cascade order for float32 sums, torch.cumsum's double running sums;
//  - _combine_histograms' double cumsum over the up-sampled grid, addition by addition.
// Where torch fails (an exception, an impossible allocation or undefined behaviour), mixq reports
// or handles the case as described at the place it happens (docs/compat.md lists them).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/kernels/simd/compat.hpp"

namespace mixq::calibration {

/// What HistogramObserver.calculate_qparams() yields, plus the ranges behind it.
struct observer_qparams {
  float scale = 1.f;           // torch's scale tensor (float32)
  std::int32_t zero_point = 0;  // in [-128, 127]
  float min = std::numeric_limits<float>::infinity();  // the observer's running range (min_val, max_val)
  float max = -std::numeric_limits<float>::infinity();
  float clip_min = std::numeric_limits<float>::infinity();  // the range _non_linear_param_search kept
  float clip_max = -std::numeric_limits<float>::infinity();
};

namespace detail::torch_observer {

inline constexpr std::int64_t upsample_rate = 128;  // HistogramObserver's default; TPU-MLIR keeps it
inline constexpr std::int64_t dst_nbins = 256;      // 2 ** torch.iinfo(qint8).bits
inline constexpr int quant_min = -128, quant_max = 127;

/// Returns `v` rounded to its type and opaque to the optimizer, so `no_fuse(a * b) + c` stays two
/// roundings even under -ffp-contract=fast (GCC's default, which would emit one fma).
template <class T>
inline T no_fuse(T v) noexcept {
#if defined(__GNUC__) && (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__)))
  asm("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile T kept = v;
  v = kept;
#endif
  return v;
}

// ---- torch.sum of a contiguous float32 vector (ATen's cascade_sum, CPU) ---------------------------
// ATen sums W = 8 floats per vector (its AVX2 and default kernels; torch 1.13 picks AVX2 even on
// AVX-512 machines) with 4 independent accumulators and 4 carry levels. The order of additions
// decides the rounding, and the rounding decides which bins the parameter search keeps.

struct lanes8 {
  float v[8] = {};
  lanes8& operator+=(const lanes8& o) noexcept {
    for (int k = 0; k < 8; ++k) v[k] += o.v[k];
    return *this;
  }
};

inline int ceil_log2(std::int64_t x) noexcept {
  return x <= 1 ? 0 : 64 - std::countl_zero(static_cast<std::uint64_t>(x - 1));
}

/// ATen's multi_row_sum over `size` rows of 4 elements; load(row, k) gives element k of a row.
template <class Acc, class Load>
inline std::array<Acc, 4> multi_row_sum(std::int64_t size, const Load& load) {
  constexpr int levels = 4;
  const int level_power = std::max(4, ceil_log2(size) / levels);
  const std::int64_t level_step = std::int64_t{1} << level_power;
  const std::int64_t level_mask = level_step - 1;
  Acc acc[levels][4] = {};
  std::int64_t i = 0;
  while (i + level_step <= size) {
    for (std::int64_t j = 0; j < level_step; ++j, ++i)
      for (int k = 0; k < 4; ++k) acc[0][k] += load(i, k);
    for (int j = 1; j < levels; ++j) {
      for (int k = 0; k < 4; ++k) {
        acc[j][k] += acc[j - 1][k];
        acc[j - 1][k] = Acc{};
      }
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < size; ++i)
    for (int k = 0; k < 4; ++k) acc[0][k] += load(i, k);
  for (int j = 1; j < levels; ++j)
    for (int k = 0; k < 4; ++k) acc[0][k] += acc[j][k];
  return {acc[0][0], acc[0][1], acc[0][2], acc[0][3]};
}

/// ATen's row_sum: rows of 4, then the leftovers into accumulator 0, then the 4 accumulators.
template <class Acc, class Load>
inline Acc row_sum(std::int64_t size, const Load& load) {
  const std::int64_t rows = size / 4;
  auto partial = multi_row_sum<Acc>(rows, [&](std::int64_t r, int k) { return load(r * 4 + k); });
  for (std::int64_t i = rows * 4; i < size; ++i) partial[0] += load(i);
  for (int k = 1; k < 4; ++k) partial[0] += partial[k];
  return partial[0];
}

/// torch.sum(t) for a contiguous float32 tensor t, as torch 1.13 computes it on the CPU.
inline float torch_float_sum(std::span<const float> x) {
  const auto n = static_cast<std::int64_t>(x.size());
  constexpr std::int64_t W = 8;
  float total;
  if (n >= W) {
    const std::int64_t vectors = n / W;
    const lanes8 lanes = row_sum<lanes8>(vectors, [&](std::int64_t i) {
      lanes8 l;
      for (std::int64_t k = 0; k < W; ++k) l.v[k] = x[static_cast<std::size_t>(i * W + k)];
      return l;
    });
    total = 0.f;
    for (std::int64_t k = vectors * W; k < n; ++k) total += x[static_cast<std::size_t>(k)];
    for (float lane : lanes.v) total += lane;
  } else {
    total = row_sum<float>(n, [&](std::int64_t i) { return x[static_cast<std::size_t>(i)]; });
  }
  return 0.f + total;  // the output starts at zero and the result is added to it
}

// ---- torch.div(a, b, rounding_mode='floor') on float32 (c10::div_floor_floating) --------------

/// fmod(a, b), exactly (as std::fmod), through one double division when the quotient is below 2^24.
inline float exact_fmod(float a, float b) noexcept {
  const double q = std::trunc(static_cast<double>(a) / static_cast<double>(b));
  // Two floats' quotient is never within 2^-48 (relative) of an integer it does not equal, so
  // the double quotient truncates to the exact one; q*b then has at most 48 bits and a - q*b is
  // the exact remainder, which a float holds.
  if (std::fabs(q) < 16777216.0) return static_cast<float>(static_cast<double>(a) - q * static_cast<double>(b));
  return std::fmod(a, b);
}

inline float torch_floor_divide(float a, float b) noexcept {
  if (b == 0.f) return a / b;
  const float mod = exact_fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.f && ((b < 0.f) != (mod < 0.f))) div -= 1.f;
  if (div == 0.f) return std::copysign(0.f, a / b);
  float floordiv = std::floor(div);
  if (div - floordiv > 0.5f) floordiv += 1.f;
  return floordiv;
}

// ---- torch.aminmax with the finiteness check torch does not make -------------------------------

struct batch_range {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

[[noreturn]] inline void fail_non_finite(std::span<const float> x) {
  std::size_t i = 0;
  while (i < x.size() && std::isfinite(x[i])) ++i;
  std::ostringstream os;
  os << "mixq: histogram_observer: element " << i << " of the " << x.size() << " observed values is "
     << (i < x.size() ? (std::isnan(x[i]) ? "NaN" : "infinite") : "not finite")
     << "; torch's HistogramObserver cannot place it in a histogram";
  throw error(os.str());
}

inline batch_range range_of_reference(std::span<const float> x) {
  batch_range r;
  for (float v : x) {
    if (!std::isfinite(v)) fail_non_finite(x);
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

/// Min and max of `x`; a NaN or an infinity is a mixq::error naming its position.
inline batch_range range_of(std::span<const float> x) {
  using fb = simd::batch<float>;
  constexpr std::size_t W = simd::width<float>;
  const std::size_t n = x.size();
  std::size_t i = 0;
  batch_range r;
  if (n >= W) {
    fb lo(std::numeric_limits<float>::infinity()), hi(-std::numeric_limits<float>::infinity()), poison(0.f);
    const fb zero(0.f);
    for (; i + W <= n; i += W) {
      const fb v = fb::load_unaligned(x.data() + i);
      poison += v * zero;  // becomes NaN at the first NaN or infinity
      lo = xsimd::min(lo, v);
      hi = xsimd::max(hi, v);
    }
    if (!(simd::reduce_add(poison) == 0.f)) fail_non_finite(x);
    r.min = simd::reduce_min(lo);
    r.max = simd::reduce_max(hi);
  }
  for (; i < n; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) fail_non_finite(x);
    r.min = std::min(r.min, v);
    r.max = std::max(r.max, v);
  }
  return r;
}

// ---- torch.histc(x, bins, min=lo, max=hi) ---------------------------------------------------------

/// The float32 edges histc bins between: [lo, hi] as given, the batch's own range when they are
/// equal, widened by one on each side when that is a single value too.
inline std::pair<float, float> histc_edges(double lo, double hi, const batch_range& batch) {
  if (lo == hi) {
    lo = batch.min;
    hi = batch.max;
  }
  if (lo == hi) {
    lo -= 1;
    hi += 1;
  }
  return {static_cast<float>(lo), static_cast<float>(hi)};
}

/// Adds histc's counts for `x` to counts[0..bins); counts[bins] collects the values outside [lo, hi].
/// pos = int((x - lo) / (hi - lo) * bins) in float32 (torch 1.13's order: its later versions
/// multiply first, which moves values near bin edges when bins is not a power of two), the last
/// bin closed.
inline void add_histc_counts_reference(std::span<const float> x, float lo, float hi, std::span<std::uint64_t> counts) {
  const auto bins = static_cast<std::int64_t>(counts.size()) - 1;
  const float nb = static_cast<float>(bins), width = hi - lo;
  for (float v : x) {
    if (!(v >= lo && v <= hi)) {
      ++counts[static_cast<std::size_t>(bins)];
      continue;
    }
    // A zero width (|values| >= 2^24 whose int() range rounds to one float) makes torch divide
    // by zero, and a NaN position (an infinite width) is undefined behaviour there too; mixq
    // counts the first in the middle bin, where a constant tensor's values go, the second in bin 0.
    const float q = (v - lo) / width * nb;
    std::int64_t pos = !(width > 0.f) ? bins / 2 : q >= 0.f ? (q < nb ? static_cast<std::int64_t>(q) : bins - 1) : 0;
    pos = std::min(pos, bins - 1);
    ++counts[static_cast<std::size_t>(pos)];
  }
}

inline void add_histc_counts(std::span<const float> x, float lo, float hi, std::span<std::uint64_t> counts) {
  using fb = simd::batch<float>;
  constexpr std::size_t W = simd::width<float>;
  const auto bins = static_cast<std::int64_t>(counts.size()) - 1;
  const float width = hi - lo;
  if (!(width > 0.f) || bins >= (std::int64_t{1} << 24)) return add_histc_counts_reference(x, lo, hi, counts);

  // Indices are made a block at a time, then counted into 32-bit tallies; four interleaved copies
  // of the tallies keep runs of one bin (a ReLU's zeros) from serializing on one memory cell.
  constexpr std::size_t block = 1024, copies = 4;
  static thread_local std::vector<std::uint32_t> tally;
  const std::size_t stride = static_cast<std::size_t>(bins) + 1;
  tally.assign(copies * stride, 0);
  alignas(64) std::int32_t idx[block];
  const fb lo_b(lo), hi_b(hi), nb_b(static_cast<float>(bins)), width_b(width);
  const fb last_b(static_cast<float>(bins - 1)), outside_b(static_cast<float>(bins)), zero_b(0.f);
  const std::size_t n = x.size();
  std::size_t i = 0, since_flush = 0;
  auto flush = [&] {
    for (std::size_t c = 0; c < copies; ++c)
      for (std::size_t b = 0; b < stride; ++b) {
        counts[b] += tally[c * stride + b];
        tally[c * stride + b] = 0;
      }
    since_flush = 0;
  };
  while (i + W <= n) {
    const std::size_t todo = std::min(block, (n - i) / W * W);
    for (std::size_t j = 0; j < todo; j += W) {
      const fb v = fb::load_unaligned(x.data() + i + j);
      const auto inside = (v >= lo_b) & (v <= hi_b);
      fb pos = (v - lo_b) / width_b * nb_b;
      // As the reference: a NaN position (an infinite width) goes to bin 0, the closed last edge
      // to the last bin; values outside [lo, hi] to the discard slot.
      pos = xsimd::select(pos >= zero_b, pos, zero_b);
      pos = xsimd::select(pos < nb_b, pos, last_b);
      pos = xsimd::select(inside, pos, outside_b);
      xsimd::batch_cast<std::int32_t>(pos).store_aligned(idx + j);
    }
    std::size_t j = 0;
    for (; j + copies <= todo; j += copies)
      for (std::size_t c = 0; c < copies; ++c) ++tally[c * stride + static_cast<std::size_t>(idx[j + c])];
    for (; j < todo; ++j) ++tally[static_cast<std::size_t>(idx[j])];
    i += todo;
    since_flush += todo;
    if (since_flush >= (std::size_t{1} << 31)) flush();
  }
  flush();
  add_histc_counts_reference(x.subspan(i), lo, hi, counts);
}

/// torch.histc's float32 result. ATen counts in float32 per thread (a bin stops growing at 2^24
/// there, at a point that depends on the thread count); mixq counts exactly and rounds once.
inline std::vector<float> histc(std::span<const float> x, int bins, double lo, double hi, const batch_range& batch) {
  const auto [lo_f, hi_f] = histc_edges(lo, hi, batch);
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(bins) + 1, 0);
  add_histc_counts(x, lo_f, hi_f, counts);
  std::vector<float> hist(static_cast<std::size_t>(bins));
  for (std::size_t b = 0; b < hist.size(); ++b) hist[b] = static_cast<float>(counts[b]);
  return hist;
}

// ---- _combine_histograms ---------------------------------------------------------------------------

/// Whether x is an integer multiple of 2^e.
inline bool is_multiple_of_pow2(double x, int e) noexcept {
  if (x == 0) return true;
  int ex;
  const double m = std::frexp(std::fabs(x), &ex);  // x = m * 2^ex, m in [0.5, 1)
  const auto mantissa = static_cast<std::uint64_t>(std::ldexp(m, 53));
  return ex - 53 + std::countr_zero(mantissa) >= e;
}

/// `count` sequential additions of v to s in double, as torch.cumsum makes them. When every
/// partial sum is exactly representable (always, for integer counts below 2^52), they collapse
/// into one multiply-add with the same result.
inline double add_repeatedly(double s, double v, std::int64_t count) noexcept {
  if (v == 0 || count == 0) return s;
  int e;
  std::frexp(std::fabs(s) + static_cast<double>(count) * std::fabs(v), &e);
  // All partial sums are below 2^(e+1) (one binade of margin for the bound's rounding); if s and v
  // are multiples of 2^(e+1-53), so is each partial sum, which is then exact in 53 bits.
  if (is_multiple_of_pow2(s, e + 1 - 53) && is_multiple_of_pow2(v, e + 1 - 53))
    return s + static_cast<double>(count) * v;
  for (std::int64_t k = 0; k < count; ++k) s = no_fuse(s + v);
  return s;
}

/// Reference for combine_histograms: torch's algorithm as written, on the materialized fine grid
/// (bins * downsample doubles), for tests.
inline void combine_histograms_reference(std::span<float> hist, std::span<const float> old_hist, std::int64_t downsample,
                                         std::int64_t start_idx) {
  const auto n = static_cast<std::int64_t>(hist.size());
  std::vector<double> fine(static_cast<std::size_t>(n * downsample), 0.0);
  for (std::int64_t j = 0; j < n * upsample_rate; ++j)
    fine[static_cast<std::size_t>(start_idx + j)] = old_hist[static_cast<std::size_t>(j / upsample_rate)];
  double s = 0;
  float shifted = 0.f;
  for (std::int64_t j = 0, i = 0; j < n * downsample; ++j) {
    s = no_fuse(s + fine[static_cast<std::size_t>(j)]);
    if ((j + 1) % downsample == 0) {
      const auto interpolated = static_cast<float>((s - static_cast<double>(shifted)) / static_cast<double>(upsample_rate));
      hist[static_cast<std::size_t>(i)] += interpolated;
      shifted = static_cast<float>(s);
      ++i;
    }
  }
}

/// hist += old_hist up-sampled 128x, shifted by start_idx fine bins and down-sampled by `downsample`
/// (torch's _combine_histograms), in O(bins) without the bins * downsample fine grid.
inline void combine_histograms(std::span<float> hist, std::span<const float> old_hist, std::int64_t downsample,
                               std::int64_t start_idx) {
  const auto n = static_cast<std::int64_t>(hist.size());
  const std::int64_t fine_old = n * upsample_rate;
  double integral = 0;      // cumsum over the fine grid up to the current sample point
  std::int64_t added = 0;   // fine bins of the old histogram in `integral`
  float shifted = 0.f;      // the previous sample point's integral, as torch stores it (float32)
  for (std::int64_t i = 0; i < n; ++i) {
    // Fine bins of the old histogram at or before fine index downsample*(i+1)-1. When rounding
    // puts start_idx + 128*bins past the grid, torch fails (a slice shape mismatch); mixq keeps
    // the overhanging fine bins in the last bin.
    std::int64_t covered = downsample * (i + 1) - start_idx;
    covered = i + 1 == n ? fine_old : std::clamp<std::int64_t>(covered, 0, fine_old);
    while (added < covered) {
      const std::int64_t b = added / upsample_rate;
      const std::int64_t take = std::min((b + 1) * upsample_rate, covered) - added;
      integral = add_repeatedly(integral, static_cast<double>(old_hist[static_cast<std::size_t>(b)]), take);
      added += take;
    }
    const auto interpolated =
        static_cast<float>((integral - static_cast<double>(shifted)) / static_cast<double>(upsample_rate));
    hist[static_cast<std::size_t>(i)] += interpolated;
    shifted = static_cast<float>(integral);
  }
}

// ---- _compute_quantization_error and _non_linear_param_search ------------------------------------

/// The L2 error of quantizing histogram bins [start_bin, end_bin] to 256 levels (torch's
/// _compute_quantization_error); `norms` is scratch of hist.size() floats.
inline double quantization_error(std::span<const float> hist, float min_val, float max_val, std::int64_t start_bin,
                                 std::int64_t end_bin, std::vector<float>& norms) {
  const auto n = static_cast<std::int64_t>(hist.size());
  // Python floats (double) here...
  const double bin_width = (static_cast<double>(max_val) - static_cast<double>(min_val)) / static_cast<double>(n);
  const double dst_bin_width = bin_width * static_cast<double>(end_bin - start_bin + 1) / static_cast<double>(dst_nbins);
  if (dst_bin_width == 0.0) return 0.0;
  // ...rounded to float32 where they meet the float32 tensors.
  const auto bw = static_cast<float>(bin_width);
  const auto dbw = static_cast<float>(dst_bin_width);
  const auto half = static_cast<float>(dst_bin_width / 2);
  const auto neg_half = static_cast<float>(-dst_bin_width / 2);
  const float half_cubed = no_fuse(no_fuse(half * half) * half);
  const float neg_half_cubed = no_fuse(no_fuse(neg_half * neg_half) * neg_half);
  const float middle_norm = (half_cubed - neg_half_cubed) / 3.f;  // _get_norm(-dbw/2, dbw/2) / density
  const float last_dst = static_cast<float>(dst_nbins - 1);
  norms.resize(hist.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const float begin = no_fuse(static_cast<float>(i - start_bin) * bw);
    const float end = begin + bw;
    const float dst_of_begin = std::min(std::max(torch_floor_divide(begin, dbw), 0.f), last_dst);
    const float dst_of_end = std::min(std::max(torch_floor_divide(end, dbw), 0.f), last_dst);
    const float density = hist[static_cast<std::size_t>(i)] / bw;

    const float delta_begin = begin - no_fuse((dst_of_begin + 0.5f) * dbw);
    const float first = density * ((half_cubed - no_fuse(no_fuse(delta_begin * delta_begin) * delta_begin)) / 3.f);
    const float middle = ((dst_of_end - dst_of_begin) - 1.f) * no_fuse(density * middle_norm);
    const float delta_end = end - (no_fuse(dst_of_end * dbw) + half);
    const float last = density * ((no_fuse(no_fuse(delta_end * delta_end) * delta_end) - neg_half_cubed) / 3.f);
    norms[static_cast<std::size_t>(i)] = no_fuse(no_fuse(first) + no_fuse(middle)) + no_fuse(last);
  }
  return static_cast<double>(torch_float_sum(norms));
}

/// torch's _non_linear_param_search: the [new_min, new_max] that minimizes the quantization error.
inline std::pair<float, float> param_search(std::span<const float> hist, float min_val, float max_val) {
  const auto n = static_cast<std::int64_t>(hist.size());
  const float bin_width = (max_val - min_val) / static_cast<float>(n);
  const double total = torch_float_sum(hist);
  // torch.cumsum accumulates float32 in double and stores each running sum as float32. Combined
  // histograms may hold tiny negative bins, so this is not monotone: scan as torch does.
  std::vector<float> csum(hist.size());
  double running = 0;
  for (std::size_t i = 0; i < hist.size(); ++i) {
    running += hist[i];
    csum[i] = static_cast<float>(running);
  }
  std::vector<float> norms;
  const double stepsize = 1e-5;
  double alpha = 0.0, beta = 1.0;
  std::int64_t start_bin = 0, end_bin = n - 1;
  double norm_min = std::numeric_limits<double>::infinity();
  while (alpha < beta) {
    const double next_alpha = alpha + stepsize;
    const double next_beta = beta - stepsize;
    // cSum[l] < next_alpha * total compares in float32: the Python float is rounded first.
    const auto lower = static_cast<float>(next_alpha * total);
    const auto upper = static_cast<float>(next_beta * total);
    std::int64_t l = start_bin, r = end_bin;
    while (l < end_bin && csum[static_cast<std::size_t>(l)] < lower) ++l;
    while (r > start_bin && csum[static_cast<std::size_t>(r)] > upper) --r;
    std::int64_t next_start = start_bin, next_end = end_bin;
    if (l - start_bin > end_bin - r) {
      next_start = l;
      alpha = next_alpha;
    } else {
      next_end = r;
      beta = next_beta;
    }
    if (next_start == start_bin && next_end == end_bin) continue;
    const double norm = quantization_error(hist, min_val, max_val, next_start, next_end, norms);
    if (norm > norm_min) break;
    norm_min = norm;
    start_bin = next_start;
    end_bin = next_end;
  }
  const float new_min = min_val + no_fuse(bin_width * static_cast<float>(start_bin));
  const float new_max = min_val + no_fuse(bin_width * static_cast<float>(end_bin + 1));
  return {new_min, new_max};
}

/// UniformQuantizationObserverBase._calculate_qparams for qint8, per_tensor_affine.
inline std::pair<float, std::int32_t> affine_qparams(float min_val, float max_val) {
  const float min_neg = std::min(min_val, 0.f);
  const float max_pos = std::max(max_val, 0.f);
  float scale = (max_pos - min_neg) / static_cast<float>(quant_max - quant_min);
  scale = std::max(scale, std::numeric_limits<float>::epsilon());
  const auto rounded = static_cast<std::int32_t>(std::nearbyint(min_neg / scale));  // torch.round: half to even
  const std::int32_t zero_point = std::clamp(quant_min - rounded, quant_min, quant_max);
  return {scale, zero_point};
}

}  // namespace detail::torch_observer

/// HistogramObserver(bins, dtype=torch.qint8, qscheme=torch.per_tensor_affine) of torch 1.13: feed
/// it every calibration batch of one tensor, then read the qparams or TPU-MLIR's threshold.
class histogram_observer {
 public:
  static constexpr int default_bins = 2048;

  explicit histogram_observer(int bins = default_bins) : bins_(bins) {
    if (bins < 1 || bins > (1 << 24))
      throw error("mixq: histogram_observer: the bin count must be in [1, 16777216], got " + std::to_string(bins));
    hist_.assign(static_cast<std::size_t>(bins), 0.f);
  }

  /// HistogramObserver.forward(x): folds one batch into the histogram. An empty batch changes
  /// nothing; a NaN or an infinity is a mixq::error.
  void observe(std::span<const float> x) {
    namespace d = detail::torch_observer;
    if (x.empty()) return;
    const d::batch_range batch = d::range_of(x);
    if (!initialized() || min_ == max_) {
      // The first batch, or every batch so far was one value: start over from this batch.
      min_ = batch.min;
      max_ = batch.max;
      hist_ = d::histc(x, bins_, std::trunc(double{min_}), std::trunc(double{max_}), batch);
      return;
    }
    const float combined_min = std::min(batch.min, min_);
    float combined_max = std::max(batch.max, max_);

    // _adjust_min_max: a fine grid 128x finer than the current bins that the new range is a whole
    // number of (downsample) fine bins of; only the max moves, so a one-sided range keeps its 0.
    const auto n = static_cast<float>(bins_);
    const float fine_width = (max_ - min_) / static_cast<float>(static_cast<std::int64_t>(bins_) * d::upsample_rate);
    const float bins_width = n * fine_width;
    const float downsample_f = std::ceil((combined_max - combined_min) / bins_width);
    const double fine_bins = static_cast<double>(downsample_f) * static_cast<double>(bins_);
    if (!(fine_width > 0.f) || !(fine_bins <= 4611686018427387904.0)) {  // 2^62
      std::ostringstream os;
      os << "mixq: histogram_observer: the observed range grew from [" << min_ << ", " << max_ << "] to ["
         << combined_min << ", " << combined_max << "], too far for torch's HistogramObserver to combine (it would "
         << "need a " << fine_bins << "-bin intermediate histogram)";
      throw error(os.str());
    }
    const float relax = d::no_fuse(downsample_f * bins_width) - (combined_max - combined_min);
    combined_max = combined_max + relax;
    const auto downsample = static_cast<std::int64_t>(downsample_f);
    const auto start_idx = static_cast<std::int64_t>(std::nearbyint((min_ - combined_min) / fine_width));

    std::vector<float> combined =
        d::histc(x, bins_, std::trunc(double{combined_min}), std::trunc(double{combined_max}), batch);
    if (combined_min == min_ && combined_max == max_) {
      for (std::size_t b = 0; b < combined.size(); ++b) combined[b] += hist_[b];
    } else {
      d::combine_histograms(combined, hist_, downsample, start_idx);
    }
    hist_ = std::move(combined);
    min_ = combined_min;
    max_ = combined_max;
  }

  /// HistogramObserver.calculate_qparams() with the ranges it used. Before any value was observed:
  /// torch's defaults, scale 1 and zero point 0. Costs a search over the bins, not over the data.
  observer_qparams qparams() const {
    namespace d = detail::torch_observer;
    observer_qparams q;
    if (!initialized()) return q;
    q.min = min_;
    q.max = max_;
    std::tie(q.clip_min, q.clip_max) = d::param_search(hist_, min_, max_);
    std::tie(q.scale, q.zero_point) = d::affine_qparams(q.clip_min, q.clip_max);
    return q;
  }

  /// TPU-MLIR's threshold from these qparams: scale * max(128 + zp, 127 - zp) in float32, at least 1e-5.
  static double threshold_of(const observer_qparams& q) {
    namespace d = detail::torch_observer;
    const int levels = std::max(-(d::quant_min - q.zero_point), d::quant_max - q.zero_point);
    const double th = static_cast<double>(q.scale * static_cast<float>(levels));
    return th <= 1e-5 ? 1e-5 : th;
  }
  double threshold() const { return threshold_of(qparams()); }

  int bins() const noexcept { return bins_; }
  bool initialized() const noexcept {
    return !(min_ == std::numeric_limits<float>::infinity() && max_ == -std::numeric_limits<float>::infinity());
  }
  /// The running range (torch's min_val and max_val; +inf and -inf before the first value).
  float min() const noexcept { return min_; }
  float max() const noexcept { return max_; }
  /// torch's `histogram` buffer: float32 counts over [min, max] (bins outside int(min)..int(max) may be missing).
  std::span<const float> histogram() const noexcept { return hist_; }
  /// Bytes this observer holds (the object and its histogram).
  std::size_t memory_bytes() const noexcept { return sizeof(*this) + hist_.capacity() * sizeof(float); }

 private:
  int bins_;
  std::vector<float> hist_;
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
};

}  // namespace mixq::calibration
