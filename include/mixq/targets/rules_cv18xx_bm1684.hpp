#pragma once
// INT8 rules of the other two families (lowering_spec §5, §6). CV18xx: Conv (per-channel QDM with
// thresholds and half-to-even weights), Add (one shared shift), AvgPool (truncated multiplier),
// MatMul (QDM per batch slice). BM1684: Conv and fully connected MatMul (one right shift for the
// whole filter, int16 biases), Add (a shift per input), AvgPool (reciprocal table).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/targets/rules_bm168x.hpp"
#include "mixq/targets/rules_bm168x_eltwise.hpp"
#include "mixq/targets/rules_common.hpp"

namespace mixq::targets::rules {

namespace detail {
inline bool conv_is_lowerable(const lowering_context& c, const node& n) {
  return c.constant(n.operands[1]) && c.top_value(n.operands[0]).type.shape.size() == 4 && c.calibrated(n.operands[0]) &&
         c.calibrated(n.results[0]);
}
inline const tensor* conv_bias(const lowering_context& c, const node& n) {
  return n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none ? c.constant(n.operands[2]) : nullptr;
}
inline double threshold_of(const lowering_context& c, int top_v) {
  const auto r = c.range(top_v);
  return std::max(std::fabs(r->min), std::fabs(r->max));
}
inline attr_dict conv_attrs(const node& n, const std::string& quant_mode, const std::vector<std::int64_t>& multiplier,
                            const std::vector<std::int64_t>& rshift, bool with_bias) {
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("with_bias", attribute(with_bias));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode " + quant_mode + ">"}));
  if (!multiplier.empty()) a.set("multiplier", attribute(int_array(multiplier)));
  a.set("rshift", attribute(int_array(rshift)));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("kernel_zp", attribute(int_attr{0, "i64"}));
  return a;
}
/// BM1684's int16 bias (Conv, FC): quantizeToInt16(b, 2^r / s_out) = round_half_away(f32(b
/// f32(2^r / s_out))) saturated; while more than 3% of the values overflow and r > 0, r -= 1.
inline tensor bm1684_int16_bias(const tensor& b, double s_out, int& r) {
  tensor bq = tensor::empty(dtype::i16, b.shape());
  for (;; --r) {
    const float f = static_cast<float>(std::ldexp(1.0, r) / s_out);
    std::int64_t overflow = 0;
    for (std::int64_t k = 0; k < b.numel(); ++k) {
      const double v = std::round(static_cast<double>(static_cast<float>(element_as_double(b, k)) * f));
      if (v > 32767 || v < -32768) ++overflow;
      bq.data<std::int16_t>()[k] = quant::saturate<std::int16_t>(static_cast<std::int64_t>(std::clamp(v, -1e18, 1e18)));
    }
    if (r == 0 || overflow * 100 <= 3 * b.numel()) break;
  }
  return bq;
}
/// The operands of a symmetric INT8 op with weights allowed: activations as their int8 type,
/// constants quantized by their own abs max (int8, or uint8 when non-negative).
inline std::vector<int> int8_operands_absmax(lowering_context& c, int i) {
  std::vector<int> ops;
  for (int v : c.top_node(i).operands) {
    if (const tensor* w = c.constant(v)) {
      const absmax_constant q = quantize_absmax(*w, c.top_value(v).type.shape);
      ops.push_back(c.add_weight(c.top_value(v).name + (q.is_signed ? "_i8" : "_u8"), q.q));
    } else {
      ops.push_back(c.as_int8(v, c.name_of(i), false));
    }
  }
  return ops;
}
}  // namespace detail

/// CV18xx Conv (§6): qscale = f32(w_max th_in) / f32(127 th_out), raised for a large bias, as a
/// QDM multiplier and shift; weights and biases scaled by f32(th_in/th_out) 2^(r+31)/m, rounded
/// half to even.
inline void conv_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  if (!detail::conv_is_lowerable(c, n)) {
    c.note(i, "Conv lowered to BF16 (filter not a weight, not 2-D, or not calibrated)");
    return lower_float(c, i, dtype::bf16);
  }
  const int x = c.as_int8(n.operands[0], name, false);
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const float th_in = static_cast<float>(detail::threshold_of(c, n.operands[0]));
  const float th_out = static_cast<float>(detail::threshold_of(c, n.results[0]));
  const tensor& w = *c.constant(n.operands[1]);
  const tensor wf = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  const std::int64_t oc = wf.dim(0), per = wf.numel() / oc;
  const tensor* b = detail::conv_bias(c, n);
  const auto given = detail::weight_scales_attr(c, n.operands[1]);
  const auto absmax = detail::channel_absmax(wf, oc);
  std::vector<std::int64_t> multiplier(static_cast<std::size_t>(oc)), rshift(static_cast<std::size_t>(oc));
  tensor wq = tensor::empty(dtype::i8, w.shape());
  tensor bq = tensor::empty(dtype::i32, {1, oc, 1, 1});
  for (std::int64_t k = 0; k < oc; ++k) {
    const float w_max = given.empty() ? absmax[static_cast<std::size_t>(k)]
                                      : static_cast<float>(given.at(given.size() == 1 ? 0 : static_cast<std::size_t>(k)) * 127.0);
    double qscale = static_cast<double>((w_max * th_in) / (127.f * th_out));
    if (qscale >= 1) qscale = 0.999999;
    if (b) {
      const double qb = static_cast<double>(std::fabs(static_cast<float>(element_as_double(*b, k))) * 127.f) / (2147483647.0 * 0.998 * th_out);
      if (qb > qscale && qb < 1) qscale = qb;
    }
    const auto ms = quant::rshift_and_multiplier_from_qscale(qscale, true);
    multiplier[static_cast<std::size_t>(k)] = ms.multiplier;
    rshift[static_cast<std::size_t>(k)] = ms.shift;
    const double pow2 = std::ldexp(1.0, static_cast<int>(ms.shift) + 31);
    const float wfactor = static_cast<float>(static_cast<double>(th_in / th_out) * pow2 / static_cast<double>(ms.multiplier));
    for (std::int64_t t = 0; t < per; ++t)
      wq.data<std::int8_t>()[k * per + t] = quant::to_int8(static_cast<double>(wf.data<float>()[k * per + t] * wfactor), quant::round_mode::half_to_even);
    if (b) {
      const float bfactor = static_cast<float>(static_cast<double>(127.f / th_out) * pow2 / static_cast<double>(ms.multiplier));
      const float bv = static_cast<float>(element_as_double(*b, k)) * bfactor;
      bq.data<std::int32_t>()[k] = quant::saturate<std::int32_t>(quant::to_int(static_cast<double>(bv), quant::round_mode::half_to_even));
    }
  }
  std::vector<int> ops{x, c.add_weight(name + "_filter_i8", wq), b ? c.add_weight(name + "_bias_int32", bq) : c.none()};
  const int node_index =
      c.emit("tpu.Conv2D", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, detail::conv_attrs(n, "QDM", multiplier, rshift, b != nullptr));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// BM1684 Conv (§5): one right shift r for the whole filter (its largest weight lands in
/// [63.5, 127)), weights w 2^r s_in / s_out, int16 biases b 2^r / s_out (r lowered while more
/// than 3% of them overflow), requant by that shift only.
inline void conv_bm1684(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const auto strides = attr_ints(n, "strides");
  if (!detail::conv_is_lowerable(c, n) || std::any_of(strides.begin(), strides.end(), [](std::int64_t s) { return s > 15; })) {
    c.note(i, "Conv lowered to F32 (filter not a weight, not 2-D, stride > 15, or not calibrated)");
    return lower_float(c, i, dtype::f32);
  }
  const int x = c.as_int8(n.operands[0], name, false);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const tensor& w = *c.constant(n.operands[1]);
  const tensor wf = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  float fmax = 0;
  for (float v : wf.values<float>()) fmax = std::max(fmax, std::fabs(v));
  int r = quant::cal_right_shift_num(fmax, in_q.scale, out_q.scale);
  if (r < 0) {
    c.note(i, "Conv lowered to F32 (its filter does not fit int8 at this input/output scale)");
    return lower_float(c, i, dtype::f32);
  }
  const tensor* b = detail::conv_bias(c, n);
  const tensor bq = b ? detail::bm1684_int16_bias(*b, out_q.scale, r) : tensor{};
  const float wfactor = static_cast<float>(std::ldexp(1.0, r) * in_q.scale / out_q.scale);
  tensor wq = tensor::empty(dtype::i8, w.shape());
  for (std::int64_t e = 0; e < wf.numel(); ++e) wq.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e] * wfactor));
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq), b ? c.add_weight(name + "_bias_int16", bq) : c.none()};
  const int node_index =
      c.emit("tpu.Conv2D", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, detail::conv_attrs(n, "OnlyShift", {}, {r}, b != nullptr));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// CV18xx Add (§6): q_i = f32(c_i th_i / th_out), one shared shift (m, r) =
