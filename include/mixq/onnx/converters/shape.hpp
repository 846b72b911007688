#pragma once
// ONNX ops that move data or compute shapes: Constant, ConstantOfShape, Range, Identity, Shape,
// Reshape, Transpose, Concat, Flatten, Squeeze, Unsqueeze, Gather, Slice, Pad, ScatterND.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

inline void convert_constant(import_context& ctx, const node_proto& n) {
  ref r;
  if (const tensor_proto* t = attr_tensor(n, "value")) r.constant = t->data;
  else if (has_attr(n, "value_float")) r.constant = tensor::scalar<float>(attr_float(n, "value_float", 0));
  else if (has_attr(n, "value_floats")) {
    auto v = attr_floats(n, "value_floats");
    r.constant = tensor::from_vector<float>({static_cast<std::int64_t>(v.size())}, v);
  } else if (has_attr(n, "value_int")) r.constant = tensor::scalar<std::int64_t>(attr_int(n, "value_int", 0));
  else if (has_attr(n, "value_ints")) {
    auto v = attr_ints(n, "value_ints");
    r.constant = tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
  } else throw error("Constant without a supported value attribute (sparse and string constants are not supported)");
  define_output(ctx, n, 0, r);
}

/// Shapes are static, so the shape operand is a constant and so is the result (torch exports
/// masks and index grids this way: `x.new_zeros(...)`, `torch.arange(...)`).
inline void convert_constant_of_shape(import_context& ctx, const node_proto& n) {
  const std::vector<std::int64_t> dims = to_int64_vector(ctx.constant_input(n, 0, "shape"));
  for (auto d : dims)
    if (d < 0) throw error("the shape " + to_string(shape_t(dims)) + " has a negative dimension");
  tensor value = tensor::scalar<float>(0.f);
  if (const tensor_proto* t = attr_tensor(n, "value")) {
    if (t->data.numel() != 1) throw error("value must hold one element");
    value = t->data;
  }
  tensor out = tensor::empty(value.elem(), shape_t(dims));
  const std::size_t bytes = size_of(value.elem());
  for (std::int64_t i = 0; i < out.numel(); ++i) std::memcpy(out.raw() + static_cast<std::size_t>(i) * bytes, value.raw(), bytes);
  ref r;
  r.constant = std::move(out);
  define_output(ctx, n, 0, r);
}

/// Range(start, limit, delta): folded; the operands must be constants (they are shape values).
inline void convert_range(import_context& ctx, const node_proto& n) {
  const tensor& start = ctx.constant_input(n, 0, "start");
  const tensor& limit = ctx.constant_input(n, 1, "limit");
  const tensor& delta = ctx.constant_input(n, 2, "delta");
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1) throw error("start, limit and delta must be scalars");
  const double s = element_as_double(start, 0), l = element_as_double(limit, 0), d = element_as_double(delta, 0);
  if (d == 0) throw error("delta is 0");
  const auto count = static_cast<std::int64_t>(std::max(std::ceil((l - s) / d), 0.0));
  tensor out = tensor::empty(start.elem(), {count});
  visit_dtype(start.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    // start + i * delta, as ONNX defines it (exact for integers)
    for (std::int64_t i = 0; i < count; ++i) p[i] = from_double<T>(s + static_cast<double>(i) * d);
  });
  ref r;
  r.constant = std::move(out);
  define_output(ctx, n, 0, r);
}

/// Identity and Dropout (inference) pass their input through.
inline void convert_identity(import_context& ctx, const node_proto& n) {
  if (n.op_type == "Dropout" && ctx.opset() >= 12 && ctx.num_inputs(n) > 2) {
    const auto training = ctx.constant_ints(n, 2);
    if (!training) throw error("training_mode must be a constant");
    const double ratio = ctx.num_inputs(n) > 1 && !n.inputs[1].empty() ? element_as_double(ctx.constant_input(n, 1, "ratio"), 0) : 0.5;
    if (!training->empty() && (*training)[0] != 0 && ratio != 0)
      throw error("training-mode Dropout drops random values; only inference (or ratio 0) is supported");
  }
  define_output(ctx, n, 0, ctx.input(n, 0));
  if (n.op_type == "Dropout" && n.outputs.size() > 1 && !n.outputs[1].empty()) {
    ref mask;
    mask.constant = tensor::zeros(dtype::boolean, ctx.shape_of(ctx.input(n, 0)));
    for (bool& b : mask.constant->values<bool>()) b = true;
    define_output(ctx, n, 1, mask);
  }
}

/// Shapes are static after import, so Shape is always a constant.
inline void convert_shape(import_context& ctx, const node_proto& n) {
  const shape_t s = ctx.shape_of(ctx.input(n, 0));
  const auto r = static_cast<std::int64_t>(s.size());
  std::int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, start, r);
  std::vector<std::int64_t> v(s.begin() + start, s.begin() + end);
  ref out;
  out.constant = tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v);
  define_output(ctx, n, 0, out);
}

