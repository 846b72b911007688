// Pass 1 (statistics over a real graph) and pass 2 (auto-tune) on the conv_net fixture, checked
// against values recomputed from every activation kept in memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mixq/calibration/collector.hpp"
#include "mixq/calibration/tuner.hpp"
#include "mixq/io/model.hpp"
#include "test_support.hpp"

using namespace mixq;
using namespace mixq::calibration;

namespace {

const graph& conv_net() {
  static const graph g = load_model(std::string(MIXQ_TEST_DATA_DIR) + "/models/conv_net.mlir");
  return g;
}

std::vector<named_tensors> random_batches(int n, unsigned seed, float scale = 1.f) {
  std::mt19937 gen(seed);
  std::vector<named_tensors> out;
  for (int b = 0; b < n; ++b) {
    tensor t = tensor::empty(dtype::f32, {1, 3, 16, 16});
    std::normal_distribution<float> d(0.f, scale * (1.f + 0.3f * static_cast<float>(b)));
    for (float& v : t.values<float>()) v = d(gen);
    out.push_back({{"input", t}});
  }
  return out;
}

/// Every row's activation for every batch, from plain runs that keep all tensors.
std::vector<std::vector<std::vector<float>>> all_activations(const graph& g, const row_layout& l, const std::vector<named_tensors>& batches) {
  interpreter interp(g);
  std::vector<std::vector<std::vector<float>>> acts(l.rows.size());
  for (const auto& b : batches) {
    run_options ro;
    ro.keep_all = true;
    const run_result r = interp.run(b, ro);
    for (std::size_t k = 0; k < l.rows.size(); ++k) {
      const auto v = r.values[static_cast<std::size_t>(l.rows[k].value)].values<float>();
      acts[k].emplace_back(v.begin(), v.end());
    }
  }
  return acts;
}

statistics_collector collect(const graph& g, const std::vector<named_tensors>& batches, std::vector<method> methods, bool int4 = false) {
  collect_options opt;
  opt.methods = std::move(methods);
  opt.batches = static_cast<std::int64_t>(batches.size());
  opt.int4 = int4;
  opt.kurtosis = true;
  statistics_collector c(g, opt);
  interpreter interp(g);
  for (const auto& b : batches) c.add_batch(interp, b);
  return c;
}

}  // namespace

TEST_CASE("cali-table rows are the op results in topological order, inputs included, weights excluded") {
  const row_layout l = calibration_rows(conv_net());
  std::vector<std::string> names;
  for (const auto& r : l.rows) names.push_back(r.name);
  REQUIRE(names.size() == 12);
  CHECK(names.front() == "input");
  CHECK(l.rows.front().from_input_op);
  CHECK_FALSE(l.rows[1].from_input_op);
  CHECK(l.op_count == 12);
  CHECK(l.rows[3].op_index == 3);
  CHECK(l.last_five == std::vector<int>{11, 10, 9, 8, 7});
  CHECK(row_percentile(l, l.rows[0]) == 99.99);
}

TEST_CASE("max: the running abs max over every batch, min/max columns are the global range") {
  const auto batches = random_batches(4, 1);
  const auto c = collect(conv_net(), batches, {method::max, method::kl});
  const auto acts = all_activations(conv_net(), c.layout(), batches);
  const auto res = c.thresholds(method::max);
  for (std::size_t k = 0; k < acts.size(); ++k) {
    float mn = INFINITY, mx = -INFINITY;
    for (const auto& a : acts[k])
      for (float v : a) mn = std::min(mn, v), mx = std::max(mx, v);
    INFO(c.layout().rows[k].name);
    CHECK(res.rows[k].min == mn);
    CHECK(res.rows[k].max == mx);
    CHECK(res.rows[k].threshold == std::max(std::fabs(mn), std::fabs(mx)));
  }
}

