#pragma once
// INT8 lowering rules of the BM168x family (bm1684x, bm1688, bm1690, cv186x): lowering_spec §4.
// Each rule quantizes the op's weights, derives its multipliers and shifts, and emits the TPU op;
// ops it cannot take in INT8 fall back to the chip's float type, with a note.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/targets/rules_common.hpp"

namespace mixq::targets::rules {

namespace detail {

/// Per-output-channel maxima of |W| over a filter laid out [oc, ...].
inline std::vector<float> channel_absmax(const tensor& w, std::int64_t oc) {
  const tensor f = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  const std::int64_t per = f.numel() / oc;
  std::vector<float> m(static_cast<std::size_t>(oc), 0.f);
  for (std::int64_t c = 0; c < oc; ++c)
    for (std::int64_t k = 0; k < per; ++k) m[static_cast<std::size_t>(c)] = std::max(m[static_cast<std::size_t>(c)], std::fabs(f.data<float>()[c * per + k]));
  return m;
}

/// TPU-MLIR's to_all_int8: the first i in 0..6 at which every f32(w * 2^i) is an exact int8
/// (uint8 when unsigned) value.
inline std::optional<int> integer_filter_shift(const tensor& w, bool is_signed) {
  const tensor f = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  for (int i = 0; i <= 6; ++i) {
    bool ok = true;
    const float k = std::ldexp(1.f, i);
    for (float v : f.values<float>()) {
      const float s = v * k;
      if (s != std::nearbyint(s) || (is_signed ? (s < -128 || s > 127) : (s < 0 || s > 255))) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return std::nullopt;
}

inline std::int32_t checked_bias(double v, const std::string& op) {
  const double r = std::round(v);
  if (!(r >= INT32_MIN && r <= INT32_MAX))
    throw error("lowering: the int32 bias of \"" + op + "\" overflows (" + std::to_string(v) + "); TPU-MLIR's result is undefined there");
  return static_cast<std::int32_t>(r);
}

inline std::vector<double> weight_scales_attr(const lowering_context& c, int weight_v) {
  std::vector<double> out;
  const int p = c.top_value(weight_v).producer;
  if (p < 0) return out;
  if (const attribute* a = c.top_node(p).attrs.find("scale"))
    if (auto arr = a->get_if<attr_array>())
      for (const attribute& e : *arr)
        if (auto f = e.get_if<float_attr>()) out.push_back(f->value);
  return out;
}

}  // namespace detail

/// bm1684x Conv (lowering_spec §4.1).
inline void conv_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const tensor* w = c.constant(n.operands[1]);
  const shape_t& xs = c.top_value(n.operands[0]).type.shape;
  if (!w || xs.size() != 4 || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0])) {
    c.note(i, "Conv lowered to F32 (filter not a weight, not 2-D, or not calibrated)");
    return lower_float(c, i, dtype::f32);
  }
  const bool asym = c.options().asymmetric;
  const bool input_asym = asym || attr_bool(n, "input_asym");
  const int x = c.as_int8(n.operands[0], name, input_asym);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const tensor* b = n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none ? c.constant(n.operands[2]) : nullptr;
  const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
  const std::int64_t oc = wf.dim(0), per = wf.numel() / oc;
  float wmin = FLT_MAX;
  for (float v : wf.values<float>()) wmin = std::min(wmin, v);
  const bool fsign = wmin < 0 || b != nullptr;
  const double qmax = fsign ? 127.0 : 255.0;
  std::vector<double> scale_w(static_cast<std::size_t>(oc));
  const auto given = detail::weight_scales_attr(c, n.operands[1]);
  const auto shift = given.empty() ? detail::integer_filter_shift(wf, fsign) : std::nullopt;
  const auto absmax = detail::channel_absmax(wf, oc);
  for (std::int64_t k = 0; k < oc; ++k) {
    if (!given.empty()) scale_w[static_cast<std::size_t>(k)] = given.at(given.size() == 1 ? 0 : static_cast<std::size_t>(k));
    else if (shift) scale_w[static_cast<std::size_t>(k)] = std::ldexp(1.0, -*shift);
    else scale_w[static_cast<std::size_t>(k)] = static_cast<float>(std::max(static_cast<double>(static_cast<float>(absmax[static_cast<std::size_t>(k)] / static_cast<float>(qmax))), 1e-5));
  }
  double s_in = in_q.scale;
  if (s_in <= 1e-5) {  // an all-zero input
    double bmax = 0;
    if (b) for (std::int64_t k = 0; k < b->numel(); ++k) bmax = std::max(bmax, std::fabs(element_as_double(*b, k)));
    float amax = 0;
    for (float v : absmax) amax = std::max(amax, v);
    s_in = bmax > 1e-5 ? bmax / 127 : static_cast<double>(amax) / 127;
  }
  std::vector<std::int64_t> multiplier(static_cast<std::size_t>(oc)), rshift(static_cast<std::size_t>(oc));
  for (std::int64_t k = 0; k < oc; ++k) {
    const auto ms = quant::get_scale_and_shift(static_cast<float>(scale_w[static_cast<std::size_t>(k)] * s_in / out_q.scale), 32);
    multiplier[static_cast<std::size_t>(k)] = ms.multiplier;
    rshift[static_cast<std::size_t>(k)] = ms.shift;
  }
  // Weights: round half away from zero of w / scale_w (a double division), saturated.
  tensor wq = tensor::empty(fsign ? dtype::i8 : dtype::u8, w->shape());
  std::vector<double> corr(static_cast<std::size_t>(oc), 0.0);
  for (std::int64_t k = 0; k < oc; ++k)
    for (std::int64_t t = 0; t < per; ++t) {
      const double v = static_cast<double>(wf.data<float>()[k * per + t]) / scale_w[static_cast<std::size_t>(k)];
      std::int64_t q;
      if (fsign) {
        q = quant::to_int8(v);
        wq.data<std::int8_t>()[k * per + t] = static_cast<std::int8_t>(q);
      } else {
        q = quant::to_uint8(v);
        wq.data<std::uint8_t>()[k * per + t] = static_cast<std::uint8_t>(q);
      }
      // TPU-MLIR reads the int8 buffer here even for a uint8 filter (then 0): mixq uses the filter.
      corr[static_cast<std::size_t>(k)] += static_cast<double>(q) * static_cast<double>(in_q.zero_point);
    }
  std::vector<int> ops{x, c.add_weight(name + (fsign ? "_filter_i8" : "_filter_u8"), wq)};
  bool with_bias = false;
  if (b || in_q.zero_point != 0) {
    tensor bq = tensor::empty(dtype::i32, {1, oc, 1, 1});
    for (std::int64_t k = 0; k < oc; ++k) {
      const double bv = b ? element_as_double(*b, k) / (scale_w[static_cast<std::size_t>(k)] * s_in) : 0.0;
      bq.data<std::int32_t>()[k] = detail::checked_bias(bv - corr[static_cast<std::size_t>(k)], name);
    }
    ops.push_back(c.add_weight(name + "_bias_int32", bq));
    with_bias = true;
  } else {
    ops.push_back(c.none());
  }
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("with_bias", attribute(with_bias));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  a.set("multiplier", attribute(int_array(multiplier)));
  a.set("rshift", attribute(int_array(rshift)));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));  // relu_process: quantized ops clamp by saturation
  a.set("kernel_zp", attribute(int_attr{0, "i64"}));
  const int node_index = c.emit("tpu.Conv2D", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, std::move(a));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// The TPU-MLIR INT8 lookup table of an activation (§4.9): for every input integer i the
