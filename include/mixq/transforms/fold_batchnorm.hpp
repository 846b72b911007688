#pragma once
// BatchNorm and Scale folded into the Conv before them (the Conv keeps its name, as in the
// TPU-MLIR releases the reference tables come from), and a lone BatchNorm turned into a
// top.Scale that keeps the BatchNorm's name.
#include <cmath>
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

namespace detail {

/// Per-channel y = x * scale + shift of a BatchNorm node, or false when a parameter is not a
/// weight.
inline bool batch_norm_affine(const rewriter& rw, const node& bn, std::int64_t channels, std::vector<double>& scale,
                              std::vector<double>& shift) {
  const auto& a = bn.attributes<top::batch_norm_op>();
  const tensor* mean = rw.weight_of(bn.operands[1]);
  const tensor* var = rw.weight_of(bn.operands[2]);
  const int gv = bn.operands.size() > 3 ? bn.operands[3] : -1;
  const int bv = bn.operands.size() > 4 ? bn.operands[4] : -1;
  const bool has_gamma = gv >= 0 && !rw.value(gv).type.is_none;
  const bool has_beta = bv >= 0 && !rw.value(bv).type.is_none;
  const tensor* gamma = has_gamma ? rw.weight_of(gv) : nullptr;
  const tensor* beta = has_beta ? rw.weight_of(bv) : nullptr;
  if (!mean || !var || (has_gamma && !gamma) || (has_beta && !beta)) return false;
  const tensor m = mean->cast(dtype::f64), v = var->cast(dtype::f64);
  const tensor g = gamma ? gamma->cast(dtype::f64) : tensor{}, b = beta ? beta->cast(dtype::f64) : tensor{};
  scale.assign(static_cast<std::size_t>(channels), 1.0);
  shift.assign(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double s = (gamma ? g.data<double>()[c] : 1.0) / std::sqrt(v.data<double>()[c] + a.epsilon);
    scale[static_cast<std::size_t>(c)] = s;
    shift[static_cast<std::size_t>(c)] = (beta ? b.data<double>()[c] : 0.0) - m.data<double>()[c] * s;
  }
  return true;
}

/// Multiplies the single-use, relu-free Conv behind `in` by scale[oc] and shifts its bias;
/// the new weights are `<conv>_<tag>_weight` / `<conv>_<tag>_bias`. Returns false (and
/// changes nothing) when the Conv does not qualify.
inline bool fold_affine_into_conv(rewriter& rw, int in, const std::vector<double>& scale, const std::vector<double>& shift,
                                  const std::string& tag) {
  const int conv = rw.producer_if<top::conv_op>(in);
  if (conv < 0 || !rw.single_use(in) || has_relu(rw.at(conv))) return false;
  const node& c = rw.at(conv);
  const tensor* filter = rw.weight_of(c.operands[1]);
  const int bias_v = c.operands.size() > 2 ? c.operands[2] : -1;
  const bool has_bias = bias_v >= 0 && !rw.value(bias_v).type.is_none;
  const tensor* bias = has_bias ? rw.weight_of(bias_v) : nullptr;
  const auto oc = static_cast<std::int64_t>(scale.size());
  if (!filter || (has_bias && !bias) || filter->numel() % oc != 0 || rw.shape_of(c.operands[1]).at(0) != oc) return false;
  const std::int64_t inner = filter->numel() / oc;
  const tensor f = filter->cast(dtype::f32);
  tensor nf = tensor::empty(dtype::f32, rw.shape_of(c.operands[1]));
  for (std::int64_t o = 0; o < oc; ++o)
    for (std::int64_t j = 0; j < inner; ++j)
      nf.data<float>()[o * inner + j] =
          static_cast<float>(static_cast<double>(f.data<float>()[o * inner + j]) * scale[static_cast<std::size_t>(o)]);
  tensor nb = tensor::empty(dtype::f32, {oc});
  const tensor b = bias ? bias->cast(dtype::f64) : tensor{};
  for (std::int64_t o = 0; o < oc; ++o)
    nb.data<float>()[o] = static_cast<float>((bias ? b.data<double>()[o] * scale[static_cast<std::size_t>(o)] : 0.0) +
                                             shift[static_cast<std::size_t>(o)]);
  const std::string conv_name = rw.name_of(c.results[0]);  // a copy: add_weight grows the value table
  const int w = rw.add_weight(conv_name + "_" + tag + "_weight", nf);
  const int bw = rw.add_weight(conv_name + "_" + tag + "_bias", nb);
  std::vector<int> ops = rw.at(conv).operands;
  ops[1] = w;
  if (ops.size() > 2) ops[2] = bw;
  else ops.push_back(bw);
  rw.set_operands(conv, ops);
  return true;
}

inline std::int64_t channels_of(const shape_t& s) { return s.size() > 1 ? s[1] : s.at(0); }

inline void copy_relu(rewriter& rw, int to, const node& from) {
  rw.set_attr(to, "do_relu", attribute(has_relu(from)));
  rw.set_attr(to, "relu_limit", attribute(float_attr{relu_limit_of(from), "f64"}));
}

}  // namespace detail

