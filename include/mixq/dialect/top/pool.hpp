#pragma once
// Pooling: MaxPool, AvgPool, MaxPoolWithMask (1-D/2-D/3-D over the trailing axes), AdaptiveAvgPool.
// There is no GlobalAvgPool in TPU-MLIR: global pooling is an AvgPool whose kernel is the whole map.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/pool.hpp"

namespace mixq::top {

namespace detail {
/// RoundModeAttr of TopOps.td (only quantized lowerings read it; float kernels ignore it).
using nn_round_mode = one_of<"HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero",
                             "TowardsZero", "Up", "Down">;

inline float relu_clip(float v, bool do_relu, double limit) {
  if (!do_relu) return v;
  v = v < 0.f ? 0.f : v;
  return limit > 0 && v > limit ? static_cast<float>(limit) : v;
}
}  // namespace detail

/// Attributes shared by MaxPool, AvgPool and MaxPoolWithMask (Top_PoolOp in TopOps.td).
struct pool_attributes {
  required<std::vector<std::int64_t>> kernel_shape;
  required<std::vector<std::int64_t>> strides;
  required<std::vector<std::int64_t>> pads;  // all begins, then all ends ([t, l, b, r] in 2-D)
  std::optional<bool> ceil_mode;
  std::optional<one_of<"SAME_UPPER", "SAME_LOWER", "NOTSET", "VALID">> auto_pad;
  bool is_adaptive = false;
  bool keepdims = true;
  std::int64_t pad_value = 0;  // quantized zero point; float pooling ignores padded cells
  bool count_include_pad = false;
  bool do_relu = false;
  double relu_limit = -1.0;
  detail::nn_round_mode round_mode;
  detail::nn_round_mode first_round_mode;
};

namespace detail {

/// Pooling geometry with the spatial axes padded in front to three (d, h, w), so one loop
/// nest serves 1-D, 2-D and 3-D pooling.
struct pool_geometry {
  std::int64_t planes = 1;  // product of the non-spatial leading axes
  std::int64_t in[3]{1, 1, 1}, out[3]{1, 1, 1}, k[3]{1, 1, 1}, s[3]{1, 1, 1}, pb[3]{0, 0, 0}, pe[3]{0, 0, 0};
  shape_t out_shape;  // before keepdims=false drops trailing ones
  std::int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

inline pool_geometry make_pool_geometry(std::string_view op, const shape_t& x, const pool_attributes& a) {
  const auto& ks = *a.kernel_shape;
  const std::size_t n = ks.size();
  auto fail = [&](const std::string& what) { throw error(std::string(op) + ": " + what); };
  if (n < 1 || n > 3) fail("kernel_shape must have 1, 2 or 3 entries, has " + std::to_string(n));
  if (x.size() < n + 1)
    fail("input " + to_string(x) + " has too few axes for a " + std::to_string(n) + "-D kernel");
  if (a.strides->size() != n) fail("strides has " + std::to_string(a.strides->size()) + " entries, kernel_shape " + std::to_string(n));
  const bool auto_padded = a.auto_pad && (a.auto_pad->value != "NOTSET");
  if (!auto_padded && a.pads->size() != 2 * n)
    fail("pads has " + std::to_string(a.pads->size()) + " entries, expected " + std::to_string(2 * n));
  pool_geometry g;
  const std::size_t lead = x.size() - n;
  for (std::size_t i = 0; i < lead; ++i) g.planes *= x[i];
  g.out_shape.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(lead));
  const bool ceil = a.ceil_mode.value_or(false);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t d = 3 - n + i;
    g.in[d] = x[lead + i];
    g.k[d] = ks[i];
    g.s[d] = (*a.strides)[i];
    if (g.k[d] <= 0) fail("kernel_shape entries must be positive");
    if (g.s[d] <= 0) fail("strides entries must be positive");
    if (auto_padded) {
      if (a.auto_pad->value == "VALID") {
        g.pb[d] = g.pe[d] = 0;
      } else {  // SAME_*: output = ceil(in / stride), as ONNX
        const std::int64_t o = (g.in[d] + g.s[d] - 1) / g.s[d];
        const std::int64_t total = std::max<std::int64_t>(0, (o - 1) * g.s[d] + g.k[d] - g.in[d]);
        g.pb[d] = a.auto_pad->value == "SAME_UPPER" ? total / 2 : total - total / 2;
        g.pe[d] = total - g.pb[d];
      }
    } else {
      g.pb[d] = (*a.pads)[i];
      g.pe[d] = (*a.pads)[i + n];
    }
    if (g.pb[d] < 0 || g.pe[d] < 0) fail("pads must not be negative");
    try {
      g.out[d] = window_output(g.in[d], g.k[d], g.s[d], g.pb[d], g.pe[d], 1, ceil);
    } catch (const error& e) {
      fail(e.what());
    }
    g.out_shape.push_back(g.out[d]);
  }
  return g;
}

inline shape_t pool_result_shape(const pool_geometry& g, bool keepdims) {
  shape_t s = g.out_shape;
  if (!keepdims)
    while (s.size() > 2 && s.back() == 1) s.pop_back();
  return s;
}

/// Scalar pooling of every plane (any element type: max pooling also runs on integer tensors).
/// `mask`, when given, receives the flat in-plane index of each maximum.
template <class T>
void pool_reference(const pool_geometry& g, const T* x, T* y, bool is_max, bool count_include_pad, double* mask = nullptr) {
  for (std::int64_t p = 0; p < g.planes; ++p) {
    const T* xp = x + p * g.in_plane();
    std::int64_t o = p * g.out_plane();
    for (std::int64_t od = 0; od < g.out[0]; ++od)
      for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
        for (std::int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const std::int64_t start[3]{od * g.s[0] - g.pb[0], oh * g.s[1] - g.pb[1], ow * g.s[2] - g.pb[2]};
          std::int64_t padded = 1, lo[3], hi[3];
          for (int d = 0; d < 3; ++d) {
            const std::int64_t stop = std::min(start[d] + g.k[d], g.in[d] + g.pe[d]);
            padded *= stop - start[d];
            lo[d] = std::max<std::int64_t>(start[d], 0);
            hi[d] = std::min(stop, g.in[d]);
          }
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          std::int64_t count = 0, arg = -1;
          for (std::int64_t d = lo[0]; d < hi[0]; ++d)
            for (std::int64_t h = lo[1]; h < hi[1]; ++h)
              for (std::int64_t w = lo[2]; w < hi[2]; ++w) {
                const std::int64_t idx = (d * g.in[1] + h) * g.in[2] + w;
                const double v = to_double(xp[idx]);
                ++count;
                if (!is_max) acc += v;
                else if (v > acc || arg < 0) acc = v, arg = idx;
              }
          if (count == 0) acc = 0.0;  // a window entirely in the padding
          else if (!is_max) acc /= static_cast<double>(count_include_pad ? padded : count);
          y[o] = from_double<T>(acc);
          if (mask) mask[o] = static_cast<double>(std::max<std::int64_t>(arg, 0));
        }
  }
}

inline void pool_fast(const pool_geometry& g, kernel_context& k, const float* x, float* y, bool is_max,
                      bool count_include_pad) {
  simd::pool2d_params p{g.in[1], g.in[2], g.out[1], g.out[2], g.k[1], g.k[2], g.s[1], g.s[2],
                        g.pb[1], g.pb[2], g.pe[1], g.pe[2], is_max, count_include_pad};
  const simd::pool2d_plan plan(p);
  const std::int64_t planes = g.planes * g.in[0];  // 1-D and 2-D geometry have in[0] == 1
  const std::int64_t work = std::max<std::int64_t>(1, g.in[1] * g.in[2] + g.out[1] * g.out[2] * g.k[2]);
  k.threads().parallel_for(planes, std::max<std::int64_t>(1, 32768 / work), [&](std::int64_t b, std::int64_t e) {
    std::vector<float> scratch(static_cast<std::size_t>(plan.scratch_size()));
    for (std::int64_t i = b; i < e; ++i) simd::pool2d_plane(x + i * p.ih * p.iw, y + i * p.oh * p.ow, plan, scratch.data());
  });
}

template <bool IsMax>
struct pool_op_base {
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  using attributes = pool_attributes;
  static constexpr std::string_view name() { return IsMax ? "top.MaxPool" : "top.AvgPool"; }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto g = make_pool_geometry(name(), c.operand(0).shape, a);
    return {tensor_type{c.operand(0).elem, pool_result_shape(g, a.keepdims)}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto g = make_pool_geometry(name(), x.shape(), a);
    tensor& y = k.out();
    if (x.elem() != dtype::f32) {
      if (!IsMax) throw error(std::string(name()) + ": average pooling needs a float input, got " + std::string(mixq::name(x.elem())));
      visit_dtype(x.elem(), [&](auto tag) {  // max pooling picks values: exact in any dtype
        using T = typename decltype(tag)::type;
        T* yp = reinterpret_cast<T*>(y.raw());
        pool_reference(g, reinterpret_cast<const T*>(x.raw()), yp, true, false);
        if (a.do_relu)
          for (std::int64_t i = 0; i < y.numel(); ++i) {
            const double v = std::max(to_double(yp[i]), 0.0);
            yp[i] = from_double<T>(a.relu_limit > 0 ? std::min(v, a.relu_limit) : v);
          }
      });
      return;
    }
    float* yp = y.data<float>();
    pool_reference(g, x.data<float>(), yp, IsMax, a.count_include_pad);
    for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = relu_clip(yp[i], a.do_relu, a.relu_limit);
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto g = make_pool_geometry(name(), x.shape(), a);
    // 3-D pooling and integer tensors: the scalar loop
    if (g.k[0] != 1 || g.in[0] != 1 || x.elem() != dtype::f32) return reference(k, a);
    tensor& y = k.out();
    float* yp = y.data<float>();
    pool_fast(g, k, x.data<float>(), yp, IsMax, a.count_include_pad);
    if (a.do_relu)
      for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = relu_clip(yp[i], true, a.relu_limit);
  }
};

}  // namespace detail

