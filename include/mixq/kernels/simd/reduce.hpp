#pragma once
// Vectorized reductions over contiguous float rows, and over the middle axis of an
// [outer, reduce, inner] block (column-wise accumulation keeps loads contiguous).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "mixq/kernels/simd/compat.hpp"

namespace mixq::simd {

/// Sum of x[0..n). Two accumulators hide the add latency; float lanes are plenty for rows
/// of a few thousand elements (LayerNorm, Softmax, Reduce over the last axis).
inline float sum_row(const float* x, std::int64_t n) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  B a0(0.f), a1(0.f);
  std::int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    a0 += B::load_unaligned(x + i);
    a1 += B::load_unaligned(x + i + W);
  }
  for (; i + W <= n; i += W) a0 += B::load_unaligned(x + i);
  float s = reduce_add(a0 + a1);
  for (; i < n; ++i) s += x[i];
  return s;
}

/// Sum of (x[i] - center)^2: the second pass of a two-pass variance.
inline float sum_sq_dev_row(const float* x, std::int64_t n, float center) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  const B c(center);
  B acc(0.f);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const B d = B::load_unaligned(x + i) - c;
    acc = xsimd::fma(d, d, acc);
  }
  float s = reduce_add(acc);
  for (; i < n; ++i) s += (x[i] - center) * (x[i] - center);
  return s;
}

inline float sum_sq_row(const float* x, std::int64_t n) { return sum_sq_dev_row(x, n, 0.f); }

inline float sum_abs_row(const float* x, std::int64_t n) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  B acc(0.f);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) acc += xsimd::abs(B::load_unaligned(x + i));
  float s = reduce_add(acc);
  for (; i < n; ++i) s += std::abs(x[i]);
  return s;
}

inline float max_row(const float* x, std::int64_t n) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  float m = -std::numeric_limits<float>::infinity();
  std::int64_t i = 0;
  if (n >= W) {
    B acc = B::load_unaligned(x);
    for (i = W; i + W <= n; i += W) acc = xsimd::max(acc, B::load_unaligned(x + i));
    m = reduce_max(acc);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

inline float min_row(const float* x, std::int64_t n) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  float m = std::numeric_limits<float>::infinity();
  std::int64_t i = 0;
  if (n >= W) {
    B acc = B::load_unaligned(x);
    for (i = W; i + W <= n; i += W) acc = xsimd::min(acc, B::load_unaligned(x + i));
    m = reduce_min(acc);
  }
  for (; i < n; ++i) m = std::min(m, x[i]);
  return m;
}

enum class reduce_kind { sum, sum_abs, sum_sq, max, min, prod };

/// Reduces x[outer][len][inner] over the middle axis into y[outer][inner] (no final
/// transform: Mean and L2 divide or take the root afterwards).
inline void reduce_middle(const float* x, float* y, std::int64_t len, std::int64_t inner, reduce_kind kind) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  if (inner == 1) {
    switch (kind) {
      case reduce_kind::sum: *y = sum_row(x, len); return;
      case reduce_kind::sum_abs: *y = sum_abs_row(x, len); return;
      case reduce_kind::sum_sq: *y = sum_sq_row(x, len); return;
      case reduce_kind::max: *y = max_row(x, len); return;
      case reduce_kind::min: *y = min_row(x, len); return;
      case reduce_kind::prod: break;
    }
  }
  auto init = [&](float* dst, const float* src, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) {
      const float v = src[j];
      dst[j] = kind == reduce_kind::sum_abs ? std::abs(v) : kind == reduce_kind::sum_sq ? v * v : v;
    }
  };
  init(y, x, inner);
  for (std::int64_t r = 1; r < len; ++r) {
    const float* row = x + r * inner;
    std::int64_t j = 0;
    for (; j + W <= inner; j += W) {
      const B v = B::load_unaligned(row + j);
      B acc = B::load_unaligned(y + j);
      switch (kind) {
        case reduce_kind::sum: acc += v; break;
        case reduce_kind::sum_abs: acc += xsimd::abs(v); break;
        case reduce_kind::sum_sq: acc = xsimd::fma(v, v, acc); break;
        case reduce_kind::max: acc = xsimd::max(acc, v); break;
        case reduce_kind::min: acc = xsimd::min(acc, v); break;
        case reduce_kind::prod: acc *= v; break;
      }
      acc.store_unaligned(y + j);
    }
    for (; j < inner; ++j) {
      const float v = row[j];
      switch (kind) {
        case reduce_kind::sum: y[j] += v; break;
        case reduce_kind::sum_abs: y[j] += std::abs(v); break;
        case reduce_kind::sum_sq: y[j] += v * v; break;
        case reduce_kind::max: y[j] = std::max(y[j], v); break;
        case reduce_kind::min: y[j] = std::min(y[j], v); break;
        case reduce_kind::prod: y[j] *= v; break;
      }
    }
  }
}

}  // namespace mixq::simd
