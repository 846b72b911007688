#pragma once
// Reads TOP-dialect .mlir text (TPU-MLIR's model_transform output, and mlir-opt's re-printing of it in the
// custom or generic form) into a mixq::graph. Weights are not loaded here.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/dialect/ops.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/detail/mlir_lexer.hpp"

namespace mixq {

namespace detail {

/// A parsed `loc(...)`, resolved to names only once the whole file (and its trailing aliases) is read.
struct loc_expr {
  enum kind_t : std::uint8_t { unknown, name, file_line_col, fused, callsite, alias } kind = unknown;
  std::string text;       // the name, or the alias
  std::vector<int> kids;  // fused elements; callsite: callee, caller; name: optional child
  std::size_t offset = 0;
};

class mlir_parser {
 public:
  mlir_parser(std::string_view text, std::string file, const top::registry& ops) : cur_(text, std::move(file)), ops_(ops) {}

  graph parse() {
    bool seen_module = false;
    for (;;) {
      cur_.skip_space();
      if (cur_.at_end()) break;
      const char c = cur_.peek();
      if (c == '#') {
        alias_definition();
      } else if (c == '!') {
        type_alias_definition();
      } else if (cur_.looking_at_word("module") || cur_.looking_at("\"builtin.module\"")) {
        if (seen_module) cur_.fail("a second module; a file holds one module");
        seen_module = true;
        module();
      } else {
        cur_.fail("expected a module or an alias definition, found " + cur_.describe_here());
      }
    }
    if (!seen_module) cur_.fail("no module in the file");
    name_values();
    return std::move(g_);
  }

 private:
  static constexpr int max_depth = 200;

  struct pending_names {
    std::vector<int> values;  // value ids named by this location
    int loc = -1;
    std::size_t offset = 0;
  };

  // ---------------------------------------------------------------- aliases and locations
  void alias_definition() {
    const std::size_t at = cur_.pos();
    cur_.expect("#", "");
    const std::string name(cur_.suffix_id());
    cur_.expect("=", "after the alias name #" + name);
    if (loc_aliases_.count(name) || attr_aliases_.count(name)) cur_.fail_at(at, "redefinition of alias #" + name);
    if (cur_.looking_at_word("loc")) {
      loc_aliases_.emplace(name, location());
    } else {
      attr_aliases_.emplace(name, attribute_value(0));
    }
  }
  void type_alias_definition() {
    const std::size_t at = cur_.pos();
    cur_.expect("!", "");
    const std::string name(cur_.suffix_id());
    cur_.expect("=", "after the type alias name !" + name);
    if (type_aliases_.count(name)) cur_.fail_at(at, "redefinition of type alias !" + name);
    cur_.skip_space();
    const std::size_t start = cur_.pos();
    skip_type();
    type_aliases_.emplace(name, std::string(cur_.text().substr(start, cur_.pos() - start)));
  }

  /// `loc(...)`; returns the index of the expression.
  int location() {
    cur_.expect("loc", "");
    cur_.expect("(", "after 'loc'");
    const int l = location_body(0);
    cur_.expect(")", "to close 'loc('");
    return l;
  }
  int optional_location() { return cur_.looking_at_word("loc") ? location() : -1; }

  int location_body(int depth) {
    if (depth > max_depth) cur_.fail("locations nested too deeply");
    cur_.skip_space();
    loc_expr e;
    e.offset = cur_.pos();
    if (cur_.accept_word("unknown")) {
      e.kind = loc_expr::unknown;
    } else if (cur_.peek() == '#') {
      cur_.seek(cur_.pos() + 1);
      e.kind = loc_expr::alias;
      e.text = cur_.suffix_id();
    } else if (cur_.peek() == '"') {
      e.text = cur_.string_literal();
      if (cur_.accept(":")) {  // FileLineCol: "file":line:col
        e.kind = loc_expr::file_line_col;
        unsigned_number("a line number");
        cur_.expect(":", "between line and column");
        unsigned_number("a column number");
        if (cur_.accept_word("to")) {  // a range, newer MLIR
          unsigned_number("a line or column number");
          if (cur_.accept(":")) unsigned_number("a column number");
        }
      } else {
        e.kind = loc_expr::name;
        if (cur_.accept("(")) {
          e.kids.push_back(location_body(depth + 1));
          cur_.expect(")", "to close the child location of a name location");
        }
      }
    } else if (cur_.accept_word("fused")) {
      e.kind = loc_expr::fused;
      if (cur_.looking_at("<")) cur_.skip_balanced();  // metadata: not a name
      cur_.expect("[", "after 'fused'");
      if (!cur_.accept("]")) {
        do e.kids.push_back(location_body(depth + 1));
        while (cur_.accept(","));
        cur_.expect("]", "to close 'fused['");
      }
    } else if (cur_.accept_word("callsite")) {
      e.kind = loc_expr::callsite;
      cur_.expect("(", "after 'callsite'");
      e.kids.push_back(location_body(depth + 1));
      cur_.expect("at", "in 'callsite(... at ...)'");
      e.kids.push_back(location_body(depth + 1));
      cur_.expect(")", "to close 'callsite('");
    } else {
      cur_.fail("expected a location, found " + cur_.describe_here());
    }
    locs_.push_back(std::move(e));
    return static_cast<int>(locs_.size()) - 1;
  }

