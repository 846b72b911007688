#pragma once
// TPU-MLIR's integer requantization primitives (docs/lowering_spec.md §1), restated with the same
// integer and floating-point types: every place where TPU-MLIR narrows a value to `float` narrows
// it here too, because the narrowing changes results. The lowering (multiplier/shift searches)
// and the integer evaluator (requant of int32 accumulators, casts) are built from these.
//
// Where TPU-MLIR's C++ is undefined behaviour (a double out of an integer's range, shifts past
// the word size) these functions are defined instead: conversions saturate, and arguments that
// no lowering produces throw mixq::error. Each such place says what it does.
#include <array>
#include <bit>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "mixq/core/error.hpp"
#include "mixq/core/half.hpp"

namespace mixq::quant {

// ------------------------------------------------------------------------------------ enums

/// TPU-MLIR's RoundingMode / `#tpu<round_mode X>`: what happens to a value between two integers.
enum class round_mode : std::uint8_t {
  half_away_from_zero,
  half_up,
  half_down,
  half_to_even,
  half_to_odd,        // named by TPU-MLIR, implemented by neither to_int nor RightShiftRound
  half_towards_zero,  // likewise
  towards_zero,
  up,
  down,
};

/// The `#tpu<rq_mode X>` names of how a multiplier and shift are applied.
enum class requant_mode : std::uint8_t { tflite_lshift, tflite, multiplier_shift, only_shift, qdm, only_scale };

/// The two arithmetics of applyMultiplierAndRShift: BM168x (bm1684, bm1684x, bm1688...) in int64,
/// CV18xx (cv183x, cv182x, cv181x, cv180x) in single precision with a positive QDM right shift.
enum class chip_family : std::uint8_t { bm168x, cv18xx };

namespace detail {
inline constexpr std::array<std::string_view, 9> round_mode_names{
    "HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero", "TowardsZero", "Up", "Down"};
inline constexpr std::array<std::string_view, 6> requant_mode_names{"TFLite_LShift", "TFLite", "MultiplierShift",
                                                                     "OnlyShift",     "QDM",    "OnlyScale"};

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
  std::string s;
  for (std::size_t i = 0; i < N; ++i) (s += i ? ", " : "") += names[i];
  return s;
}
}  // namespace detail

/// The TPU dialect spelling ("HalfAwayFromZero", "HalfUp"...).
inline constexpr std::string_view round_mode_name(round_mode m) {
  return detail::round_mode_names[static_cast<std::size_t>(m)];
}
inline round_mode parse_round_mode(std::string_view name) {
  for (std::size_t i = 0; i < detail::round_mode_names.size(); ++i)
    if (detail::round_mode_names[i] == name) return static_cast<round_mode>(i);
  throw error("unknown round_mode '" + std::string(name) + "' (expected one of " + detail::joined(detail::round_mode_names) + ")");
}

/// The TPU dialect spelling ("MultiplierShift", "QDM"...).
inline constexpr std::string_view requant_mode_name(requant_mode m) {
  return detail::requant_mode_names[static_cast<std::size_t>(m)];
}
inline requant_mode parse_requant_mode(std::string_view name) {
  for (std::size_t i = 0; i < detail::requant_mode_names.size(); ++i)
    if (detail::requant_mode_names[i] == name) return static_cast<requant_mode>(i);
  throw error("unknown quant_mode '" + std::string(name) + "' (expected one of " + detail::joined(detail::requant_mode_names) +
              ")");
}

// ------------------------------------------------------------------------------ rounding

namespace detail {
/// double -> int64 that saturates (NaN -> 0) where C++'s conversion is undefined.
inline std::int64_t saturating_int64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775808.0) return std::numeric_limits<std::int64_t>::max();
  if (v < -9223372036854775808.0) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}
inline std::int64_t wrapping_mul(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
}
}  // namespace detail

