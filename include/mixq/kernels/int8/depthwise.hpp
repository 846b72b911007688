#pragma once
// Depthwise int8 convolution (one filter per channel, group = ic = oc), int32 accumulators.
//
// Each input plane is copied once into padded rows (the input zero point as the padding value; a
// row wholly outside the input is one shared row of zero points), so every tap reads in bounds.
// With AVX-512 VNNI + VBMI, one vpermb gathers, for 16 output pixels, the 4 taps (kx, kx+1, kx+2,
// kx+3) of one kernel row into the 4 bytes of each int32 lane, whatever the stride and dilation
// (as long as the 16 windows fit in 64 bytes), and one vpdpbusd multiplies them by the 4 weights:
// a 3x3 kernel is 3 vpdpbusd per 16 outputs. Signedness as in gemm.hpp: an s8 input with an s8
// filter is stored with its top bit flipped (x + 128) and 128 * sum(w) comes off the bias; a u8
// filter takes the unsigned slot against an s8 input. Other cases (u8 x u8, or no VBMI) and the
// other ISAs run a plain loop over output rows that the compiler vectorizes.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/int8/config.hpp"
#include "mixq/kernels/int8/conv_geometry.hpp"
#include "mixq/kernels/int8/epilogue.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

namespace detail {

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
inline constexpr bool depthwise_has_permute = true;
#else
inline constexpr bool depthwise_has_permute = false;
#endif

/// Whether the vpermb kernel runs this depthwise convolution.
inline bool depthwise_uses_permute(const conv2d_geometry& g, elem in_type, elem filter_type) {
  return depthwise_has_permute && !(in_type == elem::u8 && filter_type == elem::u8) && 15 * g.sw + 3 * g.dw <= 63;
}

/// dst[0, n) = src[0, n) with the top bit of every byte flipped (s8 stored as u8 = x + 128).
inline void copy_flipped(std::uint8_t* __restrict dst, const std::uint8_t* __restrict src, index_t n) {
  index_t i = 0;
#if MIXQ_INT8_ISA >= MIXQ_INT8_ISA_SSE2
  const __m128i bits = _mm_set1_epi8(static_cast<char>(0x80));
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)), bits));
#endif
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ 0x80u);
}

/// One output row from the padded rows of its taps (rows[ky] = the row tap ky reads), the plain way.
template <bool UnsignedIn, bool UnsignedFilter>
void depthwise_row_plain(const conv2d_geometry& g, const std::uint8_t* const* rows, const std::uint8_t* w, std::int32_t base,
                         std::int32_t* acc) {
  using in_t = std::conditional_t<UnsignedIn, std::uint8_t, std::int8_t>;
  using w_t = std::conditional_t<UnsignedFilter, std::uint8_t, std::int8_t>;
  for (index_t x = 0; x < g.ow; ++x) acc[x] = base;
  for (index_t ky = 0; ky < g.kh; ++ky)
    for (index_t kx = 0; kx < g.kw; ++kx) {
      const std::int32_t wv = static_cast<w_t>(w[ky * g.kw + kx]);
      const auto* src = reinterpret_cast<const in_t*>(rows[ky] + kx * g.dw);
      if (g.sw == 1) {
        for (index_t x = 0; x < g.ow; ++x) acc[x] += static_cast<std::int32_t>(src[x]) * wv;
      } else {
        for (index_t x = 0; x < g.ow; ++x) acc[x] += static_cast<std::int32_t>(src[x * g.sw]) * wv;
      }
    }
}

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
/// One output row with vpermb + vpdpbusd. wq[ky * groups + t] holds the 4 weight bytes of taps
/// 4t..4t+3 of row ky (zero past kw); the input is in the unsigned slot unless
/// `filter_unsigned`.
inline void depthwise_row_permute(const conv2d_geometry& g, const std::uint8_t* const* rows, const std::int32_t* wq, index_t groups,
                                  __m512i idx, bool filter_unsigned, std::int32_t base, std::int32_t* acc) {
  const __m512i base_v = _mm512_set1_epi32(base);
  for (index_t x0 = 0; x0 < g.ow; x0 += 16) {
    __m512i a = base_v;
    for (index_t ky = 0; ky < g.kh; ++ky) {
      const std::uint8_t* r = rows[ky] + x0 * g.sw;
      for (index_t t = 0; t < groups; ++t) {
        const __m512i q = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r + 4 * t * g.dw));
        const __m512i wv = _mm512_set1_epi32(wq[ky * groups + t]);
        a = filter_unsigned ? _mm512_dpbusd_epi32(a, wv, q) : _mm512_dpbusd_epi32(a, q, wv);
      }
    }
    const index_t n = std::min<index_t>(16, g.ow - x0);
    _mm512_mask_storeu_epi32(acc + x0, static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u), a);
  }
}

