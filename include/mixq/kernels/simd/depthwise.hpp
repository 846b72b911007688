#pragma once
// Depthwise 2-D convolution (one filter per channel), vectorised along the output row.
//
// Each input row of a channel is copied once into a zero-padded row split into `stride_w` phases
// (phase p holds padded columns p, p+s, p+2s...): the tap at padded column ox*s + kx*d then reads
// phase (kx*d) % s at offset ox + (kx*d) / s, so every tap is one unaligned vector load per output
// vector, for any stride, dilation and padding. Padding rows all point at one shared zero row, so
// the tap loop has no bounds checks. Accumulators live in registers: per output vector the kernel
// does kh*kw loads and FMAs and one store, and the per-channel set-up is one pass over the input.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/gemm.hpp"
#include "mixq/kernels/simd/partial.hpp"

namespace mixq::simd {

/// Geometry of one 2-D convolution (NCHW): sizes, kernel, strides, dilations and leading pads.
struct conv2d_geometry {
  index_t ic = 0, ih = 0, iw = 0;
  index_t oc = 0, oh = 0, ow = 0;
  index_t kh = 1, kw = 1;
  index_t sh = 1, sw = 1;
  index_t dh = 1, dw = 1;
  index_t pad_top = 0, pad_left = 0;
  index_t group = 1;
};

namespace detail {

/// Sizes of the phase-split rows of one depthwise channel (shared by all channels of a call).
struct depthwise_layout {
  index_t phase_len = 0;  // floats per phase: covers every vector load of a tap, tail included
  index_t row_len = 0;    // sw phases
  index_t padded_len = 0; // the padded row before phase splitting (a multiple of sw)
  std::vector<index_t> tap_offset;  // per kx: phase start + shift inside the phase

