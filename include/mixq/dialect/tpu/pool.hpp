#pragma once
// `tpu.Pool2D` / `tpu.Pool1D` with `pool_mode = #tpu<pool_mode Avg|Max>`: the lowered AvgPool
// and MaxPool (lowering_spec §4.6, §4.7, §5, §6).
//
// Integer average: TPU-MLIR's interpreter averages the stored integers in float (oneDNN), the
// padding materialised with the input zero point (and then always counted) when that zero point
// is not 0, otherwise counted only with count_include_pad. From that float average:
//   multiplier/rshift (symmetric): v = to_int(f32(f32(avg * kh) * kw)) (HalfAwayFromZero, HalfUp
//     on CV18xx), q = apply_multiplier_and_rshift(v, m, r) - v is the window sum whenever every
//     tap is counted, round(sum * kh * kw / count) at a border without count_include_pad;
//   neither (symmetric): q = round(avg);
//   module.asymmetric: q = round_mode(f32(f32(f32(avg * kh) * kw) * scale + offset)).
// Sums are exact integers and the float steps are reproduced one by one, so this is bit exact.
// Integer max: the largest value of the window (padding never wins), then do_relu as max(q, 0)
// as TPU-MLIR does (at 0, not at the zero point). Float forms: top.AvgPool / top.MaxPool
// (top.AdaptiveAvgPool for is_adaptive).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/pool.hpp"
#include "mixq/dialect/tpu/common.hpp"
#include "mixq/dialect/tpu/float_path.hpp"
#include "mixq/dialect/tpu/support.hpp"

namespace mixq::tpu {

/// Attributes of Tpu_PoolOp (TpuOps.td).
struct pool_attributes {
  top::required<std::vector<std::int64_t>> kernel_shape;
  top::required<std::vector<std::int64_t>> strides;
  top::required<std::vector<std::int64_t>> pads;
  top::required<pool_mode_attr> pool_mode;
  std::int64_t pad_value = 0;
  bool is_adaptive = false;
  bool count_include_pad = false;
  bool do_relu = false;
  double relu_limit = -1.0;
  std::optional<bool> ceil_mode;
  std::optional<top::si32> multiplier;
  std::optional<top::si32> rshift;
  std::optional<double> scale;
  std::optional<double> offset;
  round_mode_attr round_mode;        // HalfAwayFromZero
  round_mode_attr first_round_mode;  // HalfAwayFromZero
};

namespace detail {

inline top::pool_attributes top_pool_attributes(const pool_attributes& a) {
  top::pool_attributes t;
  t.kernel_shape = a.kernel_shape;
  t.strides = a.strides;
  t.pads = a.pads;
  t.ceil_mode = a.ceil_mode;
  t.is_adaptive = a.is_adaptive;
  t.pad_value = a.pad_value;
  t.count_include_pad = a.count_include_pad;
  t.do_relu = a.do_relu;
  t.relu_limit = a.relu_limit;
  return t;
}

/// The integer pooling of one op.
struct int_pool {
  enum class avg_kind : std::uint8_t { multiplier_shift, plain, asymmetric };
  top::detail::pool_geometry g;  // end padding grown so that every window ends inside the padded input
  bool is_max = false;
  // average
  bool zero_point_padding = false;  // pads hold zp_in and count (the interpreter materialises them)
  bool count_include_pad = false;
  std::int64_t zp_in = 0;
  avg_kind kind = avg_kind::plain;
  std::int64_t multiplier = 1, rshift = 0;
  double scale = 1.0, offset = 0.0;
  quant::round_mode first_round = quant::round_mode::half_away_from_zero, final_round = quant::round_mode::half_away_from_zero;
  quant::chip_family chip = quant::chip_family::bm168x;
  float kh = 1.f, kw = 1.f;
  bool relu = false;
  double relu_limit = -1.0;
  std::int64_t zp_out = 0;

  /// The integer result of an average window with this integer sum over `count` counted taps.
  std::int64_t average(std::int64_t sum, std::int64_t count) const {
    const float avg = count ? static_cast<float>(sum) / static_cast<float>(count) : 0.f;
    std::int64_t q = 0;
    switch (kind) {
      case avg_kind::multiplier_shift: {
        const std::int64_t v = quant::to_int(static_cast<double>(avg * kh * kw), first_round);
        q = quant::apply_multiplier_and_rshift(v, multiplier, rshift, quant::requant_mode::multiplier_shift, quant::round_mode::half_up, chip);
        break;
      }
      case avg_kind::plain: q = quant::to_int(static_cast<double>(avg), quant::round_mode::half_away_from_zero); break;
      case avg_kind::asymmetric: {
        const auto t = static_cast<float>(static_cast<double>(avg * kh * kw) * scale + offset);
        q = quant::to_int(static_cast<double>(t), final_round);
        break;
      }
    }
    return relu ? std::max(q, zp_out) : q;
  }
  std::int64_t maximum(std::int64_t v) const {
    if (!relu) return v;
    v = std::max<std::int64_t>(v, 0);
    return relu_limit > 0 && static_cast<double>(v) > relu_limit ? static_cast<std::int64_t>(relu_limit) : v;
  }

