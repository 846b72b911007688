#pragma once
// 2-D convolution (NCHW) on the packed GEMM: per image and group, C[oc_g x oh*ow] = W_g · X_g where
// X_g is the input itself for 1x1 stride-1 unpadded kernels, and otherwise the im2col matrix,
// which is never materialised: its columns are gathered straight into GEMM B panels one K x N
// block at a time, so the extra memory is one cache block.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mixq/kernels/simd/depthwise.hpp"
#include "mixq/kernels/simd/gemm.hpp"

namespace mixq::simd {

namespace detail {

/// B panels of the im2col matrix of one image group (`in` points at its first channel):
/// row k = (ci * kh + ky) * kw + kx, column n = oy * ow + ox.
inline void pack_im2col(const conv2d_geometry& g, const float* in, index_t k0, index_t kc, index_t n0, index_t nc,
                        float* dst) {
  const index_t N = g.oh * g.ow, taps = g.kh * g.kw;
  index_t row0[gemm_nr], col0[gemm_nr];
  for (index_t s = 0; s < nc; s += gemm_nr, dst += gemm_nr * kc) {
    const index_t first = n0 + s;
    const index_t cols = std::max<index_t>(0, std::min(gemm_nr, N - first));
    for (index_t t = 0; t < gemm_nr; ++t) {
      const index_t n = first + t;
      row0[t] = n < N ? (n / g.ow) * g.sh - g.pad_top : 0;
      col0[t] = n < N ? (n % g.ow) * g.sw - g.pad_left : 0;
    }
    // the strip lies in one output row with unit stride: its inputs are contiguous too
    const bool one_row = cols == gemm_nr && g.sw == 1 && first % g.ow + gemm_nr <= g.ow;
    for (index_t k = 0; k < kc; ++k) {
      const index_t kk = k0 + k, ci = kk / taps, ky = (kk % taps) / g.kw, kx = kk % g.kw;
      const float* plane = in + ci * g.ih * g.iw;
      float* d = dst + k * gemm_nr;
      if (one_row) {
        const index_t y = row0[0] + ky * g.dh, x = col0[0] + kx * g.dw;
        if (y >= 0 && y < g.ih && x >= 0 && x + gemm_nr <= g.iw) {
          std::memcpy(d, plane + y * g.iw + x, sizeof(float) * gemm_nr);
          continue;
        }
      }
      for (index_t t = 0; t < gemm_nr; ++t) {
        const index_t y = row0[t] + ky * g.dh, x = col0[t] + kx * g.dw;
        d[t] = t < cols && y >= 0 && y < g.ih && x >= 0 && x < g.iw ? plane[y * g.iw + x] : 0.f;
      }
    }
  }
}

}  // namespace detail

/// Filter [oc, ic/g, kh, kw] packed as the A operand of each group's GEMM, once per model.
struct packed_conv_filter {
  std::vector<packed_matrix> groups;
};

inline packed_conv_filter pack_conv_filter(const conv2d_geometry& g, const float* filter) {
  packed_conv_filter pf;
  const index_t ocg = g.oc / g.group, K = g.ic / g.group * g.kh * g.kw;
  for (index_t gi = 0; gi < g.group; ++gi) pf.groups.push_back(pack_a_once(filter + gi * ocg * K, ocg, K, K, 1));
  return pf;
}

/// True when the convolution is a plain GEMM on the NCHW input (no gather needed).
inline bool conv_is_pointwise(const conv2d_geometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0 && g.oh == g.ih &&
         g.ow == g.iw;
}

/// Grouped/dense convolution of a batch through the GEMM; `packed` may be null (filter packed per call).
inline void conv2d_gemm(const conv2d_geometry& g, index_t batch_size, const float* in, const float* filter,
                        const packed_conv_filter* packed, const float* bias, float* out, const gemm_epilogue& ep,
                        thread_pool& pool) {
  const index_t icg = g.ic / g.group, ocg = g.oc / g.group, K = icg * g.kh * g.kw, N = g.oh * g.ow;
  packed_conv_filter local;
  if (!packed) {
    local = pack_conv_filter(g, filter);
    packed = &local;
  }
  const bool pointwise = conv_is_pointwise(g);
  for (index_t n = 0; n < batch_size; ++n) {
    for (index_t gi = 0; gi < g.group; ++gi) {
      const float* x = in + (n * g.ic + gi * icg) * g.ih * g.iw;
      float* y = out + (n * g.oc + gi * ocg) * N;
      gemm_b b = pointwise ? strided_b(x, N, N, 1)
                           : gemm_b{nullptr, [&g, x](index_t k0, index_t kc, index_t n0, index_t nc, float* dst) {
                                      detail::pack_im2col(g, x, k0, kc, n0, nc, dst);
                                    }};
      gemm_epilogue e = ep;
      e.bias = bias ? bias + gi * ocg : nullptr;
      e.bias_per_row = true;
      gemm(ocg, N, K, gemm_a{&packed->groups[static_cast<std::size_t>(gi)], {}}, b, y, N, e, &pool);
    }
  }
}

}  // namespace mixq::simd
