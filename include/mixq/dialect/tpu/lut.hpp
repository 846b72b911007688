#pragma once
// `tpu.Lut`: y = table[x & 0xff] (lowering_spec §4.9). The lowering builds the 256-entry table
// [1, 1, 1, 256] for Sigmoid, SiLU, GELU, HardSwish... (si8/ui8 entries for an int8 result; on
// bm1684x also f16/bf16/f32 entries when a float activation reads an int8 input, §3.1 step
// 10); the interpreter indexes it with the stored integer, negative values wrapping to 256 + x.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

struct lut_op {
  static constexpr std::string_view mnemonic = "tpu.Lut";
  static constexpr std::array operands{top::input("input"), top::weight("table")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::elementwise | trait::integer_ok;
  struct attributes {};

  static std::vector<tensor_type> infer(const infer_context& c, const attributes&) {
    auto t = declared_results(c, "tpu.Lut");
    if (t[0].shape != c.operand(0).shape)
      throw error("tpu.Lut: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    if (c.operand(1).numel() != 256) throw error("tpu.Lut: the table holds " + std::to_string(c.operand(1).numel()) + " values, not 256");
    if (!is_integer(c.operand(0).elem)) throw error("tpu.Lut: the input must be an integer tensor (the table index)");
    return t;
  }

  /// The table in the result's element type.
  static tensor table_for(const kernel_context& k) {
    const tensor& t = k.in(1);
    if (t.numel() != 256) throw error("tpu.Lut: the table holds " + std::to_string(t.numel()) + " values, not 256");
    return t.elem() == k.out_type(0).elem ? t : t.cast(k.out_type(0).elem);
  }

  static std::int64_t index_of(std::int64_t v) {
    const std::int64_t i = v < 0 ? v + 256 : v;
    if (i < 0 || i > 255) throw error("tpu.Lut: input value " + std::to_string(v) + " is outside the table's 256 entries");
    return i;
  }

  static void reference(kernel_context& k, const attributes&) {
    const tensor& x = k.in(0);
    const tensor table = table_for(k);
    tensor& y = k.out(0);
    const std::size_t es = size_of(y.elem());
    for (std::int64_t i = 0; i < x.numel(); ++i)
      std::memcpy(y.raw() + static_cast<std::size_t>(i) * es, table.raw() + static_cast<std::size_t>(index_of(int_at(x, i))) * es, es);
  }

  static void compute(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    if (x.elem() != dtype::i8 && x.elem() != dtype::u8) return reference(k, a);
    const tensor table = table_for(k);
    tensor& y = k.out(0);
    // an 8-bit index is its own byte: i8 -1 is byte 255, which is where the table keeps it
    const auto* xp = reinterpret_cast<const std::uint8_t*>(x.raw());
    const std::int64_t n = x.numel();
    const auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* tp = reinterpret_cast<const T*>(table.raw());
      T* yp = reinterpret_cast<T*>(y.raw());
      k.threads().parallel_for(n, detail::elementwise_grain, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) yp[i] = tp[xp[i]];
      });
    };
    switch (size_of(y.elem())) {
      case 1: run(std::uint8_t{}); break;
      case 2: run(std::uint16_t{}); break;
      case 4: run(std::uint32_t{}); break;
      default: reference(k, a);
    }
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::lut_op::attributes);