  /// Window bounds of output (od, oh, ow): real input range [lo, hi) per axis, and the number of
  /// taps inside the padded input.
  struct window {
    std::int64_t lo[3], hi[3], padded;
  };
  window bounds(std::int64_t od, std::int64_t oh, std::int64_t ow) const {
    window w{};
    const std::int64_t o[3]{od, oh, ow};
    w.padded = 1;
    for (int d = 0; d < 3; ++d) {
      const std::int64_t start = o[d] * g.s[d] - g.pb[d];
      const std::int64_t stop = std::min(start + g.k[d], g.in[d] + g.pe[d]);
      w.padded *= stop - std::max(start, -g.pb[d]);
      w.lo[d] = std::max<std::int64_t>(start, 0);
      w.hi[d] = std::min(stop, g.in[d]);
    }
    return w;
  }
  /// (sum, count) of an average window from its real taps' sum and number.
  std::pair<std::int64_t, std::int64_t> counted(std::int64_t real_sum, std::int64_t real_count, std::int64_t padded) const {
    if (zero_point_padding) return {real_sum + zp_in * (padded - real_count), padded};
    return {real_sum, count_include_pad ? padded : real_count};
  }
};

inline int_pool make_int_pool(const prepare_context& p, const pool_attributes& a, std::size_t rank, const char* op) {
  const tensor_quant in = operand_quant(p, 0, op), out = result_quant(p, 0, op);
  if (!in.integer || !out.integer) throw error(std::string(op) + ": an integer pooling needs integer input and result");
  if (a.is_adaptive) throw error(std::string(op) + ": adaptive pooling has no integer form (TPU-MLIR lowers it to F32)");
  int_pool s;
  s.g = top::detail::make_pool_geometry(op, p.operand_type(0)->shape, top_pool_attributes(a));
  if (a.kernel_shape->size() != rank) throw error(std::string(op) + ": kernel_shape needs " + std::to_string(rank) + " values");
  for (int d = 0; d < 3; ++d)  // ceil mode: TPU-MLIR grows the end padding until the last window fits
    s.g.pe[d] = std::max(s.g.pe[d], (s.g.out[d] - 1) * s.g.s[d] + s.g.k[d] - s.g.in[d] - s.g.pb[d]);
  s.is_max = a.pool_mode->value == "Max";
  s.chip = family_of(p);
  s.relu = a.do_relu;
  s.relu_limit = a.relu_limit;
  s.zp_out = out.zero_point;
  if (s.is_max) return s;
  s.zp_in = in.zero_point;
  bool padded = false;
  for (int d = 0; d < 3; ++d) padded |= s.g.pb[d] > 0 || s.g.pe[d] > 0;
  s.zero_point_padding = s.zp_in != 0 && padded;
  s.count_include_pad = a.count_include_pad;
  s.kh = static_cast<float>(s.g.k[1]);
  s.kw = static_cast<float>(s.g.k[2]);
  if (asymmetric_of(p.module)) {
    if (!a.scale || !a.offset) throw error(std::string(op) + ": an asymmetric integer AvgPool needs the scale and offset attributes");
    s.kind = int_pool::avg_kind::asymmetric;
    s.scale = *a.scale;
    s.offset = *a.offset;
    s.final_round = quant::parse_round_mode(a.round_mode.value);
  } else if (a.multiplier || a.rshift) {
    s.kind = int_pool::avg_kind::multiplier_shift;
    s.multiplier = a.multiplier ? a.multiplier->value : 1;
    s.rshift = a.rshift ? a.rshift->value : 0;
    s.first_round = s.chip == quant::chip_family::cv18xx ? quant::round_mode::half_up : quant::round_mode::half_away_from_zero;
  }
  return s;
}

/// The scalar definition: every window walked tap by tap.
inline void int_pool_reference(const int_pool& s, const tensor& x, tensor& y) {
  const top::detail::pool_geometry& g = s.g;
  std::int64_t o = 0;
  for (std::int64_t p = 0; p < g.planes; ++p)
    for (std::int64_t od = 0; od < g.out[0]; ++od)
      for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
        for (std::int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const int_pool::window w = s.bounds(od, oh, ow);
          std::int64_t sum = 0, count = 0, best = std::numeric_limits<std::int64_t>::min();
          for (std::int64_t d = w.lo[0]; d < w.hi[0]; ++d)
            for (std::int64_t h = w.lo[1]; h < w.hi[1]; ++h)
              for (std::int64_t c = w.lo[2]; c < w.hi[2]; ++c) {
                const std::int64_t v = int_at(x, p * g.in_plane() + (d * g.in[1] + h) * g.in[2] + c);
                sum += v;
                best = std::max(best, v);
                ++count;
              }
          if (s.is_max) {
            store_int(y, o, s.maximum(count ? best : 0));
          } else {
            const auto [total, n] = s.counted(sum, count, w.padded);
            store_int(y, o, s.average(total, n));
          }
        }
}

/// Typed loops over 8-bit planes, split over the pool; a global window sums whole planes.
template <class X, class Y>
void int_pool_fast(const int_pool& s, const tensor& x, tensor& y, thread_pool& pool) {
  const top::detail::pool_geometry& g = s.g;
  const X* xp = reinterpret_cast<const X*>(x.raw());
  Y* yp = reinterpret_cast<Y*>(y.raw());
  const std::int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const bool global = out_plane == 1 && g.pb[0] + g.pb[1] + g.pb[2] == 0 && g.k[0] >= g.in[0] && g.k[1] >= g.in[1] && g.k[2] >= g.in[2];
  pool.parallel_for(g.planes, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(in_plane, 1)), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t p = b; p < e; ++p) {
      const X* plane = xp + p * in_plane;
      Y* dst = yp + p * out_plane;
      if (global) {
        std::int64_t sum = 0;
        std::int64_t best = std::numeric_limits<std::int64_t>::min();
        if (s.is_max) {
          for (std::int64_t i = 0; i < in_plane; ++i) best = std::max<std::int64_t>(best, plane[i]);
          dst[0] = quant::saturate<Y>(s.maximum(in_plane ? best : 0));
        } else {
          for (std::int64_t i = 0; i < in_plane; ++i) sum += plane[i];
          const auto [total, n] = s.counted(sum, in_plane, s.bounds(0, 0, 0).padded);
          dst[0] = quant::saturate<Y>(s.average(total, n));
        }
        continue;
      }
      std::int64_t o = 0;
      for (std::int64_t od = 0; od < g.out[0]; ++od)
        for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
          for (std::int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
            const int_pool::window w = s.bounds(od, oh, ow);
            std::int32_t sum = 0;
            int best = std::numeric_limits<int>::min();
            for (std::int64_t d = w.lo[0]; d < w.hi[0]; ++d)
              for (std::int64_t h = w.lo[1]; h < w.hi[1]; ++h) {
                const X* row = plane + (d * g.in[1] + h) * g.in[2];
                if (s.is_max)
                  for (std::int64_t c = w.lo[2]; c < w.hi[2]; ++c) best = std::max<int>(best, row[c]);
                else
                  for (std::int64_t c = w.lo[2]; c < w.hi[2]; ++c) sum += row[c];
              }
            const std::int64_t count = (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
            if (s.is_max) {
              dst[o] = quant::saturate<Y>(s.maximum(count > 0 ? best : 0));
            } else {
              const auto [total, n] = s.counted(sum, std::max<std::int64_t>(count, 0), w.padded);
              dst[o] = quant::saturate<Y>(s.average(total, n));
            }
          }
    }
  });
}

}  // namespace detail

