#pragma once
// THE list of ops mixq knows: the TOP dialect, then the TPU dialect of lowered models. Each family header ends with `using <family>_ops = op_list<...>;`;
// adding an op is one struct in its family header plus one entry in that family's list.
#include "mixq/dialect/top/activation.hpp"
#include "mixq/dialect/top/attention.hpp"
#include "mixq/dialect/top/compare.hpp"
#include "mixq/dialect/top/conv.hpp"
#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/top/matmul.hpp"
#include "mixq/dialect/top/norm.hpp"
#include "mixq/dialect/top/pool.hpp"
#include "mixq/dialect/top/reduce.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/resize.hpp"
#include "mixq/dialect/top/shape_ops.hpp"
#include "mixq/dialect/top/source.hpp"
#include "mixq/dialect/tpu/op_list.hpp"

namespace mixq::top {

using all_ops = concat_lists<source_ops, elementwise_ops, activation_ops, compare_ops, shape_ops_ops, conv_ops,
                             matmul_ops, pool_ops, norm_ops, reduce_ops, resize_ops, attention_ops, tpu::tpu_ops>::type;

#if defined(MIXQ_COMPILED_REGISTRY)
/// Defined in one translation unit of the program (mixq's own tests and drivers do this to
/// instantiate every op's kernels once instead of in every file).
const registry& ops();
#else
/// A registry of every op in `all_ops`.
inline registry make_registry() { return registry::from(all_ops{}); }

/// The registry of every op in `all_ops`, built once on first use.
inline const registry& ops() {
  static const registry r = make_registry();
  return r;
}
#endif

}  // namespace mixq::top
