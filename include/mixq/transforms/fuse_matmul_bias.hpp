#pragma once
// MatMul + Add(bias weight) -> MatMul with bias (TPU-MLIR's MatMulWithBias): torch exports
// nn.Linear on 3-D inputs as MatMul then Add. The MatMul takes the Add's name, which is why
// TPU-MLIR's tables list `.../qkv/Add_output_0_Add` and no MatMul row for such layers.
#include <algorithm>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

namespace detail {

/// The bias a MatMul with N output columns can absorb from the Add operand `b`: a weight of N
/// values along the last axis only (shape [N] or [1, ..., 1, N]).
inline bool is_column_bias(const rewriter& rw, int b, std::int64_t N) {
  const tensor* w = rw.weight_of(b);
  if (!w || w->numel() != N || !is_floating(w->elem())) return false;
  const shape_t& s = rw.shape_of(b);
  return !s.empty() && s.back() == N;
}

}  // namespace detail

inline int fuse_matmul_bias(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int add = static_cast<int>(i);
    if (!rw.alive(add) || !rw.at(add).is<top::add_op>() || rw.at(add).operands.size() != 2) continue;
    const auto& add_attrs = rw.at(add).attributes<top::add_op>();
    if (add_attrs.coeff && std::any_of(add_attrs.coeff->begin(), add_attrs.coeff->end(), [](double c) { return c != 1.0; }))
      continue;  // a scaled sum is not a bias
    for (int k = 0; k < 2; ++k) {
      const int v = rw.at(add).operands[static_cast<std::size_t>(k)];
      const int b = rw.at(add).operands[static_cast<std::size_t>(1 - k)];
      const int mm = rw.producer_if<top::matmul_op>(v);
      if (mm < 0 || !rw.single_use(v) || detail::has_relu(rw.at(mm))) continue;
      const node& m = rw.at(mm);
      if (m.operands.size() > 2 && !rw.value(m.operands[2]).type.is_none) continue;  // already has a bias
      if (!rw.weight_of(m.operands[1])) continue;
      const auto& a = m.attributes<top::matmul_op>();
      if (a.output_transpose || a.hdim_is_batch) continue;
      const auto p = top::matmul_op::plan(rw.shape_of(m.operands[0]), rw.shape_of(m.operands[1]), a);
      if (!p.right_shared || rw.shape_of(v).empty() || rw.shape_of(v).back() != p.N) continue;
      if (!detail::is_column_bias(rw, b, p.N) || rw.shape_of(rw.at(add).results[0]) != rw.shape_of(v)) continue;
      const int add_out = rw.at(add).results[0];
      std::vector<int> ops{m.operands[0], m.operands[1], b};
      rw.set_operands(mm, std::move(ops));
      if (detail::has_relu(rw.at(add))) {
        rw.set_attr(mm, "do_relu", attribute(true));
        rw.set_attr(mm, "relu_limit", attribute(float_attr{detail::relu_limit_of(rw.at(add)), "f64"}));
      }
      rw.replace_uses(add_out, v);
      rw.take_name(mm, add_out);
      rw.kill(add);
      ++changed;
      break;
    }
  }
  return changed;
}

}  // namespace mixq::transforms
