#pragma once
// Activations of a lowered model: `tpu.Relu` and `tpu.LeakyRelu` (integer and float forms,
// lowering_spec §4.8, §6) and `tpu.Active` with `mode = #tpu<active_mode X>`, the float-only op
// TPU-MLIR lowers Sigmoid, SiLU, GELU, Tanh, Exp... to when they stay in F32/F16/BF16 (their
// INT8 forms are tpu.Lut tables). tpu.Active evaluates each element in double from its float
// value, as TPU-MLIR's interpreter does, then rounds to the declared float type.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/activation.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

/// `tpu.Relu`: integer q = saturate(min(max(x, 0), relu_limit)) (the limit only when > 0;
/// relu_process sets it to -1 on quantized ops); float form top.Relu.
struct relu_op {
  static constexpr std::string_view mnemonic = "tpu.Relu";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::activation | trait::integer_ok;
  struct attributes {
    double relu_limit = -1.0;
  };
  static top::relu_op::attributes top_attributes(const attributes& a) { return {a.relu_limit}; }
  struct formula {
    double limit;
    std::int64_t operator()(std::int64_t x) const {
      std::int64_t v = std::max<std::int64_t>(x, 0);
      return limit > 0 && static_cast<double>(v) > limit ? static_cast<std::int64_t>(limit) : v;
    }
  };
  struct prepared {
    std::shared_ptr<const float_path<top::relu_op>> floating;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.Relu");
    if (t[0].shape != c.operand(0).shape) throw error("tpu.Relu: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    return t;
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    if (detail::arithmetic_of("tpu.Relu", p.operands, declared_result(p, "tpu.Relu")) == arithmetic::floating)
      s.floating = std::make_shared<float_path<top::relu_op>>(float_path<top::relu_op>::make(p, top_attributes(a)));
    return s;
  }
  static void reference(kernel_context& k, const attributes& a) {
    if (is_floating(k.out_type(0).elem)) return float_path<top::relu_op>::run_reference(k, top_attributes(a));
    map_integers_reference(k.in(0), k.out(0), formula{a.relu_limit});
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) return s.floating->run(k, top_attributes(a));
    map_integers(k.threads(), k.in(0), k.out(0), formula{a.relu_limit}, "tpu.Relu");
  }
};

