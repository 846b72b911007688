#pragma once
// Weight-only modes (W8F16, W8BF16, W4F16, W4BF16; facts §6: "apply to MatMul only, the other ops
// run in F16/BF16"): a top.MatMul whose right operand is a 2-D top.Weight becomes tpu.A16MatMul
// with the weight in 8 or 4 bits (quant/weight_only.hpp), its scales in the activation type and
// its zero points in uint8, as TPU-MLIR's MatMul LoweringF16/BF16 + A16MatMulAdjust write it.
// Anything else (a batched or activation right operand, a weight left operand, a reduction size
// the group size does not divide) is lowered like the float mode, with a note saying why.
#include <string>
#include <vector>

#include "mixq/quant/weight_only.hpp"
#include "mixq/targets/rules_common.hpp"

namespace mixq::targets::rules {

inline constexpr bool is_weight_only(quant_mode m) {
  return m == quant_mode::W8F16 || m == quant_mode::W8BF16 || m == quant_mode::W4F16 || m == quant_mode::W4BF16;
}
inline constexpr int weight_only_bits(quant_mode m) { return m == quant_mode::W4F16 || m == quant_mode::W4BF16 ? 4 : 8; }

/// The group size op `name` quantizes with: its qtable column, else `--q_group_size` for W4 modes
/// and 0 (per output channel) for W8 modes, as TPU-MLIR's model_deploy passes it.
inline std::int64_t weight_only_group_size(const deploy_options& opt, const std::string& name, quant_mode m) {
  if (auto it = opt.qtable_group_size.find(name); it != opt.qtable_group_size.end()) return it->second;
  return weight_only_bits(m) == 4 ? opt.q_group_size : 0;
}

inline void a16_matmul(lowering_context& c, int i, quant_mode m) {
  const node& n = c.top_node(i);
  const dtype f = float_dtype(m);
  const std::string& name = c.name_of(i);
  const tensor* w = c.constant(n.operands[1]);
  const shape_t& ws = c.top_value(n.operands[1]).type.shape;
  const std::string label = std::string(mode_name(m));
  const auto as_float_mode = [&](const std::string& why) {
    c.note(i, "MatMul lowered to " + std::string(mode_label(f)) + " instead of " + label + ": " + why);
    lower_float(c, i, f);
  };
  if (c.constant(n.operands[0])) return as_float_mode("the left operand is a weight");
  if (!w) return as_float_mode("the right operand is not a weight (weight-only modes quantize constant weights)");
  if (ws.size() != 2) return as_float_mode("the weight is not 2-D (TPU-MLIR replaces linear layers only)");
  for (const char* flag : {"left_transpose", "output_transpose", "hdim_is_batch"})
    if (attr_bool(n, flag)) return as_float_mode(std::string(flag) + " is set");
  const bool rt = attr_bool(n, "right_transpose");
  const std::int64_t K = rt ? ws[1] : ws[0], N = rt ? ws[0] : ws[1];
  quant::weight_only_spec spec;
  spec.bits = weight_only_bits(m);
  spec.group_size = weight_only_group_size(c.options(), c.top_value(n.results[0]).name, m);
  spec.symmetric = c.options().q_symmetric;
  if (spec.group_size > 0 && K % spec.group_size != 0)
    return as_float_mode("its reduction size " + std::to_string(K) + " is not a multiple of q_group_size " + std::to_string(spec.group_size));
  if (spec.bits == 4 && K % 2 != 0) return as_float_mode("4-bit packing needs an even reduction size, got " + std::to_string(K));
  // Rows = output channels: [N, K] (TPU-MLIR transposes the [K, N] weight and sets w_transpose).
  const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
  std::vector<float> rows(static_cast<std::size_t>(N * K));
  for (std::int64_t r = 0; r < N; ++r)
    for (std::int64_t k = 0; k < K; ++k)
      rows[static_cast<std::size_t>(r * K + k)] = wf.data<float>()[rt ? r * K + k : k * N + r];
  const quant::weight_only_weights q = quant::quantize_weight_only(rows, N, K, spec);

  const int x = c.as_float(n.operands[0], f, name);
  const dtype wt = q.signed_storage ? dtype::i8 : dtype::u8;
  tensor wq = tensor::empty(wt, {N, spec.bits == 4 ? K / 2 : K});
  std::copy(q.data.begin(), q.data.end(), reinterpret_cast<std::uint8_t*>(wq.raw()));
  tensor scale = tensor::empty(dtype::f32, {N, q.groups()});
  std::copy(q.scale.begin(), q.scale.end(), scale.data<float>());
  tensor zp = tensor::empty(dtype::u8, {N, q.groups()});
  std::copy(q.zp.begin(), q.zp.end(), zp.data<std::uint8_t>());
  std::vector<int> ops{x, c.add_weight(name + (q.signed_storage ? "_int" : "_uint"), std::move(wq)),
                       c.add_weight(name + (f == dtype::f16 ? "_scale_f16" : "_scale_bf16"), scale.cast(f)), c.add_weight(name + "_zp", std::move(zp))};
  const bool has_bias = n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none;
  ops.push_back(has_bias ? float_weight(c, n.operands[2], f) : c.none());
  attr_dict a;
  a.set("weight_bits", attribute(int_attr{spec.bits, "i64"}));
  a.set("w_transpose", attribute(true));
  a.set("sign", attribute(q.sign));
  a.set("q_group_size", attribute(int_attr{spec.group_size, "i64"}));
  const tensor_type out_t = float_result(c, n.results[0], f);
  const std::string& out_name = c.top_value(n.results[0]).name;
  if (!attr_bool(n, "do_relu")) {
    const int k = c.emit("tpu.A16MatMul", std::move(ops), {out_t}, {out_name}, std::move(a));
    c.map(n.results[0], c.result(k));
  } else {  // A16MatMul has no fused relu: TPU-MLIR's F16 lowering adds a tpu.Relu named like the MatMul
    const int k = c.emit("tpu.A16MatMul", std::move(ops), {out_t}, {out_name + "_a16matmul"}, std::move(a));
    attr_dict ra;
    ra.set("relu_limit", attribute(float_attr{attr_double(n, "relu_limit", -1.0), "f64"}));
    const int r = c.emit("tpu.Relu", {c.result(k)}, {out_t}, {out_name}, std::move(ra));
    c.map(n.results[0], c.result(r));
  }
  ++c.report().ops_per_mode[label];
}

}  // namespace mixq::targets::rules
