#pragma once
// INT8 lowering rules of the BM168x family for the element-wise ops, Softmax, Concat and the
// activations (lowering_spec §4.4, §4.5, §4.8, §4.10, §4.11, §3.5): Sub, Mul, MulConst
// (tpu.MulShift), AddConst, LeakyRelu, Relu, Softmax (exp table, u8 1/255 output) and Concat
// (a tpu.MulShift / tpu.RequantInt transfer for every input of another type). Each falls back
// to float where TPU-MLIR's LoweringINT8 does (§3.5), or where TPU-MLIR's integer result would
// not be the op's (noted).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/targets/rules_common.hpp"

namespace mixq::targets::rules {

/// bm1684x Sub (§4.4): symmetric only (asymmetric -> F32). Each activation i requantized by
/// get_scale_and_shift_positive(f32(c_i s_i / s_out), 8); a constant is quantized with s_out
/// itself (to_int8(w / s_out), multiplier 1, shift 0).
inline void sub_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f32, "asymmetric Sub (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.Sub") || n.operands.size() != 2 || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not two inputs or not calibrated");
  // TPU-MLIR's INT8 Sub ignores is_reverse, which would negate the result: mixq keeps it float.
  if (attr_bool(n, "is_reverse")) return fall_back(c, i, fallback, "is_reverse, which TPU-MLIR's INT8 Sub ignores");
  const std::vector<double> coeff = coefficients(n, 2);
  int constants = 0;
  for (std::size_t k = 0; k < 2; ++k) {
    if (c.constant(n.operands[k])) {
      ++constants;
      if (coeff[k] != 1.0) return fall_back(c, i, fallback, "a coefficient on a constant operand (TPU-MLIR's rule is not known there)");
    } else if (!c.calibrated(n.operands[k])) {
      return fall_back(c, i, fallback, "an input is not calibrated");
    }
  }
  if (constants == 2) return fall_back(c, i, fallback, "both operands are constants");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  std::vector<int> ops;
  std::vector<std::int64_t> mult, rsh;
  for (std::size_t k = 0; k < 2; ++k) {
    const int v = n.operands[k];
    if (const tensor* w = c.constant(v)) {
      const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
      tensor q = tensor::empty(dtype::i8, c.top_value(v).type.shape);
      for (std::int64_t e = 0; e < wf.numel(); ++e) q.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e]) / out_q.scale);
      ops.push_back(c.add_weight(c.top_value(v).name + "_i8", q));
      mult.push_back(1);
      rsh.push_back(0);
      continue;
    }
    const int x = c.as_int8(v, name, false);
    const auto q = *quant::parse_uniform(c.out_type(x).quant);
    const auto ms = quant::get_scale_and_shift_positive(static_cast<float>(coeff[k] * q.scale / out_q.scale), 8);
    ops.push_back(x);
    mult.push_back(ms.multiplier);
    rsh.push_back(ms.shift);
  }
  attr_dict a;
  a.set("is_reverse", attribute(false));
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array(rsh)));
  emit_int8(c, i, "tpu.Sub", std::move(ops), out_t, std::move(a));
}

/// bm1684x Mul (§4.5): factor = prod s_i / s_out, a constant operand contributing (and quantized
/// with) its abs max / 127 (/ 255 unsigned); (multiplier, rshift) = get_scale_and_shift(f32(factor),
/// 8). Asymmetric: the interpreter removes the activations' zero points and adds the output's.
inline void mul_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const bool asym = c.options().asymmetric;
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.Mul") || n.operands.size() != 2 || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not two inputs or not calibrated");
  int constants = 0;
  for (int v : n.operands) {
    if (c.constant(v)) ++constants;
    else if (!c.calibrated(v)) return fall_back(c, i, fallback, "an input is not calibrated");
  }
  if (constants == 2) return fall_back(c, i, fallback, "both operands are constants");
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  std::vector<int> ops;
  double factor = 1.0;
  for (int v : n.operands) {
    if (const tensor* w = c.constant(v)) {
      const absmax_constant q = quantize_absmax(*w, c.top_value(v).type.shape);
      ops.push_back(c.add_weight(c.top_value(v).name + (q.is_signed ? "_i8" : "_u8"), q.q));
      factor *= q.scale;
      continue;
    }
    const int x = c.as_int8(v, name, asym);
    factor *= quant::parse_uniform(c.out_type(x).quant)->scale;
    ops.push_back(x);
  }
  factor /= out_q.scale;
  const auto ms = quant::get_scale_and_shift(static_cast<float>(factor), 8);
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  emit_int8(c, i, "tpu.Mul", std::move(ops), out_t, std::move(a));
}

