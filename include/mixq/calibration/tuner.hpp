#pragma once
// Pass 2 of run_calibration: TPU-MLIR's auto-tune (SimpleTuner, facts doc §2.5), on the
// interpreter and in memory. Ops are visited in topological order; for op E and an input T of
// E, every candidate threshold th_k = th0 + k (absmax - th0) / steps, k = 0..steps, fake-quantizes
// E's inputs (q = clip(round_half_even(x * 127 / th), -128, 127) * th / 127), runs E alone and
// scores mean_s |ref - out|_2 / |ref|_1 over the tune samples; the best candidate (first of
// equals) replaces T's threshold only if it is larger than T's current one.
// Which inputs are tuned follows TPU-MLIR: an op whose inputs were all tuned already re-tunes
// its first input, otherwise each not-yet-tuned input; all of E's inputs are quantized with the
// candidate (TPU-MLIR's calc_distance); weights stay float (its fake_quant_weight works on a copy).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "mixq/calibration/band_sweep.hpp"
#include "mixq/calibration/candidate_sweep.hpp"
#include "mixq/calibration/collector.hpp"
#include "mixq/calibration/kernels.hpp"
#include "mixq/calibration/tile_sweep.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/fake_quant.hpp"

namespace mixq::calibration {

struct tune_options {
  int steps = 21;                 // debug_cmd tune_steps
  double min_tuned_diff = 0.01;   // debug_cmd min_tuned_diff
  bool find_lower_th = false;     // debug_cmd find_lower_th: start at th0 / 3, then a finer pass
  /// debug_cmd not_use_fp32_tensor_as_ref: candidates quantize the inputs as the quantized
  /// model would compute them (each op on fake-quantized inputs), not the FP32 values.
  bool quantized_inputs = false;
  /// Called after each op: (ops done, ops total).
  std::function<void(std::size_t, std::size_t)> progress;
  /// For the candidates' fake-quantization and distances on large tensors (nullptr: one thread).
  thread_pool* pool = nullptr;
  /// Score element-wise consumers piece by piece (detail::sweep_squared_distances),
  /// convolutions band by band (detail::band_squared_distances) and concatenations per operand
  /// (detail::concat_squared_distances), in cache; off scores every op on whole tensors. Pieces
  /// give the same bits; bands and concatenations the same values summed in another order
  /// (about 1e-8 relative). The switch is for tests.
  bool piecewise = true;
  /// With piecewise scoring, stop scoring a candidate once it cannot be the best
  /// (detail::pruned_sweep): the same choice, and the same distance for every candidate that
  /// can be chosen. The switch is for tests and benchmarks.
  bool prune = true;
};

struct tune_result {
  std::vector<double> thresholds;  // per row
  std::size_t op_runs = 0;         // single-op executions, candidates included
  std::size_t tuned_inputs = 0;    // (E, T) pairs searched
  std::size_t raised = 0;          // rows whose threshold went up
  std::size_t peak_cached_bytes = 0;
  /// Of the pruned sweeps' candidate steps (parts of a result scored for one candidate), how
  /// many ran and how many scoring everything would run.
  std::size_t candidate_steps_scored = 0, candidate_steps_total = 0;
};

namespace detail {

/// TPU-MLIR's per-sample tuning distance |ref - out|_2 / |ref|_1; `ref_l1` = |ref|_1 is the same
/// for every candidate, so callers compute it once. 0 / 0 counts as no error.
inline double tune_distance_of(double squared_l2, double ref_l1) {
  if (ref_l1 == 0) return squared_l2 == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(squared_l2) / ref_l1;
}
inline double tune_distance(const tensor& ref, const tensor& out, double ref_l1, thread_pool* pool = nullptr) {
  return tune_distance_of(squared_distance(ref.values<float>(), out.values<float>(), pool), ref_l1);
}
inline double tune_distance(const tensor& ref, const tensor& out) { return tune_distance(ref, out, abs_sum(ref.values<float>())); }

inline tensor fake_quant_copy(const tensor& t, double threshold, thread_pool* pool = nullptr) {
  tensor out = tensor::empty(dtype::f32, t.shape());
  const auto q = quant::int_fake_quant::symmetric<8>(threshold);
  const std::span<const float> x = t.values<float>();
  const std::span<float> y = out.values<float>();
  for_each_block(x.size(), pool, [&](std::size_t, std::size_t b, std::size_t e) { quant::fake_quantize(x.subspan(b, e - b), y.subspan(b, e - b), q); });
  return out;
}

}  // namespace detail

class auto_tuner {
 public:
  /// `initial` are the untuned rows (threshold and abs max per row of `layout`); `samples` the
  /// tune batches (model inputs by name).
  auto_tuner(const graph& g, const interpreter& interp, const row_layout& layout, const calibration_result& initial, tune_options opt)
      : g_(g), interp_(interp), layout_(layout), initial_(initial), opt_(std::move(opt)) {
    if (initial_.rows.size() != layout_.rows.size()) throw error("calibration: tuner rows do not match the layout");
  }