/// R output rows at once for a KH-row kernel of G tap groups, row stride SH, no row dilation:
/// each padded row is loaded and permuted once per 16 columns and feeds every output row that
/// reads it ((R - 1) SH + KH rows for R KH products), with R independent accumulators. Returns
/// the first output row it did not compute. rows[py] = padded row py.
template <int KH, int G, int SH, int R, bool FilterUnsigned>
index_t depthwise_blocks_permute(const conv2d_geometry& g, const std::uint8_t* const* rows, const std::int32_t* wq, __m512i idx,
                                 std::int32_t base, std::int32_t* plane) {
  constexpr int P = (R - 1) * SH + KH;
  __m512i w[KH][G];
#pragma GCC unroll 8
  for (int ky = 0; ky < KH; ++ky)
#pragma GCC unroll 4
    for (int t = 0; t < G; ++t) w[ky][t] = _mm512_set1_epi32(wq[ky * G + t]);
  const __m512i base_v = _mm512_set1_epi32(base);
  index_t oy = 0;
  for (; oy + R <= g.oh; oy += R) {
    const std::uint8_t* const* r = rows + oy * SH;
    for (index_t x0 = 0; x0 < g.ow; x0 += 16) {
      __m512i acc[R];
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) acc[i] = base_v;
      const index_t col = x0 * g.sw;
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
        for (int t = 0; t < G; ++t) {
          const __m512i q = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r[p] + col + 4 * t * g.dw));
#pragma GCC unroll 8
          for (int i = 0; i < R; ++i) {
            const int ky = p - i * SH;
            if (ky >= 0 && ky < KH) {
              if constexpr (FilterUnsigned) acc[i] = _mm512_dpbusd_epi32(acc[i], w[ky][t], q);
              else acc[i] = _mm512_dpbusd_epi32(acc[i], q, w[ky][t]);
            }
          }
        }
      const index_t n = std::min<index_t>(16, g.ow - x0);
      const auto mask = static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
      if (n == 16) {
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) _mm512_storeu_si512(plane + (oy + i) * g.ow + x0, acc[i]);
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) _mm512_mask_storeu_epi32(plane + (oy + i) * g.ow + x0, mask, acc[i]);
      }
    }
  }
  return oy;
}

/// The row-blocked kernel where one is instantiated (3x3 and 5x5, strides 1 and 2); returns the
/// first output row left for depthwise_row_permute.
template <bool FilterUnsigned>
index_t depthwise_plane_blocks(const conv2d_geometry& g, const std::uint8_t* const* rows, const std::int32_t* wq, __m512i idx,
                               std::int32_t base, std::int32_t* plane) {
  if (g.dh != 1) return 0;
  if (g.kh == 3 && g.kw <= 4) {
    if (g.sh == 1) return depthwise_blocks_permute<3, 1, 1, 4, FilterUnsigned>(g, rows, wq, idx, base, plane);
    if (g.sh == 2) return depthwise_blocks_permute<3, 1, 2, 4, FilterUnsigned>(g, rows, wq, idx, base, plane);
  }
  if (g.kh == 5 && g.kw > 4 && g.kw <= 8) {
    if (g.sh == 1) return depthwise_blocks_permute<5, 2, 1, 4, FilterUnsigned>(g, rows, wq, idx, base, plane);
    if (g.sh == 2) return depthwise_blocks_permute<5, 2, 2, 2, FilterUnsigned>(g, rows, wq, idx, base, plane);
  }
  return 0;
}
#endif

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
/// Whether the AVX2 pair kernel runs this convolution (no row dilation needed; unit column dilation).
inline bool depthwise_uses_pairs(const conv2d_geometry& g) { return g.dw == 1 && (g.sw == 1 || g.sw == 2); }