TEST_CASE("kl: thresholds are TPU-MLIR's KL on the accumulated histogram, clamped to the abs max") {
  const auto batches = random_batches(5, 2);
  const auto c = collect(conv_net(), batches, {method::kl});
  const auto acts = all_activations(conv_net(), c.layout(), batches);
  const auto res = c.thresholds(method::kl);
  for (std::size_t k = 0; k < acts.size(); ++k) {
    abs_histogram h(2048);
    float mn = INFINITY, mx = -INFINITY;
    for (const auto& a : acts[k]) {
      for (float v : a) mn = std::min(mn, v), mx = std::max(mx, v);
      h.add(a, std::max(std::fabs(mn), std::fabs(mx)));
    }
    const double want = std::max(1e-5, std::min(kl_threshold(h.counts(), h.width()), static_cast<double>(std::max(-mn, mx))));
    INFO(c.layout().rows[k].name);
    CHECK(res.rows[k].threshold == want);
    CHECK(res.rows[k].threshold <= res.rows[k].abs_max);
    CHECK(res.rows[k].kurtosis.has_value());
  }
}

TEST_CASE("percentile9999: interpolated per-row percentile of all values, min/max columns replaced") {
  const auto batches = random_batches(3, 3);
  const auto c = collect(conv_net(), batches, {method::percentile9999});
  const auto acts = all_activations(conv_net(), c.layout(), batches);
  const auto res = c.thresholds(method::percentile9999);
  for (std::size_t k = 0; k < acts.size(); ++k) {
    std::vector<float> all;
    for (const auto& a : acts[k]) all.insert(all.end(), a.begin(), a.end());
    std::sort(all.begin(), all.end());
    const double p = row_percentile(c.layout(), c.layout().rows[k]);
    const auto total = static_cast<std::int64_t>(all.size());
    const std::int64_t kk = percentile_k(total, p);
    // TPU-MLIR: e = the k most extreme, interpolate between the k-th and (k-1)-th.
    std::vector<float> top(all.rbegin(), all.rbegin() + kk), bottom(all.begin(), all.begin() + kk);
    const double vmax = interpolated_percentile(top, p, total), vmin = interpolated_percentile(bottom, p, total);
    INFO(c.layout().rows[k].name);
    CHECK(res.rows[k].max == vmax);
    CHECK(res.rows[k].min == vmin);
    CHECK(res.rows[k].threshold == std::max(std::fabs(vmin), std::fabs(vmax)));
  }
}

TEST_CASE("mse: mean of per-batch OCTAV thresholds, the input and the last tensors keep their abs max") {
  const auto batches = random_batches(3, 4);
  const auto c = collect(conv_net(), batches, {method::mse, method::aciq_gauss, method::aciq_laplace}, true);
  const auto acts = all_activations(conv_net(), c.layout(), batches);
  const auto res = c.thresholds(method::mse);
  const auto& rows = c.layout().rows;
  for (std::size_t k = 1; k + 5 < acts.size(); ++k) {  // not the input, not the tail rule's rows
    double sum = 0;
    float amax = 0;
    for (const auto& a : acts[k]) {
      sum += octav_threshold_reference(a, 8, *std::min_element(a.begin(), a.end()));
      for (float v : a) amax = std::max(amax, std::fabs(v));
    }
    INFO(rows[k].name);
    CHECK(res.rows[k].threshold == Approx(std::min<double>(sum / 3, amax)).epsilon(1e-6));
    REQUIRE(res.rows[k].int4_threshold.has_value());
    CHECK(*res.rows[k].int4_threshold < res.rows[k].threshold);
  }
  CHECK(res.rows[0].threshold == res.rows[0].abs_max);
  // The softmax output (last row, 10 values per batch: k = 1) keeps its abs max.
  CHECK(res.rows.back().threshold == res.rows.back().abs_max);
  CHECK(c.thresholds(method::aciq_gauss).rows.size() == rows.size());
  CHECK(c.thresholds(method::aciq_laplace).rows[2].threshold > 0);
  CHECK_THROWS_AS(c.thresholds(method::kl), error);
}

