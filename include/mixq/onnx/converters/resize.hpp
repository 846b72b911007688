#pragma once
// ONNX Upsample (opsets 7-9) and Resize (10, 11, 13) -> top.Upsample for nearest integer
// upscaling, top.Interp otherwise, as TPU-MLIR maps them. What top.Interp cannot express
// (cubic, tf_crop_and_resize, resizing N or C, other nearest roundings) is rejected.
#include <cmath>
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

struct resize_request {
  std::vector<double> scales;        // one per axis, or empty when sizes are given
  std::vector<std::int64_t> sizes;   // one per axis, or empty
  std::string mode = "nearest";      // nearest | linear | cubic
  std::string coord = "half_pixel";  // coordinate_transformation_mode
  std::string nearest = "round_prefer_floor";
};

/// True when nearest resizing by the integer factor `s` picks source index x / s for every
/// output x under this coordinate mode and rounding, i.e. it is exactly top.Upsample.
inline bool nearest_is_integer_upsample(const std::string& coord, const std::string& rounding) {
  const bool rounds = rounding == "round_prefer_floor" || rounding == "round_prefer_ceil";
  if (coord == "half_pixel" || coord == "pytorch_half_pixel") return rounds;
  if (coord == "asymmetric" || coord == "tf_half_pixel_for_nn") return rounding == "floor";
  return false;
}

/// The nearest variants top.Interp computes: floor for asymmetric, round_prefer_floor otherwise.
inline bool interp_can_do_nearest(const std::string& coord, const std::string& rounding) {
  if (coord == "asymmetric") return rounding == "floor";
  return (coord == "half_pixel" || coord == "pytorch_half_pixel" || coord == "align_corners") && rounding == "round_prefer_floor";
}

inline void emit_resize(import_context& ctx, const node_proto& n, const ref& x, const resize_request& rq) {
  const shape_t in = ctx.shape_of(x);
  const std::size_t r = in.size();
  if (rq.mode != "nearest" && rq.mode != "linear")
    throw error("mode \"" + rq.mode + "\" is not supported (top.Interp does nearest and linear only)");
  if (rq.coord == "tf_crop_and_resize") throw error("coordinate_transformation_mode tf_crop_and_resize is not supported by top.Interp");
  if (!rq.scales.empty() && rq.scales.size() != r)
    throw error("scales has " + std::to_string(rq.scales.size()) + " values for a rank-" + std::to_string(r) + " input");
  if (!rq.sizes.empty() && rq.sizes.size() != r)
    throw error("sizes has " + std::to_string(rq.sizes.size()) + " values for a rank-" + std::to_string(r) + " input");
  if (rq.scales.empty() && rq.sizes.empty()) throw error("neither scales nor sizes is given");
  if (r < 3) throw error("input " + to_string(in) + " has rank " + std::to_string(r) + "; top.Interp resizes N x C x [H x] W tensors");
  shape_t out(r);
  for (std::size_t i = 0; i < r; ++i)
    out[i] = rq.sizes.empty() ? static_cast<std::int64_t>(std::floor(static_cast<double>(in[i]) * rq.scales[i])) : rq.sizes[i];
  for (std::size_t i = 0; i + 2 < r; ++i)
    if (out[i] != in[i] || (!rq.scales.empty() && rq.scales[i] != 1.0))
      throw error("resizes axis " + std::to_string(i) + " of " + to_string(in) + "; top.Interp only resizes the trailing (H, W) axes");
  const std::size_t h = r >= 4 ? r - 2 : r, w = r - 1;  // h == r: no H axis
  const std::string loc = import_context::loc_name(n);

  // Integer nearest upscaling is top.Upsample.
  if (rq.mode == "nearest" && nearest_is_integer_upsample(rq.coord, rq.nearest)) {
    auto factor = [&](std::size_t i) -> std::int64_t {
      if (i == r) return 1;
      if (in[i] <= 0 || out[i] % in[i] != 0) return 0;
      const std::int64_t f = out[i] / in[i];
      if (!rq.scales.empty() && rq.scales[i] != static_cast<double>(f)) return 0;
      return f;
    };
    const std::int64_t fh = factor(h), fw = factor(w);
    if (fh >= 1 && fw >= 1) {
      top::upsample_op::attributes at;
      at.scale_h = fh;
      at.scale_w = fw;
      define_output(ctx, n, 0, ctx.emit<top::upsample_op>({x}, at, {loc})[0]);
      return;
    }
  }
  if (rq.mode == "nearest" && !interp_can_do_nearest(rq.coord, rq.nearest))
    throw error("nearest resizing with coordinate_transformation_mode " + rq.coord + " and nearest_mode " + rq.nearest +
                " is not supported (top.Interp rounds down for asymmetric and to the nearest, ties down, otherwise)");
  if (rq.mode == "linear" && rq.coord == "tf_half_pixel_for_nn")
    throw error("linear resizing with coordinate_transformation_mode tf_half_pixel_for_nn is not supported by top.Interp");
  top::interp_op::attributes at;
  at.mode.value.value = rq.mode;
  at.coord_mode.value.value = rq.coord;
  ref target;
  if (rq.sizes.empty()) {
    at.scale_h = h < r ? rq.scales[h] : 1.0;
    at.scale_w = rq.scales[w];
  } else {
    std::vector<std::int64_t> hw;
    if (h < r) hw.push_back(out[h]);
    hw.push_back(out[w]);
    target.constant = tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(hw.size())}, hw);
    target.name = loc + "_target_shape";
  }
  define_output(ctx, n, 0, ctx.emit<top::interp_op>({x, target}, at, {loc})[0]);
}

