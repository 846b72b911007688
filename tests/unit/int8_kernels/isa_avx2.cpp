// The int8 kernel tests for the avx2 path (see kernel_cases.hpp).
#define MIXQ_INT8_MAX_ISA 2
#define MIXQ_TEST_ISA "avx2 path:"
#include "kernel_cases.hpp"