/// getRShiftAndMultiplierFromQScale(max q_i, qdm = false, 127), per input m_i = (int8)(uint32)(
/// q_i 2^r); the sum of x_i m_i is rounded once. A constant operand -> BF16 (as TPU-MLIR); a
/// negative coefficient (undefined in TPU-MLIR) -> BF16, noted.
inline void add_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (!has_op("tpu.Add") || n.operands.size() < 2 || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::bf16, "not calibrated");
  for (int v : n.operands) {
    if (c.constant(v)) return fall_back(c, i, dtype::bf16, "a constant operand (as TPU-MLIR)");
    if (!c.calibrated(v)) return fall_back(c, i, dtype::bf16, "an input is not calibrated");
  }
  const std::vector<double> coeff = coefficients(n, n.operands.size());
  const double th_out = detail::threshold_of(c, n.results[0]);
  std::vector<double> q;
  double qmax = 0;
  for (std::size_t k = 0; k < n.operands.size(); ++k) {
    q.push_back(static_cast<double>(static_cast<float>(coeff[k] * detail::threshold_of(c, n.operands[k]) / th_out)));
    if (q.back() < 0) return fall_back(c, i, dtype::bf16, "a negative coefficient (TPU-MLIR's INT8 multiplier is undefined there)");
    qmax = std::max(qmax, std::fabs(q.back()));
  }
  const auto ms = quant::rshift_and_multiplier_from_qscale(qmax, false, 127);
  std::vector<std::int64_t> mult;
  for (double v : q) {
    if (!(v * std::ldexp(1.0, static_cast<int>(ms.shift)) < 128)) return fall_back(c, i, dtype::bf16, "an input multiplier does not fit int8");
    mult.push_back(quant::multiplier_i8_from_qscale_and_rshift(v, static_cast<int>(ms.shift)));
  }
  std::vector<int> ops;
  for (int v : n.operands) ops.push_back(c.as_int8(v, c.name_of(i), false));
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array({ms.shift})));
  emit_int8(c, i, "tpu.Add", std::move(ops), int8_result(c, n.results[0], false), std::move(a));
}

