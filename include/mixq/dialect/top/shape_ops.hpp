#pragma once
// Reshape, Permute, Slice, Split, Concat, Squeeze, Unsqueeze, Flatten, Pad, Tile, Expand, Gather, Depth2Space, Shape and other data-movement ops.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using shape_ops_ops = op_list<>;

}  // namespace mixq::top