/// MathUtils `to_int`: a real value to an integer. HalfToEven narrows |v| to float and splits it
/// with a float modf, as TPU-MLIR does (it loses bits above 2^24: the CV18xx bias, spec §8.2);
/// `v + 0.5` of HalfUp is a double sum. HalfToOdd and HalfTowardsZero abort in TPU-MLIR: they
/// throw here. Values beyond int64 saturate.
inline std::int64_t to_int(double v, round_mode mode) {
  switch (mode) {
    case round_mode::half_away_from_zero: return detail::saturating_int64(std::round(v));
    case round_mode::up: return detail::saturating_int64(std::ceil(v));
    case round_mode::down: return detail::saturating_int64(std::floor(v));
    case round_mode::half_up: return detail::saturating_int64(std::floor(v + 0.5));
    case round_mode::half_down: return detail::saturating_int64(std::ceil(v - 0.5));
    case round_mode::towards_zero: return detail::saturating_int64(v);
    case round_mode::half_to_even: {
      const float magnitude = static_cast<float>(std::abs(v));
      float whole = 0.f;
      const float fraction = std::modf(magnitude, &whole);
      std::int64_t r = detail::saturating_int64(whole);
      if (fraction > 0.5f || (fraction == 0.5f && (r & 1))) ++r;
      return v < 0 ? -r : r;
    }
    case round_mode::half_to_odd:
    case round_mode::half_towards_zero: break;
  }
  throw error("to_int: round_mode " + std::string(round_mode_name(mode)) + " is not implemented by TPU-MLIR");
}

/// MathUtils `RightShiftRound` on int64: x / 2^n rounded by `mode`. n = 0 returns x, n < 0 is a
/// left shift (no rounding, wraps like the hardware), n > 63 counts as 63. HalfToOdd and
/// HalfTowardsZero fall through TPU-MLIR's mode tests and give floor(x / 2^n); so they do here.
/// A left shift of 64 bits or more throws (undefined in TPU-MLIR, never produced).
inline std::int64_t right_shift_round(std::int64_t x, int n, round_mode mode) {
  if (n == 0) return x;
  if (n < 0) {
    if (n <= -64) throw error("right_shift_round: a left shift by " + std::to_string(-n) + " bits");
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(x) << -n);
  }
  if (n > 63) n = 63;
  const std::int64_t val = x >> n;  // arithmetic: floor
  const std::int64_t mant = static_cast<std::int64_t>(static_cast<std::uint64_t>(x) & ((std::uint64_t{1} << n) - 1));
  const std::int64_t half = static_cast<std::int64_t>(std::uint64_t{1} << (n - 1));
  switch (mode) {
    case round_mode::half_to_even: return mant == half ? val + (val & 1) : val + (mant > half);
    case round_mode::half_away_from_zero: return val + (x >= 0 ? mant >= half : mant > half);
    case round_mode::towards_zero: return val + (x < 0 && mant != 0);
    case round_mode::down: return val;
    case round_mode::up: return val + (mant != 0);
    case round_mode::half_up: return val + (mant >= half);
    case round_mode::half_down: return val + (mant > half);
    case round_mode::half_to_odd:
    case round_mode::half_towards_zero: return val;
  }
  return val;
}

// ---------------------------------------------------------------------------- saturation

/// Clamps an integer to T's range (the `saturate(v, type)` of the interpreter on integers).
template <class T>
constexpr T saturate(std::int64_t v) {
  static_assert(std::is_integral_v<T> && sizeof(T) <= 4, "saturate<T>: an integer type of at most 32 bits");
  constexpr auto lo = static_cast<std::int64_t>(std::numeric_limits<T>::min());
  constexpr auto hi = static_cast<std::int64_t>(std::numeric_limits<T>::max());
  return static_cast<T>(v < lo ? lo : v > hi ? hi : v);
}

