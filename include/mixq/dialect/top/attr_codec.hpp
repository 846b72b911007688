#pragma once
// Converts between an op's attribute struct (reflected with BOOST_HANA_ADAPT_STRUCT) and
// the generic attribute dictionary of the .mlir text. The struct is the only description
// of an op's attributes: names, types, defaults and which ones are required.
#include <boost/hana/accessors.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/string.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/dialect/top/op_base.hpp"

namespace mixq::top::detail {

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_required : std::false_type {};
template <class T> struct is_required<required<T>> : std::true_type {};
template <class T> struct is_one_of : std::false_type {};
template <fixed_string... O> struct is_one_of<one_of<O...>> : std::true_type {};
template <class T> struct is_int_of : std::false_type {};
template <fixed_string T> struct is_int_of<int_of<T>> : std::true_type {};
template <class T> struct is_dialect_enum : std::false_type {};
template <fixed_string D, fixed_string K, fixed_string... O> struct is_dialect_enum<dialect_enum<D, K, O...>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};

[[noreturn]] inline void attr_type_error(std::string_view name, std::string_view expected, const attribute& got) {
  throw error("attribute '" + std::string(name) + "': expected " + std::string(expected) + ", found " +
              std::string(kind_name(got)));
}

template <class T>
void decode_value(std::string_view name, const attribute& a, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (auto p = a.get_if<bool>()) out = *p;
    else if (auto i = a.get_if<int_attr>()) out = i->value != 0;
    else attr_type_error(name, "bool", a);
  } else if constexpr (std::is_integral_v<T>) {
    if (auto p = a.get_if<int_attr>()) out = static_cast<T>(p->value);
    else if (auto b = a.get_if<bool>()) out = *b ? 1 : 0;
    else attr_type_error(name, "integer", a);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto p = a.get_if<float_attr>()) out = static_cast<T>(p->value);
    else if (auto i = a.get_if<int_attr>()) out = static_cast<T>(i->value);
    else attr_type_error(name, "float", a);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (auto p = a.get_if<std::string>()) out = *p;
    else attr_type_error(name, "string", a);
  } else if constexpr (is_one_of<T>::value) {
    std::string s;
    decode_value(name, a, s);
    if (!T::allowed(s)) {
      std::string list;
      for (auto o : T::options) list += (list.empty() ? "" : ", ") + std::string(o);
      throw error("attribute '" + std::string(name) + "': \"" + s + "\" is not one of " + list);
    }
    out.value = std::move(s);
  } else if constexpr (is_int_of<T>::value) {
    decode_value(name, a, out.value);
  } else if constexpr (is_dialect_enum<T>::value) {
    const auto p = a.get_if<opaque_attr>();
    if (!p) attr_type_error(name, "dialect attribute", a);
    // `#tpu<rq_mode MultiplierShift>`
    const std::string head = "#" + std::string(T::dialect) + "<" + std::string(T::kind) + " ";
    const std::string& t = p->text;
    if (t.size() <= head.size() || t.compare(0, head.size(), head) != 0 || t.back() != '>')
      throw error("attribute '" + std::string(name) + "': expected " + head + "...>, found " + t);
    std::string v = t.substr(head.size(), t.size() - head.size() - 1);
    if (!T::allowed(v)) {
      std::string list;
      for (auto o : T::options) list += (list.empty() ? "" : ", ") + std::string(o);
      throw error("attribute '" + std::string(name) + "': \"" + v + "\" is not one of " + list);
    }
    out.value = std::move(v);
  } else if constexpr (std::is_same_v<T, opaque_attr>) {
    if (auto p = a.get_if<opaque_attr>()) out = *p;
    else attr_type_error(name, "dialect attribute", a);
  } else if constexpr (is_vector<T>::value) {
    auto p = a.get_if<attr_array>();
    if (!p) attr_type_error(name, "array", a);
    out.clear();
    out.reserve(p->size());
    for (const auto& e : *p) {
      typename T::value_type v{};
      decode_value(name, e, v);
      out.push_back(std::move(v));
    }
  } else if constexpr (is_optional<T>::value) {
    typename T::value_type v{};
    decode_value(name, a, v);
    out = std::move(v);
  } else if constexpr (is_required<T>::value) {
    decode_value(name, a, out.value);
  } else {
    static_assert(sizeof(T) == 0, "mixq: unsupported attribute field type in an op's attributes struct");
  }
}