/// function of its real value, requantized to the output, half away from zero; entry at i & 0xff.
template <class F>
inline tensor lut_table(const quant::uniform_type& in, const quant::uniform_type& out, F&& f) {
  tensor t = tensor::empty(out.storage, {1, 1, 1, 256});
  const bool in_signed = in.storage == dtype::i8;
  for (int k = 0; k < 256; ++k) {
    const int i = in_signed ? k - 128 : k;
    const double x = static_cast<double>(i - in.zero_point) * in.scale;
    const double y = f(x) / out.scale + static_cast<double>(out.zero_point);
    const int index = i & 0xff;
    if (out.storage == dtype::i8) t.data<std::int8_t>()[index] = quant::to_int8(y);
    else t.data<std::uint8_t>()[index] = quant::to_uint8(y);
  }
  return t;
}

/// Activations that become tpu.Lut in INT8.
inline bool lut_function(const node& n, std::function<double(double)>& f) {
  const std::string_view op = n.mnemonic();
  if (op == "top.Sigmoid") {
    const bool log = attr_bool(n, "log");
    f = [log](double x) {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return log ? std::log(s) : s;
    };
  } else if (op == "top.SiLU") {
    f = [](double x) { return x / (1.0 + std::exp(-x)); };
  } else if (op == "top.GELU") {
    f = [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); };
  } else if (op == "top.HardSwish") {
    f = [](double x) { return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0); };
  } else if (op == "top.HardSigmoid") {
    const double alpha = attr_double(n, "alpha", 1.0 / 6), beta = attr_double(n, "beta", 0.5);
    f = [alpha, beta](double x) { return std::clamp(alpha * x + beta, 0.0, 1.0); };
  } else if (op == "top.Tanh") {
    f = [](double x) { return std::tanh(x); };
  } else {
    return false;
  }
  return true;
}

