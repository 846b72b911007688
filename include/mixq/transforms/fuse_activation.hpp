#pragma once
// Clip(0, m) -> Relu(limit m) (TPU-MLIR's ONNX frontend) and Relu fused into its producer
// (TPU-MLIR's TopFuseRelu: the producer takes the Relu's name).
#include <array>
#include <limits>
#include <string_view>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

namespace detail {
/// The ops with TPU-MLIR's SupportFuseRelu trait that have do_relu / relu_limit here.
inline bool fuses_relu(const node& n) {
  static constexpr std::array<std::string_view, 15> ops{
      "top.Conv",     "top.Deconv",   "top.MatMul",    "top.Add",        "top.Sub",
      "top.Mul",      "top.AddConst", "top.SubConst",  "top.MulConst",   "top.BatchNorm",
      "top.Scale",    "top.MaxPool",  "top.AvgPool",   "top.Reciprocal", "top.Upsample"};
  return std::find(ops.begin(), ops.end(), n.mnemonic()) != ops.end() && supports_attr(n, "do_relu") &&
         supports_attr(n, "relu_limit");
}
}  // namespace detail

/// Clip with min 0 and max > 0 becomes Relu with relu_limit max (no limit when max is the
/// float maximum, i.e. unbounded), keeping the Clip's name. Returns the number of rewrites.
inline int clip_to_relu(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::clip_op>()) continue;
    const auto& a = rw.at(n).attributes<top::clip_op>();
    if (*a.min != 0.0 || !(*a.max > 0.0)) continue;
    if (!is_floating(rw.value(rw.at(n).results[0]).type.elem)) continue;
    top::relu_op::attributes r;
    r.relu_limit = *a.max >= static_cast<double>(std::numeric_limits<float>::max()) ? -1.0 : *a.max;
    rw.replace_op<top::relu_op>(n, {rw.at(n).operands[0]}, r);
    ++changed;
  }
  return changed;
}

/// Relu whose input is the only use of a relu-capable op: the op gets do_relu and the Relu's
/// limit, takes the Relu's name, and the Relu disappears. Where the producer already clips,
/// the tighter limit wins (so the result is unchanged).
inline int fuse_relu(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::relu_op>()) continue;
    const int in = rw.at(n).operands[0];
    const int p = rw.producer(in);
    if (p < 0 || !rw.alive(p)) continue;
    const node& prod = rw.at(p);
    if (prod.results.size() != 1 || !rw.single_use(in) || !detail::fuses_relu(prod)) continue;
    if (!is_floating(rw.value(in).type.elem)) continue;
    double limit = rw.at(n).attributes<top::relu_op>().relu_limit;
    if (detail::has_relu(prod)) {
      const double old = detail::relu_limit_of(prod);
      if (old > 0 && (limit <= 0 || old < limit)) limit = old;
    }
    rw.set_attr(p, "do_relu", attribute(true));
    rw.set_attr(p, "relu_limit", attribute(float_attr{limit, "f64"}));
    const int relu_out = rw.at(n).results[0];
    rw.replace_uses(relu_out, in);
    rw.take_name(p, relu_out);
    rw.kill(n);
    ++changed;
  }
  return changed;
}

}  // namespace mixq::transforms
