#pragma once
// Compare, CompareConst, logical ops, Where, MaskedFill, Cast, DtypeCast: the ops that carry
// masks and integer tensors through a graph. They work on every dtype.
//
// Compare results are 1 / 0 stored in the result's element type (bool/i1, f32, i64...).
// Operands are compared in int64 when neither is a float, else in f32.
// Result dtype (infer): Compare, CompareConst and LogicalAnd keep the first operand's type
// (TPU-MLIR's TOP graphs carry masks as f32); Where and MaskedFill take their value
// operand's type; Cast keeps the declared result type (its target) and falls back to the
// operand's type; DtypeCast maps f32 to f16 and anything else to f32.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/elementwise.hpp"

namespace mixq::top {

namespace detail {

using compare_mode = one_of<"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "NotEqual", "And", "Not", "Xor">;

/// One functor type per mode, so the mode switch happens once per op, not per element.
/// `Not` negates the left operand (the right one only takes part in broadcasting).
template <int Mode>
struct compare_fn {
  template <class T>
  static bool test(T a, T b) {
    if constexpr (Mode == 0) return a == b;
    else if constexpr (Mode == 1) return a > b;
    else if constexpr (Mode == 2) return a >= b;
    else if constexpr (Mode == 3) return a < b;
    else if constexpr (Mode == 4) return a <= b;
    else if constexpr (Mode == 5) return a != b;
    else if constexpr (Mode == 6) return a != T(0) && b != T(0);
    else if constexpr (Mode == 7) return a == T(0);
    else return (a != T(0)) != (b != T(0));
  }
  float operator()(float a, float b) const { return test(a, b) ? 1.f : 0.f; }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return test(a, b) ? 1 : 0; }
  fbatch operator()(const fbatch& a, const fbatch& b) const {
    const fbatch one(1.f), zero(0.f);
    if constexpr (Mode == 0) return xsimd::select(a == b, one, zero);
    else if constexpr (Mode == 1) return xsimd::select(a > b, one, zero);
    else if constexpr (Mode == 2) return xsimd::select(a >= b, one, zero);
    else if constexpr (Mode == 3) return xsimd::select(a < b, one, zero);
    else if constexpr (Mode == 4) return xsimd::select(a <= b, one, zero);
    // No batch operator!= or batch_bool operator^ here: see kernels/simd/math.hpp.
    else if constexpr (Mode == 5) return xsimd::select(a == b, zero, one);
    else if constexpr (Mode == 6) return xsimd::select(a == zero, zero, xsimd::select(b == zero, zero, one));
    else if constexpr (Mode == 7) return xsimd::select(a == zero, one, zero);
    else return xsimd::select(a == zero, xsimd::select(b == zero, zero, one), xsimd::select(b == zero, one, zero));
  }
};

template <class Body>
void with_compare_mode(const compare_mode& m, Body&& body) {
  const auto& opts = compare_mode::options;
  int i = 0;
  while (i < static_cast<int>(opts.size()) && opts[static_cast<std::size_t>(i)] != m.value) ++i;
  switch (i) {
    case 0: return body(compare_fn<0>{});
    case 1: return body(compare_fn<1>{});
    case 2: return body(compare_fn<2>{});
    case 3: return body(compare_fn<3>{});
    case 4: return body(compare_fn<4>{});
    case 5: return body(compare_fn<5>{});
    case 6: return body(compare_fn<6>{});
    case 7: return body(compare_fn<7>{});
    case 8: return body(compare_fn<8>{});
    default: throw error("attribute 'mode': \"" + m.value + "\" is not a compare mode");
  }
}

/// Compare operands are never converted by the result type: a f32 compare may produce bool.
inline bool operands_are_integers(std::span<const tensor* const> ins) {
  for (const tensor* t : ins)
    if (is_floating(t->elem())) return false;
  return true;
}

/// Rounds v (finite) to an integer value with one of TPU-MLIR's round modes.
inline double round_with_mode(double v, std::string_view mode) {
  if (!std::isfinite(v)) return v;
  const double fl = std::floor(v), frac = v - fl;
  const bool half = frac == 0.5;
  const bool fl_even = std::fmod(fl, 2.0) == 0.0;
  if (mode == "HalfAwayFromZero") return std::round(v);
  if (mode == "HalfUp") return half ? fl + 1 : std::round(v);
  if (mode == "HalfDown") return half ? fl : std::round(v);
  if (mode == "HalfToEven") return half ? (fl_even ? fl : fl + 1) : std::round(v);
  if (mode == "HalfToOdd") return half ? (fl_even ? fl + 1 : fl) : std::round(v);
  if (mode == "HalfTowardsZero") return half ? (v > 0 ? fl : fl + 1) : std::round(v);
  if (mode == "TowardsZero") return std::trunc(v);
  if (mode == "Up") return std::ceil(v);
  return std::floor(v);  // Down
}

/// Copies `src` into a new tensor of type `to`: floats rounded with `mode` when the target is
/// an integer, saturating; bool targets test != 0 (NaN is true).
inline tensor convert(const tensor& src, dtype to, std::string_view mode) {
  if (src.elem() == to) return src.clone();
  const bool round = is_floating(src.elem()) && is_integer(to);
  tensor out = tensor::empty(to, src.shape());
  visit_dtype(src.elem(), [&](auto st) {
    using S = typename decltype(st)::type;
    const S* s = src.data<S>();
    visit_dtype(to, [&](auto dt) {
      using D = typename decltype(dt)::type;
      D* d = out.data<D>();
      for (std::int64_t i = 0; i < src.numel(); ++i) {
        const double v = to_double(s[i]);
        d[i] = from_double<D>(round ? round_with_mode(v, mode) : v);
      }
    });
  });
  return out;
}

/// Calls body(tag) with an unsigned type of the dtype's size: selects move bytes, not values.
template <class Body>
void visit_bytes(dtype d, Body&& body) {
  switch (size_of(d)) {
    case 1: return body(dtype_tag<std::uint8_t>{});
    case 2: return body(dtype_tag<std::uint16_t>{});
    case 4: return body(dtype_tag<std::uint32_t>{});
    default: return body(dtype_tag<std::uint64_t>{});
  }
}

/// out = cond ? t : f with numpy broadcasting; `t` and `f` already hold the result dtype.
inline void select_into(kernel_context& k, const tensor& cond, const tensor& t, const tensor& f, bool fast,
                        std::string_view op) {
  const tensor c = cond.elem() == dtype::boolean ? cond : cond.cast(dtype::boolean);
  const shape_t shape = broadcast_shapes(broadcast_shapes(c.shape(), t.shape()), f.shape());
  const tensor_type& want = k.out_type();
  if (numel(shape) != want.numel())
    throw error(std::string(op) + ": the operands broadcast to " + to_string(shape) + " but the result type is " +
                to_string(want.shape));
  tensor out = k.out().reshaped(shape);
  visit_bytes(want.elem, [&](auto tag) {
    using U = typename decltype(tag)::type;
    const bool* cp = c.data<bool>();
    const U* tp = reinterpret_cast<const U*>(t.raw());
    const U* fp = reinterpret_cast<const U*>(f.raw());
    U* op_ = reinterpret_cast<U*>(out.raw());
    if (fast) {
      simd::map_ternary(cp, c.shape(), tp, t.shape(), fp, f.shape(), op_, shape, k.threads(),
                        [](bool cv, U a, U b) { return cv ? a : b; });
      return;
    }
    const shape_t sc = broadcast_strides(c.shape(), shape), st = broadcast_strides(t.shape(), shape),
                  sf = broadcast_strides(f.shape(), shape);
    for (std::int64_t i = 0; i < numel(shape); ++i) {
      std::int64_t rem = i, oc = 0, ot = 0, of = 0;
      for (std::size_t d = shape.size(); d-- > 0;) {
        const std::int64_t idx = rem % shape[d];
        rem /= shape[d];
        oc += idx * sc[d], ot += idx * st[d], of += idx * sf[d];
      }
      op_[i] = cp[oc] ? tp[ot] : fp[of];
    }
  });
}

/// A scalar tensor of type `d` holding v.
inline tensor scalar_of(dtype d, double v) {
  tensor t = tensor::empty(d, {});
  visit_dtype(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    t.data<T>()[0] = from_double<T>(v);
  });
  return t;
}

}  // namespace detail