/// CV18xx AvgPool (§6, 2-D; else BF16): (m, r) = getRShiftAndMultiplierFromQScale(th_in /
/// (th_out kh kw), qdm = false, 127), a truncated multiplier in [64, 127).
inline void avgpool_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const auto k = attr_ints(n, "kernel_shape");
  if (attr_bool(n, "is_adaptive") || !has_op("tpu.Pool2D") || k.size() != 2 || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, dtype::bf16, "adaptive, not 2-D or not calibrated");
  const double th_in = detail::threshold_of(c, n.operands[0]), th_out = detail::threshold_of(c, n.results[0]);
  const auto ms = quant::rshift_and_multiplier_from_qscale(th_in / (th_out * static_cast<double>(k[0] * k[1])), false, 127);
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  attr_dict a = tpu_attributes(n);
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.Pool2D", {x}, int8_result(c, n.results[0], false), std::move(a));
}

/// CV18xx MatMul (§6): right operand a weight (else BF16). Per weight batch slice b: qscale_b =
/// f32(max|W_b| th_in) / f32(127 th_out), raised to f32(max|bias| 127) / (2147483647 0.998
/// th_out) when larger; QDM (m_b, r_b); weights f32(w f32(f32(th_in / th_out) 2^(r_b+31) / m_b))
/// and biases likewise with 127 / th_out, half to even. A bias with several weight slices would
/// need one quantization per slice, which tpu.MatMul cannot hold: BF16 (noted).
inline void matmul_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const tensor* w = c.constant(n.operands[1]);
  if (!has_op("tpu.MatMul") || !w || c.constant(n.operands[0]) || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, dtype::bf16, "the right operand is not a weight, or not calibrated (as TPU-MLIR)");
  if (attr_bool(n, "hdim_is_batch") || attr_bool(n, "left_transpose") || attr_bool(n, "output_transpose"))
    return fall_back(c, i, dtype::bf16, "a transposed or hdim_is_batch layout");
  const tensor* b = detail::conv_bias(c, n);
  if (n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none && !b) return fall_back(c, i, dtype::bf16, "the bias is not a weight");
  const shape_t& ws = c.top_value(n.operands[1]).type.shape;
  const shape_t& xs = c.top_value(n.operands[0]).type.shape;
  if (ws.size() < 2 || xs.size() < 2) return fall_back(c, i, dtype::bf16, "an operand of rank < 2");
  const bool rt = attr_bool(n, "right_transpose");
  const std::int64_t N = rt ? ws[ws.size() - 2] : ws.back(), K = rt ? ws.back() : ws[ws.size() - 2];
  const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
  const std::int64_t slices = wf.numel() / (K * N), slice = K * N;
  if (slices > 1 && numel(xs) / (xs[xs.size() - 1] * xs[xs.size() - 2]) != slices)
    return fall_back(c, i, dtype::bf16, "the weight's batches do not match the input's");
  if (slices > 1 && b) return fall_back(c, i, dtype::bf16, "a bias with a batched weight (one int32 bias per batch slice)");
  const float th_in = static_cast<float>(detail::threshold_of(c, n.operands[0]));
  const float th_out = static_cast<float>(detail::threshold_of(c, n.results[0]));
  float bmax = 0;
  if (b)
    for (std::int64_t k = 0; k < b->numel(); ++k) bmax = std::max(bmax, std::fabs(static_cast<float>(element_as_double(*b, k))));
  std::vector<std::int64_t> mult, rsh;
  tensor wq = tensor::empty(dtype::i8, ws);
  shape_t bshape(xs.size(), 1);
  bshape.back() = N;
  tensor bq = tensor::empty(dtype::i32, bshape);
  for (std::int64_t t = 0; t < slices; ++t) {
    float w_max = 0;
    for (std::int64_t e = 0; e < slice; ++e) w_max = std::max(w_max, std::fabs(wf.data<float>()[t * slice + e]));
    double qscale = static_cast<double>((w_max * th_in) / (127.f * th_out));
    if (b) {
      const double qb = static_cast<double>(bmax * 127.f) / (2147483647.0 * 0.998 * th_out);
      if (qb > qscale) qscale = qb;  // no "< 1" guard here, unlike Conv (spec §11.9)
    }
    const auto ms = quant::rshift_and_multiplier_from_qscale(qscale, true);
    if (ms.multiplier == 0) return fall_back(c, i, dtype::bf16, "an all-zero weight slice");
    mult.push_back(ms.multiplier);
    rsh.push_back(ms.shift);
    const double pow2 = std::ldexp(1.0, static_cast<int>(ms.shift) + 31);
    const float wfactor = static_cast<float>(static_cast<double>(th_in / th_out) * pow2 / static_cast<double>(ms.multiplier));
    for (std::int64_t e = 0; e < slice; ++e)
      wq.data<std::int8_t>()[t * slice + e] =
          quant::to_int8(static_cast<double>(wf.data<float>()[t * slice + e] * wfactor), quant::round_mode::half_to_even);
    if (b) {
      const float bfactor = static_cast<float>(static_cast<double>(127.f / th_out) * pow2 / static_cast<double>(ms.multiplier));
      for (std::int64_t col = 0; col < N; ++col) {
        const float bv = static_cast<float>(element_as_double(*b, col % b->numel())) * bfactor;
        bq.data<std::int32_t>()[col] = quant::saturate<std::int32_t>(quant::to_int(static_cast<double>(bv), quant::round_mode::half_to_even));
      }
    }
  }
  const int x = c.as_int8(n.operands[0], name, false);
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq), b ? c.add_weight(name + "_bias_int32", bq) : c.none(), c.none(), c.none()};
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array(rsh)));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode QDM>"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.MatMul", std::move(ops), int8_result(c, n.results[0], false), std::move(a));
}

