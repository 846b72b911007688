#pragma once
// The state of one ONNX -> TOP import: which ONNX tensor names are graph values and which are
// constants, and `emit`, which adds a TOP op (result types from the op's own shape inference)
// or folds it when every operand is a constant.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/dialect/ops.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/onnx/model.hpp"

namespace mixq::onnx {

/// An operand during import: a graph value, a constant not yet placed in the graph, or absent.
struct ref {
  int value = -1;
  std::optional<tensor> constant;
  std::string name;  // the ONNX tensor name (names the top.Weight if the constant is materialised)

  bool absent() const noexcept { return value < 0 && !constant; }
  bool is_constant() const noexcept { return constant.has_value(); }
};

class import_context {
 public:
  /// Starts the function body with top.None, as TPU-MLIR does.
  import_context(graph& g, int opset) : g_(g), opset_(opset) {
    const int node = g_.add<top::none_op>({}, {tensor_type::none()}, {""});
    none_value_ = g_.nodes[static_cast<std::size_t>(node)].results[0];
  }

  graph& model() noexcept { return g_; }
  int opset() const noexcept { return opset_; }

  // ---- ONNX names ----
  void define(const std::string& onnx_name, ref r) {
    r.name = onnx_name;
    refs_[onnx_name] = std::move(r);
  }
  void define_value(const std::string& onnx_name, int value_id) {
    ref r;
    r.value = value_id;
    define(onnx_name, std::move(r));
  }
  void define_constant(const std::string& onnx_name, tensor t) {
    ref r;
    r.constant = std::move(t);
    define(onnx_name, std::move(r));
  }
  bool known(std::string_view onnx_name) const { return refs_.count(std::string(onnx_name)) != 0; }
  const ref& get(std::string_view onnx_name) const {
    auto it = refs_.find(std::string(onnx_name));
    if (it == refs_.end()) throw error("tensor \"" + std::string(onnx_name) + "\" is used before it is produced");
    return it->second;
  }

  /// Input `i` of `n` (absent when the node omits it or passes "").
  ref input(const node_proto& n, std::size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return {};
    return get(n.inputs[i]);
  }
  std::size_t num_inputs(const node_proto& n) const {
    std::size_t k = n.inputs.size();
    while (k > 0 && n.inputs[k - 1].empty()) --k;
    return k;
  }
  /// Input `i` must be a constant (an initializer, a Constant node or something folded).
  const tensor& constant_input(const node_proto& n, std::size_t i, const char* what) const {
    const ref& r = i < n.inputs.size() && !n.inputs[i].empty() ? get(n.inputs[i]) : empty_ref_;
    if (!r.constant)
      throw error(n.op_type + " \"" + node_name(n) + "\": input " + std::to_string(i) + " (" + what +
                  ") must be a constant; dynamic values are not supported");
    return *r.constant;
  }
  std::optional<std::vector<std::int64_t>> constant_ints(const node_proto& n, std::size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
    const ref& r = get(n.inputs[i]);
    if (!r.constant) return std::nullopt;
    return to_int64_vector(*r.constant);
  }

  /// Type of an operand (a constant's own type).
  tensor_type type_of(const ref& r) const {
    if (r.constant) return r.constant->type();
    if (r.value < 0) return tensor_type::none();
    return g_.values[static_cast<std::size_t>(r.value)].type;
  }
  shape_t shape_of(const ref& r) const { return type_of(r).shape; }

  /// The graph value of an operand: constants become top.Weight ops (once per name).
  int value_of(const ref& r) {
    if (r.value >= 0) return r.value;
    if (!r.constant) return none_value_;
    const std::string name = r.name.empty() ? unique("const") : r.name;
    auto it = weights_.find(name);
    if (it != weights_.end()) return it->second;
    tensor t = *r.constant;
    if (is_floating(t.elem()) && t.elem() != dtype::f32) t = t.cast(dtype::f32);  // TPU-MLIR stores f32 weights
    const int node = g_.add<top::weight_op>({}, {t.type()}, {name});
    used_names_.insert({name, 1});
    g_.weights[name] = t;
    const int v = g_.nodes[static_cast<std::size_t>(node)].results[0];
    weights_[name] = v;
    return v;
  }

  /// Adds op `Op` with `operands`; result names are the locs (`<output>_<OpType>` by TPU-MLIR's
  /// rule). When every present operand is a constant and `fold` is set, runs the op's reference
  /// kernel instead and returns constant refs.
  template <class Op>
  std::vector<ref> emit(const std::vector<ref>& operands, const typename Op::attributes& attrs,
                        std::vector<std::string> result_names, bool fold = true,
                        const std::vector<tensor_type>& declared = {}) {
    const top::op_info& info = top::ops().at(Op::mnemonic);
    std::vector<tensor_type> in_types;
    in_types.reserve(operands.size());
    bool all_constant = true;
    for (const auto& o : operands) {
      in_types.push_back(type_of(o));
      if (!o.absent() && !o.constant) all_constant = false;
    }
    std::vector<const tensor_type*> type_ptrs;
    std::vector<const tensor*> const_ptrs;
    for (std::size_t i = 0; i < operands.size(); ++i) {
      type_ptrs.push_back(&in_types[i]);
      const_ptrs.push_back(operands[i].constant ? &*operands[i].constant : nullptr);
    }
    attr_dict dict;
    top::encode_attributes(attrs, dict);
    top::attr_ptr decoded = info.decode(dict);
    const std::size_t n_results = info.num_results >= 0 ? static_cast<std::size_t>(info.num_results) : result_names.size();
    std::vector<tensor_type> out_types =
        info.infer(top::infer_context{type_ptrs, const_ptrs, n_results, declared}, decoded.get());
    std::vector<ref> results(out_types.size());
    if (fold && all_constant && !operands.empty()) {
      std::vector<tensor> outs(out_types.size());
      top::kernel_context k{const_ptrs, outs, out_types, nullptr};
      info.reference(k, decoded.get());
      for (std::size_t i = 0; i < outs.size(); ++i) {
        if (!outs[i].defined()) k.out(i);
        results[i].constant = outs[i];
        results[i].name = i < result_names.size() ? result_names[i] : std::string{};
      }
      return results;
    }
    std::vector<int> ids;
    for (const auto& o : operands) ids.push_back(value_of(o));
    for (auto& nm : result_names) nm = unique(nm);
    result_names.resize(out_types.size());
    const int node = g_.add_node(info, std::move(ids), out_types, std::move(result_names), std::move(dict));
    for (std::size_t i = 0; i < out_types.size(); ++i) results[i].value = g_.nodes[static_cast<std::size_t>(node)].results[i];
    return results;
  }

  /// A loc name not used yet (TPU-MLIR appends suffixes the same way when names collide).
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_names_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_names_.insert({name, 1});
    return name;
  }

  /// TPU-MLIR names an imported op `<first output name>_<op_type>`.
  static std::string loc_name(const node_proto& n) { return (n.outputs.empty() ? n.name : n.outputs[0]) + "_" + n.op_type; }
  static std::string node_name(const node_proto& n) { return n.name.empty() ? (n.outputs.empty() ? "?" : n.outputs[0]) : n.name; }

 private:
  graph& g_;
  int opset_;
  int none_value_ = -1;
  std::unordered_map<std::string, ref> refs_;
  std::unordered_map<std::string, int> weights_;
  std::unordered_map<std::string, int> used_names_;
  ref empty_ref_;
};

}  // namespace mixq::onnx