inline void lut_int8(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  std::function<double(double)> f;
  if (!has_op("tpu.Lut") || !lut_function(n, f) || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return lower_float(c, i, float_dtype(c.chip().auto_float));
  // The table uses the output type actually emitted (TPU-MLIR builds Sigmoid/SiLU/HardSwish/
  // HardSigmoid tables with the symmetric scale even in asymmetric mode: lowering_spec §11.6).
  const bool asym = c.options().asymmetric || attr_bool(n, "output_asym");
  const int x = c.as_int8(n.operands[0], c.name_of(i), c.options().asymmetric);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const int table = c.add_weight(c.name_of(i) + "_table", lut_table(in_q, *quant::parse_uniform(out_t.quant), f));
  const int node_index = c.emit("tpu.Lut", {x, table}, {out_t}, {c.top_value(n.results[0]).name});
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// bm1684x Add (§4.3): each activation input i requantized by (m_i, r_i) from c_i s_i / s_out.
inline void add_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const bool asym = c.options().asymmetric;
  if (!has_op("tpu.Add") || !c.calibrated(n.results[0]) || n.operands.size() != 2) {
    c.note(i, "Add lowered to the float type (" + std::string(n.operands.size() != 2 ? "not two inputs" : "not calibrated") + ")");
    return lower_float(c, i, float_dtype(c.chip().auto_float));
  }
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  std::vector<double> coeff{1.0, 1.0};
  if (const attribute* a = n.attrs.find("coeff"))
    if (auto arr = a->get_if<attr_array>())
      for (std::size_t k = 0; k < arr->size() && k < 2; ++k)
        if (auto fv = (*arr)[k].get_if<float_attr>()) coeff[k] = fv->value;
  std::vector<int> ops;
  std::vector<std::int64_t> mult, rsh;
  for (std::size_t k = 0; k < 2; ++k) {
    const int v = n.operands[k];
    if (const tensor* w = c.constant(v)) {  // a constant: its own abs max; the coefficient is ignored as in TPU-MLIR
      const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
      float amax = 0, mn = 0;
      for (float e : wf.values<float>()) amax = std::max(amax, std::fabs(e)), mn = std::min(mn, e);
      if (amax == 0) amax = 1e-5f;
      const bool is_signed = mn < 0;
      tensor q = tensor::empty(is_signed ? dtype::i8 : dtype::u8, c.top_value(v).type.shape);
      for (std::int64_t e = 0; e < wf.numel(); ++e) {
        const double val = static_cast<double>(wf.data<float>()[e]) * (is_signed ? 127.0 : 255.0) / amax;
        if (is_signed) q.data<std::int8_t>()[e] = quant::to_int8(val);
        else q.data<std::uint8_t>()[e] = quant::to_uint8(val);
      }
      const auto ms = quant::get_scale_and_shift_positive(static_cast<float>(amax / (is_signed ? 127.0 : 255.0) / out_q.scale), 8);
      ops.push_back(c.add_weight(c.top_value(v).name + (is_signed ? "_i8" : "_u8"), q));
      mult.push_back(ms.multiplier);
      rsh.push_back(ms.shift);
      continue;
    }
    if (!c.calibrated(v)) {
      c.note(i, "Add lowered to the float type (an input is not calibrated)");
      return lower_float(c, i, float_dtype(c.chip().auto_float));
    }
    const int x = c.as_int8(v, name, asym);
    const auto q = *quant::parse_uniform(c.out_type(x).quant);
    const auto ms = quant::get_scale_and_shift_positive(static_cast<float>(coeff[k] * q.scale / out_q.scale), 8);
    ops.push_back(x);
    mult.push_back(ms.multiplier);
    rsh.push_back(ms.shift);
  }
  attr_dict a;
  a.set("do_relu", attribute(attr_bool(n, "do_relu")));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("multipliers", attribute(int_array(mult)));
  a.set("rshifts", attribute(int_array(rsh)));
  const int node_index = c.emit("tpu.Add", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, std::move(a));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// bm1684x AvgPool (§4.6). Symmetric: (m, r) = get_scale_and_shift(f32(s_in / (s_out kh kw)),
/// 8). Asymmetric: scale = s_in / (kh kw s_out), offset = zp_out - s_in / s_out zp_in, and a
/// window that does not tile the padded input exactly goes to F32 (TPU-MLIR's F16 lowering of
/// AvgPool is F32 there); adaptive -> F32.
inline void avgpool_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const bool asym = c.options().asymmetric;
  const auto k = attr_ints(n, "kernel_shape");
  if (attr_bool(n, "is_adaptive")) return fall_back(c, i, dtype::f32, "adaptive (as TPU-MLIR)");
  if (!has_op("tpu.Pool2D") || k.size() != 2 || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]))
    return fall_back(c, i, dtype::f32, "not 2-D or not calibrated");
  if (asym) {
    const shape_t& xs = c.top_value(n.operands[0]).type.shape;
    const shape_t& ys = c.top_value(n.results[0]).type.shape;
    const auto s = attr_ints(n, "strides");
    const auto p = attr_ints(n, "pads");
    if (xs.size() != 4 || ys.size() != 4 || s.size() != 2 || p.size() != 4) return fall_back(c, i, dtype::f32, "not a 4-D pooling");
    for (std::size_t d = 0; d < 2; ++d)
      if ((ys[2 + d] - 1) * s[d] + k[d] < xs[2 + d] + p[d] + p[d + 2])
        return fall_back(c, i, dtype::f32, "asymmetric, the windows do not tile the padded input (as TPU-MLIR)");
  }
  const int x = c.as_int8(n.operands[0], c.name_of(i), asym);
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  attr_dict a = tpu_attributes(n);
  if (asym) {
    a.set("scale", attribute(float_attr{in_q.scale / (static_cast<double>(k[0] * k[1]) * out_q.scale), "f64"}));
    a.set("offset", attribute(float_attr{static_cast<double>(out_q.zero_point) - in_q.scale / out_q.scale * static_cast<double>(in_q.zero_point), "f64"}));
  } else {
    const auto ms = quant::get_scale_and_shift(static_cast<float>(in_q.scale / (out_q.scale * static_cast<double>(k[0] * k[1]))), 8);
    a.set("multiplier", attribute(int_attr{ms.multiplier, "si32"}));
    a.set("rshift", attribute(int_attr{ms.shift, "si32"}));
  }
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.Pool2D", {x}, out_t, std::move(a));
}