/// bm1684x MulConst -> tpu.MulShift (§4.5): get_scale_and_shift(f32(s_in / s_out c), 8), the
/// multiplier negative for c < 0; zero points from the types.
inline void mul_const_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const bool asym = c.options().asymmetric;
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.MulShift") || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not calibrated");
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  // tpu.MulShift has no relu: a fused one is exact only as the saturation of an unsigned result.
  if (attr_bool(n, "do_relu") && !(out_q.storage == dtype::u8 && out_q.zero_point == 0))
    return fall_back(c, i, fallback, "a fused relu on a signed result (tpu.MulShift has no relu)");
  const int x = c.as_int8(n.operands[0], c.name_of(i), asym);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const double cv = attr_double(n, "const_val", 1.0);
  const auto ms = quant::get_scale_and_shift(static_cast<float>(in_q.scale / out_q.scale * cv), 8);
  attr_dict a;
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  emit_int8(c, i, "tpu.MulShift", {x}, out_t, std::move(a));
}

/// bm1684x AddConst (§4.5): symmetric only (asymmetric -> F16). (m, r) = get_scale_and_shift_
/// positive(f32(s_in / s_out), 8); const_val = (int)round(c / s_out) << r.
inline void add_const_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f16, "asymmetric AddConst (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.AddConst") || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not calibrated");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const auto in_u = c.int8_type(n.operands[0], false);
  const auto ms = quant::get_scale_and_shift_positive(static_cast<float>(in_u.scale / out_q.scale), 8);
  const double k = std::round(attr_double(n, "const_val", 0.0) / out_q.scale);
  // TPU-MLIR shifts an int: beyond int32 its result is undefined.
  const double shifted = std::ldexp(k, static_cast<int>(ms.shift));
  if (!(std::fabs(shifted) <= 2147483647.0)) return fall_back(c, i, fallback, "the constant shifted by rshift does not fit int32");
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  attr_dict a;
  a.set("const_val", attribute(float_attr{shifted, "f64"}));
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  emit_int8(c, i, "tpu.AddConst", {x}, out_t, std::move(a));
}

/// bm1684x LeakyRelu (§4.8): (multiplier, rshift) = get_scale_and_shift(f32(alpha), 8), no scale
/// ratio; asymmetric -> F16. TPU-MLIR assumes the input and output share their type (propagation
/// makes them equal for a single-use input); where they differ its result is off by the ratio,
/// so mixq lowers to float there.
inline void leaky_relu_int8_shift(lowering_context& c, int i, bool with_alpha) {
  const node& n = c.top_node(i);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f16, "asymmetric LeakyRelu (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.LeakyRelu") || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not calibrated");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const int mapped = c.mapped(n.operands[0]);
  const auto have = quant::parse_uniform(c.out_type(mapped).quant);
  const quant::uniform_type in_q = have ? *have : c.int8_type(n.operands[0], false);
  if (!same_int8_type(in_q, out_q))
    return fall_back(c, i, fallback, "input and output types differ (TPU-MLIR's INT8 LeakyRelu ignores the scale ratio)");
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  const double alpha = attr_double(n, "alpha", 0.01);
  const auto ms = quant::get_scale_and_shift(static_cast<float>(alpha), 8);
  attr_dict a;
  if (with_alpha) a.set("alpha", attribute(float_attr{alpha, "f64"}));
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  emit_int8(c, i, "tpu.LeakyRelu", {x}, out_t, std::move(a));
}
inline void leaky_relu_bm168x(lowering_context& c, int i) { leaky_relu_int8_shift(c, i, true); }
/// BM1684 LeakyRelu (BM1684/LeakyRelu.cpp): the bm1684x rule without the alpha attribute.
inline void leaky_relu_bm1684(lowering_context& c, int i) { leaky_relu_int8_shift(c, i, false); }

/// bm1684x Clip: TPU-MLIR's LoweringINT8 calls LoweringF16 ("nodechip fix8b to be implemented").
inline void clip_bm168x(lowering_context& c, int i) { fall_back(c, i, dtype::f16, "Clip has no INT8 form in TPU-MLIR (as TPU-MLIR)"); }

