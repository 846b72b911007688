#pragma once
// `tpu.Cast`: between precisions. Float -> int8/uint8 quantizes with the result's scale and zero
// point (BM168x: round half away from zero of the float product with f32(1/s); CV18xx: bf16
// arithmetic, round half to even), int8 -> float dequantizes (BM168x in f32; CV18xx gives bf16),
// float -> float rounds to the narrower type. lowering_spec §1.5.
#include <cstdint>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/registry.hpp"
#include "mixq/dialect/tpu/common.hpp"

namespace mixq::tpu {

struct cast_op {
  static constexpr std::string_view mnemonic = "tpu.Cast";
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {
    round_mode_attr round_mode;  // HalfAwayFromZero
    bool with_scale = true;
  };
  struct prepared {
    tensor_quant in, out;
    quant::chip_family family = quant::chip_family::bm168x;
    float reciprocal = 1.f;
  };
  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.Cast");
    if (t[0].shape != c.operand(0).shape) throw error("tpu.Cast: result shape differs from the input's");
    return t;
  }
  static prepared prepare(const prepare_context& p, const attributes&) {
    prepared s;
    s.in = operand_quant(p, 0, "tpu.Cast");
    s.out = result_quant(p, 0, "tpu.Cast");
    s.family = family_of(p);
    if (s.out.integer && !s.in.integer) s.reciprocal = quant::cast_reciprocal(s.out.scale, s.in.expressed);
    if (s.in.integer && s.out.integer) throw error("tpu.Cast: integer to integer casts are requantizations (tpu.RequantInt), not casts");
    return s;
  }
  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    compute(k, a, prepare(prepare_view(k, none), a));
  }
  static void compute(kernel_context& k, const attributes&, const prepared& s) {
    const tensor& x = k.in(0);
    tensor& y = k.out(0);
    const std::int64_t n = x.numel();
    if (s.out.integer) {  // quantize
      const tensor xf = as_f32(x);
      const float* xp = xf.data<float>();
      if (s.family == quant::chip_family::cv18xx) {
        for (std::int64_t i = 0; i < n; ++i) store_int(y, i, quant::quantize_cv18xx<std::int8_t>(xp[i], s.out.scale));
        return;
      }
      if (y.elem() == dtype::u8) {
        auto* yp = y.data<std::uint8_t>();
        for (std::int64_t i = 0; i < n; ++i) yp[i] = quant::quantize_bm168x<std::uint8_t>(xp[i], s.reciprocal, s.out.zero_point, s.in.expressed);
      } else if (y.elem() == dtype::i8) {
        auto* yp = y.data<std::int8_t>();
        for (std::int64_t i = 0; i < n; ++i) yp[i] = quant::quantize_bm168x<std::int8_t>(xp[i], s.reciprocal, s.out.zero_point, s.in.expressed);
      } else {
        throw error("tpu.Cast: quantizing to " + std::string(name(y.elem())) + " is not supported");
      }
      return;
    }
    if (s.in.integer) {  // dequantize
      tensor f = tensor::empty(dtype::f32, x.shape());
      float* fp = f.data<float>();
      for (std::int64_t i = 0; i < n; ++i)
        fp[i] = s.family == quant::chip_family::cv18xx ? quant::dequantize_cv18xx(int_at(x, i), s.in.scale)
                                                       : quant::dequantize_bm168x(int_at(x, i), s.in.scale, s.in.zero_point);
      y = to_declared(f, k.out_type(0));
      return;
    }
    y = to_declared(as_f32(x), k.out_type(0));  // float -> float
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::cast_op::attributes, round_mode, with_scale);
