#pragma once
// Attention-style ops: Attention (fused multi-head block), ScaleDotProductAttention, Rope, Einsum.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"

namespace mixq::top {

namespace detail {

/// RoundModeAttr of TopOps.td (quantized lowerings only); also declared, identically, in pool.hpp.
using nn_round_mode = one_of<"HalfAwayFromZero", "HalfUp", "HalfDown", "HalfToEven", "HalfToOdd", "HalfTowardsZero",
                             "TowardsZero", "Up", "Down">;

/// Offsets of every element of `out` into an operand broadcast to it (row-major walk).
inline std::vector<std::int64_t> broadcast_offsets(const shape_t& operand, const shape_t& out) {
  const shape_t st = broadcast_strides(operand, out);
  std::vector<std::int64_t> offs(static_cast<std::size_t>(numel(out)));
  std::vector<std::int64_t> idx(out.size(), 0);
  std::int64_t off = 0;
  for (auto& o : offs) {
    o = off;
    for (std::size_t d = out.size(); d-- > 0;) {
      off += st[d];
      if (++idx[d] < out[d]) break;
      off -= st[d] * out[d];
      idx[d] = 0;
    }
  }
  return offs;
}

/// Softmax of one row of doubles in place; a row with no finite score becomes zeros.
inline void softmax_in_place(std::vector<double>& z) {
  double m = -std::numeric_limits<double>::infinity();
  for (double v : z) m = std::max(m, v);
  if (!std::isfinite(m)) {
    std::fill(z.begin(), z.end(), 0.0);
    return;
  }
  double s = 0;
  for (double& v : z) s += (v = std::exp(v - m));
  for (double& v : z) v /= s;
}

/// y[m][n] = sum_k x[m][k] * w[k][n] + b[n] in double.
inline std::vector<double> linear_rows(const float* x, std::int64_t rows, std::int64_t in, const float* w,
                                       std::int64_t out, const float* b) {
  std::vector<double> y(static_cast<std::size_t>(rows * out));
  for (std::int64_t m = 0; m < rows; ++m)
    for (std::int64_t n = 0; n < out; ++n) {
      double s = b ? b[n] : 0.0;
      for (std::int64_t kk = 0; kk < in; ++kk) s += static_cast<double>(x[m * in + kk]) * w[kk * out + n];
      y[static_cast<std::size_t>(m * out + n)] = s;
    }
  return y;
}

/// [batch, rows, features] view of a rank-2 or rank-3 activation.
inline std::array<std::int64_t, 3> bmn(std::string_view op, std::string_view what, const shape_t& s) {
  if (s.size() == 3) return {s[0], s[1], s[2]};
  if (s.size() == 2) return {1, s[0], s[1]};
  throw error(std::string(op) + ": " + std::string(what) + " " + to_string(s) + " must have 2 or 3 axes");
}

}  // namespace detail

/// `top.Attention`: Q = input*Wq+bq, K = keys*Wk+bk, V = values*Wv+bv split into `head` heads,
/// softmax(Q K^T * scale + musk) V per head, heads concatenated, then *Wo+bo. Weights are [in, out].
/// The mask (`musk` in TopOps.td) is added to the [batch, head, Mq, Mk] scores: rank 4 broadcasts
/// as is, rank 3 is [batch, Mq|1, Mk] (shared by heads), rank 2 is [Mq|1, Mk].
struct attention_op {
  static constexpr std::string_view mnemonic = "top.Attention";
  static constexpr std::array operands{
      top::input("input"),         top::input("keys"),          top::input("values"),
      top::weight("queries_weight"), top::optional_bias("queries_bias"), top::weight("keys_weight"),
      top::optional_bias("keys_bias"), top::weight("values_weight"), top::optional_bias("values_bias"),
      top::weight("out_weight"),   top::optional_bias("out_bias"), top::optional_input("musk")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::quantizable;
  struct attributes {
    required<double> scale;
    required<std::int64_t> head;
    std::int64_t dim = 0;
    std::vector<double> scale_param{1.0};
    std::vector<std::int64_t> zp_param{0};
    std::int64_t has_bias = 0;
  };
  struct dims {
    std::int64_t b, mq, nq, mk, nk, hd, d, no;
  };
  static dims check(const std::array<const tensor_type*, 12>& t, const attributes& a) {
    auto fail = [](const std::string& m) { throw error("top.Attention: " + m); };
    const auto q = detail::bmn(mnemonic, "input", t[0]->shape);
    const auto kk = detail::bmn(mnemonic, "keys", t[1]->shape);
    const auto v = detail::bmn(mnemonic, "values", t[2]->shape);
    if (kk[0] != q[0] || v[0] != q[0] || v[1] != kk[1]) fail("input, keys and values disagree on batch or length");
    auto mat = [&](std::size_t i, std::int64_t rows, const char* what) {
      const shape_t& s = t[i]->shape;
      if (s.size() < 2 || numel(s) != rows * s.back())
        fail(std::string(what) + " " + to_string(s) + " does not have " + std::to_string(rows) + " rows");
      return s.back();
    };
    const std::int64_t hd = mat(3, q[2], "queries_weight");
    if (mat(5, kk[2], "keys_weight") != hd || mat(7, v[2], "values_weight") != hd)
      fail("query, key and value projections have different widths");
    if (*a.head <= 0 || hd % *a.head != 0) fail("head " + std::to_string(*a.head) + " does not divide width " + std::to_string(hd));
    const std::int64_t no = mat(9, hd, "out_weight");
    const std::int64_t bias_len[12]{0, 0, 0, 0, hd, 0, hd, 0, hd, 0, no, 0};
    for (std::size_t i : {4u, 6u, 8u, 10u})
      if (t[i] && !t[i]->is_none && t[i]->numel() != bias_len[i]) fail("a bias has the wrong length");
    return {q[0], q[1], q[2], kk[1], kk[2], hd, hd / *a.head, no};
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    std::array<const tensor_type*, 12> t{};
    for (std::size_t i = 0; i < 12; ++i) t[i] = c.has(i) ? &c.operand(i) : nullptr;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 7u, 9u}) c.operand(i);
    const dims d = check(t, a);
    shape_t out = c.operand(0).shape;
    out.back() = d.no;
    return {tensor_type{c.operand(0).elem, out}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::array<tensor_type, 12> types;
    std::array<const tensor_type*, 12> t{};
    for (std::size_t i = 0; i < 12; ++i) {
      const tensor* p = k.optional_in(i);
      if (p && p->defined()) types[i] = p->type(), t[i] = &types[i];
    }
    const dims d = check(t, a);
    auto data = [&](std::size_t i) -> const float* {
      const tensor* p = k.optional_in(i);
      return p && p->defined() ? p->data<float>() : nullptr;
    };
    const auto q = detail::linear_rows(data(0), d.b * d.mq, d.nq, data(3), d.hd, data(4));
    const auto kp = detail::linear_rows(data(1), d.b * d.mk, d.nk, data(5), d.hd, data(6));
    const auto vp = detail::linear_rows(data(2), d.b * d.mk, d.nk, data(7), d.hd, data(8));
    const std::int64_t heads = *a.head;
    std::vector<std::int64_t> mask_off;
    const float* mask = data(11);
    if (mask) {
      shape_t ms = k.in(11).shape();
      if (ms.size() == 3) ms.insert(ms.begin() + 1, 1);
      const shape_t full{d.b, heads, d.mq, d.mk};
      if (broadcast_shapes(ms, full) != full) throw error("top.Attention: musk " + to_string(k.in(11).shape()) + " does not broadcast to the scores");
      mask_off = detail::broadcast_offsets(ms, full);
    }
    std::vector<float> ctx(static_cast<std::size_t>(d.b * d.mq * d.hd));
    std::vector<double> z(static_cast<std::size_t>(d.mk));
    for (std::int64_t b = 0; b < d.b; ++b)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < d.mq; ++i) {
          for (std::int64_t j = 0; j < d.mk; ++j) {
            double s = 0;
            for (std::int64_t e = 0; e < d.d; ++e)
              s += q[static_cast<std::size_t>((b * d.mq + i) * d.hd + h * d.d + e)] *
                   kp[static_cast<std::size_t>((b * d.mk + j) * d.hd + h * d.d + e)];
            s *= *a.scale;
            if (mask) s += mask[mask_off[static_cast<std::size_t>(((b * heads + h) * d.mq + i) * d.mk + j)]];
            z[static_cast<std::size_t>(j)] = s;
          }
          detail::softmax_in_place(z);
          for (std::int64_t e = 0; e < d.d; ++e) {
            double s = 0;
            for (std::int64_t j = 0; j < d.mk; ++j)
              s += z[static_cast<std::size_t>(j)] * vp[static_cast<std::size_t>((b * d.mk + j) * d.hd + h * d.d + e)];
            ctx[static_cast<std::size_t>((b * d.mq + i) * d.hd + h * d.d + e)] = static_cast<float>(s);
          }
        }
    const auto y = detail::linear_rows(ctx.data(), d.b * d.mq, d.hd, data(9), d.no, data(10));
    float* yp = k.out().data<float>();
    for (std::size_t i = 0; i < y.size(); ++i) yp[i] = static_cast<float>(y[i]);
  }
};