  void unsigned_number(std::string_view what) {
    cur_.skip_space();
    if (!is_digit(cur_.peek())) cur_.fail("expected " + std::string(what) + ", found " + cur_.describe_here());
    while (is_digit(cur_.peek())) cur_.seek(cur_.pos() + 1);
  }

  /// The names a location gives, one per fused element.
  void location_names(int index, std::vector<std::string>& out, int depth) {
    if (depth > max_depth) cur_.fail_at(locs_[static_cast<std::size_t>(index)].offset, "location aliases form a cycle");
    const loc_expr& e = locs_[static_cast<std::size_t>(index)];
    switch (e.kind) {
      case loc_expr::unknown:
      case loc_expr::file_line_col: out.emplace_back(); break;
      case loc_expr::name: out.push_back(e.text); break;
      case loc_expr::callsite: {
        std::vector<std::string> callee;
        location_names(e.kids[0], callee, depth + 1);
        out.push_back(callee.empty() ? std::string() : callee[0]);
        break;
      }
      case loc_expr::fused:
        if (e.kids.empty()) out.emplace_back();
        for (int k : e.kids) location_names(k, out, depth + 1);
        break;
      case loc_expr::alias: {
        if (auto memo = alias_names_.find(e.text); memo != alias_names_.end()) {
          out.insert(out.end(), memo->second.begin(), memo->second.end());
          break;
        }
        auto it = loc_aliases_.find(e.text);
        if (it == loc_aliases_.end()) cur_.fail_at(e.offset, "location alias #" + e.text + " is not defined");
        std::vector<std::string> names;
        location_names(it->second, names, depth + 1);
        out.insert(out.end(), names.begin(), names.end());
        alias_names_.emplace(e.text, std::move(names));
        break;
      }
    }
  }

  /// Names every value from its location, now that every alias is known.
  void name_values() {
    std::vector<std::string> names;
    for (const pending_names& p : named_) {
      if (p.loc < 0 || p.values.empty()) continue;
      names.clear();
      location_names(p.loc, names, 0);
      const std::size_t n = p.values.size();
      if (names.size() != n) {
        if (names.size() == 1 && n > 1) names.resize(n, names[0]);  // one name for every result, as TPU-MLIR reads it
        else if (n == 1) names.resize(1);                         // a fused location on a one-result op: its first name
        else
          cur_.fail_at(p.offset, "the location gives " + std::to_string(names.size()) + " names for an op with " +
                                     std::to_string(n) + " results");
      }
      for (std::size_t i = 0; i < n; ++i) g_.values[static_cast<std::size_t>(p.values[i])].name = std::move(names[i]);
    }
  }

  // ---------------------------------------------------------------- types
  /// Skips any type, for types mixq keeps only as text (type attributes, function_type).
  void skip_type() {
    cur_.skip_space();
    const std::size_t start = cur_.pos();
    if (cur_.peek() == '(') {
      cur_.skip_balanced();
      cur_.expect("->", "in a function type");
      cur_.skip_space();
      if (cur_.peek() == '(') cur_.skip_balanced();  // a result list
      else skip_type();
      return;
    }
    if (cur_.peek() == '!') {
      cur_.seek(cur_.pos() + 1);
      cur_.suffix_id();
    } else if (cur_.bare_id().empty()) {
      cur_.fail_at(start, "expected a type, found " + cur_.describe_here());
    }
    if (cur_.peek() == '<') cur_.skip_balanced();
  }