/// BM1684 MatMul (§5): INT8 only as a 2-D fully connected layer (input [M, K], weight [K, N]);
/// r = max(calRightShiftNum(max|W|, s_in, s_out), 0), int16 bias as Conv, weights
/// f32(w f32(2^r s_in / s_out)); rshifts = [r], multipliers = [1]. Otherwise F32.
inline void matmul_bm1684(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const tensor* w = c.constant(n.operands[1]);
  const shape_t& xs = c.top_value(n.operands[0]).type.shape;
  if (!has_op("tpu.MatMul") || !w || c.constant(n.operands[0]) || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, dtype::f32, "the right operand is not a weight, or not calibrated");
  const shape_t& ws = c.top_value(n.operands[1]).type.shape;
  if (xs.size() != 2 || ws.size() != 2 || xs[1] != ws[0] || attr_bool(n, "right_transpose") || attr_bool(n, "left_transpose") ||
      attr_bool(n, "output_transpose"))
    return fall_back(c, i, dtype::f32, "not a 2-D fully connected layer (as TPU-MLIR)");
  const tensor* b = detail::conv_bias(c, n);
  if (n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none && !b) return fall_back(c, i, dtype::f32, "the bias is not a weight");
  const auto in_q = c.int8_type(n.operands[0], false);
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
  float fmax = 0;
  for (float v : wf.values<float>()) fmax = std::max(fmax, std::fabs(v));
  int r = std::max(quant::cal_right_shift_num(fmax, in_q.scale, out_q.scale), 0);
  const tensor bq = b ? detail::bm1684_int16_bias(*b, out_q.scale, r) : tensor{};
  const float wfactor = static_cast<float>(std::ldexp(1.0, r) * in_q.scale / out_q.scale);
  tensor wq = tensor::empty(dtype::i8, ws);
  for (std::int64_t e = 0; e < wf.numel(); ++e) wq.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e] * wfactor));
  const int x = c.as_int8(n.operands[0], name, false);
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq), b ? c.add_weight(name + "_bias_int16", bq) : c.none(), c.none(), c.none()};
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("multipliers", attribute(int_array({1})));
  a.set("rshifts", attribute(int_array({r})));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.MatMul", std::move(ops), out_t, std::move(a));
}

