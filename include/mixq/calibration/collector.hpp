#pragma once
// Pass 1 of run_calibration: one FP32 inference per batch feeds every enabled statistic of every
// tensor through the interpreter's output hook, and the activation is dropped right after. Then
// `thresholds(method)` turns the statistics into cali-table rows exactly as TPU-MLIR's
// ActivationCalibrator does (facts doc §1.1, §2.2-2.6), for any enabled method — search flows
// enable several at once and still run a single pass.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "mixq/calibration/histogram_observer.hpp"
#include "mixq/calibration/kl.hpp"
#include "mixq/calibration/method.hpp"
#include "mixq/calibration/statistics.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"

namespace mixq::calibration {

/// The mean of values added one at a time (summed in order, as TPU-MLIR sums its lists).
struct running_mean {
  double sum = 0;
  std::int64_t count = 0;
  void add(double v) {
    sum += v;
    ++count;
  }
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
};

/// One cali-table row: an op result of the graph.
struct tensor_row {
  std::string name;
  int value = -1;
  int node = -1;
  /// Position of the node in TPU-MLIR's op list (every op but top.Weight and top.None); it sets
  /// the percentile9999 level of the row.
  int op_index = 0;
  std::string_view op_type;
  /// The node reads no other op's result (top.Input, or an op over weights only).
  bool from_input_op = false;
  /// Integer or bool tensor (token ids, masks, shapes): range only, threshold = abs max.
  bool integer = false;
};

/// TPU-MLIR's op list of a graph, as cali-table rows in topological order.
struct row_layout {
  std::vector<tensor_row> rows;
  int op_count = 0;
  std::vector<int> row_of_value;  // value id -> row, or -1
  /// Rows visited by the last-five rule of mse/aciq: the last five tensors, last first.
  std::vector<int> last_five;
};

inline row_layout calibration_rows(const graph& g) {
  row_layout l;
  l.row_of_value.assign(g.values.size(), -1);
  const auto users = g.users();
  std::vector<char> returned(g.values.size(), 0);
  for (int v : g.outputs) returned[static_cast<std::size_t>(v)] = 1;
  int op_index = 0;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const node& n = g.nodes[i];
    if (n.is<top::weight_op>() || n.is<top::none_op>()) continue;
    bool from_input = true;
    for (int v : n.operands) {
      const int p = g.values[static_cast<std::size_t>(v)].producer;
      if (p >= 0 && !g.nodes[static_cast<std::size_t>(p)].is<top::weight_op>() && !g.nodes[static_cast<std::size_t>(p)].is<top::none_op>())
        from_input = false;
    }
    const bool multi = n.results.size() > 1;
    for (int r : n.results) {
      const value_info& vi = g.values[static_cast<std::size_t>(r)];
      if (vi.type.is_none || vi.name.empty()) continue;
      // A multi-result op's unused results get no row (TPU-MLIR has no tensor for them).
      if (multi && users[static_cast<std::size_t>(r)].empty() && !returned[static_cast<std::size_t>(r)]) continue;
      tensor_row row;
      row.name = vi.name;
      row.value = r;
      row.node = static_cast<int>(i);
      row.op_index = op_index;
      row.op_type = n.mnemonic();
      row.from_input_op = from_input;
      row.integer = !is_floating(vi.type.elem);
      l.row_of_value[static_cast<std::size_t>(r)] = static_cast<int>(l.rows.size());
      l.rows.push_back(std::move(row));
    }
    ++op_index;
  }
  l.op_count = op_index;
  for (int k = static_cast<int>(l.rows.size()) - 1; k >= 0 && static_cast<int>(l.last_five.size()) < 5; --k) l.last_five.push_back(k);
  return l;
}

/// The percentile9999 level of a row: 99.99 + i (99.999999 - 99.99) / #ops.
inline double row_percentile(const row_layout& l, const tensor_row& r) {
  return 99.99 + r.op_index * ((99.999999 - 99.99) / std::max(1, l.op_count));
}

