#pragma once
// 2-D max/average pooling of one NCHW plane: a vertical reduction into a padded row, then a
// horizontal one over stride phases, both a vector at a time (see pool2d_plane).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/partial.hpp"

namespace mixq::simd {

struct pool2d_params {
  std::int64_t ih, iw, oh, ow;
  std::int64_t kh, kw, sh, sw;
  std::int64_t pad_top, pad_left, pad_bottom, pad_right;
  bool is_max = true;
  bool count_include_pad = false;
};

namespace detail {
struct pool_span {
  std::int64_t begin, end, padded;  // clipped [begin, end) inside the input; window length inside the padded input
};
inline std::vector<pool_span> pool_spans(std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t s,
                                         std::int64_t pad_begin, std::int64_t pad_end) {
  std::vector<pool_span> spans(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t start = o * s - pad_begin;
    const std::int64_t stop = std::min(start + k, in + pad_end);
    spans[static_cast<std::size_t>(o)] = {std::max<std::int64_t>(start, 0), std::min(stop, in), stop - start};
  }
  return spans;
}
}  // namespace detail

/// What every plane of one pooling call shares: clipped windows, per-column divisors, scratch sizes.
struct pool2d_plan {
  pool2d_params p;
  std::vector<detail::pool_span> rows, cols;
  std::vector<float> col_scale;   // avg: 1 / (columns counted) per output column
  std::int64_t row_len = 0;       // the vertically reduced row, in padded coordinates
  std::int64_t phase_len = 0;     // one stride phase of it
  bool global = false;            // one window covering the whole unpadded plane

  explicit pool2d_plan(const pool2d_params& params)
      : p(params),
        rows(detail::pool_spans(p.oh, p.ih, p.kh, p.sh, p.pad_top, p.pad_bottom)),
        cols(detail::pool_spans(p.ow, p.iw, p.kw, p.sw, p.pad_left, p.pad_right)) {
    constexpr std::int64_t W = static_cast<std::int64_t>(width<float>);
    global = p.oh == 1 && p.ow == 1 && p.kh == p.ih && p.kw == p.iw && p.pad_top == 0 && p.pad_left == 0 &&
             p.pad_bottom == 0 && p.pad_right == 0;
    const std::int64_t reach = p.ow > 0 ? (p.ow - 1) * p.sw + p.kw : 0;  // padded columns any window touches
    phase_len = p.ow + (p.kw - 1) / std::max<std::int64_t>(p.sw, 1) + W;
    row_len = std::max(reach, p.pad_left + p.iw) + p.sw * phase_len;
    col_scale.resize(static_cast<std::size_t>(p.ow));
    for (std::int64_t ox = 0; ox < p.ow; ++ox) {
      const auto& c = cols[static_cast<std::size_t>(ox)];
      const std::int64_t n = p.count_include_pad ? c.padded : c.end - c.begin;
      col_scale[static_cast<std::size_t>(ox)] = n > 0 ? 1.f / static_cast<float>(n) : 0.f;
    }
  }
  /// Floats of scratch one thread needs for pool2d_plane.
  std::int64_t scratch_size() const { return row_len + p.sw * phase_len; }
};

/// One plane. Each output row is a vertical reduction of its kh input rows into a padded row
/// (vectors across the width), then a horizontal reduction of kw taps, vectors across output
/// columns: with stride > 1 the padded row is first split into stride phases so that the taps
/// of consecutive outputs are consecutive. Padded cells hold the identity (-inf, 0).
inline void pool2d_plane(const float* in, float* out, const pool2d_plan& plan, float* scratch) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  const pool2d_params& p = plan.p;
  const bool is_max = p.is_max;
  const float identity = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
  auto reduce = [is_max](const B& a, const B& b) { return is_max ? xsimd::max(a, b) : a + b; };
  if (plan.global) {
    const std::int64_t n = p.ih * p.iw;
    B acc(identity);
    std::int64_t i = 0;
    for (; i + W <= n; i += W) acc = reduce(acc, B::load_unaligned(in + i));
    float r = is_max ? reduce_max(acc) : reduce_add(acc);
    for (; i < n; ++i) r = is_max ? std::max(r, in[i]) : r + in[i];
    out[0] = is_max ? r : (n > 0 ? r / static_cast<float>(n) : 0.f);
    return;
  }
  float* row = scratch;                  // padded row: input column x at row[pad_left + x]
  float* phases = scratch + plan.row_len;  // phase q at phases + q * phase_len
  const B ident(identity);
  for (std::int64_t i = 0; i < plan.row_len; ++i) row[i] = identity;
  for (std::int64_t oy = 0; oy < p.oh; ++oy) {
    const auto& r = plan.rows[static_cast<std::size_t>(oy)];
    float* orow = out + oy * p.ow;
    if (r.end <= r.begin) {  // the window lies in the padding
      for (std::int64_t ox = 0; ox < p.ow; ++ox) orow[ox] = 0.f;
      continue;
    }
    float* center = row + p.pad_left;
    std::int64_t x = 0;
    for (; x + W <= p.iw; x += W) {
      B acc = B::load_unaligned(in + r.begin * p.iw + x);
      for (std::int64_t y = r.begin + 1; y < r.end; ++y) acc = reduce(acc, B::load_unaligned(in + y * p.iw + x));
      acc.store_unaligned(center + x);
    }
    if (x < p.iw) {
      const std::int64_t n = p.iw - x;
      B acc = load_first(in + r.begin * p.iw + x, n);
      for (std::int64_t y = r.begin + 1; y < r.end; ++y) acc = reduce(acc, load_first(in + y * p.iw + x, n));
      store_first(center + x, acc, n);
    }
    const float* taps = row;
    std::int64_t tap_stride = 1, phase_step = 0;
    if (p.sw > 1) {
      for (std::int64_t q = 0; q < p.sw; ++q) {
        float* ph = phases + q * plan.phase_len;
        for (std::int64_t j = 0; j < plan.phase_len; ++j) {
          const std::int64_t src = j * p.sw + q;
          ph[j] = src < plan.row_len ? row[src] : identity;
        }
      }
      taps = phases;
      tap_stride = 0;
      phase_step = plan.phase_len;
    }
    // Tap kx of output ox: row[ox*sw + kx] = phase (kx % sw) at ox + kx / sw.
    auto tap = [&](std::int64_t kx) {
      return p.sw > 1 ? taps + (kx % p.sw) * phase_step + kx / p.sw : taps + kx * tap_stride;
    };
    const float row_scale = is_max ? 1.f : 1.f / static_cast<float>(p.count_include_pad ? r.padded : r.end - r.begin);
    std::int64_t ox = 0;
    for (; ox < p.ow; ox += W) {
      const std::int64_t n = std::min(W, p.ow - ox);
      B acc = ident;
      for (std::int64_t kx = 0; kx < p.kw; ++kx) acc = reduce(acc, B::load_unaligned(tap(kx) + ox));
      if (!is_max) acc = acc * B(row_scale) * load_first(plan.col_scale.data() + ox, n);
      if (n == W) acc.store_unaligned(orow + ox);
      else store_first(orow + ox, acc, n);
    }
    if (is_max)  // windows that lie in the padding (pads >= kernel) give 0, not -inf
      for (std::int64_t c = 0; c < p.ow; ++c) {
        const auto& span = plan.cols[static_cast<std::size_t>(c)];
        if (span.end <= span.begin) orow[c] = 0.f;
      }
  }
}

}  // namespace mixq::simd
