#pragma once
// Helpers for the element-wise op tests: runs with an explicit result type (graphs declare
// result dtypes that infer cannot know), typed tensors, and broadcast shape generators.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "op_harness.hpp"

namespace mixq::test::ew {

/// Like run_op, but the result type is given (as a graph would declare it) instead of inferred.
inline tensor run_typed(std::string_view mnemonic, const std::vector<tensor>& inputs, const attr_dict& attrs,
                        tensor_type out_type, bool use_reference) {
  const top::op_info& info = top::ops().at(mnemonic);
  top::attr_ptr decoded = info.decode(attrs);
  std::vector<const tensor*> in_ptrs;
  for (const auto& t : inputs) in_ptrs.push_back(t.defined() ? &t : nullptr);
  std::vector<tensor> outs(1);
  std::vector<tensor_type> types{std::move(out_type)};
  top::kernel_context k{in_ptrs, outs, types, nullptr};
  if (use_reference) info.reference(k, decoded.get());
  else info.compute(k, decoded.get(), nullptr);
  if (!outs[0].defined()) k.out(0);
  REQUIRE(outs[0].elem() == types[0].elem);
  REQUIRE(outs[0].shape() == types[0].shape);
  return outs[0];
}

/// Output 0 of the op run through the registry (reference by default).
inline tensor run1(std::string_view mnemonic, const std::vector<tensor>& inputs, const attr_dict& a = {},
                   bool use_reference = true) {
  return run_op(mnemonic, inputs, a, use_reference).outputs.at(0);
}

inline tensor f32(shape_t s, std::vector<float> v) { return tensor::from_vector<float>(std::move(s), v); }
inline tensor i64t(shape_t s, std::vector<std::int64_t> v) { return tensor::from_vector<std::int64_t>(std::move(s), v); }
inline tensor i32t(shape_t s, std::vector<std::int32_t> v) { return tensor::from_vector<std::int32_t>(std::move(s), v); }
inline tensor boolt(shape_t s, std::vector<bool> v) { return tensor::from_vector<bool>(std::move(s), v); }

inline std::vector<double> as_doubles(const tensor& t) {
  std::vector<double> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(element_as_double(t, i));
  return v;
}

inline attribute boolean(bool b) { return attribute(b); }

/// A random shape of rank 1..4 with odd and small sizes mixed.
inline shape_t random_shape(int max_rank = 4, std::int64_t max_dim = 9) {
  shape_t s(static_cast<std::size_t>(random_int(1, max_rank)));
  for (auto& d : s) d = random_int(1, max_dim);
  return s;
}

/// A shape that broadcasts to `out`: some dims set to 1, some leading dims dropped.
inline shape_t random_broadcast_of(const shape_t& out) {
  shape_t s = out;
  for (auto& d : s)
    if (random_int(0, 2) == 0) d = 1;
  const auto drop = static_cast<std::size_t>(random_int(0, static_cast<std::int64_t>(s.size())));
  return shape_t(s.begin() + static_cast<std::ptrdiff_t>(drop), s.end());
}

/// The named broadcast patterns every binary fast path must get right: {a shape, b shape}.
inline std::vector<std::pair<shape_t, shape_t>> broadcast_patterns() {
  return {
      {{2, 3, 5, 7}, {2, 3, 5, 7}},    // same shape
      {{2, 3, 5, 7}, {}},              // scalar
      {{2, 3, 5, 7}, {1}},             // one-element
      {{2, 3, 5, 7}, {1, 3, 1, 1}},    // per channel
      {{1, 3, 1, 1}, {2, 3, 5, 7}},    // per channel on the left
      {{2, 3, 5, 7}, {2, 3, 5, 1}},    // last dim broadcast
      {{2, 3, 5, 7}, {7}},             // row
      {{4, 1}, {1, 37}},               // outer product
      {{3, 1, 5}, {1, 4, 1}},          // interleaved
      {{1, 12, 1, 33}, {2, 1, 9, 1}},  // both sides broadcast
      {{1}, {1}},                      // single element
      {{3, 0, 2}, {1, 0, 1}},          // empty
      {{1000, 70}, {70}},              // large enough to run on several threads
      {{64, 1, 130}, {64, 130, 1}},
  };
}

}  // namespace mixq::test::ew
