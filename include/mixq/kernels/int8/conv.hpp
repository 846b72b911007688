#pragma once
// int8 2-D convolution (NCHW) on the int8 GEMM: per image and group, C[ocg x oh*ow] = W_g · X_g,
// the filter packed once as the A operand. X_g is the input itself for a 1x1, stride-1,
// unpadded kernel (B panels packed straight from the input channel planes); otherwise the im2col
// matrix, never materialised: the input is first copied into padded rows (the input zero point
// as the padding value, which is what TPU-MLIR's Conv2D pads with) split into stride phases, so
// each im2col row is a few contiguous runs that are gathered into B panels one block at a time.
// Depthwise convolutions go to depthwise.hpp.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/int8/config.hpp"
#include "mixq/kernels/int8/conv_geometry.hpp"
#include "mixq/kernels/int8/depthwise.hpp"
#include "mixq/kernels/int8/epilogue.hpp"
#include "mixq/kernels/int8/gemm.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

/// A filter [oc, ic/group, kh, kw] made ready once per model: one packed A operand per group (its
/// row sums included), or the raw bytes for a depthwise convolution.
struct packed_conv_filter {
  conv2d_geometry geometry;
  elem type = elem::s8;
  std::vector<packed_matrix> groups;
  std::vector<std::uint8_t> depthwise;
};

inline packed_conv_filter pack_conv_filter(const conv2d_geometry& g, const void* filter, elem type) {
  validate(g);
  packed_conv_filter pf;
  pf.geometry = g;
  pf.type = type;
  const auto* w = static_cast<const std::uint8_t*>(filter);
  if (g.depthwise()) {
    pf.depthwise.assign(w, w + g.oc * g.taps());
    return pf;
  }
  const index_t ocg = g.ocg(), K = g.k();
  for (index_t gi = 0; gi < g.group; ++gi) pf.groups.push_back(pack_a_once(w + gi * ocg * K, type, ocg, K, K, 1));
  return pf;
}

namespace detail {

/// dst[0, n) = src[0, n) for the short runs of im2col (an output row: often a few dozen bytes),
/// without a call into memcpy per run.
inline void copy_bytes(std::uint8_t* dst, const std::uint8_t* src, index_t n) {
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
  index_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
  if (i < n) {
    const __mmask64 m = (~std::uint64_t{0}) >> (64 - (n - i));
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_maskz_loadu_epi8(m, src + i));
  }
#else
  std::memcpy(dst, src, static_cast<std::size_t>(n));
#endif
}

/// The even and odd bytes of src[0, n) into even[0, (n + 1) / 2) and odd[0, n / 2).
inline void deinterleave(const std::uint8_t* src, index_t n, std::uint8_t* even, std::uint8_t* odd) {
  index_t vector_end = 0;
#if MIXQ_INT8_ISA >= MIXQ_INT8_ISA_SSE2
  vector_end = n / 32 * 32;
  const __m128i low = _mm_set1_epi16(0x00FF);
  for (index_t i = 0; i < vector_end; i += 32) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(even + i / 2), _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(odd + i / 2), _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
  }
#endif
  for (index_t i = vector_end; i < n; ++i) {
    if (i % 2) odd[i / 2] = src[i];
    else even[i / 2] = src[i];
  }
}

/// One image group's input made ready for im2col: every padded row the taps reach (rows wholly
/// in the padding included), each split into sw phases (phase p holds padded columns p, p + sw,
/// p + 2 sw...), so tap (ky, kx) of output (oy, ox) is byte tap_offset[kx] + ox of padded row
/// oy * sh + ky * dh. About the size of the input.
struct im2col_source {
  const conv2d_geometry* g = nullptr;
  index_t rows_per_plane = 0, phase_len = 0, row_len = 0;
  std::vector<index_t> tap_offset;
  std::vector<std::uint8_t> data;