/// `top.MaxPool`: padded cells never win (ONNX/PyTorch); pads = [begins..., ends...].
struct max_pool_op : detail::pool_op_base<true> {
  static constexpr std::string_view mnemonic = "top.MaxPool";
};

/// `top.AvgPool`: count_include_pad divides by the window clipped to the padded input (PyTorch's rule,
/// which ONNX follows), otherwise by the number of real input cells in the window.
struct avg_pool_op : detail::pool_op_base<false> {
  static constexpr std::string_view mnemonic = "top.AvgPool";
};

/// `top.MaxPoolWithMask`: results (output, mask); mask holds the flat index of each maximum
/// inside its input plane (h * W + w in 2-D), stored in the mask's element type.
struct max_pool_with_mask_op {
  static constexpr std::string_view mnemonic = "top.MaxPoolWithMask";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 2;
  static constexpr std::uint32_t traits = trait::none;
  using attributes = pool_attributes;
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto g = detail::make_pool_geometry(mnemonic, c.operand(0).shape, a);
    const shape_t s = detail::pool_result_shape(g, a.keepdims);
    return {tensor_type{c.operand(0).elem, s}, tensor_type{dtype::f32, s}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto g = detail::make_pool_geometry(mnemonic, x.shape(), a);
    tensor& y = k.out(0);
    tensor& m = k.out(1);
    std::vector<double> mask(static_cast<std::size_t>(y.numel()));
    float* yp = y.data<float>();
    detail::pool_reference(g, x.data<float>(), yp, true, false, mask.data());
    for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = detail::relu_clip(yp[i], a.do_relu, a.relu_limit);
    visit_dtype(m.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* mp = reinterpret_cast<T*>(m.raw());
      for (std::size_t i = 0; i < mask.size(); ++i) mp[i] = from_double<T>(mask[i]);
    });
  }
};

