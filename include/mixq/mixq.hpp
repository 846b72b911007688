#pragma once
// mixq umbrella header: everything public. single_include/mixq/mixq.hpp is generated from it.
#include "mixq/config.hpp"
#include "mixq/core/attribute.hpp"
#include "mixq/core/dtype.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/half.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/dialect/top/op_list.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
