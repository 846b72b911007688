#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mixq/core/error.hpp"

namespace mixq {

/// An MLIR integer attribute: value plus its type as written (`i64`, `i32`, `ui8`...).
/// In arrays the type is usually elided; we then record "i64", the MLIR default.
struct int_attr {
  std::int64_t value = 0;
  std::string type = "i64";
  friend bool operator==(const int_attr&, const int_attr&) = default;
};

/// An MLIR float attribute: value plus its type (`f64` when elided, `f32`, `f16`...).
struct float_attr {
  double value = 0.0;
  std::string type = "f64";
  friend bool operator==(const float_attr& a, const float_attr& b) {
    // NaN payloads are compared bitwise so that parse(print(x)) == x holds for them too.
    return a.type == b.type && (a.value == b.value || (a.value != a.value && b.value != b.value));
  }
};

/// Anything mixq does not interpret but must carry through unchanged: dialect attributes
/// (`#tpu<round_mode HalfAwayFromZero>`), `dense<...>`, type attributes, affine maps.
struct opaque_attr {
  std::string text;
  friend bool operator==(const opaque_attr&, const opaque_attr&) = default;
};

/// `unit` attributes (present without a value).
struct unit_attr {
  friend bool operator==(const unit_attr&, const unit_attr&) = default;
};

struct attribute;
using attr_array = std::vector<attribute>;

/// A generic MLIR attribute value, as found in an op's attribute dictionary.
struct attribute {
  using storage = std::variant<unit_attr, bool, int_attr, float_attr, std::string, attr_array, opaque_attr>;
  storage value;

  attribute() = default;
  attribute(unit_attr v) : value(v) {}
  attribute(bool v) : value(v) {}
  attribute(int_attr v) : value(std::move(v)) {}
  attribute(float_attr v) : value(std::move(v)) {}
  attribute(std::string v) : value(std::move(v)) {}
  attribute(attr_array v) : value(std::move(v)) {}
  attribute(opaque_attr v) : value(std::move(v)) {}

  template <class T> bool is() const noexcept { return std::holds_alternative<T>(value); }
  template <class T> const T* get_if() const noexcept { return std::get_if<T>(&value); }
  friend bool operator==(const attribute&, const attribute&) = default;
};

/// Name of the kind of an attribute, for error messages.
inline std::string_view kind_name(const attribute& a) {
  switch (a.value.index()) {
    case 0: return "unit";
    case 1: return "bool";
    case 2: return "integer";
    case 3: return "float";
    case 4: return "string";
    case 5: return "array";
    default: return "dialect attribute";
  }
}

/// An attribute dictionary kept sorted by name, as MLIR's DictionaryAttr is.
class attr_dict {
 public:
  using entry = std::pair<std::string, attribute>;

  const attribute* find(std::string_view key) const {
    auto it = lower(key);
    return it != entries_.end() && it->first == key ? &it->second : nullptr;
  }
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  void set(std::string key, attribute value) {
    auto it = lower(key);
    if (it != entries_.end() && it->first == key) it->second = std::move(value);
    else entries_.insert(it, {std::move(key), std::move(value)});
  }
  bool erase(std::string_view key) {
    auto it = lower(key);
    if (it == entries_.end() || it->first != key) return false;
    entries_.erase(it);
    return true;
  }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  friend bool operator==(const attr_dict&, const attr_dict&) = default;

 private:
  std::vector<entry>::const_iterator lower(std::string_view key) const {
    return std::lower_bound(entries_.begin(), entries_.end(), key,
                            [](const entry& e, std::string_view k) { return e.first < k; });
  }
  std::vector<entry>::iterator lower(std::string_view key) {
    return std::lower_bound(entries_.begin(), entries_.end(), key,
                            [](const entry& e, std::string_view k) { return e.first < k; });
  }
  std::vector<entry> entries_;
};

}  // namespace mixq
