#pragma once
// Activation and normalisation patterns written out in elementary ops, recognised and replaced
// by the TOP op TPU-MLIR makes of them:
// - TPU-MLIR's ONNX-level fusions (python/transform/OnnxOpt.py) build a new ONNX node whose
//   output is the last matched node's output, so the op is named
//   `<ONNX output of the last op>_<FusedType>`: HardSigmoid, HardSwish, LayerNormalization, GELU.
// - Its TOP canonicalisers (MulToSiLU, MergeGelu) replace the final Mul in place, which keeps
//   the Mul's name.
// Every intermediate value must have no reader outside the pattern.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

namespace detail {

/// The live producer of v when it is `Op` without a fused relu, else -1.
template <class Op> int plain_producer(const rewriter& rw, int v) {
  const int p = rw.producer_if<Op>(v);
  return p >= 0 && !has_relu(rw.at(p)) ? p : -1;
}
/// The producer of v when it is an AddConst / MulConst by c (within tol), else -1.
template <class Op> int const_op(const rewriter& rw, int v, double c, double tol = 1e-6) {
  const int p = plain_producer<Op>(rw, v);
  if (p < 0) return -1;
  return near(*rw.at(p).template attributes<Op>().const_val, c, tol) ? p : -1;
}
inline int in0(const rewriter& rw, int n) { return rw.at(n).operands[0]; }

/// Kills the listed nodes once nothing reads them (consumers first, whatever the list order).
inline void kill_unused(rewriter& rw, std::vector<int> nodes) {
  for (bool progress = true; progress;) {
    progress = false;
    for (int& n : nodes) {
      if (n < 0 || !rw.alive(n)) continue;
      bool unused = true;
      for (int r : rw.at(n).results) unused = unused && rw.use_count(r) == 0;
      if (unused) {
        rw.kill(n);
        n = -1;
        progress = true;
      }
    }
  }
}

/// Renames node n's result to `<ONNX output of n>_<type>`.
inline void fused_name(rewriter& rw, int n, const std::string& type) {
  value_info& v = rw.value(rw.at(n).results[0]);
  v.name = onnx_output_name(v.name) + "_" + type;
}

/// Clip(0, 6) or Relu(limit 6) of v: the node, else -1.
inline int relu6(const rewriter& rw, int v) {
  if (const int c = rw.producer_if<top::clip_op>(v); c >= 0) {
    const auto& a = rw.at(c).attributes<top::clip_op>();
    return *a.min == 0.0 && *a.max == 6.0 ? c : -1;
  }
  if (const int r = rw.producer_if<top::relu_op>(v); r >= 0)
    return rw.at(r).attributes<top::relu_op>().relu_limit == 6.0 ? r : -1;
  return -1;
}

/// v = relu6(x + 3) with single-use intermediates: {add node, clip node}, and x.
struct relu6_plus3 {
  int add = -1, clip = -1, x = -1;
};
inline std::optional<relu6_plus3> match_relu6_plus3(const rewriter& rw, int v) {
  const int clip = relu6(rw, v);
  if (clip < 0 || !rw.single_use(in0(rw, clip))) return std::nullopt;
  const int add = const_op<top::add_const_op>(rw, in0(rw, clip), 3.0);
  if (add < 0) return std::nullopt;
  return relu6_plus3{add, clip, in0(rw, add)};
}

/// v = 1 + erf(x / sqrt 2) (the division as MulConst 1/sqrt 2 or a Div by a sqrt 2 weight).
struct erf_term {
  int add = -1, erf = -1, scale = -1, x = -1;
};
inline std::optional<erf_term> match_erf_term(const rewriter& rw, int v) {
  const int add = const_op<top::add_const_op>(rw, v, 1.0, 1e-4);
  if (add < 0 || !rw.single_use(in0(rw, add))) return std::nullopt;
  const int erf = rw.producer_if<top::erf_op>(in0(rw, add));
  if (erf < 0 || !rw.single_use(in0(rw, erf))) return std::nullopt;
  const int scale_v = in0(rw, erf);
  if (const int m = const_op<top::mul_const_op>(rw, scale_v, 1.0 / std::sqrt(2.0), 1e-4); m >= 0)
    return erf_term{add, erf, m, in0(rw, m)};
  if (const int d = plain_producer<top::div_op>(rw, scale_v); d >= 0) {
    const auto& ops = rw.at(d).operands;
    const auto w = rw.scalar_weight(ops[1]);
    if (w && near(*w, std::sqrt(2.0), 1e-4)) return erf_term{add, erf, d, ops[0]};
  }
  return std::nullopt;
}

/// The two operands of a plain binary Mul, or nullopt.
inline std::optional<std::pair<int, int>> mul_operands(const rewriter& rw, int n) {
  const node& m = rw.at(n);
  if (!m.is<top::mul_op>() || m.operands.size() != 2 || has_relu(m)) return std::nullopt;
  return std::pair{m.operands[0], m.operands[1]};
}

}  // namespace detail

