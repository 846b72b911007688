#pragma once
// Element-wise arithmetic: binary ops with numpy broadcasting (Add, Sub, Mul, Div, Max, Min,
// Mod, Remainder, Pow3), their constant-operand forms (AddConst...), Pow and Pow2.
//
// Arithmetic domain. Float results are computed in f32, whatever the float storage type.
// Integer and bool tensors (token ids, shape arithmetic, masks) are computed in int64 when no
// operand is a float and the result type is not a float either; values are converted to the
// result's element type on store (kernel_context::out_type), saturating when out of range.
// Integer arithmetic wraps on overflow; integer division and modulo by zero give 0, and
// integer division truncates toward zero (as C++ and ONNX runtimes do).
//
// Result dtype (infer): the first float operand's type when any operand is a float, else the
// first operand's type. A graph's declared result type always wins at run time.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/elementwise.hpp"
#include "mixq/kernels/simd/math.hpp"

namespace mixq::top {

namespace detail {

using simd::fbatch;

/// TPU-MLIR's RoundModeAttr (the first option is the ODS default).
using ew_round_mode = one_of<"HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero",
                             "TowardsZero", "Up", "Down">;

inline float apply_relu(float v, bool do_relu, double limit) {
  if (!do_relu) return v;
  v = v < 0.f ? 0.f : v;
  return limit > 0 && v > limit ? static_cast<float>(limit) : v;
}

/// The fused `do_relu` / `relu_limit` of arithmetic ops, for every arithmetic type.
struct relu_clamp {
  bool on = false;
  double limit = -1.0;

  float operator()(float v) const { return apply_relu(v, on, limit); }
  fbatch operator()(const fbatch& v) const {
    if (!on) return v;
    fbatch r = xsimd::select(v < fbatch(0.f), fbatch(0.f), v);
    return limit > 0 ? xsimd::select(r > fbatch(static_cast<float>(limit)), fbatch(static_cast<float>(limit)), r) : r;
  }
  std::int64_t operator()(std::int64_t v) const {
    if (!on) return v;
    v = std::max<std::int64_t>(v, 0);
    return limit > 0 && static_cast<double>(v) > limit ? static_cast<std::int64_t>(limit) : v;
  }
};

// Wrapping int64 arithmetic: signed overflow is undefined behaviour, unsigned is not.
inline std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline std::int64_t wrap_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
inline std::int64_t wrap_mul(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
}
inline std::int64_t int_div(std::int64_t a, std::int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return wrap_sub(0, a);
  return a / b;
}
inline std::int64_t int_mod(std::int64_t a, std::int64_t b) { return b == 0 || b == -1 ? 0 : a % b; }

inline bool is_integral_value(double v) { return std::isfinite(v) && v == std::trunc(v) && std::abs(v) < 9.2e18; }

/// True when `F` has an exact int64 overload (not a float overload reached by conversion).
template <class F>
inline constexpr bool has_int_unary = std::is_same_v<std::invoke_result_t<const F&, std::int64_t>, std::int64_t>;
template <class F>
inline constexpr bool has_int_binary =
    std::is_same_v<std::invoke_result_t<const F&, std::int64_t, std::int64_t>, std::int64_t>;

/// f32 if any operand is a float, or the result is; else int64.
inline dtype arithmetic_domain(std::span<const tensor* const> ins, dtype out) {
  for (const tensor* t : ins)
    if (is_floating(t->elem())) return dtype::f32;
  return is_floating(out) ? dtype::f32 : dtype::i64;
}

inline tensor in_domain(const tensor& t, dtype d) { return t.elem() == d ? t : t.cast(d); }

/// Where a kernel writes its result in the arithmetic domain: straight into output 0 when
/// the result type is the domain type, else a scratch tensor converted by `finish`.
class result_slot {
 public:
  result_slot(kernel_context& k, dtype domain, const shape_t& shape, std::string_view op) : k_(k) {
    const tensor_type& want = k.out_type();
    if (numel(shape) != want.numel())
      throw error(std::string(op) + ": the operands broadcast to " + to_string(shape) + " but the result type is " +
                  to_string(want.shape));
    buf_ = want.elem == domain ? k.out().reshaped(shape) : tensor::empty(domain, shape);
  }
  tensor& get() noexcept { return buf_; }
  void finish() {
    const tensor_type& want = k_.out_type();
    if (buf_.elem() != want.elem) k_.outputs[0] = buf_.cast(want.elem).reshaped(want.shape);
  }

