#pragma once
// The lowered element-wise ops: tpu.Add, tpu.Sub, tpu.Mul (numpy broadcasting), tpu.MulShift,
// tpu.AddConst and tpu.RequantInt. Their integer arithmetic is TPU-MLIR's interpreter's
// (lowering_spec §4.3-§4.5, §4.11, §5, §6):
//   bm168x Add/Sub: every input requantized on its own, t_i = RightShiftRound((x_i - zp_i) m_i,
//     r_i, HalfUp), then summed, relu at 0, + zp_out (asymmetric), saturated; so the result can
//     be one step off round(sum of reals / s_out) (spec 7.4);
//   cv18xx Add/Sub: sum of x_i m_i, relu, ONE rounding by the shared rshift in single precision;
//   Mul: the integer product (zero points removed when asymmetric), relu, requant by one
//     (multiplier, rshift) with the op's quant_mode, + zp_out;
//   MulShift / AddConst / RequantInt: one input, one (multiplier, shift) - computed here as a
//     256-entry table for 8-bit inputs.
// A float result runs the TOP op (float_path); a plain integer result (int32 index arithmetic)
// runs the TOP op's integer arithmetic.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

namespace detail {

/// relu on an integer held the way the interpreter's float buffers hold it: max(v, 0), then
/// relu_limit (truncated) when it is positive. relu_process sets relu_limit = -1 on every
/// quantized op, so only hand-written files reach the limit.
inline std::int64_t relu_int(std::int64_t v, double limit) {
  if (v < 0) v = 0;
  if (limit > 0 && static_cast<double>(v) > limit) v = static_cast<std::int64_t>(limit);
  return v;
}

enum class combine_kind : std::uint8_t { add, sub, reverse_sub, mul };

template <class V>
V combine(combine_kind c, V a, V b) {
  switch (c) {
    case combine_kind::add: return a + b;
    case combine_kind::sub: return a - b;
    case combine_kind::reverse_sub: return b - a;
    case combine_kind::mul: return a * b;
  }
  return a;
}

/// The integer arithmetic of a lowered Add/Sub/Mul: t_i = transform(i, x_i), v = t_0 o t_1 o
/// ..., q = finish(v) (relu first). Values stay in int64 (products of two 8-bit values and
/// sums of requantized inputs never come near its range).
struct int_eltwise {
  struct input {
    std::int64_t zero_point = 0;
    std::int64_t multiplier = 1;
    std::int64_t rshift = 0;
    bool requantize = false;  // bm168x Add/Sub: RightShiftRound per input
  };
  enum class finish_kind : std::uint8_t { add_zero_point, cv18xx_shift, requantize };

  using value = std::int64_t;
  std::vector<input> inputs;
  combine_kind how = combine_kind::add;
  bool relu = false;
  double relu_limit = -1.0;
  finish_kind finish_with = finish_kind::add_zero_point;
  std::int64_t multiplier = 1, rshift = 0, out_zero_point = 0;
  quant::requant_mode mode = quant::requant_mode::multiplier_shift;
  quant::round_mode round = quant::round_mode::half_up;
  quant::chip_family chip = quant::chip_family::bm168x;

  value transform(std::size_t i, std::int64_t x) const {
    const input& in = inputs[i];
    const std::int64_t v = x - in.zero_point;
    if (in.requantize)
      return quant::apply_multiplier_and_rshift(v, in.multiplier, in.rshift, quant::requant_mode::multiplier_shift,
                                                quant::round_mode::half_up, quant::chip_family::bm168x);
    return v * in.multiplier;
  }
  std::int64_t finish(value v) const {
    if (relu) v = relu_int(v, relu_limit);
    switch (finish_with) {
      case finish_kind::add_zero_point: return v + out_zero_point;
      case finish_kind::cv18xx_shift:
        return quant::apply_multiplier_and_rshift(v, 1, rshift, quant::requant_mode::multiplier_shift, quant::round_mode::half_up,
                                                  quant::chip_family::cv18xx);
      case finish_kind::requantize: return quant::apply_multiplier_and_rshift(v, multiplier, rshift, mode, round, chip) + out_zero_point;
    }
    return v;
  }
};

/// Asymmetric Sub, which TPU-MLIR's interpreter computes on dequantized values in float:
/// t_i = f32(x_i - zp_i) * f32(s_i), v = t_0 - t_1 (relu), q = round(v * f32(1/s_out) + zp_out).
struct real_eltwise {
  using value = float;
  struct input {
    float zero_point = 0.f;
    float scale = 1.f;
  };
  std::vector<input> inputs;
  combine_kind how = combine_kind::sub;
  bool relu = false;
  double relu_limit = -1.0;
  float out_reciprocal = 1.f, out_zero_point = 0.f;

