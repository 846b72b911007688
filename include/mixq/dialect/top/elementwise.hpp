#pragma once
// Element-wise binary arithmetic with numpy broadcasting.
#include <optional>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/top/shape_utils.hpp"

namespace mixq::top {

namespace detail {
inline float apply_relu(float v, bool do_relu, double limit) {
  if (!do_relu) return v;
  v = v < 0.f ? 0.f : v;
  return limit > 0 && v > limit ? static_cast<float>(limit) : v;
}

/// Broadcast shape of every operand.
inline std::vector<tensor_type> infer_broadcast(const infer_context& c) {
  shape_t s = c.operand(0).shape;
  for (std::size_t i = 1; i < c.operands.size(); ++i) s = broadcast_shapes(s, c.operand(i).shape);
  return {tensor_type{c.operand(0).elem, s}};
}
}  // namespace detail

/// `top.Add`: out = sum_i coeff_i * in_i (coeff defaults to 1), optional fused relu.
struct add_op {
  static constexpr std::string_view mnemonic = "top.Add";
  static constexpr std::array operands{variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::broadcast | trait::quantizable | trait::commutative;
  struct attributes {
    bool do_relu = false;
    double relu_limit = -1.0;
    std::optional<std::vector<double>> coeff;
    bool is_scalar = false;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return detail::infer_broadcast(c); }
  static void reference(kernel_context& k, const attributes& a) {
    tensor& out = k.out();
    float* o = out.data<float>();
    std::fill(o, o + out.numel(), 0.f);
    for (std::size_t i = 0; i < k.num_inputs(); ++i) {
      const tensor& x = k.in(i);
      const float c = a.coeff && i < a.coeff->size() ? static_cast<float>((*a.coeff)[i]) : 1.f;
      const float* xp = x.data<float>();
      for_each_broadcast_row(out.shape(), x.shape(), x.shape(), [&](std::int64_t oo, std::int64_t xo, std::int64_t xs,
                                                                    std::int64_t, std::int64_t, std::int64_t n) {
        for (std::int64_t j = 0; j < n; ++j) o[oo + j] += c * xp[xo + j * xs];
      });
    }
    for (std::int64_t j = 0; j < out.numel(); ++j) o[j] = detail::apply_relu(o[j], a.do_relu, a.relu_limit);
  }
};

using elementwise_ops = op_list<add_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::add_op::attributes, do_relu, relu_limit, coeff, is_scalar);