/// `tpu.Pool1D` / `tpu.Pool2D`: operands (input); attributes Tpu_PoolOp's.
template <top::fixed_string Name, std::size_t Rank>
struct pool_nd_op {
  static constexpr std::string_view mnemonic = Name;
  static constexpr std::array operands{top::input("input")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::none;
  using attributes = pool_attributes;

  struct prepared {
    std::shared_ptr<const detail::int_pool> integer;
    std::shared_ptr<const float_path<top::avg_pool_op>> avg;
    std::shared_ptr<const float_path<top::max_pool_op>> max;
    std::shared_ptr<const float_path<top::adaptive_avg_pool_op>> adaptive;
  };

  static top::adaptive_avg_pool_op::attributes adaptive_attributes(const tensor_type& result) {
    top::adaptive_avg_pool_op::attributes t;
    t.output_size = std::vector<std::int64_t>(result.shape.end() - static_cast<std::ptrdiff_t>(std::min(Rank, result.shape.size())), result.shape.end());
    return t;
  }

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    auto declared = declared_results(c, std::string(mnemonic).c_str());
    if (a.kernel_shape->size() != Rank)
      throw error(std::string(mnemonic) + ": kernel_shape has " + std::to_string(a.kernel_shape->size()) + " values, expected " + std::to_string(Rank));
    if (a.is_adaptive) return declared;  // the output size is the declared one
    const auto g = top::detail::make_pool_geometry(mnemonic, c.operand(0).shape, detail::top_pool_attributes(a));
    if (declared[0].shape != g.out_shape)
      throw error(std::string(mnemonic) + ": declared result " + to_string(declared[0].shape) + " but the window gives " + to_string(g.out_shape));
    return declared;
  }

