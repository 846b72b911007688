#pragma once
// Data movement in a lowered model, in any element type (int8 stays int8, f16 stays f16): the
// TOP ops' kernels run on the stored values with the declared result type (lowering_spec
// §4.11, §4.12). TPU-MLIR's operand lists are kept, buffers included (`none` in lowered files).
//   tpu.Reshape (input, buffer?), tpu.Permute (input, buffer), tpu.Slice (input, offsetT, endsT,
//   stepsT, buffer), tpu.Squeeze, tpu.Unsqueeze, tpu.Depth2Space, tpu.Reverse,
//   tpu.ShuffleChannel, tpu.SwapChannel (input), tpu.Tile (input, tileT, buffer), tpu.Gather
//   (input, indices, buffer), tpu.Pad (input, paddingsT, left_select, right_select, buffer;
//   `val` already in the stored domain, round(val / s + zp) being the lowering's job),
//   tpu.Upsample (input; nearest, fused relu), tpu.Concat (inputs; CV18xx requantizes an input
//   whose multiplier/rshift is not (1, 0) first, the BM168x lowering inserts tpu.MulShift).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/resize.hpp"
#include "mixq/dialect/top/shape_ops.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

namespace detail {
struct input_operand {
  static constexpr std::array operands{top::input("input")};
};
struct input_buffer_operands {
  static constexpr std::array operands{top::input("input"), top::optional_input("buffer")};
};
struct slice_operands {
  static constexpr std::array operands{top::input("input"), top::optional_input("offsetT"), top::optional_input("endsT"),
                                       top::optional_input("stepsT"), top::optional_input("buffer")};
};
struct tile_operands {
  static constexpr std::array operands{top::input("input"), top::optional_input("tileT"), top::optional_input("buffer")};
};
struct gather_operands {
  static constexpr std::array operands{top::input("input"), top::input("indices"), top::optional_input("buffer")};
};

/// The declared result of an op that moves values: same element type as operand 0.
inline std::vector<tensor_type> declared_move(const infer_context& c, const char* op, const shape_t& shape) {
  auto t = declared_results(c, op);
  if (t[0].shape != shape) throw error(std::string(op) + ": declared result " + to_string(t[0].shape) + " but the operands give " + to_string(shape));
  if (t[0].elem != c.operand(0).elem)
    throw error(std::string(op) + ": moves " + std::string(name(c.operand(0).elem)) + " values but declares a " + std::string(name(t[0].elem)) +
                " result (data movement keeps the element type)");
  return t;
}

/// max(v, 0), then relu_limit when positive, on any numeric tensor.
inline void relu_in_place(tensor& t, double limit) {
  visit_dtype(t.elem(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      T* p = reinterpret_cast<T*>(t.raw());
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        double v = std::max(to_double(p[i]), 0.0);
        if (limit > 0 && v > limit) v = limit;
        p[i] = from_double<T>(v);
      }
    }
  });
}
}  // namespace detail

using permute_op = move_op<top::permute_op, "tpu.Permute", detail::input_buffer_operands>;
using slice_op = move_op<top::slice_op, "tpu.Slice", detail::slice_operands>;
using squeeze_op = move_op<top::squeeze_op, "tpu.Squeeze", detail::input_operand>;
using unsqueeze_op = move_op<top::unsqueeze_op, "tpu.Unsqueeze", detail::input_operand>;
using depth2space_op = move_op<top::depth2space_op, "tpu.Depth2Space", detail::input_operand>;
using tile_op = move_op<top::tile_op, "tpu.Tile", detail::tile_operands>;
using reverse_op = move_op<top::reverse_op, "tpu.Reverse", detail::input_operand>;
using shuffle_channel_op = move_op<top::shuffle_channel_op, "tpu.ShuffleChannel", detail::input_operand>;
using swap_channel_op = move_op<top::swap_channel_op, "tpu.SwapChannel", detail::input_operand>;
using gather_op = move_op<top::gather_op, "tpu.Gather", detail::gather_operands>;