  value transform(std::size_t i, std::int64_t x) const { return (static_cast<float>(x) - inputs[i].zero_point) * inputs[i].scale; }
  std::int64_t finish(value v) const {
    if (relu) {
      v = v < 0.f ? 0.f : v;
      if (relu_limit > 0 && v > relu_limit) v = static_cast<float>(relu_limit);
    }
    const float q = v * out_reciprocal + out_zero_point;
    return quant::to_int(static_cast<double>(q), quant::round_mode::half_away_from_zero);
  }
};

/// The reference: every output element from its own unravelled input indices.
template <class R>
void eltwise_reference(const R& r, kernel_context& k, tensor& y) {
  const shape_t& out = y.shape();
  std::vector<shape_t> strides;
  for (std::size_t i = 0; i < r.inputs.size(); ++i) strides.push_back(top::broadcast_strides(k.in(i).shape(), out));
  for (std::int64_t e = 0; e < y.numel(); ++e) {
    typename R::value v = r.transform(0, int_at(k.in(0), broadcast_offset(e, out, strides[0])));
    for (std::size_t i = 1; i < r.inputs.size(); ++i)
      v = combine(r.how, v, r.transform(i, int_at(k.in(i), broadcast_offset(e, out, strides[i]))));
    store_int(y, e, r.finish(v));
  }
}

/// Two 8-bit inputs, an 8-bit result: each input's transform as a 256-entry table, the rows of
/// the broadcast split over the pool.
template <class R, class X0, class X1, class Y>
void eltwise_fast(const R& r, kernel_context& k, tensor& y) {
  const tensor& a = k.in(0);
  const tensor& b = k.in(1);
  std::array<typename R::value, 256> ta{}, tb{};
  for (int v = std::numeric_limits<X0>::min(); v <= std::numeric_limits<X0>::max(); ++v) ta[static_cast<std::uint8_t>(v)] = r.transform(0, v);
  for (int v = std::numeric_limits<X1>::min(); v <= std::numeric_limits<X1>::max(); ++v) tb[static_cast<std::uint8_t>(v)] = r.transform(1, v);
  const bool same = a.shape() == y.shape() && b.shape() == y.shape();
  const shape_t flat{y.numel()};
  const broadcast_rows rows(same ? flat : y.shape(), {same ? flat : a.shape(), same ? flat : b.shape()});
  const auto* ap = reinterpret_cast<const std::uint8_t*>(a.raw());
  const auto* bp = reinterpret_cast<const std::uint8_t*>(b.raw());
  Y* yp = reinterpret_cast<Y*>(y.raw());
  const std::int64_t sa = rows.step(0), sb = rows.step(1);
  rows.run(k.threads(), [&](std::int64_t o, const std::vector<std::int64_t>& off, std::int64_t len) {
    const std::uint8_t* pa = ap + off[0];
    const std::uint8_t* pb = bp + off[1];
    for (std::int64_t j = 0; j < len; ++j) yp[o + j] = quant::saturate<Y>(r.finish(combine(r.how, ta[pa[j * sa]], tb[pb[j * sb]])));
  });
}

template <class R>
void run_eltwise(const R& r, kernel_context& k, bool reference) {
  tensor& y = k.out(0);
  if (!reference && r.inputs.size() == 2) {
    bool done = false;
    visit_byte(k.in(0).elem(), [&](auto x0) {
      visit_byte(k.in(1).elem(), [&](auto x1) {
        visit_byte(y.elem(), [&](auto yt) {
          eltwise_fast<R, decltype(x0), decltype(x1), decltype(yt)>(r, k, y);
          done = true;
        });
      });
    });
    if (done) return;
  }
  eltwise_reference(r, k, y);
}

/// tpu.Add/Sub/Mul on whatever their operands hold: the TOP op's float path (chip float types),
/// the TOP op itself on plain integers, or the quantized recipe.
template <class TopOp, class Prepared>
void run_binary(kernel_context& k, const typename TopOp::attributes& t, const Prepared& s, bool reference) {
  if (s.how == arithmetic::floating) return reference ? float_path<TopOp>::run_reference(k, t) : s.floating->run(k, t);
  if (s.how == arithmetic::plain_integer) return reference ? TopOp::reference(k, t) : TopOp::compute(k, t);
  run_eltwise(s.recipe, k, reference);
}

/// The declared result of a broadcasting op, checked against its operands' shapes.
inline std::vector<tensor_type> declared_broadcast(const infer_context& c, const char* op) {
  shape_t s = c.operand(0).shape;
  for (std::size_t i = 1; i < c.operands.size(); ++i) s = top::broadcast_shapes(s, c.operand(i).shape);
  auto t = declared_results(c, op);
  if (t[0].shape != s) throw error(std::string(op) + ": declared result " + to_string(t[0].shape) + " but the operands broadcast to " + to_string(s));
  return t;
}

/// The declared result of a one-input element-wise op: the input's shape.
inline std::vector<tensor_type> declared_same_shape(const infer_context& c, const char* op) {
  auto t = declared_results(c, op);
  if (t[0].shape != c.operand(0).shape)
    throw error(std::string(op) + ": declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
  return t;
}

inline void check_count(const std::optional<std::vector<std::int64_t>>& v, std::size_t n, const char* what, const char* op) {
  if (v && !v->empty() && v->size() != 1 && v->size() != n)
    throw error(std::string(op) + ": " + what + " holds " + std::to_string(v->size()) + " values for " + std::to_string(n) + " inputs");
}

/// Add/Sub with per-input (multiplier, rshift): bm168x requantizes each input, cv18xx scales
/// each input and shifts the sum once.
inline int_eltwise add_sub_recipe(const prepare_context& p, const std::optional<std::vector<std::int64_t>>& multipliers,
                                  const std::optional<std::vector<std::int64_t>>& rshifts, bool do_relu, double relu_limit,
                                  combine_kind how, const char* op) {
  const std::size_t n = p.operands.size();
  check_count(multipliers, n, "multipliers", op);
  int_eltwise r;
  r.how = how;
  r.relu = do_relu;
  r.relu_limit = relu_limit;
  r.chip = family_of(p);
  const bool asym = asymmetric_of(p.module);
  const tensor_quant out = result_quant(p, 0, op);
  if (r.chip == quant::chip_family::cv18xx) {
    if (asym) throw error(std::string(op) + ": CV18xx is symmetric only (module.asymmetric is true)");
    if (rshifts && rshifts->size() > 1) throw error(std::string(op) + ": CV18xx shares one rshift between the inputs, got " + std::to_string(rshifts->size()));
    r.finish_with = int_eltwise::finish_kind::cv18xx_shift;
    r.rshift = pick_value(rshifts, 0, 0);
    for (std::size_t i = 0; i < n; ++i) r.inputs.push_back({0, pick_value(multipliers, i, 1), 0, false});
    return r;
  }
  check_count(rshifts, n, "rshifts", op);
  r.finish_with = int_eltwise::finish_kind::add_zero_point;
  r.out_zero_point = asym ? out.zero_point : 0;
  for (std::size_t i = 0; i < n; ++i) {
    const tensor_quant in = operand_quant(p, i, op);
    r.inputs.push_back({asym ? in.zero_point : 0, pick_value(multipliers, i, 1), pick_value(rshifts, i, 0), true});
  }
  return r;
}

/// Checks that every operand of a quantized op is an integer tensor.
inline void require_integer_operands(const prepare_context& p, const char* op) {
  for (std::size_t i = 0; i < p.operands.size(); ++i)
    if (const tensor_type* t = present(p.operands, i); t && !is_integer(t->elem))
      throw error(std::string(op) + ": operand " + std::to_string(i) + " holds " + std::string(name(t->elem)) + ", a quantized op needs integers");
}

}  // namespace detail

/// `tpu.Add`: operands (inputs...); attributes do_relu, relu_limit, coeff (float form),
/// multipliers, rshifts (integer form).
struct add_op {
  static constexpr std::string_view mnemonic = "tpu.Add";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::commutative;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::vector<double>> coeff;
    std::optional<std::vector<std::int64_t>> multipliers;
    std::optional<std::vector<std::int64_t>> rshifts;
  };
  static top::add_op::attributes top_attributes(const attributes& a) {
    top::add_op::attributes t;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    t.coeff = a.coeff;
    return t;
  }
  struct prepared {
    arithmetic how = arithmetic::floating;
    detail::int_eltwise recipe;
    std::shared_ptr<const float_path<top::add_op>> floating;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::declared_broadcast(c, "tpu.Add"); }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    s.how = detail::arithmetic_of("tpu.Add", p.operands, declared_result(p, "tpu.Add"));
    if (s.how == arithmetic::floating)
      s.floating = std::make_shared<float_path<top::add_op>>(float_path<top::add_op>::make(p, top_attributes(a)));
    else if (s.how == arithmetic::quantized)
      s.recipe = detail::add_sub_recipe(p, a.multipliers, a.rshifts, a.do_relu, a.relu_limit, detail::combine_kind::add, "tpu.Add");
    return s;
  }
  static void run(kernel_context& k, const attributes& a, const prepared& s, bool reference) {
    detail::run_binary<top::add_op>(k, top_attributes(a), s, reference);
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    run(k, a, prepare(prepare_view(k, none), a), true);
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) { run(k, a, s, false); }
};

