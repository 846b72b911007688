#pragma once
// A TPU op lowered to F32/F16/BF16 computes what its TOP op computes: inputs taken as f32, the
// TOP kernel, the result rounded to the declared float type (nearest even), as TPU-MLIR's
// interpreter does for float-lowered ops (lowering_spec §3.4). `float_twin<TopOp, Name>` is such
// a TPU op with the TOP op's attributes; ops with an integer form (Conv2D, MatMul...) embed
// `float_path<TopOp>` for their float lowering.
#include <memory>
#include <span>
#include <vector>

#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::tpu {

template <class TopOp>
struct float_path {
  std::shared_ptr<const void> top_prepared;  // TopOp::prepared, when the TOP op packs its weights
  std::vector<tensor> f32_constants;         // f16/bf16 weights widened once

  static float_path make(const prepare_context& p, const typename TopOp::attributes& a) {
    float_path f;
    std::vector<const tensor*> consts(p.constants.begin(), p.constants.end());
    f.f32_constants.resize(consts.size());
    std::vector<tensor_type> types(p.operands.size());
    std::vector<const tensor_type*> type_ptrs(p.operands.size());
    for (std::size_t i = 0; i < p.operands.size(); ++i) {
      if (p.operands[i]) {
        types[i] = *p.operands[i];
        types[i].quant.clear();
        if (is_floating(types[i].elem)) types[i].elem = dtype::f32;
        type_ptrs[i] = &types[i];
      }
      if (consts[i] && is_floating(consts[i]->elem()) && consts[i]->elem() != dtype::f32) {
        f.f32_constants[i] = consts[i]->cast(dtype::f32);
        consts[i] = &f.f32_constants[i];
      }
    }
    if constexpr (top::has_prepared_compute<TopOp>) {
      prepare_context tp{type_ptrs, consts};
      f.top_prepared = std::make_shared<typename TopOp::prepared>(TopOp::prepare(tp, a));
    }
    return f;
  }

  void run(kernel_context& k, const typename TopOp::attributes& a) const { execute(k, a, this); }

  /// The TOP op's scalar reference on the widened inputs (no prepared state needed).
  static void run_reference(kernel_context& k, const typename TopOp::attributes& a) { execute(k, a, nullptr); }

 private:
  static void execute(kernel_context& k, const typename TopOp::attributes& a, const float_path* self) {
    std::vector<tensor> in(k.inputs.size());
    std::vector<const tensor*> ptrs(k.inputs.size());
    for (std::size_t i = 0; i < k.inputs.size(); ++i) {
      if (!k.inputs[i]) continue;
      const tensor& t = *k.inputs[i];
      in[i] = is_floating(t.elem()) ? as_f32(t) : t;
      ptrs[i] = &in[i];
    }
    std::vector<tensor_type> out_types(k.output_types.begin(), k.output_types.end());
    for (auto& t : out_types) {
      t.quant.clear();
      if (is_floating(t.elem)) t.elem = dtype::f32;
    }
    std::vector<tensor> outs(out_types.size());
    kernel_context tk{ptrs, outs, out_types, k.pool};
    if (!self) {
      TopOp::reference(tk, a);
    } else if constexpr (top::has_prepared_compute<TopOp>) {
      TopOp::compute(tk, a, *static_cast<const typename TopOp::prepared*>(self->top_prepared.get()));
    } else if constexpr (top::has_compute<TopOp>) {
      TopOp::compute(tk, a);
    } else {
      TopOp::reference(tk, a);
    }
    for (std::size_t i = 0; i < outs.size(); ++i) {
      if (!outs[i].defined()) tk.out(i);
      k.outputs[i] = is_floating(k.output_types[i].elem) ? to_declared(outs[i], k.output_types[i]) : outs[i];
    }
  }
};

/// A TPU op that is its TOP op run in float (name `Name`, TOP attributes and operands).
template <class TopOp, top::fixed_string Name>
struct float_twin {
  static constexpr std::string_view mnemonic = Name;
  static constexpr auto operands = TopOp::operands;
  static constexpr int num_results = TopOp::num_results;
  static constexpr std::uint32_t traits = TopOp::traits & ~trait::quantizable;
  using attributes = typename TopOp::attributes;
  using prepared = float_path<TopOp>;
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    // The TOP op's shapes, the declared element types.
    std::vector<tensor_type> t = TopOp::infer(c, a);
    for (std::size_t i = 0; i < t.size(); ++i)
      if (const tensor_type* d = c.declared(i)) t[i] = tensor_type{d->elem, t[i].shape, d->quant};
    return t;
  }
  static void reference(kernel_context& k, const attributes& a) { float_path<TopOp>::run_reference(k, a); }
  static prepared prepare(const prepare_context& p, const attributes& a) { return prepared::make(p, a); }
  static void compute(kernel_context& k, const attributes& a, const prepared& p) { p.run(k, a); }
};

}  // namespace mixq::tpu
