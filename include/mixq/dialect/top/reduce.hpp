#pragma once
// Reductions and their relatives: Reduce, Softmax, Arg, TopK, CumSum.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"
#include "mixq/kernels/simd/reduce.hpp"
#include "mixq/kernels/simd/softmax.hpp"

namespace mixq::top {

namespace detail {

/// RoundModeAttr of TopOps.td (quantized lowerings only); also declared, identically, in pool.hpp.
using nn_round_mode = one_of<"HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero",
                             "TowardsZero", "Up", "Down">;

/// [outer, len, inner] around one axis.
struct axis_view {
  std::int64_t outer = 1, len = 1, inner = 1;
};
inline axis_view split_at_axis(const shape_t& s, std::int64_t axis) {
  axis_view v;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto ii = static_cast<std::int64_t>(i);
    (ii < axis ? v.outer : ii == axis ? v.len : v.inner) *= s[i];
  }
  return v;
}

/// Writes doubles into a result of any element type (index results may be f32 or i64).
inline void store_as(tensor& t, const std::vector<double>& v) {
  visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = reinterpret_cast<T*>(t.raw());
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = from_double<T>(v[i]);
  });
}

/// Shape after removing (or setting to 1) the reduced axes; an empty result becomes [1].
inline shape_t reduced_shape(const shape_t& s, const std::vector<char>& reduced, bool keepdims) {
  shape_t out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!reduced[i]) out.push_back(s[i]);
    else if (keepdims) out.push_back(1);
  }
  if (out.empty()) out.push_back(1);
  return out;
}

}  // namespace detail

/// `top.Reduce`: ReduceMin/Max/Mean/L2/L1/Sum/Prod over `axes`.
struct reduce_op {
  static constexpr std::string_view mnemonic = "top.Reduce";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::reduction | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> axes;
    required<bool> keepdims;
    required<one_of<"ReduceMin", "ReduceMax", "ReduceMean", "ReduceL2", "ReduceL1", "ReduceSum", "ReduceProd">> mode;
    bool is_scalar = false;
  };
  static std::vector<char> reduced_axes(const shape_t& s, const attributes& a) {
    std::vector<char> r(s.size(), 0);
    if (a.axes->empty()) throw error("top.Reduce: axes is empty");
    for (auto ax : *a.axes) {
      const auto n = normalize_axis(ax, s.size());
      if (r[static_cast<std::size_t>(n)]) throw error("top.Reduce: axis " + std::to_string(ax) + " is listed twice");
      r[static_cast<std::size_t>(n)] = 1;
    }
    return r;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const shape_t& s = c.operand(0).shape;
    return {tensor_type{c.operand(0).elem, detail::reduced_shape(s, reduced_axes(s, a), *a.keepdims)}};
  }
  static double finish(std::string_view mode, double acc, std::int64_t count) {
    if (mode == "ReduceMean") return acc / static_cast<double>(count);
    if (mode == "ReduceL2") return std::sqrt(acc);
    return acc;
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const shape_t& s = x.shape();
    const auto red = reduced_axes(s, a);
    const std::string& mode = a.mode->value;
    // Output index = the kept coordinates; walk every input element once.
    shape_t kept;
    for (std::size_t i = 0; i < s.size(); ++i) kept.push_back(red[i] ? 1 : s[i]);
    const shape_t kst = strides_of(kept);
    const std::int64_t n_out = numel(kept);
    std::int64_t count = 1;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (red[i]) count *= s[i];
    double init = 0;
    if (mode == "ReduceMin") init = std::numeric_limits<double>::infinity();
    if (mode == "ReduceMax") init = -std::numeric_limits<double>::infinity();
    if (mode == "ReduceProd") init = 1;
    std::vector<double> acc(static_cast<std::size_t>(n_out), init);
    const float* xp = x.data<float>();
    std::vector<std::int64_t> idx(s.size(), 0);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      std::int64_t o = 0;
      for (std::size_t d = 0; d < s.size(); ++d)
        if (!red[d]) o += idx[d] * kst[d];
      double& r = acc[static_cast<std::size_t>(o)];
      const double v = xp[i];
      if (mode == "ReduceMin") r = std::min(r, v);
      else if (mode == "ReduceMax") r = std::max(r, v);
      else if (mode == "ReduceL2") r += v * v;
      else if (mode == "ReduceL1") r += std::abs(v);
      else if (mode == "ReduceProd") r *= v;
      else r += v;
      for (std::size_t d = s.size(); d-- > 0;) {
        if (++idx[d] < s[d]) break;
        idx[d] = 0;
      }
    }
    float* yp = k.out().data<float>();
    for (std::int64_t o = 0; o < n_out; ++o) yp[o] = static_cast<float>(finish(mode, acc[static_cast<std::size_t>(o)], count));
  }
  /// Reduced axes forming one contiguous block become [outer, len, inner], vectorized along inner
  /// (or along the row when the block is trailing); other layouts use the reference.
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const shape_t& s = x.shape();
    const auto red = reduced_axes(s, a);
    std::size_t first = s.size(), last = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (red[i]) first = std::min(first, i), last = i;
    for (std::size_t i = first; i <= last; ++i)
      if (!red[i]) return reference(k, a);
    if (x.numel() == 0) return reference(k, a);
    std::int64_t outer = 1, len = 1, inner = 1;
    for (std::size_t i = 0; i < s.size(); ++i) (i < first ? outer : i <= last ? len : inner) *= s[i];
    const std::string& mode = a.mode->value;
    simd::reduce_kind kind = simd::reduce_kind::sum;
    if (mode == "ReduceMin") kind = simd::reduce_kind::min;
    else if (mode == "ReduceMax") kind = simd::reduce_kind::max;
    else if (mode == "ReduceL2") kind = simd::reduce_kind::sum_sq;
    else if (mode == "ReduceL1") kind = simd::reduce_kind::sum_abs;
    else if (mode == "ReduceProd") kind = simd::reduce_kind::prod;
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    k.threads().parallel_for(outer, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, len * inner)),
                             [&](std::int64_t lo, std::int64_t hi) {
                               for (std::int64_t o = lo; o < hi; ++o) {
                                 float* y = yp + o * inner;
                                 simd::reduce_middle(xp + o * len * inner, y, len, inner, kind);
                                 for (std::int64_t j = 0; j < inner; ++j)
                                   y[j] = static_cast<float>(finish(mode, y[j], len));
                               }
                             });
  }
};