/// bm1684x MatMul of two activations (§4.2): symmetric only (asymmetric -> F32), (m, r) =
/// get_scale_and_shift(f32(s_in s_right / s_out), 32), a bias round(b / (s_right s_in)).
inline void matmul_activations_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  if (c.options().asymmetric) return fall_back(c, i, dtype::f32, "activation x activation with --asymmetric (as TPU-MLIR)");
  const tensor* b = n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none ? c.constant(n.operands[2]) : nullptr;
  if (n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none && !b) return fall_back(c, i, dtype::f32, "the bias is not a weight");
  const int x = c.as_int8(n.operands[0], name, false);
  const int y = c.as_int8(n.operands[1], name, false);
  const double s_in = quant::parse_uniform(c.out_type(x).quant)->scale, s_right = quant::parse_uniform(c.out_type(y).quant)->scale;
  const tensor_type out_t = int8_result(c, n.results[0], false);
  const double s_out = quant::parse_uniform(out_t.quant)->scale;
  std::vector<int> ops{x, y};
  if (b) {
    const shape_t& ys = c.top_value(n.operands[1]).type.shape;
    const std::int64_t N = attr_bool(n, "right_transpose") ? ys[ys.size() - 2] : ys.back();
    shape_t bshape(c.top_value(n.operands[0]).type.shape.size(), 1);
    bshape.back() = N;
    tensor bq = tensor::empty(dtype::i32, bshape);
    for (std::int64_t col = 0; col < N; ++col)
      bq.data<std::int32_t>()[col] = detail::checked_bias(element_as_double(*b, col % b->numel()) / (s_right * s_in), name);
    ops.push_back(c.add_weight(name + "_bias_int32", bq));
  } else {
    ops.push_back(c.none());
  }
  ops.push_back(c.none());
  ops.push_back(c.none());
  const auto ms = quant::get_scale_and_shift(static_cast<float>(s_in * s_right / s_out), 32);
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("multipliers", attribute(int_array({ms.multiplier})));
  a.set("rshifts", attribute(int_array({ms.shift})));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  emit_int8(c, i, "tpu.MatMul", std::move(ops), out_t, std::move(a));
}

