#pragma once
// The auto-tuner's candidate sweep for convolutions, band by band.
//
// Scored on whole tensors, each candidate threshold of a convolution's input costs a
// fake-quantized copy of the input, the convolution, and a comparison with the FP32 result:
// on a 640x640 detector the copy and the comparison are passes over megabytes that leave the
// cache between candidates. Here the result is cut into bands of rows (top::row_band). For one
// band, every candidate quantizes only the input rows the band reads, runs the band and is
// compared with the band's reference rows, while those stay in a core's L2.
//
// Each output element is the value the whole-tensor run gives (compute_band's contract). The
// squared errors are summed band by band, then the bands in order: the total does not depend on
// the threads, but squared_distance sums runs of 64 vectors in float from other starting
// points, so it can differ from the whole-tensor total by about 1e-8 relative. The choice among
// candidates is the same unless two of them are that close (then either is as good).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "mixq/calibration/candidate_sweep.hpp"
#include "mixq/calibration/kernels.hpp"
#include "mixq/calibration/tile_sweep.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/fake_quant.hpp"

namespace mixq::calibration::detail {

/// Floats of a band's quantized input and of its output: with the convolution's own copy of
/// the input (im2col) and the reference rows, a band stays within a 1 MiB L2.
inline constexpr std::int64_t band_input_floats = std::int64_t{1} << 16;
inline constexpr std::int64_t band_output_floats = std::int64_t{1} << 15;

/// How node i's result splits into row bands: operand 0 is [images, channels, in_rows, in_cols],
/// the result [images, out_channels, out_rows, out_cols].
struct band_layout {
  std::int64_t images = 0, channels = 0, in_rows = 0, in_cols = 0;
  std::int64_t out_channels = 0, out_rows = 0, out_cols = 0;
  std::vector<top::row_band> bands;  // in row order, covering every output row once
  std::int64_t max_in_rows = 0, max_out_rows = 0;
};

/// Node i's bands when its op runs in row bands (a 2-D convolution) with one f32 result.
inline std::optional<band_layout> band_layout_of(const graph& g, const interpreter& interp, int i) {
  const node& n = g.nodes.at(static_cast<std::size_t>(i));
  if (!n.op->compute_band || n.results.size() != 1 || n.operands.empty()) return std::nullopt;
  const tensor_type& in = g.values[static_cast<std::size_t>(n.operands[0])].type;
  const tensor_type& out = g.values[static_cast<std::size_t>(n.results[0])].type;
  if (in.is_none || out.is_none || in.elem != dtype::f32 || out.elem != dtype::f32 || in.shape.size() != 4 || out.shape.size() != 4 ||
      in.shape[0] != out.shape[0] || out.numel() <= 0 || in.numel() <= 0)
    return std::nullopt;
  band_layout l;
  l.images = in.shape[0];
  l.channels = in.shape[1];
  l.in_rows = in.shape[2];
  l.in_cols = in.shape[3];
  l.out_channels = out.shape[1];
  l.out_rows = out.shape[2];
  l.out_cols = out.shape[3];
  // The most rows per band whose input and output stay within the budgets (at least one),
  // measured on a band in the middle of the map, where no padding shortens the window.
  std::int64_t rows = 1;
  for (std::int64_t r = 1; r <= l.out_rows; ++r) {
    const std::int64_t at = (l.out_rows - r) / 2;
    const auto span = interp.band_input_rows(i, at, at + r);
    if (!span) return std::nullopt;
    const std::int64_t in_floats = l.images * l.channels * (span->second - span->first) * l.in_cols;
    const std::int64_t out_floats = l.images * l.out_channels * r * l.out_cols;
    if (r > 1 && (in_floats > band_input_floats || out_floats > band_output_floats)) break;
    rows = r;
  }
  // A single band is the whole tensor again: nothing to gain.
  if (rows >= l.out_rows) return std::nullopt;
  for (std::int64_t b = 0; b < l.out_rows; b += rows) {
    const std::int64_t e = std::min(l.out_rows, b + rows);
    const auto span = interp.band_input_rows(i, b, e);
    if (!span) return std::nullopt;
    top::row_band band;
    band.out_begin = b;
    band.out_end = e;
    band.in_begin = span->first;
    band.in_end = span->second;
    band.input_shape = in.shape;
    l.max_in_rows = std::max(l.max_in_rows, band.in_end - band.in_begin);
    l.max_out_rows = std::max(l.max_out_rows, e - b);
    l.bands.push_back(std::move(band));
  }
  return l;
}

/// A convolution's candidate sweep over one sample: one chain of one step per band. A step
/// fake-quantizes the input rows the band reads, runs the band and compares it with the band's
/// reference rows.
class band_problem final : public sweep_problem {
 public:
  /// nullptr when the operands do not fit the layout (the caller then scores on whole tensors):
  /// operand 0 quantized and of the layout's size, the others (weights) as they are.
  static std::unique_ptr<band_problem> make(const interpreter& interp, int i, const band_layout& l, std::span<const sweep_operand> operands,
                                            const tensor& ref) {
    if (l.bands.empty() || operands.empty() || !operands[0].quantize || !operands[0].values) return nullptr;
    const tensor& x = *operands[0].values;
    if (x.elem() != dtype::f32 || x.numel() != l.images * l.channels * l.in_rows * l.in_cols) return nullptr;
    if (ref.elem() != dtype::f32 || ref.numel() != l.images * l.out_channels * l.out_rows * l.out_cols) return nullptr;
    for (std::size_t j = 1; j < operands.size(); ++j)
      if (operands[j].quantize) return nullptr;
    return std::unique_ptr<band_problem>(new band_problem(interp, i, l, operands, ref));
  }

