// The int8 kernel tests for the native path (see kernel_cases.hpp).
#define MIXQ_TEST_ISA "native path:"
#include "kernel_cases.hpp"