/// relu6(x + 3) / 6 -> HardSigmoid(alpha 1/6, beta 0.5), named `<out>_HardSigmoid`.
inline int fuse_hard_sigmoid(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || detail::const_op<top::mul_const_op>(rw, rw.at(n).results[0], 1.0 / 6.0) != n) continue;
    if (!rw.single_use(detail::in0(rw, n))) continue;
    const auto m = detail::match_relu6_plus3(rw, detail::in0(rw, n));
    if (!m) continue;
    top::hard_sigmoid_op::attributes a;
    a.alpha = 1.0 / 6.0;
    a.beta = 0.5;
    rw.replace_op<top::hard_sigmoid_op>(n, {m->x}, a);
    detail::fused_name(rw, n, "HardSigmoid");
    detail::kill_unused(rw, {m->clip, m->add});
    ++changed;
  }
  return changed;
}

/// x * HardSigmoid(x; 1/6, 0.5) (either operand order; not x * HardSigmoid(y), the SE gate) and
/// x * relu6(x + 3) / 6 -> HardSwish named `<out>_HardSwish`.
inline int fuse_hard_swish(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n)) continue;
    if (auto ops = detail::mul_operands(rw, n)) {
      for (int k = 0; k < 2; ++k) {
        const int x = k == 0 ? ops->first : ops->second, g = k == 0 ? ops->second : ops->first;
        const int hs = rw.producer_if<top::hard_sigmoid_op>(g);
        if (hs < 0 || !rw.single_use(g) || detail::in0(rw, hs) != x) continue;
        const auto& a = rw.at(hs).attributes<top::hard_sigmoid_op>();
        if (!detail::near(*a.alpha, 1.0 / 6.0) || *a.beta != 0.5) continue;
        rw.replace_op<top::hard_swish_op>(n, {x});
        detail::fused_name(rw, n, "HardSwish");
        detail::kill_unused(rw, {hs});
        ++changed;
        break;
      }
      continue;
    }
    if (detail::const_op<top::mul_const_op>(rw, rw.at(n).results[0], 1.0 / 6.0) != n) continue;
    const int prod_v = detail::in0(rw, n);
    const int mul = rw.producer(prod_v);
    if (mul < 0 || !rw.alive(mul) || !rw.single_use(prod_v)) continue;
    const auto ops = detail::mul_operands(rw, mul);
    if (!ops) continue;
    for (int k = 0; k < 2; ++k) {
      const int x = k == 0 ? ops->first : ops->second, g = k == 0 ? ops->second : ops->first;
      if (!rw.single_use(g)) continue;
      const auto m = detail::match_relu6_plus3(rw, g);
      if (!m || m->x != x) continue;
      rw.replace_op<top::hard_swish_op>(n, {x});
      detail::fused_name(rw, n, "HardSwish");
      detail::kill_unused(rw, {mul, m->clip, m->add});
      ++changed;
      break;
    }
  }
  return changed;
}

/// x * Sigmoid(x) -> SiLU in place of the Mul (TPU-MLIR's MulToSiLU: the Mul's name stays).
inline int fuse_silu(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n)) continue;
    const auto ops = detail::mul_operands(rw, n);
    if (!ops) continue;
    for (int k = 0; k < 2; ++k) {
      const int x = k == 0 ? ops->first : ops->second, g = k == 0 ? ops->second : ops->first;
      const int s = rw.producer_if<top::sigmoid_op>(g);
      if (s < 0 || !rw.single_use(g) || detail::in0(rw, s) != x) continue;
      const auto& a = rw.at(s).attributes<top::sigmoid_op>();
      if (a.scale != 1.0 || a.bias != 0.0 || a.log) continue;
      rw.replace_op<top::silu_op>(n, {x});
      detail::kill_unused(rw, {s});
      ++changed;
      break;
    }
  }
  return changed;
}

