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
#include <utility>
#include <vector>

#include "mixq/calibration/kernels.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/dialect/top/shape_ops.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/candidate_score.hpp"
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

/// The work of one pool task: candidates [k0, k1) over the result elements [lo, hi), which lie
/// inside reduction block `block`.
struct task {
  std::size_t block, k0, k1;
  std::int64_t lo, hi;
};

/// How many groups the candidates split into when `blocks` parts of a result are scored: few
/// parts split the candidates too, so every thread has work.
inline std::size_t candidate_groups(std::size_t blocks, std::size_t candidates, thread_pool* pool) {
  const std::size_t threads = pool ? pool->size() : 1;
  return std::clamp<std::size_t>((2 * threads + blocks - 1) / blocks, 1, std::max<std::size_t>(candidates, 1));
}

/// Runs fn(t0, t1) over tasks [0, n), split across the pool when there is more than one.
template <class Fn>
void run_tasks(std::size_t n, thread_pool* pool, Fn&& fn) {
  if (pool && n > 1)
    pool->parallel_for(static_cast<std::int64_t>(n), 1,
                       [&](std::int64_t t0, std::int64_t t1) { fn(static_cast<std::size_t>(t0), static_cast<std::size_t>(t1)); });
  else
    fn(std::size_t{0}, n);
}

/// The tasks: reduction blocks (as squared_distance(a, b, pool) sums them) times candidate groups.
struct task_plan {
  std::int64_t numel;
  std::size_t candidates, blocks, groups;
  bool blocked;

  task_plan(std::int64_t n, std::size_t k, thread_pool* pool)
      : numel(n), candidates(k), blocked(pool && static_cast<std::size_t>(n) >= 2 * reduction_block) {
    blocks = blocked ? (static_cast<std::size_t>(n) + reduction_block - 1) / reduction_block : 1;
    groups = candidate_groups(blocks, k, pool);
  }
  std::size_t size() const { return blocks * groups; }
  task operator[](std::size_t t) const {
    const std::size_t b = t / groups, g = t % groups;
    const std::int64_t lo = blocked ? static_cast<std::int64_t>(b * reduction_block) : 0;
    const std::int64_t hi = blocked ? std::min<std::int64_t>(numel, static_cast<std::int64_t>((b + 1) * reduction_block)) : numel;
    return {b, g * candidates / groups, (g + 1) * candidates / groups, lo, hi};
  }
};

/// Calls fn(lo, hi) for the sweep pieces of [begin, end).
template <class Fn>
void for_each_piece(std::int64_t begin, std::int64_t end, Fn&& fn) {
  for (std::int64_t lo = begin; lo < end; lo += static_cast<std::int64_t>(sweep_piece))
    fn(lo, std::min<std::int64_t>(end, lo + static_cast<std::int64_t>(sweep_piece)));
}

/// Runs fn(t0, t1) over the plan's tasks, split across the pool when there is more than one.
template <class Fn>
void run_plan(const task_plan& plan, thread_pool* pool, Fn&& fn) {
  run_tasks(plan.size(), pool, std::forward<Fn>(fn));
}

/// Scores candidates on one piece at a time by running node i's kernel on fake-quantized copies
/// of the piece's operands; holds one worker's scratch.
class piece_scorer {
 public:
  piece_scorer(const interpreter& interp, int i, const sweep_layout& layout, std::span<const sweep_operand> operands)
      : interp_(interp), node_(i), layout_(layout), operands_(operands), qbuf_(operands.size()), ins_(operands.size()),
        ptrs_(operands.size()) {
    const std::int64_t rows = layout.inner > 0 ? layout.numel / layout.inner : 0;
    const std::int64_t max_rows = layout.inner > 0 ? std::min<std::int64_t>(rows, static_cast<std::int64_t>(sweep_piece) / layout.inner + 2) : 0;
    for (std::size_t j = 0; j < operands.size(); ++j) {
      if (!operands[j].quantize) continue;
      switch (layout.roles[j]) {
        case sweep_role::full: qbuf_[j] = tensor::empty(dtype::f32, {static_cast<std::int64_t>(sweep_piece)}); break;
        case sweep_role::per_row: qbuf_[j] = tensor::empty(dtype::f32, {max_rows}); break;
        case sweep_role::scalar: qbuf_[j] = tensor::empty(dtype::f32, {1}); break;
        case sweep_role::none: break;
      }
    }
    out_piece_ = tensor::empty(dtype::f32, {static_cast<std::int64_t>(sweep_piece)});
  }

  /// The piece [lo, hi) that the next score() calls work on.
  void start_piece(std::int64_t lo, std::int64_t hi) {
    lo_ = lo;
    hi_ = hi;
    row_lo_ = layout_.inner > 0 ? lo / layout_.inner : 0;
    row_hi_ = layout_.inner > 0 ? (hi - 1) / layout_.inner + 1 : 0;
    segments_of(lo, hi, layout_.inner, segments_);
  }

