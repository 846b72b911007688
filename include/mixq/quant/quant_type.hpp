#pragma once
// MLIR's quantized element types as data: `!quant.calibrated<f32<min:max>>` (a calibrated TOP
// tensor) and `!quant.uniform<i8:f32, scale[:zero_point]>` (a lowered integer tensor), parsed from
// and printed to the text kept in tensor_type::quant. Scales and ranges print with round-trip
// precision (shortest exact decimal), because the evaluator reads them back from the file.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "mixq/core/dtype.hpp"
#include "mixq/core/error.hpp"

namespace mixq::quant {

struct calibrated_type {
  dtype expressed = dtype::f32;
  double min = 0, max = 0;
  friend bool operator==(const calibrated_type&, const calibrated_type&) = default;
};

struct uniform_type {
  dtype storage = dtype::i8;    // i8, u8, i16, i32...
  dtype expressed = dtype::f32;
  double scale = 1.0;
  std::int64_t zero_point = 0;
  friend bool operator==(const uniform_type&, const uniform_type&) = default;
};

namespace detail {

/// Shortest decimal that parses back to the same double (std::to_chars), in MLIR's float syntax:
/// always with a '.' or an exponent so it reads as a float, never as an integer.
inline std::string format_double(double v) {
  if (std::isnan(v) || std::isinf(v)) throw error("quant: a quantized type cannot hold " + std::to_string(v));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) throw error("quant: cannot format a double");
  std::string s(buf, end);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  else if (s.find('.') == std::string::npos) {  // "1e-05" -> "1.0e-05"
    const auto e = s.find_first_of("eE");
    s.insert(e, ".0");
  }
  return s;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

inline std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

inline std::optional<dtype> parse_storage(std::string_view s) {
  s = trim(s);
  if (s == "i8" || s == "si8") return dtype::i8;
  if (s == "u8" || s == "ui8") return dtype::u8;
  if (s == "i16" || s == "si16") return dtype::i16;
  if (s == "u16" || s == "ui16") return dtype::u16;
  if (s == "i32" || s == "si32") return dtype::i32;
  if (s == "u32" || s == "ui32") return dtype::u32;
  return std::nullopt;
}

inline std::optional<dtype> parse_float_name(std::string_view s) {
  s = trim(s);
  if (s == "f32") return dtype::f32;
  if (s == "f16") return dtype::f16;
  if (s == "bf16") return dtype::bf16;
  if (s == "f64") return dtype::f64;
  return std::nullopt;
}

inline std::string_view float_name(dtype d) {
  switch (d) {
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::bf16: return "bf16";
    case dtype::f64: return "f64";
    default: throw error("quant: not a float expressed type");
  }
}

inline std::string_view storage_name(dtype d) {
  switch (d) {
    case dtype::i8: return "i8";
    case dtype::u8: return "u8";
    case dtype::i16: return "i16";
    case dtype::u16: return "u16";
    case dtype::i32: return "i32";
    case dtype::u32: return "u32";
    default: throw error("quant: not an integer storage type");
  }
}

}  // namespace detail

/// `!quant.calibrated<f32<-1.5:2.25>>`; nullopt for any other text.
inline std::optional<calibrated_type> parse_calibrated(std::string_view q) {
  constexpr std::string_view head = "!quant.calibrated<";
  if (q.substr(0, head.size()) != head || q.size() < head.size() + 2 || q.substr(q.size() - 2) != ">>") return std::nullopt;
  const std::string_view body = q.substr(head.size(), q.size() - head.size() - 2);  // f32<min:max
  const auto lt = body.find('<');
  if (lt == std::string_view::npos) return std::nullopt;
  const auto e = detail::parse_float_name(body.substr(0, lt));
  const std::string_view range = body.substr(lt + 1);
  // The separator is the ':' that is not part of an exponent sign (numbers never contain ':').
  const auto colon = range.find(':');
  if (!e || colon == std::string_view::npos) return std::nullopt;
  const auto mn = detail::parse_double(range.substr(0, colon)), mx = detail::parse_double(range.substr(colon + 1));
  if (!mn || !mx) return std::nullopt;
  return calibrated_type{*e, *mn, *mx};
}

/// `!quant.uniform<i8:f32, 0.015625>` or `<u8:f32, 0.0235:-3>` (per-tensor only); nullopt otherwise.
inline std::optional<uniform_type> parse_uniform(std::string_view q) {
  constexpr std::string_view head = "!quant.uniform<";
  if (q.substr(0, head.size()) != head || q.back() != '>') return std::nullopt;
  const std::string_view body = q.substr(head.size(), q.size() - head.size() - 1);
  const auto comma = body.find(',');
  if (comma == std::string_view::npos || body.find('{') != std::string_view::npos) return std::nullopt;
  const std::string_view types = body.substr(0, comma), params = body.substr(comma + 1);
  const auto colon = types.find(':');
  if (colon == std::string_view::npos || types.find('<') != std::string_view::npos) return std::nullopt;
  const auto st = detail::parse_storage(types.substr(0, colon));
  const auto ex = detail::parse_float_name(types.substr(colon + 1));
  if (!st || !ex) return std::nullopt;
  uniform_type u;
  u.storage = *st;
  u.expressed = *ex;
  const auto pc = params.find(':');
  const auto s = detail::parse_double(params.substr(0, pc));
  if (!s) return std::nullopt;
  u.scale = *s;
  if (pc != std::string_view::npos) {
    const std::string_view z = detail::trim(params.substr(pc + 1));
    std::int64_t zp = 0;
    auto [p, ec] = std::from_chars(z.data(), z.data() + z.size(), zp);
    if (ec != std::errc() || p != z.data() + z.size()) return std::nullopt;
    u.zero_point = zp;
  }
  return u;
}

inline std::string format(const calibrated_type& c) {
  return "!quant.calibrated<" + std::string(detail::float_name(c.expressed)) + "<" + detail::format_double(c.min) + ":" +
         detail::format_double(c.max) + ">>";
}

inline std::string format(const uniform_type& u) {
  std::string s = "!quant.uniform<" + std::string(detail::storage_name(u.storage)) + ":" + std::string(detail::float_name(u.expressed)) +
                  ", " + detail::format_double(u.scale);
  if (u.zero_point != 0) s += ":" + std::to_string(u.zero_point);
  return s + ">";
}

}  // namespace mixq::quant