/// `tpu.Sub`: operands (lhs, rhs); attributes is_reverse, do_relu, relu_limit, coeff,
/// multipliers, rshifts. Asymmetric integers: float arithmetic on the dequantized inputs.
struct sub_op {
  static constexpr std::string_view mnemonic = "tpu.Sub";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast;
  struct attributes {
    bool is_reverse = false;
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::vector<double>> coeff;
    std::optional<std::vector<std::int64_t>> multipliers;
    std::optional<std::vector<std::int64_t>> rshifts;
  };
  static top::sub_op::attributes top_attributes(const attributes& a) {
    top::sub_op::attributes t;
    t.is_reverse = a.is_reverse;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    t.coeff = a.coeff;
    return t;
  }
  struct prepared {
    arithmetic how = arithmetic::floating;
    bool real = false;
    detail::int_eltwise recipe;
    detail::real_eltwise real_recipe;
    std::shared_ptr<const float_path<top::sub_op>> floating;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    if (c.operands.size() != 2) throw error("tpu.Sub: takes two operands, got " + std::to_string(c.operands.size()));
    return detail::declared_broadcast(c, "tpu.Sub");
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    s.how = detail::arithmetic_of("tpu.Sub", p.operands, declared_result(p, "tpu.Sub"));
    const auto how = a.is_reverse ? detail::combine_kind::reverse_sub : detail::combine_kind::sub;
    if (s.how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::sub_op>>(float_path<top::sub_op>::make(p, top_attributes(a)));
    } else if (s.how == arithmetic::quantized) {
      if (asymmetric_of(p.module) && family_of(p) == quant::chip_family::bm168x) {
        s.real = true;
        detail::real_eltwise& r = s.real_recipe;
        r.how = how;
        r.relu = a.do_relu;
        r.relu_limit = a.relu_limit;
        for (std::size_t i = 0; i < 2; ++i) {
          const tensor_quant q = operand_quant(p, i, "tpu.Sub");
          r.inputs.push_back({static_cast<float>(q.zero_point), static_cast<float>(q.scale)});
        }
        const tensor_quant out = result_quant(p, 0, "tpu.Sub");
        r.out_reciprocal = static_cast<float>(1.0 / out.scale);
        r.out_zero_point = static_cast<float>(out.zero_point);
      } else {
        s.recipe = detail::add_sub_recipe(p, a.multipliers, a.rshifts, a.do_relu, a.relu_limit, how, "tpu.Sub");
      }
    }
    return s;
  }
  static void run(kernel_context& k, const attributes& a, const prepared& s, bool reference) {
    if (s.how == arithmetic::floating) return reference ? float_path<top::sub_op>::run_reference(k, top_attributes(a)) : s.floating->run(k, top_attributes(a));
    if (s.how == arithmetic::plain_integer) return reference ? top::sub_op::reference(k, top_attributes(a)) : top::sub_op::compute(k, top_attributes(a));
    if (s.real) return detail::run_eltwise(s.real_recipe, k, reference);
    detail::run_eltwise(s.recipe, k, reference);
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    run(k, a, prepare(prepare_view(k, none), a), true);
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) { run(k, a, s, false); }
};