  /// total plus candidate q's squared error over the piece.
  double score(const quant::int_fake_quant& q, std::span<const float> ref, double total) {
    quantize_operands(q);
    for (const segment& s : segments_) run_segment(s);
    const auto len = static_cast<std::size_t>(hi_ - lo_);
    return squared_distance_continue(ref.subspan(static_cast<std::size_t>(lo_), len), out_piece_.values<float>().first(len), total);
  }

 private:
  void quantize_operands(const quant::int_fake_quant& q) {
    for (std::size_t j = 0; j < operands_.size(); ++j) {
      if (!operands_[j].quantize) continue;
      const std::span<const float> x = operands_[j].values->values<float>();
      const std::span<float> y = qbuf_[j].values<float>();
      switch (layout_.roles[j]) {
        case sweep_role::full: {
          const auto len = static_cast<std::size_t>(hi_ - lo_);
          quant::fake_quantize(x.subspan(static_cast<std::size_t>(lo_), len), y.first(len), q);
          break;
        }
        case sweep_role::per_row: {
          const auto nr = static_cast<std::size_t>(row_hi_ - row_lo_);
          quant::fake_quantize(x.subspan(static_cast<std::size_t>(row_lo_), nr), y.first(nr), q);
          break;
        }
        case sweep_role::scalar: quant::fake_quantize(x.first(1), y.first(1), q); break;
        case sweep_role::none: break;
      }
    }
  }

  /// Runs the kernel on segment s, writing its part of out_piece_.
  void run_segment(const segment& s) {
    const shape_t shape = s.rows > 0 ? shape_t{s.rows, layout_.inner} : shape_t{s.end - s.begin};
    const shape_t row_shape = s.rows > 0 ? shape_t{s.rows, 1} : shape_t{1};
    for (std::size_t j = 0; j < operands_.size(); ++j) {
      const sweep_operand& o = operands_[j];
      switch (layout_.roles[j]) {
        case sweep_role::none: ptrs_[j] = nullptr; continue;
        case sweep_role::full: ins_[j] = o.quantize ? qbuf_[j].flat_view(s.begin - lo_, shape) : o.values->flat_view(s.begin, shape); break;
        case sweep_role::per_row:
          ins_[j] = o.quantize ? qbuf_[j].flat_view(s.row - row_lo_, row_shape) : o.values->flat_view(s.row, row_shape);
          break;
        case sweep_role::scalar: ins_[j] = o.quantize ? qbuf_[j] : *o.values; break;
      }
      ptrs_[j] = &ins_[j];
    }
    const tensor view = out_piece_.flat_view(s.begin - lo_, shape);
    tensor outs[1] = {view};
    const tensor_type types[1] = {tensor_type{dtype::f32, shape}};
    interp_.compute_node(node_, ptrs_, outs, types, false);
    // A kernel may hand back a tensor of its own (an alias of an input) instead of filling ours.
    if (outs[0].raw() == view.raw()) return;
    if (outs[0].elem() != dtype::f32 || outs[0].numel() != numel(shape))
      throw error("calibration: the tuner's piecewise run of an element-wise op returned " + to_string(outs[0].shape()));
    std::memcpy(out_piece_.data<float>() + (s.begin - lo_), outs[0].data<float>(), static_cast<std::size_t>(numel(shape)) * sizeof(float));
  }

  const interpreter& interp_;
  int node_;
  const sweep_layout& layout_;
  std::span<const sweep_operand> operands_;
  std::vector<tensor> qbuf_;  // quantized pieces of full operands, rows or value of per-row and scalar ones
  tensor out_piece_;
  std::vector<segment> segments_;
  std::vector<tensor> ins_;
  std::vector<const tensor*> ptrs_;
  std::int64_t lo_ = 0, hi_ = 0, row_lo_ = 0, row_hi_ = 0;
};

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
  const sweep_impl::task_plan plan(N, K, pool);
  std::vector<double> totals(plan.blocks * K, 0.0);  // per block, in block order
  const std::span<const float> ref_values = ref.values<float>();
  const node& op_node = interp.model().nodes[static_cast<std::size_t>(i)];

  // A point-wise op on one quantized input is scored in registers (quant::score_fake_quantized_map).
  if (op_node.op->score_fake_quantized && operands.size() == 1 && layout.roles[0] == sweep_role::full && operands[0].quantize) {
    const float* x = operands[0].values->data<float>();
    sweep_impl::run_plan(plan, pool, [&](std::size_t t0, std::size_t t1) {
      for (std::size_t t = t0; t < t1; ++t) {
        const sweep_impl::task task = plan[t];
        sweep_impl::for_each_piece(task.lo, task.hi, [&](std::int64_t lo, std::int64_t hi) {
          op_node.op->score_fake_quantized(op_node.decoded.get(), x + lo, ref_values.data() + lo, static_cast<std::size_t>(hi - lo),
                                           candidates.subspan(task.k0, task.k1 - task.k0), totals.data() + task.block * K + task.k0);
        });
      }
    });
  } else {
    sweep_impl::run_plan(plan, pool, [&](std::size_t t0, std::size_t t1) {
      sweep_impl::piece_scorer scorer(interp, i, layout, operands);
      for (std::size_t t = t0; t < t1; ++t) {
        const sweep_impl::task task = plan[t];
        sweep_impl::for_each_piece(task.lo, task.hi, [&](std::int64_t lo, std::int64_t hi) {
          scorer.start_piece(lo, hi);
          for (std::size_t k = task.k0; k < task.k1; ++k) {
            double& total = totals[task.block * K + k];
            total = scorer.score(candidates[k], ref_values, total);
          }
        });
      }
    });
  }

  std::vector<double> sums(K, 0.0);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t b = 0; b < plan.blocks; ++b) sums[k] += totals[b * K + k];
  return sums;
}