/// BM1684 Add (§5): per input r_i = max(calRightShiftNumUseCblas(c_i, s_i, s_out), 0), m_i =
/// to_int8(f32(c_i f32(2^r_i s_i / s_out))), which must lie in [0, 127] (else F32: a negative
/// coefficient is F32); a constant is quantized with its own abs max / 127 (/ 255) first.
inline void add_bm1684(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (!has_op("tpu.Add") || n.operands.size() != 2 || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::f32, "not two inputs or not calibrated");
  const std::vector<double> coeff = coefficients(n, 2);
  int constants = 0;
  for (std::size_t k = 0; k < 2; ++k) {
    if (c.constant(n.operands[k])) {
      ++constants;
      if (coeff[k] != 1.0) return fall_back(c, i, dtype::f32, "a coefficient on a constant operand (TPU-MLIR's rule is not known there)");
    } else if (!c.calibrated(n.operands[k])) {
      return fall_back(c, i, dtype::f32, "an input is not calibrated");
    }
    if (!(coeff[k] > 0)) return fall_back(c, i, dtype::f32, "a coefficient <= 0 (as TPU-MLIR)");
  }
  if (constants == 2) return fall_back(c, i, dtype::f32, "both operands are constants");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const double s_out = quant::parse_uniform(out_t.quant)->scale;
  std::vector<std::int64_t> mult, rsh;
  std::vector<double> scales;
  for (std::size_t k = 0; k < 2; ++k) {
    const int v = n.operands[k];
    const double s_k = c.constant(v) ? quantize_absmax(*c.constant(v), c.top_value(v).type.shape).scale : c.int8_type(v, false).scale;
    const int r = std::max(quant::cal_right_shift_num_use_cblas(static_cast<float>(coeff[k]), s_k, s_out), 0);
    const double m = std::round(static_cast<double>(static_cast<float>(coeff[k]) * static_cast<float>(std::ldexp(1.0, r) * s_k / s_out)));
    if (!(m >= 0 && m <= 127)) return fall_back(c, i, dtype::f32, "an input multiplier outside [0, 127] (as TPU-MLIR)");
    mult.push_back(static_cast<std::int64_t>(m));
    rsh.push_back(r);
  }
  std::vector<int> ops = detail::int8_operands_absmax(c, i);
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array(rsh)));
  emit_int8(c, i, "tpu.Add", std::move(ops), out_t, std::move(a));
}