inline void emit_reshape(import_context& ctx, const node_proto& n, const ref& x, const shape_t& shape) {
  top::reshape_op::attributes at;
  at.shape = shape;
  define_output(ctx, n, 0, ctx.emit<top::reshape_op>({x, ref{}}, at, {import_context::loc_name(n)})[0]);
}

/// ONNX Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred.
inline void convert_reshape(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  std::vector<std::int64_t> want;
  if (ctx.opset() < 5) want = attr_ints(n, "shape");
  else want = to_int64_vector(ctx.constant_input(n, 1, "shape"));
  const bool allow_zero = attr_int(n, "allowzero", 0) != 0;
  shape_t out(want.size());
  std::int64_t known = 1, infer_at = -1;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0 && !allow_zero) {
      if (i >= in.size()) throw error("shape entry 0 at position " + std::to_string(i) + " has no input dimension to copy");
      out[i] = in[i];
    } else if (want[i] == -1) {
      if (infer_at >= 0) throw error("shape has more than one -1");
      infer_at = static_cast<std::int64_t>(i);
      continue;
    } else {
      out[i] = want[i];
    }
    known *= out[i];
  }
  if (infer_at >= 0) {
    if (known == 0 || numel(in) % known != 0) throw error("cannot infer -1 in shape for input " + to_string(in));
    out[static_cast<std::size_t>(infer_at)] = numel(in) / known;
  }
  if (numel(out) != numel(in)) throw error("cannot reshape " + to_string(in) + " to " + to_string(out));
  emit_reshape(ctx, n, x, out);
}