/// Clamps to a `bits`-wide integer's range: [-2^(bits-1), 2^(bits-1) - 1] or [0, 2^bits - 1].
inline constexpr std::int64_t saturate_bits(std::int64_t v, int bits, bool is_signed) {
  const std::int64_t lo = is_signed ? -(std::int64_t{1} << (bits - 1)) : 0;
  const std::int64_t hi = is_signed ? (std::int64_t{1} << (bits - 1)) - 1 : (std::int64_t{1} << bits) - 1;
  return v < lo ? lo : v > hi ? hi : v;
}

/// MathUtils to_int8 / to_uint8 / to_int4 / to_uint4 / to_int16 / to_uint16: round, then clamp.
inline std::int8_t to_int8(double v, round_mode mode = round_mode::half_away_from_zero) {
  return saturate<std::int8_t>(to_int(v, mode));
}
inline std::uint8_t to_uint8(double v, round_mode mode = round_mode::half_away_from_zero) {
  return saturate<std::uint8_t>(to_int(v, mode));
}
inline std::int8_t to_int4(double v, round_mode mode = round_mode::half_away_from_zero) {
  return static_cast<std::int8_t>(saturate_bits(to_int(v, mode), 4, true));
}
inline std::uint8_t to_uint4(double v, round_mode mode = round_mode::half_away_from_zero) {
  return static_cast<std::uint8_t>(saturate_bits(to_int(v, mode), 4, false));
}
inline std::int16_t to_int16(double v, round_mode mode = round_mode::half_away_from_zero) {
  return saturate<std::int16_t>(to_int(v, mode));
}
inline std::uint16_t to_uint16(double v, round_mode mode = round_mode::half_away_from_zero) {
  return saturate<std::uint16_t>(to_int(v, mode));
}

// ------------------------------------------------------------- multiplier/shift derivation

/// factor ~ multiplier * 2^-shift (QDM: multiplier * 2^-(31 + shift)).
struct multiplier_shift {
  std::int64_t multiplier = 0;
  std::int64_t shift = 0;
  friend bool operator==(const multiplier_shift&, const multiplier_shift&) = default;
};

namespace detail {
/// The search shared by get_scale_and_shift (n in [-32, 30]) and its positive variant
/// (n in [0, 30]): the first n whose float-narrowed error is strictly the smallest, among
/// multipliers |m| < limit. TPU-MLIR's (int) of an out-of-range double is INT32_MIN on x86, and
/// abs(INT32_MIN) stays negative, so such a candidate passes the limit test; its error is then
/// larger than any in-range candidate's, but it wins when no in-range multiplier is below the
/// limit (e.g. 176 with 8 bits and shifts >= 0), leaving TPU-MLIR with a multiplier of INT32_MIN.
/// That result rests on undefined behaviour: it throws here.
inline multiplier_shift scale_and_shift_search(float f, int bits, int n_first, int n_last, const char* name) {
  if (!std::isfinite(f)) throw error(std::string(name) + ": the factor is not finite");
  const std::int64_t limit = bits == 32 ? INT32_MAX : CHAR_MAX;
  float best_error = FLT_MAX;
  int best_n = n_first;
  bool found = false, best_out_of_range = false;
  for (int n = n_first; n <= n_last; ++n) {
    const double p = std::round(static_cast<double>(f) * std::ldexp(1.0, n));
    const bool out_of_range = !(p >= static_cast<double>(INT32_MIN) && p <= static_cast<double>(INT32_MAX));
    const std::int64_t m = out_of_range ? INT32_MIN : static_cast<std::int64_t>(p);
    const auto err = static_cast<float>(std::abs(static_cast<double>(m) / std::ldexp(1.0, n) - static_cast<double>(f)));
    if (err < best_error && (m == INT32_MIN || (m < 0 ? -m : m) < limit)) {
      best_error = err;
      best_n = n;
      found = true;
      best_out_of_range = out_of_range;
    }
  }
  if (!found || best_out_of_range)
    throw error(std::string(name) + ": no multiplier below " + std::to_string(limit) + " represents the factor " + std::to_string(f) +
                " at shifts " + std::to_string(n_first) + ".." + std::to_string(n_last) + " (TPU-MLIR's result is undefined there)");
  return {static_cast<std::int64_t>(std::round(static_cast<double>(f) * std::ldexp(1.0, best_n))), best_n};
}
}  // namespace detail