/// BM1684 AvgPool (§5): multiplier/rshift from the reciprocal table of k = kh kw <= 225 (else
/// F32). The table assumes s_in = s_out, which BM1684's propagation forwards; where the types
/// still differ TPU-MLIR's result would be off by their ratio: F32 (noted).
inline void avgpool_bm1684(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const auto k = attr_ints(n, "kernel_shape");
  if (attr_bool(n, "is_adaptive") || !has_op("tpu.Pool2D") || k.size() != 2 || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, dtype::f32, "adaptive, not 2-D or not calibrated");
  if (k[0] * k[1] > 225) return fall_back(c, i, dtype::f32, "a window of more than 225 elements (as TPU-MLIR)");
  const int mapped = c.mapped(n.operands[0]);
  const auto have = quant::parse_uniform(c.out_type(mapped).quant);
  const quant::uniform_type in_q = have ? *have : c.int8_type(n.operands[0], false);
  const tensor_type out_t = int8_result(c, n.results[0], false);
  if (!same_int8_type(in_q, *quant::parse_uniform(out_t.quant)))
    return fall_back(c, i, dtype::f32, "input and output types differ (TPU-MLIR's reciprocal table assumes equal scales)");
  const auto ms = quant::avgpool_reciprocal_bm1684(k[0] * k[1]);
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  attr_dict a = tpu_attributes(n);
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.Pool2D", {x}, out_t, std::move(a));
}

