// The int8 kernel tests for the scalar path (see kernel_cases.hpp).
#define MIXQ_INT8_MAX_ISA 0
#define MIXQ_TEST_ISA "scalar path:"
#include "kernel_cases.hpp"