  static prepared prepare(const prepare_context& p, const attributes& a) {
    const std::string op(mnemonic);
    prepared s;
    const arithmetic how = detail::arithmetic_of(op.c_str(), p.operands, declared_result(p, op.c_str()));
    if (how != arithmetic::floating) {
      s.integer = std::make_shared<detail::int_pool>(detail::make_int_pool(p, a, Rank, op.c_str()));
    } else if (a.is_adaptive) {
      if (a.pool_mode->value != "Avg") throw error(op + ": adaptive max pooling is not supported");
      s.adaptive = std::make_shared<float_path<top::adaptive_avg_pool_op>>(float_path<top::adaptive_avg_pool_op>::make(p, adaptive_attributes(*p.result_type(0))));
    } else if (a.pool_mode->value == "Avg") {
      s.avg = std::make_shared<float_path<top::avg_pool_op>>(float_path<top::avg_pool_op>::make(p, detail::top_pool_attributes(a)));
    } else {
      s.max = std::make_shared<float_path<top::max_pool_op>>(float_path<top::max_pool_op>::make(p, detail::top_pool_attributes(a)));
    }
    return s;
  }

  /// Adaptive pooling's fused relu, which the TOP op does not carry.
  static void adaptive_relu(kernel_context& k, const attributes& a) {
    if (!a.do_relu) return;
    tensor f = as_f32(k.outputs[0]);
    float* v = f.data<float>();
    for (std::int64_t i = 0; i < f.numel(); ++i) {
      v[i] = v[i] < 0.f ? 0.f : v[i];
      if (a.relu_limit > 0 && v[i] > a.relu_limit) v[i] = static_cast<float>(a.relu_limit);
    }
    k.outputs[0] = to_declared(f, k.out_type(0));
  }

  static void reference(kernel_context& k, const attributes& a) {
    const std::string op(mnemonic);
    std::vector<const tensor*> none;
    const prepare_context p = prepare_view(k, none);
    const arithmetic how = detail::arithmetic_of(op.c_str(), p.operands, k.out_type(0));
    if (how != arithmetic::floating) return detail::int_pool_reference(detail::make_int_pool(p, a, Rank, op.c_str()), k.in(0), k.out(0));
    if (a.is_adaptive) {
      float_path<top::adaptive_avg_pool_op>::run_reference(k, adaptive_attributes(k.out_type(0)));
      return adaptive_relu(k, a);
    }
    if (a.pool_mode->value == "Avg") return float_path<top::avg_pool_op>::run_reference(k, detail::top_pool_attributes(a));
    float_path<top::max_pool_op>::run_reference(k, detail::top_pool_attributes(a));
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& s) {
    if (s.integer) {
      const tensor& x = k.in(0);
      tensor& y = k.out(0);
      bool done = false;
      detail::visit_byte(x.elem(), [&](auto xt) {
        detail::visit_byte(y.elem(), [&](auto yt) {
          detail::int_pool_fast<decltype(xt), decltype(yt)>(*s.integer, x, y, k.threads());
          done = true;
        });
      });
      if (!done) detail::int_pool_reference(*s.integer, x, y);
      return;
    }
    if (s.adaptive) {
      s.adaptive->run(k, adaptive_attributes(k.out_type(0)));
      return adaptive_relu(k, a);
    }
    if (s.avg) return s.avg->run(k, detail::top_pool_attributes(a));
    s.max->run(k, detail::top_pool_attributes(a));
  }
};

using pool1d_op = pool_nd_op<"tpu.Pool1D", 1>;
using pool2d_op = pool_nd_op<"tpu.Pool2D", 2>;

}  // namespace mixq::tpu

BOOST_HANA_ADAPT_STRUCT(mixq::tpu::pool_attributes, kernel_shape, strides, pads, pool_mode, pad_value, is_adaptive, count_include_pad, do_relu,
                        relu_limit, ceil_mode, multiplier, rshift, scale, offset, round_mode, first_round_mode);
