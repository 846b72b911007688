#pragma once
// Prints a mixq::graph as TPU-MLIR prints a TOP module: `#loc = loc(unknown)` first, generic op form one op
// per line, sorted attribute dictionaries, `loc(#locN)` on every op and the location aliases at the end.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/detail/mlir_lexer.hpp"

namespace mixq {

namespace detail {

inline void append_attribute(std::string& out, const attribute& a, bool in_array) {
  if (auto b = a.get_if<bool>()) {
    out += *b ? "true" : "false";
  } else if (auto i = a.get_if<int_attr>()) {
    out += std::to_string(i->value);
    if (!(in_array && i->type == "i64")) {
      out += " : ";
      out += i->type.empty() ? std::string("i64") : i->type;
    }
  } else if (auto f = a.get_if<float_attr>()) {
    const std::string& type = f->type.empty() ? std::string("f64") : f->type;
    append_float(out, f->value, type);
    if (!(in_array && type == "f64")) {
      out += " : ";
      out += type;
    }
  } else if (auto s = a.get_if<std::string>()) {
    append_escaped_string(out, *s);
  } else if (auto arr = a.get_if<attr_array>()) {
    out += '[';
    for (std::size_t k = 0; k < arr->size(); ++k) {
      if (k) out += ", ";
      append_attribute(out, (*arr)[k], true);
    }
    out += ']';
  } else if (auto o = a.get_if<opaque_attr>()) {
    out += o->text;
  } else {
    out += "unit";
  }
}

/// `{a = 1 : i64, b}`; nothing for an empty dictionary.
inline void append_attr_dict(std::string& out, const attr_dict& d) {
  if (d.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : d) {
    if (!first) out += ", ";
    first = false;
    append_identifier(out, key);
    if (!value.is<unit_attr>()) {
      out += " = ";
      append_attribute(out, value, false);
    }
  }
  out += '}';
}

/// Assigns `#locN` aliases the way MLIR numbers them: every plain name first, in order of first use, then
/// the fused locations (which refer to the names), so that each definition only uses earlier ones.
/// `add` every location first, then ask for `reference`s.
class loc_numbering {
 public:
  void add(const std::vector<std::string>& names) {
    if (names.empty()) return;
    if (all_same(names)) {
      (void)name_ref(names[0]);
      return;
    }
    std::string key = fused_key(names);
    if (!fused_index_.count(key)) {
      fused_index_.emplace(key, fused_.size());
      fused_.push_back(std::move(key));
    }
  }
  /// The alias (`#loc3`) of a location added before.
  std::string reference(const std::vector<std::string>& names) {
    if (names.empty()) return "#loc";
    if (all_same(names)) return name_ref(names[0]);
    return "#loc" + std::to_string(names_.size() + 1 + fused_index_.at(fused_key(names)));
  }
  void append_definitions(std::string& out) const {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      out += "#loc" + std::to_string(i + 1) + " = loc(";
      append_escaped_string(out, names_[i]);
      out += ")\n";
    }
    for (std::size_t i = 0; i < fused_.size(); ++i)
      out += "#loc" + std::to_string(names_.size() + 1 + i) + " = loc(fused[" + fused_[i] + "])\n";
  }

 private:
  static bool all_same(const std::vector<std::string>& names) {
    for (const auto& n : names)
      if (n != names[0]) return false;
    return true;
  }
  std::string fused_key(const std::vector<std::string>& names) {
    std::string key;
    for (const auto& n : names) {
      if (!key.empty()) key += ", ";
      key += name_ref(n);
    }
    return key;
  }
  std::string name_ref(const std::string& name) {
    if (name.empty()) return "#loc";
    auto it = name_index_.find(name);
    if (it == name_index_.end()) {
      it = name_index_.emplace(name, names_.size() + 1).first;
      names_.push_back(name);
    }
    return "#loc" + std::to_string(it->second);
  }

  std::vector<std::string> names_;
  std::unordered_map<std::string, std::size_t> name_index_;
  std::vector<std::string> fused_;
  std::unordered_map<std::string, std::size_t> fused_index_;
};

}  // namespace detail