/// `top.Softmax`: softmax(beta * x) along axis, or its log; the maximum is subtracted first.
struct softmax_op {
  static constexpr std::string_view mnemonic = "top.Softmax";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  struct attributes {
    required<si32> axis;
    bool log = false;
    double beta = 1.0;
    detail::nn_round_mode round_mode;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    normalize_axis(a.axis->value, c.operand(0).shape.size());
    tensor_type t = c.operand(0);
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::split_at_axis(x.shape(), normalize_axis(a.axis->value, x.rank()));
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    std::vector<double> z(static_cast<std::size_t>(v.len));
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t base = o * v.len * v.inner + i;
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < v.len; ++j) {
          z[static_cast<std::size_t>(j)] = a.beta * xp[base + j * v.inner];
          m = std::max(m, z[static_cast<std::size_t>(j)]);
        }
        double sum = 0;
        for (std::int64_t j = 0; j < v.len; ++j) sum += std::exp(z[static_cast<std::size_t>(j)] - m);
        for (std::int64_t j = 0; j < v.len; ++j) {
          const double zj = z[static_cast<std::size_t>(j)] - m;
          yp[base + j * v.inner] = static_cast<float>(a.log ? zj - std::log(sum) : std::exp(zj) / sum);
        }
      }
  }
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::split_at_axis(x.shape(), normalize_axis(a.axis->value, x.rank()));
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    const auto beta = static_cast<float>(a.beta);
    const std::int64_t slice = v.len * v.inner;
    k.threads().parallel_for(v.outer, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, slice)),
                             [&](std::int64_t lo, std::int64_t hi) {
                               for (std::int64_t o = lo; o < hi; ++o) {
                                 if (v.inner == 1) simd::softmax_row(xp + o * slice, yp + o * slice, v.len, beta, a.log);
                                 else simd::softmax_middle(xp + o * slice, yp + o * slice, v.len, v.inner, beta, a.log);
                               }
                             });
  }
};

/// `top.Arg`: ArgMin/ArgMax along axis. Results (indices, values|none); indices are written in the
/// result's element type (f32 in TPU-MLIR graphs, i64 also works). Ties go to the last index when
/// select_last_index (the TopOps.td default), else to the first.
struct arg_op {
  static constexpr std::string_view mnemonic = "top.Arg";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 2;
  static constexpr std::uint32_t traits = trait::reduction;
  struct attributes {
    required<std::int64_t> axis;
    required<bool> keepdims;
    required<one_of<"ArgMin", "ArgMax">> mode;
    bool select_last_index = true;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const shape_t& s = c.operand(0).shape;
    std::vector<char> red(s.size(), 0);
    red[static_cast<std::size_t>(normalize_axis(*a.axis, s.size()))] = 1;
    const shape_t out = detail::reduced_shape(s, red, *a.keepdims);
    return {tensor_type{dtype::f32, out}, tensor_type{c.operand(0).elem, out}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::split_at_axis(x.shape(), normalize_axis(*a.axis, x.rank()));
    const bool is_max = a.mode->value == "ArgMax";
    const float* xp = x.data<float>();
    std::vector<double> idx(static_cast<std::size_t>(v.outer * v.inner)), val(idx.size());
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        std::int64_t best = 0;
        float bv = xp[o * v.len * v.inner + i];
        for (std::int64_t j = 1; j < v.len; ++j) {
          const float e = xp[(o * v.len + j) * v.inner + i];
          const bool better = is_max ? e > bv : e < bv;
          if (better || (e == bv && a.select_last_index)) best = j, bv = e;
        }
        idx[static_cast<std::size_t>(o * v.inner + i)] = static_cast<double>(best);
        val[static_cast<std::size_t>(o * v.inner + i)] = bv;
      }
    detail::store_as(k.out(0), idx);
    if (!k.out_type(1).is_none) detail::store_as(k.out(1), val);
  }
};

