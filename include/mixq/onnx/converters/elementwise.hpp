#pragma once
// ONNX element-wise ops: arithmetic, activations, comparisons, logic, Where, Cast.
#include <cmath>
#include <limits>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

inline bool is_scalar_constant(const ref& r) { return r.is_constant() && r.constant->numel() == 1; }
inline double scalar_value(const ref& r) { return element_as_double(*r.constant, 0); }

/// x + y, x - y, x * y: the constant-scalar forms become the *Const ops, as in TPU-MLIR.
template <class Binary, class ConstOp>
void binary_with_const(import_context& ctx, const node_proto& n, bool commutative) {
  const ref a = ctx.input(n, 0), b = ctx.input(n, 1);
  const std::string loc = import_context::loc_name(n);
  const bool float_result = is_floating(ctx.type_of(a).elem) || is_floating(ctx.type_of(b).elem);
  auto scalar_form = [&](const ref& x, double c, bool reversed) {
    typename ConstOp::attributes at;
    at.const_val = c;
    if constexpr (requires { at.is_reverse; }) at.is_reverse = reversed;
    // The const form keeps the tensor's shape; it applies only when broadcasting adds no axis.
    return ctx.emit<ConstOp>({x}, at, {loc});
  };
  std::vector<ref> out;
  if (float_result && is_scalar_constant(b) && !a.is_constant() && ctx.shape_of(b).size() <= ctx.shape_of(a).size()) {
    out = scalar_form(a, scalar_value(b), false);
  } else if (float_result && is_scalar_constant(a) && !b.is_constant() && ctx.shape_of(a).size() <= ctx.shape_of(b).size() &&
             (commutative || requires(typename ConstOp::attributes x) { x.is_reverse; })) {
    out = scalar_form(b, scalar_value(a), !commutative);
  } else {
    out = ctx.emit<Binary>({a, b}, {}, {loc});
  }
  define_output(ctx, n, 0, out[0]);
}

inline void convert_add(import_context& ctx, const node_proto& n) {
  binary_with_const<top::add_op, top::add_const_op>(ctx, n, true);
}
inline void convert_sub(import_context& ctx, const node_proto& n) {
  binary_with_const<top::sub_op, top::sub_const_op>(ctx, n, false);
}
inline void convert_mul(import_context& ctx, const node_proto& n) {
  binary_with_const<top::mul_op, top::mul_const_op>(ctx, n, true);
}

/// x / c becomes x * (1/c) (TPU-MLIR does the same); c / x with a scalar c becomes Reciprocal.
inline void convert_div(import_context& ctx, const node_proto& n) {
  const ref a = ctx.input(n, 0), b = ctx.input(n, 1);
  const std::string loc = import_context::loc_name(n);
  const bool floating = is_floating(ctx.type_of(a).elem);
  std::vector<ref> out;
  if (floating && is_scalar_constant(b) && !a.is_constant() && ctx.shape_of(b).size() <= ctx.shape_of(a).size()) {
    top::mul_const_op::attributes at;
    at.const_val = 1.0 / scalar_value(b);
    out = ctx.emit<top::mul_const_op>({a}, at, {loc});
  } else if (floating && is_scalar_constant(a) && !b.is_constant() && ctx.shape_of(a).size() <= ctx.shape_of(b).size()) {
    top::reciprocal_op::attributes at;
    at.const_val = scalar_value(a);
    out = ctx.emit<top::reciprocal_op>({b}, at, {loc});
  } else {
    out = ctx.emit<top::div_op>({a, b}, {}, {loc});
  }
  define_output(ctx, n, 0, out[0]);
}

/// Max/Min take any number of inputs in ONNX; TOP's are binary.
template <class Binary>
void convert_variadic(import_context& ctx, const node_proto& n) {
  ref acc = ctx.input(n, 0);
  const std::size_t k = ctx.num_inputs(n);
  if (k == 1) {
    define_output(ctx, n, 0, acc);
    return;
  }
  for (std::size_t i = 1; i < k; ++i) {
    const std::string loc = i + 1 == k ? import_context::loc_name(n) : import_context::loc_name(n) + "_" + std::to_string(i);
    acc = ctx.emit<Binary>({acc, ctx.input(n, i)}, {}, {loc})[0];
  }
  define_output(ctx, n, 0, acc);
}