/// Where each operand of node i starts in its result when the node is a top.Concat without relu
/// whose axis has only 1s before it (NCHW with one image, along channels): the result is then
/// the operands one after another. Else nullopt.
inline std::optional<std::vector<std::int64_t>> concat_offsets_of(const graph& g, int i) {
  const node& n = g.nodes.at(static_cast<std::size_t>(i));
  if (!n.is<top::concat_op>() || n.results.size() != 1) return std::nullopt;
  const auto& a = n.attributes<top::concat_op>();
  const tensor_type& out = g.values[static_cast<std::size_t>(n.results[0])].type;
  if (a.do_relu || out.is_none || out.elem != dtype::f32 || out.shape.empty()) return std::nullopt;
  const auto rank = static_cast<std::int64_t>(out.shape.size());
  const std::int64_t axis = a.axis.value < 0 ? a.axis.value + rank : a.axis.value;
  if (axis < 0 || axis >= rank) return std::nullopt;
  for (std::int64_t d = 0; d < axis; ++d)
    if (out.shape[static_cast<std::size_t>(d)] != 1) return std::nullopt;
  std::vector<std::int64_t> offsets;
  std::int64_t at = 0;
  for (int v : n.operands) {
    const tensor_type& t = g.values[static_cast<std::size_t>(v)].type;
    if (t.is_none || t.elem != dtype::f32) return std::nullopt;
    offsets.push_back(at);
    at += t.numel();
  }
  if (at != out.numel()) return std::nullopt;
  return offsets;
}

/// concat_squared_distances: the result is a copy of its operands, so a candidate's error is
/// that of each quantized operand against its part of the reference, scored in registers piece
/// by piece (quant::score_fake_quantized_map with the identity); operands that are not
/// quantized match the reference exactly and add nothing. The values are the whole-tensor
/// ones; the sums run per operand piece, so a total can differ in its last bits.
inline std::vector<double> concat_squared_distances(std::span<const std::int64_t> offsets, std::span<const sweep_operand> operands,
                                                    const tensor& ref, std::span<const quant::int_fake_quant> candidates,
                                                    thread_pool* pool) {
  const std::size_t K = candidates.size();
  if (K == 0 || offsets.size() != operands.size() || ref.elem() != dtype::f32) return {};
  struct piece {
    const float* x;
    std::int64_t at, len;
  };
  std::vector<piece> pieces;
  for (std::size_t j = 0; j < operands.size(); ++j) {
    const tensor* t = operands[j].values;
    if (!t || t->elem() != dtype::f32 || offsets[j] + t->numel() > ref.numel()) return {};
    if (!operands[j].quantize) continue;
    for (std::int64_t lo = 0; lo < t->numel(); lo += static_cast<std::int64_t>(sweep_piece))
      pieces.push_back({t->data<float>() + lo, offsets[j] + lo, std::min<std::int64_t>(t->numel() - lo, static_cast<std::int64_t>(sweep_piece))});
  }
  std::vector<double> partial(pieces.size() * K, 0.0);
  const float* r = ref.data<float>();
  sweep_impl::run_tasks(pieces.size(), pool, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) {
      const piece& pc = pieces[p];
      quant::score_fake_quantized_map([](const simd::fbatch& v) { return v; }, pc.x, r + pc.at, static_cast<std::size_t>(pc.len), candidates,
                                      partial.data() + p * K);
    }
  });
  std::vector<double> sums(K, 0.0);
  for (std::size_t p = 0; p < pieces.size(); ++p)
    for (std::size_t k = 0; k < K; ++k) sums[k] += partial[p * K + k];
  return sums;
}

}  // namespace mixq::calibration::detail
