#pragma once
// `tpu.Conv2D`: the lowered convolution. Integer form (lowering_spec §4.1, §5, §6): int8/uint8
// input padded with its zero point, int8/uint8 filter, int32 accumulation plus the int32 bias,
// then per channel apply_multiplier_and_rshift (BM168x MultiplierShift HalfUp, BM1684 OnlyShift,
// CV18xx QDM with a HalfAwayFromZero final shift) + the output zero point, relu at the zero
// point, saturation. Float form (F32/F16/BF16 lowering): top.Conv on the widened values.
#include <cstdint>
#include <optional>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/conv.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/kernels/int8/conv.hpp"
#include "mixq/kernels/int8/reference.hpp"

namespace mixq::tpu {

namespace detail {

inline int8::elem elem_of(dtype d, const char* op) {
  if (d == dtype::i8) return int8::elem::s8;
  if (d == dtype::u8) return int8::elem::u8;
  throw error(std::string(op) + ": integer operands must be int8 or uint8, not " + std::string(name(d)));
}

inline std::vector<std::int32_t> to_i32(const std::optional<std::vector<std::int64_t>>& v, const char* what, const char* op) {
  std::vector<std::int32_t> out;
  if (!v) return out;
  for (std::int64_t x : *v) {
    if (x < INT32_MIN || x > INT32_MAX) throw error(std::string(op) + ": " + what + " " + std::to_string(x) + " does not fit 32 bits");
    out.push_back(static_cast<std::int32_t>(x));
  }
  return out;
}

/// The round mode the interpreter applies with a requant mode (spec §4.1, §6): HalfUp for
/// BM168x multipliers and shifts, HalfAwayFromZero for CV18xx QDM's final shift.
inline quant::round_mode requant_rounding(quant::requant_mode m, quant::chip_family f) {
  return m == quant::requant_mode::qdm && f == quant::chip_family::cv18xx ? quant::round_mode::half_away_from_zero
                                                                          : quant::round_mode::half_up;
}

}  // namespace detail

struct conv2d_op {
  static constexpr std::string_view mnemonic = "tpu.Conv2D";
  static constexpr std::array operands{top::input("input"), top::weight("filter"), top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing;
  struct attributes {
    top::required<std::vector<std::int64_t>> kernel_shape;
    top::required<std::vector<std::int64_t>> strides;
    top::required<std::vector<std::int64_t>> pads;
    std::int64_t group = 1;
    std::optional<std::vector<std::int64_t>> dilations;
    std::optional<std::vector<std::int64_t>> inserts;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool with_bias = false;
    rq_mode_attr quant_mode;  // MultiplierShift
    std::optional<std::vector<std::int64_t>> multiplier;
    std::optional<std::vector<std::int64_t>> rshift;
    std::int64_t kernel_zp = 0;
  };

  static top::conv_op::attributes top_attributes(const attributes& a) {
    top::conv_op::attributes t;
    t.kernel_shape = a.kernel_shape;
    t.strides = a.strides;
    t.pads = a.pads;
    t.group = a.group;
    t.dilations = a.dilations;
    t.inserts = a.inserts;
    t.do_relu = a.do_relu;
    t.relu_limit = a.relu_limit;
    return t;
  }

  struct integer_state {
    int8::conv2d_geometry geometry;
    int8::packed_conv_filter filter;
    std::vector<std::uint8_t> filter_bytes;  // for the reference
    int8::elem in_type = int8::elem::s8;
    std::int32_t in_zero_point = 0;
    std::vector<std::int32_t> bias, multiplier, rshift;
    int8::requant_spec requant;
  };
  struct prepared {
    std::shared_ptr<const integer_state> integer;
    std::shared_ptr<const float_path<top::conv_op>> floating;
  };

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    auto shapes = top::conv_op::infer(c, top_attributes(a));
    auto declared = declared_results(c, "tpu.Conv2D");
    if (declared[0].shape != shapes[0].shape)
      throw error("tpu.Conv2D: declared result " + to_string(declared[0].shape) + " but the operands give " + to_string(shapes[0].shape));
    return declared;
  }

  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    const tensor_quant in = operand_quant(p, 0, "tpu.Conv2D"), out = result_quant(p, 0, "tpu.Conv2D");
    if (!in.integer) {
      s.floating = std::make_shared<float_path<top::conv_op>>(float_path<top::conv_op>::make(p, top_attributes(a)));
      return s;
    }
    if (!out.integer) throw error("tpu.Conv2D: an integer convolution must produce an integer tensor");
    const tensor* w = p.constant(1);
    if (!w) throw error("tpu.Conv2D: the integer form needs a constant filter");
    if (a.kernel_zp != 0) throw error("tpu.Conv2D: kernel_zp is not supported");
    const shape_t& x = p.operand_type(0)->shape;
    const shape_t& y = p.result_type(0)->shape;
    if (x.size() != 4 || a.kernel_shape->size() != 2) throw error("tpu.Conv2D: the integer form is 2-D (NCHW) only");
    auto st = std::make_shared<integer_state>();
    int8::conv2d_geometry& g = st->geometry;
    g.ic = x[1];
    g.ih = x[2];
    g.iw = x[3];
    g.oc = y[1];
    g.oh = y[2];
    g.ow = y[3];
    g.kh = (*a.kernel_shape)[0];
    g.kw = (*a.kernel_shape)[1];
    g.sh = (*a.strides).at(0);
    g.sw = (*a.strides).at(1);
    const auto dil = a.dilations.value_or(std::vector<std::int64_t>{1, 1});
    g.dh = dil.at(0);
    g.dw = dil.at(1);
    g.pad_top = (*a.pads).at(0);
    g.pad_left = (*a.pads).at(1);
    g.group = a.group;
    if (a.inserts && std::any_of(a.inserts->begin(), a.inserts->end(), [](std::int64_t v) { return v != 0; }))
      throw error("tpu.Conv2D: inserts are not supported in the integer form");
    st->in_type = detail::elem_of(in.storage, "tpu.Conv2D");
    st->in_zero_point = static_cast<std::int32_t>(in.zero_point);
    const int8::elem w_type = detail::elem_of(w->elem(), "tpu.Conv2D");
    st->filter_bytes.assign(reinterpret_cast<const std::uint8_t*>(w->raw()), reinterpret_cast<const std::uint8_t*>(w->raw()) + w->numel());
    st->filter = int8::pack_conv_filter(g, w->raw(), w_type);
    if (const tensor* b = p.constant(2)) {
      if (b->elem() != dtype::i32 && b->elem() != dtype::i16) throw error("tpu.Conv2D: the integer form's bias must be int32 (int16 on BM1684)");
      for (std::int64_t i = 0; i < b->numel(); ++i) st->bias.push_back(static_cast<std::int32_t>(int_at(*b, i)));
      if (static_cast<std::int64_t>(st->bias.size()) != g.oc) throw error("tpu.Conv2D: bias has " + std::to_string(st->bias.size()) + " values for " + std::to_string(g.oc) + " channels");
    }
    st->multiplier = detail::to_i32(a.multiplier, "multiplier", "tpu.Conv2D");
    st->rshift = detail::to_i32(a.rshift, "rshift", "tpu.Conv2D");
    int8::requant_spec& r = st->requant;
    r.mode = quant::parse_requant_mode(a.quant_mode.value);
    r.chip = family_of(p);
    r.round = detail::requant_rounding(r.mode, r.chip);
    r.multiplier = st->multiplier;
    r.rshift = st->rshift;
    r.channel_is_row = true;
    r.zero_point = static_cast<std::int32_t>(out.zero_point);
    r.relu = a.do_relu;
    r.out_type = detail::elem_of(out.storage, "tpu.Conv2D");
    int8::validate(r, g.oc);
    s.integer = st;
    return s;
  }

  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> consts;
    prepare_context p = prepare_view(k, consts);
    consts.assign(k.inputs.begin(), k.inputs.end());  // every operand counts as known here
    p.constants = consts;
    const prepared s = prepare(p, a);
    if (s.floating) return float_path<top::conv_op>::run_reference(k, top_attributes(a));
    const integer_state& st = *s.integer;
    const tensor& x = k.in(0);
    tensor& y = k.out(0);
    const auto batch = x.dim(0);
    std::vector<std::int32_t> acc(static_cast<std::size_t>(y.numel()));
    int8::reference::conv2d(st.geometry, batch, x.raw(), st.in_type, st.in_zero_point, st.filter_bytes.data(), st.filter.type,
                            st.bias.empty() ? nullptr : st.bias.data(), acc.data());
    const std::int64_t plane = st.geometry.oh * st.geometry.ow;
    for (std::int64_t i = 0; i < y.numel(); ++i)
      store_int(y, i, int8::requant_value(acc[static_cast<std::size_t>(i)], (i / plane) % st.geometry.oc, st.requant));
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) return s.floating->run(k, top_attributes(a));
    const integer_state& st = *s.integer;
    const tensor& x = k.in(0);
    tensor& y = k.out(0);
    int8::conv_output o;
    o.requant = &st.requant;
    o.q = y.raw();
    int8::conv2d(st.geometry, x.dim(0), x.raw(), st.in_type, st.in_zero_point, st.filter, st.bias.empty() ? nullptr : st.bias.data(), o,
                 k.threads());
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::conv2d_op::attributes, kernel_shape, strides, pads, group, dilations, inserts, do_relu, relu_limit,
                        with_bias, quant_mode, multiplier, rshift, kernel_zp);