namespace detail {

/// `--matmul_perchannel` (§4.2 matmulPerchannelQuant): the multipliers of the columns' factors
/// f_n, brought to one common right shift. For shift_limit = 32 down to 1 each column takes
/// get_scale_and_shift(f_n, shift_limit) (a limit of 127 below 32 bits), the largest shift r
/// wins and every multiplier is shifted left by r - r_n; a multiplier above 2^31 sends the search
/// to the next shift_limit. Exactly 2^31 passes, and wraps to INT32_MIN as TPU-MLIR's (int) does.
struct perchannel_requant {
  std::vector<std::int64_t> multipliers;
  std::int64_t rshift = 0;
};
inline perchannel_requant perchannel_multipliers(const std::vector<float>& f, const std::string& op) {
  for (int limit = 32; limit > 0; --limit) {
    std::vector<quant::multiplier_shift> ms;
    std::int64_t r = 0;
    for (float v : f) {
      ms.push_back(quant::get_scale_and_shift(v, limit));
      r = std::max(r, ms.back().shift);
    }
    perchannel_requant out;
    out.rshift = r;
    bool overflow = false;
    for (const auto& m : ms) {
      const std::int64_t shifted = m.multiplier * (std::int64_t{1} << (r - m.shift));
      if (shifted > (std::int64_t{1} << 31)) overflow = true;
      out.multipliers.push_back(static_cast<std::int32_t>(static_cast<std::uint32_t>(shifted)));
    }
    if (!overflow) return out;
  }
  throw error("lowering: the per-channel multipliers of \"" + op + "\" overflow at every shift limit (as in TPU-MLIR)");
}

}  // namespace detail

