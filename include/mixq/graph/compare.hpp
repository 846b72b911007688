#pragma once
// Structural equality of two graphs: what survives printing and re-parsing a module (names, types,
// attributes, operands, outputs, module attributes). Weights are not compared.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/detail/mlir_lexer.hpp"

namespace mixq {

namespace detail {

/// Splits MLIR text into tokens, dropping whitespace (strings stay whole).
inline std::vector<std::string_view> mlir_tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    if (c == '"') {
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      j = j < s.size() ? j + 1 : s.size();
    } else if (is_digit(c) || ((c == '-' || c == '+') && i + 1 < s.size() && is_digit(s[i + 1]))) {
      if (c == '0' && j < s.size() && s[j] == 'x') {
        ++j;
        while (j < s.size() && is_hex_digit(s[j])) ++j;
      } else {
        while (j < s.size() && is_digit(s[j])) ++j;
        if (j < s.size() && s[j] == '.') {
          ++j;
          while (j < s.size() && is_digit(s[j])) ++j;
        }
        if (j < s.size() && (s[j] == 'e' || s[j] == 'E') && j + 1 < s.size() &&
            (is_digit(s[j + 1]) || ((s[j + 1] == '+' || s[j + 1] == '-') && j + 2 < s.size() && is_digit(s[j + 2])))) {
          j += 2;
          while (j < s.size() && is_digit(s[j])) ++j;
        }
      }
    } else if (is_letter(c) || c == '_') {
      while (j < s.size() && is_bare_id_char(s[j])) ++j;
    }
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

/// Same MLIR text up to whitespace and number spelling (`1.5` vs `1.500000e+00`). Numbers may differ by
/// `rel_tol` relatively: mlir-opt re-prints quantization parameters with 7 significant digits.
inline bool same_mlir_text(std::string_view a, std::string_view b, double rel_tol = 0.0) {
  if (a == b) return true;
  const auto ta = mlir_tokens(a), tb = mlir_tokens(b);
  if (ta.size() != tb.size()) return false;
  for (std::size_t i = 0; i < ta.size(); ++i) {
    if (ta[i] == tb[i]) continue;
    auto is_number = [](std::string_view t) {
      return is_digit(t[0]) || ((t[0] == '-' || t[0] == '+') && t.size() > 1 && is_digit(t[1]));
    };
    if (!is_number(ta[i]) || !is_number(tb[i]) || ta[i].starts_with("0x") || tb[i].starts_with("0x")) return false;
    char* end_a = nullptr;
    char* end_b = nullptr;
    const std::string sa(ta[i]), sb(tb[i]);
    const double va = std::strtod(sa.c_str(), &end_a), vb = std::strtod(sb.c_str(), &end_b);
    if (*end_a || *end_b || end_a == sa.c_str() || end_b == sb.c_str()) return false;
    if (!(va == vb || std::abs(va - vb) <= rel_tol * std::max(std::abs(va), std::abs(vb)))) return false;
  }
  return true;
}

inline bool same_attribute(const attribute& a, const attribute& b) {
  if (a.value.index() != b.value.index()) return false;
  if (auto oa = a.get_if<opaque_attr>()) return same_mlir_text(oa->text, b.get_if<opaque_attr>()->text);
  if (auto arr = a.get_if<attr_array>()) {
    const attr_array& other = *b.get_if<attr_array>();
    if (arr->size() != other.size()) return false;
    for (std::size_t i = 0; i < arr->size(); ++i)
      if (!same_attribute((*arr)[i], other[i])) return false;
    return true;
  }
  if (auto fa = a.get_if<float_attr>()) {
    const float_attr& fb = *b.get_if<float_attr>();
    if (fa->type != fb.type) return false;
    // -0.0 and 0.0 differ in MLIR text; NaNs compare equal (their payloads print as written).
    return (fa->value != fa->value && fb.value != fb.value) ||
           (fa->value == fb.value && std::signbit(fa->value) == std::signbit(fb.value));
  }
  return a == b;
}

inline bool same_dict(const attr_dict& a, const attr_dict& b, std::string& why) {
  auto ia = a.begin(), ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (ia->first != ib->first) {
      why = "attribute '" + (ia->first < ib->first ? ia->first : ib->first) + "' is only in one of them";
      return false;
    }
    if (!same_attribute(ia->second, ib->second)) {
      why = "attribute '" + ia->first + "' differs";
      return false;
    }
  }
  if (ia != a.end() || ib != b.end()) {
    why = "attribute '" + (ia != a.end() ? ia->first : ib->first) + "' is only in one of them";
    return false;
  }
  return true;
}

inline bool same_type(const tensor_type& a, const tensor_type& b) {
  if (a.is_none || b.is_none) return a.is_none == b.is_none;
  return a.elem == b.elem && a.shape == b.shape && same_mlir_text(a.quant, b.quant, 1e-6);
}

/// A value's place in its graph: argument k, or result r of node n.
inline std::pair<int, int> value_place(const graph& g, int v) {
  const value_info& vi = g.values.at(static_cast<std::size_t>(v));
  return {vi.producer, vi.result_index};
}

}  // namespace detail

