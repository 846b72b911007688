#pragma once
// Unary nonlinearities.
#include <cmath>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

/// `top.Relu`: max(x, 0), clipped at relu_limit when it is positive.
struct relu_op {
  static constexpr std::string_view mnemonic = "top.Relu";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::activation | trait::quantizable;
  struct attributes {
    double relu_limit = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    tensor_type t = c.operand(0);
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    tensor& y = k.out();
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      float v = xp[i] > 0.f ? xp[i] : 0.f;
      if (a.relu_limit > 0 && v > a.relu_limit) v = static_cast<float>(a.relu_limit);
      yp[i] = v;
    }
  }
};

using activation_ops = op_list<relu_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::relu_op::attributes, relu_limit);
