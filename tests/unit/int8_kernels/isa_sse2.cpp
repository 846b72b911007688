// The int8 kernel tests for the sse2 path (see kernel_cases.hpp).
#define MIXQ_INT8_MAX_ISA 1
#define MIXQ_TEST_ISA "sse2 path:"
#include "kernel_cases.hpp"
