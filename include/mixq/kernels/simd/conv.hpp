#pragma once
// 2-D convolution (NCHW) on the packed GEMM: per image and group, C[oc_g x oh*ow] = W_g · X_g where
// X_g is the input itself for 1x1 stride-1 unpadded kernels, and otherwise the im2col matrix,
// which is never materialised: the input is first padded and split into stride phases (about one
// copy of the input), after which every im2col row is a few contiguous runs that are copied with
// vector moves straight into GEMM B panels, one K x N cache block at a time. Small feature maps
// run the transposed product C^T = X^T · W^T instead (conv_prefers_transposed).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "mixq/kernels/simd/depthwise.hpp"
#include "mixq/kernels/simd/gemm.hpp"
#include "mixq/kernels/simd/partial.hpp"

namespace mixq::simd {

namespace detail {

/// The input of one image group made ready for im2col: every padded input row the taps reach,
/// zero rows included, in the phase-split form of depthwise_layout. Tap (ky, kx) of output pixel
/// (oy, ox) is then row (oy*sh + ky*dh) at column tap_offset[kx] + ox, so a row of the im2col
/// matrix is a run of contiguous values per output row, for any stride, dilation and padding.
/// Its size is about that of the input, independent of the kernel size.
struct im2col_source {
  const conv2d_geometry* g = nullptr;
  depthwise_layout layout;
  index_t rows_per_plane = 0;  // padded rows reached: (oh-1)*sh + (kh-1)*dh + 1
  std::vector<float> data;