inline void convert_flatten(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  const auto r = static_cast<std::int64_t>(in.size());
  std::int64_t axis = attr_int(n, "axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) throw error("axis " + std::to_string(axis) + " is out of range");
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= in[static_cast<std::size_t>(i)];
  emit_reshape(ctx, n, x, {outer, inner});
}

inline void convert_transpose(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const std::size_t r = ctx.shape_of(x).size();
  std::vector<std::int64_t> perm = attr_ints(n, "perm");
  if (perm.empty())
    for (std::size_t i = 0; i < r; ++i) perm.push_back(static_cast<std::int64_t>(r - 1 - i));
  top::permute_op::attributes at;
  at.order = perm;
  define_output(ctx, n, 0, ctx.emit<top::permute_op>({x}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_concat(import_context& ctx, const node_proto& n) {
  std::vector<ref> inputs;
  for (std::size_t i = 0; i < ctx.num_inputs(n); ++i)
    if (!n.inputs[i].empty() && numel(ctx.shape_of(ctx.input(n, i))) > 0) inputs.push_back(ctx.input(n, i));
  if (inputs.empty()) throw error("every input is empty");
  const std::size_t r = ctx.shape_of(inputs[0]).size();
  top::concat_op::attributes at;
  at.axis = top::si32(top::normalize_axis(attr_int(n, "axis", 0), r));
  define_output(ctx, n, 0, ctx.emit<top::concat_op>(inputs, at, {import_context::loc_name(n)})[0]);
}

/// Squeeze/Unsqueeze axes: an attribute before opset 13, an input from 13 on.
inline std::vector<std::int64_t> axes_of(import_context& ctx, const node_proto& n) {
  if (ctx.opset() >= 13) {
    if (auto v = ctx.constant_ints(n, 1)) return *v;
    if (ctx.num_inputs(n) > 1) throw error("axes must be a constant");
    return {};
  }
  return attr_ints(n, "axes");
}

inline void convert_squeeze(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  std::vector<std::int64_t> axes = axes_of(ctx, n);
  if (axes.empty())
    for (std::size_t i = 0; i < in.size(); ++i)
      if (in[i] == 1) axes.push_back(static_cast<std::int64_t>(i));
  for (auto& a : axes) a = top::normalize_axis(a, in.size());
  std::sort(axes.begin(), axes.end());
  top::squeeze_op::attributes at;
  at.axes = axes;
  define_output(ctx, n, 0, ctx.emit<top::squeeze_op>({x}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_unsqueeze(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const std::size_t out_rank = ctx.shape_of(x).size() + axes_of(ctx, n).size();
  std::vector<std::int64_t> axes = axes_of(ctx, n);
  for (auto& a : axes) a = top::normalize_axis(a, out_rank);
  std::sort(axes.begin(), axes.end());
  top::unsqueeze_op::attributes at;
  at.axes = axes;
  define_output(ctx, n, 0, ctx.emit<top::unsqueeze_op>({x}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_gather(import_context& ctx, const node_proto& n) {
  const ref data = ctx.input(n, 0), idx = ctx.input(n, 1);
  top::gather_op::attributes at;
  at.axis = top::si32(top::normalize_axis(attr_int(n, "axis", 0), ctx.shape_of(data).size()));
  at.keepdims = true;
  at.is_scalar = ctx.shape_of(idx).empty();
  define_output(ctx, n, 0, ctx.emit<top::gather_op>({data, idx}, at, {import_context::loc_name(n)})[0]);
}

/// Slice: attributes before opset 10, constant inputs from 10 on; resolved to explicit per-axis
/// start/end/step with ONNX's clamping.
inline void convert_slice(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  const std::size_t r = in.size();
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = attr_ints(n, "starts"), ends = attr_ints(n, "ends"), axes = attr_ints(n, "axes");
  } else {
    starts = to_int64_vector(ctx.constant_input(n, 1, "starts"));
    ends = to_int64_vector(ctx.constant_input(n, 2, "ends"));
    if (auto a = ctx.constant_ints(n, 3)) axes = *a;
    if (auto s = ctx.constant_ints(n, 4)) steps = *s;
  }
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw error("starts, ends, axes and steps differ in length");
  shape_t offset(r, 0), end = in, step(r, 1);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto ax = static_cast<std::size_t>(top::normalize_axis(axes[i], r));
    const std::int64_t dim = in[ax], s = steps[i];
    if (s == 0) throw error("a slice step is 0");
    std::int64_t b = starts[i], e = ends[i];
    if (b < 0) b += dim;
    if (e < 0 && e > std::numeric_limits<std::int64_t>::min() / 2) e += dim;
    if (s > 0) {
      b = std::clamp<std::int64_t>(b, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
    } else {
      b = std::clamp<std::int64_t>(b, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
      // "Before element 0" cannot be written -1: top.Slice reads a negative end from the back,
      // as ONNX does. -dim - 1 reads back as -1 (torch's exporter reverses tensors this way).
      if (e == -1) e = -dim - 1;
    }
    offset[ax] = b, end[ax] = e, step[ax] = s;
  }
  top::slice_op::attributes at;
  at.offset = offset, at.ends = end, at.steps = step;
  define_output(ctx, n, 0, ctx.emit<top::slice_op>({x, ref{}, ref{}, ref{}}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_pad(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  std::vector<std::int64_t> pads;
  double value = 0;
  if (ctx.opset() < 11) {
    pads = attr_ints(n, "pads");
    value = attr_float(n, "value", 0.f);
  } else {
    pads = to_int64_vector(ctx.constant_input(n, 1, "pads"));
    if (ctx.num_inputs(n) > 2 && !n.inputs[2].empty()) value = element_as_double(ctx.constant_input(n, 2, "constant_value"), 0);
    if (ctx.num_inputs(n) > 3) throw error("the axes input of Pad (opset 18) is not supported");
  }
  top::pad_op::attributes at;
  at.paddings = pads;
  at.val = value;
  const std::string mode = attr_string(n, "mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") throw error("unknown pad mode \"" + mode + "\"");
  at.mode.value.value = mode;
  define_output(ctx, n, 0, ctx.emit<top::pad_op>({x, ref{}}, at, {import_context::loc_name(n)})[0]);
}

/// ScatterND (opset 11; reduction from 16): top.ScatterND, folded when every operand is constant.
inline void convert_scatter_nd(import_context& ctx, const node_proto& n) {
  const std::string reduction = attr_string(n, "reduction", "none");
  top::scatter_nd_op::attributes at;
  if (reduction == "none") at.reduction.value = 0;
  else if (reduction == "add") at.reduction.value = 1;
  else if (reduction == "max") at.reduction.value = 3;
  else if (reduction == "min") at.reduction.value = 4;
  else if (reduction == "mul") at.reduction.value = 5;
  else throw error("unknown reduction \"" + reduction + "\"");
  define_output(ctx, n, 0,
                ctx.emit<top::scatter_nd_op>({ctx.input(n, 0), ctx.input(n, 1), ctx.input(n, 2)}, at,
                                             {import_context::loc_name(n)})[0]);
}

}  // namespace detail

inline void add_shape_converters(converter_table& t) {
  using namespace detail;
  t.add("Constant", convert_constant);
  t.add("ConstantOfShape", convert_constant_of_shape);
  t.add("Range", convert_range);
  t.add("ScatterND", convert_scatter_nd);
  t.add("Identity", convert_identity);
  t.add("Dropout", convert_identity);
  t.add("Shape", convert_shape);
  t.add("Reshape", convert_reshape);
  t.add("Flatten", convert_flatten);
  t.add("Transpose", convert_transpose);
  t.add("Concat", convert_concat);
  t.add("Squeeze", convert_squeeze);
  t.add("Unsqueeze", convert_unsqueeze);
  t.add("Gather", convert_gather);
  t.add("Slice", convert_slice);
  t.add("Pad", convert_pad);
}

}  // namespace mixq::onnx