/// BM1684 Mul (BM1684/Mul.cpp): factor = prod s_i / s_out (a constant contributes its abs max /
/// 127, or / 255 when not negative, and is quantized with it), (m, r) = get_scale_and_shift(
/// f32(factor), 8); m outside [0, 127] -> F32. TPU-MLIR clamps r into [0, 31] without changing m,
/// which would scale the result by 2^(r - clamped): mixq lowers to F32 there (noted).
inline void mul_bm1684(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (!has_op("tpu.Mul") || n.operands.size() != 2 || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::f32, "not two inputs or not calibrated");
  int constants = 0;
  for (int v : n.operands) {
    if (c.constant(v)) ++constants;
    else if (!c.calibrated(v)) return fall_back(c, i, dtype::f32, "an input is not calibrated");
  }
  if (constants == 2) return fall_back(c, i, dtype::f32, "both operands are constants");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  double factor = 1.0;
  for (int v : n.operands)
    factor *= c.constant(v) ? quantize_absmax(*c.constant(v), c.top_value(v).type.shape).scale : c.int8_type(v, false).scale;
  factor /= quant::parse_uniform(out_t.quant)->scale;
  const auto ms = quant::get_scale_and_shift(static_cast<float>(factor), 8);
  if (ms.multiplier < 0 || ms.multiplier > 127) return fall_back(c, i, dtype::f32, "a multiplier outside [0, 127] (as TPU-MLIR)");
  if (ms.shift < 0 || ms.shift > 31) return fall_back(c, i, dtype::f32, "a shift outside [0, 31], which TPU-MLIR clamps without adjusting the multiplier");
  std::vector<int> ops = detail::int8_operands_absmax(c, i);
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  emit_int8(c, i, "tpu.Mul", std::move(ops), out_t, std::move(a));
}

/// CV18xx Mul (CV18xx/Mul.cpp): the second operand must be calibrated (a weight there -> BF16, as
/// TPU-MLIR, whose test is meant for a Mul made from a Div); a constant first operand is quantized
/// signed with its abs max / 127; factor = prod s_i / s_out with s = th / 127; QDM (m, r) =
/// getRShiftAndMultiplierFromQScale(factor, qdm = true).
inline void mul_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (!has_op("tpu.Mul") || n.operands.size() != 2 || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::bf16, "not two inputs or not calibrated");
  int constants = 0;
  for (int v : n.operands) {
    if (c.constant(v)) ++constants;
    else if (!c.calibrated(v)) return fall_back(c, i, dtype::bf16, "an input is not calibrated (as TPU-MLIR)");
  }
  if (c.constant(n.operands[1])) return fall_back(c, i, dtype::bf16, "the second operand is a weight, not calibrated (as TPU-MLIR)");
  const tensor_type out_t = int8_result(c, n.results[0], false);
  double factor = 1.0;
  std::vector<int> ops;
  for (int v : n.operands) {
    if (const tensor* w = c.constant(v)) {
      const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
      float amax = 0;
      for (float e : wf.values<float>()) amax = std::max(amax, std::fabs(e));
      if (amax == 0) return fall_back(c, i, dtype::bf16, "an all-zero constant (TPU-MLIR divides by zero)");
      const float s = amax / 127.f;
      tensor q = tensor::empty(dtype::i8, c.top_value(v).type.shape);
      for (std::int64_t e = 0; e < wf.numel(); ++e) q.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e] / s));
      ops.push_back(c.add_weight(c.top_value(v).name + "_i8", q));
      factor *= static_cast<double>(s);
      continue;
    }
    ops.push_back(c.as_int8(v, c.name_of(i), false));
    factor *= quant::parse_uniform(c.out_type(ops.back()).quant)->scale;
  }
  factor /= quant::parse_uniform(out_t.quant)->scale;
  const auto ms = quant::rshift_and_multiplier_from_qscale(factor, true);
  if (ms.multiplier == 0) return fall_back(c, i, dtype::bf16, "a zero multiplier");
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{ms.shift, "i64"}));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode QDM>"}));
  emit_int8(c, i, "tpu.Mul", std::move(ops), out_t, std::move(a));
}

