#pragma once
// Every TOP op struct, without the TPU dialect and without building the registry: for code that
// constructs or matches TOP ops by type (the ONNX converters, the graph rewrites).
#include "mixq/dialect/top/activation.hpp"
#include "mixq/dialect/top/attention.hpp"
#include "mixq/dialect/top/compare.hpp"
#include "mixq/dialect/top/conv.hpp"
#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/top/matmul.hpp"
#include "mixq/dialect/top/norm.hpp"
#include "mixq/dialect/top/pool.hpp"
#include "mixq/dialect/top/reduce.hpp"
#include "mixq/dialect/top/resize.hpp"
#include "mixq/dialect/top/shape_ops.hpp"
#include "mixq/dialect/top/source.hpp"