 private:
  kernel_context& k_;
  tensor buf_;
};

/// Scalar reference of a broadcast binary map: every output element unravelled on its own.
template <class T, class F>
void reference_binary(const T* a, const shape_t& as, const T* b, const shape_t& bs, T* out, const shape_t& os, const F& f) {
  const shape_t sa = broadcast_strides(as, os), sb = broadcast_strides(bs, os);
  const std::int64_t n = numel(os);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t rem = i, oa = 0, ob = 0;
    for (std::size_t d = os.size(); d-- > 0;) {
      const std::int64_t idx = rem % os[d];
      rem /= os[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
    }
    out[i] = f(a[oa], b[ob]);
  }
}

/// Calls body(tag) with the C++ type of the arithmetic domain (float or int64).
template <class Body>
void visit_domain(dtype d, Body&& body) {
  if (d == dtype::f32) body(dtype_tag<float>{});
  else body(dtype_tag<std::int64_t>{});
}

struct fold_options {
  std::span<const double> coeff{};  // per-operand factors (empty: all 1)
  bool reverse = false;             // two operands: swap them first
  relu_clamp relu{};
  bool force_float = false;         // e.g. non-integral coefficients
};

/// out = f(...f(f(x0, x1), x2)..., xn) with numpy broadcasting; `fast` selects the vectorized,
/// multithreaded driver, otherwise the scalar reference loop runs.
template <class F>
void binary_fold(kernel_context& k, const F& f, const fold_options& o, bool fast, std::string_view op,
                 std::vector<const tensor*> ins = {}) {
  if (ins.empty())
    for (std::size_t i = 0; i < k.num_inputs(); ++i) ins.push_back(&k.in(i));
  if (ins.empty()) throw error(std::string(op) + " needs at least one operand");
  std::vector<double> coeff(o.coeff.begin(), o.coeff.end());
  coeff.resize(ins.size(), 1.0);
  if (o.reverse && ins.size() >= 2) std::swap(ins[0], ins[1]), std::swap(coeff[0], coeff[1]);
  dtype domain = arithmetic_domain(ins, k.out_type().elem);
  if (!has_int_binary<F> || o.force_float || !std::all_of(coeff.begin(), coeff.end(), is_integral_value))
    domain = dtype::f32;
  shape_t shape = ins[0]->shape();
  for (std::size_t i = 1; i < ins.size(); ++i) shape = broadcast_shapes(shape, ins[i]->shape());
  result_slot r(k, domain, shape, op);
  thread_pool& pool = k.threads();
  visit_domain(domain, [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<tensor> xs;
    for (std::size_t i = 0; i < ins.size(); ++i) {
      tensor x = in_domain(*ins[i], domain);
      if (coeff[i] != 1.0) {
        tensor scaled = tensor::empty(domain, x.shape());
        const T c = static_cast<T>(coeff[i]);
        const T* xp = x.data<T>();
        T* sp = scaled.data<T>();
        if constexpr (std::is_same_v<T, float>) {
          if (fast) simd::map_unary(xp, sp, x.numel(), pool, [c](const auto& v) { return v * c; });
          else for (std::int64_t j = 0; j < x.numel(); ++j) sp[j] = xp[j] * c;
        } else {
          for (std::int64_t j = 0; j < x.numel(); ++j) sp[j] = wrap_mul(xp[j], c);
        }
        x = scaled;
      }
      xs.push_back(std::move(x));
    }
    T* out = r.get().template data<T>();
    const auto step = [&](const T* a, const shape_t& as, const T* b, const shape_t& bs, const auto& fn) {
      if (fast) simd::map_binary(a, as, b, bs, out, shape, pool, fn);
      else reference_binary(a, as, b, bs, out, shape, fn);
    };
    if (xs.size() == 1) {
      step(xs[0].template data<T>(), xs[0].shape(), xs[0].template data<T>(), xs[0].shape(),
           [](const auto& a, const auto&) { return a; });
    } else {
      step(xs[0].template data<T>(), xs[0].shape(), xs[1].template data<T>(), xs[1].shape(), f);
      for (std::size_t i = 2; i < xs.size(); ++i) step(out, shape, xs[i].template data<T>(), xs[i].shape(), f);
    }
    if (o.relu.on) {
      if (fast) simd::map_unary(out, out, numel(shape), pool, o.relu);
      else for (std::int64_t j = 0; j < numel(shape); ++j) out[j] = o.relu(out[j]);
    }
  });
  r.finish();
}

/// y = f(x) element-wise. int64 arithmetic when `f` has an int64 overload, `int_ok` allows it,
/// and neither the operand nor the result is a float.
template <class F>
void unary_apply(kernel_context& k, const F& f, bool fast, bool int_ok = true, std::size_t operand = 0) {
  const tensor& x = k.in(operand);
  dtype domain = dtype::f32;
  if constexpr (has_int_unary<F>)
    if (int_ok && !is_floating(x.elem()) && !is_floating(k.out_type().elem)) domain = dtype::i64;
  const tensor xd = in_domain(x, domain);
  result_slot r(k, domain, x.shape(), "element-wise op");
  visit_domain(domain, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = xd.data<T>();
    T* yp = r.get().template data<T>();
    if (fast) simd::map_unary(xp, yp, x.numel(), k.threads(), f);
    else for (std::int64_t i = 0; i < x.numel(); ++i) yp[i] = f(xp[i]);
  });
  r.finish();
}

/// Result type of arithmetic on these operands (see the header comment).
inline tensor_type arithmetic_result_type(const infer_context& c, std::size_t first, std::size_t count) {
  shape_t s = c.operand(first).shape;
  dtype elem = c.operand(first).elem;
  bool have_float = is_floating(elem);
  for (std::size_t i = first + 1; i < first + count; ++i) {
    s = broadcast_shapes(s, c.operand(i).shape);
    if (!have_float && is_floating(c.operand(i).elem)) elem = c.operand(i).elem, have_float = true;
  }
  return tensor_type{elem, s};
}

/// Broadcast shape of every operand.
inline std::vector<tensor_type> infer_broadcast(const infer_context& c) {
  return {arithmetic_result_type(c, 0, c.operands.size())};
}

/// Same type as operand 0, without its quantization annotation.
inline std::vector<tensor_type> infer_same(const infer_context& c) {
  tensor_type t = c.operand(0);
  t.quant.clear();
  return {t};
}

// --- binary functors: float (reference), batch (fast) and, where exact, int64 overloads ---------
struct plus_fn {
  float operator()(float a, float b) const { return a + b; }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return a + b; }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return wrap_add(a, b); }
};
struct minus_fn {
  float operator()(float a, float b) const { return a - b; }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return a - b; }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return wrap_sub(a, b); }
};
struct times_fn {
  float operator()(float a, float b) const { return a * b; }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return a * b; }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return wrap_mul(a, b); }
};
struct divide_fn {
  float operator()(float a, float b) const { return a / b; }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return a / b; }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return int_div(a, b); }
};
struct max_fn {
  float operator()(float a, float b) const { return simd::vmax(a, b); }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return simd::vmax(a, b); }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return std::max(a, b); }
};
struct min_fn {
  float operator()(float a, float b) const { return simd::vmin(a, b); }
  fbatch operator()(const fbatch& a, const fbatch& b) const { return simd::vmin(a, b); }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return std::min(a, b); }
};
/// C's truncated modulo: the result has the dividend's sign.
struct mod_fn {
  float operator()(float a, float b) const { return std::fmod(a, b); }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const { return int_mod(a, b); }
};
/// Python's floored modulo (torch.remainder): the result has the divisor's sign.
struct remainder_fn {
  float operator()(float a, float b) const {
    float r = std::fmod(a, b);
    return r != 0.f && ((r < 0.f) != (b < 0.f)) ? r + b : r;
  }
  std::int64_t operator()(std::int64_t a, std::int64_t b) const {
    const std::int64_t r = int_mod(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
  }
};
struct pow_fn {
  float operator()(float a, float b) const { return std::pow(a, b); }
};

/// The attributes every arithmetic binary op with fused relu shares.
template <class Op>
struct binary_arith_op {
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  template <class A>
  static std::vector<tensor_type> infer(const infer_context& c, const A&) {
    return infer_broadcast(c);
  }
  template <class A>
  static void reference(kernel_context& k, const A& a) {
    binary_fold(k, Op::functor(), Op::options(a), false, Op::mnemonic);
  }
  template <class A>
  static void compute(kernel_context& k, const A& a) {
    binary_fold(k, Op::functor(), Op::options(a), true, Op::mnemonic);
  }
};

/// The unary ops with constant operands, and the activations: y = fn(x).
template <class Op>
struct unary_map_op {
  /// The f32 kernel is exactly functor(attributes) per element through simd::map_unary: the
  /// registry derives a fused fake-quant scoring kernel from that (op_info::score_fake_quantized).
  static constexpr bool pointwise = true;
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  template <class A>
  static std::vector<tensor_type> infer(const infer_context& c, const A&) {
    return infer_same(c);
  }
  template <class A>
  static void reference(kernel_context& k, const A& a) {
    const auto f = Op::functor(a);
    unary_apply(k, f, false, int_allowed(f));
  }
  template <class A>
  static void compute(kernel_context& k, const A& a) {
    const auto f = Op::functor(a);
    unary_apply(k, f, true, int_allowed(f));
  }
  template <class F>
  static bool int_allowed(const F& f) {
    if constexpr (requires { f.int_ok; }) return f.int_ok;
    else return true;
  }
};

/// x op c for the const-operand ops; `int_ok` when the constant is an integer.
template <class Bin>
struct with_const_fn {
  float c;
  std::int64_t ci;
  bool reverse;
  relu_clamp relu;
  bool int_ok;