/// CV18xx Concat (CV18xx/Concat.cpp): a weight input -> BF16. Per input qscale = th_in / th_out
/// (1 when |th_in - th_out| <= 1e-5); qscale != 1: (m_i, r_i) = getRShiftAndMultiplierFromQScale(
/// qscale, qdm = false) (a truncated multiplier in [64, 127)), else (1, 0); `multipliers` and
/// `rshifts` per input. `only_merge` (a code-generation hint, no arithmetic) is written false.
inline void concat_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  for (int v : n.operands)
    if (c.constant(v)) return fall_back(c, i, dtype::bf16, "an input is a weight (as TPU-MLIR)");
  if (!has_op("tpu.Concat") || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::bf16, "not calibrated");
  for (int v : n.operands)
    if (!c.calibrated(v)) return fall_back(c, i, dtype::bf16, "an input is not calibrated");
  const double th_out = detail::threshold_of(c, n.results[0]);
  std::vector<std::int64_t> mult, rsh;
  std::vector<int> ops;
  for (int v : n.operands) {
    const double th_in = detail::threshold_of(c, v);
    double q = th_in / th_out;
    if (std::fabs(th_in - th_out) <= 1e-5) q = 1.0;
    std::int64_t m = 1, r = 0;
    if (static_cast<float>(q) != 1.0f) {
      const auto ms = quant::rshift_and_multiplier_from_qscale(q, false);
      m = ms.multiplier;
      r = ms.shift;
    }
    mult.push_back(m);
    rsh.push_back(r);
    ops.push_back(c.as_int8(v, c.name_of(i), false));
  }
  attr_dict a = tpu_attributes(n);
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array(rsh)));
  a.set("only_merge", attribute(false));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.Concat", std::move(ops), int8_result(c, n.results[0], false), std::move(a));
}

/// CV18xx LeakyRelu (CV18xx/LeakyRelu.cpp): qscale_pos = th_in / th_out, (1, 0) when the
/// thresholds agree within 1e-5 relative, else getRShiftAndMultiplierFromQScale(qscale_pos, qdm =
/// false); the negative side from f32(|qscale_pos alpha|) likewise. A negative alpha, whose sign
/// the absolute value drops, -> BF16 (noted).
inline void leaky_relu_cv18xx(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (!has_op("tpu.LeakyRelu") || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0])) return fall_back(c, i, dtype::bf16, "not calibrated");
  const double alpha = attr_double(n, "alpha", 0.01);
  if (alpha < 0) return fall_back(c, i, dtype::bf16, "a negative alpha (TPU-MLIR's negative multiplier drops its sign)");
  const double th_x = detail::threshold_of(c, n.operands[0]), th_y = detail::threshold_of(c, n.results[0]);
  const double q_pos = th_x / th_y;
  quant::multiplier_shift pos{1, 0};
  if (!(std::fabs(th_x - th_y) < 1e-5 * std::min(th_x, th_y))) pos = quant::rshift_and_multiplier_from_qscale(q_pos, false);
  const auto neg = quant::rshift_and_multiplier_from_qscale(static_cast<double>(static_cast<float>(std::fabs(q_pos * alpha))), false);
  const int x = c.as_int8(n.operands[0], c.name_of(i), false);
  attr_dict a;
  a.set("alpha", attribute(float_attr{alpha, "f64"}));
  a.set("multiplier", attribute(int_attr{pos.multiplier, "si32"}));
  a.set("multiplier_neg", attribute(int_attr{neg.multiplier, "si32"}));
  a.set("rshift", attribute(int_attr{pos.shift, "i64"}));
  a.set("rshift_neg", attribute(int_attr{neg.shift, "i64"}));
  emit_int8(c, i, "tpu.LeakyRelu", {x}, int8_result(c, n.results[0], false), std::move(a));
}

}  // namespace mixq::targets::rules