  explicit depthwise_layout(const conv2d_geometry& g) {
    constexpr index_t W = static_cast<index_t>(width<float>);
    const index_t reach = ((g.kw - 1) * g.dw) / g.sw;  // furthest shift inside a phase
    phase_len = round_up(std::max<index_t>(g.ow, 1), W) + reach;
    row_len = g.sw * phase_len;
    padded_len = row_len;  // padded column px = j*sw + p for j < phase_len
    for (index_t kx = 0; kx < g.kw; ++kx) {
      const index_t off = kx * g.dw;
      tap_offset.push_back((off % g.sw) * phase_len + off / g.sw);
    }
  }
};

/// Input row `src` (iw values) into its padded, phase-split form `dst` (row_len values); `tmp`
/// holds padded_len floats for strides above 1.
inline void depthwise_prepare_row(const conv2d_geometry& g, const depthwise_layout& l, const float* src, float* dst,
                                  float* tmp) {
  float* padded = g.sw == 1 ? dst : tmp;
  // columns of the padded row that hold input: [pad_left, pad_left + iw) clipped to the row
  const index_t begin = std::min(g.pad_left, l.padded_len);
  const index_t end = std::min(g.pad_left + g.iw, l.padded_len);
  zero_run(padded, begin);
  if (end > begin) copy_run(padded + begin, src, end - begin);
  zero_run(padded + std::max(begin, end), l.padded_len - std::max(begin, end));
  if (g.sw == 1) return;
  const index_t s = g.sw, len = l.phase_len;
  if (s == 2) {
    float* even = dst;
    float* odd = dst + len;
    for (index_t j = 0; j < len; ++j) {  // GCC vectorises this stride-2 split into permutes
      even[j] = tmp[2 * j];
      odd[j] = tmp[2 * j + 1];
    }
    return;
  }
  for (index_t p = 0; p < s; ++p) {
    float* phase = dst + p * len;
    for (index_t j = 0; j < len; ++j) phase[j] = tmp[j * s + p];
  }
}

/// Output rows of one channel from its prepared rows (`rows[py]` for padded row py, zero rows
/// included). KH, KW > 0 fix the kernel size at compile time; 0 reads it from g.
template <int KH, int KW>
void depthwise_rows(const conv2d_geometry& g, const depthwise_layout& l, const float* const* rows, const float* w,
                    float bias, float* out, const gemm_epilogue& ep) {
  using B = batch<float>;
  constexpr index_t W = static_cast<index_t>(width<float>);
  const index_t kh = KH > 0 ? KH : g.kh, kw = KW > 0 ? KW : g.kw;
  const B zero(0.f), limit(ep.relu_limit), bias_v(bias);
  const bool clip = ep.relu && ep.relu_limit > 0.f;
  // fixed-size kernels keep their weights in registers; others broadcast them from memory
  B wv[KH > 0 ? KH * KW : 1];
  if constexpr (KH > 0)
    for (index_t t = 0; t < KH * KW; ++t) wv[t] = B(w[t]);
  const index_t* toff = l.tap_offset.data();
  for (index_t oy = 0; oy < g.oh; ++oy) {
    const float* const* r = rows + oy * g.sh;
    float* o = out + oy * g.ow;
    for (index_t x = 0; x < g.ow; x += W) {
      B acc = bias_v;
#pragma GCC unroll 8
      for (index_t ky = 0; ky < kh; ++ky) {
        const float* src = r[ky * g.dh] + x;
#pragma GCC unroll 8
        for (index_t kx = 0; kx < kw; ++kx) {
          B wk;
          if constexpr (KH > 0)
            wk = wv[ky * kw + kx];
          else
            wk = B(w[ky * kw + kx]);
          acc = xsimd::fma(wk, B::load_unaligned(src + toff[kx]), acc);
        }
      }
      if (ep.relu) {
        acc = xsimd::select(acc > zero, acc, zero);
        if (clip) acc = xsimd::select(acc > limit, limit, acc);
      }
      if (x + W <= g.ow)
        acc.store_unaligned(o + x);
      else
        store_first(o + x, acc, g.ow - x);
    }
  }
}

/// R output rows at once for a KH x KW kernel with row stride SH and no row dilation: the
/// padded rows they read overlap, so each (row, tap column) vector is loaded once and feeds
/// every output row it belongs to: (R-1)*SH + KH rows of loads instead of R*KH (3x3 s1, R = 4:
/// 18 loads for 36 FMAs instead of 36). Returns the first output row it did not compute.
template <int KH, int KW, int SH, int R>
index_t depthwise_row_blocks(const conv2d_geometry& g, const depthwise_layout& l, const float* const* rows,
                             const float* w, float bias, float* out, const gemm_epilogue& ep) {
  using B = batch<float>;
  constexpr index_t W = static_cast<index_t>(width<float>);
  constexpr int P = (R - 1) * SH + KH;  // padded rows one block reads
  const B zero(0.f), limit(ep.relu_limit), bias_v(bias);
  const bool clip = ep.relu && ep.relu_limit > 0.f;
  B wv[KH * KW];
  for (int t = 0; t < KH * KW; ++t) wv[t] = B(w[t]);
  index_t toff[KW];
  for (int kx = 0; kx < KW; ++kx) toff[kx] = l.tap_offset[static_cast<std::size_t>(kx)];
  index_t oy = 0;
  for (; oy + R <= g.oh; oy += R) {
    const float* const* r = rows + oy * SH;
    for (index_t x = 0; x < g.ow; x += W) {
      B acc[R];
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) acc[i] = bias_v;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) {
        const float* src = r[p] + x;
#pragma GCC unroll 8
        for (int kx = 0; kx < KW; ++kx) {
          const B v = B::load_unaligned(src + toff[kx]);
#pragma GCC unroll 8
          for (int i = 0; i < R; ++i) {
            const int ky = p - i * SH;
            if (ky >= 0 && ky < KH) acc[i] = xsimd::fma(wv[ky * KW + kx], v, acc[i]);
          }
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        B a = acc[i];
        if (ep.relu) {
          a = xsimd::select(a > zero, a, zero);
          if (clip) a = xsimd::select(a > limit, limit, a);
        }
        float* o = out + (oy + i) * g.ow + x;
        if (x + W <= g.ow)
          a.store_unaligned(o);
        else
          store_first(o, a, g.ow - x);
      }
    }
  }
  return oy;
}

/// One channel: row blocks where a specialisation exists, then the remaining rows one by one.
template <int KH, int KW>
void depthwise_channel(const conv2d_geometry& g, const depthwise_layout& l, const float* const* rows, const float* w,
                       float bias, float* out, const gemm_epilogue& ep) {
  index_t done = 0;
  // 5x5: 25 weight registers leave room for two accumulators
  if (g.dh == 1 && g.sh == 1) done = depthwise_row_blocks<KH, KW, 1, (KH <= 3 ? 4 : 2)>(g, l, rows, w, bias, out, ep);
  else if (g.dh == 1 && g.sh == 2) done = depthwise_row_blocks<KH, KW, 2, 2>(g, l, rows, w, bias, out, ep);
  if (done == g.oh) return;
  conv2d_geometry rest = g;
  rest.oh = g.oh - done;
  depthwise_rows<KH, KW>(rest, l, rows + done * g.sh, w, bias, out + done * g.ow, ep);
}

}  // namespace detail