/// MathUtils get_scale_and_shift (spec §1.3a): BM1684X Conv/MatMul (bits 32: |m| < INT32_MAX),
/// AvgPool/Mul/MulConst/LeakyRelu (bits 8: |m| < 127). The factor is a float parameter: callers'
/// doubles are narrowed at the call, as in TPU-MLIR. The multiplier is not normalised: 2^-8 gives
/// (1, 8), 1/9 with 8 bits gives (57, 9).
inline multiplier_shift get_scale_and_shift(float factor, int bits) {
  return detail::scale_and_shift_search(factor, bits, -32, 30, "get_scale_and_shift");
}
/// get_scale_and_shift_positive (§1.3b): shifts 0..30 only (Add/Sub, do_transfer).
inline multiplier_shift get_scale_and_shift_positive(float factor, int bits) {
  return detail::scale_and_shift_search(factor, bits, 0, 30, "get_scale_and_shift_positive");
}

/// TFLite's QuantizeMultiplier (§1.3c): d = multiplier * 2^(shift - 31), multiplier in
/// [2^30, 2^31) for d > 0; (0, 0) for d = 0 or |d| < 2^-32; (2^31 - 1, 30) for huge d.
inline multiplier_shift quantize_multiplier(double d) {
  if (d == 0.0) return {0, 0};
  if (!std::isfinite(d)) throw error("quantize_multiplier: the factor is not finite");
  int exponent = 0;
  const double q = std::frexp(d, &exponent);
  std::int64_t fixed = static_cast<std::int64_t>(std::round(q * 2147483648.0));
  std::int64_t shift = exponent;
  if (fixed == (std::int64_t{1} << 31)) {
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {0, 0};
  if (shift > 30) return {(std::int64_t{1} << 31) - 1, 30};
  return {fixed, shift};
}

/// getRShiftAndMultiplierFromQScale (§1.3d, CV18xx). qdm: q >= 1 becomes 0.999999, then
/// QuantizeMultiplier with the shift negated (a positive right shift, the 31 implicit). Not
/// qdm: (max, 0) when q > max; otherwise the first rshift in 0..62 with q * 2^(rshift+1) >= max,
/// multiplier = q * 2^rshift truncated; (0, 0) when none is found.
inline multiplier_shift rshift_and_multiplier_from_qscale(double q, bool qdm, std::int64_t max_multiplier = 127) {
  if (qdm) {
    if (q >= 1) q = 0.999999;
    const multiplier_shift ms = quantize_multiplier(q);
    return {ms.multiplier, -ms.shift};
  }
  if (q > static_cast<double>(max_multiplier)) return {max_multiplier, 0};
  for (int rshift = 0; rshift < 63; ++rshift)
    if (q * static_cast<double>(std::uint64_t{1} << (rshift + 1)) >= static_cast<double>(max_multiplier))
      return {detail::saturating_int64(q * static_cast<double>(std::uint64_t{1} << rshift)), rshift};
  return {0, 0};
}

/// getMultiplierI8FromQScaleAndRShift: (int8)(uint32)(q * 2^rshift), i.e. truncation, then the
/// low byte as a signed value. A negative or >= 2^32 product is undefined in TPU-MLIR: it throws.
inline std::int8_t multiplier_i8_from_qscale_and_rshift(double q, int rshift) {
  if (rshift < 0 || rshift > 30) throw error("multiplier_i8_from_qscale_and_rshift: rshift " + std::to_string(rshift) + " is out of [0, 30]");
  const double p = q * static_cast<double>(1 << rshift);
  if (!(p >= 0.0 && p < 4294967296.0))
    throw error("multiplier_i8_from_qscale_and_rshift: q * 2^rshift = " + std::to_string(p) + " is not a uint32 (negative coefficient?)");
  return static_cast<std::int8_t>(static_cast<std::uint8_t>(static_cast<std::uint32_t>(p) & 0xffu));
}

/// BM1684 calRightShiftNum (Conv, FC): t = fmax * bottom / top doubled until >= 2^(bits-1) - 1;
/// the doublings minus one (31 past 32 doublings, 0 when t <= 0, -1 when t is already there or
/// not a number).
inline int cal_right_shift_num(float fmax, double bottom, double top, int bits = 8) {
  double t = 1.0 * static_cast<double>(fmax) * bottom / top;
  if (t <= 0.0) return 0;
  const double target = static_cast<double>((1 << (bits - 1)) - 1);
  int m = 0;
  while (t < target) {
    t *= 2;
    ++m;
  }
  return m > 32 ? 31 : m - 1;
}

/// BM1684 calRightShiftNumUseCblas (eltwise): floor(ln(127 / (|fmax| * bottom / top)) / ln 2),
/// at most 31. A zero denominator (undefined in TPU-MLIR) throws.
inline int cal_right_shift_num_use_cblas(float fmax, double bottom, double top, int bits = 8) {
  const float magnitude = std::abs(fmax);
  const double t = 1.0 * static_cast<double>((1 << (bits - 1)) - 1) / (static_cast<double>(magnitude) * bottom / top);
  if (!(t > 0.0) || !std::isfinite(t)) throw error("cal_right_shift_num_use_cblas: |fmax| * bottom / top must be finite and > 0");
  const double m = std::floor(std::log(t) / std::log(2.0));
  return m > 31 ? 31 : static_cast<int>(m);
}

/// The multiplier/rshift BM1684 uses for an AvgPool window of k elements (k <= 225): TPU-MLIR
/// hard-codes a table equal, entry for entry, to this rule: the largest e with
/// m = floor(2^e / k + 1/2) <= 255, then m halved (and e decremented) while m is even.
inline multiplier_shift avgpool_reciprocal_bm1684(std::int64_t k) {
  if (k < 1 || k > 225) throw error("avgpool_reciprocal_bm1684: window of " + std::to_string(k) + " elements (table covers 1..225)");
  // m(e) grows with e, so the last e that fits is the one before the first that does not
  std::int64_t e = 0;
  while ((((std::int64_t{1} << (e + 2)) + k) / (2 * k)) <= 255) ++e;
  std::int64_t m = ((std::int64_t{1} << (e + 1)) + k) / (2 * k);
  while (m % 2 == 0) {
    m /= 2;
    --e;
  }
  return {m, e};
}

// ------------------------------------------------------------------- applying a multiplier

/// MathUtils MultiplyByQuantizedMultiplier (TFLite): x << shift for shift > 0 (in int32, wrapping
/// as TPU-MLIR's int shift does), times m, rounded right by 31 with HalfUp whatever `mode` is,
/// clamped to int32, then for shift < 0 a right shift by -shift rounded with `mode`.
inline std::int32_t multiply_by_quantized_multiplier(std::int32_t x, std::int32_t m, int shift, round_mode mode) {
  if (shift > 31) throw error("multiply_by_quantized_multiplier: a left shift by " + std::to_string(shift) + " bits");
  std::int64_t value = shift > 0 ? static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << shift) : x;
  value = right_shift_round(value * m, 31, round_mode::half_up);
  value = value > INT32_MAX ? INT32_MAX : value < INT32_MIN ? INT32_MIN : value;
  if (shift < 0) value = right_shift_round(value, -shift, mode);
  return static_cast<std::int32_t>(value);
}

