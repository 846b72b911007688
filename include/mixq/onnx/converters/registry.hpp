#pragma once
// Every ONNX op mixq imports, in one table built on first use.
#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/elementwise.hpp"
#include "mixq/onnx/converters/misc.hpp"
#include "mixq/onnx/converters/nn.hpp"
#include "mixq/onnx/converters/norm.hpp"
#include "mixq/onnx/converters/reduce.hpp"
#include "mixq/onnx/converters/resize.hpp"
#include "mixq/onnx/converters/shape.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

inline const converter_table& converters() {
  static const converter_table table = [] {
    converter_table t;
    add_elementwise_converters(t);
    add_nn_converters(t);
    add_shape_converters(t);
    add_reduce_converters(t);
    add_resize_converters(t);
    add_norm_converters(t);
    add_misc_converters(t);
    return t;
  }();
  return table;
}

}  // namespace mixq::onnx
