#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "mixq/core/error.hpp"
#include "mixq/core/half.hpp"

namespace mixq {

/// Element types a tensor can hold. bf16 is stored as 16 raw bits (numpy has no
/// bf16, so npz files carry it as uint16).
enum class dtype : std::uint8_t { f32, f64, f16, bf16, i8, u8, i16, u16, i32, u32, i64, u64, boolean };

inline constexpr dtype all_dtypes[] = {dtype::f32, dtype::f64, dtype::f16, dtype::bf16, dtype::i8,
                                       dtype::u8,  dtype::i16, dtype::u16, dtype::i32,  dtype::u32,
                                       dtype::i64, dtype::u64, dtype::boolean};

template <class T>
struct dtype_tag {
  using type = T;
};

/// C++ storage type of each dtype.
template <dtype D> struct storage_of;
template <> struct storage_of<dtype::f32> { using type = float; };
template <> struct storage_of<dtype::f64> { using type = double; };
template <> struct storage_of<dtype::f16> { using type = float16; };
template <> struct storage_of<dtype::bf16> { using type = bfloat16; };
template <> struct storage_of<dtype::i8> { using type = std::int8_t; };
template <> struct storage_of<dtype::u8> { using type = std::uint8_t; };
template <> struct storage_of<dtype::i16> { using type = std::int16_t; };
template <> struct storage_of<dtype::u16> { using type = std::uint16_t; };
template <> struct storage_of<dtype::i32> { using type = std::int32_t; };
template <> struct storage_of<dtype::u32> { using type = std::uint32_t; };
template <> struct storage_of<dtype::i64> { using type = std::int64_t; };
template <> struct storage_of<dtype::u64> { using type = std::uint64_t; };
template <> struct storage_of<dtype::boolean> { using type = bool; };
template <dtype D> using storage_t = typename storage_of<D>::type;

template <class T> constexpr dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return dtype::f32;
  else if constexpr (std::is_same_v<T, double>) return dtype::f64;
  else if constexpr (std::is_same_v<T, float16>) return dtype::f16;
  else if constexpr (std::is_same_v<T, bfloat16>) return dtype::bf16;
  else if constexpr (std::is_same_v<T, std::int8_t>) return dtype::i8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return dtype::u8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return dtype::i16;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return dtype::u16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return dtype::i32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return dtype::u32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return dtype::i64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return dtype::u64;
  else if constexpr (std::is_same_v<T, bool>) return dtype::boolean;
  else static_assert(sizeof(T) == 0, "mixq: this C++ type is not a tensor element type");
}

constexpr std::size_t size_of(dtype d) noexcept {
  switch (d) {
    case dtype::f64: case dtype::i64: case dtype::u64: return 8;
    case dtype::f32: case dtype::i32: case dtype::u32: return 4;
    case dtype::f16: case dtype::bf16: case dtype::i16: case dtype::u16: return 2;
    case dtype::i8: case dtype::u8: case dtype::boolean: return 1;
  }
  return 0;
}

constexpr bool is_floating(dtype d) noexcept {
  return d == dtype::f32 || d == dtype::f64 || d == dtype::f16 || d == dtype::bf16;
}
constexpr bool is_integer(dtype d) noexcept { return !is_floating(d) && d != dtype::boolean; }
constexpr bool is_signed(dtype d) noexcept {
  return is_floating(d) || d == dtype::i8 || d == dtype::i16 || d == dtype::i32 || d == dtype::i64;
}

/// The MLIR spelling of the element type (`f32`, `i64`, `ui8`, `i1`).
constexpr std::string_view mlir_name(dtype d) noexcept {
  switch (d) {
    case dtype::f32: return "f32";
    case dtype::f64: return "f64";
    case dtype::f16: return "f16";
    case dtype::bf16: return "bf16";
    case dtype::i8: return "i8";
    case dtype::u8: return "ui8";
    case dtype::i16: return "i16";
    case dtype::u16: return "ui16";
    case dtype::i32: return "i32";
    case dtype::u32: return "ui32";
    case dtype::i64: return "i64";
    case dtype::u64: return "ui64";
    case dtype::boolean: return "i1";
  }
  return "?";
}

/// Short human name (numpy's): float32, int64, bool...
constexpr std::string_view name(dtype d) noexcept {
  switch (d) {
    case dtype::f32: return "float32";
    case dtype::f64: return "float64";
    case dtype::f16: return "float16";
    case dtype::bf16: return "bfloat16";
    case dtype::i8: return "int8";
    case dtype::u8: return "uint8";
    case dtype::i16: return "int16";
    case dtype::u16: return "uint16";
    case dtype::i32: return "int32";
    case dtype::u32: return "uint32";
    case dtype::i64: return "int64";
    case dtype::u64: return "uint64";
    case dtype::boolean: return "bool";
  }
  return "?";
}

/// Parses an MLIR element type; signless iN are taken as signed, `si`/`ui` as written.
inline std::optional<dtype> dtype_from_mlir(std::string_view s) noexcept {
  if (s == "f32") return dtype::f32;
  if (s == "f64") return dtype::f64;
  if (s == "f16") return dtype::f16;
  if (s == "bf16") return dtype::bf16;
  if (s == "i8" || s == "si8") return dtype::i8;
  if (s == "ui8") return dtype::u8;
  if (s == "i16" || s == "si16") return dtype::i16;
  if (s == "ui16") return dtype::u16;
  if (s == "i32" || s == "si32") return dtype::i32;
  if (s == "ui32") return dtype::u32;
  if (s == "i64" || s == "si64") return dtype::i64;
  if (s == "ui64") return dtype::u64;
  if (s == "i1") return dtype::boolean;
  return std::nullopt;
}

/// Calls f(dtype_tag<T>{}) with the storage type of `d`.
template <class F> decltype(auto) visit_dtype(dtype d, F&& f) {
  switch (d) {
    case dtype::f32: return f(dtype_tag<float>{});
    case dtype::f64: return f(dtype_tag<double>{});
    case dtype::f16: return f(dtype_tag<float16>{});
    case dtype::bf16: return f(dtype_tag<bfloat16>{});
    case dtype::i8: return f(dtype_tag<std::int8_t>{});
    case dtype::u8: return f(dtype_tag<std::uint8_t>{});
    case dtype::i16: return f(dtype_tag<std::int16_t>{});
    case dtype::u16: return f(dtype_tag<std::uint16_t>{});
    case dtype::i32: return f(dtype_tag<std::int32_t>{});
    case dtype::u32: return f(dtype_tag<std::uint32_t>{});
    case dtype::i64: return f(dtype_tag<std::int64_t>{});
    case dtype::u64: return f(dtype_tag<std::uint64_t>{});
    case dtype::boolean: return f(dtype_tag<bool>{});
  }
  throw error("mixq: invalid dtype value");
}

/// Reads/writes any element as double: the lingua franca of reference kernels
/// that must handle every dtype (shape ops, compares, casts).
template <class T> inline double to_double(T v) noexcept {
  if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>) return static_cast<double>(static_cast<float>(v));
  else return static_cast<double>(v);
}
template <class T> inline T from_double(double v) noexcept {
  if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>) return T(static_cast<float>(v));
  else if constexpr (std::is_same_v<T, bool>) return v != 0.0;
  else if constexpr (std::is_integral_v<T>) {
    // Casting an out-of-range double to an integer is undefined: saturate instead.
    if (!(v == v)) return T{0};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else return static_cast<T>(v);
}

}  // namespace mixq