  tune_result run(const std::vector<named_tensors>& samples) {
    if (samples.empty()) throw error("calibration: auto-tune needs at least one tune sample");
    tune_result res;
    res.thresholds.resize(layout_.rows.size());
    for (std::size_t r = 0; r < layout_.rows.size(); ++r) res.thresholds[r] = initial_.rows[r].threshold;
    current_ = &res.thresholds;
    const std::size_t S = samples.size();
    const auto users = g_.users();
    // Per sample: FP32 values (and, for quantized_inputs, the quantized chain) by value id,
    // each freed once its last consumer has been visited.
    std::vector<std::unordered_map<int, tensor>> ref(S), dq(S);
    std::vector<int> remaining(g_.values.size(), 0);
    for (std::size_t v = 0; v < users.size(); ++v) remaining[v] = static_cast<int>(users[v].size());
    std::vector<char> tuned(layout_.rows.size(), 0);
    std::size_t cached = 0;

    for (std::size_t s = 0; s < S; ++s) bind_inputs(samples[s], ref[s]);
    if (opt_.quantized_inputs)
      for (std::size_t s = 0; s < S; ++s) dq[s] = ref[s];

    std::size_t visited = 0;
    const std::size_t total = g_.nodes.size();
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const node& n = g_.nodes[i];
      if (opt_.progress) opt_.progress(++visited, total);
      if (n.op->has(top::trait::source)) continue;
      // FP32 reference outputs of E for every sample.
      for (std::size_t s = 0; s < S; ++s) {
        auto outs = run_node(static_cast<int>(i), ref[s]);
        ++res.op_runs;
        for (std::size_t k = 0; k < n.results.size(); ++k) ref[s][n.results[k]] = std::move(outs[k]);
      }
      // E's inputs that are rows (activations, not weights), without repeats.
      std::vector<int> pre;
      for (int v : n.operands) {
        const int r = layout_.row_of_value[static_cast<std::size_t>(v)];
        if (r >= 0 && std::find(pre.begin(), pre.end(), r) == pre.end()) pre.push_back(r);
      }
      if (!pre.empty() && !layout_.rows[static_cast<std::size_t>(pre[0])].integer && !n.results.empty() &&
          is_floating(g_.values[static_cast<std::size_t>(n.results[0])].type.elem)) {
        if (opt_.quantized_inputs)
          for (int r : pre) ensure_quantized(layout_.rows[static_cast<std::size_t>(r)].value, dq, res);
        const bool all_tuned = std::all_of(pre.begin(), pre.end(), [&](int r) { return tuned[static_cast<std::size_t>(r)] != 0; });
        std::vector<int> targets;
        if (all_tuned) targets.push_back(pre[0]);
        else
          for (int r : pre)
            if (!tuned[static_cast<std::size_t>(r)]) targets.push_back(r);
        for (int r : targets) {
          if (!layout_.rows[static_cast<std::size_t>(r)].integer) {
            const double best = tune_one(static_cast<int>(i), pre, r, ref, dq, res);
            if (best > res.thresholds[static_cast<std::size_t>(r)]) {
              res.thresholds[static_cast<std::size_t>(r)] = best;
            }
            ++res.tuned_inputs;
          }
          tuned[static_cast<std::size_t>(r)] = 1;
        }
      }
      // Drop what no later op reads.
      for (int v : n.operands)
        if (--remaining[static_cast<std::size_t>(v)] == 0)
          for (std::size_t s = 0; s < S; ++s) {
            ref[s].erase(v);
            if (!opt_.quantized_inputs) continue;
            // The quantized chain of v is needed until each consumer's own chain value exists.
            bool needed = false;
            for (int c : users[static_cast<std::size_t>(v)])
              for (int cr : g_.nodes[static_cast<std::size_t>(c)].results)
                if (!dq[s].count(cr) && remaining[static_cast<std::size_t>(cr)] > 0) needed = true;
            if (!needed) dq[s].erase(v);
          }
      for (int r : n.results)
        if (remaining[static_cast<std::size_t>(r)] == 0)
          for (std::size_t s = 0; s < S; ++s) ref[s].erase(r);
      cached = 0;
      for (std::size_t s = 0; s < S; ++s) {
        for (const auto& [v, t] : ref[s]) cached += t.nbytes();
        for (const auto& [v, t] : dq[s]) cached += t.nbytes();
      }
      res.peak_cached_bytes = std::max(res.peak_cached_bytes, cached);
    }
    for (std::size_t r = 0; r < layout_.rows.size(); ++r)
      if (res.thresholds[r] > initial_.rows[r].threshold) ++res.raised;
    return res;
  }

