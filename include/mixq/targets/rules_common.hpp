#pragma once
// Pieces every lowering rule uses: attribute copying, TOP attribute reads, the float lowering of
// any op, and the INT8 lowering of ops that only move values (lowering_common_int8).
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/targets/lowering_context.hpp"

namespace mixq::targets::rules {

inline dtype float_dtype(quant_mode m) {
  switch (m) {
    case quant_mode::F16:
    case quant_mode::W8F16:
    case quant_mode::W4F16: return dtype::f16;
    case quant_mode::BF16:
    case quant_mode::W8BF16:
    case quant_mode::W4BF16: return dtype::bf16;
    default: return dtype::f32;
  }
}

/// Whether mixq has the TPU op (rules fall back to a float lowering while an integer op is missing).
inline bool has_op(std::string_view mnemonic) { return top::ops().find(mnemonic) != nullptr; }

inline std::string_view mode_label(dtype d) { return d == dtype::f16 ? "F16" : d == dtype::bf16 ? "BF16" : "F32"; }

/// TPU-MLIR's name of the TPU op a TOP op becomes (most keep their name).
inline std::string tpu_name(std::string_view top_mnemonic) {
  const std::string_view shortname = top_mnemonic.substr(top_mnemonic.find('.') + 1);
  if (shortname == "Conv") return "tpu.Conv2D";
  if (shortname == "AvgPool" || shortname == "MaxPool") return "tpu.Pool2D";
  return "tpu." + std::string(shortname);
}

inline bool attr_bool(const node& n, std::string_view key) {
  const attribute* a = n.attrs.find(key);
  return a && a->get_if<bool>() && *a->get_if<bool>();
}
inline double attr_double(const node& n, std::string_view key, double otherwise) {
  const attribute* a = n.attrs.find(key);
  if (!a) return otherwise;
  if (auto f = a->get_if<float_attr>()) return f->value;
  if (auto i = a->get_if<int_attr>()) return static_cast<double>(i->value);
  return otherwise;
}
inline std::vector<std::int64_t> attr_ints(const node& n, std::string_view key) {
  std::vector<std::int64_t> out;
  if (const attribute* a = n.attrs.find(key))
    if (auto arr = a->get_if<attr_array>())
      for (const attribute& e : *arr)
        if (auto i = e.get_if<int_attr>()) out.push_back(i->value);
  return out;
}
inline attr_array int_array(const std::vector<std::int64_t>& v) {
  attr_array a;
  for (std::int64_t x : v) a.emplace_back(int_attr{x, "i64"});
  return a;
}

/// A TOP op's attributes as its TPU op spells them: the TOP round modes go, pools gain
/// `pool_mode`, Pad's mode becomes the `#tpu<Pad_Mode x>` enum.
inline attr_dict tpu_attributes(const node& n) {
  attr_dict a = n.attrs;
  a.erase("round_mode");  // TPU-MLIR drops the TOP round_mode strings before lowering (spec §3.2)
  a.erase("first_round_mode");
  if (n.mnemonic() == "top.AvgPool" || n.mnemonic() == "top.MaxPool")
    a.set("pool_mode", attribute(opaque_attr{n.mnemonic() == "top.AvgPool" ? "#tpu<pool_mode Avg>" : "#tpu<pool_mode Max>"}));
  if (n.mnemonic() == "top.Pad")
    if (const attribute* m = n.attrs.find("mode"))
      if (auto s = m->get_if<std::string>()) a.set("mode", attribute(opaque_attr{"#tpu<Pad_Mode " + *s + ">"}));
  return a;
}

/// The activation operands of a TOP op (not weights, not none).
inline std::vector<int> activations(const lowering_context& c, const node& n) {
  std::vector<int> out;
  for (int v : n.operands)
    if (!c.top_value(v).type.is_none && !c.constant(v)) out.push_back(v);
  return out;
}

/// The lowered type of a TOP result in float type `f` (calibrated ranges kept).
inline tensor_type float_result(const lowering_context& c, int top_v, dtype f) {
  const value_info& vi = c.top_value(top_v);
  if (!is_floating(vi.type.elem)) return tensor_type{vi.type.elem, vi.type.shape};  // indices, shapes
  tensor_type t{f, vi.type.shape};
  if (const auto r = c.range(top_v)) t.quant = quant::format(quant::calibrated_type{f, r->min, r->max});
  return t;
}

/// A weight converted to float type `f` (named `<weight>_f16` / `_bf16`; f32 keeps its name).
inline int float_weight(lowering_context& c, int top_v, dtype f) {
  const tensor& w = *c.constant(top_v);
  const std::string& n = c.top_value(top_v).name;
  if (f == dtype::f32 || !is_floating(w.elem())) return c.add_weight(n, w.reshaped(c.top_value(top_v).type.shape));
  return c.add_weight(n + (f == dtype::f16 ? "_f16" : "_bf16"), w.cast(f).reshaped(c.top_value(top_v).type.shape));
}

/// Float lowering of any TOP op: the TPU twin (tpu.<Name>) when mixq has one, with the TOP
/// attributes; weights converted; operands dequantized/cast to `f`. An op mixq has no TPU float
/// form of stays a TOP op computing in F32 (reported).
inline void lower_float(lowering_context& c, int i, dtype f) {
  const node& n = c.top_node(i);
  std::string mnemonic = tpu_name(n.mnemonic());
  attr_dict attrs = tpu_attributes(n);
  dtype kind = f;
  if (!top::ops().find(mnemonic)) {
    mnemonic = std::string(n.mnemonic());
    attrs = n.attrs;
    kind = dtype::f32;
    if (f != dtype::f32) c.note(i, "kept in F32: mixq has no " + std::string(mode_label(f)) + " form of " + std::string(n.mnemonic()) + " yet");
  }
  std::vector<int> ops;
  for (int v : n.operands) {
    if (c.top_value(v).type.is_none) ops.push_back(c.none());
    else if (c.constant(v)) ops.push_back(float_weight(c, v, kind));
    else ops.push_back(c.as_float(v, kind, c.name_of(i)));
  }
  std::vector<tensor_type> types;
  std::vector<std::string> names;
  for (int r : n.results) {
    types.push_back(float_result(c, r, kind));
    names.push_back(c.top_value(r).name);
  }
  const int node_index = c.emit(mnemonic, std::move(ops), std::move(types), std::move(names), std::move(attrs));
  for (std::size_t r = 0; r < n.results.size(); ++r) c.map(n.results[r], c.result(node_index, static_cast<int>(r)));
  ++c.report().ops_per_mode[std::string(mode_label(kind))];
}

/// INT8 lowering of an op that only moves values (lowering_common_int8): the TPU twin on int8
/// data, the result typed like its input. Propagation gave most such ops their input's range;
/// where it could not (a multi-use input), TPU-MLIR types the result with its own range and
/// reinterprets the integers, which changes their meaning; mixq keeps the input's type.
inline void lower_move_int8(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  const auto in = activations(c, n);
  if (in.empty() || !c.calibrated(in[0])) return lower_float(c, i, float_dtype(c.chip().auto_float));
  const int x = c.as_int8(in[0], c.name_of(i), c.options().asymmetric);
  const tensor_type& xt = c.out_type(x);
  std::vector<int> ops;
  for (int v : n.operands) {
    if (v == in[0]) ops.push_back(x);
    else if (c.top_value(v).type.is_none) ops.push_back(c.none());
    else if (c.constant(v)) ops.push_back(c.add_weight(c.top_value(v).name, *c.constant(v)));
    else ops.push_back(c.mapped(v));
  }
  std::vector<tensor_type> types;
  std::vector<std::string> names;
  for (int r : n.results) {
    types.push_back(tensor_type{xt.elem, c.top_value(r).type.shape, xt.quant});
    names.push_back(c.top_value(r).name);
  }
  attr_dict attrs = tpu_attributes(n);
  if (n.mnemonic() == "top.Pad") {  // the pad value in the integer domain: round(val / s + zp)
    const auto u = quant::parse_uniform(xt.quant);
    const double val = attr_double(n, "val", 0.0);
    attrs.set("val", attribute(float_attr{static_cast<double>(quant::to_int(val / u->scale + static_cast<double>(u->zero_point),
                                                                            quant::round_mode::half_away_from_zero)),
                                          "f64"}));
  }
  const std::string mnemonic = tpu_name(n.mnemonic());
  if (!top::ops().find(mnemonic)) return lower_float(c, i, float_dtype(c.chip().auto_float));
  const int node_index = c.emit(mnemonic, std::move(ops), std::move(types), std::move(names), std::move(attrs));
  for (std::size_t r = 0; r < n.results.size(); ++r) c.map(n.results[r], c.result(node_index, static_cast<int>(r)));
  ++c.report().ops_per_mode["INT8"];
}

/// Emits the one-result TPU op an INT8 rule lowers TOP op i to, maps its result.
inline void emit_int8(lowering_context& c, int i, std::string_view mnemonic, std::vector<int> ops, tensor_type out_t, attr_dict attrs) {
  const node& n = c.top_node(i);
  const int node_index = c.emit(mnemonic, std::move(ops), {std::move(out_t)}, {c.top_value(n.results[0]).name}, std::move(attrs));
  c.map(n.results[0], c.result(node_index));
  ++c.report().ops_per_mode["INT8"];
}

/// An INT8 rule's float fallback (TPU-MLIR's LoweringINT8 calling a float lowering), reported.
inline void fall_back(lowering_context& c, int i, dtype f, const std::string& why) {
  const std::string_view op = c.top_node(i).mnemonic();
  c.note(i, std::string(op.substr(op.find('.') + 1)) + " lowered to " + std::string(mode_label(f)) + ": " + why);
  lower_float(c, i, f);
}

/// The `coeff` attribute of an Add/Sub (1 for each input when absent).
inline std::vector<double> coefficients(const node& n, std::size_t count) {
  std::vector<double> coeff(count, 1.0);
  if (const attribute* a = n.attrs.find("coeff"))
    if (auto arr = a->get_if<attr_array>())
      for (std::size_t k = 0; k < arr->size() && k < count; ++k) {
        if (auto fv = (*arr)[k].get_if<float_attr>()) coeff[k] = fv->value;
        else if (auto iv = (*arr)[k].get_if<int_attr>()) coeff[k] = static_cast<double>(iv->value);
      }
  return coeff;
}

/// A constant operand quantized by its own abs max (Add/Mul constants, spec §4.3, §4.5, §5):
/// signed when its minimum is negative, q = to_int8(w 127 / absmax) (to_uint8(w 255 / absmax)),
/// scale absmax / 127 (/ 255); stored as `<weight>_i8` / `_u8`.
struct absmax_constant {
  tensor q;
  double scale = 1.0;
  bool is_signed = true;
};
inline absmax_constant quantize_absmax(const tensor& w, const shape_t& shape) {
  const tensor wf = w.elem() == dtype::f32 ? w : w.cast(dtype::f32);
  float amax = 0, mn = 0;
  for (float e : wf.values<float>()) amax = std::max(amax, std::fabs(e)), mn = std::min(mn, e);
  if (amax == 0) amax = 1e-5f;
  absmax_constant r;
  r.is_signed = mn < 0;
  const double qmax = r.is_signed ? 127.0 : 255.0;
  r.q = tensor::empty(r.is_signed ? dtype::i8 : dtype::u8, shape);
  for (std::int64_t e = 0; e < wf.numel(); ++e) {
    const double val = static_cast<double>(wf.data<float>()[e]) * qmax / amax;
    if (r.is_signed) r.q.data<std::int8_t>()[e] = quant::to_int8(val);
    else r.q.data<std::uint8_t>()[e] = quant::to_uint8(val);
  }
  r.scale = static_cast<double>(amax) / qmax;
  return r;
}

inline bool same_int8_type(const quant::uniform_type& a, const quant::uniform_type& b) {
  return a.storage == b.storage && a.scale == b.scale && a.zero_point == b.zero_point;
}

/// The INT8 result type of TOP result r (its own calibrated range).
inline tensor_type int8_result(const lowering_context& c, int top_v, bool asymmetric) {
  const quant::uniform_type u = c.int8_type(top_v, asymmetric);
  return tensor_type{u.storage, c.top_value(top_v).type.shape, quant::format(u)};
}

}  // namespace mixq::targets::rules
