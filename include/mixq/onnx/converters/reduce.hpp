#pragma once
// ONNX reductions: ReduceMean/Max/Min/Sum/Prod/L2 -> top.Reduce, ArgMax/ArgMin -> top.Arg.
#include <algorithm>
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

/// Reduced axes as ONNX gives them: the `axes` attribute, or (ReduceSum from opset 13, every
/// reduction from 18) a constant second input. Empty means "every axis" unless
/// noop_with_empty_axes, which makes the op an identity.
inline std::vector<std::int64_t> reduce_axes(import_context& ctx, const node_proto& n) {
  const bool axes_input = n.op_type == "ReduceSum" ? ctx.opset() >= 13 : ctx.opset() >= 18;
  if (!axes_input) return attr_ints(n, "axes");
  if (ctx.num_inputs(n) < 2) return {};
  return to_int64_vector(ctx.constant_input(n, 1, "axes"));
}

/// Results without axes come out of top.Reduce as [1]; ONNX wants a scalar, so reshape to [].
inline ref to_scalar_if_needed(import_context& ctx, const ref& r, const shape_t& want, const std::string& loc) {
  if (!want.empty() || ctx.shape_of(r).empty()) return r;
  top::reshape_op::attributes at;
  at.shape = std::vector<std::int64_t>{};
  return ctx.emit<top::reshape_op>({r, ref{}}, at, {loc})[0];
}

inline void convert_reduce(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  std::vector<std::int64_t> axes = reduce_axes(ctx, n);
  const bool keepdims = attr_int(n, "keepdims", 1) != 0;
  if (axes.empty()) {
    if (attr_int(n, "noop_with_empty_axes", 0) != 0) {
      define_output(ctx, n, 0, x);
      return;
    }
    for (std::size_t i = 0; i < in.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  }
  std::vector<char> reduced(in.size(), 0);
  for (auto& a : axes) {
    a = top::normalize_axis(a, in.size());
    reduced[static_cast<std::size_t>(a)] = 1;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  shape_t want;
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!reduced[i] || keepdims) want.push_back(reduced[i] ? 1 : in[i]);

  top::reduce_op::attributes at;
  at.axes = axes;
  at.keepdims = keepdims;
  at.mode.value.value = n.op_type;  // the ONNX names are TOP's mode names
  const std::string loc = import_context::loc_name(n);
  const bool scalar = want.empty();
  ref r = ctx.emit<top::reduce_op>({x}, at, {scalar ? loc + "_reduce" : loc})[0];
  define_output(ctx, n, 0, to_scalar_if_needed(ctx, r, want, loc));
}

/// ArgMax/ArgMin: indices come out as f32, as in TPU-MLIR graphs (every consumer accepts float indices).
inline void convert_arg(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  top::arg_op::attributes at;
  at.axis = top::normalize_axis(attr_int(n, "axis", 0), in.size());
  at.keepdims = attr_int(n, "keepdims", 1) != 0;
  at.mode.value.value = n.op_type;
  at.select_last_index = attr_int(n, "select_last_index", 0) != 0;
  const std::string loc = import_context::loc_name(n);
  const bool scalar = in.size() == 1 && !*at.keepdims;
  ref r = ctx.emit<top::arg_op>({x}, at, {scalar ? loc + "_arg" : loc})[0];
  define_output(ctx, n, 0, to_scalar_if_needed(ctx, r, scalar ? shape_t{} : shape_t{0}, loc));
}

}  // namespace detail

inline void add_reduce_converters(converter_table& t) {
  using namespace detail;
  for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL2"}) t.add(op, convert_reduce);
  t.add("ArgMax", convert_arg);
  t.add("ArgMin", convert_arg);
}

}  // namespace mixq::onnx