  float operator()(float x) const { return relu(reverse ? Bin{}(c, x) : Bin{}(x, c)); }
  fbatch operator()(const fbatch& x) const { return relu(reverse ? Bin{}(fbatch(c), x) : Bin{}(x, fbatch(c))); }
  std::int64_t operator()(std::int64_t x) const { return relu(reverse ? Bin{}(ci, x) : Bin{}(x, ci)); }
};
template <class Bin>
with_const_fn<Bin> make_const_fn(double c, bool reverse, bool do_relu, double limit) {
  const bool integral = is_integral_value(c);
  return {static_cast<float>(c), integral ? static_cast<std::int64_t>(c) : 0, reverse, relu_clamp{do_relu, limit},
          integral};
}

}  // namespace detail

/// `top.Add`: out = sum_i coeff_i * in_i (coeff defaults to 1), optional fused relu.
struct add_op : detail::binary_arith_op<add_op> {
  static constexpr std::string_view mnemonic = "top.Add";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable |
                                          trait::commutative | trait::integer_ok;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::vector<double>> coeff;
    bool is_scalar = false;
  };
  static detail::plus_fn functor() { return {}; }
  static detail::fold_options options(const attributes& a) {
    detail::fold_options o;
    if (a.coeff) o.coeff = *a.coeff;
    o.relu = {a.do_relu, a.relu_limit};
    return o;
  }
};