/// True when the graphs print the same up to alias numbering, whitespace inside dialect attributes and
/// number spelling; otherwise `why` (if given) says where they first differ.
inline bool equivalent(const graph& a, const graph& b, std::string* why = nullptr) {
  std::string reason;
  auto fail = [&](std::string r) {
    if (why) *why = std::move(r);
    return false;
  };
  const bool legacy_a = a.legacy_module_form || a.name.empty(), legacy_b = b.legacy_module_form || b.name.empty();
  if (legacy_a != legacy_b) return fail("one module has a symbol name, the other the legacy form");
  if (a.name != b.name) return fail("module names differ: \"" + a.name + "\" vs \"" + b.name + "\"");
  if (a.function_name != b.function_name) return fail("function names differ");
  if (!detail::same_dict(a.module_attributes, b.module_attributes, reason)) return fail("module: " + reason);
  if (a.arguments.size() != b.arguments.size())
    return fail(std::to_string(a.arguments.size()) + " vs " + std::to_string(b.arguments.size()) + " arguments");
  auto describe_value = [&](const value_info& v, int id) {
    return "value " + std::to_string(id) + (v.name.empty() ? std::string() : " \"" + v.name + "\"");
  };
  auto same_value = [&](int va, int vb, const std::string& where) {
    const value_info& x = a.values.at(static_cast<std::size_t>(va));
    const value_info& y = b.values.at(static_cast<std::size_t>(vb));
    if (detail::value_place(a, va) != detail::value_place(b, vb)) return fail(where + ": refers to different values");
    if (x.name != y.name) return fail(where + ": names differ: \"" + x.name + "\" vs \"" + y.name + "\"");
    if (!detail::same_type(x.type, y.type))
      return fail(where + ": " + describe_value(x, va) + " types differ: " + detail::type_text(x.type) + " vs " +
                  detail::type_text(y.type));
    return true;
  };
  for (std::size_t i = 0; i < a.arguments.size(); ++i)
    if (!same_value(a.arguments[i], b.arguments[i], "argument " + std::to_string(i))) return false;
  if (a.nodes.size() != b.nodes.size())
    return fail(std::to_string(a.nodes.size()) + " vs " + std::to_string(b.nodes.size()) + " ops");
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    const node& x = a.nodes[i];
    const node& y = b.nodes[i];
    const std::string where = "op " + std::to_string(i) + " (" + std::string(x.mnemonic()) +
                              (a.node_name(static_cast<int>(i)).empty() ? "" : " \"" + a.node_name(static_cast<int>(i)) + "\"") + ")";
    if (x.mnemonic() != y.mnemonic()) return fail(where + ": the other graph has " + std::string(y.mnemonic()));
    if (x.operands.size() != y.operands.size()) return fail(where + ": operand counts differ");
    if (x.results.size() != y.results.size()) return fail(where + ": result counts differ");
    for (std::size_t k = 0; k < x.operands.size(); ++k)
      if (!same_value(x.operands[k], y.operands[k], where + " operand " + std::to_string(k))) return false;
    for (std::size_t k = 0; k < x.results.size(); ++k)
      if (!same_value(x.results[k], y.results[k], where + " result " + std::to_string(k))) return false;
    if (!detail::same_dict(x.attrs, y.attrs, reason)) return fail(where + ": " + reason);
  }
  if (a.outputs.size() != b.outputs.size()) return fail("the functions return different numbers of values");
  for (std::size_t i = 0; i < a.outputs.size(); ++i)
    if (!same_value(a.outputs[i], b.outputs[i], "output " + std::to_string(i))) return false;
  return true;
}

}  // namespace mixq
