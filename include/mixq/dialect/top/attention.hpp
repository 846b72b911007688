#pragma once
// Attention, ScaleDotProductAttention, Rope, Einsum.
#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

using attention_ops = op_list<>;

}  // namespace mixq::top