/// All channels of a batch (input [n, c, ih, iw], filter [c, 1, kh, kw], output [n, c, oh, ow]),
/// split over the pool by (image, channel); each chunk reuses one scratch buffer for its channels.
inline void depthwise_conv2d(const conv2d_geometry& g, index_t batch_size, const float* in, const float* filter,
                             const float* bias, float* out, const gemm_epilogue& ep, thread_pool& pool) {
  const index_t planes = batch_size * g.ic;
  const index_t in_plane = g.ih * g.iw, out_plane = g.oh * g.ow, taps = g.kh * g.kw;
  if (planes <= 0 || out_plane <= 0) return;
  const detail::depthwise_layout layout(g);
  // padded rows reached by the taps: py = oy*sh + ky*dh for input row py - pad_top
  const index_t padded_rows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const index_t work = out_plane * taps;
  const index_t grain = std::max<index_t>(1, 16384 / std::max<index_t>(work, 1));
  pool.parallel_for(planes, grain, [&](index_t b, index_t e) {
    std::vector<float> scratch(static_cast<std::size_t>((g.ih + 1) * layout.row_len + layout.padded_len));
    float* zero_row = scratch.data();
    float* plane = zero_row + layout.row_len;
    float* tmp = plane + g.ih * layout.row_len;
    std::vector<const float*> rows(static_cast<std::size_t>(padded_rows));
    for (index_t py = 0; py < padded_rows; ++py) {
      const index_t iy = py - g.pad_top;
      rows[static_cast<std::size_t>(py)] = iy >= 0 && iy < g.ih ? plane + iy * layout.row_len : zero_row;
    }
    for (index_t p = b; p < e; ++p) {
      const index_t c = p % g.ic;
      const float* src = in + p * in_plane;
      const index_t iy0 = std::max<index_t>(0, -g.pad_top), iy1 = std::min(g.ih, padded_rows - g.pad_top);
      for (index_t iy = iy0; iy < iy1; ++iy)
        detail::depthwise_prepare_row(g, layout, src + iy * g.iw, plane + iy * layout.row_len, tmp);
      const float* w = filter + c * taps;
      const float bv = bias ? bias[c] : 0.f;
      float* dst = out + p * out_plane;
      if (g.kh == 3 && g.kw == 3)
        detail::depthwise_channel<3, 3>(g, layout, rows.data(), w, bv, dst, ep);
      else if (g.kh == 5 && g.kw == 5)  // PP-OCR's backbones: 25 weights still fit in registers
        detail::depthwise_channel<5, 5>(g, layout, rows.data(), w, bv, dst, ep);
      else
        detail::depthwise_rows<0, 0>(g, layout, rows.data(), w, bv, dst, ep);
    }
  });
}

}  // namespace mixq::simd
