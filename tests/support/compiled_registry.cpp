// The one translation unit that instantiates every op's kernels for mixq's own tests and
// drivers (MIXQ_COMPILED_REGISTRY); library users get the inline registry instead.
#ifndef MIXQ_COMPILED_REGISTRY
#define MIXQ_COMPILED_REGISTRY
#endif
#include "mixq/dialect/top/op_list.hpp"

namespace mixq::top {

const registry& ops() {
  static const registry r = registry::from(all_ops{});
  return r;
}

}  // namespace mixq::top
