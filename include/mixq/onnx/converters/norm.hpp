#pragma once
// ONNX LayerNormalization (opset 17) -> top.LayerNorm, InstanceNormalization -> top.InstanceNorm.
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

/// A LayerNormalization parameter as top.LayerNorm wants it (prod(shape[axis:]) values): given
/// as is when it has that many, broadcast on the host when it is a smaller constant; absent
/// (and applied afterwards by a broadcasting op) otherwise.
inline bool layer_norm_param_fits(import_context& ctx, ref& p, const shape_t& inner_shape) {
  if (p.absent()) return true;
  const std::int64_t inner = numel(inner_shape);
  if (numel(ctx.shape_of(p)) == inner) return true;
  if (!p.is_constant()) return false;
  const tensor src = p.constant->cast(dtype::f32);
  const shape_t st = top::broadcast_strides(src.shape(), inner_shape);
  tensor full = tensor::empty(dtype::f32, inner_shape);
  std::vector<std::int64_t> idx(inner_shape.size(), 0);
  for (std::int64_t i = 0; i < inner; ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * st[d];
    full.data<float>()[i] = src.data<float>()[off];
    for (std::size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < inner_shape[d]) break;
      idx[d] = 0;
    }
  }
  p.constant = full;
  p.name = p.name + "_broadcast";
  return true;
}

/// Mean and 1 / sqrt(var + eps) over the normalised axes, for the optional outputs 1 and 2.
inline void layer_norm_statistics(import_context& ctx, const node_proto& n, const ref& x, std::vector<std::int64_t> axes,
                                  double eps) {
  const bool want_mean = n.outputs.size() > 1 && !n.outputs[1].empty();
  const bool want_inv = n.outputs.size() > 2 && !n.outputs[2].empty();
  if (!want_mean && !want_inv) return;
  const std::string loc = import_context::loc_name(n);
  top::reduce_op::attributes mean_at;
  mean_at.axes = axes;
  mean_at.keepdims = true;
  mean_at.mode.value.value = "ReduceMean";
  const ref mean = ctx.emit<top::reduce_op>({x}, mean_at, {n.outputs.size() > 1 && !n.outputs[1].empty() ? n.outputs[1] + "_Mean" : loc + "_mean"})[0];
  if (want_mean) define_output(ctx, n, 1, mean);
  if (!want_inv) return;
  const ref centred = ctx.emit<top::sub_op>({x, mean}, {}, {loc + "_centred"})[0];
  const ref squared = ctx.emit<top::mul_op>({centred, centred}, {}, {loc + "_squared"})[0];
  const ref var = ctx.emit<top::reduce_op>({squared}, mean_at, {loc + "_var"})[0];
  top::add_const_op::attributes add_eps;
  add_eps.const_val = eps;
  const ref shifted = ctx.emit<top::add_const_op>({var}, add_eps, {loc + "_var_eps"})[0];
  const ref stddev = ctx.emit<top::sqrt_op>({shifted}, {}, {loc + "_stddev"})[0];
  define_output(ctx, n, 2, ctx.emit<top::reciprocal_op>({stddev}, {}, {n.outputs[2] + "_InvStdDev"})[0]);
}

inline void convert_layer_norm(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  ref scale = ctx.input(n, 1), bias = ctx.input(n, 2);
  const shape_t in = ctx.shape_of(x);
  const std::int64_t axis = top::normalize_axis(attr_int(n, "axis", -1), in.size());
  const double eps = attr_float(n, "epsilon", 1e-5f);
  const shape_t inner_shape(in.begin() + axis, in.end());
  const std::string loc = import_context::loc_name(n);

  top::layer_norm_op::attributes at;
  at.normalized_shape = inner_shape;
  at.axis = top::si32(axis);
  at.eps = eps;
  const ref scale_after = layer_norm_param_fits(ctx, scale, inner_shape) ? ref{} : scale;
  const ref bias_after = layer_norm_param_fits(ctx, bias, inner_shape) ? ref{} : bias;
  if (!scale_after.absent()) scale = ref{};
  if (!bias_after.absent()) bias = ref{};
  const bool affine_after = !scale_after.absent() || !bias_after.absent();
  ref y = ctx.emit<top::layer_norm_op>({x, scale, bias}, at, {affine_after ? loc + "_norm" : loc})[0];
  if (!scale_after.absent()) y = ctx.emit<top::mul_op>({y, scale_after}, {}, {bias_after.absent() ? loc : loc + "_scale"})[0];
  if (!bias_after.absent()) y = ctx.emit<top::add_op>({y, bias_after}, {}, {loc})[0];
  define_output(ctx, n, 0, y);

  std::vector<std::int64_t> axes;
  for (auto a = axis; a < static_cast<std::int64_t>(in.size()); ++a) axes.push_back(a);
  layer_norm_statistics(ctx, n, x, axes, eps);
}

inline void convert_instance_norm(import_context& ctx, const node_proto& n) {
  top::instance_norm_op::attributes at;
  at.eps = attr_float(n, "epsilon", 1e-5f);
  define_output(ctx, n, 0,
                ctx.emit<top::instance_norm_op>({ctx.input(n, 0), ctx.input(n, 1), ctx.input(n, 2)}, at,
                                                {import_context::loc_name(n)})[0]);
}

}  // namespace detail

inline void add_norm_converters(converter_table& t) {
  t.add("LayerNormalization", detail::convert_layer_norm);
  t.add("InstanceNormalization", detail::convert_instance_norm);
}

}  // namespace mixq::onnx
