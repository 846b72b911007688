#pragma once
// THE list of TPU ops mixq knows (the lowered dialect model_deploy writes and model_runner runs);
// registered with the TOP ops in dialect/top/op_list.hpp.
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/tpu/a16_matmul.hpp"
#include "mixq/dialect/tpu/active.hpp"
#include "mixq/dialect/tpu/cast.hpp"
#include "mixq/dialect/tpu/conv.hpp"
#include "mixq/dialect/tpu/eltwise.hpp"
#include "mixq/dialect/tpu/float_ops.hpp"
#include "mixq/dialect/tpu/lut.hpp"
#include "mixq/dialect/tpu/matmul.hpp"
#include "mixq/dialect/tpu/move.hpp"
#include "mixq/dialect/tpu/pool.hpp"
#include "mixq/dialect/tpu/softmax.hpp"

namespace mixq::tpu {

using tpu_ops = top::op_list<cast_op, conv2d_op,
                             // integer and float forms
                             matmul_op, add_op, sub_op, mul_op, add_const_op, relu_op, leaky_relu_op, prelu_op, pool1d_op, pool2d_op, softmax_op,
                             // integer only
                             mul_shift_op, requant_int_op, lut_op,
                             // data movement, any dtype
                             reshape_op, permute_op, concat_op, slice_op, squeeze_op, unsqueeze_op, pad_op, upsample_op, depth2space_op,
                             tile_op, reverse_op, shuffle_channel_op, swap_channel_op, gather_op,
                             // float only
                             active_op, interp_op, layer_norm_op, group_norm_op, instance_norm_op, pixel_norm_op, rms_norm_op, reduce_op,
                             div_op, max_op, min_op, max_const_op, min_const_op, sub_const_op, mul_const_op, clip_op, reciprocal_op,
                             deconv_op,
                             // weight-only (W8F16/W4F16...): integer weight, float activations
                             a16_matmul_op>;

}  // namespace mixq::tpu