/// `tpu.LeakyRelu`: attributes alpha (float form), multiplier/rshift (and CV18xx's
/// multiplier_neg/rshift_neg), round_mode.
///   BM168x: x >= 0 ? x : apply_multiplier_and_rshift(x, multiplier, rshift) (HalfUp);
///   CV18xx: x >= 0 ? (multiplier ? apply(x, multiplier, rshift) : x) : apply(x, multiplier_neg,
///           rshift_neg), in CV18xx's single-precision arithmetic;
///   module.asymmetric: round((x - zp_in) * s_in / s_out * (x < zp_in ? alpha : 1)) + zp_out.
/// Float form top.LeakyRelu.
struct leaky_relu_op {
  static constexpr std::string_view mnemonic = "tpu.LeakyRelu";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::activation | trait::integer_ok;
  struct attributes {
    std::optional<double> alpha;
    std::optional<top::si32> multiplier;
    std::optional<top::si32> multiplier_neg;
    std::optional<top::si32> rshift;
    std::optional<top::si32> rshift_neg;
    round_mode_attr round_mode;  // HalfAwayFromZero (the interpreter does not read it)
  };
  static top::leaky_relu_op::attributes top_attributes(const attributes& a) {
    if (!a.alpha) throw error("tpu.LeakyRelu: the float form needs the alpha attribute");
    top::leaky_relu_op::attributes t;
    t.alpha = *a.alpha;
    return t;
  }
  struct formula {
    enum class kind : std::uint8_t { bm168x, cv18xx, asymmetric } how = kind::bm168x;
    std::int64_t m = 0, r = 0, m_neg = 0, r_neg = 0;
    std::int64_t zp_in = 0, zp_out = 0;
    double positive = 1.0, negative = 1.0;  // asymmetric: s_in / s_out and alpha * s_in / s_out
    std::int64_t operator()(std::int64_t x) const {
      constexpr auto ms = quant::requant_mode::multiplier_shift;
      constexpr auto up = quant::round_mode::half_up;
      switch (how) {
        case kind::bm168x: return x >= 0 ? x : quant::apply_multiplier_and_rshift(x, m, r, ms, up, quant::chip_family::bm168x);
        case kind::cv18xx:
          if (x >= 0) return m != 0 ? quant::apply_multiplier_and_rshift(x, m, r, ms, up, quant::chip_family::cv18xx) : x;
          return quant::apply_multiplier_and_rshift(x, m_neg, r_neg, ms, up, quant::chip_family::cv18xx);
        case kind::asymmetric: {
          const double v = static_cast<double>(x - zp_in) * (x >= zp_in ? positive : negative);
          return quant::to_int(v, quant::round_mode::half_away_from_zero) + zp_out;
        }
      }
      return x;
    }
  };
  struct prepared {
    bool integer = false;
    formula f;
    std::shared_ptr<const float_path<top::leaky_relu_op>> floating;
  };
  static formula formula_of(const prepare_context& p, const attributes& a) {
    const tensor_quant in = operand_quant(p, 0, "tpu.LeakyRelu"), out = result_quant(p, 0, "tpu.LeakyRelu");
    formula f;
    if (asymmetric_of(p.module)) {
      if (!a.alpha) throw error("tpu.LeakyRelu: the asymmetric integer form needs the alpha attribute");
      f.how = formula::kind::asymmetric;
      f.zp_in = in.zero_point;
      f.zp_out = out.zero_point;
      f.positive = in.scale / out.scale;
      f.negative = *a.alpha * in.scale / out.scale;
      return f;
    }
    if (!a.multiplier || !a.rshift) throw error("tpu.LeakyRelu: the integer form needs the multiplier and rshift attributes");
    f.m = a.multiplier->value;
    f.r = a.rshift->value;
    if (family_of(p) == quant::chip_family::cv18xx) {
      if (!a.multiplier_neg || !a.rshift_neg) throw error("tpu.LeakyRelu: CV18xx needs multiplier_neg and rshift_neg");
      f.how = formula::kind::cv18xx;
      f.m_neg = a.multiplier_neg->value;
      f.r_neg = a.rshift_neg->value;
    }
    return f;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.LeakyRelu");
    if (t[0].shape != c.operand(0).shape)
      throw error("tpu.LeakyRelu: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    return t;
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    const arithmetic how = detail::arithmetic_of("tpu.LeakyRelu", p.operands, declared_result(p, "tpu.LeakyRelu"));
    if (how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::leaky_relu_op>>(float_path<top::leaky_relu_op>::make(p, top_attributes(a)));
    } else {
      s.integer = true;
      s.f = formula_of(p, a);
    }
    return s;
  }
  static void reference(kernel_context& k, const attributes& a) {
    if (is_floating(k.out_type(0).elem)) return float_path<top::leaky_relu_op>::run_reference(k, top_attributes(a));
    std::vector<const tensor*> none;
    map_integers_reference(k.in(0), k.out(0), formula_of(prepare_view(k, none), a));
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) return s.floating->run(k, top_attributes(a));
    map_integers(k.threads(), k.in(0), k.out(0), s.f, "tpu.LeakyRelu");
  }
};

