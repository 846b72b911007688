#pragma once
// `tpu.Softmax`: integer form with the f32 exp table (lowering_spec §4.10), float form through
// top.Softmax. Operands (input, table, slope_table, reciprocal_table, reciprocal_mantissa_table,
// buffer); the integer form reads the input and table[i] = exp(-s_in * i * beta) only.
//
// Per softmax row (the values along `axis`), as TPU-MLIR's interpreter computes it:
//   d_c = min(max_x - x_c, 255); sum = sum of table[d_c] over c in order, in float;
//   p_c = table[d_c] / (sum * f32(s_out)) in float;
//   int8 result: saturate(round(p_c) + zp_out); uint8: saturate(int(p_c + 0.5) + zp_out).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/reduce.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

struct softmax_op {
  static constexpr std::string_view mnemonic = "tpu.Softmax";
  static constexpr std::array operands{top::input("input"),
                                       top::optional_weight("table"),
                                       top::optional_input("slope_table"),
                                       top::optional_input("reciprocal_table"),
                                       top::optional_input("reciprocal_mantissa_table"),
                                       top::optional_input("buffer")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::none;
  struct attributes {
    top::required<top::si32> axis;
    bool log = false;
    double beta = 1.0;
    round_mode_attr round_mode;  // HalfAwayFromZero (the interpreter does not read it)
  };
  static top::softmax_op::attributes top_attributes(const attributes& a) {
    top::softmax_op::attributes t;
    t.axis = a.axis;
    t.log = a.log;
    t.beta = a.beta;
    return t;
  }

  /// outer x channels x inner of the softmax rows, and the output quantization.
  struct integer_state {
    std::int64_t outer = 1, channels = 1, inner = 1;
    float out_scale = 1.f;
    std::int64_t out_zp = 0;
    bool signed_result = true;

    std::int64_t quantize(float p) const {
      if (signed_result) return static_cast<std::int64_t>(std::round(p)) + out_zp;
      return static_cast<std::int64_t>(static_cast<double>(p) + 0.5) + out_zp;
    }
  };
  struct prepared {
    bool integer = false;
    integer_state state;
    std::shared_ptr<const float_path<top::softmax_op>> floating;
  };

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    top::normalize_axis(a.axis->value, c.operand(0).shape.size());
    auto t = declared_results(c, "tpu.Softmax");
    if (t[0].shape != c.operand(0).shape)
      throw error("tpu.Softmax: declared result " + to_string(t[0].shape) + " but the input is " + to_string(c.operand(0).shape));
    return t;
  }

  static integer_state make_integer(const prepare_context& p, const attributes& a) {
    const tensor_quant in = operand_quant(p, 0, "tpu.Softmax"), out = result_quant(p, 0, "tpu.Softmax");
    if (!in.integer || !out.integer) throw error("tpu.Softmax: the integer form needs an integer input and result");
    if (a.log) throw error("tpu.Softmax: log-softmax has no integer form (TPU-MLIR lowers it to F16)");
    const tensor_type* table = detail::present(p.operands, 1);
    if (!table || table->elem != dtype::f32 || table->numel() < 256)
      throw error("tpu.Softmax: the integer form needs the f32 exp table of 256 entries as operand 1");
    if (out.storage != dtype::i8 && out.storage != dtype::u8) throw error("tpu.Softmax: the integer result must be int8 or uint8");
    integer_state s;
    const shape_t& x = p.operand_type(0)->shape;
    const auto axis = static_cast<std::size_t>(top::normalize_axis(a.axis->value, x.size()));
    for (std::size_t d = 0; d < x.size(); ++d) (d < axis ? s.outer : d == axis ? s.channels : s.inner) *= x[d];
    s.out_scale = static_cast<float>(out.scale);
    s.out_zp = out.zero_point;
    s.signed_result = out.storage == dtype::i8;
    return s;
  }