/// `tpu.Mul`: operands (lhs, rhs); attributes do_relu, relu_limit, multiplier, rshift (si32),
/// quant_mode. The product of the integers (minus their zero points when asymmetric), relu,
/// then requant: HalfUp on BM168x, HalfAwayFromZero on CV18xx.
struct mul_op {
  static constexpr std::string_view mnemonic = "tpu.Mul";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::commutative;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
    top::si32 multiplier = 1;
    top::si32 rshift = 0;
    rq_mode_attr quant_mode;  // MultiplierShift
  };
  static top::mul_op::attributes top_attributes(const attributes& a) {
    top::mul_op::attributes t;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    return t;
  }
  struct prepared {
    arithmetic how = arithmetic::floating;
    detail::int_eltwise recipe;
    std::shared_ptr<const float_path<top::mul_op>> floating;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    if (c.operands.size() != 2) throw error("tpu.Mul: takes two operands, got " + std::to_string(c.operands.size()));
    return detail::declared_broadcast(c, "tpu.Mul");
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    s.how = detail::arithmetic_of("tpu.Mul", p.operands, declared_result(p, "tpu.Mul"));
    if (s.how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::mul_op>>(float_path<top::mul_op>::make(p, top_attributes(a)));
    } else if (s.how == arithmetic::quantized) {
      detail::int_eltwise& r = s.recipe;
      r.how = detail::combine_kind::mul;
      r.relu = a.do_relu;
      r.relu_limit = a.relu_limit;
      r.chip = family_of(p);
      const bool asym = asymmetric_of(p.module);
      for (std::size_t i = 0; i < 2; ++i) r.inputs.push_back({asym ? operand_quant(p, i, "tpu.Mul").zero_point : 0, 1, 0, false});
      r.finish_with = detail::int_eltwise::finish_kind::requantize;
      r.multiplier = a.multiplier;
      r.rshift = a.rshift;
      r.mode = quant::parse_requant_mode(a.quant_mode.value);
      r.round = r.chip == quant::chip_family::cv18xx ? quant::round_mode::half_away_from_zero : quant::round_mode::half_up;
      r.out_zero_point = asym ? result_quant(p, 0, "tpu.Mul").zero_point : 0;
    }
    return s;
  }
  static void run(kernel_context& k, const attributes& a, const prepared& s, bool reference) {
    detail::run_binary<top::mul_op>(k, top_attributes(a), s, reference);
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    run(k, a, prepare(prepare_view(k, none), a), true);
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) { run(k, a, s, false); }
};

