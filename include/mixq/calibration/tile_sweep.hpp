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
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "mixq/calibration/candidate_sweep.hpp"
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

/// An element-wise op's candidate sweep over one sample. The chains are the reduction blocks of
/// squared_distance(a, b, pool) (one chain without a pool or for short results), the steps their
/// pieces: the totals are that function's, bit for bit.
class elementwise_problem final : public sweep_problem {
 public:
  /// nullptr when the run-time tensors do not have the layout's sizes (the caller then scores
  /// on whole tensors).
  static std::unique_ptr<elementwise_problem> make(const interpreter& interp, int i, const sweep_layout& layout,
                                                   std::span<const sweep_operand> operands, const tensor& ref, thread_pool* pool) {
    const std::int64_t N = layout.numel;
    if (operands.size() != layout.roles.size() || ref.elem() != dtype::f32 || ref.numel() != N) return nullptr;
    const std::int64_t rows = layout.inner > 0 ? N / layout.inner : 0;
    for (std::size_t j = 0; j < operands.size(); ++j) {
      const tensor* t = operands[j].values;
      const sweep_role role = layout.roles[j];
      if (role == sweep_role::none) continue;
      if (!t || t->elem() != dtype::f32) return nullptr;
      const std::int64_t want = role == sweep_role::full ? N : role == sweep_role::per_row ? rows : 1;
      if (t->numel() != want) return nullptr;
    }
    return std::unique_ptr<elementwise_problem>(new elementwise_problem(interp, i, layout, operands, ref, pool));
  }

  std::size_t chains() const override { return blocked_ ? (static_cast<std::size_t>(layout_.numel) + reduction_block - 1) / reduction_block : 1; }
  std::size_t steps(std::size_t chain) const override {
    const auto [lo, hi] = chain_range(chain);
    return static_cast<std::size_t>(hi - lo + static_cast<std::int64_t>(sweep_piece) - 1) / sweep_piece;
  }
  std::unique_ptr<worker> make_worker() const override {
    if (in_registers_) return std::make_unique<register_worker>(*this);
    return std::make_unique<piece_worker>(*this);
  }

 private:
  elementwise_problem(const interpreter& interp, int i, const sweep_layout& layout, std::span<const sweep_operand> operands, const tensor& ref,
                      thread_pool* pool)
      : interp_(interp), node_(i), layout_(layout), operands_(operands), ref_(ref.values<float>()),
        op_node_(interp.model().nodes[static_cast<std::size_t>(i)]),
        blocked_(pool && static_cast<std::size_t>(layout.numel) >= 2 * reduction_block),
        // A point-wise op on one quantized input is scored in registers (quant::score_fake_quantized_map).
        in_registers_(op_node_.op->score_fake_quantized && operands.size() == 1 && layout.roles[0] == sweep_role::full && operands[0].quantize) {}

  std::pair<std::int64_t, std::int64_t> chain_range(std::size_t chain) const {
    if (!blocked_) return {0, layout_.numel};
    const auto lo = static_cast<std::int64_t>(chain * reduction_block);
    return {lo, std::min<std::int64_t>(layout_.numel, lo + static_cast<std::int64_t>(reduction_block))};
  }
  std::pair<std::int64_t, std::int64_t> piece_range(std::size_t chain, std::size_t step) const {
    const auto [lo, hi] = chain_range(chain);
    const std::int64_t b = lo + static_cast<std::int64_t>(step * sweep_piece);
    return {b, std::min<std::int64_t>(hi, b + static_cast<std::int64_t>(sweep_piece))};
  }

  class register_worker final : public worker {
   public:
    explicit register_worker(const elementwise_problem& p) : p_(p), x_(p.operands_[0].values->data<float>()) {}
    void score(std::size_t chain, std::size_t step, std::span<const quant::int_fake_quant> qs, std::span<double> totals) override {
      const auto [lo, hi] = p_.piece_range(chain, step);
      p_.op_node_.op->score_fake_quantized(p_.op_node_.decoded.get(), x_ + lo, p_.ref_.data() + lo, static_cast<std::size_t>(hi - lo), qs,
                                           totals.data());
    }

   private:
    const elementwise_problem& p_;
    const float* x_;
  };

  class piece_worker final : public worker {
   public:
    explicit piece_worker(const elementwise_problem& p) : p_(p), scorer_(p.interp_, p.node_, p.layout_, p.operands_) {}
    void score(std::size_t chain, std::size_t step, std::span<const quant::int_fake_quant> qs, std::span<double> totals) override {
      const auto [lo, hi] = p_.piece_range(chain, step);
      scorer_.start_piece(lo, hi);
      for (std::size_t j = 0; j < qs.size(); ++j) totals[j] = scorer_.score(qs[j], p_.ref_, totals[j]);
    }

