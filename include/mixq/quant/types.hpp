#pragma once
// Quantization types as C++ types: each one states, once, how a real value maps to its storage
// (scale and zero-point, TPU-MLIR's Module.cpp rules, facts doc §11.1), how it rounds and where
// it saturates. Calibration's tuner, the fake-quant evaluators and per-chip lowering all take
// these types as template parameters, so a rule changes in one place.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "mixq/core/error.hpp"

namespace mixq::quant {

/// Which rounding a place uses. TPU-MLIR is not uniform: the Python tuner rounds with numpy
/// (`np.round`, half to even), weight lowering uses half away from zero (`to_int8`).
enum class rounding { half_to_even, half_away_from_zero };

inline constexpr std::string_view rounding_name(rounding r) {
  return r == rounding::half_to_even ? "half_to_even" : "half_away_from_zero";
}

/// Real value = (q - zero_point) * scale, with q saturated to [qmin, qmax].
struct affine_params {
  double scale = 1.0;
  std::int32_t zero_point = 0;
  std::int32_t qmin = -128;
  std::int32_t qmax = 127;
  friend bool operator==(const affine_params&, const affine_params&) = default;
};

/// Integer storage of `Bits` bits, signed or not.
template <int Bits, bool Signed>
struct int_range {
  static_assert(Bits >= 2 && Bits <= 16, "integer quant types have 2 to 16 bits");
  static constexpr std::int32_t qmin = Signed ? -(1 << (Bits - 1)) : 0;
  static constexpr std::int32_t qmax = Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;
};

namespace detail {
inline void require_finite_positive(double v, const char* what) {
  if (!std::isfinite(v) || v <= 0) throw error(std::string("quant: ") + what + " must be finite and > 0, got " + std::to_string(v));
}
}  // namespace detail

/// Symmetric integer quantization from a calibration threshold: zero-point 0,
/// scale = th / 127 for a signed tensor (min < 0), th / 255 for a non-negative one (INT8);
/// th / 7 or th / 15 for INT4. TPU-MLIR's manual says 128 for activations; its code uses 127.
template <int Bits>
struct symmetric_int {
  static constexpr int bits = Bits;
  static constexpr bool is_integer = true;
  static constexpr bool is_asymmetric = false;
  static constexpr std::string_view name = Bits == 8 ? "INT8" : Bits == 4 ? "INT4" : Bits == 16 ? "INT16" : "INT";

  static affine_params params(double threshold, bool is_signed = true) {
    detail::require_finite_positive(threshold, "a symmetric threshold");
    affine_params p;
    if (is_signed) {
      p.qmin = int_range<Bits, true>::qmin;
      p.qmax = int_range<Bits, true>::qmax;
    } else {
      p.qmin = int_range<Bits, false>::qmin;
      p.qmax = int_range<Bits, false>::qmax;
    }
    p.scale = threshold / static_cast<double>(p.qmax);
    return p;
  }
};

/// Asymmetric integer quantization from a calibrated [min, max] (Module.cpp
/// getScaleAndZeroPoint): signed storage when min < 0, else unsigned; zp = round(qmin - min/s),
/// and when the unrounded value falls outside [qmin, qmax] it is pinned there and the scale
/// re-derived from the other end (so unsigned asymmetric tensors always have zp 0).
template <int Bits>
struct asymmetric_int {
  static constexpr int bits = Bits;
  static constexpr bool is_integer = true;
  static constexpr bool is_asymmetric = true;
  static constexpr std::string_view name = Bits == 8 ? "INT8 asym" : Bits == 4 ? "INT4 asym" : "INT asym";

  static affine_params params(double min, double max) {
    if (!std::isfinite(min) || !std::isfinite(max) || max < min)
      throw error("quant: asymmetric range needs finite min <= max, got [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    affine_params p;
    if (min < 0) {
      p.qmin = int_range<Bits, true>::qmin;
      p.qmax = int_range<Bits, true>::qmax;
    } else {
      p.qmin = int_range<Bits, false>::qmin;
      p.qmax = int_range<Bits, false>::qmax;
    }
    if (max == min) {  // a constant tensor: any positive scale represents it; keep min exact
      p.scale = std::max(std::abs(max), 1e-5) / static_cast<double>(p.qmax - p.qmin);
      p.zero_point = static_cast<std::int32_t>(std::clamp<double>(std::round(p.qmin - min / p.scale), p.qmin, p.qmax));
      return p;
    }
    p.scale = (max - min) / static_cast<double>(p.qmax - p.qmin);
    // The unrounded zero-point decides the nudge (Module.cpp), not the rounded one.
    const double zp_real = p.qmin - min / p.scale;
    if (zp_real < p.qmin) {
      p.zero_point = p.qmin;
      p.scale = max / static_cast<double>(p.qmax - p.qmin);
    } else if (zp_real > p.qmax) {
      p.zero_point = p.qmax;
      p.scale = min / static_cast<double>(p.qmin - p.qmax);
    } else {
      p.zero_point = static_cast<std::int32_t>(std::round(zp_real));
    }
    return p;
  }
};

/// Float storage types: values are rounded to the format (nearest even) and back.
struct f32_type {
  static constexpr bool is_integer = false;
  static constexpr std::string_view name = "F32";
};
struct f16_type {
  static constexpr bool is_integer = false;
  static constexpr std::string_view name = "F16";
  static constexpr float max_finite = 65504.0f;
};
struct bf16_type {
  static constexpr bool is_integer = false;
  static constexpr std::string_view name = "BF16";
};

using int8_sym = symmetric_int<8>;
using int4_sym = symmetric_int<4>;
using int8_asym = asymmetric_int<8>;
using int4_asym = asymmetric_int<4>;

template <class T> concept integer_quant_type = T::is_integer;
template <class T> concept float_quant_type = !T::is_integer;

}  // namespace mixq::quant