  /// A value type: `tensor<...>` or `none`.
  tensor_type value_type() {
    cur_.skip_space();
    const std::size_t start = cur_.pos();
    if (cur_.peek() == '!') {  // a type alias
      cur_.seek(cur_.pos() + 1);
      const std::string name(cur_.suffix_id());
      auto it = type_aliases_.find(name);
      if (it == type_aliases_.end()) cur_.fail_at(start, "type alias !" + name + " is not defined");
      mlir_parser sub(it->second, cur_.file(), ops_);
      try {
        return sub.value_type();
      } catch (const parse_error& e) {
        cur_.fail_at(start, "in type alias !" + name + ": " + e.what());
      }
    }
    if (cur_.accept_word("none")) return tensor_type::none();
    if (!cur_.accept_word("tensor")) cur_.fail("expected a tensor type or 'none', found " + cur_.describe_here());
    cur_.expect("<", "after 'tensor'");
    tensor_type t;
    for (;;) {
      cur_.skip_space();
      const char c = cur_.peek();
      if (c == '?') cur_.fail("dynamic shapes are not supported ('?' dimension)");
      if (c == '*') cur_.fail("unranked tensors are not supported");
      if (!is_digit(c)) break;
      std::int64_t d = 0;
      const std::size_t dim_at = cur_.pos();
      while (is_digit(cur_.peek())) {
        if (d > (INT64_MAX - 9) / 10) cur_.fail_at(dim_at, "tensor dimension is too large");
        d = d * 10 + (cur_.peek() - '0');
        cur_.seek(cur_.pos() + 1);
      }
      t.shape.push_back(d);
      if (cur_.peek() != 'x') cur_.fail("expected 'x' after a tensor dimension, found " + cur_.describe_here());
      cur_.seek(cur_.pos() + 1);
    }
    cur_.skip_space();
    const std::size_t elem_at = cur_.pos();
    if (cur_.peek() == '!') {
      cur_.seek(cur_.pos() + 1);
      cur_.suffix_id();
      if (cur_.peek() == '<') cur_.skip_balanced();
      t.quant = std::string(cur_.text().substr(elem_at, cur_.pos() - elem_at));
      t.elem = quant_element_type(t.quant, elem_at);
    } else {
      const std::string_view name = cur_.bare_id();
      const auto d = dtype_from_mlir(name);
      if (!d) cur_.fail_at(elem_at, "unsupported tensor element type '" + std::string(name.empty() ? cur_.describe_here() : name) + "'");
      t.elem = *d;
    }
    if (cur_.looking_at(",")) cur_.fail("tensor encodings are not supported");
    cur_.expect(">", "to close 'tensor<'");
    return t;
  }

  /// What a tensor of a quantized type holds: the storage type of `!quant.uniform<i8:f32, ...>`
  /// (a lowered integer tensor), the expressed type of `!quant.calibrated<f32<...>>` and of the
  /// other quant types (their values are floats).
  dtype quant_element_type(std::string_view q, std::size_t at) const {
    constexpr std::string_view uniform = "!quant.uniform<";
    if (q.substr(0, uniform.size()) == uniform) {
      std::size_t i = uniform.size();
      std::size_t j = i;
      while (j < q.size() && is_bare_id_char(q[j])) ++j;
      const std::string_view storage = q.substr(i, j - i);
      if (storage == "i8" || storage == "si8") return dtype::i8;
      if (storage == "u8" || storage == "ui8") return dtype::u8;
      if (storage == "i16" || storage == "si16") return dtype::i16;
      if (storage == "u16" || storage == "ui16") return dtype::u16;
      if (storage == "i32" || storage == "si32") return dtype::i32;
      if (storage == "u32" || storage == "ui32") return dtype::u32;
      cur_.fail_at(at, "unsupported storage type '" + std::string(storage) + "' in '" + std::string(q) + "'");
    }
    return quant_expressed_type(q, at);
  }

  /// The expressed type of `!quant.calibrated<f32<...>>`, `!quant.uniform<i8:f32, ...>`, `!quant.any<i8:f32>`:
  /// what the values mean in float.
  dtype quant_expressed_type(std::string_view q, std::size_t at) const {
    const auto lt = q.find('<');
    if (lt == std::string_view::npos) cur_.fail_at(at, "unsupported element type '" + std::string(q) + "'");
    const std::string_view kind = q.substr(0, lt);
    std::string_view body = q.substr(lt + 1);
    auto ident_at = [](std::string_view s, std::size_t i) {
      while (i < s.size() && s[i] == ' ') ++i;
      std::size_t j = i;
      while (j < s.size() && is_bare_id_char(s[j])) ++j;
      return std::pair{s.substr(i, j - i), j};
    };
    std::string_view expressed;
    if (kind == "!quant.calibrated") {
      expressed = ident_at(body, 0).first;
    } else if (kind == "!quant.uniform" || kind == "!quant.any" || kind == "!quant.quantile") {
      // storage type (maybe `i8<-127:127>`), then ':' and the expressed type
      auto [storage, i] = ident_at(body, 0);
      (void)storage;
      if (i < body.size() && body[i] == '<') {
        const auto close = body.find('>', i);
        i = close == std::string_view::npos ? body.size() : close + 1;
      }
      while (i < body.size() && body[i] == ' ') ++i;
      if (i < body.size() && body[i] == ':') expressed = ident_at(body, i + 1).first;
    } else {
      cur_.fail_at(at, "unsupported element type '" + std::string(q) + "'");
    }
    const auto d = dtype_from_mlir(expressed);
    if (!d) cur_.fail_at(at, "cannot find the expressed type of quantized type '" + std::string(q) + "'");
    return *d;
  }

  std::vector<tensor_type> type_list_in_parens() {
    std::vector<tensor_type> out;
    cur_.expect("(", "to start a type list");
    if (cur_.accept(")")) return out;
    do out.push_back(value_type());
    while (cur_.accept(","));
    cur_.expect(")", "to close a type list");
    return out;
  }
  /// `(types) -> type` or `(types) -> (types)`.
  std::pair<std::vector<tensor_type>, std::vector<tensor_type>> function_type() {
    auto inputs = type_list_in_parens();
    cur_.expect("->", "in a function type");
    if (cur_.looking_at("(")) return {std::move(inputs), type_list_in_parens()};
    return {std::move(inputs), {value_type()}};
  }

