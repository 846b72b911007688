#pragma once
// Unary nonlinearities and math functions. Each op's functor has a float overload (the scalar
// reference, written with std:: functions) and a simd::batch<float> overload (the fast path,
// with the formulas of kernels/simd/math.hpp); a few also have exact int64 overloads so that
// integer tensors keep their values (Abs, Sign, Relu, Clip with integral bounds...).
// The result type is the operand's type.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/kernels/simd/math.hpp"

namespace mixq::top {

namespace detail {
inline constexpr std::uint32_t act_traits = trait::elementwise | trait::activation | trait::quantizable;
inline constexpr std::uint32_t math_traits = trait::elementwise | trait::activation;
}  // namespace detail

// Defines `struct NAME##_op` for a unary op without attributes whose float and batch formulas
// are both `EXPR` in terms of `x` (float or fbatch) and the simd:: v* functions.
#define MIXQ_DETAIL_UNARY_OP(NAME, MNEMONIC, TRAITS, EXPR)                                          \
  struct NAME##_op : detail::unary_map_op<NAME##_op> {                                             \
    static constexpr std::string_view mnemonic = MNEMONIC;                                        \
    static constexpr std::uint32_t traits = TRAITS;                                               \
    struct attributes {};                                                                         \
    struct fn {                                                                                   \
      template <class V>                                                                          \
      static V eval(const V& x) {                                                                 \
        using namespace simd;                                                                     \
        return EXPR;                                                                              \
      }                                                                                           \
      float operator()(float x) const { return eval<float>(x); }                                  \
      detail::fbatch operator()(const detail::fbatch& x) const { return eval<detail::fbatch>(x); } \
    };                                                                                            \
    static fn functor(const attributes&) { return {}; }                                           \
  };

/// `top.Relu`: max(x, 0), clipped at relu_limit when it is positive (NaN gives 0).
struct relu_op : detail::unary_map_op<relu_op> {
  static constexpr std::string_view mnemonic = "top.Relu";
  static constexpr std::uint32_t traits = detail::act_traits | trait::integer_ok;
  struct attributes {
    double relu_limit = -1.0;
  };
  struct fn {
    double limit;
    float operator()(float x) const {
      float v = x > 0.f ? x : 0.f;
      if (limit > 0 && v > limit) v = static_cast<float>(limit);
      return v;
    }
    detail::fbatch operator()(const detail::fbatch& x) const {
      const detail::fbatch zero(0.f);
      detail::fbatch v = xsimd::select(x > zero, x, zero);
      if (limit > 0) {
        const detail::fbatch l(static_cast<float>(limit));
        v = xsimd::select(v > l, l, v);
      }
      return v;
    }
    std::int64_t operator()(std::int64_t x) const {
      const std::int64_t v = std::max<std::int64_t>(x, 0);
      return limit > 0 && static_cast<double>(v) > limit ? static_cast<std::int64_t>(limit) : v;
    }
  };
  static fn functor(const attributes& a) { return {a.relu_limit}; }
};

/// `top.LeakyRelu`: x for x >= 0, alpha * x otherwise.
struct leaky_relu_op : detail::unary_map_op<leaky_relu_op> {
  static constexpr std::string_view mnemonic = "top.LeakyRelu";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    required<double> alpha;
    detail::ew_round_mode round_mode;
  };
  struct fn {
    float alpha;
    float operator()(float x) const { return x >= 0.f ? x : alpha * x; }
    detail::fbatch operator()(const detail::fbatch& x) const { return xsimd::select(x >= detail::fbatch(0.f), x, x * alpha); }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(*a.alpha)}; }
};

