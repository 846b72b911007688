#pragma once
// The table of ONNX op converters. Each family header adds its converters with
// `add_<family>_converters(converter_table&)`; registry.hpp builds the table once.
#include <string>
#include <string_view>
#include <unordered_map>

#include "mixq/onnx/import_context.hpp"
#include "mixq/onnx/model.hpp"
#include "mixq/onnx/node_attrs.hpp"

namespace mixq::onnx {

using converter_fn = void (*)(import_context&, const node_proto&);

class converter_table {
 public:
  void add(std::string_view op_type, converter_fn fn) {
    if (!fns_.emplace(std::string(op_type), fn).second)
      throw error("mixq: two converters for ONNX op " + std::string(op_type));
  }
  converter_fn find(std::string_view op_type) const {
    auto it = fns_.find(std::string(op_type));
    return it == fns_.end() ? nullptr : it->second;
  }
  const std::unordered_map<std::string, converter_fn>& all() const { return fns_; }

 private:
  std::unordered_map<std::string, converter_fn> fns_;
};

/// Defines one output of `n` (an ONNX name) as the given ref.
inline void define_output(import_context& ctx, const node_proto& n, std::size_t i, const ref& r) {
  if (i < n.outputs.size() && !n.outputs[i].empty()) ctx.define(n.outputs[i], r);
}

/// Emits `Op` for a node with all its inputs in order and defines its outputs.
template <class Op>
void emit_simple(import_context& ctx, const node_proto& n, const typename Op::attributes& attrs = {}) {
  std::vector<ref> operands;
  for (std::size_t i = 0; i < ctx.num_inputs(n); ++i) operands.push_back(ctx.input(n, i));
  auto results = ctx.emit<Op>(operands, attrs, {import_context::loc_name(n)});
  for (std::size_t i = 0; i < results.size(); ++i) define_output(ctx, n, i, results[i]);
}

}  // namespace mixq::onnx