/// MathUtils applyMultiplierAndRShift (spec §1.4). BM168x MultiplierShift: RightShiftRound(v*m,
/// r) in int64; CV18xx MultiplierShift: to_int(f32(f32(v) * m) / 2^r) in single precision;
/// OnlyShift: RightShiftRound(v, r); QDM/TFLite/TFLite_LShift: MultiplyByQuantizedMultiplier with
/// v and m truncated to int32 and r negated on CV18xx (which stores a positive right shift).
/// OnlyScale is unreachable in TPU-MLIR and throws here. TPU-MLIR's default `mode` is HalfUp.
inline std::int64_t apply_multiplier_and_rshift(std::int64_t v, std::int64_t m, std::int64_t r, requant_mode qmode,
                                                round_mode mode = round_mode::half_up, chip_family chip = chip_family::bm168x) {
  switch (qmode) {
    case requant_mode::multiplier_shift:
      if (chip == chip_family::cv18xx) {
        if (r < 0 || r > 31) throw error("apply_multiplier_and_rshift: CV18xx rshift " + std::to_string(r) + " is out of [0, 31]");
        const float product = static_cast<float>(v) * static_cast<float>(m);
        // (1 << 31) is INT_MIN in C++20: TPU-MLIR divides by -2^31 there, and so does this
        const auto divisor = static_cast<float>(static_cast<std::int32_t>(std::uint32_t{1} << r));
        return to_int(static_cast<double>(product / divisor), mode);
      }
      return right_shift_round(detail::wrapping_mul(v, m), static_cast<int>(r), mode);
    case requant_mode::only_shift: return right_shift_round(v, static_cast<int>(r), mode);
    case requant_mode::qdm:
    case requant_mode::tflite:
    case requant_mode::tflite_lshift:
      if (chip == chip_family::cv18xx) r = -r;
      return multiply_by_quantized_multiplier(static_cast<std::int32_t>(v), static_cast<std::int32_t>(m), static_cast<int>(r),
                                              mode);
    case requant_mode::only_scale: break;
  }
  throw error("apply_multiplier_and_rshift: quant_mode " + std::string(requant_mode_name(qmode)) + " has no integer form");
}

