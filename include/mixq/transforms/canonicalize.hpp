#pragma once
// What TPU-MLIR's model_transform does to a freshly imported TOP graph, with its op names:
// first the ONNX-level pattern fusions (OnnxOpt.py runs them before import), then the
// frontend's Clip(0, m) -> Relu, then the canonicalisation patterns to a fixed point, then a
// dead-op sweep and verification. docs/naming.md lists the naming rules and their evidence.
#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/transforms/fold_batchnorm.hpp"
#include "mixq/transforms/fold_pad.hpp"
#include "mixq/transforms/fuse_activation.hpp"
#include "mixq/transforms/fuse_matmul_bias.hpp"
#include "mixq/transforms/patterns.hpp"
#include "mixq/transforms/rewrite.hpp"
#include "mixq/transforms/simplify.hpp"

namespace mixq::transforms {

/// The ONNX-level fusions, in OnnxOpt.py's order.
inline int fuse_onnx_patterns(rewriter& rw) {
  int changed = fuse_layer_norm(rw);
  changed += fuse_hard_sigmoid(rw);
  changed += fuse_hard_swish(rw);
  changed += fuse_gelu(rw);
  return changed;
}

/// One sweep of the TOP canonicalisation patterns; returns the number of rewrites.
inline int canonicalize_step(rewriter& rw) {
  int changed = remove_identity_ops(rw);
  changed += merge_reshapes(rw);
  changed += fold_pad(rw);
  changed += fuse_silu(rw);
  changed += fuse_gelu(rw);
  changed += fold_batchnorm_into_conv(rw);
  changed += batchnorm_to_scale(rw);
  changed += fold_scale_into_conv(rw);
  changed += fuse_matmul_bias(rw);
  changed += fuse_relu(rw);  // after the BN folds: Conv+BN+Relu ends as one Conv named like the Relu
  return changed;
}

}  // namespace mixq::transforms

namespace mixq {

/// Rewrites `g` in place into the graph TPU-MLIR's model_transform would produce.
inline void canonicalize(graph& g) {
  transforms::rewriter rw(g);
  transforms::fuse_onnx_patterns(rw);
  transforms::clip_to_relu(rw);
  for (int round = 0; round < 100 && transforms::canonicalize_step(rw) > 0; ++round) {
  }
  rw.finish();
}

}  // namespace mixq