/// GELU written with erf:
/// - (x * (1 + erf(x / sqrt 2))) * 0.5 (TPU-MLIR's ONNX pattern) -> `<out>_GELU`;
/// - (0.5 x) * (1 + erf(x / sqrt 2)) (its MergeGelu) and x * (0.5 (1 + erf(x / sqrt 2))): the
///   final Mul becomes the GELU and keeps its name.
inline int fuse_gelu(rewriter& rw) {
  int changed = 0;
  auto to_gelu = [&](int n, int x, std::vector<int> dead, bool rename) {
    top::gelu_op::attributes a;
    rw.replace_op<top::gelu_op>(n, {x}, a);
    if (rename) detail::fused_name(rw, n, "GELU");
    detail::kill_unused(rw, std::move(dead));
    ++changed;
  };
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n)) continue;
    // (x * erf_term) * 0.5
    if (detail::const_op<top::mul_const_op>(rw, rw.at(n).results[0], 0.5, 1e-4) == n) {
      const int pv = detail::in0(rw, n);
      const int mul = rw.producer(pv);
      if (mul < 0 || !rw.alive(mul) || !rw.single_use(pv)) continue;
      const auto ops = detail::mul_operands(rw, mul);
      if (!ops) continue;
      for (int k = 0; k < 2; ++k) {
        const int x = k == 0 ? ops->first : ops->second, t = k == 0 ? ops->second : ops->first;
        if (!rw.single_use(t)) continue;
        const auto e = detail::match_erf_term(rw, t);
        if (!e || e->x != x) continue;
        to_gelu(n, x, {mul, e->add, e->erf, e->scale}, true);
        break;
      }
      continue;
    }
    const auto ops = detail::mul_operands(rw, n);
    if (!ops) continue;
    for (int k = 0; k < 2; ++k) {
      const int a = k == 0 ? ops->first : ops->second, b = k == 0 ? ops->second : ops->first;
      // (0.5 x) * erf_term
      if (const int half = detail::const_op<top::mul_const_op>(rw, a, 0.5, 1e-4);
          half >= 0 && rw.single_use(a) && rw.single_use(b)) {
        const auto e = detail::match_erf_term(rw, b);
        if (e && e->x == detail::in0(rw, half)) {
          to_gelu(n, e->x, {half, e->add, e->erf, e->scale}, false);
          break;
        }
      }
      // x * (0.5 * erf_term)
      if (const int half = detail::const_op<top::mul_const_op>(rw, b, 0.5, 1e-4);
          half >= 0 && rw.single_use(b) && rw.single_use(detail::in0(rw, half))) {
        const auto e = detail::match_erf_term(rw, detail::in0(rw, half));
        if (e && e->x == a) {
          to_gelu(n, a, {half, e->add, e->erf, e->scale}, false);
          break;
        }
      }
    }
  }
  return changed;
}