struct collect_options {
  /// Methods whose statistics are gathered (thresholds() may then be asked for any of them).
  std::vector<method> methods{method::kl};
  int histogram_bins = 2048;
  /// Also 4-bit thresholds (debug_cmd `int4`: the `#int4_th` section).
  bool int4 = false;
  bool kurtosis = false;
  /// Number of calibration batches that will be observed; sets the percentile's k.
  std::int64_t batches = 0;
  thread_pool* pool = nullptr;
};

/// One row of a calibration result.
struct row_thresholds {
  double threshold = 0;
  double min = 0;
  double max = 0;
  /// What the tuner may raise the threshold up to (TPU-MLIR's thresholds_map_absmax).
  double abs_max = 0;
  std::optional<double> int4_threshold;
  std::optional<double> kurtosis;
  /// torch observer: the observer's affine parameters.
  std::optional<double> observer_scale;
  std::optional<std::int64_t> observer_zero_point;
};

struct calibration_result {
  method m = method::kl;
  std::vector<row_thresholds> rows;  // parallel to row_layout::rows
  std::vector<std::string> warnings;
};

class statistics_collector {
 public:
  statistics_collector(const graph& g, collect_options opt) : g_(g), opt_(std::move(opt)), layout_(calibration_rows(g)) {
    if (opt_.methods.empty()) throw error("calibration: no threshold method to collect statistics for");
    if (opt_.batches <= 0) throw error("calibration: the number of calibration batches must be known before pass 1");
    for (method m : opt_.methods) need_.insert(m);
    const bool any_mse_like = has(method::mse) || has(method::aciq_gauss) || has(method::aciq_laplace);
    stats_.resize(layout_.rows.size());
    order_ = std::make_unique<batch_order>(layout_.rows.size());
    std::vector<char> in_last_five(layout_.rows.size(), 0);
    for (int r : layout_.last_five) in_last_five[static_cast<std::size_t>(r)] = 1;
    for (std::size_t r = 0; r < layout_.rows.size(); ++r) {
      const tensor_row& row = layout_.rows[r];
      row_stats& s = stats_[r];
      if (row.integer) continue;
      const std::int64_t size = g.values[static_cast<std::size_t>(row.value)].type.numel();
      const std::int64_t k = percentile_k(opt_.batches * size, row_percentile(layout_, row));
      if (has(method::kl) || has(method::kl_trt)) s.hist.emplace(opt_.histogram_bins);
      if (has(method::percentile9999)) {
        s.top.emplace(k, top_k::order::largest);
        s.bottom.emplace(k, top_k::order::smallest);
      }
      if (any_mse_like && in_last_five[r]) s.top_abs.emplace(k, top_k::order::largest_abs);
      if (has(method::torch_observer)) s.observer = std::make_unique<histogram_observer>(opt_.histogram_bins);
    }
  }

  const row_layout& layout() const noexcept { return layout_; }
  std::int64_t batches_seen() const noexcept { return order_->finished.load(std::memory_order_acquire); }

  /// Runs one batch through `interp` with the hooks; counts the batch.
  void add_batch(const interpreter& interp, const named_tensors& inputs) {
    const std::int64_t b = batches_seen();
    const run_hooks h = batch_hooks(b);
    run_options ro;
    ro.hooks = &h;
    interp.run(inputs, ro);
    finish_batch(b);
  }

  /// Hooks for interpreter::run on batch `b` (0-based, each batch once): every row's tensor is
  /// observed as it is produced. Batches may run at once on several threads (statistics_pass):
  /// a row takes batch b only after batch b - 1 has, so every statistic sees the batches in
  /// order, exactly as one batch after another (the histogram's growth, the averages' sums).
  run_hooks batch_hooks(std::int64_t b) {
    if (b < 0 || b >= opt_.batches)
      throw error("calibration: batch " + std::to_string(b + 1) + " is past the " + std::to_string(opt_.batches) + " announced");
    run_hooks h;
    h.on_output = [this, b](int node, int result, tensor& t) {
      const int v = g_.nodes[static_cast<std::size_t>(node)].results[static_cast<std::size_t>(result)];
      const int r = layout_.row_of_value[static_cast<std::size_t>(v)];
      if (r < 0 || !wait_turn(static_cast<std::size_t>(r), b)) return;
      observe_row(static_cast<std::size_t>(r), t, b);
      order_->turn[static_cast<std::size_t>(r)].store(b + 1, std::memory_order_release);
    };
    return h;
  }

