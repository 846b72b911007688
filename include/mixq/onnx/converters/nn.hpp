#pragma once
// ONNX ops with weights or windows: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization,
// pooling, Softmax / LogSoftmax.
#include <numeric>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

/// Explicit [begins..., ends...] pads for a window op, resolving auto_pad as ONNX defines it.
inline std::vector<std::int64_t> window_pads(const node_proto& n, const shape_t& in, const std::vector<std::int64_t>& kernel,
                                             const std::vector<std::int64_t>& strides, const std::vector<std::int64_t>& dilations) {
  const std::size_t r = kernel.size();
  const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    auto pads = attr_ints(n, "pads", std::vector<std::int64_t>(2 * r, 0));
    if (pads.size() != 2 * r) throw error("pads has " + std::to_string(pads.size()) + " values, expected " + std::to_string(2 * r));
    return pads;
  }
  std::vector<std::int64_t> pads(2 * r, 0);
  if (auto_pad == "VALID") return pads;
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") throw error("unknown auto_pad \"" + auto_pad + "\"");
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t size = in[2 + i], s = strides[i], out = (size + s - 1) / s;
    const std::int64_t total = std::max<std::int64_t>((out - 1) * s + (kernel[i] - 1) * dilations[i] + 1 - size, 0);
    const std::int64_t small = total / 2, large = total - small;
    pads[i] = auto_pad == "SAME_UPPER" ? small : large;
    pads[r + i] = auto_pad == "SAME_UPPER" ? large : small;
  }
  return pads;
}

inline void convert_conv(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0), w = ctx.input(n, 1), b = ctx.input(n, 2);
  const shape_t in = ctx.shape_of(x), ws = ctx.shape_of(w);
  if (in.size() < 3) throw error("input of rank " + std::to_string(in.size()) + " is not N x C x spatial");
  const std::size_t r = in.size() - 2;
  top::conv_op::attributes at;
  std::vector<std::int64_t> kernel = attr_ints(n, "kernel_shape", shape_t(ws.begin() + 2, ws.end()));
  at.kernel_shape = kernel;
  at.strides = attr_ints(n, "strides", std::vector<std::int64_t>(r, 1));
  at.dilations = attr_ints(n, "dilations", std::vector<std::int64_t>(r, 1));
  at.pads = window_pads(n, in, kernel, *at.strides, *at.dilations);
  at.group = attr_int(n, "group", 1);
  define_output(ctx, n, 0, ctx.emit<top::conv_op>({x, w, b}, at, {import_context::loc_name(n)})[0]);
}

/// ONNX stores a ConvTranspose filter as [ic, oc/group, k...]; TOP's Deconv weight is
/// [oc/group, ic, k...]: swap the two leading axes of a constant filter.
inline tensor deconv_filter_to_top(const tensor& onnx_filter) {
  const tensor f = onnx_filter.cast(dtype::f32);
  const shape_t& s = f.shape();
  const std::int64_t a = s[0], b = s[1], inner = numel(s) / (a * b);
  shape_t out_shape = s;
  std::swap(out_shape[0], out_shape[1]);
  tensor out = tensor::empty(dtype::f32, out_shape);
  const float* src = f.data<float>();
  float* dst = out.data<float>();
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      std::copy(src + (i * b + j) * inner, src + (i * b + j + 1) * inner, dst + (j * a + i) * inner);
  return out;
}

