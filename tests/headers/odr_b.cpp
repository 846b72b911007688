// See odr_a.cpp.
#include "mixq/core/thread_pool.hpp"
#include "mixq/dialect/ops.hpp"

namespace mixq_header_check {
const void* registry_seen_from_b() { return &mixq::top::ops(); }
const void* pool_seen_from_b() { return &mixq::thread_pool::global(); }
}  // namespace mixq_header_check