  im2col_source(const conv2d_geometry& geom, const std::uint8_t* in, std::uint8_t zp, thread_pool& pool)
      : g(&geom), rows_per_plane((geom.oh - 1) * geom.sh + (geom.kh - 1) * geom.dh + 1) {
    phase_len = geom.ow + ((geom.kw - 1) * geom.dw) / geom.sw;
    row_len = geom.sw * phase_len;
    for (index_t kx = 0; kx < geom.kw; ++kx) {
      const index_t off = kx * geom.dw;
      tap_offset.push_back((off % geom.sw) * phase_len + off / geom.sw);
    }
    const index_t channels = geom.icg();
    data.assign(static_cast<std::size_t>(channels * rows_per_plane * row_len), zp);
    pool.parallel_for(channels, std::max<index_t>(1, 65536 / std::max<index_t>(rows_per_plane * row_len, 1)), [&](index_t b, index_t e) {
      std::vector<std::uint8_t> even(static_cast<std::size_t>(geom.sw == 2 ? (g->iw + 1) / 2 + 16 : 0)), odd(even.size());
      for (index_t c = b; c < e; ++c)
        for (index_t py = 0; py < rows_per_plane; ++py) {
          const index_t iy = py - g->pad_top;
          if (iy < 0 || iy >= g->ih) continue;
          const std::uint8_t* src = in + (c * g->ih + iy) * g->iw;
          std::uint8_t* dst = data.data() + (c * rows_per_plane + py) * row_len;
          if (g->sw == 1) {  // one phase: the padded row itself
            const index_t n = std::min(g->iw, phase_len - g->pad_left);
            if (n > 0) std::memcpy(dst + g->pad_left, src, static_cast<std::size_t>(n));
            continue;
          }
          if (g->sw == 2) {  // even and odd input columns, each a contiguous run of one phase
            deinterleave(src, g->iw, even.data(), odd.data());
            for (int parity = 0; parity < 2; ++parity) {
              const index_t px = parity + g->pad_left, p = px % 2, j0 = px / 2;
              const index_t n = std::min((g->iw + 1 - parity) / 2, phase_len - j0);
              if (n > 0) std::memcpy(dst + p * phase_len + j0, parity ? odd.data() : even.data(), static_cast<std::size_t>(n));
            }
            continue;
          }
          // phase p holds padded columns p, p + sw, p + 2 sw...: input column j * sw + p - pad_left
          for (index_t p = 0; p < g->sw; ++p) {
            std::uint8_t* phase = dst + p * phase_len;
            const index_t first = p - g->pad_left;  // input column of j = 0
            index_t j = first >= 0 ? 0 : (-first + g->sw - 1) / g->sw;
            for (index_t ix = first + j * g->sw; j < phase_len && ix < g->iw; ++j, ix += g->sw) phase[j] = src[ix];
          }
        }
    });
  }

  /// Start of im2col row k for output row oy (ow contiguous bytes).
  const std::uint8_t* row(index_t k, index_t oy) const {
    const index_t taps = g->kh * g->kw, ci = k / taps, ky = (k % taps) / g->kw, kx = k % g->kw;
    return data.data() + (ci * rows_per_plane + oy * g->sh + ky * g->dh) * row_len + tap_offset[static_cast<std::size_t>(kx)];
  }
};