inline std::vector<double> to_doubles(const tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = element_as_double(t, i);
  return v;
}

/// Upsample: nearest is floor(x / scale) (asymmetric, floor); scales are an attribute in opset 7
/// and an input from opset 9.
inline void convert_upsample(import_context& ctx, const node_proto& n) {
  resize_request rq;
  rq.mode = attr_string(n, "mode", "nearest");
  if (rq.mode == "bilinear") rq.mode = "linear";
  rq.coord = "asymmetric";
  rq.nearest = "floor";
  if (ctx.opset() < 9) {
    for (float s : attr_floats(n, "scales")) rq.scales.push_back(s);
  } else {
    rq.scales = to_doubles(ctx.constant_input(n, 1, "scales"));
  }
  emit_resize(ctx, n, ctx.input(n, 0), rq);
}

/// Resize: opset 10 behaves as Upsample; from 11 on, inputs are X, roi, scales, sizes.
inline void convert_resize(import_context& ctx, const node_proto& n) {
  resize_request rq;
  rq.mode = attr_string(n, "mode", "nearest");
  if (ctx.opset() < 11) {
    rq.coord = "asymmetric";
    rq.nearest = "floor";
    rq.scales = to_doubles(ctx.constant_input(n, 1, "scales"));
  } else {
    rq.coord = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    rq.nearest = attr_string(n, "nearest_mode", "round_prefer_floor");
    const bool has_sizes = ctx.num_inputs(n) > 3 && !n.inputs[3].empty();
    const bool has_scales = ctx.num_inputs(n) > 2 && !n.inputs[2].empty() &&
                            !(ctx.input(n, 2).is_constant() && ctx.input(n, 2).constant->numel() == 0);
    if (has_sizes) rq.sizes = to_int64_vector(ctx.constant_input(n, 3, "sizes"));
    else if (has_scales) rq.scales = to_doubles(ctx.constant_input(n, 2, "scales"));
  }
  emit_resize(ctx, n, ctx.input(n, 0), rq);
}

}  // namespace detail

inline void add_resize_converters(converter_table& t) {
  t.add("Upsample", detail::convert_upsample);
  t.add("Resize", detail::convert_resize);
}

}  // namespace mixq::onnx