inline void convert_conv_transpose(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0), b = ctx.input(n, 2);
  ref w = ctx.input(n, 1);
  if (w.is_constant() && w.constant->rank() >= 3) w.constant = deconv_filter_to_top(*w.constant);
  const shape_t in = ctx.shape_of(x), ws = ctx.shape_of(w);
  if (in.size() < 3) throw error("input of rank " + std::to_string(in.size()) + " is not N x C x spatial");
  const std::size_t r = in.size() - 2;
  top::deconv_op::attributes at;
  const std::vector<std::int64_t> kernel = attr_ints(n, "kernel_shape", shape_t(ws.begin() + 2, ws.end()));
  at.kernel_shape = kernel;
  at.strides = attr_ints(n, "strides", std::vector<std::int64_t>(r, 1));
  at.dilations = attr_ints(n, "dilations", std::vector<std::int64_t>(r, 1));
  at.group = attr_int(n, "group", 1);
  std::vector<std::int64_t> out_pad = attr_ints(n, "output_padding", std::vector<std::int64_t>(r, 0));
  std::vector<std::int64_t> pads = attr_ints(n, "pads", std::vector<std::int64_t>(2 * r, 0));
  const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
  const auto output_shape = attr_ints(n, "output_shape");
  if (!output_shape.empty() || (auto_pad != "NOTSET" && auto_pad != "VALID")) {
    // Pads that give the requested output: total = s*(in-1) + op + ((k-1)*d+1) - out.
    for (std::size_t i = 0; i < r; ++i) {
      const std::int64_t s = (*at.strides)[i], d = (*at.dilations)[i];
      const std::int64_t want = !output_shape.empty() ? output_shape[output_shape.size() - r + i] : in[2 + i] * s;
      const std::int64_t total = s * (in[2 + i] - 1) + out_pad[i] + ((kernel[i] - 1) * d + 1) - want;
      const std::int64_t small = total / 2, large = total - small;
      const bool upper = auto_pad != "SAME_LOWER";
      pads[i] = upper ? small : large;
      pads[r + i] = upper ? large : small;
    }
  } else if (auto_pad == "VALID") {
    pads.assign(2 * r, 0);
  }
  at.pads = pads;
  at.output_padding = out_pad;
  define_output(ctx, n, 0, ctx.emit<top::deconv_op>({x, w, b}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_matmul(import_context& ctx, const node_proto& n) {
  define_output(ctx, n, 0,
                ctx.emit<top::matmul_op>({ctx.input(n, 0), ctx.input(n, 1), ref{}}, {}, {import_context::loc_name(n)})[0]);
}

inline tensor transpose_2d(const tensor& t) {
  const tensor f = t.cast(dtype::f32);
  const std::int64_t rows = f.dim(0), cols = f.dim(1);
  tensor out = tensor::empty(dtype::f32, {cols, rows});
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) out.data<float>()[j * rows + i] = f.data<float>()[i * cols + j];
  return out;
}
inline tensor scaled(const tensor& t, float s) {
  tensor out = t.cast(dtype::f32).clone();
  for (float& v : out.values<float>()) v *= s;
  return out;
}

/// Gemm -> MatMul with a [K, N] right operand and the bias folded in, as TPU-MLIR imports it.
inline void convert_gemm(import_context& ctx, const node_proto& n) {
  ref a = ctx.input(n, 0), b = ctx.input(n, 1), c = ctx.input(n, 2);
  const float alpha = attr_float(n, "alpha", 1.f), beta = attr_float(n, "beta", 1.f);
  const bool trans_a = attr_int(n, "transA", 0) != 0, trans_b = attr_int(n, "transB", 0) != 0;
  const std::string loc = import_context::loc_name(n);
  if (ctx.shape_of(a).size() != 2 || ctx.shape_of(b).size() != 2) throw error("Gemm operands must be 2-D");
  if (trans_a) {
    top::permute_op::attributes p;
    p.order = std::vector<std::int64_t>{1, 0};
    a = ctx.emit<top::permute_op>({a}, p, {loc + "_transA"})[0];
  }
  top::matmul_op::attributes mm;
  if (b.is_constant()) {
    tensor w = trans_b ? transpose_2d(*b.constant) : b.constant->cast(dtype::f32);
    if (alpha != 1.f) w = scaled(w, alpha);
    const std::string name = b.name;
    b = ref{};
    b.constant = w;
    b.name = (trans_b || alpha != 1.f) ? name + "_" + loc : name;
  } else {
    mm.right_transpose = trans_b;
    if (alpha != 1.f) {  // alpha * (A B) = (alpha A) B
      top::mul_const_op::attributes m;
      m.const_val = alpha;
      a = ctx.emit<top::mul_const_op>({a}, m, {loc + "_alpha"})[0];
    }
  }
  const std::int64_t N = ctx.shape_of(b)[mm.right_transpose ? 0 : 1];
  ref bias;
  bool add_after = false;
  if (!c.absent()) {
    if (c.is_constant() && (c.constant->numel() == N || c.constant->numel() == 1)) {
      tensor cb = tensor::empty(dtype::f32, {N});
      const tensor cf = c.constant->cast(dtype::f32);
      for (std::int64_t j = 0; j < N; ++j) cb.data<float>()[j] = beta * cf.data<float>()[cf.numel() == 1 ? 0 : j];
      bias.constant = cb;
      bias.name = c.name + (beta != 1.f || c.constant->numel() != N ? "_" + loc : "");
    } else {
      add_after = true;
    }
  }
  ref out = ctx.emit<top::matmul_op>({a, b, bias}, mm, {add_after ? loc + "_matmul" : loc})[0];
  if (add_after) {
    if (beta != 1.f) {
      top::mul_const_op::attributes m;
      m.const_val = beta;
      c = ctx.emit<top::mul_const_op>({c}, m, {loc + "_beta"})[0];
    }
    out = ctx.emit<top::add_op>({out, c}, {}, {loc})[0];
  }
  define_output(ctx, n, 0, out);
}

inline void convert_batch_norm(import_context& ctx, const node_proto& n) {
  top::batch_norm_op::attributes at;
  at.epsilon = attr_float(n, "epsilon", 1e-5f);
  // ONNX order: X, scale, B, mean, var; TOP: input, mean, variance, gamma, beta.
  const auto out = ctx.emit<top::batch_norm_op>({ctx.input(n, 0), ctx.input(n, 3), ctx.input(n, 4), ctx.input(n, 1), ctx.input(n, 2)},
                                                at, {import_context::loc_name(n)});
  define_output(ctx, n, 0, out[0]);
}

template <class PoolOp>
void convert_pool(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  if (in.size() < 3) throw error("input of rank " + std::to_string(in.size()) + " is not N x C x spatial");
  const std::size_t r = in.size() - 2;
  typename PoolOp::attributes at;
  const auto kernel = attr_ints(n, "kernel_shape");
  if (kernel.size() != r) throw error("kernel_shape must have " + std::to_string(r) + " values");
  const auto dilations = attr_ints(n, "dilations", std::vector<std::int64_t>(r, 1));
  for (auto d : dilations)
    if (d != 1) throw error("dilated pooling is not supported");
  at.kernel_shape = kernel;
  at.strides = attr_ints(n, "strides", std::vector<std::int64_t>(r, 1));
  at.pads = window_pads(n, in, kernel, *at.strides, dilations);
  if (attr_int(n, "ceil_mode", 0)) at.ceil_mode = true;
  at.count_include_pad = attr_int(n, "count_include_pad", 0) != 0;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) throw error("MaxPool's Indices output is not supported");
  define_output(ctx, n, 0, ctx.emit<PoolOp>({x}, at, {import_context::loc_name(n)})[0]);
}