 private:
  void bind_inputs(const named_tensors& sample, std::unordered_map<int, tensor>& values) const {
    for (int i : g_.input_nodes()) {
      const node& n = g_.nodes[static_cast<std::size_t>(i)];
      const std::string& name = g_.node_name(i);
      auto it = sample.find(name);
      if (it == sample.end()) throw error("calibration: tune sample has no input \"" + name + "\"");
      const tensor_type& want = g_.values[static_cast<std::size_t>(n.results[0])].type;
      if (it->second.numel() != want.numel())
        throw error("calibration: tune input \"" + name + "\" has shape " + to_string(it->second.shape()) + ", the model expects " +
                    to_string(want.shape));
      tensor t = it->second.elem() == want.elem ? it->second : it->second.cast(want.elem);
      values[n.results[0]] = t.shape() == want.shape ? t : t.reshaped(want.shape);
    }
  }

  /// Node i's operands: weights from the interpreter, activations from `values` (null for none).
  std::vector<const tensor*> operands_of(int i, const std::unordered_map<int, tensor>& values) const {
    const node& n = g_.nodes[static_cast<std::size_t>(i)];
    std::vector<const tensor*> ops;
    ops.reserve(n.operands.size());
    for (int v : n.operands) {
      const value_info& vi = g_.values[static_cast<std::size_t>(v)];
      if (vi.type.is_none) {
        ops.push_back(nullptr);
        continue;
      }
      if (const tensor& c = interp_.constant(v); c.defined()) {
        ops.push_back(&c);
        continue;
      }
      auto it = values.find(v);
      if (it == values.end()) throw error("calibration: tuner lost the value \"" + vi.name + "\"");
      ops.push_back(&it->second);
    }
    return ops;
  }

  /// Runs node i alone on `operands`.
  std::vector<tensor> run_node(int i, const std::vector<const tensor*>& operands) const {
    std::vector<tensor> outs(g_.nodes[static_cast<std::size_t>(i)].results.size());
    interp_.compute_node(i, operands, outs);
    return outs;
  }
  std::vector<tensor> run_node(int i, const std::unordered_map<int, tensor>& values) const { return run_node(i, operands_of(i, values)); }

  /// The quantized-chain value of v (not_use_fp32_tensor_as_ref): v's op run on its own
  /// fake-quantized chain inputs, with the thresholds as they stand now.
  void ensure_quantized(int v, std::vector<std::unordered_map<int, tensor>>& dq, tune_result& res) const {
    const int p = g_.values[static_cast<std::size_t>(v)].producer;
    if (p < 0) return;
    const node& n = g_.nodes[static_cast<std::size_t>(p)];
    if (n.op->has(top::trait::source)) return;
    for (std::size_t s = 0; s < dq.size(); ++s) {
      if (dq[s].count(v)) continue;
      std::vector<const tensor*> ops = operands_of(p, dq[s]);
      std::vector<tensor> quantized(n.operands.size());
      for (std::size_t j = 0; j < n.operands.size(); ++j) {
        const int r = layout_.row_of_value[static_cast<std::size_t>(n.operands[j])];
        if (r < 0 || layout_.rows[static_cast<std::size_t>(r)].integer) continue;
        if (!ops[j]) throw error("calibration: the quantized chain lost \"" + layout_.rows[static_cast<std::size_t>(r)].name + "\"");
        quantized[j] = detail::fake_quant_copy(*ops[j], current_threshold(r), opt_.pool);
        ops[j] = &quantized[j];
      }
      auto outs = run_node(p, ops);
      ++res.op_runs;
      for (std::size_t k = 0; k < n.results.size(); ++k) dq[s][n.results[k]] = std::move(outs[k]);
    }
  }

