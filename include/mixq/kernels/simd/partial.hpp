#pragma once
// Loads and stores of the first `n` lanes of a float vector (0 <= n <= width), for the ragged ends
// of rows whose length is not a multiple of the vector width. AVX-512 uses masked moves (one
// instruction, no access past the n-th element); other ISAs go through a small stack buffer.
#include <cstdint>
#include <cstring>

#include "mixq/kernels/simd/compat.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace mixq::simd {

/// Lanes [0, n) from p, the rest zero.
inline batch<float> load_first(const float* p, std::int64_t n) {
#if defined(__AVX512F__)
  if constexpr (width<float> == 16) {
    const auto mask = static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
    return batch<float>(_mm512_maskz_loadu_ps(mask, p));
  }
#endif
  alignas(64) float tmp[width<float>] = {};
  std::memcpy(tmp, p, sizeof(float) * static_cast<std::size_t>(n));
  return batch<float>::load_aligned(tmp);
}

/// Writes lanes [0, n) of v to p; memory past p[n-1] is not touched.
inline void store_first(float* p, const batch<float>& v, std::int64_t n) {
#if defined(__AVX512F__)
  if constexpr (width<float> == 16) {
    const auto mask = static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
    _mm512_mask_storeu_ps(p, mask, v);
    return;
  }
#endif
  alignas(64) float tmp[width<float>];
  v.store_aligned(tmp);
  std::memcpy(p, tmp, sizeof(float) * static_cast<std::size_t>(n));
}

/// dst[0, n) = src[0, n) with full vectors and one masked tail: short runs (a few dozen floats,
/// the typical im2col segment) are cheaper than through memcpy's size dispatch.
inline void copy_run(float* dst, const float* src, std::int64_t n) {
  constexpr std::int64_t W = static_cast<std::int64_t>(width<float>);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) batch<float>::load_unaligned(src + i).store_unaligned(dst + i);
  if (i < n) store_first(dst + i, load_first(src + i, n - i), n - i);
}

/// dst[0, n) = 0.
inline void zero_run(float* dst, std::int64_t n) {
  constexpr std::int64_t W = static_cast<std::int64_t>(width<float>);
  const batch<float> zero(0.f);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) zero.store_unaligned(dst + i);
  if (i < n) store_first(dst + i, zero, n - i);
}

}  // namespace mixq::simd
