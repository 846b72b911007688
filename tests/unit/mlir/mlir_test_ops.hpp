#pragma once
// Small stand-ins for ops other engineers are writing (Conv, Split, SiLU) plus a zero-result op, so the
// reader's multi-result and optional-operand paths can be tested with a registry of our own.
#include <optional>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_list.hpp"

namespace mlirio_test {
using namespace mixq;
using namespace mixq::top;

struct split_op {
  static constexpr std::string_view mnemonic = "top.Split";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = variadic_results;
  static constexpr std::uint32_t traits = trait::shape_only;
  struct attributes {
    required<std::int64_t> axis;
    required<std::int64_t> num;
    std::optional<std::vector<std::int64_t>> split_size;
  };
  static std::vector<tensor_type> infer(const infer_context&, const attributes&) { return {}; }
  static void reference(kernel_context&, const attributes&) {}
};

struct conv_op {
  static constexpr std::string_view mnemonic = "top.Conv";
  static constexpr std::array operands{top::input("input"), top::weight("filter"), top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing;
  struct attributes {
    required<std::vector<std::int64_t>> kernel_shape;
    std::vector<std::int64_t> strides{1, 1};
    std::vector<std::int64_t> pads{0, 0, 0, 0};
    std::int64_t group = 1;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static std::vector<tensor_type> infer(const infer_context&, const attributes&) { return {}; }
  static void reference(kernel_context&, const attributes&) {}
};

struct silu_op {
  static constexpr std::string_view mnemonic = "top.SiLU";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::activation;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) { return {c.operand(0)}; }
  static void reference(kernel_context&, const attributes&) {}
};

/// No results: exercises `"test.Sink"(%x) : (...) -> ()`.
struct sink_op {
  static constexpr std::string_view mnemonic = "test.Sink";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 0;
  static constexpr std::uint32_t traits = 0;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context&, const attributes&) { return {}; }
  static void reference(kernel_context&, const attributes&) {}
};

inline const registry& test_ops() {
  static const registry r =
      registry::from(op_list<none_op, input_op, weight_op, add_op, relu_op, split_op, conv_op, silu_op, sink_op>{});
  return r;
}

}  // namespace mlirio_test

BOOST_HANA_ADAPT_STRUCT(mlirio_test::split_op::attributes, axis, num, split_size);
BOOST_HANA_ADAPT_STRUCT(mlirio_test::conv_op::attributes, kernel_shape, strides, pads, group, do_relu, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mlirio_test::silu_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mlirio_test::sink_op::attributes);
