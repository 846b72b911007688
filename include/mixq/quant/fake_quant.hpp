#pragma once
// Fake quantization: float in, float out, with the values a quant type can represent. The
// tuner scores thresholds with it and the float evaluators emulate low-precision ops with it.
// Every kernel has a scalar reference (`*_reference`) that the SIMD version matches bit for bit:
// both evaluate the same IEEE operations in the same order (multiply, round, add, clamp,
// subtract, divide), so no contraction or reassociation can separate them.
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>

#include "mixq/core/error.hpp"
#include "mixq/core/half.hpp"
#include "mixq/kernels/simd/math.hpp"
#include "mixq/quant/types.hpp"

namespace mixq::quant {

/// Per-tensor integer fake-quant in the form TPU-MLIR's tools compute it: with
/// `inv_scale` = qmax / threshold rounded to float once,
///   q = clamp(round(x * inv_scale) + zp, qmin, qmax),  y = (q - zp) / inv_scale.
struct int_fake_quant {
  float inv_scale = 1.f;
  float zero_point = 0.f;
  float qmin = -128.f;
  float qmax = 127.f;
  rounding mode = rounding::half_to_even;

  /// Symmetric, from a threshold (the tuner's `import_quant_bias`: 127 / th, in double, then float).
  template <int Bits>
  static int_fake_quant symmetric(double threshold, bool is_signed = true, rounding r = rounding::half_to_even) {
    const affine_params p = symmetric_int<Bits>::params(threshold, is_signed);
    int_fake_quant f;
    f.inv_scale = static_cast<float>(static_cast<double>(p.qmax) / threshold);
    f.qmin = static_cast<float>(p.qmin);
    f.qmax = static_cast<float>(p.qmax);
    f.mode = r;
    return f;
  }
  /// Any affine parameters (asymmetric types).
  static int_fake_quant from(const affine_params& p, rounding r) {
    if (!(p.scale > 0) || !std::isfinite(p.scale)) throw error("quant: fake-quant scale must be finite and > 0");
    int_fake_quant f;
    f.inv_scale = static_cast<float>(1.0 / p.scale);
    f.zero_point = static_cast<float>(p.zero_point);
    f.qmin = static_cast<float>(p.qmin);
    f.qmax = static_cast<float>(p.qmax);
    f.mode = r;
    return f;
  }
};

namespace detail {

inline float round_mode(float v, rounding r) { return r == rounding::half_to_even ? std::nearbyint(v) : std::round(v); }
inline simd::fbatch round_mode(const simd::fbatch& v, rounding r) {
  return r == rounding::half_to_even ? xsimd::nearbyint(v) : xsimd::round(v);
}

/// q clamped to [lo, hi] with the bounds never NaN: a NaN q fails both comparisons and stays
/// NaN. A compare and a blend per bound (simd::vmax/vmin, which must also handle a NaN bound,
/// cost three times that, and the tuner runs this formula some twenty times per activation).
inline float clamp_to(float q, float lo, float hi) {
  q = q < lo ? lo : q;
  return q > hi ? hi : q;
}
inline simd::fbatch clamp_to(const simd::fbatch& q, const simd::fbatch& lo, const simd::fbatch& hi) {
  const simd::fbatch a = xsimd::select(q < lo, lo, q);
  return xsimd::select(a > hi, hi, a);
}

/// One formula for float and fbatch; NaN propagates.
template <class V>
inline V int_fake_quant_formula(const V& x, const V& inv, const V& zp, const V& lo, const V& hi, rounding r) {
  V q = round_mode(x * inv, r) + zp;
  q = clamp_to(q, lo, hi);
  return (q - zp) / inv;
}

/// float -> binary16 (nearest even, overflow to inf) -> float, on the float bits.
inline simd::batch<float> f16_round_trip(const simd::batch<float>& x) {
  using ib = simd::batch<std::int32_t>;
  const ib bits = simd::bit_cast<std::int32_t>(x);
  const ib sign = bits & ib(static_cast<std::int32_t>(0x80000000u));
  const ib mag = bits & ib(0x7fffffff);
  const simd::fbatch ax = simd::bit_cast<float>(mag);
  // Normal half range: round the float mantissa to 10 bits.
  const ib lsb = (mag >> 13) & ib(1);
  const ib normal = (mag + ib(0xfff) + lsb) & ib(static_cast<std::int32_t>(0xffffe000u));
  simd::fbatch r = simd::bit_cast<float>(normal);
  // Subnormal half range (|x| < 2^-14): multiples of 2^-24, which float addition rounds to.
  const simd::fbatch sub = (ax + simd::fbatch(0.5f)) - simd::fbatch(0.5f);
  r = xsimd::select(ax < simd::fbatch(6.103515625e-05f), sub, r);
  r = xsimd::select(r > simd::fbatch(f16_type::max_finite), simd::fbatch(INFINITY), r);
  const auto is_nan = xsimd::isnan(x);
  const ib out = simd::bit_cast<std::int32_t>(r) | sign;
  return xsimd::select(is_nan, x, simd::bit_cast<float>(out));
}

/// float -> bfloat16 (nearest even) -> float.
inline simd::batch<float> bf16_round_trip(const simd::batch<float>& x) {
  using ib = simd::batch<std::int32_t>;
  const ib bits = simd::bit_cast<std::int32_t>(x);
  const ib lsb = (bits >> 16) & ib(1);
  const ib rounded = (bits + ib(0x7fff) + lsb) & ib(static_cast<std::int32_t>(0xffff0000u));
  const auto is_nan = xsimd::isnan(x);
  return xsimd::select(is_nan, x, simd::bit_cast<float>(rounded));
}

inline void check_sizes(std::size_t in, std::size_t out) {
  if (in != out) throw error("quant: fake-quant output has " + std::to_string(out) + " elements, input " + std::to_string(in));
}

}  // namespace detail

/// The scalar definition.
inline void fake_quantize_reference(std::span<const float> x, std::span<float> y, const int_fake_quant& q) {
  detail::check_sizes(x.size(), y.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = detail::int_fake_quant_formula(x[i], q.inv_scale, q.zero_point, q.qmin, q.qmax, q.mode);
}

/// Vectorized; bit-identical to fake_quantize_reference. `y` may alias `x`.
inline void fake_quantize(std::span<const float> x, std::span<float> y, const int_fake_quant& q) {
  detail::check_sizes(x.size(), y.size());
  using simd::fbatch;
  constexpr std::size_t W = simd::width<float>;
  const fbatch inv(q.inv_scale), zp(q.zero_point), lo(q.qmin), hi(q.qmax);
  // Separate bounds for the vector part and the tail: GCC 12 at -O3 otherwise "proves" an impossible
  // tail iteration count and fails -Werror=aggressive-loop-optimizations on constant-size inputs.
  const std::size_t n = x.size(), vector_end = n - n % W;
  const float* xp = x.data();
  float* yp = y.data();
  for (std::size_t i = 0; i < vector_end; i += W)
    detail::int_fake_quant_formula(fbatch::load_unaligned(xp + i), inv, zp, lo, hi, q.mode).store_unaligned(yp + i);
  for (std::size_t i = vector_end; i < n; ++i) yp[i] = detail::int_fake_quant_formula(xp[i], q.inv_scale, q.zero_point, q.qmin, q.qmax, q.mode);
}

inline float f16_round_trip_reference(float v) { return static_cast<float>(float16(v)); }
inline float bf16_round_trip_reference(float v) { return static_cast<float>(bfloat16(v)); }

/// Float storage types: round every value to T and back (F32: copy).
template <float_quant_type T>
inline void fake_quantize_reference(std::span<const float> x, std::span<float> y) {
  detail::check_sizes(x.size(), y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if constexpr (std::is_same_v<T, f16_type>) y[i] = f16_round_trip_reference(x[i]);
    else if constexpr (std::is_same_v<T, bf16_type>) y[i] = bf16_round_trip_reference(x[i]);
    else y[i] = x[i];
  }
}

template <float_quant_type T>
inline void fake_quantize(std::span<const float> x, std::span<float> y) {
  detail::check_sizes(x.size(), y.size());
  if constexpr (std::is_same_v<T, f32_type>) {
    if (x.data() != y.data()) std::copy(x.begin(), x.end(), y.begin());
  } else {
    using simd::fbatch;
    constexpr std::size_t W = simd::width<float>;
    std::size_t i = 0;
    const std::size_t n = x.size();
    for (; i + W <= n; i += W) {
      const fbatch v = fbatch::load_unaligned(x.data() + i);
      if constexpr (std::is_same_v<T, f16_type>) detail::f16_round_trip(v).store_unaligned(y.data() + i);
      else detail::bf16_round_trip(v).store_unaligned(y.data() + i);
    }
    for (; i < n; ++i) {
      if constexpr (std::is_same_v<T, f16_type>) y[i] = f16_round_trip_reference(x[i]);
      else y[i] = bf16_round_trip_reference(x[i]);
    }
  }
}

}  // namespace mixq::quant