  // ---------------------------------------------------------------- attributes
  attr_dict attribute_dictionary(char close = '}') {
    attr_dict d;
    const std::string closer(1, close);
    if (cur_.accept(closer)) return d;
    do {
      cur_.skip_space();
      const std::size_t key_at = cur_.pos();
      std::string key;
      if (cur_.peek() == '"') key = cur_.string_literal();
      else key = std::string(cur_.bare_id());
      if (key.empty()) cur_.fail("expected an attribute name, found " + cur_.describe_here());
      attribute value = unit_attr{};
      if (cur_.accept("=")) value = attribute_value(0);
      if (d.contains(key)) cur_.fail_at(key_at, "attribute '" + key + "' appears twice");
      d.set(std::move(key), std::move(value));
    } while (cur_.accept(","));
    cur_.expect(closer, "to close the attribute dictionary");
    return d;
  }

  /// Text from `start` to the cursor, plus a `: type` suffix when there is one.
  opaque_attr opaque_from(std::size_t start) {
    const std::size_t end = cur_.pos();
    if (cur_.accept(":")) {
      skip_type();
      return {std::string(cur_.text().substr(start, cur_.pos() - start))};
    }
    return {std::string(cur_.text().substr(start, end - start))};
  }

  attribute attribute_value(int depth) {
    if (depth > max_depth) cur_.fail("attributes nested too deeply");
    cur_.skip_space();
    const std::size_t start = cur_.pos();
    const char c = cur_.peek();
    if (c == '[') {
      cur_.seek(start + 1);
      attr_array arr;
      if (!cur_.accept("]")) {
        do arr.push_back(attribute_value(depth + 1));
        while (cur_.accept(","));
        cur_.expect("]", "to close the array");
      }
      return arr;
    }
    if (c == '"') {
      std::string s = cur_.string_literal();
      if (cur_.looking_at(":")) return opaque_from(start);  // a typed string: rare, keep as written
      return s;
    }
    if (c == '-' || is_digit(c)) return number_attribute(start);
    if (c == '#') {
      cur_.seek(start + 1);
      const std::string name(cur_.suffix_id());
      if (cur_.peek() == '<') {
        cur_.skip_balanced();
      } else if (auto it = attr_aliases_.find(name); it != attr_aliases_.end()) {
        return it->second;
      }
      return opaque_from(start);
    }
    if (c == '{') {
      cur_.skip_balanced();
      return opaque_from(start);
    }
    if (c == '@') {
      do {
        cur_.seek(cur_.pos() + 1);
        if (cur_.peek() == '"') cur_.skip_string_literal();
        else cur_.suffix_id();
      } while (cur_.peek() == ':' && cur_.peek(1) == ':' && cur_.peek(2) == '@' && (cur_.seek(cur_.pos() + 2), true));
      return opaque_from(start);
    }
    if (c == '(' || c == '!') {
      skip_type();
      return opaque_attr{std::string(cur_.text().substr(start, cur_.pos() - start))};
    }
    const std::string_view word = cur_.bare_id();
    if (word.empty()) cur_.fail("expected an attribute value, found " + cur_.describe_here());
    if (word == "true" || word == "false") {
      if (cur_.accept(":")) skip_type();
      return word == "true";
    }
    if (word == "unit") return unit_attr{};
    if (word == "loc") cur_.fail_at(start, "a location is not an attribute value here");
    // dense<...>, affine_map<...>, array<...>, and type attributes: kept as written
    if (cur_.peek() == '<') cur_.skip_balanced();
    return opaque_from(start);
  }

  static bool is_integer_type(std::string_view t) {
    std::string_view digits = t;
    if (t.starts_with("si") || t.starts_with("ui")) digits = t.substr(2);
    else if (t.starts_with("i")) digits = t.substr(1);
    else return t == "index";
    if (digits.empty()) return false;
    for (char ch : digits)
      if (!is_digit(ch)) return false;
    return true;
  }
  static bool is_float_type(std::string_view t) {
    return t == "f16" || t == "bf16" || t == "f32" || t == "f64" || t == "f80" || t == "f128" || t == "tf32";
  }