namespace detail {

/// The input and result of a one-input quantized op (zero points from the types: a plain
/// integer input has none).
inline std::pair<tensor_quant, tensor_quant> unary_quant(const prepare_context& p, const char* op) {
  const tensor_quant in = operand_quant(p, 0, op), out = result_quant(p, 0, op);
  if (!in.integer || !out.integer)
    throw error(std::string(op) + ": has only an integer form (input " + std::string(name(p.operand_type(0)->elem)) + ", result " +
                std::string(name(p.result_type(0)->elem)) + ")");
  return {in, out};
}

}  // namespace detail

/// `tpu.MulShift` (MulConst's and Concat's integer form): q = saturate(apply_multiplier_and_
/// rshift(x - zp_in, multiplier, rshift) + zp_out), HalfUp.
struct mul_shift_op {
  static constexpr std::string_view mnemonic = "tpu.MulShift";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    top::required<top::si32> multiplier;
    top::required<top::si32> rshift;
  };
  struct formula {
    std::int64_t zp_in, zp_out, m, r;
    quant::chip_family chip;
    std::int64_t operator()(std::int64_t x) const {
      return quant::apply_multiplier_and_rshift(x - zp_in, m, r, quant::requant_mode::multiplier_shift, quant::round_mode::half_up, chip) +
             zp_out;
    }
  };
  using prepared = formula;
  static formula formula_of(const prepare_context& p, const attributes& a) {
    const auto [in, out] = detail::unary_quant(p, "tpu.MulShift");
    return {in.zero_point, out.zero_point, a.multiplier->value, a.rshift->value, family_of(p)};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::declared_same_shape(c, "tpu.MulShift"); }
  static prepared prepare(const prepare_context& p, const attributes& a) { return formula_of(p, a); }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    map_integers_reference(k.in(0), k.out(0), formula_of(prepare_view(k, none), a));
  }
  static void compute(kernel_context& k, const attributes&, const prepared& f) { map_integers(k.threads(), k.in(0), k.out(0), f, "tpu.MulShift"); }
};