/// `top.PRelu`: x for x >= 0, slope * x otherwise; `slope` broadcasts against x. A 1-D slope
/// whose length is the channel count of an input of rank >= 3 is read per channel (dim 1), as
/// Caffe and TPU-MLIR store it.
struct prelu_op {
  static constexpr std::string_view mnemonic = "top.PRelu";
  static constexpr std::array operands{top::input("input"), top::weight("slope")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = detail::act_traits | trait::broadcast;
  struct attributes {};
  struct fn {
    float operator()(float x, float s) const { return x >= 0.f ? x : s * x; }
    detail::fbatch operator()(const detail::fbatch& x, const detail::fbatch& s) const {
      return xsimd::select(x >= detail::fbatch(0.f), x, s * x);
    }
  };
  static shape_t slope_shape(const shape_t& x, const shape_t& s) {
    if (s.size() == 1 && x.size() >= 3 && s[0] == x[1] && s[0] != 1) {
      shape_t r(x.size() - 1, 1);
      r[0] = s[0];
      return r;
    }
    return s;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    tensor_type t = c.operand(0);
    t.quant.clear();
    t.shape = broadcast_shapes(t.shape, slope_shape(t.shape, c.operand(1).shape));
    return {t};
  }
  static void run(kernel_context& k, bool fast) {
    const tensor& x = k.in(0);
    const tensor slope = k.in(1).reshaped(slope_shape(x.shape(), k.in(1).shape()));
    detail::binary_fold(k, fn{}, {}, fast, mnemonic, {&x, &slope});
  }
  static void reference(kernel_context& k, const attributes&) { run(k, false); }
  static void compute(kernel_context& k, const attributes&) { run(k, true); }
};

MIXQ_DETAIL_UNARY_OP(silu, "top.SiLU", detail::act_traits, x * sigmoid(x))

/// `top.Swish`: x * sigmoid(beta * x).
struct swish_op : detail::unary_map_op<swish_op> {
  static constexpr std::string_view mnemonic = "top.Swish";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    required<double> beta;
    detail::ew_round_mode round_mode;
  };
  struct fn {
    float beta;
    float operator()(float x) const { return x * simd::sigmoid(beta * x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return x * simd::sigmoid(x * beta); }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(*a.beta)}; }
};

/// `top.GELU`: x * Phi(x) ("normal"), or its tanh / sigmoid(1.702 x) approximations.
struct gelu_op : detail::unary_map_op<gelu_op> {
  static constexpr std::string_view mnemonic = "top.GELU";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    detail::ew_round_mode round_mode;
    one_of<"normal", "tanh", "sigm"> approx_mode;
  };
  struct fn {
    int mode;  // 0 normal, 1 tanh, 2 sigm
    template <class V>
    V eval(const V& x) const {
      return mode == 0 ? simd::gelu_erf(x) : mode == 1 ? simd::gelu_tanh(x) : simd::gelu_sigmoid(x);
    }
    float operator()(float x) const { return eval(x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return eval(x); }
  };
  static fn functor(const attributes& a) {
    return {a.approx_mode.value == "normal" ? 0 : a.approx_mode.value == "tanh" ? 1 : 2};
  }
};

/// `top.Sigmoid`: scale * sigmoid(x) + bias, and its log when `log` is set.
struct sigmoid_op : detail::unary_map_op<sigmoid_op> {
  static constexpr std::string_view mnemonic = "top.Sigmoid";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    double scale = 1.0;
    double bias = 0.0;
    bool log = false;
    detail::ew_round_mode round_mode;
  };
  struct fn {
    float scale, bias;
    bool log;
    template <class V>
    V eval(const V& x) const {
      const V y = V(scale) * simd::sigmoid(x) + V(bias);
      return log ? simd::vlog(y) : y;
    }
    float operator()(float x) const { return eval(x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return eval(x); }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(a.scale), static_cast<float>(a.bias), a.log}; }
};

/// `top.Tanh`.
struct tanh_op : detail::unary_map_op<tanh_op> {
  static constexpr std::string_view mnemonic = "top.Tanh";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    detail::ew_round_mode round_mode;
  };
  struct fn {
    float operator()(float x) const { return simd::vtanh(x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return simd::vtanh(x); }
  };
  static fn functor(const attributes&) { return {}; }
};

/// `top.HardSigmoid`: min(max(alpha * x + beta, 0), 1).
struct hard_sigmoid_op : detail::unary_map_op<hard_sigmoid_op> {
  static constexpr std::string_view mnemonic = "top.HardSigmoid";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    required<double> alpha;
    required<double> beta;
  };
  struct fn {
    float alpha, beta;
    template <class V>
    V eval(const V& x) const {
      return simd::vmin(simd::vmax(V(alpha) * x + V(beta), V(0.f)), V(1.f));
    }
    float operator()(float x) const { return eval(x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return eval(x); }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(*a.alpha), static_cast<float>(*a.beta)}; }
};

MIXQ_DETAIL_UNARY_OP(hard_swish, "top.HardSwish", detail::act_traits,
                     x* vmin(vmax(x * V(1.f / 6.f) + V(0.5f), V(0.f)), V(1.f)))