  std::size_t chains() const override { return l_.bands.size(); }
  std::size_t steps(std::size_t) const override { return 1; }
  std::unique_ptr<worker> make_worker() const override { return std::make_unique<band_worker>(*this); }

 private:
  band_problem(const interpreter& interp, int i, const band_layout& l, std::span<const sweep_operand> operands, const tensor& ref)
      : interp_(interp), node_(i), l_(l), operands_(operands), xs_(operands[0].values->values<float>()), rs_(ref.values<float>()) {}

  class band_worker final : public worker {
   public:
    explicit band_worker(const band_problem& p)
        : p_(p),
          in_buffer_(tensor::empty(dtype::f32, {p.l_.images * p.l_.channels * p.l_.max_in_rows * p.l_.in_cols})),
          out_buffer_(tensor::empty(dtype::f32, {p.l_.images * p.l_.out_channels * p.l_.max_out_rows * p.l_.out_cols})),
          ops_(p.operands_.size()) {
      for (std::size_t j = 1; j < ops_.size(); ++j) ops_[j] = p.operands_[j].values;
    }

    void score(std::size_t chain, std::size_t, std::span<const quant::int_fake_quant> qs, std::span<double> totals) override {
      const band_layout& l = p_.l_;
      const top::row_band& band = l.bands[chain];
      const std::int64_t rows_in = band.in_end - band.in_begin, rows_out = band.out_end - band.out_begin;
      const std::int64_t in_planes = l.images * l.channels, out_planes = l.images * l.out_channels;
      tensor in_band = in_buffer_.flat_view(0, {l.images, l.channels, rows_in, l.in_cols});
      tensor out_band = out_buffer_.flat_view(0, {l.images, l.out_channels, rows_out, l.out_cols});
      const tensor_type out_type{dtype::f32, out_band.shape()};
      ops_[0] = &in_band;
      const std::span<float> qin = in_band.values<float>();
      const auto in_run = static_cast<std::size_t>(rows_in * l.in_cols), out_run = static_cast<std::size_t>(rows_out * l.out_cols);
      for (std::size_t j = 0; j < qs.size(); ++j) {
        for (std::int64_t p = 0; p < in_planes; ++p)
          quant::fake_quantize(p_.xs_.subspan(static_cast<std::size_t>((p * l.in_rows + band.in_begin) * l.in_cols), in_run),
                               qin.subspan(static_cast<std::size_t>(p) * in_run, in_run), qs[j]);
        p_.interp_.compute_node_band(p_.node_, ops_, band, out_band, out_type);
        const std::span<const float> ys = std::as_const(out_band).values<float>();
        double total = totals[j];
        for (std::int64_t p = 0; p < out_planes; ++p)
          total = squared_distance_continue(p_.rs_.subspan(static_cast<std::size_t>((p * l.out_rows + band.out_begin) * l.out_cols), out_run),
                                            ys.subspan(static_cast<std::size_t>(p) * out_run, out_run), total);
        totals[j] = total;
      }
    }

   private:
    const band_problem& p_;
    tensor in_buffer_, out_buffer_;
    std::vector<const tensor*> ops_;
  };

  const interpreter& interp_;
  int node_;
  const band_layout& l_;
  std::span<const sweep_operand> operands_;
  std::span<const float> xs_, rs_;
};

/// For each candidate, the sum over the result of (ref - op(inputs))^2 with operand 0
/// fake-quantized by that candidate (the other operands, weights, as they are). Empty when the
/// operands do not fit the layout (the caller then scores on whole tensors).
inline std::vector<double> band_squared_distances(const interpreter& interp, int i, const band_layout& l,
                                                  std::span<const sweep_operand> operands, const tensor& ref,
                                                  std::span<const quant::int_fake_quant> candidates, thread_pool* pool) {
  if (candidates.empty()) return {};
  const auto problem = band_problem::make(interp, i, l, operands, ref);
  if (!problem) return {};
  return sweep_totals(*problem, candidates, pool);
}

}  // namespace mixq::calibration::detail
