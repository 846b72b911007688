#pragma once
// Resizing over the two trailing axes (H, W): Interp (nearest / linear, ONNX Resize coordinate
// modes) and Upsample (integer nearest).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"

namespace mixq::top {

namespace detail {

/// Source coordinate of output position `x` as ONNX Resize defines it. `scale` is the requested
/// factor when the resize was given by scales (ONNX then uses it, and in * scale as the resized
/// length, rather than the rounded output size); <= 0 means out / in.
inline double interp_source(std::int64_t x, std::int64_t in, std::int64_t out, std::string_view coord, double scale = -1) {
  const double s = scale > 0 ? scale : static_cast<double>(out) / static_cast<double>(in);
  const double length = scale > 0 ? static_cast<double>(in) * scale : static_cast<double>(out);
  const double xd = static_cast<double>(x);
  if (coord == "align_corners") return length > 1 ? xd * static_cast<double>(in - 1) / (length - 1) : 0.0;
  if (coord == "asymmetric") return xd / s;
  if (coord == "pytorch_half_pixel" && length <= 1) return 0.0;
  return (xd + 0.5) / s - 0.5;  // half_pixel, pytorch_half_pixel
}

/// One axis of an interpolation: for each output position, two source indices and the weight of the second.
struct interp_axis {
  std::vector<std::int64_t> i0, i1;
  std::vector<double> w1;
};

/// Nearest picks floor for `asymmetric` (what PyTorch and TPU-MLIR do for that mode) and ONNX's default
/// round_prefer_floor for the others; linear clamps the source coordinate into [0, in - 1].
inline interp_axis make_interp_axis(std::int64_t in, std::int64_t out, std::string_view coord, bool linear,
                                    double scale = -1) {
  interp_axis ax;
  for (std::int64_t x = 0; x < out; ++x) {
    const double src = interp_source(x, in, out, coord, scale);
    std::int64_t a, b;
    double w = 0;
    if (linear) {
      const double c = std::clamp(src, 0.0, static_cast<double>(in - 1));
      a = static_cast<std::int64_t>(std::floor(c));
      b = std::min(a + 1, in - 1);
      w = c - static_cast<double>(a);
    } else {
      const double f = std::floor(src);
      const double r = coord == "asymmetric" ? f : (src - f > 0.5 ? f + 1 : f);
      a = b = std::clamp(static_cast<std::int64_t>(r), std::int64_t{0}, in - 1);
    }
    ax.i0.push_back(a);
    ax.i1.push_back(b);
    ax.w1.push_back(w);
  }
  return ax;
}

/// Axis positions of H and W: the two trailing axes (H absent, i.e. -1, for rank 3... W-only resizing).
struct hw_axes {
  std::int64_t h, w;
};
inline hw_axes resize_axes(std::string_view op, const shape_t& s) {
  if (s.size() < 3) throw error(std::string(op) + ": input " + to_string(s) + " needs at least 3 axes");
  const auto r = static_cast<std::int64_t>(s.size());
  return {r >= 4 ? r - 2 : -1, r - 1};
}

}  // namespace detail

/// `top.Interp`: the output size comes from the constant target_shape (its trailing entries are H, W)
/// or from floor(in * scale_h/scale_w); the kernel follows the result type. Positive scale_h/scale_w
/// also place the source coordinates (ONNX Resize with scales), which differs from out / in when
/// in * scale is not an integer.
struct interp_op {
  static constexpr std::string_view mnemonic = "top.Interp";
  static constexpr std::array operands{top::input("input"), top::optional_input("target_shape")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  struct attributes {
    required<one_of<"nearest", "linear">> mode;
    required<one_of<"align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric">> coord_mode;
    double scale_h = -1.0;
    double scale_w = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    shape_t s = c.operand(0).shape;
    const auto ax = detail::resize_axes(mnemonic, s);
    if (c.has(1)) {
      const tensor* t = c.constant(1);
      if (!t) throw error("top.Interp: target_shape is not a constant, so the result shape is unknown");
      const std::int64_t n = t->numel();
      if (n < (ax.h >= 0 ? 2 : 1)) throw error("top.Interp: target_shape has too few values");
      s[static_cast<std::size_t>(ax.w)] = static_cast<std::int64_t>(element_as_double(*t, n - 1));
      if (ax.h >= 0) s[static_cast<std::size_t>(ax.h)] = static_cast<std::int64_t>(element_as_double(*t, n - 2));
    } else if (a.scale_w > 0 && (ax.h < 0 || a.scale_h > 0)) {
      s[static_cast<std::size_t>(ax.w)] = static_cast<std::int64_t>(std::floor(static_cast<double>(s[static_cast<std::size_t>(ax.w)]) * a.scale_w));
      if (ax.h >= 0)
        s[static_cast<std::size_t>(ax.h)] = static_cast<std::int64_t>(std::floor(static_cast<double>(s[static_cast<std::size_t>(ax.h)]) * a.scale_h));
    } else {
      throw error("top.Interp: needs either a target_shape operand or positive scale_h and scale_w");
    }
    for (auto d : s)
      if (d <= 0) throw error("top.Interp: result shape " + to_string(s) + " has an empty axis");
    tensor_type t = c.operand(0);
    t.shape = s;
    t.quant.clear();
    return {t};
  }
  struct plan {
    std::int64_t planes, ih, iw, oh, ow;
    detail::interp_axis rows, cols;
  };
  static plan make_plan(const tensor& x, const tensor_type& y, const attributes& a) {
    const auto ax = detail::resize_axes(mnemonic, x.shape());
    if (y.shape.size() != x.rank()) throw error("top.Interp: result rank differs from the input's");
    plan p{};
    p.planes = 1;
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(x.rank()); ++i) {
      if (i == ax.h || i == ax.w) continue;
      if (y.shape[static_cast<std::size_t>(i)] != x.dim(static_cast<std::size_t>(i)))
        throw error("top.Interp: only the two trailing axes may change size");
      p.planes *= x.dim(static_cast<std::size_t>(i));
    }
    p.ih = ax.h >= 0 ? x.dim(static_cast<std::size_t>(ax.h)) : 1;
    p.oh = ax.h >= 0 ? y.shape[static_cast<std::size_t>(ax.h)] : 1;
    p.iw = x.dim(static_cast<std::size_t>(ax.w));
    p.ow = y.shape[static_cast<std::size_t>(ax.w)];
    const bool linear = a.mode->value == "linear";
    p.rows = detail::make_interp_axis(p.ih, p.oh, a.coord_mode->value, linear, ax.h >= 0 ? a.scale_h : -1.0);
    p.cols = detail::make_interp_axis(p.iw, p.ow, a.coord_mode->value, linear, a.scale_w);
    return p;
  }
  static void run_planes(const plan& p, const float* x, float* y, std::int64_t lo, std::int64_t hi) {
    for (std::int64_t n = lo; n < hi; ++n) {
      const float* xp = x + n * p.ih * p.iw;
      float* yp = y + n * p.oh * p.ow;
      for (std::int64_t oy = 0; oy < p.oh; ++oy) {
        const auto uy = static_cast<std::size_t>(oy);
        const float* r0 = xp + p.rows.i0[uy] * p.iw;
        const float* r1 = xp + p.rows.i1[uy] * p.iw;
        const double wy = p.rows.w1[uy];
        for (std::int64_t ox = 0; ox < p.ow; ++ox) {
          const auto ux = static_cast<std::size_t>(ox);
          const std::int64_t c0 = p.cols.i0[ux], c1 = p.cols.i1[ux];
          const double wx = p.cols.w1[ux];
          const double top = r0[c0] + wx * (static_cast<double>(r0[c1]) - r0[c0]);
          const double bottom = r1[c0] + wx * (static_cast<double>(r1[c1]) - r1[c0]);
          yp[oy * p.ow + ox] = static_cast<float>(top + wy * (bottom - top));
        }
      }
    }
  }
  static void reference(kernel_context& k, const attributes& a) {
    const plan p = make_plan(k.in(0), k.out_type(), a);
    run_planes(p, k.in(0).data<float>(), k.out().data<float>(), 0, p.planes);
  }
  static void compute(kernel_context& k, const attributes& a) {
    const plan p = make_plan(k.in(0), k.out_type(), a);
    const float* x = k.in(0).data<float>();
    float* y = k.out().data<float>();
    k.threads().parallel_for(p.planes, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(1, p.oh * p.ow)),
                             [&](std::int64_t lo, std::int64_t hi) { run_planes(p, x, y, lo, hi); });
  }
};

