#pragma once
// Typed access to an ONNX node's attributes, with the defaults the ONNX spec gives.
#include <cstdint>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/onnx/model.hpp"

namespace mixq::onnx {

namespace detail {
[[noreturn]] inline void bad_attr(const node_proto& n, std::string_view name, const char* want) {
  throw error(n.op_type + " \"" + (n.outputs.empty() ? n.name : n.outputs[0]) + "\": attribute '" + std::string(name) +
              "' is not " + want);
}
}  // namespace detail

inline bool has_attr(const node_proto& n, std::string_view name) { return n.attr(name) != nullptr; }

inline std::int64_t attr_int(const node_proto& n, std::string_view name, std::int64_t fallback) {
  const attribute_proto* a = n.attr(name);
  if (!a) return fallback;
  if (a->type != attribute_type::i) detail::bad_attr(n, name, "an integer");
  return a->i;
}
inline float attr_float(const node_proto& n, std::string_view name, float fallback) {
  const attribute_proto* a = n.attr(name);
  if (!a) return fallback;
  if (a->type == attribute_type::i) return static_cast<float>(a->i);
  if (a->type != attribute_type::f) detail::bad_attr(n, name, "a float");
  return a->f;
}
inline std::string attr_string(const node_proto& n, std::string_view name, std::string fallback) {
  const attribute_proto* a = n.attr(name);
  if (!a) return fallback;
  if (a->type != attribute_type::s) detail::bad_attr(n, name, "a string");
  return a->s;
}
inline std::vector<std::int64_t> attr_ints(const node_proto& n, std::string_view name, std::vector<std::int64_t> fallback = {}) {
  const attribute_proto* a = n.attr(name);
  if (!a) return fallback;
  if (a->type != attribute_type::ints && !(a->type == attribute_type::undefined && a->ints.empty()))
    detail::bad_attr(n, name, "a list of integers");
  return a->ints;
}
inline std::vector<float> attr_floats(const node_proto& n, std::string_view name, std::vector<float> fallback = {}) {
  const attribute_proto* a = n.attr(name);
  if (!a) return fallback;
  if (a->type != attribute_type::floats) detail::bad_attr(n, name, "a list of floats");
  return a->floats;
}
inline const tensor_proto* attr_tensor(const node_proto& n, std::string_view name) {
  const attribute_proto* a = n.attr(name);
  if (!a) return nullptr;
  if (a->type != attribute_type::t || !a->t) detail::bad_attr(n, name, "a tensor");
  return &*a->t;
}

}  // namespace mixq::onnx
