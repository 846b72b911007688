#pragma once
// Vectorized softmax / log-softmax. The maximum is subtracted first so exp never overflows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/reduce.hpp"

namespace mixq::simd {

/// y = softmax(beta * x) over a contiguous row (or its log when `log_output`).
/// `beta` > 0 is assumed by the max shift; a negative beta shifts by the minimum instead.
inline void softmax_row(const float* x, float* y, std::int64_t n, float beta, bool log_output) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  if (n <= 0) return;
  const float shift = beta >= 0.f ? max_row(x, n) : min_row(x, n);
  const B vb(beta), vs(shift);
  B acc(0.f);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const B e = xsimd::exp((B::load_unaligned(x + i) - vs) * vb);
    if (!log_output) e.store_unaligned(y + i);
    acc += e;
  }
  float sum = reduce_add(acc);
  for (; i < n; ++i) {
    const float e = std::exp((x[i] - shift) * beta);
    if (!log_output) y[i] = e;
    sum += e;
  }
  if (log_output) {
    const B vl(std::log(sum));
    for (i = 0; i + W <= n; i += W) (((B::load_unaligned(x + i) - vs) * vb) - vl).store_unaligned(y + i);
    const float l = std::log(sum);
    for (; i < n; ++i) y[i] = (x[i] - shift) * beta - l;
    return;
  }
  const float inv = 1.f / sum;
  const B vi(inv);
  for (i = 0; i + W <= n; i += W) (B::load_unaligned(y + i) * vi).store_unaligned(y + i);
  for (; i < n; ++i) y[i] *= inv;
}

/// Softmax over the middle axis of x[len][inner] (one outer slice), vectorized along `inner`.
inline void softmax_middle(const float* x, float* y, std::int64_t len, std::int64_t inner, float beta,
                           bool log_output) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  std::vector<float> shift(static_cast<std::size_t>(inner)), sum(static_cast<std::size_t>(inner), 0.f);
  reduce_middle(x, shift.data(), len, inner, beta >= 0.f ? reduce_kind::max : reduce_kind::min);
  const B vb(beta);
  for (std::int64_t r = 0; r < len; ++r) {
    const float* xr = x + r * inner;
    float* yr = y + r * inner;
    std::int64_t j = 0;
    for (; j + W <= inner; j += W) {
      const B e = xsimd::exp((B::load_unaligned(xr + j) - B::load_unaligned(shift.data() + j)) * vb);
      e.store_unaligned(yr + j);
      (B::load_unaligned(sum.data() + j) + e).store_unaligned(sum.data() + j);
    }
    for (; j < inner; ++j) {
      yr[j] = std::exp((xr[j] - shift[static_cast<std::size_t>(j)]) * beta);
      sum[static_cast<std::size_t>(j)] += yr[j];
    }
  }
  for (auto& s : sum) s = log_output ? std::log(s) : 1.f / s;
  for (std::int64_t r = 0; r < len; ++r) {
    const float* xr = x + r * inner;
    float* yr = y + r * inner;
    for (std::int64_t j = 0; j < inner; ++j) {
      const auto u = static_cast<std::size_t>(j);
      yr[j] = log_output ? (xr[j] - shift[u]) * beta - sum[u] : yr[j] * sum[u];
    }
  }
}

}  // namespace mixq::simd
