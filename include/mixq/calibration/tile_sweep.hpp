#pragma once
// The auto-tuner's candidate sweep for element-wise consumers, piece by piece.
//
// Scoring one candidate threshold on whole tensors is three passes over memory (fake-quantize
// a copy of the input, run the op, compare with the FP32 result) for an op that is itself one
// pass, and a 640x640 detector's element-wise tensors are megabytes: the tuner was bound by
// memory traffic. Here the tensors are cut into pieces that stay in cache and every candidate
// is scored on a piece before the next piece is read, so inputs and reference come from
// memory once per sample instead of three times per candidate.
//
// The sums are bit-identical to the whole-tensor path (tune_distance): pieces are multiples of
// squared_distance_chunk laid inside the same reduction blocks, the total is carried from piece
// to piece, and the element-wise kernels compute each element with one batch formula wherever it
// sits (simd::map_unary / map_binary), so an element's value does not depend on the piece.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "mixq/calibration/kernels.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/fake_quant.hpp"

namespace mixq::calibration::detail {

/// Elements per piece: 64 KiB per buffer, so a piece's inputs, their quantized copies, the op's
/// output and the reference stay in a core's L2 while every candidate is scored on them.
inline constexpr std::size_t sweep_piece = std::size_t{1} << 14;
static_assert(sweep_piece % squared_distance_chunk == 0 && reduction_block % sweep_piece == 0);

/// How an operand lines up with the op's result, the result viewed as rows of `inner` elements.
enum class sweep_role : std::uint8_t {
  none,     // an absent optional operand
  full,     // the result's shape: element k goes with result element k
  per_row,  // one value per row ([1,C,1,1] against [1,C,H,W]: a per-channel scale)
  scalar,   // one value for every element
};

struct sweep_layout {
  std::vector<sweep_role> roles;  // per operand
  std::int64_t numel = 0;         // result elements
  std::int64_t inner = 0;         // row length when some operand is per_row
};

/// Node i's layout when the sweep can run it piece by piece: an element-wise op with one f32
/// result and no prepared state whose every operand is f32 and is full, per-row (one common row
/// length) or a single value. Anything else is scored on whole tensors.
inline std::optional<sweep_layout> sweep_layout_of(const graph& g, const interpreter& interp, int i) {
  const node& n = g.nodes.at(static_cast<std::size_t>(i));
  if (!n.op->has(top::trait::elementwise) || n.results.size() != 1 || interp.prepared(i)) return std::nullopt;
  const tensor_type& out = g.values[static_cast<std::size_t>(n.results[0])].type;
  if (out.is_none || out.elem != dtype::f32 || out.numel() <= 0) return std::nullopt;
  sweep_layout layout;
  layout.numel = out.numel();
  const std::size_t rank = out.shape.size();
  for (int v : n.operands) {
    const tensor_type& t = g.values[static_cast<std::size_t>(v)].type;
    if (t.is_none) {
      layout.roles.push_back(sweep_role::none);
      continue;
    }
    if (t.elem != dtype::f32 || t.shape.size() > rank) return std::nullopt;
    shape_t ext(rank - t.shape.size(), 1);
    ext.insert(ext.end(), t.shape.begin(), t.shape.end());
    if (ext == out.shape) {
      layout.roles.push_back(sweep_role::full);
      continue;
    }
    if (t.numel() == 1) {
      layout.roles.push_back(sweep_role::scalar);
      continue;
    }
    // Per-row: the result's leading dimensions, then only 1s.
    std::size_t p = rank;
    while (p > 0 && ext[p - 1] == 1) --p;
    for (std::size_t d = 0; d < p; ++d)
      if (ext[d] != out.shape[d]) return std::nullopt;
    std::int64_t inner = 1;
    for (std::size_t d = p; d < rank; ++d) inner *= out.shape[d];
    if (layout.inner != 0 && layout.inner != inner) return std::nullopt;
    layout.inner = inner;
    layout.roles.push_back(sweep_role::per_row);
  }
  return layout;
}

struct sweep_operand {
  const tensor* values = nullptr;  // null for a none operand
  bool quantize = false;           // fake-quantized with each candidate
};

namespace sweep_impl {

/// One kernel call's part of a piece: [begin, end) of the result, `rows` whole rows or (rows == 0)
/// part of row `row`.
struct segment {
  std::int64_t begin, end, row, rows;
};

/// Splits [lo, hi) where per-row operands change value: kernels see rectangular shapes only.
inline void segments_of(std::int64_t lo, std::int64_t hi, std::int64_t inner, std::vector<segment>& out) {
  out.clear();
  if (inner == 0) {
    out.push_back({lo, hi, 0, 0});
    return;
  }
  for (std::int64_t s = lo; s < hi;) {
    const std::int64_t r = s / inner, row_end = (r + 1) * inner;
    if (s % inner != 0 || hi < row_end) {
      const std::int64_t e = std::min(hi, row_end);
      out.push_back({s, e, r, 0});
      s = e;
    } else {
      const std::int64_t nr = (hi - s) / inner;
      out.push_back({s, s + nr * inner, r, nr});
      s += nr * inner;
    }
  }
}

}  // namespace sweep_impl

/// For each candidate, the sum over the result of (ref - op(inputs))^2 with the `quantize`
/// operands fake-quantized by that candidate: what squared_distance(ref, out, pool) gives for
/// the whole-tensor evaluation, bit for bit. Empty when the run-time tensors do not have the
/// layout's sizes (the caller then scores on whole tensors).
inline std::vector<double> sweep_squared_distances(const interpreter& interp, int i, const sweep_layout& layout,
                                                   std::span<const sweep_operand> operands, const tensor& ref,
                                                   std::span<const quant::int_fake_quant> candidates, thread_pool* pool) {
  const std::int64_t N = layout.numel;
  const std::size_t K = candidates.size();
  if (operands.size() != layout.roles.size() || ref.elem() != dtype::f32 || ref.numel() != N || K == 0) return {};
  const std::int64_t rows = layout.inner > 0 ? N / layout.inner : 0;
  for (std::size_t j = 0; j < operands.size(); ++j) {
    const tensor* t = operands[j].values;
    const sweep_role role = layout.roles[j];
    if (role == sweep_role::none) continue;
    if (!t || t->elem() != dtype::f32) return {};
    const std::int64_t want = role == sweep_role::full ? N : role == sweep_role::per_row ? rows : 1;
    if (t->numel() != want) return {};
  }
  // The blocks squared_distance(a, b, pool) sums in order.
  const auto n = static_cast<std::size_t>(N);
  const bool blocked = pool && n >= 2 * reduction_block;
  const std::size_t B = blocked ? (n + reduction_block - 1) / reduction_block : 1;
  const std::size_t threads = pool ? pool->size() : 1;
  // Few blocks: split the candidates too, so every thread has work.
  const std::size_t G = std::clamp<std::size_t>((2 * threads + B - 1) / B, 1, K);
  std::vector<double> totals(B * K, 0.0);
  const std::span<const float> ref_values = ref.values<float>();
  // A point-wise op on one quantized input is scored in registers (quant::score_fake_quantized_map).
  const node& op_node = interp.model().nodes[static_cast<std::size_t>(i)];
  const bool fused = op_node.op->score_fake_quantized && operands.size() == 1 && layout.roles[0] == sweep_role::full && operands[0].quantize;

  auto run_tasks = [&](std::int64_t t0, std::int64_t t1) {
    // Scratch per worker: quantized pieces of full operands, quantized rows or value of per-row
    // and scalar operands, the op's output piece.
    std::vector<tensor> qbuf(operands.size());
    const std::int64_t max_rows = layout.inner > 0 ? std::min<std::int64_t>(rows, static_cast<std::int64_t>(sweep_piece) / layout.inner + 2) : 0;
    for (std::size_t j = 0; j < operands.size(); ++j) {
      if (!operands[j].quantize) continue;
      switch (layout.roles[j]) {
        case sweep_role::full: qbuf[j] = tensor::empty(dtype::f32, {static_cast<std::int64_t>(sweep_piece)}); break;
        case sweep_role::per_row: qbuf[j] = tensor::empty(dtype::f32, {max_rows}); break;
        case sweep_role::scalar: qbuf[j] = tensor::empty(dtype::f32, {1}); break;
        case sweep_role::none: break;
      }
    }
    tensor out_piece = tensor::empty(dtype::f32, {static_cast<std::int64_t>(sweep_piece)});
    std::vector<sweep_impl::segment> segs;
    std::vector<tensor> ins(operands.size());
    std::vector<const tensor*> ptrs(operands.size());
    tensor outs[1];
    tensor_type types[1];
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::size_t b = static_cast<std::size_t>(t) / G, g = static_cast<std::size_t>(t) % G;
      const std::size_t k0 = g * K / G, k1 = (g + 1) * K / G;
      const std::int64_t block_lo = blocked ? static_cast<std::int64_t>(b * reduction_block) : 0;
      const std::int64_t block_hi = blocked ? std::min<std::int64_t>(N, static_cast<std::int64_t>((b + 1) * reduction_block)) : N;
      for (std::int64_t lo = block_lo; lo < block_hi; lo += static_cast<std::int64_t>(sweep_piece)) {
        const std::int64_t hi = std::min<std::int64_t>(block_hi, lo + static_cast<std::int64_t>(sweep_piece));
        const auto len = static_cast<std::size_t>(hi - lo);
        const std::int64_t row_lo = layout.inner > 0 ? lo / layout.inner : 0;
        const std::int64_t row_hi = layout.inner > 0 ? (hi - 1) / layout.inner + 1 : 0;
        if (fused) {
          op_node.op->score_fake_quantized(op_node.decoded.get(), operands[0].values->data<float>() + lo, ref_values.data() + lo, len,
                                     candidates.subspan(k0, k1 - k0), totals.data() + b * K + k0);
          continue;
        }
        sweep_impl::segments_of(lo, hi, layout.inner, segs);
        for (std::size_t k = k0; k < k1; ++k) {
          const quant::int_fake_quant& q = candidates[k];
          for (std::size_t j = 0; j < operands.size(); ++j) {
            if (!operands[j].quantize) continue;
            const std::span<const float> x = operands[j].values->values<float>();
            const std::span<float> y = qbuf[j].values<float>();
            switch (layout.roles[j]) {
              case sweep_role::full: quant::fake_quantize(x.subspan(static_cast<std::size_t>(lo), len), y.first(len), q); break;
              case sweep_role::per_row: {
                const auto nr = static_cast<std::size_t>(row_hi - row_lo);
                quant::fake_quantize(x.subspan(static_cast<std::size_t>(row_lo), nr), y.first(nr), q);
                break;
              }
              case sweep_role::scalar: quant::fake_quantize(x.first(1), y.first(1), q); break;
              case sweep_role::none: break;
            }
          }
          for (const sweep_impl::segment& s : segs) {
            const shape_t shape = s.rows > 0 ? shape_t{s.rows, layout.inner} : shape_t{s.end - s.begin};
            const shape_t row_shape = s.rows > 0 ? shape_t{s.rows, 1} : shape_t{1};
            for (std::size_t j = 0; j < operands.size(); ++j) {
              const sweep_operand& o = operands[j];
              switch (layout.roles[j]) {
                case sweep_role::none: ptrs[j] = nullptr; continue;
                case sweep_role::full:
                  ins[j] = o.quantize ? qbuf[j].flat_view(s.begin - lo, shape) : o.values->flat_view(s.begin, shape);
                  break;
                case sweep_role::per_row:
                  ins[j] = o.quantize ? qbuf[j].flat_view(s.row - row_lo, row_shape) : o.values->flat_view(s.row, row_shape);
                  break;
                case sweep_role::scalar: ins[j] = o.quantize ? qbuf[j] : *o.values; break;
              }
              ptrs[j] = &ins[j];
            }
            const tensor view = out_piece.flat_view(s.begin - lo, shape);
            outs[0] = view;
            types[0] = tensor_type{dtype::f32, shape};
            interp.compute_node(i, ptrs, outs, types, false);
            // A kernel may hand back a tensor of its own (an alias of an input) instead of filling ours.
            if (outs[0].raw() != view.raw()) {
              if (outs[0].elem() != dtype::f32 || outs[0].numel() != numel(shape))
                throw error("calibration: the tuner's piecewise run of an element-wise op returned " + to_string(outs[0].shape()));
              std::memcpy(out_piece.data<float>() + (s.begin - lo), outs[0].data<float>(), static_cast<std::size_t>(numel(shape)) * sizeof(float));
            }
          }
          double& total = totals[b * K + k];
          total = squared_distance_continue(ref_values.subspan(static_cast<std::size_t>(lo), len), out_piece.values<float>().first(len), total);
        }
      }
    }
  };
  const auto tasks = static_cast<std::int64_t>(B * G);
  if (pool && tasks > 1) pool->parallel_for(tasks, 1, run_tasks);
  else run_tasks(0, tasks);

  std::vector<double> sums(K, 0.0);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t b = 0; b < B; ++b) sums[k] += totals[b * K + k];
  return sums;
}

}  // namespace mixq::calibration::detail