  attribute number_attribute(std::size_t start) {
    const bool negative = cur_.peek() == '-';
    if (negative) {
      cur_.seek(start + 1);
      cur_.skip_space();
    }
    const std::size_t num_at = cur_.pos();
    if (!is_digit(cur_.peek())) cur_.fail("expected a number after '-', found " + cur_.describe_here());
    bool hex = false, is_float = false;
    if (cur_.peek() == '0' && cur_.peek(1) == 'x' && is_hex_digit(cur_.peek(2))) {
      hex = true;
      cur_.seek(num_at + 2);
      while (is_hex_digit(cur_.peek())) cur_.seek(cur_.pos() + 1);
    } else {
      while (is_digit(cur_.peek())) cur_.seek(cur_.pos() + 1);
      if (cur_.peek() == '.') {
        is_float = true;
        cur_.seek(cur_.pos() + 1);
        while (is_digit(cur_.peek())) cur_.seek(cur_.pos() + 1);
        if ((cur_.peek() == 'e' || cur_.peek() == 'E') &&
            (is_digit(cur_.peek(1)) || ((cur_.peek(1) == '+' || cur_.peek(1) == '-') && is_digit(cur_.peek(2))))) {
          cur_.seek(cur_.pos() + 2);
          while (is_digit(cur_.peek())) cur_.seek(cur_.pos() + 1);
        }
      }
    }
    const std::string_view literal = cur_.text().substr(num_at, cur_.pos() - num_at);
    std::string type;
    if (cur_.accept(":")) {
      cur_.skip_space();
      const std::size_t type_at = cur_.pos();
      type = std::string(cur_.bare_id());
      if (!is_integer_type(type) && !is_float_type(type))
        cur_.fail_at(type_at, "expected an integer or float type after the number, found " + cur_.describe_here());
    }
    if (is_float || is_float_type(type)) {
      if (type.empty()) type = "f64";
      if (!is_float_type(type)) cur_.fail_at(num_at, "a float literal needs a float type, not " + type);
      double v = 0;
      if (hex) {
        if (negative) cur_.fail_at(start, "a hexadecimal float bit pattern cannot be negative");
        const std::uint64_t bits = parse_unsigned(literal.substr(2), 16, num_at);
        if (float_type_width(type) < 64 && (bits >> float_type_width(type)) != 0)
          cur_.fail_at(num_at, "hexadecimal literal is too wide for " + type);
        v = float_from_bits(bits, type);
      } else {
        const auto r = std::from_chars(literal.data(), literal.data() + literal.size(), v);
        if (r.ec == std::errc::result_out_of_range) cur_.fail_at(num_at, "float literal is out of range");
        if (negative) v = -v;
        v = round_to_float_type(v, type);
      }
      return float_attr{v, type};
    }
    if (type.empty()) type = "i64";
    const std::uint64_t magnitude = hex ? parse_unsigned(literal.substr(2), 16, num_at) : parse_unsigned(literal, 10, num_at);
    if (type == "i1") {
      if (negative || magnitude > 1) cur_.fail_at(start, "an i1 value must be 0 or 1");
      return magnitude == 1;
    }
    if (negative && type.starts_with("ui")) cur_.fail_at(start, "negative value for unsigned type " + type);
    if (magnitude > static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1u : 0u))
      cur_.fail_at(num_at, "integer literal does not fit in 64 bits");
    const std::int64_t v = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    return int_attr{v, type};
  }

  std::uint64_t parse_unsigned(std::string_view digits, int base, std::size_t at) const {
    std::uint64_t v = 0;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (r.ec != std::errc() || r.ptr != digits.data() + digits.size())
      cur_.fail_at(at, "integer literal does not fit in 64 bits");
    return v;
  }

  // ---------------------------------------------------------------- module and function
  void module() {
    const std::size_t at = cur_.pos();
    if (cur_.accept_word("module")) {
      cur_.skip_space();
      if (cur_.peek() == '@') g_.name = symbol_name();
      else g_.legacy_module_form = true;
      if (cur_.accept_word("attributes")) {
        cur_.expect("{", "after 'attributes'");
        g_.module_attributes = attribute_dictionary();
      }
      cur_.expect("{", "to open the module body");
      module_body(at);
      cur_.expect("}", "to close the module");
    } else {
      cur_.expect("\"builtin.module\"", "");
      cur_.expect("(", "after \"builtin.module\"");
      cur_.expect(")", "(a module has no operands)");
      bool has_name = false;
      if (cur_.accept("<{")) {
        attr_dict props = attribute_dictionary('}');
        cur_.expect(">", "to close the properties");
        if (auto n = props.find("sym_name")) {
          if (!n->is<std::string>()) cur_.fail_at(at, "the module's sym_name is not a string");
          g_.name = *n->get_if<std::string>();
          has_name = true;
        }
      }
      g_.legacy_module_form = !has_name;
      cur_.expect("(", "to open the module region");
      cur_.expect("{", "to open the module region");
      if (cur_.looking_at("^")) block_label(nullptr);
      module_body(at);
      cur_.expect("}", "to close the module region");
      cur_.expect(")", "to close the module region");
      if (cur_.accept("{")) g_.module_attributes = attribute_dictionary();
      cur_.expect(":", "before the module's type");
      (void)function_type();
    }
    optional_location();
    if (g_.legacy_module_form)
      if (auto n = g_.module_attributes.find("module.name"))
        if (auto s = n->get_if<std::string>()) g_.name = *s;
  }

  std::string symbol_name() {
    cur_.expect("@", "");
    if (cur_.peek() == '"') return cur_.string_literal();
    return std::string(cur_.suffix_id());
  }