/// `top.Sub`: in0 - in1 (in1 - in0 when is_reverse). TPU-MLIR ignores `coeff` here; mixq
/// applies it like Add does (coeff_i scales input i before the subtraction).
struct sub_op : detail::binary_arith_op<sub_op> {
  static constexpr std::string_view mnemonic = "top.Sub";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable | trait::integer_ok;
  struct attributes {
    bool is_reverse = false;
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::vector<double>> coeff;
    bool is_scalar = false;
  };
  static detail::minus_fn functor() { return {}; }
  static detail::fold_options options(const attributes& a) {
    detail::fold_options o;
    if (a.coeff) o.coeff = *a.coeff;
    o.reverse = a.is_reverse;
    o.relu = {a.do_relu, a.relu_limit};
    return o;
  }
};

/// `top.Mul`: product of the inputs, optional fused relu.
struct mul_op : detail::binary_arith_op<mul_op> {
  static constexpr std::string_view mnemonic = "top.Mul";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable |
                                          trait::commutative | trait::integer_ok;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static detail::times_fn functor() { return {}; }
  static detail::fold_options options(const attributes& a) {
    detail::fold_options o;
    o.relu = {a.do_relu, a.relu_limit};
    return o;
  }
};

/// `top.Div`: in0 / in1 (in1 / in0 when is_reverse).
struct div_op : detail::binary_arith_op<div_op> {
  static constexpr std::string_view mnemonic = "top.Div";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable | trait::integer_ok;
  struct attributes {
    bool is_reverse = false;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static detail::divide_fn functor() { return {}; }
  static detail::fold_options options(const attributes& a) {
    detail::fold_options o;
    o.reverse = a.is_reverse;
    o.relu = {a.do_relu, a.relu_limit};
    return o;
  }
};

/// `top.Max`: element-wise maximum of the inputs (NaN propagates).
struct max_op : detail::binary_arith_op<max_op> {
  static constexpr std::string_view mnemonic = "top.Max";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable |
                                          trait::commutative | trait::integer_ok;
  struct attributes {};
  static detail::max_fn functor() { return {}; }
  static detail::fold_options options(const attributes&) { return {}; }
};

/// `top.Min`: element-wise minimum of the inputs (NaN propagates).
struct min_op : detail::binary_arith_op<min_op> {
  static constexpr std::string_view mnemonic = "top.Min";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable |
                                          trait::commutative | trait::integer_ok;
  struct attributes {};
  static detail::min_fn functor() { return {}; }
  static detail::fold_options options(const attributes&) { return {}; }
};

/// `top.Mod`: x - trunc(x / y) * y (the sign of x), as TPU-MLIR's kernel computes it.
struct mod_op : detail::binary_arith_op<mod_op> {
  static constexpr std::string_view mnemonic = "top.Mod";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok;
  struct attributes {};
  static detail::mod_fn functor() { return {}; }
  static detail::fold_options options(const attributes&) { return {}; }
};

/// `top.Remainder`: x - floor(x / y) * y (the sign of y), torch.remainder.
struct remainder_op : detail::binary_arith_op<remainder_op> {
  static constexpr std::string_view mnemonic = "top.Remainder";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::integer_ok;
  struct attributes {};
  static detail::remainder_fn functor() { return {}; }
  static detail::fold_options options(const attributes&) { return {}; }
};

/// `top.Pow3`: x1 ^ x2, both tensors (always in f32).
struct pow3_op : detail::binary_arith_op<pow3_op> {
  static constexpr std::string_view mnemonic = "top.Pow3";
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast;
  struct attributes {};
  static detail::pow_fn functor() { return {}; }
  static detail::fold_options options(const attributes&) { return {}; }
};

/// `top.AddConst`: x + const_val.
struct add_const_op : detail::unary_map_op<add_const_op> {
  static constexpr std::string_view mnemonic = "top.AddConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) {
    return detail::make_const_fn<detail::plus_fn>(a.const_val, false, a.do_relu, a.relu_limit);
  }
};