// ------------------------------------------------------------------------------ casts (§1.5)

/// The expressed (float) type of a quantized tensor: f32 normally, f16/bf16 when its producer was
/// lowered to f16/bf16 (spec §3.4).
enum class float_type : std::uint8_t { f32, f16, bf16 };

namespace detail {
inline float round_to(float x, float_type t) {
  switch (t) {
    case float_type::f16: return static_cast<float>(float16(x));
    case float_type::bf16: return static_cast<float>(bfloat16(x));
    case float_type::f32: break;
  }
  return x;
}
}  // namespace detail

/// The reciprocal a BM168x tpu.Cast multiplies by: 1/scale computed in double, narrowed to float
/// (and rounded to f16/bf16 for such an expressed type). Compute it once per tensor.
inline float cast_reciprocal(double scale, float_type expressed = float_type::f32) {
  return detail::round_to(static_cast<float>(1.0 / scale), expressed);
}

/// BM168x tpu.Cast f32 -> int8/uint8 (an activation's quantize): q = saturate(round(f32(x *
/// reciprocal)) + zp), std::round (half away from zero) on the float product, which is first
/// rounded to f16/bf16 for such an expressed type. Infinite products saturate.
template <class T>
T quantize_bm168x(float x, float reciprocal, std::int64_t zero_point, float_type expressed = float_type::f32) {
  const float product = detail::round_to(x * reciprocal, expressed);
  return saturate<T>(detail::saturating_int64(static_cast<double>(std::round(product)) + static_cast<double>(zero_point)));
}

/// BM168x tpu.Cast int8/uint8 -> float (dequantize): f32(s) * (q - f32(zp)) in float.
inline float dequantize_bm168x(std::int64_t q, double scale, std::int64_t zero_point) {
  return static_cast<float>(scale) * (static_cast<float>(q) - static_cast<float>(zero_point));
}

namespace detail {
inline std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
/// The CV18xx MAC's "max or inf" test on a float's bits, with its odd masks (TPU-MLIR's
/// check_max_inf_value): inf/NaN of either sign, or all-ones in exponent bits 1..7 and mantissa.
inline bool cv18xx_max_or_inf(float x) {
  const std::uint32_t b = bits_of(x);
  return (b & 0x7F800000u) == 0x7F800000u || (b & 0xFF800000u) == 0xFF800000u || (b & 0x7F7FFFFFu) == 0x7F7FFFFFu ||
         (b & 0xFF7FFFFFu) == 0xFF7FFFFFu;
}
inline bool exponent_is_zero(float x) { return (bits_of(x) & 0x7F800000u) == 0; }
}  // namespace detail