/// Mod: fmod=0 takes the divisor's sign (integers only, Python's %), fmod=1 the dividend's (C fmod).
inline void convert_mod(import_context& ctx, const node_proto& n) {
  const std::vector<ref> operands{ctx.input(n, 0), ctx.input(n, 1)};
  const std::string loc = import_context::loc_name(n);
  if (attr_int(n, "fmod", 0) != 0) {
    define_output(ctx, n, 0, ctx.emit<top::mod_op>(operands, {}, {loc})[0]);
    return;
  }
  if (is_floating(ctx.type_of(operands[0]).elem)) throw error("fmod=0 is defined for integers only; floats need fmod=1");
  define_output(ctx, n, 0, ctx.emit<top::remainder_op>(operands, {}, {loc})[0]);
}

/// Pow as TPU-MLIR's frontend converts it: x^1 is x, x^2 is Mul(x, x) (calibration then knows
/// the result is non-negative), x^c is Pow, c^x is Pow2, and x^y with tensors is Pow3.
inline void convert_pow(import_context& ctx, const node_proto& n) {
  const ref a = ctx.input(n, 0), b = ctx.input(n, 1);
  const std::string loc = import_context::loc_name(n);
  const bool floating = is_floating(ctx.type_of(a).elem);
  if (floating && is_scalar_constant(b) && !a.is_constant() && ctx.shape_of(b).size() <= ctx.shape_of(a).size()) {
    const double e = scalar_value(b);
    if (e == 1.0) {
      define_output(ctx, n, 0, a);
    } else if (e == 2.0) {
      define_output(ctx, n, 0, ctx.emit<top::mul_op>({a, a}, {}, {loc})[0]);
    } else {
      top::pow_op::attributes at;
      at.exponent = e;
      define_output(ctx, n, 0, ctx.emit<top::pow_op>({a}, at, {loc})[0]);
    }
    return;
  }
  if (floating && is_scalar_constant(a) && !b.is_constant() && ctx.shape_of(a).size() <= ctx.shape_of(b).size()) {
    top::pow2_op::attributes at;
    at.const_val = scalar_value(a);
    define_output(ctx, n, 0, ctx.emit<top::pow2_op>({b}, at, {loc})[0]);
    return;
  }
  define_output(ctx, n, 0, ctx.emit<top::pow3_op>({a, b}, {}, {loc})[0]);
}

template <class Op>
void convert_unary(import_context& ctx, const node_proto& n) {
  define_output(ctx, n, 0, ctx.emit<Op>({ctx.input(n, 0)}, {}, {import_context::loc_name(n)})[0]);
}

