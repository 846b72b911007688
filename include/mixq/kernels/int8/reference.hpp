#pragma once
// Plain scalar definitions of the int8 kernels: what gemm(), conv2d(), depthwise and the requant
// epilogue compute, written as the obvious loops (int64 sums, wrapped to int32 at the end, which
// equals int32 accumulation modulo 2^32). The tests hold every fast path to these, bit for bit.
#include <cstdint>

#include "mixq/kernels/int8/config.hpp"
#include "mixq/kernels/int8/conv_geometry.hpp"
#include "mixq/kernels/int8/epilogue.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {
namespace reference {

inline std::int32_t wrap32(std::int64_t v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v))); }

/// C[i * ldc + j] = sum_k A(i, k) B(k, j) + row_add[i] + col_add[j]; A(i, k) at a[i * a_rs + k * a_cs].
inline void gemm(index_t M, index_t N, index_t K, const void* a, elem a_type, index_t a_rs, index_t a_cs, const void* b, elem b_type,
                 index_t b_rs, index_t b_cs, const std::int32_t* row_add, const std::int32_t* col_add, std::int32_t* c, index_t ldc) {
  const auto* pa = static_cast<const std::uint8_t*>(a);
  const auto* pb = static_cast<const std::uint8_t*>(b);
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      std::int64_t s = (row_add ? row_add[i] : 0) + static_cast<std::int64_t>(col_add ? col_add[j] : 0);
      for (index_t k = 0; k < K; ++k) s += value_of(pa[i * a_rs + k * a_cs], a_type) * value_of(pb[k * b_rs + j * b_cs], b_type);
      c[i * ldc + j] = wrap32(s);
    }
}

/// Convolution of NCHW bytes: acc[n, oc, oh, ow] = bias[oc] + sum over the group's input channels
/// and taps of x * w, x = the input zero point outside the input (padding).
inline void conv2d(const conv2d_geometry& g, index_t batch, const void* input, elem in_type, std::int32_t in_zero_point,
                   const void* filter, elem filter_type, const std::int32_t* bias, std::int32_t* acc) {
  const auto* x = static_cast<const std::uint8_t*>(input);
  const auto* w = static_cast<const std::uint8_t*>(filter);
  const index_t icg = g.ic / g.group, ocg = g.oc / g.group;
  for (index_t n = 0; n < batch; ++n)
    for (index_t o = 0; o < g.oc; ++o) {
      const index_t grp = o / ocg;
      for (index_t oy = 0; oy < g.oh; ++oy)
        for (index_t ox = 0; ox < g.ow; ++ox) {
          std::int64_t s = bias ? bias[o] : 0;
          for (index_t ci = 0; ci < icg; ++ci)
            for (index_t ky = 0; ky < g.kh; ++ky)
              for (index_t kx = 0; kx < g.kw; ++kx) {
                const index_t iy = oy * g.sh - g.pad_top + ky * g.dh, ix = ox * g.sw - g.pad_left + kx * g.dw;
                const index_t c = grp * icg + ci;
                const std::int64_t xv = iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw
                                            ? value_of(x[((n * g.ic + c) * g.ih + iy) * g.iw + ix], in_type)
                                            : in_zero_point;
                s += xv * value_of(w[((o * icg + ci) * g.kh + ky) * g.kw + kx], filter_type);
              }
          acc[((n * g.oc + o) * g.oh + oy) * g.ow + ox] = wrap32(s);
        }
    }
}

/// Requantizes rows x cols of acc element by element (requant_value).
inline void requantize(const std::int32_t* acc, index_t ld_acc, index_t rows, index_t cols, index_t row0, index_t col0,
                       const requant_spec& s, void* out, index_t ld_out) {
  auto* o = static_cast<std::uint8_t*>(out);
  for (index_t r = 0; r < rows; ++r)
    for (index_t c = 0; c < cols; ++c)
      o[r * ld_out + c] = static_cast<std::uint8_t>(requant_value(acc[r * ld_acc + c], s.channel_is_row ? row0 + r : col0 + c, s));
}

}  // namespace reference
}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
