#pragma once
// Helpers for the shape-op tests: tensors of any dtype, exact comparisons, both kernels at once.
#include <cstring>
#include <string>
#include <vector>

#include "op_harness.hpp"

namespace mixq::test {

/// 0, 1, 2, ... (mod 2 for bool, wrapped for narrow types) in any dtype: every element differs
/// from its neighbours, so a misplaced element shows.
inline tensor iota(dtype dt, shape_t shape, double start = 0) {
  tensor f = tensor::empty(dtype::f64, std::move(shape));
  double* p = f.data<double>();
  for (std::int64_t i = 0; i < f.numel(); ++i) {
    double v = start + static_cast<double>(i);
    if (dt == dtype::boolean) v = static_cast<double>(i % 2);
    else if (dt == dtype::i8 || dt == dtype::u8) v = static_cast<double>(static_cast<std::int64_t>(v) % 100);
    else if (dt == dtype::f16 || dt == dtype::bf16) v = static_cast<double>(static_cast<std::int64_t>(v) % 200);
    p[i] = v;
  }
  return f.cast(dt);
}

inline tensor floats(shape_t shape, std::vector<float> v) { return tensor::from_vector<float>(std::move(shape), v); }
inline tensor ints(shape_t shape, std::vector<std::int64_t> v) { return tensor::from_vector<std::int64_t>(std::move(shape), v); }

inline std::vector<double> as_doubles(const tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = element_as_double(t, i);
  return v;
}

/// Same dtype, shape and bytes.
inline void require_identical(const tensor& a, const tensor& b) {
  REQUIRE(a.elem() == b.elem());
  REQUIRE(a.shape() == b.shape());
  REQUIRE(a.nbytes() == b.nbytes());
  const bool same = a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
  if (!same) {
    std::int64_t at = -1;
    const std::size_t es = size_of(a.elem());
    for (std::int64_t i = 0; i < a.numel() && at < 0; ++i)
      if (std::memcmp(a.raw() + static_cast<std::size_t>(i) * es, b.raw() + static_cast<std::size_t>(i) * es, es)) at = i;
    INFO("first difference at element " << at << ": " << element_as_double(a, at) << " vs " << element_as_double(b, at));
    REQUIRE(same);
  }
}

/// Runs reference and compute and requires byte-identical results; returns the reference run.
inline op_run both_kernels(std::string_view mnemonic, const std::vector<tensor>& inputs, const attr_dict& a = {},
                           std::vector<std::size_t> constants = {}, std::size_t num_results = 1) {
  auto ref = run_op(mnemonic, inputs, a, true, constants, num_results);
  auto fast = run_op(mnemonic, inputs, a, false, constants, num_results);
  REQUIRE(ref.outputs.size() == fast.outputs.size());
  for (std::size_t i = 0; i < ref.outputs.size(); ++i) {
    REQUIRE(ref.outputs[i].shape() == ref.types[i].shape);
    require_identical(fast.outputs[i], ref.outputs[i]);
  }
  return ref;
}

/// Shape inference only.
inline std::vector<tensor_type> infer_types(std::string_view mnemonic, const std::vector<tensor_type>& in,
                                            const attr_dict& a = {}, std::size_t num_results = 1,
                                            const std::vector<tensor_type>& declared = {}) {
  const top::op_info& info = top::ops().at(mnemonic);
  top::attr_ptr decoded = info.decode(a);
  std::vector<const tensor_type*> ptrs;
  std::vector<const tensor*> consts(in.size(), nullptr);
  for (const auto& t : in) ptrs.push_back(&t);
  return info.infer(top::infer_context{ptrs, consts, num_results, declared}, decoded.get());
}

inline attribute si32v(std::int64_t v) { return attribute(int_attr{v, "si32"}); }
inline attribute boolean(bool v) { return attribute(v); }

inline std::vector<shape_t> odd_shapes(std::size_t rank) {
  std::vector<shape_t> out;
  for (int k = 0; k < 3; ++k) {
    shape_t s(rank);
    for (auto& d : s) d = random_int(1, rank > 4 ? 4 : 7);
    out.push_back(s);
  }
  return out;
}

}  // namespace mixq::test