/// `top.Compare`: lhs <mode> rhs as 1/0, with numpy broadcasting.
struct compare_op {
  static constexpr std::string_view mnemonic = "top.Compare";
  static constexpr std::array operands{top::input("lhs"), top::input("rhs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok;
  struct attributes {
    required<detail::compare_mode> mode;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    return {tensor_type{c.operand(0).elem, broadcast_shapes(c.operand(0).shape, c.operand(1).shape)}};
  }
  static void run(kernel_context& k, const attributes& a, bool fast) {
    const std::vector<const tensor*> ins{&k.in(0), &k.in(1)};
    detail::fold_options o;
    o.force_float = !detail::operands_are_integers(ins);
    // Compare in the operands' domain whatever the result type, then store 1/0 converted.
    kernel_context inner = k;
    const tensor_type domain_type{o.force_float ? dtype::f32 : dtype::i64, k.out_type().shape};
    tensor result;
    inner.output_types = std::span<const tensor_type>(&domain_type, 1);
    inner.outputs = std::span<tensor>(&result, 1);
    detail::with_compare_mode(*a.mode, [&](auto fn) { detail::binary_fold(inner, fn, o, fast, mnemonic, ins); });
    k.outputs[0] = result.elem() == k.out_type().elem ? result : result.cast(k.out_type().elem);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, false); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, true); }
};