/// `tpu.PRelu`: operands (input, slope). Float form top.PRelu (the slope in the chip's float
/// type). Integer form (Interfaces/Common/PRelu.cpp): slope holds int8 multipliers, one per
/// channel (the element's index over the first two axes, modulo the slope's size), `rshift` one
/// shift:
///   BM168x: x < 0 ? saturate(apply_multiplier_and_rshift(x, slope_c, rshift)) (HalfUp) : x;
///   CV18xx: x < 0 ? apply(x, slope_c, rshift) : apply(x, multiplier_pos, rshift_pos), in CV18xx's
///           single-precision arithmetic, saturated.
struct prelu_op {
  static constexpr std::string_view mnemonic = "tpu.PRelu";
  static constexpr std::array operands{top::input("input"), top::weight("slope")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::activation | trait::integer_ok;
  struct attributes {
    std::optional<top::si32> rshift;
    std::optional<top::si32> rshift_pos;
    std::optional<top::si32> multiplier_pos;
    bool channel_shared = false;
    std::optional<double> slope_val;
  };
  static top::prelu_op::attributes top_attributes(const attributes&) { return {}; }
  struct formula {
    quant::chip_family chip = quant::chip_family::bm168x;
    std::int64_t r = 0, m_pos = 1, r_pos = 0;
    std::int64_t operator()(std::int64_t x, std::int64_t slope) const {
      constexpr auto ms = quant::requant_mode::multiplier_shift;
      constexpr auto up = quant::round_mode::half_up;
      if (chip == quant::chip_family::cv18xx)
        return x < 0 ? quant::apply_multiplier_and_rshift(x, slope, r, ms, up, chip) : quant::apply_multiplier_and_rshift(x, m_pos, r_pos, ms, up, chip);
      return x < 0 ? quant::apply_multiplier_and_rshift(x, slope, r, ms, up, chip) : x;
    }
  };
  struct prepared {
    bool integer = false;
    formula f;
    std::shared_ptr<const float_path<top::prelu_op>> floating;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.PRelu");
    if (t[0].shape != c.operand(0).shape)
      throw error("tpu.PRelu: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    return t;
  }
  static formula formula_of(const prepare_context& p, const attributes& a) {
    if (asymmetric_of(p.module)) throw error("tpu.PRelu: TPU-MLIR's integer PRelu is symmetric only");
    if (!a.rshift) throw error("tpu.PRelu: the integer form needs the rshift attribute");
    formula f;
    f.chip = family_of(p);
    f.r = a.rshift->value;
    if (f.chip == quant::chip_family::cv18xx) {
      if (!a.rshift_pos || !a.multiplier_pos) throw error("tpu.PRelu: CV18xx needs multiplier_pos and rshift_pos");
      f.m_pos = a.multiplier_pos->value;
      f.r_pos = a.rshift_pos->value;
    }
    return f;
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    if (detail::arithmetic_of("tpu.PRelu", p.operands, declared_result(p, "tpu.PRelu")) == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::prelu_op>>(float_path<top::prelu_op>::make(p, top_attributes(a)));
    } else {
      s.integer = true;
      s.f = formula_of(p, a);
    }
    return s;
  }
  static void run_integer(kernel_context& k, const formula& f) {
    const tensor& x = k.in(0);
    const tensor& slope = k.in(1);
    tensor& y = k.out(0);
    const shape_t& xs = x.shape();
    const std::int64_t inner = xs.size() > 1 ? numel(shape_t(xs.begin() + 2, xs.end())) : 1;
    const std::int64_t slopes = slope.numel();
    if (slopes == 0) throw error("tpu.PRelu: an empty slope");
    for (std::int64_t e = 0; e < x.numel(); ++e) store_int(y, e, f(int_at(x, e), int_at(slope, (e / inner) % slopes)));
  }
  static void reference(kernel_context& k, const attributes& a) {
    if (is_floating(k.out_type(0).elem)) return float_path<top::prelu_op>::run_reference(k, top_attributes(a));
    std::vector<const tensor*> none;
    run_integer(k, formula_of(prepare_view(k, none), a));
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) return s.floating->run(k, top_attributes(a));
    run_integer(k, s.f);
  }
};

/// TPU-MLIR's ActiveMode names (TpuOps.td), in its order.
using active_mode_attr =
    top::dialect_enum<"tpu", "active_mode", "TANH", "SIGMOID", "RELU", "EXP", "ELU", "SQRT", "SQUARE", "RSQRT", "ABSVAL", "LN", "ROUND", "CEIL",
                      "FLOOR", "SIN", "COS", "IS_FINITE", "MISH", "SWISH", "HSWISH", "SILU", "ARCSIN", "ARCCOS", "ARCSINH", "ARCCOSH", "ARCTANH", "SINH",
                      "COSH", "TAN", "SIGN", "GELU", "ERF", "HSIGMOID", "LOG_SIGMOID", "SOFT_PLUS", "SOFT_SIGN", "LOG2", "TGELU", "QGELU">;

namespace detail {

/// One activation of tpu.Active, in double as TPU-MLIR's getActivateFunc (ActiveUtils.cpp).
struct active_function {
  enum class mode : std::uint8_t {
    tanh, sigmoid, relu, exp, elu, sqrt, square, rsqrt, absval, ln, round, ceil, floor, sin, cos, is_finite, mish, swish, hswish, silu,
    arcsin, arccos, arcsinh, arccosh, arctanh, sinh, cosh, tan, sign, gelu, erf, hsigmoid, log_sigmoid, soft_plus, soft_sign, log2, tgelu, qgelu
  };
  mode m = mode::tanh;
  double alpha = 0, beta = 0;  // ELU: alpha; SWISH: beta; HSIGMOID: alpha * x + beta