/// `top.ScaleDotProductAttention` (PyTorch): softmax(Q K^T * scale + mask) V over the two trailing
/// axes; scale 0 means 1/sqrt(E); a boolean mask keeps `true` positions; is_causal hides j > i.
/// dropout_p is ignored (inference).
struct sdpa_op {
  static constexpr std::string_view mnemonic = "top.ScaleDotProductAttention";
  static constexpr std::array operands{top::input("query"), top::input("key"), top::input("value"),
                                       top::optional_input("mask")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::none;
  struct attributes {
    double dropout_p = 0.0;
    bool is_causal = false;
    double scale = 0.0;
  };
  static shape_t result_shape(const shape_t& q, const shape_t& kk, const shape_t& v) {
    if (q.size() < 2 || kk.size() != q.size() || v.size() != q.size())
      throw error("top.ScaleDotProductAttention: query, key and value need the same rank (at least 2)");
    const std::size_t r = q.size();
    if (!std::equal(q.begin(), q.end() - 2, kk.begin()) || !std::equal(q.begin(), q.end() - 2, v.begin()) ||
        kk[r - 1] != q[r - 1] || v[r - 2] != kk[r - 2])
      throw error("top.ScaleDotProductAttention: shapes " + to_string(q) + ", " + to_string(kk) + ", " + to_string(v) +
                  " do not form an attention");
    shape_t out = q;
    out.back() = v.back();
    return out;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    return {tensor_type{c.operand(0).elem, result_shape(c.operand(0).shape, c.operand(1).shape, c.operand(2).shape)}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor &q = k.in(0), &kt = k.in(1), &v = k.in(2);
    const shape_t out = result_shape(q.shape(), kt.shape(), v.shape());
    const std::size_t r = out.size();
    const std::int64_t L = q.dim(r - 2), E = q.dim(r - 1), S = kt.dim(r - 2), Ev = v.dim(r - 1);
    const std::int64_t batch = L * E != 0 ? q.numel() / (L * E) : 0;
    const double scale = a.scale != 0.0 ? a.scale : 1.0 / std::sqrt(static_cast<double>(E));
    const tensor* mask = k.optional_in(3);
    std::vector<std::int64_t> moff;
    shape_t scores(q.shape().begin(), q.shape().end() - 2);
    scores.push_back(L);
    scores.push_back(S);
    if (mask && mask->defined()) {
      if (broadcast_shapes(mask->shape(), scores) != scores)
        throw error("top.ScaleDotProductAttention: mask " + to_string(mask->shape()) + " does not broadcast to " + to_string(scores));
      moff = detail::broadcast_offsets(mask->shape(), scores);
    }
    const float *qp = q.data<float>(), *kp = kt.data<float>(), *vp = v.data<float>();
    float* yp = k.out().data<float>();
    std::vector<double> z(static_cast<std::size_t>(S));
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < L; ++i) {
        for (std::int64_t j = 0; j < S; ++j) {
          double s = 0;
          for (std::int64_t e = 0; e < E; ++e) s += static_cast<double>(qp[(b * L + i) * E + e]) * kp[(b * S + j) * E + e];
          s *= scale;
          if (!moff.empty()) {
            const std::int64_t at = moff[static_cast<std::size_t>((b * L + i) * S + j)];
            if (mask->elem() == dtype::boolean) s = mask->data<bool>()[at] ? s : -std::numeric_limits<double>::infinity();
            else s += element_as_double(*mask, at);
          }
          if (a.is_causal && j > i) s = -std::numeric_limits<double>::infinity();
          z[static_cast<std::size_t>(j)] = s;
        }
        detail::softmax_in_place(z);
        for (std::int64_t e = 0; e < Ev; ++e) {
          double s = 0;
          for (std::int64_t j = 0; j < S; ++j) s += z[static_cast<std::size_t>(j)] * vp[(b * S + j) * Ev + e];
          yp[(b * L + i) * Ev + e] = static_cast<float>(s);
        }
      }
  }
};

/// `top.Rope`: out = rotate(input1) * input2 + input1 * input3 (numpy broadcasting), where rotate
/// maps each consecutive pair (a, b) of input1 to (-b, a) — input2 carries sin, input3 cos.
struct rope_op {
  static constexpr std::string_view mnemonic = "top.Rope";
  static constexpr std::array operands{top::input("input1"), top::input("input2"), top::input("input3")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::broadcast;
  struct attributes {
    bool is_permute_optimize = false;
    detail::nn_round_mode mul1_round_mode;
    detail::nn_round_mode mul2_round_mode;
    detail::nn_round_mode add_round_mode;
    si32 mul1_shift = 0;
    si32 mul2_shift = 0;
    si32 add_shift = 0;
    bool mul1_saturation = true;
    bool mul2_saturation = true;
    bool add_saturation = true;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const shape_t s = broadcast_shapes(broadcast_shapes(c.operand(0).shape, c.operand(1).shape), c.operand(2).shape);
    if (s != c.operand(0).shape)
      throw error("top.Rope: input1 " + to_string(c.operand(0).shape) + " must already have the result shape " + to_string(s));
    tensor_type t = c.operand(0);
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes&) {
    const tensor &x = k.in(0), &sn = k.in(1), &cs = k.in(2);
    const auto so = detail::broadcast_offsets(sn.shape(), x.shape());
    const auto co = detail::broadcast_offsets(cs.shape(), x.shape());
    const float *xp = x.data<float>(), *sp = sn.data<float>(), *cp = cs.data<float>();
    float* yp = k.out().data<float>();
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      double rot = xp[i];  // an unpaired last element stays itself
      if (i % 2 == 0 && i + 1 < n) rot = -static_cast<double>(xp[i + 1]);
      else if (i % 2 == 1) rot = xp[i - 1];
      const auto u = static_cast<std::size_t>(i);
      yp[i] = static_cast<float>(rot * sp[so[u]] + static_cast<double>(xp[i]) * cp[co[u]]);
    }
  }
};

/// `top.Einsum`: the equations TopOps.td lists, evaluated by a general contraction in double.
struct einsum_op {
  static constexpr std::string_view mnemonic = "top.Einsum";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::quantizable;
  struct attributes {
    required<one_of<"a,b->ab", "ab,ab->a", "ab,acb->ac", "ab,cdb->acd", "abc,db->adc", "abcd,cde->abe", "abcd,acd->abc",
                    "abcd,bed->abce", "abcd,ced->abce", "abcd,abed->abce", "abcd,abde->abce", "abcd,abce->acde",
                    "abc,adc->abd", "abc,adc->adb", "abc,abd->acd", "abcd,cde->abce", "abc,acde->abde",
                    "abc,abde->acde", "abc,bd->abcd", "abc,abdc,abc->abcd", "abcd,acde,abc->abce", "abc,abc->ab",
                    "abcd,aecd->aeb", "abc,cde->abde", "abcd,aeb->aecd", "abcde,afbc->abdef">>
        mode;
  };
  struct plan {
    std::vector<std::string> terms;
    std::string out, contracted;
    std::vector<std::int64_t> size;  // per letter 'a'..'z'
    shape_t out_shape;
  };
  static plan make_plan(std::string_view eq, const std::vector<const shape_t*>& shapes) {
    plan p;
    p.size.assign(26, -1);
    const auto arrow = eq.find("->");
    std::string lhs(eq.substr(0, arrow));
    p.out = std::string(eq.substr(arrow + 2));
    for (std::size_t b = 0, e; b <= lhs.size(); b = e + 1) {
      e = lhs.find(',', b);
      if (e == std::string::npos) e = lhs.size();
      p.terms.push_back(lhs.substr(b, e - b));
    }
    if (p.terms.size() != shapes.size())
      throw error("top.Einsum: equation " + std::string(eq) + " needs " + std::to_string(p.terms.size()) + " inputs, got " +
                  std::to_string(shapes.size()));
    for (std::size_t t = 0; t < shapes.size(); ++t) {
      const shape_t& s = *shapes[t];
      if (s.size() != p.terms[t].size())
        throw error("top.Einsum: input " + std::to_string(t) + " " + to_string(s) + " does not match term " + p.terms[t]);
      for (std::size_t i = 0; i < s.size(); ++i) {
        auto& sz = p.size[static_cast<std::size_t>(p.terms[t][i] - 'a')];
        if (sz == -1 || sz == 1) sz = std::max(sz, s[i]);
        else if (s[i] != sz && s[i] != 1)
          throw error("top.Einsum: letter " + std::string(1, p.terms[t][i]) + " has sizes " + std::to_string(sz) + " and " +
                      std::to_string(s[i]));
      }
    }
    for (char ch : p.out) p.out_shape.push_back(p.size[static_cast<std::size_t>(ch - 'a')]);
    for (const auto& term : p.terms)
      for (char ch : term)
        if (p.out.find(ch) == std::string::npos && p.contracted.find(ch) == std::string::npos) p.contracted += ch;
    return p;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    std::vector<const shape_t*> shapes;
    for (std::size_t i = 0; i < c.operands.size(); ++i) shapes.push_back(&c.operand(i).shape);
    return {tensor_type{c.operand(0).elem, make_plan(a.mode->value, shapes).out_shape}};
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const shape_t*> shapes;
    for (std::size_t i = 0; i < k.num_inputs(); ++i) shapes.push_back(&k.in(i).shape());
    const plan p = make_plan(a.mode->value, shapes);
    const std::string loop = p.out + p.contracted;
    // stride[t][l]: how far input t moves when loop letter l advances (0 along broadcast axes).
    std::vector<std::vector<std::int64_t>> stride(shapes.size(), std::vector<std::int64_t>(loop.size(), 0));
    for (std::size_t t = 0; t < shapes.size(); ++t) {
      const shape_t st = strides_of(*shapes[t]);
      for (std::size_t i = 0; i < p.terms[t].size(); ++i)
        if ((*shapes[t])[i] != 1) stride[t][loop.find(p.terms[t][i])] += st[i];
    }
    std::vector<std::int64_t> ext;
    for (char ch : loop) ext.push_back(p.size[static_cast<std::size_t>(ch - 'a')]);
    std::int64_t inner = 1;
    for (std::size_t l = p.out.size(); l < loop.size(); ++l) inner *= ext[l];
    std::vector<const float*> data;
    for (std::size_t t = 0; t < shapes.size(); ++t) data.push_back(k.in(t).data<float>());
    float* yp = k.out().data<float>();
    const std::int64_t n_out = numel(p.out_shape);
    std::vector<std::int64_t> idx(loop.size(), 0), off(shapes.size(), 0);
    for (std::int64_t o = 0; o < n_out; ++o) {
      double acc = 0;
      for (std::int64_t c = 0; c < inner; ++c) {
        double prod = 1;
        for (std::size_t t = 0; t < shapes.size(); ++t) prod *= data[t][off[t]];
        acc += prod;
        // one odometer over output-then-contracted letters: wrapping the contracted ones moves to the next output
        for (std::size_t l = loop.size(); l-- > 0;) {
          for (std::size_t t = 0; t < shapes.size(); ++t) off[t] += stride[t][l];
          if (++idx[l] < ext[l]) break;
          for (std::size_t t = 0; t < shapes.size(); ++t) off[t] -= stride[t][l] * ext[l];
          idx[l] = 0;
        }
      }
      yp[o] = static_cast<float>(acc);
    }
  }
};

using attention_ops = op_list<attention_op, sdpa_op, rope_op, einsum_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::attention_op::attributes, scale, head, dim, scale_param, zp_param, has_bias);
BOOST_HANA_ADAPT_STRUCT(mixq::top::sdpa_op::attributes, dropout_p, is_causal, scale);
BOOST_HANA_ADAPT_STRUCT(mixq::top::rope_op::attributes, is_permute_optimize, mul1_round_mode, mul2_round_mode,
                        add_round_mode, mul1_shift, mul2_shift, add_shift, mul1_saturation, mul2_saturation,
                        add_saturation);
BOOST_HANA_ADAPT_STRUCT(mixq::top::einsum_op::attributes, mode);