/// `tpu.Reshape`: the declared result shape (TPU-MLIR keeps `shape = []` once shapes are
/// inferred); the values are shared, not copied.
struct reshape_op {
  static constexpr std::string_view mnemonic = "tpu.Reshape";
  static constexpr std::array operands{top::input("input"), top::optional_input("buffer")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::shape_only | trait::integer_ok;
  struct attributes {
    std::vector<std::int64_t> shape{};
    std::int64_t flatten_start_dim = -1;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    const tensor_type* d = c.declared(0);
    if (!d) throw error("tpu.Reshape: a TPU op's result type must be given (it carries the quantization)");
    if (d->numel() != c.operand(0).numel())
      throw error("tpu.Reshape: cannot reshape " + to_string(c.operand(0).shape) + " to " + to_string(d->shape));
    return detail::declared_move(c, "tpu.Reshape", d->shape);
  }
  static void reference(kernel_context& k, const attributes&) { k.alias(0, k.in(0)); }
};

/// `tpu.Pad`'s mode as a TPU dialect enum.
using pad_mode_attr = top::dialect_enum<"tpu", "Pad_Mode", "constant", "reflect", "symmetric", "edge">;

struct pad_op {
  static constexpr std::string_view mnemonic = "tpu.Pad";
  static constexpr std::array operands{top::input("input"), top::optional_input("paddingsT"), top::optional_input("left_select"),
                                       top::optional_input("right_select"), top::optional_input("buffer")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::shape_only | trait::integer_ok;
  struct attributes {
    top::required<std::vector<std::int64_t>> paddings;
    double val = 0.0;
    pad_mode_attr mode;  // constant
  };
  static top::pad_op::attributes top_attributes(const attributes& a) {
    top::pad_op::attributes t;
    t.paddings = a.paddings;
    t.val = a.val;
    t.mode = top::one_of<"constant", "reflect", "symmetric", "edge">(a.mode.value);
    return t;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto shapes = top::pad_op::infer(detail::trimmed(c, 2), top_attributes(a));
    return detail::declared_move(c, "tpu.Pad", shapes[0].shape);
  }
  static void reference(kernel_context& k, const attributes& a) {
    kernel_context t = detail::trimmed(k, 2);
    top::pad_op::reference(t, top_attributes(a));
  }
  static void compute(kernel_context& k, const attributes& a) {
    kernel_context t = detail::trimmed(k, 2);
    top::pad_op::compute(t, top_attributes(a));
  }
};

/// `tpu.Upsample`: nearest, out[h][w] = in[h / scale_h][w / scale_w] over the two trailing axes,
/// then the fused relu.
struct upsample_op {
  static constexpr std::string_view mnemonic = "tpu.Upsample";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::shape_only | trait::integer_ok;
  struct attributes {
    top::required<std::int64_t> scale_h;
    top::required<std::int64_t> scale_w;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static top::upsample_op::attributes top_attributes(const attributes& a) {
    top::upsample_op::attributes t;
    t.scale_h = a.scale_h;
    t.scale_w = a.scale_w;
    return t;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto shapes = top::upsample_op::infer(c, top_attributes(a));
    return detail::declared_move(c, "tpu.Upsample", shapes[0].shape);
  }
  struct plan {
    std::int64_t planes, ih, iw, sh, sw;
    std::size_t es;
  };
  static plan plan_of(const tensor& x, const attributes& a) {
    const auto ax = top::detail::resize_axes(mnemonic, x.shape());
    plan p{};
    p.ih = ax.h >= 0 ? x.dim(static_cast<std::size_t>(ax.h)) : 1;
    p.iw = x.dim(static_cast<std::size_t>(ax.w));
    p.planes = p.ih * p.iw != 0 ? x.numel() / (p.ih * p.iw) : 0;
    p.sh = *a.scale_h;
    p.sw = *a.scale_w;
    p.es = size_of(x.elem());
    return p;
  }
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    tensor& y = k.out(0);
    const plan p = plan_of(x, a);
    const std::int64_t oh = p.ih * p.sh, ow = p.iw * p.sw;
    for (std::int64_t n = 0; n < p.planes; ++n)
      for (std::int64_t h = 0; h < oh; ++h)
        for (std::int64_t w = 0; w < ow; ++w)
          std::memcpy(y.raw() + static_cast<std::size_t>((n * oh + h) * ow + w) * p.es,
                      x.raw() + static_cast<std::size_t>((n * p.ih + h / p.sh) * p.iw + w / p.sw) * p.es, p.es);
    if (a.do_relu) detail::relu_in_place(y, a.relu_limit);
  }
  /// Each output row is built once from its input row and copied to its scale_h - 1 twins.
  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    tensor& y = k.out(0);
    const plan p = plan_of(x, a);
    const std::int64_t oh = p.ih * p.sh, ow = p.iw * p.sw;
    const std::size_t es = p.es, row_bytes = static_cast<std::size_t>(ow) * es;
    k.threads().parallel_for(p.planes * p.ih, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(ow * p.sh, 1)), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        const std::byte* src = x.raw() + static_cast<std::size_t>(r * p.iw) * es;
        std::byte* dst = y.raw() + static_cast<std::size_t>(((r / p.ih) * oh + (r % p.ih) * p.sh) * ow) * es;
        std::byte* out = dst;
        for (std::int64_t i = 0; i < p.iw; ++i)
          for (std::int64_t j = 0; j < p.sw; ++j, out += es) std::memcpy(out, src + static_cast<std::size_t>(i) * es, es);
        for (std::int64_t c = 1; c < p.sh; ++c) std::memcpy(dst + static_cast<std::size_t>(c) * row_bytes, dst, row_bytes);
      }
    });
    if (a.do_relu) detail::relu_in_place(y, a.relu_limit);
  }
};