/// The module as TPU-MLIR's model_transform would print it.
inline std::string print_mlir(const graph& g) {
  using detail::append_type;
  std::string out;
  out.reserve(256 + g.nodes.size() * 160);
  detail::loc_numbering locs;

  // SSA spelling of every value: %argN for arguments, %N or %N#i for op results (one number per op).
  std::vector<std::string> ssa(g.values.size());
  for (std::size_t i = 0; i < g.arguments.size(); ++i) ssa.at(static_cast<std::size_t>(g.arguments[i])) = "%arg" + std::to_string(i);
  int counter = 0;
  for (const node& n : g.nodes) {
    if (n.results.empty()) continue;
    const std::string base = "%" + std::to_string(counter++);
    for (std::size_t r = 0; r < n.results.size(); ++r)
      ssa.at(static_cast<std::size_t>(n.results[r])) = n.results.size() == 1 ? base : base + "#" + std::to_string(r);
  }
  auto value_ref = [&](int v) -> const std::string& {
    const std::string& s = ssa.at(static_cast<std::size_t>(v));
    if (s.empty()) throw error("print_mlir: value " + std::to_string(v) + " is neither an argument nor an op result");
    return s;
  };
  auto append_types = [&](const std::vector<int>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out += ", ";
      append_type(out, g.values.at(static_cast<std::size_t>(values[i])).type);
    }
  };

  std::vector<std::string> names;
  auto result_names = [&](const node& n) -> const std::vector<std::string>& {
    names.clear();
    for (int r : n.results) names.push_back(g.values.at(static_cast<std::size_t>(r)).name);
    return names;
  };
  for (int a : g.arguments)
    if (const auto& name = g.values.at(static_cast<std::size_t>(a)).name; !name.empty()) locs.add({name});
  for (const node& n : g.nodes) locs.add(result_names(n));

  out += "#loc = loc(unknown)\nmodule";
  const bool legacy = g.legacy_module_form || g.name.empty();
  if (!legacy) {
    out += " @";
    detail::append_identifier(out, g.name);
  }
  if (!g.module_attributes.empty()) {
    out += " attributes ";
    detail::append_attr_dict(out, g.module_attributes);
  }
  out += " {\n  func.func @";
  detail::append_identifier(out, g.function_name.empty() ? std::string("main") : g.function_name);
  out += '(';
  for (std::size_t i = 0; i < g.arguments.size(); ++i) {
    if (i) out += ", ";
    const value_info& v = g.values.at(static_cast<std::size_t>(g.arguments[i]));
    out += value_ref(g.arguments[i]);
    out += ": ";
    append_type(out, v.type);
    out += v.name.empty() ? std::string(" loc(unknown)") : " loc(" + locs.reference({v.name}) + ")";
  }
  out += ')';
  if (g.outputs.size() == 1) {
    out += " -> ";
    append_types(g.outputs);
  } else if (!g.outputs.empty()) {
    out += " -> (";
    append_types(g.outputs);
    out += ')';
  }
  out += " {\n";

  for (const node& n : g.nodes) {
    out += "    ";
    if (!n.results.empty()) {
      out += ssa.at(static_cast<std::size_t>(n.results[0])).substr(0, ssa[static_cast<std::size_t>(n.results[0])].find('#'));
      if (n.results.size() > 1) out += ':' + std::to_string(n.results.size());
      out += " = ";
    }
    out += '"';
    out += n.mnemonic();
    out += "\"(";
    for (std::size_t i = 0; i < n.operands.size(); ++i) {
      if (i) out += ", ";
      out += value_ref(n.operands[i]);
    }
    out += ')';
    if (!n.attrs.empty()) {
      out += ' ';
      detail::append_attr_dict(out, n.attrs);
    }
    out += " : (";
    append_types(n.operands);
    out += ") -> ";
    if (n.results.size() == 1) {
      append_types(n.results);
    } else {
      out += '(';
      append_types(n.results);
      out += ')';
    }
    out += " loc(" + locs.reference(result_names(n)) + ")\n";
  }

  out += "    return";
  if (!g.outputs.empty()) {
    out += ' ';
    for (std::size_t i = 0; i < g.outputs.size(); ++i) {
      if (i) out += ", ";
      out += value_ref(g.outputs[i]);
    }
    out += " : ";
    append_types(g.outputs);
  }
  out += " loc(#loc)\n  } loc(#loc)\n} loc(#loc)\n";
  locs.append_definitions(out);
  return out;
}

/// Writes print_mlir(g) to `path` through a temporary file and a rename, so a failure never leaves a
/// partial file behind.
inline void write_mlir(const graph& g, const std::string& path) {
  const std::string text = print_mlir(g);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
  const std::string tmp = path + ".tmp-" + suffix;
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw error("cannot write MLIR file '" + path + "': cannot create '" + tmp + "'");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    if (!f) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw error("cannot write MLIR file '" + path + "': writing '" + tmp + "' failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw error("cannot write MLIR file '" + path + "': " + ec.message());
  }
}

}  // namespace mixq
