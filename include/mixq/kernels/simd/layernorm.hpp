#pragma once
// Vectorized normalisation rows and per-channel affine maps (LayerNorm, RMSNorm, BatchNorm, Scale).
#include <cmath>
#include <cstdint>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/reduce.hpp"

namespace mixq::simd {

/// y = (x - mean) / sqrt(var + eps) * w + b over one row; w or b may be null.
/// Two-pass variance: one-pass E[x^2]-E[x]^2 cancels badly for rows with a large mean.
inline void layernorm_row(const float* x, float* y, std::int64_t n, const float* w, const float* b, float eps) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  if (n <= 0) return;
  const float mean = sum_row(x, n) / static_cast<float>(n);
  const float var = sum_sq_dev_row(x, n, mean) / static_cast<float>(n);
  const float rstd = 1.f / std::sqrt(var + eps);
  const B vm(mean), vr(rstd);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    B v = (B::load_unaligned(x + i) - vm) * vr;
    if (w) v *= B::load_unaligned(w + i);
    if (b) v += B::load_unaligned(b + i);
    v.store_unaligned(y + i);
  }
  for (; i < n; ++i) {
    float v = (x[i] - mean) * rstd;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

/// y = x / sqrt(mean(x^2) + eps) * w over one row; w may be null.
inline void rmsnorm_row(const float* x, float* y, std::int64_t n, const float* w, float eps) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  if (n <= 0) return;
  const float rstd = 1.f / std::sqrt(sum_sq_row(x, n) / static_cast<float>(n) + eps);
  const B vr(rstd);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    B v = B::load_unaligned(x + i) * vr;
    if (w) v *= B::load_unaligned(w + i);
    v.store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] = w ? x[i] * rstd * w[i] : x[i] * rstd;
}

/// y = x * a + c, then an optional relu clipped at `relu_limit` (> 0) — one channel plane.
inline void affine_row(const float* x, float* y, std::int64_t n, float a, float c, bool relu, float relu_limit) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  const B va(a), vc(c), zero(0.f), lim(relu_limit);
  const bool clip = relu && relu_limit > 0.f;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    B v = xsimd::fma(B::load_unaligned(x + i), va, vc);
    if (relu) v = xsimd::max(v, zero);
    if (clip) v = xsimd::min(v, lim);
    v.store_unaligned(y + i);
  }
  for (; i < n; ++i) {
    float v = x[i] * a + c;
    if (relu) v = v < 0.f ? 0.f : v;
    if (clip && v > relu_limit) v = relu_limit;
    y[i] = v;
  }
}

}  // namespace mixq::simd