  /// Batch b has run: the rows it did not produce let batch b + 1 through, and it counts.
  void finish_batch(std::int64_t b) {
    for (std::size_t r = 0; r < stats_.size(); ++r)
      if (wait_turn(r, b)) order_->turn[r].store(b + 1, std::memory_order_release);
    order_->finished.fetch_add(1, std::memory_order_acq_rel);
  }

  /// Batch b failed: the batches after it stop at their next row, where their hooks (and
  /// finish_batch) throw batch_aborted. The batches before it run on.
  void abort_after(std::int64_t b) {
    std::int64_t cur = order_->aborted_after.load();
    while (b < cur && !order_->aborted_after.compare_exchange_weak(cur, b)) {
    }
  }

  /// Thrown into a batch that runs after a failed one.
  struct batch_aborted {};

  /// Folds batch b's tensor into row `r`'s statistics.
  void observe_row(std::size_t r, const tensor& t, std::int64_t b) {
    row_stats& s = stats_[r];
    const tensor_row& row = layout_.rows[r];
    const tensor f = t.elem() == dtype::f32 ? t : t.cast(dtype::f32);
    const std::span<const float> x = f.values<float>();
    // KL's histogram and the range in one pass over the tensor where the batch fits the
    // histogram's range (the usual case after the first batches); else the range first.
    value_range br;
    bool binned = false;
    if (s.hist && !x.empty()) {
      const auto w = s.hist->add_within_range(x, opt_.pool);
      br = w.range;
      binned = w.counted;
    } else {
      br = range_of(x, opt_.pool);
    }
    if (!br.finite)
      throw error("calibration: tensor \"" + row.name + "\" holds NaN or inf in batch " + std::to_string(b + 1) +
                  " (check the input data and the model)");
    ++s.batches;
    s.elements = static_cast<std::int64_t>(x.size());
    if (x.empty()) return;
    s.range.min = std::min(s.range.min, br.min);
    s.range.max = std::max(s.range.max, br.max);
    if (row.integer) return;
    const float running_abs = s.range.abs_max();
    thread_pool* pool = opt_.pool;
    if (s.hist && !binned) s.hist->add(x, running_abs, pool);
    // An all-zero batch says nothing about the clip point (TPU-MLIR's OCTAV gives NaN there, which
    // poisons the tensor's average); it is left out of the average.
    if (has(method::mse) && !(br.min == 0.f && br.max == 0.f)) {
      s.octav8.add(octav_threshold(x, 8, br.min, pool));
      if (opt_.int4) s.octav4.add(octav_threshold(x, 4, br.min, pool));
    }
    if (has(method::aciq_gauss)) {
      s.aciq_gauss8.add(aciq_gauss_threshold(br.min, br.max, static_cast<std::int64_t>(x.size()), 8));
      if (opt_.int4) s.aciq_gauss4.add(aciq_gauss_threshold(br.min, br.max, static_cast<std::int64_t>(x.size()), 4));
    }
    if (has(method::aciq_laplace)) {
      const double mean = sum_of(x) / static_cast<double>(x.size());
      const double mad = central_sums_of(x, mean).abs_dev / static_cast<double>(x.size());
      s.aciq_laplace8.add(aciq_laplace_beta(8) * mad);
      if (opt_.int4) s.aciq_laplace4.add(aciq_laplace_beta(4) * mad);
    }
    if (s.top) s.top->add(x);
    if (s.bottom) s.bottom->add(x);
    if (s.top_abs) s.top_abs->add(x);
    if (s.observer) s.observer->observe(x);
    if (opt_.kurtosis) s.kurtosis.add(calibration::kurtosis(x));
  }

  /// Bytes held by the statistics (not counting the model or the interpreter).
  std::size_t memory_bytes() const {
    std::size_t b = stats_.capacity() * sizeof(row_stats);
    for (const auto& s : stats_) {
      if (s.hist) b += s.hist->memory_bytes();
      if (s.top) b += s.top->memory_bytes();
      if (s.bottom) b += s.bottom->memory_bytes();
      if (s.top_abs) b += s.top_abs->memory_bytes();
      if (s.observer) b += s.observer->memory_bytes();
    }
    return b;
  }

