#pragma once
// Normalisation: BatchNorm, Scale, LayerNorm, RMSNorm, InstanceNorm, GroupNorm, PixelNorm, Normalize.
// Channels are axis 1 (NCHW) unless the op says otherwise.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/layernorm.hpp"

namespace mixq::top {

namespace detail {

inline float norm_relu(float v, bool do_relu, double limit) {
  if (!do_relu) return v;
  v = v < 0.f ? 0.f : v;
  return limit > 0 && v > limit ? static_cast<float>(limit) : v;
}

/// [outer, channels, inner] view of a tensor around axis 1 (a 1-D tensor is all channels).
struct channel_view {
  std::int64_t outer = 1, channels = 1, inner = 1;
};
inline channel_view channels_of(std::string_view op, const shape_t& s) {
  if (s.empty()) throw error(std::string(op) + ": input must have at least one axis");
  channel_view v;
  if (s.size() == 1) {
    v.channels = s[0];
    return v;
  }
  v.outer = s[0];
  v.channels = s[1];
  for (std::size_t i = 2; i < s.size(); ++i) v.inner *= s[i];
  return v;
}

/// Checks that an optional per-element parameter operand holds `expected` values.
inline void check_param(std::string_view op, std::string_view what, const infer_context& c, std::size_t i,
                        std::int64_t expected) {
  if (!c.has(i)) return;
  const std::int64_t n = c.operand(i).numel();
  if (n != expected)
    throw error(std::string(op) + ": " + std::string(what) + " has " + std::to_string(n) + " values, expected " +
                std::to_string(expected));
}

/// The parameter as floats, or nullptr when the operand is absent (None).
inline const float* param(const kernel_context& k, std::size_t i) {
  const tensor* t = k.optional_in(i);
  return t && t->defined() ? t->data<float>() : nullptr;
}

inline std::vector<tensor_type> same_as_input(const infer_context& c) {
  tensor_type t = c.operand(0);
  t.quant.clear();
  return {t};
}

/// Normalises x[rows][n] row by row in double (the oracle for LayerNorm/InstanceNorm/GroupNorm):
/// y = (x - mean) / sqrt(var + eps); `affine(row, j, v)` maps the normalised value.
template <class Affine>
void normalize_rows_reference(const float* x, float* y, std::int64_t rows, std::int64_t n, double eps, Affine&& affine) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    double mean = 0, var = 0;
    for (std::int64_t j = 0; j < n; ++j) mean += xr[j];
    mean /= static_cast<double>(n);
    for (std::int64_t j = 0; j < n; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    var /= static_cast<double>(n);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (std::int64_t j = 0; j < n; ++j) y[r * n + j] = static_cast<float>(affine(r, j, (xr[j] - mean) * rstd));
  }
}

/// Runs y = x * a[c] + b[c] (+relu) over [outer, C, inner] planes in parallel.
inline void channel_affine(kernel_context& k, const channel_view& v, const float* x, float* y,
                           const std::vector<float>& a, const std::vector<float>& b, bool relu, double limit) {
  const std::int64_t planes = v.outer * v.channels;
  k.threads().parallel_for(planes, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, v.inner)),
                           [&](std::int64_t lo, std::int64_t hi) {
                             for (std::int64_t p = lo; p < hi; ++p) {
                               const auto c = static_cast<std::size_t>(p % v.channels);
                               simd::affine_row(x + p * v.inner, y + p * v.inner, v.inner, a[c], b[c], relu,
                                                static_cast<float>(limit));
                             }
                           });
}

}  // namespace detail

