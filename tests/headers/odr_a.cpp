// Two translation units that both include everything: linking them into one program fails if a
// header defines a non-inline function or variable, and check_main.cpp fails if inline state
// (registries, pools) exists twice.
#include "mixq/mixq.hpp"

namespace mixq_header_check {
const void* registry_seen_from_a() { return &mixq::top::ops(); }
const void* pool_seen_from_a() { return &mixq::thread_pool::global(); }
}  // namespace mixq_header_check
