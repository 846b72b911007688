#pragma once
// run_calibration --search search_threshold (facts doc §3): the thresholds of kl, max,
// percentile9999 and mse from ONE statistics pass, each tuned, each deployed INT8 for the processor
// in memory and scored against FP32 on the first inference_num batches; the best method's table wins.
// TPU-MLIR lowers each candidate through files (new_cali_table.txt, a .tune.mlir); here one
// quantized_evaluator lowers and runs them in process.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/calibration/calibrate.hpp"
#include "mixq/core/similarity.hpp"
#include "mixq/targets/evaluator.hpp"

namespace mixq::calibration {

enum class benchmark_method { cos, snr };

struct search_threshold_options {
  std::vector<method> methods{method::kl, method::max, method::percentile9999, method::mse};
  std::int64_t inference_num = 30;
  benchmark_method benchmark = benchmark_method::cos;
  const targets::processor_info* chip = &targets::all_processors[0];
  calibrate_options base;  // histogram bins, tune_num, tune options, pool, progress
  /// TPU-MLIR's Search_Threshold log lines ("Trying multi algorithm threshold of kl ...").
  std::function<void(const std::string&)> log;
  /// Called with each candidate table before it is scored (TPU-MLIR writes it to new_cali_table.txt).
  std::function<void(method, const cali_table&)> on_candidate;
  /// How the log names a method's table (TPU-MLIR names the file it copies); default "its tuned table".
  std::function<std::string(method, bool tuned)> table_name;
};

struct method_tables {
  method m = method::kl;
  cali_table untuned;               // `<cali>_<m>.1` (or `<cali>_<m>` without tuning)
  std::optional<cali_table> tuned;  // `<cali>_<m>_tune`
  double score = 0;                 // mean weighted 0.5 + 0.5 cos (or 1 - mean snr loss)
  const cali_table& final_table() const { return tuned ? *tuned : untuned; }
};

struct search_threshold_result {
  std::vector<method_tables> methods;
  std::size_t best = 0;
  std::size_t batches = 0, inference_batches = 0, tune_batches = 0;
  double statistics_seconds = 0, tune_seconds = 0, evaluation_seconds = 0;
  std::size_t lowerings = 0, replays = 0;  // per-op lowerings over all candidates: by the rules, reused
};

/// TPU-MLIR's per-sample similarity of a model's outputs: the mean over outputs of
/// 0.5 + 0.5 cos (cos), or 1 - |b - a|^2 / (|a|^2 + 1e-7) averaged over the outputs (snr; TPU-MLIR
/// counts only the last output there, mixq all of them).
inline double output_similarity(const std::vector<tensor>& ref, const std::vector<tensor>& out, benchmark_method b) {
  double s = 0;
  for (std::size_t k = 0; k < ref.size(); ++k) {
    if (b == benchmark_method::cos) {
      s += half_cosine(ref[k], out[k]);
      continue;
    }
    const auto a = mixq::detail::sanitized_values(ref[k]), q = mixq::detail::sanitized_values(out[k]);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) num += (q[i] - a[i]) * (q[i] - a[i]), den += a[i] * a[i];
    s += 1.0 - num / (den + 1e-7);
  }
  return ref.empty() ? 0.0 : s / static_cast<double>(ref.size());
}