/// BatchNorm after a single-use Conv without relu: folded into the Conv's filter and bias
/// (`<conv>_bn_merged_to_conv_weight` / `_bias`); the Conv keeps its name and takes the BN's
/// do_relu.
inline int fold_batchnorm_into_conv(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::batch_norm_op>()) continue;
    const int in = rw.at(n).operands[0];
    std::vector<double> scale, shift;
    if (!detail::batch_norm_affine(rw, rw.at(n), detail::channels_of(rw.shape_of(in)), scale, shift)) continue;
    if (!detail::fold_affine_into_conv(rw, in, scale, shift, "bn_merged_to_conv")) continue;
    detail::copy_relu(rw, rw.producer(in), rw.at(n));
    rw.bypass(n, in);
    ++changed;
  }
  return changed;
}

/// Any other BatchNorm becomes a top.Scale with weights `<bn>_scale` / `<bn>_bias` (TPU-MLIR's
/// TopBatchNormToScale), keeping its name and fused relu.
inline int batchnorm_to_scale(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::batch_norm_op>()) continue;
    const int in = rw.at(n).operands[0];
    const std::int64_t c = detail::channels_of(rw.shape_of(in));
    std::vector<double> scale, shift;
    if (!detail::batch_norm_affine(rw, rw.at(n), c, scale, shift)) continue;
    tensor s = tensor::empty(dtype::f32, {c}), b = tensor::empty(dtype::f32, {c});
    for (std::int64_t k = 0; k < c; ++k) {
      s.data<float>()[k] = static_cast<float>(scale[static_cast<std::size_t>(k)]);
      b.data<float>()[k] = static_cast<float>(shift[static_cast<std::size_t>(k)]);
    }
    const std::string name = rw.name_of(rw.at(n).results[0]);
    const int sw = rw.add_weight(name + "_scale", s);
    const int bw = rw.add_weight(name + "_bias", b);
    top::scale_op::attributes a;
    a.do_relu = detail::has_relu(rw.at(n));
    a.relu_limit = detail::relu_limit_of(rw.at(n));
    rw.replace_op<top::scale_op>(n, {in, sw, bw}, a);
    ++changed;
  }
  return changed;
}

/// Scale after a single-use Conv without relu: folded into the Conv
/// (`<conv>_scale_merged_to_conv_weight` / `_bias`), which keeps its name.
inline int fold_scale_into_conv(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::scale_op>()) continue;
    const node& sc = rw.at(n);
    const int in = sc.operands[0];
    const tensor* s = rw.weight_of(sc.operands[1]);
    const tensor* b = rw.weight_of(sc.operands[2]);
    const std::int64_t c = detail::channels_of(rw.shape_of(in));
    if (!s || !b || s->numel() != c || b->numel() != c) continue;
    const tensor sd = s->cast(dtype::f64), bd = b->cast(dtype::f64);
    std::vector<double> scale(sd.data<double>(), sd.data<double>() + c), shift(bd.data<double>(), bd.data<double>() + c);
    if (!detail::fold_affine_into_conv(rw, in, scale, shift, "scale_merged_to_conv")) continue;
    detail::copy_relu(rw, rw.producer(in), rw.at(n));
    rw.bypass(n, in);
    ++changed;
  }
  return changed;
}

}  // namespace mixq::transforms