  static double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
  /// Mish is evaluated in float, as TPU-MLIR's my_mish_activate.
  static float mish(float x) {
    const float softplus = std::log(std::exp(x) + 1);
    return x * (2 / (1 + std::exp(-2 * softplus)) - 1);
  }
  double operator()(double x) const {
    switch (m) {
      case mode::tanh: return std::tanh(x);
      case mode::sigmoid: return sigmoid(x);
      case mode::relu: return x > 0 ? x : 0.0;
      case mode::exp: return std::exp(x);
      case mode::elu: return x > 0 ? x : alpha * (std::exp(x) - 1);
      case mode::sqrt: return std::sqrt(x);
      case mode::square: return x * x;
      case mode::rsqrt: return 1.f / std::sqrt(x);
      case mode::absval: return std::abs(x);
      case mode::ln: return std::log(x);
      case mode::round: return std::round(x);
      case mode::ceil: return std::ceil(x);
      case mode::floor: return std::floor(x);
      case mode::sin: return std::sin(x);
      case mode::cos: return std::cos(x);
      case mode::is_finite: return std::isfinite(x) ? 1.0 : 0.0;
      case mode::mish: return mish(static_cast<float>(x));
      case mode::swish: return x / (1 + std::exp(-x * beta));
      case mode::hswish: return x * std::max(0.0, std::min(1.0, (x + 3.0) / 6.0));
      case mode::silu: return x / (1 + std::exp(-x));
      case mode::arcsin: return std::asin(x);
      case mode::arccos: return std::acos(x);
      case mode::arcsinh: return std::asinh(x);
      case mode::arccosh: return std::acosh(x);
      case mode::arctanh: return std::atanh(x);
      case mode::sinh: return std::sinh(x);
      case mode::cosh: return std::cosh(x);
      case mode::tan: return std::tan(x);
      case mode::sign: return x < 0 ? -1.0 : x > 0 ? 1.0 : 0.0;
      case mode::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
      case mode::erf: return std::erf(x);
      case mode::hsigmoid: return std::max(0.0, std::min(1.0, alpha * x + beta));
      case mode::log_sigmoid: return std::log(sigmoid(x));
      case mode::soft_plus: return x > 20 ? x : std::log(std::exp(x) + 1);
      case mode::soft_sign: return x / (1 + std::abs(x));
      case mode::log2: return std::log2(x);
      case mode::tgelu: return 0.5 * x * (1.0 + std::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
      case mode::qgelu: return x * sigmoid(1.702 * x);
    }
    return x;
  }
};

}  // namespace detail

/// `tpu.Active`: operands (input); attributes mode, coeffs (ELU [alpha], SWISH [beta],
/// HSIGMOID [beta, alpha]). Float only.
struct active_op {
  static constexpr std::string_view mnemonic = "tpu.Active";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::activation;
  struct attributes {
    top::required<active_mode_attr> mode;
    std::optional<std::vector<double>> coeffs;
  };
  using prepared = detail::active_function;

  static detail::active_function function_of(const attributes& a) {
    detail::active_function f;
    const auto& names = active_mode_attr::options;
    const auto it = std::find(names.begin(), names.end(), std::string_view(a.mode->value));
    f.m = static_cast<detail::active_function::mode>(it - names.begin());
    const auto coeff = [&](std::size_t i) { return a.coeffs && i < a.coeffs->size() ? (*a.coeffs)[i] : 0.0; };
    using m = detail::active_function::mode;
    if (f.m == m::elu) f.alpha = coeff(0);
    if (f.m == m::swish) f.beta = coeff(0);
    if (f.m == m::hsigmoid) f.beta = coeff(0), f.alpha = coeff(1);
    return f;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.Active");
    if (t[0].shape != c.operand(0).shape) throw error("tpu.Active: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    return t;
  }
  static void check(std::span<const tensor_type* const> operands, const tensor_type& result) {
    if (detail::arithmetic_of("tpu.Active", operands, result) != arithmetic::floating)
      throw error("tpu.Active: float only (its integer form is a tpu.Lut table)");
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    check(p.operands, declared_result(p, "tpu.Active"));
    return function_of(a);
  }
  static void run(kernel_context& k, const detail::active_function& f, bool parallel) {
    const tensor x = as_f32(k.in(0));
    tensor y = tensor::empty(dtype::f32, x.shape());
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    const auto body = [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) yp[i] = static_cast<float>(f(static_cast<double>(xp[i])));
    };
    if (parallel) k.threads().parallel_for(x.numel(), 4096, body);
    else body(0, x.numel());
    k.outputs[0] = to_declared(y, k.out_type(0));
  }
  static void reference(kernel_context& k, const attributes& a) {
    if (!k.input_types.empty() && k.input_types[0]) check(k.input_types, k.out_type(0));
    run(k, function_of(a), false);
  }
  static void compute(kernel_context& k, const attributes&, const prepared& f) { run(k, f, true); }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::relu_op::attributes, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::leaky_relu_op::attributes, alpha, multiplier, multiplier_neg, rshift, rshift_neg, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::active_op::attributes, mode, coeffs);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::prelu_op::attributes, rshift, rshift_pos, multiplier_pos, channel_shared, slope_val);
