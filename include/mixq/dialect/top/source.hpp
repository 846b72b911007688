#pragma once
// Ops that produce values without computing: None, Input, Weight.
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"

namespace mixq::top {

/// `top.None`: the absent optional operand.
struct none_op {
  static constexpr std::string_view mnemonic = "top.None";
  static constexpr std::array<operand_desc, 0> operands{};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::source;
  struct attributes {};
  static std::vector<tensor_type> infer(const infer_context&, const attributes&) { return {tensor_type::none()}; }
  static void reference(kernel_context&, const attributes&) {}
};

/// `top.Input`: one graph argument. The preprocessing attributes describe how images become
/// this tensor (applied by the data loaders); the op itself passes its input through.
struct input_op {
  static constexpr std::string_view mnemonic = "top.Input";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::source | trait::integer_ok;
  struct attributes {
    std::optional<std::vector<std::int64_t>> shape_tensor;
    bool do_preprocess = false;
    std::optional<one_of<"rgb", "bgr", "gray", "rgba", "gbrg", "grbg", "bggr", "rggb">> pixel_format;
    std::optional<one_of<"nchw", "nhwc">> channel_format;
    std::optional<std::vector<std::int64_t>> resize_dims;
    std::optional<bool> keep_aspect_ratio;
    std::optional<std::string> keep_ratio_mode;
    std::optional<std::int64_t> pad_value;
    std::optional<one_of<"normal", "center">> pad_type;
    std::optional<std::vector<double>> scale;
    std::optional<std::vector<double>> mean;
    std::optional<std::string> customization_format;
    std::optional<bool> aligned;
    std::optional<std::string> yuv_type;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    tensor_type t = c.operand(0);
    t.quant.clear();
    return {t};
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `top.Weight`: a named constant whose data lives in the weight npz under the op's name.
/// The interpreter binds the data; the op never runs a kernel.
struct weight_op {
  static constexpr std::string_view mnemonic = "top.Weight";
  static constexpr std::array<operand_desc, 0> operands{};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::source | trait::integer_ok;
  struct attributes {
    std::optional<std::vector<double>> scale;
    std::optional<one_of<"1N", "2N", "4N">> store_mode;
    std::optional<std::vector<std::int64_t>> allow_split;
    std::optional<bool> do_compress;
    std::optional<std::int64_t> bias0;
    std::optional<std::int64_t> bias1;
    std::optional<bool> is_signed;
    std::optional<bool> zero_guard;
    std::optional<std::string> inline_bytes;
  };
  static std::vector<tensor_type> infer(const infer_context&, const attributes&) {
    throw error("top.Weight has no operands; its type comes from the graph");
  }
  static void reference(kernel_context&, const attributes&) {}
};

using source_ops = op_list<none_op, input_op, weight_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::none_op::attributes);
BOOST_HANA_ADAPT_STRUCT(mixq::top::input_op::attributes, shape_tensor, do_preprocess, pixel_format, channel_format,
                        resize_dims, keep_aspect_ratio, keep_ratio_mode, pad_value, pad_type, scale, mean,
                        customization_format, aligned, yuv_type);
BOOST_HANA_ADAPT_STRUCT(mixq::top::weight_op::attributes, scale, store_mode, allow_split, do_compress, bias0, bias1,
                        is_signed, zero_guard, inline_bytes);