/// Global pooling = a window over the whole map (TPU-MLIR has no global pooling op).
template <class PoolOp>
void convert_global_pool(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  if (in.size() < 3) throw error("input of rank " + std::to_string(in.size()) + " is not N x C x spatial");
  typename PoolOp::attributes at;
  at.kernel_shape = std::vector<std::int64_t>(in.begin() + 2, in.end());
  at.strides = std::vector<std::int64_t>(in.size() - 2, 1);
  at.pads = std::vector<std::int64_t>(2 * (in.size() - 2), 0);
  define_output(ctx, n, 0, ctx.emit<PoolOp>({x}, at, {import_context::loc_name(n)})[0]);
}

/// Softmax / LogSoftmax. Before opset 13 the op flattens to 2-D at `axis` (default 1); that is
/// a plain softmax over the last axis when axis is the last one, else Reshape, Softmax, Reshape.
inline void softmax_like(import_context& ctx, const node_proto& n, bool log) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  const std::string loc = import_context::loc_name(n);
  top::softmax_op::attributes at;
  at.log = log;
  const auto rank = static_cast<std::int64_t>(in.size());
  if (ctx.opset() >= 13) {
    at.axis = top::si32(top::normalize_axis(attr_int(n, "axis", -1), in.size()));
    define_output(ctx, n, 0, ctx.emit<top::softmax_op>({x}, at, {loc})[0]);
    return;
  }
  const std::int64_t axis = top::normalize_axis(attr_int(n, "axis", 1), in.size());
  if (axis == rank - 1) {
    at.axis = top::si32(axis);
    define_output(ctx, n, 0, ctx.emit<top::softmax_op>({x}, at, {loc})[0]);
    return;
  }
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= in[static_cast<std::size_t>(i)];
  top::reshape_op::attributes flat;
  flat.shape = std::vector<std::int64_t>{outer, inner};
  const ref f = ctx.emit<top::reshape_op>({x, ref{}}, flat, {loc + "_flatten"})[0];
  at.axis = top::si32(1);
  const ref s = ctx.emit<top::softmax_op>({f}, at, {loc + "_2d"})[0];
  top::reshape_op::attributes back;
  back.shape = in;
  define_output(ctx, n, 0, ctx.emit<top::reshape_op>({s, ref{}}, back, {loc})[0]);
}
inline void convert_softmax(import_context& ctx, const node_proto& n) { softmax_like(ctx, n, false); }
inline void convert_log_softmax(import_context& ctx, const node_proto& n) { softmax_like(ctx, n, true); }

}  // namespace detail

inline void add_nn_converters(converter_table& t) {
  using namespace detail;
  t.add("Conv", convert_conv);
  t.add("ConvTranspose", convert_conv_transpose);
  t.add("MatMul", convert_matmul);
  t.add("Gemm", convert_gemm);
  t.add("BatchNormalization", convert_batch_norm);
  t.add("MaxPool", convert_pool<top::max_pool_op>);
  t.add("AveragePool", convert_pool<top::avg_pool_op>);
  t.add("GlobalAveragePool", convert_global_pool<top::avg_pool_op>);
  t.add("GlobalMaxPool", convert_global_pool<top::max_pool_op>);
  t.add("Softmax", convert_softmax);
  t.add("LogSoftmax", convert_log_softmax);
}

}  // namespace mixq::onnx