  void module_body(std::size_t module_at) {
    bool seen_function = false;
    while (!cur_.looking_at("}")) {
      if (cur_.at_end()) cur_.fail("the file ends inside the module");
      if (seen_function) cur_.fail("a second function; mixq reads modules with one function");
      if (cur_.looking_at_word("func.func")) custom_function();
      else if (cur_.looking_at("\"func.func\"")) generic_function();
      else cur_.fail("expected 'func.func', found " + cur_.describe_here());
      seen_function = true;
    }
    if (!seen_function) cur_.fail_at(module_at, "the module has no function");
  }

  /// `%name: type [{attrs}] [loc(...)]`
  void function_argument() {
    cur_.skip_space();
    const std::size_t at = cur_.pos();
    cur_.expect("%", "to start an argument name");
    const std::string name(cur_.suffix_id());
    cur_.expect(":", "after the argument name");
    tensor_type t = value_type();
    if (cur_.looking_at("{")) (void)attribute_dictionary_after_brace();
    const int l = optional_location();
    const int v = g_.add_argument(std::move(t));
    define_ssa(name, v, 1, at);
    named_.push_back({{v}, l, at});
  }
  attr_dict attribute_dictionary_after_brace() {
    cur_.expect("{", "");
    return attribute_dictionary();
  }

  void custom_function() {
    cur_.accept_word("func.func");
    if (!cur_.accept_word("private")) cur_.accept_word("public");
    cur_.skip_space();
    g_.function_name = symbol_name();
    cur_.expect("(", "to open the argument list");
    if (!cur_.accept(")")) {
      do function_argument();
      while (cur_.accept(","));
      cur_.expect(")", "to close the argument list");
    }
    std::vector<tensor_type> results;
    if (cur_.accept("->")) {
      if (cur_.accept("(")) {
        if (!cur_.accept(")")) {
          do {
            results.push_back(value_type());
            if (cur_.looking_at("{")) (void)attribute_dictionary_after_brace();
          } while (cur_.accept(","));
          cur_.expect(")", "to close the result list");
        }
      } else {
        results.push_back(value_type());
      }
    }
    if (cur_.accept_word("attributes")) (void)attribute_dictionary_after_brace();
    cur_.expect("{", "to open the function body");
    function_body(results);
    cur_.expect("}", "to close the function body");
    optional_location();
  }

  void generic_function() {
    const std::size_t at = cur_.pos();
    cur_.accept("\"func.func\"");
    cur_.expect("(", "after \"func.func\"");
    cur_.expect(")", "(a function has no operands)");
    std::vector<tensor_type> declared_inputs, results;
    bool has_type = false;
    auto take_properties = [&](char close) {
      // function_type is a type, not an attribute mixq models: parse it here.
      const std::string closer(1, close);
      if (cur_.accept(closer)) return;
      do {
        cur_.skip_space();
        std::string key = cur_.peek() == '"' ? cur_.string_literal() : std::string(cur_.bare_id());
        if (key.empty()) cur_.fail("expected an attribute name, found " + cur_.describe_here());
        if (!cur_.accept("=")) continue;
        if (key == "function_type") {
          std::tie(declared_inputs, results) = function_type();
          has_type = true;
        } else {
          attribute v = attribute_value(0);
          if (key == "sym_name") {
            if (!v.is<std::string>()) cur_.fail_at(at, "the function's sym_name is not a string");
            g_.function_name = *v.get_if<std::string>();
          }
        }
      } while (cur_.accept(","));
      cur_.expect(closer, "to close the function's attributes");
    };
    if (cur_.accept("<{")) {
      take_properties('}');
      cur_.expect(">", "to close the properties");
    }
    if (!has_type) {
      // Older MLIR prints every attribute after the region: read that dictionary first, then come back.
      const std::size_t region_at = cur_.pos();
      cur_.skip_space();
      if (cur_.peek() != '(') cur_.fail("expected the function region, found " + cur_.describe_here());
      cur_.skip_balanced();
      if (cur_.accept("{")) take_properties('}');
      cur_.seek(region_at);
    }
    if (!has_type) cur_.fail_at(at, "\"func.func\" has no function_type");
    cur_.expect("(", "to open the function region");
    cur_.expect("{", "to open the function region");
    if (cur_.looking_at("^")) block_label(&declared_inputs);
    else if (!declared_inputs.empty()) cur_.fail("expected the entry block's arguments ('^bb0(...)')");
    function_body(results);
    cur_.expect("}", "to close the function region");
    cur_.expect(")", "to close the function region");
    if (cur_.accept("{")) (void)attribute_dictionary();
    cur_.expect(":", "before the function op's type");
    (void)function_type();
    optional_location();
  }