/// `top.BatchNorm` (inference): y = (x - mean) / sqrt(var + epsilon) * gamma + beta, per channel.
struct batch_norm_op {
  static constexpr std::string_view mnemonic = "top.BatchNorm";
  static constexpr std::array operands{top::input("input"), top::weight("mean"), top::weight("variance"),
                                       top::optional_weight("gamma"), top::optional_bias("beta")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::normalization | trait::quantizable;
  struct attributes {
    double epsilon = 1e-05;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const auto v = detail::channels_of(mnemonic, c.operand(0).shape);
    detail::check_param(mnemonic, "mean", c, 1, v.channels);
    detail::check_param(mnemonic, "variance", c, 2, v.channels);
    detail::check_param(mnemonic, "gamma", c, 3, v.channels);
    detail::check_param(mnemonic, "beta", c, 4, v.channels);
    return detail::same_as_input(c);
  }
  /// Per-channel a, b with y = x * a + b.
  static void fold(const kernel_context& k, const attributes& a, std::int64_t channels, std::vector<double>& scale,
                   std::vector<double>& shift) {
    const float* mean = k.in(1).data<float>();
    const float* var = k.in(2).data<float>();
    const float* gamma = detail::param(k, 3);
    const float* beta = detail::param(k, 4);
    scale.resize(static_cast<std::size_t>(channels));
    shift.resize(static_cast<std::size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c) {
      const double s = (gamma ? gamma[c] : 1.0) / std::sqrt(static_cast<double>(var[c]) + a.epsilon);
      scale[static_cast<std::size_t>(c)] = s;
      shift[static_cast<std::size_t>(c)] = (beta ? beta[c] : 0.0) - mean[c] * s;
    }
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    const float* mean = k.in(1).data<float>();
    const float* var = k.in(2).data<float>();
    const float* gamma = detail::param(k, 3);
    const float* beta = detail::param(k, 4);
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t c = 0; c < v.channels; ++c)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t at = (o * v.channels + c) * v.inner + i;
          double r = (xp[at] - static_cast<double>(mean[c])) / std::sqrt(static_cast<double>(var[c]) + a.epsilon);
          r = r * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
          yp[at] = detail::norm_relu(static_cast<float>(r), a.do_relu, a.relu_limit);
        }
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    std::vector<double> s, b;
    fold(k, a, v.channels, s, b);
    std::vector<float> sf(s.begin(), s.end()), bf(b.begin(), b.end());
    detail::channel_affine(k, v, x.data<float>(), k.out().data<float>(), sf, bf, a.do_relu, a.relu_limit);
  }
};

/// `top.Scale`: y = x * scale[c] + bias[c] (scale/bias hold C values, e.g. shaped 1xCx1x1).
struct scale_op {
  static constexpr std::string_view mnemonic = "top.Scale";
  static constexpr std::array operands{top::input("input"), top::weight("scale"),
                                       operand_desc{"bias", operand_kind::required, operand_role::bias}};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::quantizable;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const auto v = detail::channels_of(mnemonic, c.operand(0).shape);
    c.operand(1);
    c.operand(2);
    detail::check_param(mnemonic, "scale", c, 1, v.channels);
    detail::check_param(mnemonic, "bias", c, 2, v.channels);
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    const float* s = k.in(1).data<float>();
    const float* b = k.in(2).data<float>();
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t c = 0; c < v.channels; ++c)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t at = (o * v.channels + c) * v.inner + i;
          const double r = static_cast<double>(xp[at]) * s[c] + b[c];
          yp[at] = detail::norm_relu(static_cast<float>(r), a.do_relu, a.relu_limit);
        }
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    std::vector<float> s(k.in(1).values<float>().begin(), k.in(1).values<float>().end());
    std::vector<float> b(k.in(2).values<float>().begin(), k.in(2).values<float>().end());
    detail::channel_affine(k, v, x.data<float>(), k.out().data<float>(), s, b, a.do_relu, a.relu_limit);
  }
};

/// `top.LayerNorm`: normalises over axes [axis, rank); weight/bias hold prod(normalized_shape) values.
struct layer_norm_op {
  static constexpr std::string_view mnemonic = "top.LayerNorm";
  static constexpr std::array operands{top::input("input"), top::optional_weight("weight"),
                                       top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> normalized_shape;
    required<si32> axis;
    required<double> eps;
  };
  /// rows x inner of the normalisation.
  static std::pair<std::int64_t, std::int64_t> split(const shape_t& s, const attributes& a) {
    const std::int64_t axis = normalize_axis(a.axis->value, s.size());
    std::int64_t rows = 1, inner = 1;
    for (std::size_t i = 0; i < s.size(); ++i) (static_cast<std::int64_t>(i) < axis ? rows : inner) *= s[i];
    std::int64_t declared = 1;
    for (auto d : *a.normalized_shape) declared *= d;
    if (!a.normalized_shape->empty() && declared != inner)
      throw error("top.LayerNorm: normalized_shape " + to_string(*a.normalized_shape) + " does not match the " +
                  std::to_string(inner) + " values from axis " + std::to_string(axis) + " of " + to_string(s));
    return {rows, inner};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto [rows, inner] = split(c.operand(0).shape, a);
    (void)rows;
    detail::check_param(mnemonic, "weight", c, 1, inner);
    detail::check_param(mnemonic, "bias", c, 2, inner);
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto [rows, inner] = split(x.shape(), a);
    const float* w = detail::param(k, 1);
    const float* b = detail::param(k, 2);
    detail::normalize_rows_reference(x.data<float>(), k.out().data<float>(), rows, inner, *a.eps,
                                     [&](std::int64_t, std::int64_t j, double v) {
                                       return v * (w ? w[j] : 1.0) + (b ? b[j] : 0.0);
                                     });
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto [rows, inner] = split(x.shape(), a);
    const float* w = detail::param(k, 1);
    const float* b = detail::param(k, 2);
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    const auto eps = static_cast<float>(*a.eps);
    k.threads().parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(1, inner)),
                             [&](std::int64_t lo, std::int64_t hi) {
                               for (std::int64_t r = lo; r < hi; ++r)
                                 simd::layernorm_row(xp + r * inner, yp + r * inner, inner, w, b, eps);
                             });
  }
};

