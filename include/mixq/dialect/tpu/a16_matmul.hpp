#pragma once
// `tpu.A16MatMul`: a MatMul whose constant weight is stored in 8 or 4 bits (model_deploy's
// W8F16/W8BF16/W4F16/W4BF16; TPU-MLIR's A16MatMul after A16MatMulAdjust). Operands (input,
// weight, scale, zp, bias); attributes weight_bits (8|4), w_transpose, sign, q_group_size.
//   weight: [N, K] int8/uint8 (8 bits) or [N, K/2] uint8 holding two uint4 per byte, element 2j
//           in the low nibble (4 bits); mixq reads the w_transpose = true layout only, the one
//           TPU-MLIR (and mixq's lowering) writes;
//   scale:  [N, G] f16/bf16 (G = K / q_group_size, or 1 per output channel);
//   zp:     [N, G] uint8 (or none: 0); bias: [N] in the float type (or none).
// The chip dequantizes w = (q - zp) * scale into the activation type and multiplies in it: mixq
// rounds each dequantized weight to the result's float type once (prepare), then runs top.MatMul
// on the widened values and rounds the result, as every float-lowered op (float_path).
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/matmul.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

struct a16_matmul_op {
  static constexpr std::string_view mnemonic = "tpu.A16MatMul";
  static constexpr std::array operands{top::input("input"), top::weight("weight"), top::weight("scale"), top::optional_input("zp"),
                                       top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing;
  struct attributes {
    top::required<std::int64_t> weight_bits;
    bool w_transpose = false;
    bool sign = false;
    std::int64_t q_group_size = 0;
  };

  /// The logical weight [N, K] of the stored one: N, K and the element (n, k) dequantized.
  struct layout {
    std::int64_t N = 0, K = 0, groups = 1;
  };
  static layout layout_of(const shape_t& weight, const shape_t& scale, const attributes& a) {
    constexpr const char* op = "tpu.A16MatMul";
    if (*a.weight_bits != 8 && *a.weight_bits != 4) throw error(std::string(op) + ": weight_bits is " + std::to_string(*a.weight_bits) + " (8 or 4)");
    if (!a.w_transpose) throw error(std::string(op) + ": mixq reads the w_transpose = true weight layout ([N, K]) only");
    if (weight.size() != 2) throw error(std::string(op) + ": the weight must be 2-D, got " + to_string(weight));
    layout l;
    l.N = weight[0];
    l.K = *a.weight_bits == 4 ? weight[1] * 2 : weight[1];
    if (a.q_group_size < 0) throw error(std::string(op) + ": negative q_group_size");
    if (a.q_group_size > 0 && l.K % a.q_group_size != 0)
      throw error(std::string(op) + ": K = " + std::to_string(l.K) + " is not a multiple of q_group_size " + std::to_string(a.q_group_size));
    l.groups = a.q_group_size > 0 ? l.K / a.q_group_size : 1;
    if (numel(scale) != l.N * l.groups)
      throw error(std::string(op) + ": scale " + to_string(scale) + " should hold " + std::to_string(l.N * l.groups) + " values (N x groups)");
    return l;
  }

  static top::matmul_op::attributes top_attributes() {
    top::matmul_op::attributes t;
    t.right_transpose = true;  // the dequantized weight is [N, K]
    return t;
  }

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const layout l = layout_of(c.operand(1).shape, c.operand(2).shape, a);
    const shape_t& x = c.operand(0).shape;
    if (x.empty() || x.back() != l.K)
      throw error("tpu.A16MatMul: input " + to_string(x) + " does not end in K = " + std::to_string(l.K));
    if (c.has(3) && c.operand(3).numel() != l.N * l.groups) throw error("tpu.A16MatMul: zp should hold N x groups values");
    if (c.has(4)) top::matmul_op::check_bias(c.operand(4).numel(), l.N);
    auto declared = declared_results(c, "tpu.A16MatMul");
    shape_t out = x;
    out.back() = l.N;
    if (declared[0].shape != out)
      throw error("tpu.A16MatMul: declared result " + to_string(declared[0].shape) + " but the operands give " + to_string(out));
    if (!is_floating(declared[0].elem)) throw error("tpu.A16MatMul: the result must be f16, bf16 or f32");
    return declared;
  }