/// `top.CompareConst`: x <mode> const_val (const_val <mode> x when inversed) as 1/0.
struct compare_const_op {
  static constexpr std::string_view mnemonic = "top.CompareConst";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    required<detail::compare_mode> mode;
    required<double> const_val;
    required<bool> inversed;
    bool is_scalar = false;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::infer_same(c); }
  static void run(kernel_context& k, const attributes& a, bool fast) {
    const tensor& x = k.in(0);
    const bool integral = detail::is_integral_value(a.const_val) && !is_floating(x.elem());
    const tensor c = detail::scalar_of(integral ? dtype::i64 : dtype::f32, a.const_val);
    std::vector<const tensor*> ins{&x, &c};
    detail::fold_options o;
    o.reverse = *a.inversed;
    o.force_float = !integral;
    kernel_context inner = k;
    const tensor_type domain_type{integral ? dtype::i64 : dtype::f32, k.out_type().shape};
    tensor result;
    inner.output_types = std::span<const tensor_type>(&domain_type, 1);
    inner.outputs = std::span<tensor>(&result, 1);
    detail::with_compare_mode(*a.mode, [&](auto fn) { detail::binary_fold(inner, fn, o, fast, mnemonic, ins); });
    k.outputs[0] = result.elem() == k.out_type().elem ? result : result.cast(k.out_type().elem);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, false); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, true); }
};

/// `top.LogicalAnd`: 1 where every input is nonzero, else 0.
struct logical_and_op {
  static constexpr std::string_view mnemonic = "top.LogicalAnd";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok | trait::commutative;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    shape_t s = c.operand(0).shape;
    for (std::size_t i = 1; i < c.operands.size(); ++i) s = broadcast_shapes(s, c.operand(i).shape);
    return {tensor_type{c.operand(0).elem, s}};
  }
  /// Not hot, so one plain loop serves both paths: each output element is 1 when every
  /// input's broadcast element is nonzero (NaN counts as nonzero), stored in the result type.
  static void run(kernel_context& k, bool) {
    const shape_t& out_shape = k.out_type().shape;
    std::vector<shape_t> strides;
    for (std::size_t i = 0; i < k.num_inputs(); ++i) strides.push_back(broadcast_strides(k.in(i).shape(), out_shape));
    tensor& y = k.out();
    const std::int64_t n = numel(out_shape);
    visit_dtype(y.elem(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* yp = y.data<T>();
      for (std::int64_t e = 0; e < n; ++e) {
        bool all = true;
        for (std::size_t i = 0; i < k.num_inputs() && all; ++i) {
          std::int64_t rem = e, off = 0;
          for (std::size_t d = out_shape.size(); d-- > 0;) {
            off += (rem % out_shape[d]) * strides[i][d];
            rem /= out_shape[d];
          }
          all = element_as_double(k.in(i), off) != 0.0;
        }
        yp[e] = from_double<T>(all ? 1.0 : 0.0);
      }
    });
  }
  static void reference(kernel_context& k, const attributes&) { run(k, false); }
  static void compute(kernel_context& k, const attributes&) { run(k, true); }
};