/// `top.Clip`: min(max(x, min), max); NaN passes through. Integer tensors stay integers when
/// both bounds are integers.
struct clip_op : detail::unary_map_op<clip_op> {
  static constexpr std::string_view mnemonic = "top.Clip";
  static constexpr std::array operands{top::input("inputs")};
  static constexpr std::uint32_t traits = detail::act_traits | trait::integer_ok;
  struct attributes {
    required<double> min;
    required<double> max;
  };
  struct fn {
    float lo, hi;
    std::int64_t ilo, ihi;
    bool int_ok;
    float operator()(float x) const { return x < lo ? lo : x > hi ? hi : x; }
    detail::fbatch operator()(const detail::fbatch& x) const {
      return xsimd::select(x < detail::fbatch(lo), detail::fbatch(lo), xsimd::select(x > detail::fbatch(hi), detail::fbatch(hi), x));
    }
    std::int64_t operator()(std::int64_t x) const { return x < ilo ? ilo : x > ihi ? ihi : x; }
  };
  static fn functor(const attributes& a) {
    const bool integral = detail::is_integral_value(a.min) && detail::is_integral_value(a.max);
    return {static_cast<float>(*a.min), static_cast<float>(*a.max), integral ? static_cast<std::int64_t>(*a.min) : 0,
            integral ? static_cast<std::int64_t>(*a.max) : 0, integral};
  }
};

/// `top.Elu`: x for x > 0, alpha * (e^x - 1) otherwise.
struct elu_op : detail::unary_map_op<elu_op> {
  static constexpr std::string_view mnemonic = "top.Elu";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    required<double> alpha;
  };
  struct fn {
    float alpha;
    float operator()(float x) const { return x > 0.f ? x : alpha * std::expm1(x); }
    detail::fbatch operator()(const detail::fbatch& x) const {
      return xsimd::select(x > detail::fbatch(0.f), x, simd::vexpm1(x) * alpha);
    }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(*a.alpha)}; }
};

MIXQ_DETAIL_UNARY_OP(mish, "top.Mish", detail::act_traits, x* vtanh(softplus(x)))
MIXQ_DETAIL_UNARY_OP(softplus, "top.Softplus", detail::act_traits, softplus(x))
MIXQ_DETAIL_UNARY_OP(softsign, "top.Softsign", detail::act_traits, x / (V(1.f) + vabs(x)))
MIXQ_DETAIL_UNARY_OP(exp, "top.Exp", detail::act_traits, vexp(x))
MIXQ_DETAIL_UNARY_OP(log, "top.Log", detail::act_traits, vlog(x))
MIXQ_DETAIL_UNARY_OP(sqrt, "top.Sqrt", detail::act_traits, vsqrt(x))
MIXQ_DETAIL_UNARY_OP(rsqrt, "top.Rsqrt", detail::act_traits, V(1.f) / vsqrt(x))
MIXQ_DETAIL_UNARY_OP(erf, "top.Erf", detail::act_traits, verf(x))
MIXQ_DETAIL_UNARY_OP(sin, "top.Sin", detail::math_traits, vsin(x))
MIXQ_DETAIL_UNARY_OP(cos, "top.Cos", detail::math_traits, vcos(x))
MIXQ_DETAIL_UNARY_OP(tan, "top.Tan", detail::math_traits, vtan(x))
MIXQ_DETAIL_UNARY_OP(sinh, "top.Sinh", detail::math_traits, vsinh(x))
MIXQ_DETAIL_UNARY_OP(cosh, "top.Cosh", detail::math_traits, vcosh(x))
MIXQ_DETAIL_UNARY_OP(arctanh, "top.Arctanh", detail::math_traits, vatanh(x))
MIXQ_DETAIL_UNARY_OP(arccos, "top.Arccos", detail::math_traits, vacos(x))

#undef MIXQ_DETAIL_UNARY_OP

/// `top.LogB`: log of x in base `base`.
struct logb_op : detail::unary_map_op<logb_op> {
  static constexpr std::string_view mnemonic = "top.LogB";
  static constexpr std::uint32_t traits = detail::math_traits;
  struct attributes {
    required<std::int64_t> base;
  };
  struct fn {
    float log_base;
    float operator()(float x) const { return std::log(x) / log_base; }
    detail::fbatch operator()(const detail::fbatch& x) const { return simd::vlog(x) / detail::fbatch(log_base); }
  };
  static fn functor(const attributes& a) {
    if (*a.base <= 0 || *a.base == 1)
      throw error("top.LogB: attribute 'base' must be a positive integer other than 1, found " + std::to_string(*a.base));
    return {std::log(static_cast<float>(*a.base))};
  }
};