  /// The dequantized weight [N, K], each value rounded to `f` (the activation type).
  static tensor dequantize(const tensor& w, const tensor& scale, const tensor* zp, const attributes& a, dtype f) {
    const layout l = layout_of(w.shape(), scale.shape(), a);
    if (w.elem() != dtype::i8 && w.elem() != dtype::u8) throw error("tpu.A16MatMul: the weight must be int8 or uint8");
    if (*a.weight_bits == 4 && w.elem() != dtype::u8) throw error("tpu.A16MatMul: 4-bit weights are packed in uint8");
    if (zp && zp->elem() != dtype::u8 && zp->elem() != dtype::i8) throw error("tpu.A16MatMul: zp must be uint8");
    const tensor s = as_f32(scale);
    const float* sp = s.data<float>();
    tensor out = tensor::empty(dtype::f32, {l.N, l.K});
    float* op = out.data<float>();
    const auto* wp = reinterpret_cast<const std::uint8_t*>(w.raw());
    for (std::int64_t n = 0; n < l.N; ++n)
      for (std::int64_t k = 0; k < l.K; ++k) {
        const std::int64_t i = n * l.K + k;
        const std::int64_t p = n * l.groups + (a.q_group_size > 0 ? k / a.q_group_size : 0);
        std::int64_t q;
        if (*a.weight_bits == 4) q = (wp[i / 2] >> ((i % 2) * 4)) & 0x0F;
        else q = w.elem() == dtype::i8 ? static_cast<std::int64_t>(static_cast<std::int8_t>(wp[i])) : wp[i];
        const std::int64_t z = zp ? int_at(*zp, p) : 0;
        op[i] = static_cast<float>(q - z) * sp[p];
      }
    return f == dtype::f32 ? out : out.cast(f).cast(dtype::f32);
  }

  struct prepared {
    tensor weight;  // dequantized [N, K], f32 holding values of the result type
    std::shared_ptr<const float_path<top::matmul_op>> floating;
  };

  static prepared make(std::span<const tensor_type* const> types, std::span<const tensor* const> consts, const tensor_type& result,
                       const attributes& a) {
    const tensor* w = consts.size() > 1 ? consts[1] : nullptr;
    const tensor* s = consts.size() > 2 ? consts[2] : nullptr;
    if (!w || !s) throw error("tpu.A16MatMul: the weight and scale must be constants (top.Weight)");
    const tensor* zp = detail::present(types, 3) ? (consts.size() > 3 ? consts[3] : nullptr) : nullptr;
    if (detail::present(types, 3) && !zp) throw error("tpu.A16MatMul: zp must be a constant (top.Weight)");
    prepared pr;
    pr.weight = dequantize(*w, *s, zp, a, result.elem);
    const tensor_type wt{dtype::f32, pr.weight.shape()};
    const tensor_type* mm_types[3] = {types[0], &wt, detail::present(types, 4)};
    const tensor* mm_consts[3] = {nullptr, &pr.weight, consts.size() > 4 && detail::present(types, 4) ? consts[4] : nullptr};
    prepare_context mp{mm_types, mm_consts};
    pr.floating = std::make_shared<float_path<top::matmul_op>>(float_path<top::matmul_op>::make(mp, top_attributes()));
    return pr;
  }

  static prepared prepare(const prepare_context& p, const attributes& a) {
    return make(p.operands, p.constants, declared_result(p, "tpu.A16MatMul"), a);
  }

  static void run(kernel_context& k, const prepared& pr, bool reference) {
    const tensor* ins[3] = {k.inputs[0], &pr.weight, k.inputs.size() > 4 ? k.inputs[4] : nullptr};
    kernel_context t{ins, k.outputs, k.output_types, k.pool};
    if (reference) float_path<top::matmul_op>::run_reference(t, top_attributes());
    else pr.floating->run(t, top_attributes());
  }

  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> consts(k.inputs.begin(), k.inputs.end());
    // Callers without declared operand types: the tensors' own (none for an absent operand).
    std::vector<tensor_type> own(k.inputs.size(), tensor_type::none());
    std::vector<const tensor_type*> types(k.inputs.size());
    for (std::size_t i = 0; i < k.inputs.size(); ++i) {
      if (k.in_type(i)) types[i] = k.in_type(i);
      else if (k.inputs[i]) own[i] = tensor_type{k.inputs[i]->elem(), k.inputs[i]->shape()}, types[i] = &own[i];
      else types[i] = &own[i];
    }
    run(k, make(types, consts, k.out_type(0), a), true);
  }

  static void compute(kernel_context& k, const attributes&, const prepared& pr) { run(k, pr, false); }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::a16_matmul_op::attributes, weight_bits, w_transpose, sign, q_group_size);