/// bm1684x/bm1688 MatMul with `--matmul_perchannel` (§4.2): one weight scale per output column n,
/// max over K of |W[k, n]| / 127 (rows for right_transpose; a `#weight_scale` holds N values),
/// W_q = to_int8(w / scale_n), b_q[n] = round(b[n] / (scale_n s_in) - corr_n), and the column's
/// multiplier in the i32 weight `<name>_multi_int32` (fuse_rq) with one shared rshift
/// (detail::perchannel_multipliers). A batched weight keeps the per-tensor rule (TPU-MLIR reads
/// its first slice only): noted.
inline bool matmul_perchannel_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const tensor& w = *c.constant(n.operands[1]);
  const bool asym = c.options().asymmetric;
  const shape_t& ws = c.top_value(n.operands[1]).type.shape;
  const bool rt = attr_bool(n, "right_transpose");
  if (ws.size() < 2) return false;
  const std::int64_t N = rt ? ws[ws.size() - 2] : ws.back(), K = rt ? ws.back() : ws[ws.size() - 2];
  if (w.numel() != K * N) {
    c.note(i, "--matmul_perchannel: a batched weight keeps the per-tensor scale (TPU-MLIR quantizes only its first slice)");
    return false;
  }
  const int x = c.as_int8(n.operands[0], name, asym || attr_bool(n, "input_asym"));
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const tensor wf = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  const auto at = [&](std::int64_t k, std::int64_t col) { return rt ? col * K + k : k * N + col; };
  const auto given = detail::weight_scales_attr(c, n.operands[1]);
  if (!given.empty() && static_cast<std::int64_t>(given.size()) != N)
    throw error("lowering: \"" + name + "\": --matmul_perchannel needs " + std::to_string(N) + " #weight_scale values, got " + std::to_string(given.size()));
  std::vector<double> scale(static_cast<std::size_t>(N));
  for (std::int64_t col = 0; col < N; ++col) {
    float m = 0;
    for (std::int64_t k = 0; k < K; ++k) m = std::max(m, std::fabs(wf.data<float>()[at(k, col)]));
    // TPU-MLIR divides by zero for an all-zero column: mixq gives that column 1e-5 (its weights
    // are 0 whatever the scale). Any other column keeps max / 127, however small.
    scale[static_cast<std::size_t>(col)] = !given.empty() ? given[static_cast<std::size_t>(col)] : m > 0 ? static_cast<double>(m) / 127.0 : 1e-5;
  }
  tensor wq = tensor::empty(dtype::i8, ws);
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t col = 0; col < N; ++col)
      wq.data<std::int8_t>()[at(k, col)] = quant::to_int8(static_cast<double>(wf.data<float>()[at(k, col)]) / scale[static_cast<std::size_t>(col)]);
  const tensor* b = n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none ? c.constant(n.operands[2]) : nullptr;
  const std::size_t rank = c.top_value(n.operands[0]).type.shape.size();
  shape_t col_shape(rank, 1);
  col_shape.back() = N;
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq)};
  if (b || in_q.zero_point != 0) {
    tensor bq = tensor::empty(dtype::i32, col_shape);
    for (std::int64_t col = 0; col < N; ++col) {
      double corr = 0;
      for (std::int64_t k = 0; k < K; ++k)
        corr += static_cast<double>(wq.data<std::int8_t>()[at(k, col)]) * static_cast<double>(in_q.zero_point);
      const double bv = b ? element_as_double(*b, col % b->numel()) / (scale[static_cast<std::size_t>(col)] * in_q.scale) : 0.0;
      bq.data<std::int32_t>()[col] = detail::checked_bias(bv - corr, name);
    }
    ops.push_back(c.add_weight(name + "_bias_int32", bq));
  } else {
    ops.push_back(c.none());
  }
  std::vector<float> f;
  for (double s : scale) f.push_back(static_cast<float>(in_q.scale * s / out_q.scale));
  const auto rq = detail::perchannel_multipliers(f, name);
  tensor multi = tensor::empty(dtype::i32, col_shape);
  for (std::int64_t col = 0; col < N; ++col) multi.data<std::int32_t>()[col] = static_cast<std::int32_t>(rq.multipliers[static_cast<std::size_t>(col)]);
  ops.push_back(c.add_weight(name + "_multi_int32", multi));
  ops.push_back(c.none());  // buffer
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("multipliers", attribute(int_array(rq.multipliers)));
  a.set("rshifts", attribute(int_array(std::vector<std::int64_t>(static_cast<std::size_t>(N), rq.rshift))));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  a.set("matmulPerchannelQuant", attribute(true));
  a.set("fuse_rq", attribute(true));
  emit_int8(c, i, "tpu.MatMul", std::move(ops), out_t, std::move(a));
  return true;
}