/// bm1684x PRelu (§4.8, BM1684X/PRelu.cpp): symmetric only (asymmetric -> F16). One shift for all
/// channels, r from getRShiftAndMultiplierFromQScale(max|slope|, qdm = false), and an int8
/// multiplier per channel, (int8)(uint32)(slope_c 2^r), in the weight `<name>_slope_i8`. The
/// interpreter copies x >= 0 unchanged, so input and output must share their type (propagation
/// makes them equal); otherwise float, noted, as for LeakyRelu. A negative slope (undefined in
/// TPU-MLIR's uint32 conversion) and a slope shared by several channels (TPU-MLIR asserts one
/// per channel) -> float, noted.
inline void prelu_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f16, "asymmetric PRelu (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  const tensor* slope = c.constant(n.operands[1]);
  if (!has_op("tpu.PRelu") || !slope || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, fallback, "the slope is not a weight, or not calibrated");
  const shape_t& xs = c.top_value(n.operands[0]).type.shape;
  const std::int64_t channels = xs.size() > 1 ? xs[1] : 1;
  if (slope->numel() != channels) return fall_back(c, i, fallback, "not one slope per channel (TPU-MLIR's INT8 PRelu asserts it)");
  const tensor sf = slope->elem() == dtype::f32 ? *slope : slope->cast(dtype::f32);
  float smax = 0;
  for (float v : sf.values<float>()) {
    if (v < 0) return fall_back(c, i, fallback, "a negative slope (TPU-MLIR's int8 slope is undefined there)");
    smax = std::max(smax, v);
  }
  const auto ms = quant::rshift_and_multiplier_from_qscale(static_cast<double>(smax), false);
  for (float v : sf.values<float>())
    if (!(static_cast<double>(v) * std::ldexp(1.0, static_cast<int>(ms.shift)) < 128))
      return fall_back(c, i, fallback, "a slope above 127 (its int8 multiplier would wrap)");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const int mapped = c.mapped(n.operands[0]);
  const auto have = quant::parse_uniform(c.out_type(mapped).quant);
  const quant::uniform_type in_q = have ? *have : c.int8_type(n.operands[0], false);
  if (!same_int8_type(in_q, *quant::parse_uniform(out_t.quant)))
    return fall_back(c, i, fallback, "input and output types differ (TPU-MLIR's INT8 PRelu copies the positive integers)");
  tensor sq = tensor::empty(dtype::i8, c.top_value(n.operands[1]).type.shape);
  for (std::int64_t k = 0; k < sf.numel(); ++k)
    sq.data<std::int8_t>()[k] = quant::multiplier_i8_from_qscale_and_rshift(static_cast<double>(sf.data<float>()[k]), static_cast<int>(ms.shift));
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  const int w = c.add_weight(c.name_of(i) + "_slope_i8", sq);
  attr_dict a = tpu_attributes(n);
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  emit_int8(c, i, "tpu.PRelu", {x, w}, out_t, std::move(a));
}

/// Relu (§4.8, §6, §3.1 item 11): tpu.Relu on the input's integers with relu_limit -1 (the
/// limit becomes the saturation of the calibrated range). Asymmetric -> F32 (bm1684x), a limit
/// on CV18xx -> BF16 (as TPU-MLIR); a limit below the input's threshold, which saturation alone
/// would not apply, -> float (noted).
inline void relu_int8(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const double limit = attr_double(n, "relu_limit", -1.0);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f32, "asymmetric Relu (as TPU-MLIR)");
  if (c.chip().arithmetic == arithmetic_family::cv18xx && limit > 0) return fall_back(c, i, dtype::bf16, "Relu with a relu_limit (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.Relu") || !c.calibrated(n.operands[0])) return fall_back(c, i, fallback, "not calibrated");
  const int mapped = c.mapped(n.operands[0]);
  const auto have = quant::parse_uniform(c.out_type(mapped).quant);
  const quant::uniform_type in_q = have ? *have : c.int8_type(n.operands[0], false);
  if (limit > 0) {
    const double top = static_cast<double>(in_q.storage == dtype::i8 ? 127 : 255) * in_q.scale;
    if (top > limit * (1 + 1e-6)) return fall_back(c, i, fallback, "relu_limit below the input's range (the INT8 Relu clamps only by saturation)");
  }
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  attr_dict a;
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  const tensor_type& xt = c.out_type(x);
  emit_int8(c, i, "tpu.Relu", {x}, tensor_type{xt.elem, c.top_value(n.results[0]).type.shape, xt.quant}, std::move(a));
}