inline search_threshold_result search_threshold(const graph& g, const calibration_batches& batches, const calibration_batches* tune_batches,
                                                const search_threshold_options& opt) {
  using clock = std::chrono::steady_clock;
  if (batches.empty()) throw error("search_threshold: no complete calibration batch");
  if (opt.methods.empty()) throw error("search_threshold: no method to search");
  search_threshold_result res;
  res.batches = batches.size();
  auto log = [&](const std::string& s) {
    if (opt.log) opt.log(s);
  };
  std::string list;
  for (method m : opt.methods) list += (list.empty() ? "'" : ", '") + std::string(method_name(m)) + "'";
  log("search_threshold: methods [" + list + "]");

  // One statistics pass for every method.
  const auto t0 = clock::now();
  interpreter interp(g, opt.base.pool);
  collect_options co;
  co.methods = opt.methods;
  co.histogram_bins = opt.base.histogram_bins;
  co.batches = static_cast<std::int64_t>(batches.size());
  co.pool = opt.base.pool;
  statistics_collector collector(g, co);
  statistics_pass_options po;
  po.pool = opt.base.pool;
  po.concurrent_batches = opt.base.concurrent_batches;
  if (opt.base.on_progress) {
    auto report = opt.base.on_progress;
    po.on_batch = [report](std::size_t done, std::size_t total) { report({calibrate_progress::stage::statistics, done, total}); };
  }
  run_statistics_pass(interp, batches, collector, po);
  res.statistics_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  const row_layout& layout = collector.layout();

  // Each method's table, tuned (the multi-method flows tune every method, facts §2.5).
  const auto t1 = clock::now();
  std::vector<named_tensors> tune_samples;
  const calibration_batches& tsrc = tune_batches ? *tune_batches : batches;
  for (std::size_t i = 0; i < std::min<std::size_t>(tsrc.size(), static_cast<std::size_t>(std::max<std::int64_t>(0, opt.base.tune_num))); ++i)
    tune_samples.push_back(tsrc.load(i));
  res.tune_batches = tune_samples.size();
  for (method m : opt.methods) {
    method_tables mt;
    mt.m = m;
    const calibration_result initial = collector.thresholds(m);
    calibrate_options hdr = opt.base;
    hdr.m = m;
    mt.untuned = detail::make_table(layout, initial, nullptr, detail::table_header(hdr, res.batches, false, 0));
    if (!tune_samples.empty()) {
      auto_tuner tuner(g, interp, layout, initial, opt.base.tune);
      const tune_result tr = tuner.run(tune_samples);
      mt.tuned = detail::make_table(layout, initial, &tr.thresholds,
                                    detail::table_header(hdr, res.batches, true, static_cast<std::int64_t>(tune_samples.size())));
    }
    res.methods.push_back(std::move(mt));
  }
  res.tune_seconds = std::chrono::duration<double>(clock::now() - t1).count();

  // Score each candidate on the first inference_num batches against FP32.
  const auto t2 = clock::now();
  const std::size_t n_eval = std::min<std::size_t>(batches.size(), static_cast<std::size_t>(std::max<std::int64_t>(1, opt.inference_num)));
  res.inference_batches = n_eval;
  std::vector<named_tensors> eval_in;
  std::vector<std::vector<tensor>> ref;
  for (std::size_t i = 0; i < n_eval; ++i) {
    eval_in.push_back(batches.load(i));
    std::vector<tensor> outs;
    for (auto& [name, t] : interp.run(eval_in.back()).outputs()) outs.push_back(t);
    ref.push_back(std::move(outs));
  }
  // One quantized evaluator for every candidate: set_table imports and propagates the new table and
  // lowers again only the ops whose lowering inputs changed. A method moves nearly every threshold,
  // so nearly every op is lowered again; what is shared is the model, the samples and the ops whose
  // ranges agree (fixed-range outputs, tensors where the methods agree). The candidates share no
  // run prefix worth keeping (the input's own threshold differs), so no per-sample cache.
  evaluator_options eo;
  eo.pool = opt.base.pool;
  eo.cache_budget_bytes = 0;
  std::optional<quantized_evaluator> ev;
  std::string scores;
  for (method_tables& mt : res.methods) {
    const cali_table& table = mt.final_table();
    const std::string table_name =
        opt.table_name ? opt.table_name(mt.m, mt.tuned.has_value()) : std::string("its ") + (mt.tuned ? "tuned" : "untuned") + " table";
    log(std::string("Trying multi algorithm threshold of ") + std::string(method_name(mt.m)) + " with " + table_name);
    if (opt.on_candidate) opt.on_candidate(mt.m, table);
    if (!ev) {
      targets::deploy_options d;
      d.mode = targets::quant_mode::INT8;
      d.chip = opt.chip;
      ev.emplace(g, table, d, eo);
      for (const named_tensors& in : eval_in) ev->add_sample(in);
    } else {
      ev->set_table(table);
    }
    double total = 0;
    for (std::size_t i = 0; i < n_eval; ++i) {
      std::vector<tensor> outs;
      for (auto& [name, t] : ev->run(i)) outs.push_back(t);
      total += output_similarity(ref[i], outs, opt.benchmark);
    }
    res.lowerings += ev->stats().last_lowerings;
    res.replays += ev->stats().last_replays;
    mt.score = total / static_cast<double>(n_eval);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", mt.score);
    scores += (scores.empty() ? "'" : ", '") + std::string(method_name(mt.m)) + "': " + buf;
  }
  res.evaluation_seconds = std::chrono::duration<double>(clock::now() - t2).count();
  log(std::string(opt.benchmark == benchmark_method::cos ? "cos" : "snr") + " similarity scores: {" + scores + "}");
  for (std::size_t k = 1; k < res.methods.size(); ++k)
    if (res.methods[k].score > res.methods[res.best].score) res.best = k;
  char buf[96];
  std::snprintf(buf, sizeof buf, "optimal_method_name: %s, optimal_value: %.6f", std::string(method_name(res.methods[res.best].m)).c_str(),
                res.methods[res.best].score);
  log(buf);
  log("success");
  return res;
}

}  // namespace mixq::calibration