/// `tpu.Concat`: operands (inputs...); attributes axis, only_merge, multipliers/rshifts
/// (CV18xx), do_relu, relu_limit.
struct concat_op {
  static constexpr std::string_view mnemonic = "tpu.Concat";
  static constexpr std::array operands{top::variadic_input("inputs")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::shape_only | trait::integer_ok;
  struct attributes {
    top::required<top::si32> axis;
    bool only_merge = false;
    std::optional<std::vector<std::int64_t>> multipliers;
    std::optional<std::vector<std::int64_t>> rshifts;
    bool do_relu = false;
    double relu_limit = -1.0;
  };
  static top::concat_op::attributes top_attributes(const attributes& a) {
    top::concat_op::attributes t;
    t.axis = *a.axis;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    return t;
  }
  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto shapes = top::concat_op::infer(c, top_attributes(a));
    return detail::declared_move(c, "tpu.Concat", shapes[0].shape);
  }
  /// CV18xx's per-input requant, as the inputs to concatenate (unchanged ones are shared).
  static std::vector<tensor> inputs(const kernel_context& k, const attributes& a, bool reference) {
    std::vector<tensor> in;
    for (std::size_t i = 0; i < k.num_inputs(); ++i) in.push_back(k.in(i));
    if (family_of(k.module) != quant::chip_family::cv18xx || !is_uniform(k.out_type(0))) return in;
    const std::size_t n = in.size();
    for (const auto* v : {&a.multipliers, &a.rshifts})
      if (*v && !(*v)->empty() && (*v)->size() != n)
        throw error("tpu.Concat: multipliers/rshifts hold " + std::to_string((*v)->size()) + " values for " + std::to_string(n) + " inputs");
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t m = detail::pick_value(a.multipliers, i, 1), r = detail::pick_value(a.rshifts, i, 0);
      if (m == 1 && r == 0) continue;
      const auto f = [m, r](std::int64_t x) {
        return quant::apply_multiplier_and_rshift(x, m, r, quant::requant_mode::multiplier_shift, quant::round_mode::half_up,
                                                  quant::chip_family::cv18xx);
      };
      tensor t = tensor::empty(k.out_type(0).elem, in[i].shape());
      if (reference) {
        map_integers_reference(in[i], t, f);
      } else {
        map_integers(k.threads(), in[i], t, f, "tpu.Concat");
      }
      in[i] = t;
    }
    return in;
  }
  static void run(kernel_context& k, const attributes& a, bool reference) {
    const std::vector<tensor> in = inputs(k, a, reference);
    std::vector<const tensor*> ptrs;
    for (const tensor& t : in) ptrs.push_back(&t);
    kernel_context t{ptrs, k.outputs, k.output_types, k.pool, k.input_types, k.module};
    if (reference) top::concat_op::reference(t, top_attributes(a));
    else top::concat_op::compute(t, top_attributes(a));
  }
  static void reference(kernel_context& k, const attributes& a) { run(k, a, true); }
  static void compute(kernel_context& k, const attributes& a) { run(k, a, false); }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::reshape_op::attributes, shape, flatten_start_dim);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::pad_op::attributes, paddings, val, mode);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::upsample_op::attributes, scale_h, scale_w, do_relu, relu_limit);
BOOST_HANA_ADAPT_STRUCT(mixq::tpu::concat_op::attributes, axis, only_merge, multipliers, rshifts, do_relu, relu_limit);