/// CV18xx f32 -> bf16 (as a float holding a bf16 value). TPU form: round to nearest even by
/// adding 0x7FFF + lsb, an infinite result becoming the largest finite value 0x7F7F (sign
/// dropped, as the hardware does); CPU form (`tpu_rounding` false): truncation.
inline float cv18xx_bf16(float x, bool tpu_rounding = true) {
  std::uint32_t b = detail::bits_of(x);
  std::uint16_t h;
  if (tpu_rounding) {
    b += 0x7FFFu + ((b >> 16) & 1u);
    h = static_cast<std::uint16_t>(b >> 16);
    if ((h & 0x7F80u) == 0x7F80u) h = 0x7F7F;
  } else {
    h = static_cast<std::uint16_t>(b >> 16);
  }
  return bfloat16::to_float(h);
}

/// CV18xx bf16 multiply (TPU-MLIR's bf16_mul, an emulation of the chip's MAC): denormal operands
/// and products flush to 0, a "max or inf" operand or product gives FLT_MAX (of the sign TPU-MLIR
/// picks: positive), then the TPU bf16 rounding of the product.
inline float cv18xx_bf16_mul(float a, float b) {
  const bool a_big = detail::cv18xx_max_or_inf(a), b_big = detail::cv18xx_max_or_inf(b);
  if (!a_big && detail::exponent_is_zero(a)) a = 0.f;
  if (!b_big && detail::exponent_is_zero(b)) b = 0.f;
  float r;
  if (a_big || b_big) {
    // TPU-MLIR's MAC writes FLT_MAX for operands of different signs and -FLT_MAX otherwise; the
    // final normalisation turns both into +FLT_MAX
    r = FLT_MAX;
  } else {
    r = a * b;
    if (detail::exponent_is_zero(r)) r = 0.f;
    else if (detail::cv18xx_max_or_inf(r)) r = FLT_MAX;
  }
  if (detail::exponent_is_zero(r)) r = 0.f;
  else if ((detail::bits_of(r) & 0x7F800000u) == 0x7F800000u || r == -FLT_MAX) r = FLT_MAX;
  return cv18xx_bf16(r, true);
}

/// CV18xx tpu.Cast f32 -> int8 inside the graph: bf16_mul(BF16_cpu(x), BF16_tpu(f32(1/s))), then
/// saturate with HalfToEven.
template <class T = std::int8_t>
T quantize_cv18xx(float x, double scale) {
  const float v = cv18xx_bf16_mul(cv18xx_bf16(x, false), cv18xx_bf16(static_cast<float>(1.0 / scale), true));
  return saturate<T>(to_int(static_cast<double>(v), round_mode::half_to_even));
}

/// CV18xx tpu.Cast int8 -> bf16: bf16_mul(BF16_cpu(q), BF16_tpu(f32(s))) on the TPU; in a CPU
/// region (`on_tpu` false) q * f32(s) in float.
inline float dequantize_cv18xx(std::int64_t q, double scale, bool on_tpu = true) {
  const auto s = static_cast<float>(scale);
  if (!on_tpu) return static_cast<float>(q) * s;
  return cv18xx_bf16_mul(cv18xx_bf16(static_cast<float>(q), false), cv18xx_bf16(s, true));
}

/// The CV18xx `quant` GenericCpu op that quantizes a graph input: to_int8(f32(x * f32(1/s))),
/// half away from zero.
inline std::int8_t quantize_cv18xx_input(float x, double scale) {
  const float product = x * static_cast<float>(1.0 / scale);
  return to_int8(static_cast<double>(product), round_mode::half_away_from_zero);
}

}  // namespace mixq::quant
