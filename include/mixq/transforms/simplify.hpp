#pragma once
// Ops that do nothing, removed as TPU-MLIR's folders and canonicalisers remove them: a Reshape
// to the input's own shape, a Permute with the identity order, MulConst 1 and AddConst 0
// without a fused relu, a Slice that keeps every element in order (NoUseSlicePattern), a Pad
// of nothing (onnx-simplifier drops those before TPU-MLIR imports); and a Reshape of a Reshape
// reading the first one's input directly.
#include <algorithm>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/transforms/rewrite.hpp"

namespace mixq::transforms {

inline int remove_identity_ops(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n)) continue;
    const node& nd = rw.at(n);
    if (nd.results.size() != 1 || nd.operands.empty()) continue;
    const int in = nd.operands[0], out = nd.results[0];
    bool identity = false;
    if (nd.is<top::reshape_op>()) {
      identity = rw.value(in).type == rw.value(out).type;
    } else if (nd.is<top::permute_op>()) {
      const auto& order = *nd.attributes<top::permute_op>().order;
      identity = true;
      for (std::size_t k = 0; k < order.size(); ++k) identity = identity && order[k] == static_cast<std::int64_t>(k);
    } else if (nd.is<top::mul_const_op>()) {
      identity = *nd.attributes<top::mul_const_op>().const_val == 1.0 && !detail::has_relu(nd);
    } else if (nd.is<top::add_const_op>()) {
      identity = *nd.attributes<top::add_const_op>().const_val == 0.0 && !detail::has_relu(nd);
    } else if (nd.is<top::slice_op>()) {
      const auto& steps = *nd.attributes<top::slice_op>().steps;
      // same shape with forward steps can only be the whole tensor; bounds from operands are not known here
      identity = std::all_of(steps.begin(), steps.end(), [](std::int64_t st) { return st > 0; }) &&
                 std::all_of(nd.operands.begin() + 1, nd.operands.end(), [&](int v) { return rw.value(v).type.is_none; });
    } else if (nd.is<top::pad_op>()) {
      const auto& pads = *nd.attributes<top::pad_op>().paddings;
      identity = std::all_of(pads.begin(), pads.end(), [](std::int64_t p) { return p == 0; }) &&
                 std::all_of(nd.operands.begin() + 1, nd.operands.end(), [&](int v) { return rw.value(v).type.is_none; });
    }
    if (!identity || rw.value(in).type.shape != rw.value(out).type.shape || rw.value(in).type.elem != rw.value(out).type.elem)
      continue;
    rw.bypass(n, in);
    ++changed;
  }
  return changed;
}

inline int merge_reshapes(rewriter& rw) {
  int changed = 0;
  for (std::size_t i = 0; i < rw.node_count(); ++i) {
    const int n = static_cast<int>(i);
    if (!rw.alive(n) || !rw.at(n).is<top::reshape_op>()) continue;
    const int inner = rw.producer_if<top::reshape_op>(rw.at(n).operands[0]);
    if (inner < 0) continue;
    const int source = rw.at(inner).operands[0];
    const shape_t out_shape = rw.shape_of(rw.at(n).results[0]);
    top::reshape_op::attributes a;
    a.shape = out_shape;
    rw.replace_op<top::reshape_op>(n, {source, rw.none_value()}, a);
    if (rw.use_count(rw.at(inner).results[0]) == 0) rw.kill(inner);
    ++changed;
  }
  return changed;
}

}  // namespace mixq::transforms