  double current_threshold(int r) const { return (*current_)[static_cast<std::size_t>(r)]; }

  /// Each candidate's squared error over node i's first result on whole tensors: the operands
  /// marked in `quantize` fake-quantized into copies, the node run, its result compared with `ref_out`.
  std::vector<double> whole_tensor_l2(int i, const std::vector<const tensor*>& ops, const std::vector<char>& quantize, const tensor& ref_out,
                                      const std::vector<double>& ths) const {
    std::vector<double> l2(ths.size());
    for (std::size_t k = 0; k < ths.size(); ++k) {
      std::vector<const tensor*> cand = ops;
      std::vector<tensor> quantized(ops.size());
      for (std::size_t j = 0; j < ops.size(); ++j) {
        if (!quantize[j]) continue;
        // Add(x, x): one quantized copy for both operands.
        const auto same = std::find(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(j), ops[j]) - ops.begin();
        if (static_cast<std::size_t>(same) < j && quantize[static_cast<std::size_t>(same)]) {
          cand[j] = cand[static_cast<std::size_t>(same)];
          continue;
        }
        quantized[j] = detail::fake_quant_copy(*ops[j], ths[k], opt_.pool);
        cand[j] = &quantized[j];
      }
      const auto outs = run_node(i, cand);
      l2[k] = squared_distance(ref_out.values<float>(), outs[0].values<float>(), opt_.pool);
    }
    return l2;
  }