  /// `^bb0(%arg0: type loc(...), ...):`; `declared` (when given) are the function_type inputs.
  void block_label(const std::vector<tensor_type>* declared) {
    cur_.expect("^", "");
    cur_.suffix_id();
    if (cur_.accept("(")) {
      if (!cur_.accept(")")) {
        do function_argument();
        while (cur_.accept(","));
        cur_.expect(")", "to close the block arguments");
      }
    }
    cur_.expect(":", "after the block label");
    if (declared && !declared->empty() && declared->size() == g_.arguments.size()) {
      for (std::size_t i = 0; i < declared->size(); ++i)
        if (!((*declared)[i] == g_.values[static_cast<std::size_t>(g_.arguments[i])].type))
          cur_.fail("block argument " + std::to_string(i) + " has type " +
                    type_text(g_.values[static_cast<std::size_t>(g_.arguments[i])].type) + " but function_type says " +
                    type_text((*declared)[i]));
    } else if (declared && declared->size() != g_.arguments.size()) {
      cur_.fail("function_type has " + std::to_string(declared->size()) + " inputs, the entry block " +
                std::to_string(g_.arguments.size()));
    }
  }

  // ---------------------------------------------------------------- SSA values
  struct ssa_def {
    int first = 0;
    int count = 1;
  };

  void define_ssa(const std::string& name, int first_value, int count, std::size_t at) {
    if (!ssa_.emplace(name, ssa_def{first_value, count}).second) cur_.fail_at(at, "value %" + name + " is defined twice");
  }

  /// `%name` or `%name#index`; returns the value id.
  int value_use() {
    cur_.skip_space();
    const std::size_t at = cur_.pos();
    cur_.expect("%", "to start a value name");
    const std::string name(cur_.suffix_id());
    std::int64_t index = 0;  // a bare %name of a multi-result op is its first result
    if (cur_.peek() == '#') {
      cur_.seek(cur_.pos() + 1);
      if (!is_digit(cur_.peek())) cur_.fail("expected a result number after '#'");
      while (is_digit(cur_.peek())) {
        index = index * 10 + (cur_.peek() - '0');
        if (index > 1000000) cur_.fail("result number is too large");
        cur_.seek(cur_.pos() + 1);
      }
    }
    auto it = ssa_.find(name);
    if (it == ssa_.end()) {
      const std::string_view rest = cur_.text().substr(cur_.pos());
      const std::string def = "%" + name;
      const bool later = rest.find(def + " =") != std::string_view::npos || rest.find(def + ":") != std::string_view::npos;
      cur_.fail_at(at, later ? "value %" + name + " is used before it is defined" : "use of undefined value %" + name);
    }
    if (index >= it->second.count)
      cur_.fail_at(at, "value %" + name + " has " + std::to_string(it->second.count) + " results, #" +
                           std::to_string(index) + " does not exist");
    return it->second.first + static_cast<int>(index);
  }

  std::vector<int> value_use_list(std::string_view close) {
    std::vector<int> out;
    if (cur_.looking_at(close)) return out;
    do out.push_back(value_use());
    while (cur_.accept(","));
    return out;
  }

  void check_types(const std::vector<int>& values, const std::vector<tensor_type>& types, std::size_t at,
                   const std::string& what) {
    if (values.size() != types.size())
      cur_.fail_at(at, what + ": " + std::to_string(values.size()) + " operands but the signature lists " +
                           std::to_string(types.size()) + " types");
    for (std::size_t i = 0; i < values.size(); ++i) {
      const tensor_type& have = g_.values[static_cast<std::size_t>(values[i])].type;
      if (!(have == types[i]))
        cur_.fail_at(at, what + ": operand " + std::to_string(i) + " is " + type_text(have) +
                             " but the signature says " + type_text(types[i]));
    }
  }

  // ---------------------------------------------------------------- function body
  void function_body(const std::vector<tensor_type>& result_types) {
    for (;;) {
      cur_.skip_space();
      const std::size_t at = cur_.pos();
      if (cur_.at_end()) cur_.fail("the file ends inside the function body");
      if (cur_.peek() == '}') cur_.fail("the function body has no 'return'");
      if (cur_.accept_word("return") || cur_.accept_word("func.return")) {
        std::vector<int> outs;
        std::vector<tensor_type> types;
        if (cur_.looking_at("%")) {
          outs = value_use_list(":");
          cur_.expect(":", "before the returned types");
          do types.push_back(value_type());
          while (cur_.accept(","));
        }
        check_types(outs, types, at, "return");
        finish_return(outs, result_types, at);
        return;
      }
      if (cur_.accept("\"func.return\"")) {
        cur_.expect("(", "after \"func.return\"");
        std::vector<int> outs = value_use_list(")");
        cur_.expect(")", "to close the returned values");
        cur_.expect(":", "before the return's type");
        auto [ins, outs_types] = function_type();
        if (!outs_types.empty()) cur_.fail_at(at, "\"func.return\" has no results");
        check_types(outs, ins, at, "return");
        finish_return(outs, result_types, at);
        return;
      }
      operation(at);
    }
  }