/// `top.RMSNorm`: y = x / sqrt(mean(x^2) + eps) * gamma over the last axis.
struct rms_norm_op {
  static constexpr std::string_view mnemonic = "top.RMSNorm";
  static constexpr std::array operands{top::input("input"), top::optional_weight("gamma")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization | trait::quantizable;
  struct attributes {
    required<double> eps;
  };
  static std::int64_t last(const shape_t& s) {
    if (s.empty()) throw error("top.RMSNorm: input must have at least one axis");
    return s.back();
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    detail::check_param(mnemonic, "gamma", c, 1, last(c.operand(0).shape));
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const std::int64_t n = last(x.shape()), rows = n ? x.numel() / n : 0;
    const float* g = detail::param(k, 1);
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (std::int64_t j = 0; j < n; ++j) ss += static_cast<double>(xp[r * n + j]) * xp[r * n + j];
      const double rstd = 1.0 / std::sqrt(ss / static_cast<double>(n) + *a.eps);
      for (std::int64_t j = 0; j < n; ++j) yp[r * n + j] = static_cast<float>(xp[r * n + j] * rstd * (g ? g[j] : 1.0));
    }
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const std::int64_t n = last(x.shape()), rows = n ? x.numel() / n : 0;
    const float* g = detail::param(k, 1);
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    const auto eps = static_cast<float>(*a.eps);
    k.threads().parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(1, n)),
                             [&](std::int64_t lo, std::int64_t hi) {
                               for (std::int64_t r = lo; r < hi; ++r) simd::rmsnorm_row(xp + r * n, yp + r * n, n, g, eps);
                             });
  }
};