/// `top.Reciprocal`: const_val / x, optional fused relu.
struct reciprocal_op : detail::unary_map_op<reciprocal_op> {
  static constexpr std::string_view mnemonic = "top.Reciprocal";
  static constexpr std::uint32_t traits = detail::act_traits;
  struct attributes {
    double const_val = 1.0;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  struct fn {
    float c;
    detail::relu_clamp relu;
    float operator()(float x) const { return relu(c / x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return relu(detail::fbatch(c) / x); }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(a.const_val), {a.do_relu, a.relu_limit}}; }
};

/// `top.Abs`; integers stay exact (the most negative value wraps to itself).
struct abs_op : detail::unary_map_op<abs_op> {
  static constexpr std::string_view mnemonic = "top.Abs";
  static constexpr std::uint32_t traits = detail::act_traits | trait::integer_ok;
  struct attributes {};
  struct fn {
    float operator()(float x) const { return std::fabs(x); }
    detail::fbatch operator()(const detail::fbatch& x) const { return simd::vabs(x); }
    std::int64_t operator()(std::int64_t x) const { return x < 0 ? detail::wrap_sub(0, x) : x; }
  };
  static fn functor(const attributes&) { return {}; }
};

/// `top.Sign`: 1, -1, or x itself for zeros and NaN.
struct sign_op : detail::unary_map_op<sign_op> {
  static constexpr std::string_view mnemonic = "top.Sign";
  static constexpr std::uint32_t traits = detail::math_traits | trait::integer_ok;
  struct attributes {};
  struct fn {
    float operator()(float x) const { return x > 0.f ? 1.f : x < 0.f ? -1.f : x; }
    detail::fbatch operator()(const detail::fbatch& x) const {
      const detail::fbatch zero(0.f);
      return xsimd::select(x > zero, detail::fbatch(1.f), xsimd::select(x < zero, detail::fbatch(-1.f), x));
    }
    std::int64_t operator()(std::int64_t x) const { return x > 0 ? 1 : x < 0 ? -1 : 0; }
  };
  static fn functor(const attributes&) { return {}; }
};

/// Rounding ops; integers pass through unchanged.
#define MIXQ_DETAIL_ROUNDING_OP(NAME, MNEMONIC, FN)                                                       \
  struct NAME##_op : detail::unary_map_op<NAME##_op> {                                                   \
    static constexpr std::string_view mnemonic = MNEMONIC;                                              \
    static constexpr std::uint32_t traits = detail::math_traits | trait::integer_ok;                    \
    struct attributes {};                                                                               \
    struct fn {                                                                                         \
      float operator()(float x) const { return simd::FN(x); }                                           \
      detail::fbatch operator()(const detail::fbatch& x) const { return simd::FN(x); }                  \
      std::int64_t operator()(std::int64_t x) const { return x; }                                       \
    };                                                                                                  \
    static fn functor(const attributes&) { return {}; }                                                 \
  };
MIXQ_DETAIL_ROUNDING_OP(floor, "top.Floor", vfloor)
MIXQ_DETAIL_ROUNDING_OP(ceil, "top.Ceil", vceil)
MIXQ_DETAIL_ROUNDING_OP(round, "top.Round", vround_even)
#undef MIXQ_DETAIL_ROUNDING_OP

// top.Neg does not exist in TPU-MLIR's TOP dialect (frontends emit MulConst -1).

using activation_ops =
    op_list<relu_op, leaky_relu_op, prelu_op, silu_op, swish_op, gelu_op, sigmoid_op, tanh_op, hard_sigmoid_op,
            hard_swish_op, clip_op, elu_op, mish_op, softplus_op, softsign_op, exp_op, log_op, logb_op, sqrt_op,
            rsqrt_op, erf_op, reciprocal_op, abs_op, sign_op, floor_op, ceil_op, round_op, sin_op, cos_op, tan_op,
            sinh_op, cosh_op, arctanh_op, arccos_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::relu_op::attributes, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::top::leaky_relu_op::attributes, alpha, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::prelu_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::silu_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::swish_op::attributes, beta, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::gelu_op::attributes, round_mode, approx_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sigmoid_op::attributes, scale, bias, log, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::tanh_op::attributes, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::hard_sigmoid_op::attributes, alpha, beta);
BOOST_HANA_ADAPT_STRUCT(mixq::top::hard_swish_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::clip_op::attributes, min, max);
BOOST_HANA_ADAPT_STRUCT(mixq::top::elu_op::attributes, alpha);
BOOST_HANA_ADAPT_STRUCT(mixq::top::mish_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::softplus_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::softsign_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::exp_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::log_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::logb_op::attributes, base);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sqrt_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::rsqrt_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::erf_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::reciprocal_op::attributes, const_val, do_relu, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::top::abs_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sign_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::floor_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::ceil_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::round_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sin_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::cos_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::tan_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sinh_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::cosh_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::arctanh_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::arccos_op::attributes);
