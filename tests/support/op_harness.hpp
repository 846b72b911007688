#pragma once
// Runs one op through its registry entry, so tests exercise exactly what the interpreter
// calls: decode attributes, infer result types, then `reference` and/or `compute`.
#include <memory>
#include <string>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "test_support.hpp"

namespace mixq::test {

struct op_run {
  std::vector<tensor_type> types;
  std::vector<tensor> outputs;
};

/// `inputs`: nullptr-free list; use `absent` (an undefined tensor) for a missing optional operand.
/// `constant_operands`: indices of operands to treat as constants (weights), for prepare/infer.
inline op_run run_op(std::string_view mnemonic, const std::vector<tensor>& inputs, const attr_dict& attrs = {},
                     bool use_reference = true, std::vector<std::size_t> constant_operands = {},
                     std::size_t num_results = 1) {
  const top::op_info& info = top::ops().at(mnemonic);
  top::attr_ptr decoded = info.decode(attrs);
  std::vector<tensor_type> in_types;
  for (const auto& t : inputs) in_types.push_back(t.defined() ? t.type() : tensor_type::none());
  std::vector<const tensor_type*> type_ptrs;
  std::vector<const tensor*> in_ptrs, const_ptrs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    type_ptrs.push_back(&in_types[i]);
    in_ptrs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
    bool is_const = false;
    for (auto c : constant_operands) is_const |= c == i;
    const_ptrs.push_back(is_const && inputs[i].defined() ? &inputs[i] : nullptr);
  }
  op_run r;
  r.types = info.infer(top::infer_context{type_ptrs, const_ptrs, num_results}, decoded.get());
  r.outputs.resize(r.types.size());
  top::kernel_context k{in_ptrs, r.outputs, r.types, nullptr};
  if (use_reference) {
    info.reference(k, decoded.get());
  } else {
    top::prepared_ptr prepared;
    if (info.prepare) prepared = info.prepare(top::prepare_context{type_ptrs, const_ptrs}, decoded.get());
    info.compute(k, decoded.get(), prepared.get());
  }
  for (std::size_t i = 0; i < r.outputs.size(); ++i)
    if (!r.outputs[i].defined()) k.out(i);
  return r;
}

/// Runs reference and compute on the same inputs and requires them to agree.
inline void require_compute_matches_reference(std::string_view mnemonic, const std::vector<tensor>& inputs,
                                              const attr_dict& attrs = {}, double rtol = 1e-5, double atol = 1e-5,
                                              std::vector<std::size_t> constant_operands = {}) {
  auto ref = run_op(mnemonic, inputs, attrs, true, constant_operands);
  auto fast = run_op(mnemonic, inputs, attrs, false, constant_operands);
  REQUIRE(ref.outputs.size() == fast.outputs.size());
  for (std::size_t i = 0; i < ref.outputs.size(); ++i) {
    REQUIRE(ref.outputs[i].shape() == ref.types[i].shape);
    require_close(fast.outputs[i], ref.outputs[i], rtol, atol);
  }
}

/// Attribute dictionary builders for tests.
inline attribute i64(std::int64_t v) { return attribute(int_attr{v, "i64"}); }
inline attribute f64(double v) { return attribute(float_attr{v, "f64"}); }
inline attribute str(std::string s) { return attribute(std::move(s)); }
inline attribute i64s(std::vector<std::int64_t> v) {
  attr_array a;
  for (auto x : v) a.push_back(i64(x));
  return attribute(std::move(a));
}
inline attribute f64s(std::vector<double> v) {
  attr_array a;
  for (auto x : v) a.push_back(f64(x));
  return attribute(std::move(a));
}
inline attr_dict attrs(std::initializer_list<std::pair<std::string, attribute>> kv) {
  attr_dict d;
  for (const auto& [k, v] : kv) d.set(k, v);
  return d;
}

}  // namespace mixq::test