inline void convert_leaky_relu(import_context& ctx, const node_proto& n) {
  top::leaky_relu_op::attributes at;
  at.alpha = attr_float(n, "alpha", 0.01f);
  define_output(ctx, n, 0, ctx.emit<top::leaky_relu_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}
inline void convert_prelu(import_context& ctx, const node_proto& n) {
  emit_simple<top::prelu_op>(ctx, n);
}
inline void convert_elu(import_context& ctx, const node_proto& n) {
  top::elu_op::attributes at;
  at.alpha = attr_float(n, "alpha", 1.0f);
  define_output(ctx, n, 0, ctx.emit<top::elu_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}
/// Selu = gamma * Elu(alpha).
inline void convert_selu(import_context& ctx, const node_proto& n) {
  top::elu_op::attributes e;
  e.alpha = attr_float(n, "alpha", 1.67326319217681884765625f);
  const std::string loc = import_context::loc_name(n);
  const ref elu = ctx.emit<top::elu_op>({ctx.input(n, 0)}, e, {loc + "_elu"})[0];
  top::mul_const_op::attributes m;
  m.const_val = attr_float(n, "gamma", 1.05070102214813232421875f);
  define_output(ctx, n, 0, ctx.emit<top::mul_const_op>({elu}, m, {loc})[0]);
}
inline void convert_hard_sigmoid(import_context& ctx, const node_proto& n) {
  top::hard_sigmoid_op::attributes at;
  at.alpha = attr_float(n, "alpha", 0.2f);
  at.beta = attr_float(n, "beta", 0.5f);
  define_output(ctx, n, 0, ctx.emit<top::hard_sigmoid_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}
inline void convert_gelu(import_context& ctx, const node_proto& n) {
  top::gelu_op::attributes at;
  at.approx_mode = attr_string(n, "approximate", "none") == "tanh" ? "tanh" : "normal";
  define_output(ctx, n, 0, ctx.emit<top::gelu_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}
inline void convert_neg(import_context& ctx, const node_proto& n) {
  top::mul_const_op::attributes at;
  at.const_val = -1.0;
  define_output(ctx, n, 0, ctx.emit<top::mul_const_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}
inline void convert_reciprocal(import_context& ctx, const node_proto& n) {
  define_output(ctx, n, 0, ctx.emit<top::reciprocal_op>({ctx.input(n, 0)}, {}, {import_context::loc_name(n)})[0]);
}

/// Clip: bounds are attributes before opset 11, optional constant inputs from 11 on.
inline void convert_clip(import_context& ctx, const node_proto& n) {
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  if (ctx.opset() < 11) {
    lo = attr_float(n, "min", -std::numeric_limits<float>::max());
    hi = attr_float(n, "max", std::numeric_limits<float>::max());
  } else {
    if (ctx.num_inputs(n) > 1 && !n.inputs[1].empty()) lo = element_as_double(ctx.constant_input(n, 1, "min"), 0);
    if (ctx.num_inputs(n) > 2 && !n.inputs[2].empty()) hi = element_as_double(ctx.constant_input(n, 2, "max"), 0);
  }
  top::clip_op::attributes at;
  at.min = std::max(lo, -static_cast<double>(std::numeric_limits<float>::max()));
  at.max = std::min(hi, static_cast<double>(std::numeric_limits<float>::max()));
  define_output(ctx, n, 0, ctx.emit<top::clip_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}

inline void compare(import_context& ctx, const node_proto& n, const char* mode) {
  const ref a = ctx.input(n, 0), b = ctx.input(n, 1);
  const std::string loc = import_context::loc_name(n);
  const std::vector<tensor_type> result{tensor_type{dtype::boolean, {}}};
  std::vector<ref> out;
  if (is_scalar_constant(b) && !a.is_constant() && ctx.shape_of(b).size() <= ctx.shape_of(a).size()) {
    top::compare_const_op::attributes at;
    at.mode = top::detail::compare_mode(mode);
    at.const_val = scalar_value(b);
    at.inversed = false;
    out = ctx.emit<top::compare_const_op>({a}, at, {loc});
  } else {
    top::compare_op::attributes at;
    at.mode = top::detail::compare_mode(mode);
    out = ctx.emit<top::compare_op>({a, b}, at, {loc});
  }
  define_output(ctx, n, 0, out[0]);
}
inline void convert_equal(import_context& ctx, const node_proto& n) { compare(ctx, n, "Equal"); }
inline void convert_greater(import_context& ctx, const node_proto& n) { compare(ctx, n, "Greater"); }
inline void convert_less(import_context& ctx, const node_proto& n) { compare(ctx, n, "Less"); }
inline void convert_greater_equal(import_context& ctx, const node_proto& n) { compare(ctx, n, "GreaterOrEqual"); }
inline void convert_less_equal(import_context& ctx, const node_proto& n) { compare(ctx, n, "LessOrEqual"); }
inline void convert_xor(import_context& ctx, const node_proto& n) { compare(ctx, n, "Xor"); }
inline void convert_and(import_context& ctx, const node_proto& n) {
  define_output(ctx, n, 0, ctx.emit<top::logical_and_op>({ctx.input(n, 0), ctx.input(n, 1)}, {}, {import_context::loc_name(n)})[0]);
}
/// Or(a, b) = (a + b) != 0 on 0/1 values.
inline void convert_or(import_context& ctx, const node_proto& n) {
  const std::string loc = import_context::loc_name(n);
  const ref sum = ctx.emit<top::max_op>({ctx.input(n, 0), ctx.input(n, 1)}, {}, {loc + "_max"})[0];
  top::compare_const_op::attributes at;
  at.mode = top::detail::compare_mode("NotEqual");
  at.const_val = 0.0;
  at.inversed = false;
  define_output(ctx, n, 0, ctx.emit<top::compare_const_op>({sum}, at, {loc})[0]);
}
inline void convert_not(import_context& ctx, const node_proto& n) {
  top::compare_const_op::attributes at;
  at.mode = top::detail::compare_mode("Equal");
  at.const_val = 0.0;
  at.inversed = false;
  define_output(ctx, n, 0, ctx.emit<top::compare_const_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_where(import_context& ctx, const node_proto& n) {
  const ref c = ctx.input(n, 0), x = ctx.input(n, 1), y = ctx.input(n, 2);
  top::where_op::attributes at;
  std::vector<ref> ops{c, x, y};
  if (is_scalar_constant(x) && !c.is_constant()) at.x_is_const = true, at.x_const_val = scalar_value(x), ops[1] = ref{};
  if (is_scalar_constant(y) && !c.is_constant()) at.y_is_const = true, at.y_const_val = scalar_value(y), ops[2] = ref{};
  define_output(ctx, n, 0, ctx.emit<top::where_op>(ops, at, {import_context::loc_name(n)})[0]);
}

/// Cast: folded on constants; float -> float is dropped (the TOP graph computes in f32).
inline void convert_cast(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const auto to = to_dtype(static_cast<data_type>(attr_int(n, "to", 1)));
  if (!to) throw error("Cast to " + data_type_name(static_cast<data_type>(attr_int(n, "to", 0))) + " is not supported");
  const dtype target = is_floating(*to) ? dtype::f32 : *to;
  if (x.is_constant()) {
    ref r;
    r.constant = x.constant->cast(*to).cast(target);
    define_output(ctx, n, 0, r);
    return;
  }
  const tensor_type in = ctx.type_of(x);
  if (in.elem == target || (is_floating(in.elem) && is_floating(target))) {
    define_output(ctx, n, 0, x);
    return;
  }
  tensor_type declared{target, in.shape};
  define_output(ctx, n, 0, ctx.emit<top::cast_op>({x}, {}, {import_context::loc_name(n)}, true, {declared})[0]);
}

}  // namespace detail

inline void add_elementwise_converters(converter_table& t) {
  using namespace detail;
  t.add("Add", convert_add);
  t.add("Sub", convert_sub);
  t.add("Mul", convert_mul);
  t.add("Div", convert_div);
  t.add("Pow", convert_pow);
  t.add("Mod", convert_mod);
  t.add("Max", convert_variadic<top::max_op>);
  t.add("Min", convert_variadic<top::min_op>);
  t.add("Relu", convert_unary<top::relu_op>);
  t.add("Sigmoid", convert_unary<top::sigmoid_op>);
  t.add("Tanh", convert_unary<top::tanh_op>);
  t.add("HardSwish", convert_unary<top::hard_swish_op>);
  t.add("Exp", convert_unary<top::exp_op>);
  t.add("Log", convert_unary<top::log_op>);
  t.add("Sqrt", convert_unary<top::sqrt_op>);
  t.add("Abs", convert_unary<top::abs_op>);
  t.add("Erf", convert_unary<top::erf_op>);
  t.add("Floor", convert_unary<top::floor_op>);
  t.add("Ceil", convert_unary<top::ceil_op>);
  t.add("Round", convert_unary<top::round_op>);
  t.add("Sign", convert_unary<top::sign_op>);
  t.add("Sin", convert_unary<top::sin_op>);
  t.add("Cos", convert_unary<top::cos_op>);
  t.add("Softplus", convert_unary<top::softplus_op>);
  t.add("Softsign", convert_unary<top::softsign_op>);
  t.add("Mish", convert_unary<top::mish_op>);
  t.add("LeakyRelu", convert_leaky_relu);
  t.add("PRelu", convert_prelu);
  t.add("Elu", convert_elu);
  t.add("Selu", convert_selu);
  t.add("HardSigmoid", convert_hard_sigmoid);
  t.add("Gelu", convert_gelu);
  t.add("Neg", convert_neg);
  t.add("Reciprocal", convert_reciprocal);
  t.add("Clip", convert_clip);
  t.add("Equal", convert_equal);
  t.add("Greater", convert_greater);
  t.add("Less", convert_less);
  t.add("GreaterOrEqual", convert_greater_equal);
  t.add("LessOrEqual", convert_less_equal);
  t.add("Xor", convert_xor);
  t.add("And", convert_and);
  t.add("Or", convert_or);
  t.add("Not", convert_not);
  t.add("Where", convert_where);
  t.add("Cast", convert_cast);
}

}  // namespace mixq::onnx
