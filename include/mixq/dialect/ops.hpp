#pragma once
// `top::ops()`, the registry of every op, for code that looks ops up by name. Header-only users
// get the inline registry (and with it every op's definition); programs that build the registry
// in one translation unit (MIXQ_COMPILED_REGISTRY, as mixq's own tests and drivers do) see only
// its declaration here, so a file that names no op struct does not parse and instantiate them all.
// The single header has every definition in one file anyway (MIXQ_SINGLE_HEADER_BUILD).
#include "mixq/dialect/top/registry.hpp"

#if defined(MIXQ_COMPILED_REGISTRY) && !defined(MIXQ_SINGLE_HEADER_BUILD)
namespace mixq::top {
/// Defined once in the program (see dialect/top/op_list.hpp).
const registry& ops();
}  // namespace mixq::top
#else
#include "mixq/dialect/top/op_list.hpp"
#endif