/// LayerNorm written out: mean over the last axes, x - mean, its square (Pow 2 or a
/// self-Mul), the mean of that, + eps, Sqrt, Div, and optionally * gamma + beta (both weights
/// with one value per normalised element) -> top.LayerNorm named `<out>_LayerNormalization`.
inline int fuse_layer_norm(rewriter& rw) {
  int changed = 0;
  auto mean_axes = [&](int reduce) -> std::optional<std::vector<std::int64_t>> {
    const auto& a = rw.at(reduce).attributes<top::reduce_op>();
    if (a.mode->value != "ReduceMean" || !*a.keepdims) return std::nullopt;
    const auto rank = static_cast<std::int64_t>(rw.shape_of(rw.at(reduce).operands[0]).size());
    std::vector<std::int64_t> axes = *a.axes;
    for (auto& ax : axes) ax = ax < 0 ? ax + rank : ax;
    std::sort(axes.begin(), axes.end());
    for (std::size_t k = 0; k < axes.size(); ++k)
      if (axes[k] != rank - static_cast<std::int64_t>(axes.size() - k)) return std::nullopt;
    return axes;
  };
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int div = static_cast<int>(i);
    if (!rw.alive(div) || !rw.at(div).is<top::div_op>() || detail::has_relu(rw.at(div))) continue;
    const int d = rw.at(div).operands[0], s = rw.at(div).operands[1];
    const int sqrt_n = rw.producer_if<top::sqrt_op>(s);
    if (sqrt_n < 0 || !rw.single_use(s) || !rw.single_use(detail::in0(rw, sqrt_n))) continue;
    const int eps_n = detail::plain_producer<top::add_const_op>(rw, detail::in0(rw, sqrt_n));
    if (eps_n < 0 || !rw.single_use(detail::in0(rw, eps_n))) continue;
    const int var_n = rw.producer_if<top::reduce_op>(detail::in0(rw, eps_n));
    if (var_n < 0 || !rw.single_use(detail::in0(rw, var_n))) continue;
    const int sq_v = detail::in0(rw, var_n);
    int sq_n = rw.producer_if<top::pow_op>(sq_v);
    std::size_t d_uses = 2;
    if (sq_n >= 0) {
      if (rw.at(sq_n).attributes<top::pow_op>().exponent.value != 2.0 || detail::in0(rw, sq_n) != d) continue;
    } else if (const int p = rw.producer(sq_v); p >= 0 && rw.alive(p) && detail::mul_operands(rw, p) &&
                                                 rw.at(p).operands[0] == d && rw.at(p).operands[1] == d) {
      sq_n = p;
      d_uses = 3;
    } else {
      continue;
    }
    const int sub_n = detail::plain_producer<top::sub_op>(rw, d);
    if (sub_n < 0 || rw.use_count(d) != d_uses || rw.at(sub_n).attributes<top::sub_op>().is_reverse) continue;
    const int x = rw.at(sub_n).operands[0], m = rw.at(sub_n).operands[1];
    const int mean_n = rw.producer_if<top::reduce_op>(m);
    if (mean_n < 0 || !rw.single_use(m) || detail::in0(rw, mean_n) != x) continue;
    const auto axes = mean_axes(mean_n);
    if (!axes || mean_axes(var_n) != axes) continue;
    const shape_t xs = rw.shape_of(x);
    const std::int64_t axis = axes->front();
    const shape_t inner(xs.begin() + axis, xs.end());
    // optional affine tail
    int last = div, mul_n = -1, gamma = -1, beta = -1;
    const int dv = rw.at(div).results[0];
    if (rw.single_use(dv) && !rw.users(dv).empty()) {
      const int cand = rw.users(dv)[0];
      if (auto ops = detail::mul_operands(rw, cand)) {
        const int g = ops->first == dv ? ops->second : ops->first;
        const tensor* gw = rw.weight_of(g);
        const int mv = rw.at(cand).results[0];
        if (gw && gw->numel() == numel(inner) && rw.single_use(mv) && !rw.users(mv).empty()) {
          const int add = rw.users(mv)[0];
          const node& an = rw.at(add);
          if (an.is<top::add_op>() && !detail::has_relu(an) && an.operands.size() == 2) {
            const int b = an.operands[0] == mv ? an.operands[1] : an.operands[0];
            const tensor* bw = rw.weight_of(b);
            if (bw && bw->numel() == numel(inner) && rw.shape_of(an.results[0]) == xs) {
              mul_n = cand, gamma = g, beta = b, last = add;
            }
          }
        }
      }
    }
    top::layer_norm_op::attributes a;
    a.normalized_shape = inner;
    a.axis = top::si32(axis);
    a.eps = *rw.at(eps_n).attributes<top::add_const_op>().const_val;
    const int none = rw.none_value();
    rw.replace_op<top::layer_norm_op>(last, {x, gamma >= 0 ? gamma : none, beta >= 0 ? beta : none}, a);
    detail::fused_name(rw, last, "LayerNormalization");
    detail::kill_unused(rw, {mul_n, last == div ? -1 : div, sqrt_n, eps_n, var_n, sq_n, sub_n, mean_n});
    ++changed;
  }
  return changed;
}

}  // namespace mixq::transforms