/// `top.SubConst`: x - const_val, or const_val - x when is_reverse.
struct sub_const_op : detail::unary_map_op<sub_const_op> {
  static constexpr std::string_view mnemonic = "top.SubConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool is_reverse = false;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) {
    return detail::make_const_fn<detail::minus_fn>(a.const_val, a.is_reverse, a.do_relu, a.relu_limit);
  }
};

/// `top.MulConst`: x * const_val.
struct mul_const_op : detail::unary_map_op<mul_const_op> {
  static constexpr std::string_view mnemonic = "top.MulConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) {
    return detail::make_const_fn<detail::times_fn>(a.const_val, false, a.do_relu, a.relu_limit);
  }
};

/// `top.DivConst`: x / const_val, or const_val / x when is_reverse.
struct div_const_op : detail::unary_map_op<div_const_op> {
  static constexpr std::string_view mnemonic = "top.DivConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool is_reverse = false;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) {
    return detail::make_const_fn<detail::divide_fn>(a.const_val, a.is_reverse, a.do_relu, a.relu_limit);
  }
};

/// `top.MaxConst`: max(x, const_val).
struct max_const_op : detail::unary_map_op<max_const_op> {
  static constexpr std::string_view mnemonic = "top.MaxConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) { return detail::make_const_fn<detail::max_fn>(a.const_val, false, false, -1.0); }
};