  static prepared prepare(const prepare_context& p, const attributes& a) {
    prepared s;
    const arithmetic how = detail::arithmetic_of("tpu.Softmax", detail::prefix(p.operands, 1), declared_result(p, "tpu.Softmax"));
    if (how == arithmetic::floating) {
      s.floating = std::make_shared<float_path<top::softmax_op>>(float_path<top::softmax_op>::make(detail::trimmed(p, 1), top_attributes(a)));
    } else {
      s.integer = true;
      s.state = make_integer(p, a);
    }
    return s;
  }

  static void integer_reference(const integer_state& s, kernel_context& k) {
    const tensor& x = k.in(0);
    const float* table = k.in(1).data<float>();
    tensor& y = k.out(0);
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t j = 0; j < s.inner; ++j) {
        const std::int64_t base = o * s.channels * s.inner + j;
        std::int64_t max_x = int_at(x, base);
        for (std::int64_t c = 1; c < s.channels; ++c) max_x = std::max(max_x, int_at(x, base + c * s.inner));
        float sum = 0.f;
        for (std::int64_t c = 0; c < s.channels; ++c) sum += table[std::min<std::int64_t>(max_x - int_at(x, base + c * s.inner), 255)];
        for (std::int64_t c = 0; c < s.channels; ++c) {
          const float p = table[std::min<std::int64_t>(max_x - int_at(x, base + c * s.inner), 255)] / (sum * s.out_scale);
          store_int(y, base + c * s.inner, s.quantize(p));
        }
      }
  }

  /// Rows split over the pool; each row's sum is taken in channel order, like the reference.
  template <class X, class Y>
  static void integer_fast(const integer_state& s, kernel_context& k) {
    const X* xp = reinterpret_cast<const X*>(k.in(0).raw());
    const float* table = k.in(1).data<float>();
    Y* yp = reinterpret_cast<Y*>(k.out(0).raw());
    const std::int64_t rows = s.outer * s.inner;
    k.threads().parallel_for(rows, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(s.channels, 1)), [&](std::int64_t b, std::int64_t e) {
      std::vector<float> t(static_cast<std::size_t>(s.channels));
      for (std::int64_t r = b; r < e; ++r) {
        const std::int64_t base = (r / s.inner) * s.channels * s.inner + r % s.inner;
        int max_x = xp[base];
        for (std::int64_t c = 1; c < s.channels; ++c) max_x = std::max<int>(max_x, xp[base + c * s.inner]);
        float sum = 0.f;
        for (std::int64_t c = 0; c < s.channels; ++c) {
          t[static_cast<std::size_t>(c)] = table[std::min(max_x - static_cast<int>(xp[base + c * s.inner]), 255)];
          sum += t[static_cast<std::size_t>(c)];
        }
        const float denominator = sum * s.out_scale;
        for (std::int64_t c = 0; c < s.channels; ++c)
          yp[base + c * s.inner] = quant::saturate<Y>(s.quantize(t[static_cast<std::size_t>(c)] / denominator));
      }
    });
  }

  static void reference(kernel_context& k, const attributes& a) {
    std::vector<const tensor*> none;
    const prepare_context p = prepare_view(k, none);
    const arithmetic how = detail::arithmetic_of("tpu.Softmax", detail::prefix(p.operands, 1), k.out_type(0));
    if (how == arithmetic::floating) {
      kernel_context t = detail::trimmed(k, 1);
      return float_path<top::softmax_op>::run_reference(t, top_attributes(a));
    }
    integer_reference(make_integer(p, a), k);
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.floating) {
      kernel_context t = detail::trimmed(k, 1);
      return s.floating->run(t, top_attributes(a));
    }
    bool done = false;
    detail::visit_byte(k.in(0).elem(), [&](auto xt) {
      detail::visit_byte(k.out(0).elem(), [&](auto yt) {
        integer_fast<decltype(xt), decltype(yt)>(s.state, k);
        done = true;
      });
    });
    if (!done) integer_reference(s.state, k);
  }
};

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::softmax_op::attributes, axis, log, beta, round_mode);
