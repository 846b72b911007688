#pragma once
// INT8 Conv of the other two families (lowering_spec §5, §6): CV18xx per-channel QDM with
// thresholds and half-to-even weights; BM1684 one right shift for the whole filter, int16 biases.
// Their other ops take the generic rules until their own land.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/targets/rules_bm168x.hpp"
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
  tensor bq = tensor::empty(dtype::i16, b ? b->shape() : shape_t{1});
  if (b) {
    for (;; --r) {
      const float f = static_cast<float>(std::ldexp(1.0, r) / out_q.scale);
      std::int64_t overflow = 0;
      for (std::int64_t k = 0; k < b->numel(); ++k) {
        const double v = std::round(static_cast<double>(static_cast<float>(element_as_double(*b, k)) * f));
        if (v > 32767 || v < -32768) ++overflow;
        bq.data<std::int16_t>()[k] = quant::saturate<std::int16_t>(static_cast<std::int64_t>(std::clamp(v, -1e18, 1e18)));
      }
      if (r == 0 || overflow * 100 <= 3 * b->numel()) break;
    }
  }
  const float wfactor = static_cast<float>(std::ldexp(1.0, r) * in_q.scale / out_q.scale);
  tensor wq = tensor::empty(dtype::i8, w.shape());
  for (std::int64_t e = 0; e < wf.numel(); ++e) wq.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e] * wfactor));
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq), b ? c.add_weight(name + "_bias_int16", bq) : c.none()};
  const int node_index =
      c.emit("tpu.Conv2D", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, detail::conv_attrs(n, "OnlyShift", {}, {r}, b != nullptr));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

}  // namespace mixq::targets::rules
