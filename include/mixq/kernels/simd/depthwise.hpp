#pragma once
// Depthwise 2-D convolution (one filter per channel) vectorised along the output row.
//
// Strided taps are made contiguous by splitting each zero-padded input row into `stride_w` phases
// (phase p holds padded columns p, p+s, p+2s...): the tap at padded column x*s + kx*d then reads
// phase (kx*d) % s at offset x + (kx*d) / s, so every tap is one unaligned vector load per output
// vector, for any stride, dilation and padding.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/gemm.hpp"

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

/// Scratch for one channel: its padded, phase-split rows.
struct depthwise_scratch {
  std::vector<float> phases;
  std::vector<float> row;
};

/// One channel plane: out[oh][ow] = bias + sum_{ky,kx} w[ky][kx] * in[oy*sh + ky*dh - pt][ox*sw + kx*dw - pl],
/// then the relu epilogue.
inline void depthwise_channel(const conv2d_geometry& g, const float* in, const float* w, float bias, float* out,
                              const gemm_epilogue& ep, depthwise_scratch& scratch) {
  using B = batch<float>;
  constexpr index_t W = static_cast<index_t>(width<float>);
  const index_t span = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;   // padded columns the taps reach
  const index_t padded = std::max(span, g.pad_left + g.iw);
  const index_t phase_len = (padded + g.sw - 1) / g.sw + W;          // + W: tails may read a vector past
  const index_t row_len = g.sw * phase_len;
  scratch.phases.assign(static_cast<std::size_t>(g.ih * row_len), 0.f);
  for (index_t y = 0; y < g.ih; ++y) {
    float* dst = scratch.phases.data() + y * row_len;
    const float* src = in + y * g.iw;
    for (index_t x = 0; x < g.iw; ++x) {
      const index_t px = x + g.pad_left;
      dst[(px % g.sw) * phase_len + px / g.sw] = src[x];
    }
  }
  scratch.row.assign(static_cast<std::size_t>(g.ow + W), 0.f);
  float* acc = scratch.row.data();
  const B zero(0.f), limit(ep.relu_limit);
  const bool clip = ep.relu && ep.relu_limit > 0.f;
  for (index_t oy = 0; oy < g.oh; ++oy) {
    std::fill(acc, acc + g.ow, bias);
    for (index_t ky = 0; ky < g.kh; ++ky) {
      const index_t iy = oy * g.sh + ky * g.dh - g.pad_top;
      if (iy < 0 || iy >= g.ih) continue;
      const float* prow = scratch.phases.data() + iy * row_len;
      for (index_t kx = 0; kx < g.kw; ++kx) {
        const index_t off = kx * g.dw;
        const float* src = prow + (off % g.sw) * phase_len + off / g.sw;
        const B wv(w[ky * g.kw + kx]);
        const float wk = w[ky * g.kw + kx];
        index_t x = 0;
        for (; x + W <= g.ow; x += W) xsimd::fma(wv, B::load_unaligned(src + x), B::load_unaligned(acc + x)).store_unaligned(acc + x);
        for (; x < g.ow; ++x) acc[x] += wk * src[x];
      }
    }
    float* o = out + oy * g.ow;
    index_t x = 0;
    for (; x + W <= g.ow; x += W) {
      B v = B::load_unaligned(acc + x);
      if (ep.relu) {
        v = xsimd::select(v > zero, v, zero);
        if (clip) v = xsimd::select(v > limit, limit, v);
      }
      v.store_unaligned(o + x);
    }
    for (; x < g.ow; ++x) o[x] = detail::finish_scalar(acc[x], {nullptr, true, ep.relu, ep.relu_limit}, 0, 0);
  }
}

/// All channels of a batch (input [n, c, ih, iw], filter [c, 1, kh, kw], output [n, c, oh, ow]),
/// split over the pool by (image, channel).
inline void depthwise_conv2d(const conv2d_geometry& g, index_t batch_size, const float* in, const float* filter,
                             const float* bias, float* out, const gemm_epilogue& ep, thread_pool& pool) {
  const index_t planes = batch_size * g.ic;
  const index_t in_plane = g.ih * g.iw, out_plane = g.oh * g.ow, taps = g.kh * g.kw;
  pool.parallel_for(planes, 1, [&](index_t b, index_t e) {
    depthwise_scratch scratch;
    for (index_t p = b; p < e; ++p) {
      const index_t c = p % g.ic;
      depthwise_channel(g, in + p * in_plane, filter + c * taps, bias ? bias[c] : 0.f, out + p * out_plane, ep, scratch);
    }
  });
}

}  // namespace mixq::simd
