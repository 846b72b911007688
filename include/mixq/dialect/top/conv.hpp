#pragma once
// Convolution and transposed convolution.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using conv_ops = op_list<>;

}  // namespace mixq::top