/// `top.Where`: cond ? tbrn : fbrn with numpy broadcasting, on any dtype. A branch given as a
/// constant (x_is_const / y_is_const, or an absent operand) takes x_const_val / y_const_val.
/// (TPU-MLIR's own kernel reads x_const_val for a constant false branch; mixq uses y_const_val.)
struct where_op {
  static constexpr std::string_view mnemonic = "top.Where";
  static constexpr std::array operands{top::input("cond"), top::optional_input("tbrn"), top::optional_input("fbrn")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok;
  struct attributes {
    bool x_is_const = false;
    bool y_is_const = false;
    double x_const_val = 0.0;
    double y_const_val = 0.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const bool t = c.has(1) && !a.x_is_const, f = c.has(2) && !a.y_is_const;
    shape_t s = c.operand(0).shape;
    if (t) s = broadcast_shapes(s, c.operand(1).shape);
    if (f) s = broadcast_shapes(s, c.operand(2).shape);
    const dtype elem = t ? c.operand(1).elem : f ? c.operand(2).elem : dtype::f32;
    return {tensor_type{elem, s}};
  }
  static tensor branch(const kernel_context& k, std::size_t i, bool is_const, double v) {
    const dtype d = k.out_type().elem;
    const tensor* t = k.optional_in(i);
    if (is_const || !t) return detail::scalar_of(d, v);
    return t->elem() == d ? *t : t->cast(d);
  }
  static void run(kernel_context& k, const attributes& a, bool fast) {
    const tensor t = branch(k, 1, a.x_is_const, a.x_const_val), f = branch(k, 2, a.y_is_const, a.y_const_val);
    detail::select_into(k, k.in(0), t, f, fast, mnemonic);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, false); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, true); }
};

/// `top.MaskedFill`: cond ? brn : const_val, or cond ? const_val : brn when inversed
/// (TPU-MLIR's convention: torch's masked_fill maps to inversed = true).
struct masked_fill_op {
  static constexpr std::string_view mnemonic = "top.MaskedFill";
  static constexpr std::array operands{top::input("cond"), top::input("brn")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok;
  struct attributes {
    required<bool> inversed;
    required<double> const_val;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    return {tensor_type{c.operand(1).elem, broadcast_shapes(c.operand(0).shape, c.operand(1).shape)}};
  }
  static void run(kernel_context& k, const attributes& a, bool fast) {
    const dtype d = k.out_type().elem;
    const tensor brn = k.in(1).elem() == d ? k.in(1) : k.in(1).cast(d);
    const tensor c = detail::scalar_of(d, a.const_val);
    if (*a.inversed) detail::select_into(k, k.in(0), c, brn, fast, mnemonic);
    else detail::select_into(k, k.in(0), brn, c, fast, mnemonic);
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, false); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, true); }
};

/// `top.Cast`: converts to the result type's element type. Floats going to an integer type
/// are rounded with round_mode (as the chips do) and saturate; bool results test != 0.
struct cast_op {
  static constexpr std::string_view mnemonic = "top.Cast";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    detail::ew_round_mode round_mode;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    tensor_type t = c.operand(0);
    t.quant.clear();
    if (const tensor_type* d = c.declared(0)) t.elem = d->elem;
    return {t};
  }
  static void reference(kernel_context& k, const attributes& a) {
    k.outputs[0] = detail::convert(k.in(0), k.out_type().elem, a.round_mode.value).reshaped(k.out_type().shape);
  }
};

/// `top.DtypeCast`: plain element type conversion (f32 <-> f16 in TPU-MLIR's use).
struct dtype_cast_op {
  static constexpr std::string_view mnemonic = "top.DtypeCast";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    tensor_type t = c.operand(0);
    t.quant.clear();
    if (const tensor_type* d = c.declared(0)) t.elem = d->elem;
    else t.elem = t.elem == dtype::f32 ? dtype::f16 : dtype::f32;
    return {t};
  }
  static void reference(kernel_context& k, const attributes&) {
    k.outputs[0] = detail::convert(k.in(0), k.out_type().elem, "TowardsZero").reshaped(k.out_type().shape);
  }
};

using compare_ops = op_list<compare_op, compare_const_op, logical_and_op, where_op, masked_fill_op, cast_op, dtype_cast_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::compare_op::attributes, mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::compare_const_op::attributes, mode, const_val, inversed, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::logical_and_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::where_op::attributes, x_is_const, y_is_const, x_const_val, y_const_val);
BOOST_HANA_ADAPT_STRUCT(mixq::top::masked_fill_op::attributes, inversed, const_val);
BOOST_HANA_ADAPT_STRUCT(mixq::top::cast_op::attributes, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::dtype_cast_op::attributes);
