#pragma once
// Matrix multiplication.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using matmul_ops = op_list<>;

}  // namespace mixq::top