/// `top.AdaptiveAvgPool`: output cell i averages input cells [floor(i*in/out), ceil((i+1)*in/out)).
struct adaptive_avg_pool_op {
  static constexpr std::string_view mnemonic = "top.AdaptiveAvgPool";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> output_size;
  };
  static shape_t result_shape(const shape_t& x, const attributes& a) {
    const auto& os = *a.output_size;
    if (os.empty() || os.size() > 3 || x.size() < os.size() + 1)
      throw error("top.AdaptiveAvgPool: output_size must have 1 to 3 entries and fewer than the input's " +
                  std::to_string(x.size()) + " axes");
    shape_t s(x.begin(), x.end() - static_cast<std::ptrdiff_t>(os.size()));
    for (auto v : os) {
      if (v <= 0) throw error("top.AdaptiveAvgPool: output_size entries must be positive");
      s.push_back(v);
    }
    return s;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    return {tensor_type{c.operand(0).elem, result_shape(c.operand(0).shape, a)}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const shape_t ys = result_shape(x.shape(), a);
    tensor& y = k.out();
    const std::size_t n = a.output_size->size(), lead = x.rank() - n;
    std::int64_t in[3]{1, 1, 1}, out[3]{1, 1, 1}, planes = 1;
    for (std::size_t i = 0; i < lead; ++i) planes *= x.dim(i);
    for (std::size_t i = 0; i < n; ++i) in[3 - n + i] = x.dim(lead + i), out[3 - n + i] = ys[lead + i];
    auto lo = [](std::int64_t o, std::int64_t i, std::int64_t m) { return (o * i) / m; };
    auto hi = [](std::int64_t o, std::int64_t i, std::int64_t m) { return ((o + 1) * i + m - 1) / m; };
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    std::int64_t o = 0;
    for (std::int64_t p = 0; p < planes; ++p) {
      const float* plane = xp + p * in[0] * in[1] * in[2];
      for (std::int64_t od = 0; od < out[0]; ++od)
        for (std::int64_t oh = 0; oh < out[1]; ++oh)
          for (std::int64_t ow = 0; ow < out[2]; ++ow, ++o) {
            double s = 0;
            std::int64_t cnt = 0;
            for (std::int64_t d = lo(od, in[0], out[0]); d < hi(od, in[0], out[0]); ++d)
              for (std::int64_t h = lo(oh, in[1], out[1]); h < hi(oh, in[1], out[1]); ++h)
                for (std::int64_t w = lo(ow, in[2], out[2]); w < hi(ow, in[2], out[2]); ++w, ++cnt)
                  s += plane[(d * in[1] + h) * in[2] + w];
            yp[o] = static_cast<float>(cnt ? s / static_cast<double>(cnt) : 0.0);
          }
    }
  }
};

using pool_ops = op_list<max_pool_op, avg_pool_op, max_pool_with_mask_op, adaptive_avg_pool_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::pool_attributes, kernel_shape, strides, pads, ceil_mode, auto_pad, is_adaptive,
                        keepdims, pad_value, count_include_pad, do_relu, relu_limit, round_mode, first_round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::adaptive_avg_pool_op::attributes, output_size);