/// `tpu.AddConst`: integer form t = (x - zp_in) * multiplier + const_val (const_val already
/// holds round(c / s_out) << rshift), then RightShiftRound(t, rshift, HalfUp), relu at 0,
/// saturate; float form top.AddConst. The output zero point is never added (TPU-MLIR lowers an
/// asymmetric AddConst to F16, so it never matters).
struct add_const_op {
  static constexpr std::string_view mnemonic = "tpu.AddConst";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    top::required<double> const_val;
    bool do_relu = false;
    double relu_limit = -1.0;
    top::si32 multiplier = 1;
    top::si32 rshift = 0;
  };
  static top::add_const_op::attributes top_attributes(const attributes& a) {
    top::add_const_op::attributes t;
    t.const_val = a.const_val;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    return t;
  }
  struct formula {
    std::int64_t zp_in, m, r;
    double c;
    bool relu;
    quant::chip_family chip;
    std::int64_t operator()(std::int64_t x) const {
      using quant::apply_multiplier_and_rshift;
      constexpr auto ms = quant::requant_mode::multiplier_shift;
      const std::int64_t t = apply_multiplier_and_rshift(x - zp_in, m, 0, ms, quant::round_mode::half_up, chip);
      // the sum is a double that the interpreter truncates back to an integer
      const std::int64_t s = quant::to_int(static_cast<double>(t) + c, quant::round_mode::towards_zero);
      std::int64_t v = apply_multiplier_and_rshift(s, 1, r, ms, quant::round_mode::half_up, chip);
      return relu && v < 0 ? 0 : v;
    }
  };
  struct prepared {
    bool integer = false;
    formula f{};
    std::shared_ptr<const float_path<top::add_const_op>> floating;
  };
  static formula formula_of(const prepare_context& p, const attributes& a) {
    const auto [in, out] = detail::unary_quant(p, "tpu.AddConst");
    (void)out;
    return {in.zero_point, a.multiplier.value, a.rshift.value, *a.const_val, a.do_relu, family_of(p)};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::declared_same_shape(c, "tpu.AddConst"); }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    const arithmetic how = detail::arithmetic_of("tpu.AddConst", p.operands, declared_result(p, "tpu.AddConst"));
    if (how == arithmetic::quantized) {
      s.integer = true;
      s.f = formula_of(p, a);
    } else if (how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::add_const_op>>(float_path<top::add_const_op>::make(p, top_attributes(a)));
    }
    return s;
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    const prepare_context p = prepare_view(k, none);
    const arithmetic how = detail::arithmetic_of("tpu.AddConst", p.operands, k.out_type(0));
    if (how == arithmetic::floating) return float_path<top::add_const_op>::run_reference(k, top_attributes(a));
    if (how == arithmetic::plain_integer) return top::add_const_op::reference(k, top_attributes(a));
    map_integers_reference(k.in(0), k.out(0), formula_of(p, a));
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.integer) return map_integers(k.threads(), k.in(0), k.out(0), s.f, "tpu.AddConst");
    if (s.floating) return s.floating->run(k, top_attributes(a));
    top::add_const_op::compute(k, top_attributes(a));
  }
};