TEST_CASE("statistics memory does not grow with the number of batches (kl, mse)") {
  const auto few = random_batches(2, 5), many = random_batches(2, 5);
  std::vector<named_tensors> twenty;
  for (int i = 0; i < 10; ++i) twenty.insert(twenty.end(), many.begin(), many.end());
  const auto a = collect(conv_net(), few, {method::kl, method::max});
  const auto b = collect(conv_net(), twenty, {method::kl, method::max});
  CHECK(a.memory_bytes() == b.memory_bytes());
}

TEST_CASE("a NaN in an activation is an error naming the tensor and the batch") {
  auto batches = random_batches(2, 6);
  batches[1]["input"].values<float>()[5] = NAN;
  try {
    collect(conv_net(), batches, {method::kl});
    FAIL("no error");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("\"input\"") && Catch::Contains("batch 2") && Catch::Contains("NaN"));
  }
}

TEST_CASE("auto-tune picks, per tuned input, the grid candidate with the smallest output error") {
  const graph& g = conv_net();
  const auto batches = random_batches(3, 7);
  const auto c = collect(g, batches, {method::kl});
  const auto initial = c.thresholds(method::kl);
  interpreter interp(g);
  tune_options opt;
  auto_tuner tuner(g, interp, c.layout(), initial, opt);
  const auto tuned = tuner.run(batches);
  const auto& rows = c.layout().rows;
  REQUIRE(tuned.thresholds.size() == rows.size());
  CHECK(tuned.tuned_inputs > 0);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const double th0 = initial.rows[k].threshold, amax = initial.rows[k].abs_max;
    INFO(rows[k].name << " th0 " << th0 << " absmax " << amax << " tuned " << tuned.thresholds[k]);
    CHECK(tuned.thresholds[k] >= th0);
    CHECK(tuned.thresholds[k] <= amax * (1 + 1e-12));
    if (tuned.thresholds[k] != th0) {  // on the grid th0 + s (amax - th0) / 21
      const double s = (tuned.thresholds[k] - th0) / ((amax - th0) / 21);
      CHECK(std::fabs(s - std::round(s)) < 1e-6);
    }
  }
  // Brute force for the first Conv's input ("input", tuned on that Conv's output).
  const int conv = g.find_node(rows[1].name);
  const double th0 = initial.rows[0].threshold, amax = initial.rows[0].abs_max;
  double best = th0, best_d = -1;
  interpreter plain(g);
  for (int s = 0; s <= 21; ++s) {
    const double th = th0 + s * (amax - th0) / 21;
    double d = 0;
    for (const auto& b : batches) {
      run_options ro;
      ro.keep_all = true;
      const run_result ref = plain.run(b, ro);
      const tensor& x = b.at("input");
      tensor q = tensor::empty(dtype::f32, x.shape());
      quant::fake_quantize_reference(x.values<float>(), q.values<float>(), quant::int_fake_quant::symmetric<8>(th));
      run_result out = plain.run({{"input", q}}, ro);
      d += calibration::detail::tune_distance(ref.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(conv)].results[0])],
                                 out.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(conv)].results[0])]);
    }
    d /= 3;
    if (best_d < 0) best_d = d;
    else if (d < best_d) best_d = d, best = th;
  }
  CHECK(tuned.thresholds[0] == (best > th0 ? best : th0));
}

TEST_CASE("auto-tune with quantized inputs (not_use_fp32_tensor_as_ref) also stays on the grid") {
  const graph& g = conv_net();
  const auto batches = random_batches(2, 8);
  const auto c = collect(g, batches, {method::kl});
  const auto initial = c.thresholds(method::kl);
  interpreter interp(g);
  tune_options opt;
  opt.quantized_inputs = true;
  opt.find_lower_th = true;
  auto_tuner tuner(g, interp, c.layout(), initial, opt);
  const auto tuned = tuner.run(batches);
  for (std::size_t k = 0; k < tuned.thresholds.size(); ++k) {
    CHECK(tuned.thresholds[k] >= initial.rows[k].threshold);
    CHECK(tuned.thresholds[k] <= initial.rows[k].abs_max * (1 + 1e-12));
  }
  CHECK(tuned.op_runs > tuned.tuned_inputs);
}