/// `top.Upsample`: nearest upsampling by integer factors; out[h][w] = in[h / scale_h][w / scale_w].
struct upsample_op {
  static constexpr std::string_view mnemonic = "top.Upsample";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  struct attributes {
    required<std::int64_t> scale_h;
    required<std::int64_t> scale_w;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    if (*a.scale_h <= 0 || *a.scale_w <= 0) throw error("top.Upsample: scale_h and scale_w must be positive");
    tensor_type t = c.operand(0);
    const auto ax = detail::resize_axes(mnemonic, t.shape);
    if (ax.h < 0 && *a.scale_h != 1) throw error("top.Upsample: a rank-3 input can only be scaled along W");
    if (ax.h >= 0) t.shape[static_cast<std::size_t>(ax.h)] *= *a.scale_h;
    t.shape[static_cast<std::size_t>(ax.w)] *= *a.scale_w;
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto ax = detail::resize_axes(mnemonic, x.shape());
    const std::int64_t ih = ax.h >= 0 ? x.dim(static_cast<std::size_t>(ax.h)) : 1, iw = x.dim(static_cast<std::size_t>(ax.w));
    const std::int64_t sh = *a.scale_h, sw = *a.scale_w, oh = ih * sh, ow = iw * sw;
    const std::int64_t planes = iw * ih != 0 ? x.numel() / (ih * iw) : 0;
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t n = 0; n < planes; ++n)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t w = 0; w < ow; ++w) {
          float v = xp[(n * ih + y / sh) * iw + w / sw];
          if (a.do_relu) {
            v = v < 0.f ? 0.f : v;
            if (a.relu_limit > 0 && v > a.relu_limit) v = static_cast<float>(a.relu_limit);
          }
          yp[(n * oh + y) * ow + w] = v;
        }
  }
  /// Each output row is built once (every input value repeated scale_w times, relu applied) and
  /// copied to its scale_h - 1 duplicates.
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    if (x.elem() != dtype::f32) return reference(k, a);
    const auto ax = detail::resize_axes(mnemonic, x.shape());
    const std::int64_t ih = ax.h >= 0 ? x.dim(static_cast<std::size_t>(ax.h)) : 1, iw = x.dim(static_cast<std::size_t>(ax.w));
    const std::int64_t sh = *a.scale_h, sw = *a.scale_w, oh = ih * sh, ow = iw * sw;
    const std::int64_t rows = iw * ih != 0 ? x.numel() / iw : 0;  // input rows of every plane
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    const bool relu = a.do_relu;
    const double limit = a.relu_limit;
    k.threads().parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(ow * sh, 1)),
                             [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        const float* src = xp + r * iw;
        const std::int64_t plane = r / ih, y = r % ih;
        float* dst = yp + (plane * oh + y * sh) * ow;
        if (sw == 2) {
          for (std::int64_t i = 0; i < iw; ++i) dst[2 * i] = dst[2 * i + 1] = src[i];
        } else {
          for (std::int64_t i = 0; i < iw; ++i)
            for (std::int64_t j = 0; j < sw; ++j) dst[i * sw + j] = src[i];
        }
        if (relu)
          for (std::int64_t i = 0; i < ow; ++i) {
            float v = dst[i] < 0.f ? 0.f : dst[i];
            if (limit > 0 && v > limit) v = static_cast<float>(limit);
            dst[i] = v;
          }
        for (std::int64_t c = 1; c < sh; ++c) std::memcpy(dst + c * ow, dst, sizeof(float) * static_cast<std::size_t>(ow));
      }
    });
  }
};

using resize_ops = op_list<interp_op, upsample_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::interp_op::attributes, mode, coord_mode, scale_h, scale_w);
BOOST_HANA_ADAPT_STRUCT(mixq::top::upsample_op::attributes, scale_h, scale_w, do_relu, relu_limit);
