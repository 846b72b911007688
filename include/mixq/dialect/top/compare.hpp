#pragma once
// Compare, Where, logical ops, Cast.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using compare_ops = op_list<>;

}  // namespace mixq::top