   private:
    const elementwise_problem& p_;
    sweep_impl::piece_scorer scorer_;
  };

  const interpreter& interp_;
  int node_;
  const sweep_layout& layout_;
  std::span<const sweep_operand> operands_;
  std::span<const float> ref_;
  const node& op_node_;
  bool blocked_, in_registers_;
};

/// For each candidate, the sum over the result of (ref - op(inputs))^2 with the `quantize`
/// operands fake-quantized by that candidate: what squared_distance(ref, out, pool) gives for
/// the whole-tensor evaluation, bit for bit. Empty when the run-time tensors do not have the
/// layout's sizes (the caller then scores on whole tensors).
inline std::vector<double> sweep_squared_distances(const interpreter& interp, int i, const sweep_layout& layout,
                                                   std::span<const sweep_operand> operands, const tensor& ref,
                                                   std::span<const quant::int_fake_quant> candidates, thread_pool* pool) {
  if (candidates.empty()) return {};
  const auto problem = elementwise_problem::make(interp, i, layout, operands, ref, pool);
  if (!problem) return {};
  return sweep_totals(*problem, candidates, pool);
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

/// A concatenation's candidate sweep over one sample: the result is a copy of its operands, so
/// a candidate's error is that of each quantized operand against its part of the reference,
/// scored in registers piece by piece (quant::score_fake_quantized_map with the identity);
/// operands that are not quantized match the reference exactly and add nothing. One chain of one
/// step per piece: the values are the whole-tensor ones, the sums run per operand piece, so a
/// total can differ from the whole-tensor one in its last bits.
class concat_problem final : public sweep_problem {
 public:
  /// nullptr when the operands do not fit `offsets` and the reference.
  static std::unique_ptr<concat_problem> make(std::span<const std::int64_t> offsets, std::span<const sweep_operand> operands, const tensor& ref) {
    if (offsets.size() != operands.size() || ref.elem() != dtype::f32) return nullptr;
    std::vector<piece> pieces;
    for (std::size_t j = 0; j < operands.size(); ++j) {
      const tensor* t = operands[j].values;
      if (!t || t->elem() != dtype::f32 || offsets[j] + t->numel() > ref.numel()) return nullptr;
      if (!operands[j].quantize) continue;
      for (std::int64_t lo = 0; lo < t->numel(); lo += static_cast<std::int64_t>(sweep_piece))
        pieces.push_back({t->data<float>() + lo, offsets[j] + lo, std::min<std::int64_t>(t->numel() - lo, static_cast<std::int64_t>(sweep_piece))});
    }
    return std::unique_ptr<concat_problem>(new concat_problem(std::move(pieces), ref.data<float>()));
  }

  std::size_t chains() const override { return pieces_.size(); }
  std::size_t steps(std::size_t) const override { return 1; }
  std::unique_ptr<worker> make_worker() const override { return std::make_unique<concat_worker>(*this); }

 private:
  struct piece {
    const float* x;
    std::int64_t at, len;
  };
  concat_problem(std::vector<piece> pieces, const float* ref) : pieces_(std::move(pieces)), ref_(ref) {}

  class concat_worker final : public worker {
   public:
    explicit concat_worker(const concat_problem& p) : p_(p) {}
    void score(std::size_t chain, std::size_t, std::span<const quant::int_fake_quant> qs, std::span<double> totals) override {
      const piece& pc = p_.pieces_[chain];
      quant::score_fake_quantized_map([](const simd::fbatch& v) { return v; }, pc.x, p_.ref_ + pc.at, static_cast<std::size_t>(pc.len), qs,
                                      totals.data());
    }

   private:
    const concat_problem& p_;
  };

  std::vector<piece> pieces_;
  const float* ref_;
};

/// concat_squared_distances: concat_problem's totals for every candidate; empty when the
/// operands do not fit.
inline std::vector<double> concat_squared_distances(std::span<const std::int64_t> offsets, std::span<const sweep_operand> operands,
                                                    const tensor& ref, std::span<const quant::int_fake_quant> candidates,
                                                    thread_pool* pool) {
  if (candidates.empty()) return {};
  const auto problem = concat_problem::make(offsets, operands, ref);
  if (!problem) return {};
  return sweep_totals(*problem, candidates, pool);
}

}  // namespace mixq::calibration::detail