/// bm1684x MatMul with a weight right operand (§4.2), per-tensor (per-channel with
/// `--matmul_perchannel`).
inline void matmul_bm168x(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const std::string& name = c.name_of(i);
  const tensor* w = c.constant(n.operands[1]);
  const bool asym = c.options().asymmetric;
  if (c.constant(n.operands[0])) return fall_back(c, i, dtype::f16, "the left operand is a weight (as TPU-MLIR)");
  if (!has_op("tpu.MatMul") || !c.calibrated(n.operands[0]) || !c.calibrated(n.results[0]) || (!w && !c.calibrated(n.operands[1])))
    return fall_back(c, i, float_dtype(c.chip().auto_float), "not calibrated");
  if (!w) return matmul_activations_bm168x(c, i);
  if (c.options().matmul_perchannel && matmul_perchannel_bm168x(c, i)) return;
  const int x = c.as_int8(n.operands[0], name, asym || attr_bool(n, "input_asym"));
  const auto in_q = *quant::parse_uniform(c.out_type(x).quant);
  const tensor_type out_t = int8_result(c, n.results[0], asym);
  const auto out_q = *quant::parse_uniform(out_t.quant);
  const tensor wf = w->elem() == dtype::f32 ? *w : w->cast(dtype::f32);
  float wmax = 0;
  for (float v : wf.values<float>()) wmax = std::max(wmax, std::fabs(v));
  // TPU-MLIR has no floor here and divides by zero for an all-zero weight; mixq floors at 1e-5.
  const auto given = detail::weight_scales_attr(c, n.operands[1]);
  const double w_scale = !given.empty() ? given[0] : std::max(static_cast<double>(wmax) / 127.0, 1e-5);
  tensor wq = tensor::empty(dtype::i8, c.top_value(n.operands[1]).type.shape);
  for (std::int64_t e = 0; e < wf.numel(); ++e) wq.data<std::int8_t>()[e] = quant::to_int8(static_cast<double>(wf.data<float>()[e]) / w_scale);
  const shape_t& ws = c.top_value(n.operands[1]).type.shape;
  const bool rt = attr_bool(n, "right_transpose");
  const std::int64_t N = rt ? ws[ws.size() - 2] : ws.back(), K = rt ? ws.back() : ws[ws.size() - 2];
  const std::int64_t batch = wq.numel() / (K * N);
  const tensor* b = n.operands.size() > 2 && !c.top_value(n.operands[2]).type.is_none ? c.constant(n.operands[2]) : nullptr;
  std::vector<int> ops{x, c.add_weight(name + "_filter_int8", wq)};
  if (b || in_q.zero_point != 0) {
    if (batch != 1 && in_q.zero_point != 0) {
      c.note(i, "batched MatMul with an input zero point lowered to F32");
      c.out().weights.erase(c.out().values[static_cast<std::size_t>(ops[1])].name);
      return lower_float(c, i, dtype::f32);
    }
    shape_t bshape(c.top_value(n.operands[0]).type.shape.size(), 1);
    bshape.back() = N;
    tensor bq = tensor::empty(dtype::i32, bshape);
    for (std::int64_t col = 0; col < N; ++col) {
      double corr = 0;
      for (std::int64_t k = 0; k < K; ++k)  // W_q[k, col] whatever the layout (TPU-MLIR indexes [K, N] always)
        corr += static_cast<double>(wq.data<std::int8_t>()[rt ? col * K + k : k * N + col]) * static_cast<double>(in_q.zero_point);
      const double bv = b ? element_as_double(*b, col % b->numel()) / (w_scale * in_q.scale) : 0.0;
      bq.data<std::int32_t>()[col] = detail::checked_bias(bv - corr, name);
    }
    ops.push_back(c.add_weight(name + "_bias_int32", bq));
  } else {
    ops.push_back(c.none());
  }
  ops.push_back(c.none());  // multi
  ops.push_back(c.none());  // buffer
  const auto ms = quant::get_scale_and_shift(static_cast<float>(in_q.scale * w_scale / out_q.scale), 32);
  attr_dict a = tpu_attributes(n);
  a.erase("input_asym");
  a.set("multipliers", attribute(int_array({ms.multiplier})));
  a.set("rshifts", attribute(int_array({ms.shift})));
  a.set("quant_mode", attribute(opaque_attr{"#tpu<rq_mode MultiplierShift>"}));
  a.set("relu_limit", attribute(float_attr{-1.0, "f64"}));
  const int node_index = c.emit("tpu.MatMul", std::move(ops), {out_t}, {c.top_value(n.results[0]).name}, std::move(a));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

}  // namespace mixq::targets::rules