/// `top.TopK`: the K largest (or smallest) values along axis, sorted, with their indices;
/// equal values keep their input order. K comes from the constant kT operand when present.
struct topk_op {
  static constexpr std::string_view mnemonic = "top.TopK";
  static constexpr std::array operands{top::input("input"), top::optional_input("kT")};
  static constexpr int num_results = 2;
  static constexpr std::uint32_t traits = trait::none;
  struct attributes {
    required<std::int64_t> axis;
    std::int64_t K = -1;
    bool largest = true;
    bool sorted = true;
    bool replace_topk_indices = false;
  };
  static std::int64_t resolve_k(const attributes& a, const tensor* kt, std::int64_t len) {
    std::int64_t kk = a.K;
    if (kt && kt->defined() && kt->numel() >= 1) kk = static_cast<std::int64_t>(element_as_double(*kt, 0));
    if (kk < 0 || kk > len)
      throw error("top.TopK: K = " + std::to_string(kk) + " is outside [0, " + std::to_string(len) + "]");
    return kk;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    shape_t s = c.operand(0).shape;
    const auto ax = static_cast<std::size_t>(normalize_axis(*a.axis, s.size()));
    if (c.has(1) && !c.constant(1)) throw error("top.TopK: kT is not a constant, so the result shape is unknown");
    s[ax] = resolve_k(a, c.constant(1), s[ax]);
    return {tensor_type{c.operand(0).elem, s}, tensor_type{dtype::f32, s}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::split_at_axis(x.shape(), normalize_axis(*a.axis, x.rank()));
    const std::int64_t kk = resolve_k(a, k.optional_in(1), v.len);
    const float* xp = x.data<float>();
    std::vector<double> vals(static_cast<std::size_t>(v.outer * kk * v.inner)), idxs(vals.size());
    std::vector<std::int64_t> order(static_cast<std::size_t>(v.len));
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        auto at = [&](std::int64_t j) { return xp[(o * v.len + j) * v.inner + i]; };
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t p, std::int64_t q) {
          return a.largest ? at(p) > at(q) : at(p) < at(q);
        });
        for (std::int64_t j = 0; j < kk; ++j) {
          const auto dst = static_cast<std::size_t>((o * kk + j) * v.inner + i);
          vals[dst] = at(order[static_cast<std::size_t>(j)]);
          idxs[dst] = static_cast<double>(order[static_cast<std::size_t>(j)]);
        }
      }
    if (!k.out_type(0).is_none) detail::store_as(k.out(0), vals);
    if (!k.out_type(1).is_none) detail::store_as(k.out(1), idxs);
  }
};

/// `top.CumSum`: inclusive running sum along axis (the `dim` operand, when present, is the same axis).
struct cumsum_op {
  static constexpr std::string_view mnemonic = "top.CumSum";
  static constexpr std::array operands{top::input("input"), top::optional_input("dim")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::none;
  struct attributes {
    required<std::int64_t> axis;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    normalize_axis(*a.axis, c.operand(0).shape.size());
    tensor_type t = c.operand(0);
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const auto v = detail::split_at_axis(x.shape(), normalize_axis(*a.axis, x.rank()));
    const float* xp = x.data<float>();
    float* yp = k.out().data<float>();
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        double s = 0;
        for (std::int64_t j = 0; j < v.len; ++j) {
          const std::int64_t at = (o * v.len + j) * v.inner + i;
          s += xp[at];
          yp[at] = static_cast<float>(s);
        }
      }
  }
};

using reduce_ops = op_list<reduce_op, softmax_op, arg_op, topk_op, cumsum_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::reduce_op::attributes, axes, keepdims, mode, is_scalar);
BOOST_HANA_ADAPT_STRUCT(mixq::top::softmax_op::attributes, axis, log, beta, round_mode);
BOOST_HANA_ADAPT_STRUCT(mixq::top::arg_op::attributes, axis, keepdims, mode, select_last_index);
BOOST_HANA_ADAPT_STRUCT(mixq::top::topk_op::attributes, axis, K, largest, sorted, replace_topk_indices);
BOOST_HANA_ADAPT_STRUCT(mixq::top::cumsum_op::attributes, axis);
