#pragma once
// Small helpers for the ops_nn tests.
#include <vector>

#include "op_harness.hpp"

namespace mixq::test {

inline tensor f32(shape_t s, std::vector<float> v) { return tensor::from_vector<float>(std::move(s), v); }

inline std::vector<float> vals(const tensor& t) { return {t.values<float>().begin(), t.values<float>().end()}; }

inline void require_values(const tensor& t, const std::vector<float>& expected, double tol = 1e-5) {
  REQUIRE(t.numel() == static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    REQUIRE(std::abs(static_cast<double>(t.values<float>()[i]) - expected[i]) <= tol * (1 + std::abs(expected[i])));
  }
}

}  // namespace mixq::test