/// dst[0, n) = src[0, n) widened to int16 (sign- or zero-extended).
inline void widen_row(const std::uint8_t* src, index_t n, bool is_signed, std::int16_t* dst) {
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b));
  }
  for (; i < n; ++i) dst[i] = static_cast<std::int16_t>(value_of(src[i], is_signed ? elem::s8 : elem::u8));
}

/// One output row with vpmaddwd on tap pairs: taps (2t, 2t + 1) of output x read the int16 pair
/// at row + x * sw + 2t, a plain 32-bit lane when sw = 2; with sw = 1 even and odd outputs are
/// computed apart (their pairs are lane-aligned) and interleaved. Exact for every s8/u8 mix:
/// each pair sum is at most 2 * 255 * 255. wp[ky * pairs + t] = the weights (w[2t], w[2t + 1]).
inline void depthwise_row_pairs(const conv2d_geometry& g, const std::int16_t* const* rows, const std::int32_t* wp, index_t pairs,
                                std::int32_t base, std::int32_t* acc) {
  const __m256i base_v = _mm256_set1_epi32(base);
  const auto load = [](const std::int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
  const auto store = [](std::int32_t* p, __m256i v, index_t n) {
    if (n >= 8) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    } else if (n > 0) {
      const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      _mm256_maskstore_epi32(reinterpret_cast<int*>(p), m, v);
    }
  };
  if (g.sw == 2) {
    for (index_t x0 = 0; x0 < g.ow; x0 += 8) {
      __m256i a = base_v;
      for (index_t ky = 0; ky < g.kh; ++ky) {
        const std::int16_t* r = rows[ky] + 2 * x0;
        for (index_t t = 0; t < pairs; ++t) a = _mm256_add_epi32(a, _mm256_madd_epi16(load(r + 2 * t), _mm256_set1_epi32(wp[ky * pairs + t])));
      }
      store(acc + x0, a, g.ow - x0);
    }
    return;
  }
  for (index_t x0 = 0; x0 < g.ow; x0 += 16) {
    __m256i even = base_v, odd = base_v;
    for (index_t ky = 0; ky < g.kh; ++ky) {
      const std::int16_t* r = rows[ky] + x0;
      for (index_t t = 0; t < pairs; ++t) {
        const __m256i w = _mm256_set1_epi32(wp[ky * pairs + t]);
        even = _mm256_add_epi32(even, _mm256_madd_epi16(load(r + 2 * t), w));
        odd = _mm256_add_epi32(odd, _mm256_madd_epi16(load(r + 1 + 2 * t), w));
      }
    }
    const __m256i lo = _mm256_unpacklo_epi32(even, odd), hi = _mm256_unpackhi_epi32(even, odd);
    store(acc + x0, _mm256_permute2x128_si256(lo, hi, 0x20), g.ow - x0);
    store(acc + x0 + 8, _mm256_permute2x128_si256(lo, hi, 0x31), g.ow - x0 - 8);
  }
}
#endif

}  // namespace detail

