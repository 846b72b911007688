// Two translation units that reach the library's inline state (the op registry, the thread pool):
// check_main.cpp fails if either exists twice in one program. Non-inline definitions in headers
// are caught by linking the per-header translation units together (mixq.hpp's includes every
// header again), so these two include only what they ask about.
#include "mixq/core/thread_pool.hpp"
#include "mixq/dialect/ops.hpp"

namespace mixq_header_check {
const void* registry_seen_from_a() { return &mixq::top::ops(); }
const void* pool_seen_from_a() { return &mixq::thread_pool::global(); }
}  // namespace mixq_header_check