/// `top.InstanceNorm`: normalises each (n, c) plane; weight/bias per channel.
struct instance_norm_op {
  static constexpr std::string_view mnemonic = "top.InstanceNorm";
  static constexpr std::array operands{top::input("input"), top::optional_weight("weight"),
                                       top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization;
  struct attributes {
    required<double> eps;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const auto v = detail::channels_of(mnemonic, c.operand(0).shape);
    detail::check_param(mnemonic, "weight", c, 1, v.channels);
    detail::check_param(mnemonic, "bias", c, 2, v.channels);
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    const float* w = detail::param(k, 1);
    const float* b = detail::param(k, 2);
    detail::normalize_rows_reference(x.data<float>(), k.out().data<float>(), v.outer * v.channels, v.inner, *a.eps,
                                     [&](std::int64_t row, std::int64_t, double r) {
                                       const std::int64_t c = row % v.channels;
                                       return r * (w ? w[c] : 1.0) + (b ? b[c] : 0.0);
                                     });
  }
};

/// `top.GroupNorm`: channels split into num_groups groups, each normalised with its spatial extent.
struct group_norm_op {
  static constexpr std::string_view mnemonic = "top.GroupNorm";
  static constexpr std::array operands{top::input("input"), top::optional_weight("weight"),
                                       top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization;
  struct attributes {
    required<std::int64_t> num_groups;
    required<double> eps;
  };
  static detail::channel_view view(const shape_t& s, const attributes& a) {
    const auto v = detail::channels_of(mnemonic, s);
    if (*a.num_groups <= 0 || v.channels % *a.num_groups != 0)
      throw error("top.GroupNorm: num_groups " + std::to_string(*a.num_groups) + " does not divide " +
                  std::to_string(v.channels) + " channels");
    return v;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto v = view(c.operand(0).shape, a);
    detail::check_param(mnemonic, "weight", c, 1, v.channels);
    detail::check_param(mnemonic, "bias", c, 2, v.channels);
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = view(x.shape(), a);
    const std::int64_t per_group = v.channels / *a.num_groups;
    const float* w = detail::param(k, 1);
    const float* b = detail::param(k, 2);
    detail::normalize_rows_reference(x.data<float>(), k.out().data<float>(), v.outer * *a.num_groups,
                                     per_group * v.inner, *a.eps, [&](std::int64_t row, std::int64_t j, double r) {
                                       const std::int64_t c = (row % *a.num_groups) * per_group + j / v.inner;
                                       return r * (w ? w[c] : 1.0) + (b ? b[c] : 0.0);
                                     });
  }
};

/// `top.PixelNorm`: normalises across channels at each (n, spatial) position; weight/bias per channel.
struct pixel_norm_op {
  static constexpr std::string_view mnemonic = "top.PixelNorm";
  static constexpr std::array operands{top::input("input"), top::optional_weight("weight"),
                                       top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization;
  struct attributes {
    required<double> eps;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const auto v = detail::channels_of(mnemonic, c.operand(0).shape);
    detail::check_param(mnemonic, "weight", c, 1, v.channels);
    detail::check_param(mnemonic, "bias", c, 2, v.channels);
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    const float* w = detail::param(k, 1);
    const float* b = detail::param(k, 2);
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        auto at = [&](std::int64_t c) { return (o * v.channels + c) * v.inner + i; };
        double mean = 0, var = 0;
        for (std::int64_t c = 0; c < v.channels; ++c) mean += xp[at(c)];
        mean /= static_cast<double>(v.channels);
        for (std::int64_t c = 0; c < v.channels; ++c) var += (xp[at(c)] - mean) * (xp[at(c)] - mean);
        const double rstd = 1.0 / std::sqrt(var / static_cast<double>(v.channels) + *a.eps);
        for (std::int64_t c = 0; c < v.channels; ++c)
          yp[at(c)] = static_cast<float>((xp[at(c)] - mean) * rstd * (w ? w[c] : 1.0) + (b ? b[c] : 0.0));
      }
  }
};

/// `top.Normalize` (Caffe): L2-normalises across channels (or the whole C*H*W map when
/// across_spatial), then multiplies by scale (one value when channel_shared, else per channel).
/// The 1e-10 added under the root is Caffe's.
struct normalize_op {
  static constexpr std::string_view mnemonic = "top.Normalize";
  static constexpr std::array operands{top::input("input"), top::weight("scale")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::normalization | trait::weight_bearing;
  struct attributes {
    bool across_spatial = false;
    bool channel_shared = true;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto v = detail::channels_of(mnemonic, c.operand(0).shape);
    const std::int64_t n = c.operand(1).numel();
    if (n != v.channels && !(a.channel_shared && n >= 1))
      throw error("top.Normalize: scale has " + std::to_string(n) + " values, expected " + std::to_string(v.channels));
    return detail::same_as_input(c);
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::channels_of(mnemonic, x.shape());
    const float* s = k.in(1).data<float>();
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    constexpr double eps = 1e-10;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.channels * v.inner;
      std::vector<double> norm(static_cast<std::size_t>(a.across_spatial ? 1 : v.inner), 0.0);
      for (std::int64_t c = 0; c < v.channels; ++c)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const double e = xp[base + c * v.inner + i];
          norm[a.across_spatial ? 0 : static_cast<std::size_t>(i)] += e * e;
        }
      for (auto& nv : norm) nv = std::sqrt(nv + eps);
      for (std::int64_t c = 0; c < v.channels; ++c)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t at = base + c * v.inner + i;
          const double sc = a.channel_shared ? s[0] : s[c];
          yp[at] = static_cast<float>(xp[at] / norm[a.across_spatial ? 0 : static_cast<std::size_t>(i)] * sc);
        }
    }
  }
};

using norm_ops = op_list<batch_norm_op, scale_op, layer_norm_op, rms_norm_op, instance_norm_op, group_norm_op,
                         pixel_norm_op, normalize_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::batch_norm_op::attributes, epsilon, do_relu, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::top::scale_op::attributes, do_relu, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::top::layer_norm_op::attributes, normalized_shape, axis, eps);
BOOST_HANA_ADAPT_STRUCT(mixq::top::rms_norm_op::attributes, eps);
BOOST_HANA_ADAPT_STRUCT(mixq::top::instance_norm_op::attributes, eps);
BOOST_HANA_ADAPT_STRUCT(mixq::top::group_norm_op::attributes, num_groups, eps);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pixel_norm_op::attributes, eps);
BOOST_HANA_ADAPT_STRUCT(mixq::top::normalize_op::attributes, across_spatial, channel_shared);
