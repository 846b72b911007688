#pragma once
// Shape arithmetic shared by the op structs' `infer` functions and kernels.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"

namespace mixq::top {

/// numpy broadcasting of two shapes; throws when they are incompatible.
inline shape_t broadcast_shapes(const shape_t& a, const shape_t& b) {
  const std::size_t r = std::max(a.size(), b.size());
  shape_t out(r, 1);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw error("shapes " + to_string(a) + " and " + to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Resolves a possibly negative axis against a rank.
inline std::int64_t normalize_axis(std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= std::max<std::int64_t>(r, 1))
    throw error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

/// Strides of `in_shape` broadcast to `out_shape` (0 along broadcast dimensions).
inline shape_t broadcast_strides(const shape_t& in_shape, const shape_t& out_shape) {
  shape_t st(out_shape.size(), 0);
  const shape_t own = strides_of(in_shape);
  const std::size_t off = out_shape.size() - in_shape.size();
  for (std::size_t i = 0; i < in_shape.size(); ++i) st[off + i] = in_shape[i] == 1 ? 0 : own[i];
  return st;
}

/// Output length of a convolution/pooling window along one axis.
inline std::int64_t window_output(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t pad_begin,
                                  std::int64_t pad_end, std::int64_t dilation = 1, bool ceil_mode = false) {
  const std::int64_t eff = dilation * (kernel - 1) + 1;
  const std::int64_t span = in + pad_begin + pad_end - eff;
  if (span < 0 || stride <= 0) throw error("window " + std::to_string(kernel) + " does not fit input " + std::to_string(in));
  std::int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // ceil mode must not start a window entirely inside the end padding (PyTorch/ONNX rule)
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

/// Calls f(out_index, a_index, b_index) over a broadcast binary operation, row by row;
/// `f_row(out_offset, a_offset, a_step, b_offset, b_step, count)` sees contiguous inner runs.
template <class Row>
void for_each_broadcast_row(const shape_t& out, const shape_t& a, const shape_t& b, Row&& f_row) {
  const shape_t sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  const std::size_t r = out.size();
  if (r == 0) {
    f_row(0, 0, 0, 0, 0, 1);
    return;
  }
  const std::int64_t inner = out[r - 1];
  const std::int64_t rows = inner == 0 ? 0 : numel(out) / inner;
  std::vector<std::int64_t> idx(r, 0);
  for (std::int64_t row = 0; row < rows; ++row) {
    std::int64_t oa = 0, ob = 0;
    for (std::size_t d = 0; d + 1 < r; ++d) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
    f_row(row * inner, oa, sa[r - 1], ob, sb[r - 1], inner);
    for (std::size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace mixq::top