template <class T>
attribute encode_value(const T& v, bool in_array = false) {
  if constexpr (std::is_same_v<T, bool>) {
    return attribute(v);
  } else if constexpr (std::is_integral_v<T>) {
    return attribute(int_attr{static_cast<std::int64_t>(v), "i64"});
  } else if constexpr (std::is_floating_point_v<T>) {
    return attribute(float_attr{static_cast<double>(v), "f64"});
  } else if constexpr (std::is_same_v<T, std::string>) {
    return attribute(v);
  } else if constexpr (is_one_of<T>::value) {
    return attribute(v.value);
  } else if constexpr (is_int_of<T>::value) {
    return attribute(int_attr{v.value, std::string(T::type)});
  } else if constexpr (is_dialect_enum<T>::value) {
    return attribute(opaque_attr{"#" + std::string(T::dialect) + "<" + std::string(T::kind) + " " + v.value + ">"});
  } else if constexpr (std::is_same_v<T, opaque_attr>) {
    return attribute(v);
  } else if constexpr (is_vector<T>::value) {
    attr_array arr;
    arr.reserve(v.size());
    for (const auto& e : v) arr.push_back(encode_value(e, true));
    return attribute(std::move(arr));
  } else if constexpr (is_required<T>::value) {
    return encode_value(v.value, in_array);
  } else {
    static_assert(sizeof(T) == 0, "mixq: unsupported attribute field type in an op's attributes struct");
  }
}

}  // namespace mixq::top::detail

namespace mixq::top {

/// Fills `out` from the dictionary: present keys are decoded and type-checked, absent keys
/// keep the struct's default, absent `required<>` fields are an error. Keys the struct
/// does not know are left for the caller (they are kept and printed back verbatim).
template <class Attrs>
void decode_attributes(const attr_dict& dict, Attrs& out) {
  boost::hana::for_each(boost::hana::accessors<Attrs>(), [&](auto pair) {
    constexpr auto name_c = boost::hana::first(pair);
    const char* name = boost::hana::to<const char*>(name_c);
    auto& field = boost::hana::second(pair)(out);
    using F = std::remove_reference_t<decltype(field)>;
    if (const attribute* a = dict.find(name)) {
      detail::decode_value(name, *a, field);
    } else if constexpr (detail::is_required<F>::value) {
      throw error("required attribute '" + std::string(name) + "' is missing");
    }
  });
}

/// Writes every field into the dictionary (unset optionals are removed), replacing the
/// values of keys with the same name and keeping the others.
template <class Attrs>
void encode_attributes(const Attrs& in, attr_dict& dict) {
  boost::hana::for_each(boost::hana::accessors<Attrs>(), [&](auto pair) {
    const char* name = boost::hana::to<const char*>(boost::hana::first(pair));
    const auto& field = boost::hana::second(pair)(in);
    using F = std::remove_cvref_t<decltype(field)>;
    if constexpr (detail::is_optional<F>::value) {
      if (field) dict.set(name, detail::encode_value(*field));
      else dict.erase(name);
    } else {
      dict.set(name, detail::encode_value(field));
    }
  });
}

/// Names of the attribute fields, in declaration order.
template <class Attrs>
std::vector<std::string_view> attribute_names() {
  std::vector<std::string_view> names;
  boost::hana::for_each(boost::hana::accessors<Attrs>(), [&](auto pair) {
    names.emplace_back(boost::hana::to<const char*>(boost::hana::first(pair)));
  });
  return names;
}

}  // namespace mixq::top
