#pragma once
// THE list of TPU ops mixq knows (the lowered dialect model_deploy writes and model_runner runs);
// registered with the TOP ops in dialect/top/op_list.hpp.
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/tpu/cast.hpp"
#include "mixq/dialect/tpu/conv.hpp"

namespace mixq::tpu {

using tpu_ops = top::op_list<cast_op, conv2d_op>;

}  // namespace mixq::tpu