  /// The tuning distance of node i's first result for each candidate threshold of `ths`, averaged
  /// over the tune samples: E's inputs that are rows of `pre` are fake-quantized with the
  /// candidate (integer rows pass as they are), everything else is FP32. With pruning, a
  /// candidate that cannot be the best gets a lower bound of its distance, above the best one.
  std::vector<double> candidate_distances(int i, const std::vector<int>& pre, const std::vector<double>& ths,
                                          const std::vector<std::unordered_map<int, tensor>>& ref,
                                          const std::vector<std::unordered_map<int, tensor>>& dq, const std::vector<double>& ref_l1,
                                          tune_result& res) const {
    const node& n = g_.nodes[static_cast<std::size_t>(i)];
    const std::size_t K = ths.size(), S = ref.size();
    if (K == 0) return {};
    std::vector<quant::int_fake_quant> qs;
    for (double th : ths) qs.push_back(quant::int_fake_quant::symmetric<8>(th));
    const std::optional<detail::sweep_layout> layout = opt_.piecewise ? detail::sweep_layout_of(g_, interp_, i) : std::nullopt;
    const std::optional<detail::band_layout> bands = opt_.piecewise && !layout ? detail::band_layout_of(g_, interp_, i) : std::nullopt;
    const std::optional<std::vector<std::int64_t>> concat = opt_.piecewise && !layout && !bands ? detail::concat_offsets_of(g_, i) : std::nullopt;
    const int out_v = n.results[0];
    // Per sample: E's operands, with the rows of `pre` taken from the chain the candidates quantize.
    std::vector<std::vector<const tensor*>> ops(S);
    std::vector<std::vector<char>> quantize(S);
    for (std::size_t s = 0; s < S; ++s) {
      const auto& source = opt_.quantized_inputs ? dq[s] : ref[s];
      ops[s] = operands_of(i, ref[s]);
      quantize[s].assign(n.operands.size(), 0);
      for (std::size_t j = 0; j < n.operands.size(); ++j) {
        const int r = layout_.row_of_value[static_cast<std::size_t>(n.operands[j])];
        if (r < 0 || std::find(pre.begin(), pre.end(), r) == pre.end()) continue;
        auto it = source.find(n.operands[j]);
        if (it == source.end()) throw error("calibration: tuner lost the value \"" + layout_.rows[static_cast<std::size_t>(r)].name + "\"");
        ops[s][j] = &it->second;
        quantize[s][j] = layout_.rows[static_cast<std::size_t>(r)].integer ? 0 : 1;
      }
    }
    // The piecewise sweeps, when every sample's tensors fit the node's layout.
    std::vector<std::vector<detail::sweep_operand>> sweep(S);
    std::vector<std::unique_ptr<detail::sweep_problem>> problems(S);
    bool swept = layout || bands || concat;
    for (std::size_t s = 0; s < S && swept; ++s) {
      for (std::size_t j = 0; j < n.operands.size(); ++j) sweep[s].push_back({ops[s][j], quantize[s][j] != 0});
      const tensor& ref_out = ref[s].at(out_v);
      if (layout) problems[s] = detail::elementwise_problem::make(interp_, i, *layout, sweep[s], ref_out, opt_.pool);
      else if (bands) problems[s] = detail::band_problem::make(interp_, i, *bands, sweep[s], ref_out);
      else problems[s] = detail::concat_problem::make(*concat, sweep[s], ref_out);
      swept = problems[s] != nullptr;
    }
    res.op_runs += K * S;
    auto score = [&](std::span<const double> l2) {
      double sum = 0;
      for (std::size_t s = 0; s < S; ++s) sum += detail::tune_distance_of(l2[s], ref_l1[s]);
      return sum / static_cast<double>(S);
    };
    if (swept && opt_.prune) {
      std::vector<const detail::sweep_problem*> samples;
      for (const auto& p : problems) samples.push_back(p.get());
      const detail::pruned_sweep_result pruned = detail::pruned_sweep(samples, qs, score, opt_.pool);
      res.candidate_steps_scored += pruned.steps_scored;
      res.candidate_steps_total += pruned.steps_total;
      return pruned.scores;
    }
    std::vector<std::vector<double>> l2(S);
    for (std::size_t s = 0; s < S; ++s)
      l2[s] = swept ? detail::sweep_totals(*problems[s], qs, opt_.pool) : whole_tensor_l2(i, ops[s], quantize[s], ref[s].at(out_v), ths);
    std::vector<double> d(K);
    std::vector<double> per_sample(S);
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t s = 0; s < S; ++s) per_sample[s] = l2[s][k];
      d[k] = score(per_sample);
    }
    return d;
  }

  /// Searches the threshold of row `target` on node i's output error; returns the best candidate.
  double tune_one(int i, const std::vector<int>& pre, int target, const std::vector<std::unordered_map<int, tensor>>& ref,
                  const std::vector<std::unordered_map<int, tensor>>& dq, tune_result& res) {
    const node& n = g_.nodes[static_cast<std::size_t>(i)];
    const double th0 = initial_.rows[static_cast<std::size_t>(target)].threshold;
    const double abs_max = initial_.rows[static_cast<std::size_t>(target)].abs_max;
    double th_min = opt_.find_lower_th ? th0 / 3 : th0;
    double step = (abs_max - th_min) / opt_.steps;
    const double diff = std::fabs(abs_max - th_min);
    double best = th0;
    if (!(step > 0 && diff > opt_.min_tuned_diff)) return best;
    const int out_v = n.results[0];
    const std::size_t S = ref.size();
    std::vector<double> ref_l1(S);
    for (std::size_t s = 0; s < S; ++s) ref_l1[s] = abs_sum(ref[s].at(out_v).values<float>(), opt_.pool);
    double prev = -1;
    const int passes = opt_.find_lower_th ? 2 : 1;
    int first_k = 0, last_k = opt_.steps;
    for (int pass = 0; pass < passes; ++pass) {
      if (pass == 1) {  // finer pass around the best of the first
        const double lo = best - step, hi = best + step;
        const int times = opt_.steps / 2;
        th_min = lo;
        step = (hi - lo) / times;
        first_k = 1;
        last_k = times - 1;
      }
      std::vector<double> ths;
      for (int k = first_k; k <= last_k; ++k) {
        const double th = th_min + step * k;
        // TPU-MLIR's finer pass can step past the abs max; a threshold above it only wastes range.
        if (th > 0 && th <= abs_max) ths.push_back(th);
      }
      // Every candidate of a pass is scored in one sweep; the choice then walks them in order.
      const std::vector<double> ds = candidate_distances(i, pre, ths, ref, dq, ref_l1, res);
      for (std::size_t k = 0; k < ths.size(); ++k) {
        if (prev < 0) {
          prev = ds[k];
          continue;
        }
        if (ds[k] < prev) {
          prev = ds[k];
          best = ths[k];
        }
      }
    }
    return best;
  }

  const graph& g_;
  const interpreter& interp_;
  const row_layout& layout_;
  const calibration_result& initial_;
  tune_options opt_;
  const std::vector<double>* current_ = nullptr;
};

}  // namespace mixq::calibration