/// `top.MinConst`: min(x, const_val).
struct min_const_op : detail::unary_map_op<min_const_op> {
  static constexpr std::string_view mnemonic = "top.MinConst";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable | trait::integer_ok;
  struct attributes {
    required<double> const_val;
    bool is_scalar = false;
  };
  static auto functor(const attributes& a) { return detail::make_const_fn<detail::min_fn>(a.const_val, false, false, -1.0); }
};

/// `top.Pow`: x ^ exponent. Exponents 1, 2, 3, 0.5 and -1 take exact vector forms; others
/// call std::pow per element (xsimd's pow is 19 ulp off).
struct pow_op : detail::unary_map_op<pow_op> {
  static constexpr std::string_view mnemonic = "top.Pow";
  static constexpr std::uint32_t traits = trait::elementwise | trait::quantizable;
  struct attributes {
    required<double> exponent;
  };
  struct general_fn {
    float n;
    float operator()(float x) const { return std::pow(x, n); }
  };
  struct fn {
    float n;
    float operator()(float x) const { return std::pow(x, n); }
    detail::fbatch operator()(const detail::fbatch& x) const {
      if (n == 1.f) return x;
      if (n == 2.f) return x * x;
      if (n == 3.f) return x * x * x;
      if (n == 0.5f) return simd::vsqrt(x);
      if (n == -1.f) return detail::fbatch(1.f) / x;
      alignas(64) float t[simd::width<float>];
      x.store_aligned(t);
      for (float& v : t) v = std::pow(v, n);
      return detail::fbatch::load_aligned(t);
    }
  };
  static fn functor(const attributes& a) { return {static_cast<float>(*a.exponent)}; }
};

/// `top.Pow2`: const_val ^ x. A positive base runs as e^(x ln c) on vectors.
struct pow2_op : detail::unary_map_op<pow2_op> {
  static constexpr std::string_view mnemonic = "top.Pow2";
  static constexpr std::uint32_t traits = trait::elementwise;
  struct attributes {
    required<double> const_val;
  };
  struct fn {
    float c;
    float log_c;
    float operator()(float x) const { return std::pow(c, x); }
    detail::fbatch operator()(const detail::fbatch& x) const {
      if (c > 0.f) return simd::pow_positive_base(log_c, x);
      alignas(64) float t[simd::width<float>];
      x.store_aligned(t);
      for (float& v : t) v = std::pow(c, v);
      return detail::fbatch::load_aligned(t);
    }
  };
  static fn functor(const attributes& a) {
    const auto c = static_cast<float>(*a.const_val);
    return {c, c > 0.f ? std::log(c) : 0.f};
  }
};

using elementwise_ops = op_list<add_op, sub_op, mul_op, div_op, max_op, min_op, mod_op, remainder_op, pow3_op,
                                add_const_op, sub_const_op, mul_const_op, div_const_op, max_const_op, min_const_op,
                                pow_op, pow2_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::add_op::attributes, do_relu, relu_limit, coeff, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sub_op::attributes, is_reverse, do_relu, relu_limit, coeff, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::mul_op::attributes, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::div_op::attributes, is_reverse, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::max_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::min_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::mod_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::remainder_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pow3_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::add_const_op::attributes, const_val, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sub_const_op::attributes, const_val, is_reverse, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::mul_const_op::attributes, const_val, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::div_const_op::attributes, const_val, is_reverse, do_relu, relu_limit, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::max_const_op::attributes, const_val, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::min_const_op::attributes, const_val, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pow_op::attributes, exponent);
BOOST_HANA_ADAPT_STRUCT(mixq::top::pow2_op::attributes, const_val);