  /// Thresholds of one of the collected methods.
  calibration_result thresholds(method m) const {
    if (!has(m)) throw error("calibration: statistics for " + std::string(method_name(m)) + " were not collected");
    if (batches_seen() == 0) throw error("calibration: no batch was observed");
    calibration_result res;
    res.m = m;
    res.rows.resize(layout_.rows.size());
    const bool mse_like = m == method::mse || m == method::aciq_gauss || m == method::aciq_laplace;
    // Last-five rule (mse/aciq): walking back from the last tensor, each whose interpolated
    // |x| percentile equals its abs max keeps the abs max, up to the first Conv/MatMul.
    std::vector<char> keep_abs_max(layout_.rows.size(), 0);
    if (mse_like)
      for (int r : layout_.last_five) {
        const row_stats& s = stats_[static_cast<std::size_t>(r)];
        const tensor_row& row = layout_.rows[static_cast<std::size_t>(r)];
        if (row.integer || !s.top_abs || s.batches == 0) break;
        const double p = interpolated_percentile(s.top_abs->extremes(), row_percentile(layout_, row), s.batches * s.elements);
        if (p != static_cast<double>(s.range.abs_max())) break;
        keep_abs_max[static_cast<std::size_t>(r)] = 1;
        if (row.op_type == "top.Conv" || row.op_type == "top.MatMul") break;
      }
    // Rows are independent; the searches (KL over large histograms) dominate, so they run in parallel.
    std::vector<std::vector<std::string>> row_warnings(layout_.rows.size());
    auto finish_row = [&](std::size_t r) {
      const tensor_row& row = layout_.rows[r];
      const row_stats& s = stats_[r];
      row_thresholds& out = res.rows[r];
      if (s.batches == 0) {
        row_warnings[r].push_back("tensor \"" + row.name + "\" was never produced; its row gets threshold 1e-5");
        out.threshold = out.abs_max = 1e-5;
        out.min = -1e-5;
        out.max = 1e-5;
        return;
      }
      double mn = s.range.min, mx = s.range.max;
      const double abs_max = s.range.abs_max();
      double th = abs_max;
      std::optional<double> th4;
      if (!row.integer) {
        switch (m) {
          case method::kl:
          case method::kl_trt: {
            const auto& h = *s.hist;
            th = m == method::kl ? kl_threshold(h.counts(), h.width(), 128, opt_.pool) : kl_trt_threshold(h.counts(), h.width(), 128);
            if (opt_.int4) th4 = m == method::kl ? kl_threshold(h.counts(), h.width(), 8, opt_.pool) : kl_trt_threshold(h.counts(), h.width(), 8);
            if (h.restarts() > 0)
              row_warnings[r].push_back("tensor \"" + row.name + "\": the histogram outgrew 8,000,000 bins and restarted " +
                                     std::to_string(h.restarts()) + " time(s) (calibration samples differ too much in range)");
            break;
          }
          case method::max:
            th = abs_max;
            if (opt_.int4) th4 = abs_max;
            break;
          case method::percentile9999: {
            const double p = row_percentile(layout_, row);
            const std::int64_t total = s.batches * s.elements;
            mx = interpolated_percentile(s.top->extremes(), p, total);
            mn = interpolated_percentile(s.bottom->extremes(), p, total);
            th = std::max(std::fabs(mn), std::fabs(mx));
            if (opt_.int4) th4 = th;  // TPU-MLIR never sets it (its #int4_th rows read 0)
            break;
          }
          case method::mse:
            th = std::min(mean(s.octav8), abs_max);
            if (opt_.int4) th4 = std::min(mean(s.octav4), abs_max);
            break;
          case method::aciq_gauss:
            th = std::min(mean(s.aciq_gauss8), abs_max);
            if (opt_.int4) th4 = std::min(mean(s.aciq_gauss4), abs_max);
            break;
          case method::aciq_laplace:
            th = std::min(mean(s.aciq_laplace8), abs_max);
            if (opt_.int4) th4 = std::min(mean(s.aciq_laplace4), abs_max);
            break;
          case method::torch_observer: {
            const auto q = s.observer->qparams();
            th = s.observer->threshold();
            out.observer_scale = q.scale;
            out.observer_zero_point = q.zero_point;
            // The representable range of the observer's affine parameters, as TPU-MLIR writes it.
            mn = q.scale * static_cast<double>(-128 - q.zero_point);
            mx = q.scale * static_cast<double>(127 - q.zero_point);
            break;
          }
        }
        if (mse_like && (keep_abs_max[r] || row.from_input_op)) {
          th = abs_max;
          if (th4) th4 = abs_max;
        }
      }
      double limit = m == method::percentile9999 || m == method::torch_observer ? th : abs_max;
      if (m != method::torch_observer && limit <= 1e-5) {
        // An (almost) all-zero tensor: TPU-MLIR's fixed row.
        mn = mn < 0 ? -1e-5 : 0.0;
        mx = 1e-5;
        limit = 1e-5;
      }
      th = std::min(th, limit);
      if (th4) th4 = std::min(*th4, limit);
      if (!(th > 1e-5)) {
        row_warnings[r].push_back("tensor \"" + row.name + "\" has threshold " + std::to_string(th) + "; using 1e-5 (all zeros? check the input data)");
        th = 1e-5;
      }
      if (th4 && !(*th4 > 1e-5)) th4 = 1e-5;
      out.threshold = th;
      out.int4_threshold = th4;
      out.min = mn;
      out.max = mx;
      out.abs_max = std::max(limit, th);
      if (opt_.kurtosis && s.kurtosis.count > 0) out.kurtosis = mean(s.kurtosis);
    };
    auto rows_in = [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) finish_row(static_cast<std::size_t>(r));
    };
    if (opt_.pool) opt_.pool->parallel_for(static_cast<std::int64_t>(layout_.rows.size()), 1, rows_in);
    else rows_in(0, static_cast<std::int64_t>(layout_.rows.size()));
    for (auto& w : row_warnings) res.warnings.insert(res.warnings.end(), w.begin(), w.end());
    return res;
  }

 private:
  struct row_stats {
    value_range range;
    std::int64_t batches = 0;
    std::int64_t elements = 0;
    std::optional<abs_histogram> hist;
    std::optional<top_k> top, bottom, top_abs;
    std::unique_ptr<histogram_observer> observer;
    // Per-batch values are only ever averaged: a running sum keeps the memory independent of
    // the number of batches.
    running_mean octav8, octav4, aciq_gauss8, aciq_gauss4, aciq_laplace8, aciq_laplace4, kurtosis;
  };

  bool has(method m) const { return need_.count(m) > 0; }
  static double mean(const running_mean& v) { return v.mean(); }

  const graph& g_;
  collect_options opt_;
  row_layout layout_;
  std::set<method> need_;
  std::vector<row_stats> stats_;
  // Which batch each row takes next; the batch after which batches stop; how many finished.
  // Held by pointer so that the collector stays movable.
  struct batch_order {
    explicit batch_order(std::size_t rows) : turn(new std::atomic<std::int64_t>[rows]) {
      for (std::size_t r = 0; r < rows; ++r) turn[r].store(0);
    }
    std::unique_ptr<std::atomic<std::int64_t>[]> turn;
    std::atomic<std::int64_t> aborted_after{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> finished{0};
  };
  std::unique_ptr<batch_order> order_;

  /// Waits until row r may take batch b; false when it already has (a value seen twice).
  /// The batch before b runs on another thread, so the wait is usually short; it backs off to
  /// sleeping in case that thread is descheduled.
  bool wait_turn(std::size_t r, std::int64_t b) const {
    for (unsigned spins = 0;; ++spins) {
      const std::int64_t next = order_->turn[r].load(std::memory_order_acquire);
      if (next >= b) return next == b;
      if (b > order_->aborted_after.load(std::memory_order_acquire)) throw batch_aborted{};
      if (spins < 2048) mixq::detail::spin_pause();
      else if (spins < 4096) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
};

}  // namespace mixq::calibration