/// bm1684x Softmax (§4.10): INT8 for rank <= 4, axis 1, not log (else F16). Table: 256 f32
/// entries exp(-s_in i beta); the result is u8 with scale 1/255 (the importer fixes a Softmax
/// output to [0, 1]). mixq runs any rank directly: no Reshape pair around ranks < 4.
inline void softmax_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::size_t rank = c.top_value(n.operands[0]).type.shape.size();
  std::int64_t axis = static_cast<std::int64_t>(attr_double(n, "axis", 1));
  if (axis < 0) axis += static_cast<std::int64_t>(rank);
  if (attr_bool(n, "log") || rank > 4 || axis != 1) return fall_back(c, i, dtype::f16, "log-softmax, rank > 4 or axis != 1 (as TPU-MLIR)");
  if (!has_op("tpu.Softmax") || !c.calibrated(n.operands[0])) return fall_back(c, i, dtype::f16, "not calibrated");
  const int x = c.as_int8(n.operands[0], c.name_of(i), c.options().asymmetric);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const double beta = attr_double(n, "beta", 1.0);
  tensor table = tensor::empty(dtype::f32, {1, 1, 1, 256});
  for (int k = 0; k < 256; ++k) table.data<float>()[k] = static_cast<float>(std::exp(-in_q.scale * k * beta));
  const quant::uniform_type out_u{dtype::u8, dtype::f32, 1.0 / 255, 0};
  const tensor_type out_t{dtype::u8, c.top_value(n.results[0]).type.shape, quant::format(out_u)};
  attr_dict a;
  a.set("axis", attribute(int_attr{1, "si32"}));
  a.set("log", attribute(false));
  a.set("beta", attribute(float_attr{beta, "f64"}));
  const int t = c.add_weight(c.name_of(i) + "_table", table);
  emit_int8(c, i, "tpu.Softmax", {x, t, c.none(), c.none(), c.none(), c.none()}, out_t, std::move(a));
}

/// bm1684x Concat (§4.11): any constant input -> F16. Every distinct input of another type than
/// the output goes through do_transfer: a tpu.MulShift `<in>_to_<out>` (no zero points) or a
/// tpu.RequantInt (MultiplierShift, HalfAwayFromZero), (m, r) = get_scale_and_shift_positive(
/// f32(s_in / s_out), 8).
inline void concat_transfer_int8(lowering_context& c, int i, dtype weight_fallback, bool only_merge_attr) {
  const node& n = c.top_node(i);
  const bool asym = c.options().asymmetric;
  for (int v : n.operands)
    if (c.constant(v)) return fall_back(c, i, weight_fallback, "an input is a weight (as TPU-MLIR)");
  const dtype fallback = float_dtype(c.chip().auto_float);
  if (!has_op("tpu.Concat") || !c.calibrated(n.results[0])) return fall_back(c, i, fallback, "not calibrated");
  for (int v : n.operands)
    if (!c.calibrated(v)) return fall_back(c, i, fallback, "an input is not calibrated");
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const std::string& out_name = c.top_value(n.results[0]).name;
  std::map<int, int> transferred;
  std::vector<int> ops;
  for (int v : n.operands) {
    const int x = c.as_int8(v, c.name_of(i), asym);
    if (auto it = transferred.find(x); it != transferred.end()) {
      ops.push_back(it->second);
      continue;
    }
    const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
    int y = x;
    if (!same_int8_type(in_q, out_q)) {
      const auto ms = quant::get_scale_and_shift_positive(static_cast<float>(in_q.scale / out_q.scale), 8);
      const tensor_type t{out_t.elem, c.out_type(x).shape, out_t.quant};
      attr_dict a;
      a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
      a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
      const std::string tname = c.out().values[static_cast<std::size_t>(x)].name + "_to_" + out_name;
      if (in_q.zero_point == 0 && out_q.zero_point == 0) {
        y = c.result(c.emit("tpu.MulShift", {x}, {t}, {tname}, std::move(a)));
      } else {
        a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
        a.set("round_mode", attribute(opaque_attr{"#tpu<round_mode HalfAwayFromZero>"}));
        y = c.result(c.emit("tpu.RequantInt", {x}, {t}, {tname}, std::move(a)));
      }
    }
    transferred[x] = y;
    ops.push_back(y);
  }
  attr_dict a = tpu_attributes(n);
  if (only_merge_attr) a.set("only_merge", attribute(false));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.Concat", std::move(ops), out_t, std::move(a));
}
inline void concat_bm168x(lowering_context& c, int i) { concat_transfer_int8(c, i, dtype::f16, false); }
/// BM1684 Concat (BM1684/Concat.cpp): the same do_transfer per input, a weight input -> F32,
/// `only_merge = false`.
inline void concat_bm1684(lowering_context& c, int i) { concat_transfer_int8(c, i, dtype::f32, true); }

}  // namespace mixq::targets::rules