/// `tpu.RequantInt`: an integer tensor (int32 accumulators, or int8 of another scale) to
/// int8/uint8. MultiplierShift: zp_out + apply_multiplier_and_rshift(x - zp_in, m, r) with the
/// op's round_mode; TFLite/TFLite_LShift: zp_out + MultiplyByQuantizedMultiplier(x, m, -r).
struct requant_int_op {
  static constexpr std::string_view mnemonic = "tpu.RequantInt";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    top::required<top::si32> multiplier;
    top::required<top::si32> rshift;
    top::required<rq_mode_attr> quant_mode;
    round_mode_attr round_mode;  // HalfAwayFromZero
  };
  struct formula {
    std::int64_t zp_in, zp_out, m, r;
    bool tflite;
    quant::round_mode round;
    quant::chip_family chip;
    std::int64_t operator()(std::int64_t x) const {
      if (tflite)
        return zp_out + quant::multiply_by_quantized_multiplier(quant::saturate<std::int32_t>(x - zp_in), static_cast<std::int32_t>(m),
                                                                static_cast<int>(-r), round);
      return zp_out + quant::apply_multiplier_and_rshift(x - zp_in, m, r, quant::requant_mode::multiplier_shift, round, chip);
    }
  };
  using prepared = formula;
  static formula formula_of(const prepare_context& p, const attributes& a) {
    const auto [in, out] = detail::unary_quant(p, "tpu.RequantInt");
    const quant::requant_mode mode = quant::parse_requant_mode(a.quant_mode->value);
    if (mode != quant::requant_mode::multiplier_shift && mode != quant::requant_mode::tflite && mode != quant::requant_mode::tflite_lshift)
      throw error("tpu.RequantInt: quant_mode " + a.quant_mode->value + " is not computed by TPU-MLIR's interpreter (MultiplierShift, TFLite or TFLite_LShift)");
    return {in.zero_point, out.zero_point, a.multiplier->value, a.rshift->value, mode != quant::requant_mode::multiplier_shift,
            quant::parse_round_mode(a.round_mode.value), family_of(p)};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::declared_same_shape(c, "tpu.RequantInt"); }
  static prepared prepare(const prepare_context& p, const attributes& a) { return formula_of(p, a); }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    map_integers_reference(k.in(0), k.out(0), formula_of(prepare_view(k, none), a));
  }
  static void compute(kernel_context& k, const attributes&, const prepared& f) { map_integers(k.threads(), k.in(0), k.out(0), f, "tpu.RequantInt"); }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::add_op::attributes, do_relu, relu_limit, coeff, multipliers, rshifts);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::sub_op::attributes, is_reverse, do_relu, relu_limit, coeff, multipliers, rshifts);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::mul_op::attributes, do_relu, relu_limit, multiplier, rshift, quant_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::mul_shift_op::attributes, multiplier, rshift);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::add_const_op::attributes, const_val, do_relu, relu_limit, multiplier, rshift);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::requant_int_op::attributes, multiplier, rshift, quant_mode, round_mode);
