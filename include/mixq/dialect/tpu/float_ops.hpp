#pragma once
// TPU ops that mixq runs in float only: the TOP ops the lowering keeps in F32/F16/BF16
// (lowering_spec §3.5, §4.13: LayerNorm and Interp always, Div, Max, Min, the constant forms,
// Clip, Reduce, the other normalisations and Deconv outside the INT8 tables of §4). Each is
// its TOP op through float_path, with TPU-MLIR's name and operand list (the lookup tables and
// buffers CV18xx/BM1684 append are accepted and never read). A quantized operand is an error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/activation.hpp"
#include "mixq/dialect/top/conv.hpp"
#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/dialect/top/norm.hpp"
#include "mixq/dialect/top/reduce.hpp"
#include "mixq/dialect/top/resize.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

namespace detail {
/// CV18xx's lookup tables after a normalisation's operands.
struct norm_table_operands {
  static constexpr std::array operands{top::optional_input("table"), top::optional_input("mantissa_table")};
};
struct reduce_table_operands {
  static constexpr std::array operands{top::optional_input("buffer"), top::optional_input("reciprocal_mantissa_table")};
};
}  // namespace detail

using layer_norm_op = float_only<top::layer_norm_op, "tpu.LayerNorm", detail::norm_table_operands>;
using group_norm_op = float_only<top::group_norm_op, "tpu.GroupNorm", detail::norm_table_operands>;
using instance_norm_op = float_only<top::instance_norm_op, "tpu.InstanceNorm", detail::norm_table_operands>;
using pixel_norm_op = float_only<top::pixel_norm_op, "tpu.PixelNorm", detail::norm_table_operands>;
using rms_norm_op = float_only<top::rms_norm_op, "tpu.RMSNorm">;
using reduce_op = float_only<top::reduce_op, "tpu.Reduce", detail::reduce_table_operands>;
using div_op = float_only<top::div_op, "tpu.Div">;
using max_op = float_only<top::max_op, "tpu.Max">;
using min_op = float_only<top::min_op, "tpu.Min">;
using max_const_op = float_only<top::max_const_op, "tpu.MaxConst">;
using min_const_op = float_only<top::min_const_op, "tpu.MinConst">;
using sub_const_op = float_only<top::sub_const_op, "tpu.SubConst">;
using mul_const_op = float_only<top::mul_const_op, "tpu.MulConst">;
using clip_op = float_only<top::clip_op, "tpu.Clip">;
using reciprocal_op = float_only<top::reciprocal_op, "tpu.Reciprocal">;
using deconv_op = float_only<top::deconv_op, "tpu.Deconv">;

using resize_mode_attr = top::dialect_enum<"tpu", "mode", "nearest", "linear">;
using resize_coord_mode_attr = top::dialect_enum<"tpu", "coord_mode", "align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric">;

/// `tpu.Interp`: operands (input, shapeT, buffer); attributes scale_h, scale_w, mode
/// (#tpu<mode nearest|linear>), coord_mode (#tpu<coord_mode X>). The declared result gives the
/// output size; top.Interp computes it.
struct interp_op {
  static constexpr std::string_view mnemonic = "tpu.Interp";
  static constexpr std::array operands{top::input("input"), top::optional_input("shapeT"), top::optional_input("buffer")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::none;
  struct attributes {
    top::required<double> scale_h;
    top::required<double> scale_w;
    top::required<resize_mode_attr> mode;
    top::required<resize_coord_mode_attr> coord_mode;
  };
  static top::interp_op::attributes top_attributes(const attributes& a) {
    top::interp_op::attributes t;
    t.mode = top::one_of<"nearest", "linear">(a.mode->value);
    t.coord_mode = top::one_of<"align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric">(a.coord_mode->value);
    t.scale_h = *a.scale_h;
    t.scale_w = *a.scale_w;
    return t;
  }
  using prepared = float_path<top::interp_op>;
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.Interp");
    const shape_t& in = c.operand(0).shape;
    const shape_t& out = t[0].shape;
    if (in.size() != out.size() || in.size() < 3)
      throw error("tpu.Interp: declared result " + to_string(out) + " does not resize input " + to_string(in) + " (same rank, at least 3 axes)");
    for (std::size_t d = 0; d + 2 < in.size(); ++d)
      if (in[d] != out[d]) throw error("tpu.Interp: only the two trailing axes may change size (" + to_string(in) + " -> " + to_string(out) + ")");
    return t;
  }
  static void check(std::span<const tensor_type* const> operands, const tensor_type& result) {
    if (detail::arithmetic_of("tpu.Interp", detail::prefix(operands, 1), result) != arithmetic::floating)
      throw error("tpu.Interp: mixq runs it only in float (lower it to F32, F16 or BF16)");
  }
  static prepared prepare(const prepare_context& p, const attributes& a) {
    check(p.operands, declared_result(p, "tpu.Interp"));
    return prepared::make(detail::trimmed(p, 1), top_attributes(a));
  }
  static void reference(kernel_context& k, const attributes& a) {
    if (!k.input_types.empty()) check(k.input_types, k.out_type(0));
    kernel_context t = detail::trimmed(k, 1);
    prepared::run_reference(t, top_attributes(a));
  }
  static void compute(kernel_context& k, const attributes& a, const prepared& p) {
    kernel_context t = detail::trimmed(k, 1);
    p.run(t, top_attributes(a));
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::interp_op::attributes, scale_h, scale_w, mode, coord_mode);