  void finish_return(const std::vector<int>& outs, const std::vector<tensor_type>& result_types, std::size_t at) {
    optional_location();
    if (outs.size() != result_types.size())
      cur_.fail_at(at, "the function returns " + std::to_string(outs.size()) + " values but declares " +
                           std::to_string(result_types.size()) + " results");
    for (std::size_t i = 0; i < outs.size(); ++i)
      if (!(g_.values[static_cast<std::size_t>(outs[i])].type == result_types[i]))
        cur_.fail_at(at, "returned value " + std::to_string(i) + " is " +
                             type_text(g_.values[static_cast<std::size_t>(outs[i])].type) +
                             " but the function declares " + type_text(result_types[i]));
    g_.outputs = outs;
    cur_.skip_space();
    if (cur_.peek() != '}') cur_.fail("expected '}' after 'return', found " + cur_.describe_here());
  }

  /// `[%r[:N][, ...] =] "dialect.op"(operands) [<{props}>] [{attrs}] : (types) -> types [loc(...)]`
  void operation(std::size_t at) {
    std::vector<std::pair<std::string, int>> groups;  // result names and counts
    int total_results = 0;
    if (cur_.peek() == '%') {
      do {
        cur_.expect("%", "to start a result name");
        std::string name(cur_.suffix_id());
        int count = 1;
        if (cur_.peek() == ':') {
          cur_.seek(cur_.pos() + 1);
          if (!is_digit(cur_.peek())) cur_.fail("expected a result count after ':'");
          count = 0;
          while (is_digit(cur_.peek())) {
            count = count * 10 + (cur_.peek() - '0');
            if (count > 1000000) cur_.fail("result count is too large");
            cur_.seek(cur_.pos() + 1);
          }
          if (count == 0) cur_.fail("result count must be positive");
        }
        groups.emplace_back(std::move(name), count);
        total_results += count;
        cur_.skip_space();
      } while (cur_.accept(","));
      cur_.expect("=", "after the result names");
    }
    cur_.skip_space();
    const std::size_t name_at = cur_.pos();
    if (cur_.peek() != '"') cur_.fail("expected an operation (\"dialect.name\"(...)), found " + cur_.describe_here());
    const std::string mnemonic = cur_.string_literal();
    const top::op_info* op = ops_.find(mnemonic);
    if (!op) cur_.fail_at(name_at, "unknown op '" + mnemonic + "'");
    cur_.expect("(", "after the op name");
    std::vector<int> operands = value_use_list(")");
    cur_.expect(")", "to close the operand list");
    if (cur_.looking_at("[")) cur_.fail("ops with successors are not supported");
    attr_dict attrs;
    if (cur_.accept("<{")) {
      attrs = attribute_dictionary('}');
      cur_.expect(">", "to close the properties");
    }
    if (cur_.looking_at("(")) cur_.fail("ops with regions are not supported");
    if (cur_.accept("{")) {
      attr_dict more = attribute_dictionary();
      for (const auto& [k, v] : more) {
        if (attrs.contains(k)) cur_.fail_at(name_at, "attribute '" + k + "' appears twice");
        attrs.set(k, v);
      }
    }
    cur_.expect(":", "before the op's type");
    auto [in_types, out_types] = function_type();
    check_types(operands, in_types, name_at, mnemonic);
    if (out_types.size() != static_cast<std::size_t>(total_results))
      cur_.fail_at(at, mnemonic + " defines " + std::to_string(total_results) + " results but its type has " +
                           std::to_string(out_types.size()));
    const int l = optional_location();
    const int first_value = static_cast<int>(g_.values.size());
    int node_index = 0;
    try {
      node_index = g_.add_node(*op, std::move(operands), std::move(out_types), {}, std::move(attrs));
    } catch (const parse_error&) {
      throw;
    } catch (const error& e) {
      cur_.fail_at(name_at, e.what());
    }
    int next = first_value;
    for (const auto& [name, count] : groups) {
      define_ssa(name, next, count, at);
      next += count;
    }
    named_.push_back({g_.nodes[static_cast<std::size_t>(node_index)].results, l, at});
  }

  mlir_cursor cur_;
  const top::registry& ops_;
  graph g_;
  std::vector<loc_expr> locs_;
  std::unordered_map<std::string, int> loc_aliases_;
  std::unordered_map<std::string, attribute> attr_aliases_;
  std::unordered_map<std::string, std::string> type_aliases_;
  std::unordered_map<std::string, std::vector<std::string>> alias_names_;
  std::unordered_map<std::string, ssa_def> ssa_;
  std::vector<pending_names> named_;
};

}  // namespace detail

/// Parses TOP-dialect text. Errors are parse_error("file:line:col: message"). Weights are not loaded.
inline graph parse_mlir(std::string_view text, const std::string& file_name = "<memory>",
                        const top::registry& ops = top::ops()) {
  detail::mlir_parser p(text, file_name, ops);
  return p.parse();
}

/// Reads and parses a .mlir file; errors name the path.
inline graph read_mlir(const std::string& path, const top::registry& ops = top::ops()) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error("cannot open MLIR file '" + path + "'");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw error("cannot read MLIR file '" + path + "'");
  const std::string text = std::move(buf).str();
  return parse_mlir(text, path, ops);
}

}  // namespace mixq