/// Depthwise convolution of a batch: input [batch, c, ih, iw], filter [c, 1, kh, kw], results per
/// `out` ([batch, c, oh, ow]); bias (per channel, may be null) is added to the int32 sums.
/// Split over the pool by (image, channel).
inline void depthwise_conv2d(const conv2d_geometry& g, index_t batch, const void* input, elem in_type, std::int32_t in_zero_point,
                             const void* filter, elem filter_type, const std::int32_t* bias, const conv_output& out, thread_pool& pool) {
  validate(g);
  validate(out, g);
  if (g.group != g.ic || g.group != g.oc) throw error("int8 depthwise: group must equal the input and output channels");
  const index_t C = g.ic, planes = batch * C, in_plane = g.ih * g.iw, out_plane = g.oh * g.ow, taps = g.kh * g.kw;
  if (planes <= 0) return;
  const auto* x = static_cast<const std::uint8_t*>(input);
  const auto* w = static_cast<const std::uint8_t*>(filter);
  const bool permute = detail::depthwise_uses_permute(g, in_type, filter_type);
  const bool flip = permute && in_type == elem::s8 && filter_type == elem::s8;
  const std::uint8_t flip_bits = flip ? 0x80 : 0;
  const std::uint8_t zp = static_cast<std::uint8_t>(zero_point_byte(in_zero_point, in_type) ^ flip_bits);
  const index_t groups = (g.kw + 3) / 4;
  // every byte a tap window may touch, vector over-read included
  const index_t row_len = round_up(g.ow, 16) * g.sw + 4 * groups * g.dw + 64;
  const index_t padded_rows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
  const index_t grain = std::max<index_t>(1, 16384 / std::max<index_t>(out_plane * taps, 1));
  std::optional<requantizer> rq;
  if (out.requant) rq.emplace(*out.requant);
  pool.parallel_for(planes, grain, [&](index_t b, index_t e) {
    std::vector<std::uint8_t> buffer(static_cast<std::size_t>((g.ih + 1) * row_len), zp);
    std::uint8_t* zero_row = buffer.data();
    std::uint8_t* plane_rows = zero_row + row_len;
    std::vector<const std::uint8_t*> rows(static_cast<std::size_t>(padded_rows));
    for (index_t py = 0; py < padded_rows; ++py) {
      const index_t iy = py - g.pad_top;
      rows[static_cast<std::size_t>(py)] = iy >= 0 && iy < g.ih ? plane_rows + iy * row_len : zero_row;
    }
    std::vector<std::int32_t> plane_acc(out.acc ? 0 : static_cast<std::size_t>(out_plane));
    std::vector<const std::uint8_t*> taps_rows(static_cast<std::size_t>(g.kh));
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
    // the pair kernel reads rows widened to int16, the zero-point row included
    const bool pairs = detail::depthwise_uses_pairs(g);
    const index_t npairs = (g.kw + 1) / 2;
    std::vector<std::int16_t> wide(pairs ? static_cast<std::size_t>((g.ih + 1) * row_len) : 0);
    std::vector<const std::int16_t*> rows16(static_cast<std::size_t>(padded_rows)), taps16(static_cast<std::size_t>(g.kh));
    std::vector<std::int32_t> wp(static_cast<std::size_t>(g.kh * npairs));
    if (pairs) {
      detail::widen_row(zero_row, row_len, in_type == elem::s8, wide.data());
      for (index_t py = 0; py < padded_rows; ++py) {
        const index_t iy = py - g.pad_top;
        rows16[static_cast<std::size_t>(py)] = wide.data() + (iy >= 0 && iy < g.ih ? (iy + 1) * row_len : 0);
      }
    }
#endif
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
    std::vector<std::int32_t> wq(static_cast<std::size_t>(g.kh * groups));  // 4 weights per word
    alignas(64) std::uint8_t idx_bytes[64];
    for (int j = 0; j < 16; ++j)
      for (int t = 0; t < 4; ++t) idx_bytes[4 * j + t] = static_cast<std::uint8_t>(j * g.sw + t * g.dw);
    const __m512i idx = _mm512_load_si512(idx_bytes);
#endif
    for (index_t p = b; p < e; ++p) {
      const index_t c = p % C;
      const std::uint8_t* src = x + p * in_plane;
      const index_t n = std::min(g.iw, row_len - g.pad_left);
      for (index_t iy = 0; iy < g.ih; ++iy) {
        std::uint8_t* d = plane_rows + iy * row_len + g.pad_left;
        const std::uint8_t* srow = src + iy * g.iw;
        if (flip)
          detail::copy_flipped(d, srow, n);
        else
          std::memcpy(d, srow, static_cast<std::size_t>(n));
      }
      const std::uint8_t* wc = w + c * taps;
      std::int32_t base = bias ? bias[c] : 0;
      if (flip) {
        std::int32_t wsum = 0;
        for (index_t t = 0; t < taps; ++t) wsum += static_cast<std::int8_t>(wc[t]);
        base = detail::wrap_add(base, -128 * wsum);
      }
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
      if (permute)
        for (index_t ky = 0; ky < g.kh; ++ky)
          for (index_t t = 0; t < groups; ++t) {
            std::uint8_t four[4] = {0, 0, 0, 0};
            for (index_t i = 0; i < 4 && 4 * t + i < g.kw; ++i) four[i] = wc[ky * g.kw + 4 * t + i];
            std::memcpy(&wq[static_cast<std::size_t>(ky * groups + t)], four, 4);
          }
#endif
      std::int32_t* plane = out.acc ? out.acc + p * out_plane : plane_acc.data();
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
      if (pairs) {
        for (index_t iy = 0; iy < g.ih; ++iy)
          detail::widen_row(plane_rows + iy * row_len, row_len, in_type == elem::s8, wide.data() + (iy + 1) * row_len);
        for (index_t ky = 0; ky < g.kh; ++ky)
          for (index_t t = 0; t < npairs; ++t) {
            const std::int16_t w0 = static_cast<std::int16_t>(value_of(wc[ky * g.kw + 2 * t], filter_type));
            const std::int16_t w1 = 2 * t + 1 < g.kw ? static_cast<std::int16_t>(value_of(wc[ky * g.kw + 2 * t + 1], filter_type)) : 0;
            const std::int16_t two[2] = {w0, w1};
            std::memcpy(&wp[static_cast<std::size_t>(ky * npairs + t)], two, 4);
          }
        for (index_t oy = 0; oy < g.oh; ++oy) {
          for (index_t ky = 0; ky < g.kh; ++ky) taps16[static_cast<std::size_t>(ky)] = rows16[static_cast<std::size_t>(oy * g.sh + ky * g.dh)];
          detail::depthwise_row_pairs(g, taps16.data(), wp.data(), npairs, base, plane + oy * g.ow);
        }
        if (rq) rq->run(plane, out_plane, 1, out_plane, c, 0, static_cast<std::uint8_t*>(out.q) + p * out_plane, out_plane);
        continue;
      }
#endif
      index_t first_row = 0;
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
      if (permute)
        first_row = filter_type == elem::u8 ? detail::depthwise_plane_blocks<true>(g, rows.data(), wq.data(), idx, base, plane)
                                            : detail::depthwise_plane_blocks<false>(g, rows.data(), wq.data(), idx, base, plane);
#endif
      for (index_t oy = first_row; oy < g.oh; ++oy) {
        for (index_t ky = 0; ky < g.kh; ++ky) taps_rows[static_cast<std::size_t>(ky)] = rows[static_cast<std::size_t>(oy * g.sh + ky * g.dh)];
        std::int32_t* acc = plane + oy * g.ow;
        if (permute) {
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI && defined(__AVX512VBMI__)
          detail::depthwise_row_permute(g, taps_rows.data(), wq.data(), groups, idx, filter_type == elem::u8, base, acc);
#endif
        } else if (in_type == elem::u8) {
          if (filter_type == elem::u8) detail::depthwise_row_plain<true, true>(g, taps_rows.data(), wc, base, acc);
          else detail::depthwise_row_plain<true, false>(g, taps_rows.data(), wc, base, acc);
        } else {
          if (filter_type == elem::u8) detail::depthwise_row_plain<false, true>(g, taps_rows.data(), wc, base, acc);
          else detail::depthwise_row_plain<false, false>(g, taps_rows.data(), wc, base, acc);
        }
      }
      // the whole plane is one channel: one requant pass over oh * ow values
      if (rq) rq->run(plane, out_plane, 1, out_plane, c, 0, static_cast<std::uint8_t*>(out.q) + p * out_plane, out_plane);
    }
  });
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
