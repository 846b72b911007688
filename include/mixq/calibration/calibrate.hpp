#pragma once
// run_calibration as a library call: pass 1 (statistics, one inference per batch, several
// batches at once: statistics_pass.hpp), the thresholds of the chosen method, and pass 2
// (auto-tune) when TPU-MLIR would tune. Returns the tables; writing them is the caller's choice.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mixq/calibration/collector.hpp"
#include "mixq/calibration/dataset.hpp"
#include "mixq/calibration/statistics_pass.hpp"
#include "mixq/calibration/tuner.hpp"
#include "mixq/config.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/cali_table.hpp"

namespace mixq::calibration {

/// Where a long run is: pass 1 batches, then tune ops.
struct calibrate_progress {
  enum class stage { statistics, tuning } what = stage::statistics;
  std::size_t done = 0, total = 0;
};

struct calibrate_options {
  method m = method::kl;
  int histogram_bins = 2048;
  /// Tune batches taken from the front of the calibration batches (unless tune batches are
  /// given); 0 disables tuning.
  std::int64_t tune_num = 5;
  bool int4 = false;      // debug_cmd int4: `#int4_th` rows, no tuning
  bool fp8 = false;       // debug_cmd fp8: max, no tuning, the fp8 table
  bool kurtosis = false;  // --kurtosis_analysis
  tune_options tune;
  /// debug_cmd input_calibration_table: start from this table instead of pass 1 (tuning only).
  const cali_table* input_table = nullptr;
  std::string mlir_file;  // for the table header
  thread_pool* pool = nullptr;
  /// Pass 1's batches in flight at once (statistics_pass_options): 0 chooses, 1 runs them one
  /// after another.
  std::size_t concurrent_batches = 0;
  std::function<void(const calibrate_progress&)> on_progress;
};

struct kurtosis_row {
  std::string name;
  double value = 0;
  std::string op_type;
};

struct calibrate_output {
  cali_table table;                   // the final table (tuned when tuning ran)
  std::optional<cali_table> untuned;  // `<cali>.1` when tuning ran
  std::vector<kurtosis_row> kurtosis;  // sorted by kurtosis, largest first; LayerNorm/Softmax left out
  std::vector<std::string> warnings;
  // What the run cost.
  std::size_t batches = 0, tune_batches = 0;
  double statistics_seconds = 0, tune_seconds = 0;
  std::size_t statistics_bytes = 0, peak_activation_bytes = 0, tune_cache_bytes = 0;
  std::size_t concurrent_batches = 1;  // pass 1's batches in flight at once
  std::size_t tune_op_runs = 0, tuned_inputs = 0, raised = 0;
  /// Candidate steps the tuner's pruned sweeps ran, of those a full sweep runs.
  std::size_t tune_steps_scored = 0, tune_steps_total = 0;
};

inline bool will_tune(const calibrate_options& o) { return o.tune_num > 0 && !o.int4 && !o.fp8 && method_is_tuned(o.m); }

namespace detail {

inline cali_table_header table_header(const calibrate_options& o, std::size_t batches, bool tuned, std::int64_t tune_batches) {
  cali_table_header h;
  h.mlir_version = "mixq-" MIXQ_VERSION_STRING;
  h.cali_version = "1.0";
  h.mlir_file = o.mlir_file;
  h.generated_time = tpu_mlir_timestamp();
  const std::string m(method_name(o.fp8 ? method::max : o.m));
  h.method = tuned ? "['" + m + "']" : m;  // TPU-MLIR passes the method list to the tuned dump
  h.histogram_bins = o.histogram_bins;
  h.fp8 = o.fp8;
  h.sample_number = static_cast<std::int64_t>(batches);
  h.tune_number = tuned ? tune_batches : 0;
  return h;
}

inline cali_table make_table(const row_layout& l, const calibration_result& r, const std::vector<double>* tuned, cali_table_header h) {
  cali_table t;
  t.header = std::move(h);
  for (std::size_t k = 0; k < l.rows.size(); ++k) {
    const row_thresholds& v = r.rows[k];
    const double th = tuned ? (*tuned)[k] : v.threshold;
    if (t.header.fp8) {
      t.fp8_rows.push_back({l.rows[k].name, th, -th * 128.0 / 127.0, th});
    } else {
      t.rows.push_back({l.rows[k].name, th, v.min, v.max});
      if (v.int4_threshold) t.int4_rows.push_back({l.rows[k].name, *v.int4_threshold, -*v.int4_threshold * 8.0 / 7.0, *v.int4_threshold});
    }
  }
  return t;
}

/// Rows of an existing table as the tuner's starting point (debug_cmd input_calibration_table).
inline calibration_result result_from_table(const row_layout& l, const cali_table& t, method m) {
  calibration_result r;
  r.m = m;
  for (const tensor_row& row : l.rows) {
    const cali_row* c = t.find(row.name);
    if (!c) throw error("calibration: the input calibration table has no row for tensor \"" + row.name + "\"");
    row_thresholds v;
    v.threshold = c->threshold;
    v.min = c->min;
    v.max = c->max;
    v.abs_max = std::max({std::fabs(c->min), std::fabs(c->max), c->threshold});
    r.rows.push_back(v);
  }
  return r;
}

}  // namespace detail

inline calibrate_output calibrate(const graph& g, const calibration_batches& batches, const calibration_batches* tune_batches,
                                  const calibrate_options& opt) {
  using clock = std::chrono::steady_clock;
  calibrate_output out;
  if (opt.int4 && opt.fp8) throw error("calibration: int4 and fp8 cannot be calibrated together");
  if (opt.fp8 && opt.m != method::max && opt.m != method::kl)
    throw error("calibration: fp8 calibration uses the max method only, not " + std::string(method_name(opt.m)));
  const method m = opt.fp8 ? method::max : opt.m;
  interpreter interp(g, opt.pool);
  const bool tuning = will_tune(opt);
  out.batches = batches.size();
  if (batches.empty()) throw error("calibration: " + batches.selection().source + ": no complete calibration batch");

  calibration_result initial;
  std::vector<named_tensors> kept;  // pass 1's first inputs, reused as the tune samples
  row_layout layout = calibration_rows(g);
  const auto t0 = clock::now();
  if (opt.input_table) {
    if (!tuning) throw error("calibration: input_calibration_table needs tuning (tune_num > 0 and a tuned method)");
    initial = detail::result_from_table(layout, *opt.input_table, m);
  } else {
    collect_options co;
    co.methods = {m};
    co.histogram_bins = opt.histogram_bins;
    co.int4 = opt.int4;
    co.kurtosis = opt.kurtosis;
    co.batches = static_cast<std::int64_t>(batches.size());
    co.pool = opt.pool;
    statistics_collector collector(g, co);
    statistics_pass_options po;
    po.pool = opt.pool;
    po.concurrent_batches = opt.concurrent_batches;
    if (tuning && !tune_batches) po.keep_inputs = static_cast<std::size_t>(std::max<std::int64_t>(0, opt.tune_num));
    if (opt.on_progress) {
      auto report = opt.on_progress;
      po.on_batch = [report](std::size_t done, std::size_t total) { report({calibrate_progress::stage::statistics, done, total}); };
    }
    statistics_pass_result pass = run_statistics_pass(interp, batches, collector, po);
    out.peak_activation_bytes = pass.peak_activation_bytes;
    out.concurrent_batches = pass.concurrent_batches;
    kept = std::move(pass.kept_inputs);
    out.statistics_bytes = collector.memory_bytes();
    initial = collector.thresholds(m);
    out.warnings = initial.warnings;
    if (opt.kurtosis) {
      for (std::size_t k = 0; k < layout.rows.size(); ++k) {
        const auto& row = layout.rows[k];
        if (!initial.rows[k].kurtosis || row.op_type == "top.LayerNorm" || row.op_type == "top.Softmax") continue;
        out.kurtosis.push_back({row.name, *initial.rows[k].kurtosis, std::string(row.op_type)});
      }
      std::stable_sort(out.kurtosis.begin(), out.kurtosis.end(), [](const kurtosis_row& a, const kurtosis_row& b) { return a.value > b.value; });
    }
  }
  out.statistics_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  std::int64_t tune_count = 0;
  if (!tuning) {
    out.table = detail::make_table(layout, initial, nullptr, detail::table_header(opt, out.batches, false, 0));
    return out;
  }
  const auto t1 = clock::now();
  std::vector<named_tensors> samples;
  const calibration_batches& source = tune_batches ? *tune_batches : batches;
  const std::size_t n = std::min<std::size_t>(source.size(), static_cast<std::size_t>(opt.tune_num));
  for (std::size_t i = 0; i < n; ++i) samples.push_back(i < kept.size() ? std::move(kept[i]) : source.load(i));
  tune_count = static_cast<std::int64_t>(samples.size());
  out.tune_batches = samples.size();
  tune_options to = opt.tune;
  if (!to.pool) to.pool = opt.pool;
  if (opt.on_progress) {
    auto report = opt.on_progress;
    to.progress = [report](std::size_t done, std::size_t total) { report({calibrate_progress::stage::tuning, done, total}); };
  }
  auto_tuner tuner(g, interp, layout, initial, to);
  const tune_result tr = tuner.run(samples);
  out.tune_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  out.tune_op_runs = tr.op_runs;
  out.tuned_inputs = tr.tuned_inputs;
  out.raised = tr.raised;
  out.tune_cache_bytes = tr.peak_cached_bytes;
  out.tune_steps_scored = tr.candidate_steps_scored;
  out.tune_steps_total = tr.candidate_steps_total;
  out.untuned = detail::make_table(layout, initial, nullptr, detail::table_header(opt, out.batches, false, 0));
  out.table = detail::make_table(layout, initial, &tr.thresholds, detail::table_header(opt, out.batches, true, tune_count));
  return out;
}

}  // namespace mixq::calibration