  im2col_source(const conv2d_geometry& geom, const float* in, index_t channels, thread_pool& pool)
      : g(&geom), layout(geom), rows_per_plane((geom.oh - 1) * geom.sh + (geom.kh - 1) * geom.dh + 1) {
    data.resize(static_cast<std::size_t>(channels * rows_per_plane * layout.row_len));
    pool.parallel_for(channels, 1, [&](index_t b, index_t e) {
      std::vector<float> tmp(static_cast<std::size_t>(layout.padded_len));
      for (index_t c = b; c < e; ++c)
        for (index_t py = 0; py < rows_per_plane; ++py) {
          float* dst = data.data() + (c * rows_per_plane + py) * layout.row_len;
          const index_t iy = py - g->pad_top;
          if (iy < 0 || iy >= g->ih)
            zero_run(dst, layout.row_len);
          else
            depthwise_prepare_row(*g, layout, in + (c * g->ih + iy) * g->iw, dst, tmp.data());
        }
    });
  }
};

/// B panels of the im2col matrix (row k = (ci * kh + ky) * kw + kx, column n = oy * ow + ox):
/// each matrix row is copied as runs cut at output-row and strip boundaries.
inline void pack_im2col(const im2col_source& src, index_t k0, index_t kc, index_t n0, index_t nc, float* dst) {
  const conv2d_geometry& g = *src.g;
  const index_t N = g.oh * g.ow, taps = g.kh * g.kw, row_len = src.layout.row_len;
  const index_t avail = std::max<index_t>(0, std::min(nc, N - n0));
  const index_t strips = (nc + gemm_nr - 1) / gemm_nr, strip_size = gemm_nr * kc;
  const index_t oy0 = n0 / g.ow, ox0 = n0 % g.ow;
  for (index_t k = 0; k < kc; ++k) {
    const index_t kk = k0 + k, ci = kk / taps, ky = (kk % taps) / g.kw, kx = kk % g.kw;
    const float* base = src.data.data() + (ci * src.rows_per_plane + ky * g.dh) * row_len + src.layout.tap_offset[static_cast<std::size_t>(kx)];
    float* d = dst + k * gemm_nr;
    index_t filled = 0, oy = oy0, ox = ox0;
    while (filled < avail) {
      const index_t strip = filled / gemm_nr, within = filled - strip * gemm_nr;
      const index_t run = std::min(std::min(g.ow - ox, gemm_nr - within), avail - filled);
      copy_run(d + strip * strip_size + within, base + oy * g.sh * row_len + ox, run);
      filled += run;
      ox += run;
      if (ox == g.ow) {
        ox = 0;
        ++oy;
      }
    }
    if (avail < strips * gemm_nr) {  // columns past the matrix
      const index_t strip = avail / gemm_nr, within = avail - strip * gemm_nr;
      zero_run(d + strip * strip_size + within, gemm_nr - within);
      for (index_t s2 = strip + 1; s2 < strips; ++s2) zero_run(d + s2 * strip_size, gemm_nr);
    }
  }
}

/// A panels of the transposed im2col matrix (row n = output pixel oy * ow + ox, column k as in
/// pack_im2col), for the GEMM that computes C^T = im2col^T · W^T. A strip holds gemm_mr
/// consecutive pixels: one contiguous run of the source row when they share an output row,
/// otherwise a gather by precomputed offsets.
inline void pack_im2col_a(const im2col_source& src, index_t m0, index_t mc, index_t k0, index_t kc, float* dst) {
  const conv2d_geometry& g = *src.g;
  const index_t N = g.oh * g.ow, taps = g.kh * g.kw, row_len = src.layout.row_len;
  std::vector<index_t> k_base(static_cast<std::size_t>(kc));
  for (index_t k = 0; k < kc; ++k) {
    const index_t kk = k0 + k, ci = kk / taps, ky = (kk % taps) / g.kw, kx = kk % g.kw;
    k_base[static_cast<std::size_t>(k)] =
        (ci * src.rows_per_plane + ky * g.dh) * row_len + src.layout.tap_offset[static_cast<std::size_t>(kx)];
  }
  const float* data = src.data.data();
  for (index_t s = 0; s < mc; s += gemm_mr, dst += gemm_mr * kc) {
    const index_t rows = std::max<index_t>(0, std::min(gemm_mr, std::min(mc - s, N - m0 - s)));
    index_t off[gemm_mr] = {};
    for (index_t r = 0; r < rows; ++r) {
      const index_t n = m0 + s + r, oy = n / g.ow, ox = n % g.ow;
      off[r] = oy * g.sh * row_len + ox;
    }
    const bool contiguous = rows == gemm_mr && off[gemm_mr - 1] - off[0] == gemm_mr - 1;
    for (index_t k = 0; k < kc; ++k) {
      const float* base = data + k_base[static_cast<std::size_t>(k)];
      float* d = dst + k * gemm_mr;
      if (contiguous) {
        std::memcpy(d, base + off[0], sizeof(float) * gemm_mr);
      } else {
        index_t r = 0;
        for (; r < rows; ++r) d[r] = base[off[r]];
        for (; r < gemm_mr; ++r) d[r] = 0.f;
      }
    }
  }
}

/// Relative cost per k step of a GEMM tile grid over rows x cols: each register tile of r rows
/// and v vectors takes about max(r*v FMAs, r broadcasts + v loads) / 2 cycles (two FMA and two
/// load ports). Only the ratio of the two orientations of a convolution matters.
inline double gemm_grid_cost(index_t rows, index_t cols) {
  constexpr index_t W = static_cast<index_t>(width<float>);
  auto tile = [](index_t r, index_t v) { return 0.5 * static_cast<double>(std::max(r * v, r + v)); };
  const index_t full_rows = rows / gemm_mr, rest_rows = rows % gemm_mr;
  const index_t full_cols = cols / gemm_nr, rest_vectors = (cols % gemm_nr + W - 1) / W;
  auto strip = [&](index_t r) {
    return static_cast<double>(full_cols) * tile(r, gemm_nv) + (rest_vectors ? tile(r, rest_vectors) : 0.0);
  };
  return static_cast<double>(full_rows) * strip(gemm_mr) + (rest_rows ? strip(rest_rows) : 0.0);
}

/// Transposes a rows x cols row-major block (row stride ld_src) into dst (row stride ld_dst).
inline void transpose_block(const float* src, index_t rows, index_t cols, index_t ld_src, float* dst, index_t ld_dst) {
  constexpr index_t T = 16;
  for (index_t i0 = 0; i0 < rows; i0 += T)
    for (index_t j0 = 0; j0 < cols; j0 += T) {
      const index_t i1 = std::min(rows, i0 + T), j1 = std::min(cols, j0 + T);
      for (index_t j = j0; j < j1; ++j)
        for (index_t i = i0; i < i1; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
    }
}

}  // namespace detail

/// True when the GEMM of this convolution runs faster as C^T = X^T · W^T (pixels as rows,
/// output channels across vectors): small feature maps, e.g. 7x7 = 49 pixels, fill 48 + 1
/// columns as C = W · X, but 512 channels fill whole vectors. The result is the same bit for
/// bit (each output is the same sum in the same order); C^T is transposed into NCHW at the end.
inline bool conv_prefers_transposed(const conv2d_geometry& g) {
  const index_t ocg = g.oc / g.group, N = g.oh * g.ow;
  return detail::gemm_grid_cost(N, ocg) < 0.85 * detail::gemm_grid_cost(ocg, N);
}

/// Filter [oc, ic/g, kh, kw] packed once per model for each group's GEMM: as the A operand
/// (ocg x K), or, when `transposed`, W^T as the B operand (K x ocg).
struct packed_conv_filter {
  bool transposed = false;
  std::vector<packed_matrix> groups;
};

inline packed_conv_filter pack_conv_filter(const conv2d_geometry& g, const float* filter, bool transposed) {
  packed_conv_filter pf;
  pf.transposed = transposed;
  const index_t ocg = g.oc / g.group, K = g.ic / g.group * g.kh * g.kw;
  for (index_t gi = 0; gi < g.group; ++gi)
    pf.groups.push_back(pf.transposed ? pack_b_once(filter + gi * ocg * K, K, ocg, 1, K)
                                      : pack_a_once(filter + gi * ocg * K, ocg, K, K, 1));
  return pf;
}
/// Packed for the faster orientation of this geometry.
inline packed_conv_filter pack_conv_filter(const conv2d_geometry& g, const float* filter) {
  return pack_conv_filter(g, filter, conv_prefers_transposed(g));
}

/// True when the convolution is a plain GEMM on the NCHW input (no gather needed).
inline bool conv_is_pointwise(const conv2d_geometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0 && g.oh == g.ih &&
         g.ow == g.iw;
}

namespace detail {

/// C = W · B with B read in place: `rows` groups (output rows, or one group for a pointwise conv)
/// of `cols` columns each; column j of group r, depth k sits at base + r * row_step + k_offset[k] + j
/// (k_offset has K + gemm_prefetch_distance entries: the microkernel fetches rows ahead).
/// Without packing B, a filter with few output channels (few A strips to share each packed B
/// panel) no longer spends as long copying im2col columns as multiplying them.
inline constexpr index_t direct_sub_k = 96;

inline void gemm_direct_b(const packed_matrix& a, index_t M, index_t K, const float* base, index_t rows,
                          index_t row_step, index_t cols, const index_t* k_offset, float* out, index_t ldc,
                          const gemm_epilogue& ep, thread_pool& pool) {
  const index_t strips_per_row = (cols + gemm_nr - 1) / gemm_nr, items = rows * strips_per_row;
  const index_t kc_max = k_block(K), m_strips = (M + gemm_mr - 1) / gemm_mr;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(rows * cols) * static_cast<double>(K);
  const index_t grain = flops < 5e5 ? items : std::max<index_t>(1, items / (8 * static_cast<index_t>(pool.size())));
  pool.parallel_for(items, grain, [&](index_t b, index_t e) {
    for (index_t it = b; it < e; ++it) {
      const index_t r = it / strips_per_row, j0 = (it % strips_per_row) * gemm_nr;
      const index_t nc = std::min(gemm_nr, cols - j0);
      const float* src = base + r * row_step + j0;
      const index_t col = r * cols + j0;  // column of C
      for (index_t pc = 0; pc < K; pc += kc_max) {
        const index_t kc = std::min(kc_max, K - pc);
        // Sub-blocks of the packed A block keep the B rows they read (sub x 48 floats) in L1
        // while every A strip passes over them; B rows are scattered, so L2 would stall.
        for (index_t k0 = 0; k0 < kc; k0 += direct_sub_k) {
          const index_t ks = std::min(direct_sub_k, kc - k0);
          for (index_t i = 0; i < m_strips; ++i) {
            const index_t m0 = i * gemm_mr, mr = std::min(gemm_mr, M - m0);
            run_micro_kernel_direct(ks, a.block(pc, i, kc) + k0 * gemm_mr, src, k_offset + pc + k0, out + m0 * ldc + col,
                                    ldc, mr, nc, m0, col, pc + k0 > 0, pc + k0 + ks == K, ep);
          }
        }
      }
    }
  });
}

}  // namespace detail

/// True when C = W · X reads X in place instead of packing it: few output channels per group, so
/// a packed B panel would be reused by too few A strips to pay for its copy. Measured: 1x1 up
/// to 64 channels gains (64->64 @56x56: 0.130 -> 0.120 ms); im2col with 24 channels gains
/// (96->24 3x3 @160x160: 9.9 -> 7.6 ms) but with 64 loses (3x3 64->64 @56x56: 1.26 -> 1.48 ms).
inline bool conv_reads_input_directly(const conv2d_geometry& g) {
  return g.oc / g.group <= (conv_is_pointwise(g) ? 64 : 32);
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
  tensor transposed_out, transposed_a;
  if (packed->transposed) transposed_out = tensor::empty(dtype::f32, {N * ocg});
  for (index_t n = 0; n < batch_size; ++n) {
    for (index_t gi = 0; gi < g.group; ++gi) {
      const float* x = in + (n * g.ic + gi * icg) * g.ih * g.iw;
      float* y = out + (n * g.oc + gi * ocg) * N;
      std::optional<detail::im2col_source> source;
      if (!pointwise) source.emplace(g, x, icg, pool);
      if (packed->transposed) {
        // X^T (or im2col^T) is packed whole, strips split over the threads: inside the GEMM each
        // thread would pack all of it again for its own output channels.
        const gemm_a a_view = pointwise ? strided_a(x, N, 1, N)
                                        : gemm_a{nullptr, [&source](index_t m0, index_t mc, index_t k0, index_t kc, float* dst) {
                                                   detail::pack_im2col_a(*source, m0, mc, k0, kc, dst);
                                                 }};
        packed_matrix a;
        a.is_a = true;
        a.rows = N;
        a.cols = K;
        a.padded = round_up(N, gemm_mr);
        if (transposed_a.numel() < a.padded * K) transposed_a = tensor::empty(dtype::f32, {a.padded * K});
        a.data = transposed_a;
        const index_t kb = k_block(K), strips = a.padded / gemm_mr;
        pool.parallel_for(strips, std::max<index_t>(1, 4096 / std::max<index_t>(K, 1)), [&](index_t s0, index_t s1) {
          for (index_t pc = 0; pc < K; pc += kb) {
            const index_t kc = std::min(kb, K - pc);
            a_view.pack(s0 * gemm_mr, (s1 - s0) * gemm_mr, pc, kc, a.data.data<float>() + pc * a.padded + s0 * gemm_mr * kc);
          }
        });
        gemm_epilogue e = ep;
        e.bias = bias ? bias + gi * ocg : nullptr;
        e.bias_per_row = false;
        float* ct = transposed_out.data<float>();
        gemm(N, ocg, K, gemm_a{&a, {}}, gemm_b{&packed->groups[static_cast<std::size_t>(gi)], {}}, ct, ocg, e, &pool);
        detail::transpose_block(ct, N, ocg, ocg, y, N);
        continue;
      }
      if (conv_reads_input_directly(g)) {
        gemm_epilogue e = ep;
        e.bias = bias ? bias + gi * ocg : nullptr;
        e.bias_per_row = true;
        const packed_matrix& a = packed->groups[static_cast<std::size_t>(gi)];
        std::vector<index_t> k_offset(static_cast<std::size_t>(K + gemm_prefetch_distance));
        if (pointwise) {
          for (index_t k = 0; k < K; ++k) k_offset[static_cast<std::size_t>(k)] = k * N;
          std::fill(k_offset.begin() + K, k_offset.end(), (K - 1) * N);
          detail::gemm_direct_b(a, ocg, K, x, 1, 0, N, k_offset.data(), y, N, e, pool);
        } else {
          const detail::im2col_source& src = *source;
          const index_t taps = g.kh * g.kw, row_len = src.layout.row_len;
          for (index_t k = 0; k < K; ++k) {
            const index_t ci = k / taps, ky = (k % taps) / g.kw, kx = k % g.kw;
            k_offset[static_cast<std::size_t>(k)] =
                (ci * src.rows_per_plane + ky * g.dh) * row_len + src.layout.tap_offset[static_cast<std::size_t>(kx)];
          }
          std::fill(k_offset.begin() + K, k_offset.end(), k_offset[static_cast<std::size_t>(K - 1)]);
          detail::gemm_direct_b(a, ocg, K, src.data.data(), g.oh, g.sh * row_len, g.ow, k_offset.data(), y, N, e, pool);
        }
        continue;
      }
      gemm_b b = pointwise ? strided_b(x, N, N, 1)
                           : gemm_b{nullptr, [&source](index_t k0, index_t kc, index_t n0, index_t nc, float* dst) {
                                      detail::pack_im2col(*source, k0, kc, n0, nc, dst);
                                    }};
      gemm_epilogue e = ep;
      e.bias = bias ? bias + gi * ocg : nullptr;
      e.bias_per_row = true;
      gemm(ocg, N, K, gemm_a{&packed->groups[static_cast<std::size_t>(gi)], {}}, b, y, N, e, &pool);
    }
  }
}

}  // namespace mixq::simd