/// B panels of the im2col matrix (row k = (ci * kh + ky) * kw + kx, column n = oy * ow + ox): per
/// k group, each row's columns [n0, n0 + nc) are read in place when they lie in one output row,
/// else gathered run by run, then interleaved into the panels.
inline void pack_im2col(const im2col_source& src, elem type, index_t n0, index_t nc, index_t k0, index_t kc, bool flip,
                        packed_t* dst) {
  const conv2d_geometry& g = *src.g;
  const index_t N = g.oh * g.ow, kcp = round_up(kc, k_group);
  const index_t avail = std::max<index_t>(0, std::min(nc, N - n0));
  const index_t strips = (nc + gemm_nr - 1) / gemm_nr;
  const index_t oy0 = n0 / g.ow, ox0 = n0 % g.ow;
  const bool one_row = ox0 + avail <= g.ow;
  std::vector<std::uint8_t> gathered(one_row ? 0 : static_cast<std::size_t>(k_group * avail));
  const std::uint8_t* rows[k_group];
  for (index_t kg = 0; kg < kcp / k_group; ++kg) {
    for (index_t t = 0; t < k_group; ++t) {
      const index_t k = kg * k_group + t;
      if (k >= kc) {
        rows[t] = nullptr;
        continue;
      }
      if (one_row) {
        rows[t] = src.row(k0 + k, oy0) + ox0;
        continue;
      }
      std::uint8_t* d = gathered.data() + t * avail;
      const std::uint8_t* base = src.row(k0 + k, 0);
      const index_t row_step = g.sh * src.row_len;
      index_t filled = 0, oy = oy0, ox = ox0;
      while (filled < avail) {
        const index_t run = std::min(g.ow - ox, avail - filled);
        copy_bytes(d + filled, base + oy * row_step + ox, run);
        filled += run;
        ox = 0;
        ++oy;
      }
      rows[t] = d;
    }
    pack_b_group(rows, avail, strips, type, flip, dst + kg * gemm_nr * k_group, gemm_nr * kcp);
  }
}

}  // namespace detail

/// Grouped/dense convolution of a batch: input [batch, ic, ih, iw] bytes of `in_type` with zero
/// point `in_zero_point` (the padding value), results per `out` ([batch, oc, oh, ow]); bias (per
/// output channel, may be null) is added to the int32 sums. A depthwise filter runs
/// depthwise_conv2d().
inline void conv2d(const conv2d_geometry& g, index_t batch, const void* input, elem in_type, std::int32_t in_zero_point,
                   const packed_conv_filter& filter, const std::int32_t* bias, const conv_output& out, thread_pool& pool) {
  validate(g);
  validate(out, g);
  const conv2d_geometry& f = filter.geometry;
  if (f.oc != g.oc || f.ic != g.ic || f.kh != g.kh || f.kw != g.kw || f.group != g.group)
    throw error("int8 conv: the packed filter was made for another convolution");
  if (g.depthwise()) {
    depthwise_conv2d(g, batch, input, in_type, in_zero_point, filter.depthwise.data(), filter.type, bias, out, pool);
    return;
  }
  const std::uint8_t zp = zero_point_byte(in_zero_point, in_type);
  const index_t icg = g.icg(), ocg = g.ocg(), K = g.k(), N = g.out_pixels();
  const auto* x = static_cast<const std::uint8_t*>(input);
  std::optional<requantizer> rq;
  if (out.requant) rq.emplace(*out.requant);
  for (index_t n = 0; n < batch; ++n)
    for (index_t gi = 0; gi < g.group; ++gi) {
      const std::uint8_t* xg = x + (n * g.ic + gi * icg) * g.ih * g.iw;
      const index_t first_row = n * g.oc + gi * ocg;  // output row of the group's first channel
      std::optional<detail::im2col_source> source;
      gemm_operand b;
      if (g.pointwise()) {
        b = strided_b(xg, in_type, K, N, N, 1);
      } else {
        source.emplace(g, xg, zp, pool);
        b.type = in_type;
        b.pack = [&source, in_type](index_t n0, index_t nc, index_t k0, index_t kc, bool flip, packed_t* dst) {
          detail::pack_im2col(*source, in_type, n0, nc, k0, kc, flip, dst);
        };
      }
      gemm_operand a;
      a.packed = &filter.groups[static_cast<std::size_t>(gi)];
      a.type = filter.type;
      gemm_output o;
      o.row_add = bias ? bias + gi * ocg : nullptr;
      if (out.acc) {
        o.c = out.acc + first_row * N;
        o.ldc = N;
      }
      if (rq) {
        auto* q = static_cast<std::uint8_t*>(out.q) + first_row * N;
        const index_t channel0 = gi * ocg;
        o.finish = [&rq, q, N, channel0](const std::int32_t* tile, index_t ld, index_t r0, index_t rows, index_t c0, index_t cols) {
          rq->run(tile, ld, rows, cols, channel0 + r0, c0, q + r0 * N + c0, N);
        };
      }
      gemm(ocg, N, K, a, b, o, &pool);
    }
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
