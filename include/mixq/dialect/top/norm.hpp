#pragma once
// Normalisation: LayerNorm, BatchNorm, Scale, RMSNorm, InstanceNorm, GroupNorm.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using norm_ops = op_list<>;

}  // namespace mixq::top
