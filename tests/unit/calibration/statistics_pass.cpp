// Pass 1 with several batches in flight: the statistics must be exactly those of one batch after
// another, and a failing batch must report as it would there.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "mixq/calibration/statistics_pass.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npy.hpp"

using namespace mixq;
using namespace mixq::calibration;

namespace statistics_pass_test {

const graph& conv_net() {
  static const graph g = load_model(std::string(MIXQ_TEST_DATA_DIR) + "/models/conv_net.mlir");
  return g;
}

/// A folder of .npy samples for conv_net, removed at scope exit. The scales jump up and down so
/// that the histograms grow (and restart) at different batches.
class sample_dir {
 public:
  explicit sample_dir(const std::vector<float>& scales, unsigned seed = 7) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() / ("mixq_statistics_pass_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
    std::mt19937 gen(seed);
    for (std::size_t i = 0; i < scales.size(); ++i) {
      tensor t = tensor::empty(dtype::f32, {1, 3, 16, 16});
      std::normal_distribution<float> d(0.f, scales[i]);
      for (float& v : t.values<float>()) v = d(gen);
      write(i, t);
    }
  }
  sample_dir(const sample_dir&) = delete;
  sample_dir& operator=(const sample_dir&) = delete;
  ~sample_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  void poison(std::size_t i, float value) {
    tensor t = tensor::zeros(dtype::f32, {1, 3, 16, 16});
    t.values<float>()[5] = value;
    write(i, t);
  }
  /// Cuts the end off sample i: its header still plans, its load fails.
  void truncate(std::size_t i) {
    const auto file = path_ / name_of(i);
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - 100);
  }
  calibration_batches batches() const { return calibration_batches(select_dataset(path_.string()), model_inputs_of(conv_net())); }

 private:
  static std::string name_of(std::size_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "sample_%02zu.npy", i);
    return name;
  }
  void write(std::size_t i, const tensor& t) const { write_npy((path_ / name_of(i)).string(), t); }
  std::filesystem::path path_;
};

const std::vector<method> all_methods{method::kl, method::kl_trt, method::mse, method::max, method::percentile9999,
                                      method::aciq_gauss, method::aciq_laplace, method::torch_observer};

struct pass_outcome {
  std::vector<calibration_result> results;  // one per method
  statistics_pass_result pass;
  std::vector<std::size_t> progress;
};

pass_outcome run_pass(const calibration_batches& batches, std::size_t threads, std::size_t concurrent) {
  thread_pool pool(threads);
  collect_options co;
  co.methods = all_methods;
  co.int4 = true;
  co.kurtosis = true;
  co.batches = static_cast<std::int64_t>(batches.size());
  co.pool = &pool;
  statistics_collector collector(conv_net(), co);
  interpreter interp(conv_net(), &pool);
  statistics_pass_options po;
  po.pool = &pool;
  po.concurrent_batches = concurrent;
  po.keep_inputs = 3;
  pass_outcome out;
  po.on_batch = [&](std::size_t done, std::size_t total) {
    CHECK(total == batches.size());
    out.progress.push_back(done);
  };
  out.pass = run_statistics_pass(interp, batches, collector, po);
  CHECK(collector.batches_seen() == static_cast<std::int64_t>(batches.size()));
  for (method m : all_methods) out.results.push_back(collector.thresholds(m));
  return out;
}

void require_identical(const calibration_result& a, const calibration_result& b) {
  REQUIRE(a.rows.size() == b.rows.size());
  for (std::size_t r = 0; r < a.rows.size(); ++r) {
    INFO("method " << method_name(a.m) << ", row " << r);
    CHECK(a.rows[r].threshold == b.rows[r].threshold);
    CHECK(a.rows[r].min == b.rows[r].min);
    CHECK(a.rows[r].max == b.rows[r].max);
    CHECK(a.rows[r].abs_max == b.rows[r].abs_max);
    CHECK(a.rows[r].int4_threshold == b.rows[r].int4_threshold);
    CHECK(a.rows[r].kurtosis == b.rows[r].kurtosis);
    CHECK(a.rows[r].observer_scale == b.rows[r].observer_scale);
    CHECK(a.rows[r].observer_zero_point == b.rows[r].observer_zero_point);
  }
}

const std::vector<float> jumpy_scales{1.f, 3.f, 0.5f, 4.f, 2.f, 6.f, 1.f, 9.f, 3.f, 0.2f, 12.f};

// The cases live in the namespace too: the calibration tests are one unity build.
TEST_CASE("batches in flight at once give every method the statistics of one batch after another") {
  const sample_dir dir(jumpy_scales);
  const calibration_batches batches = dir.batches();
  const pass_outcome one_by_one = run_pass(batches, 2, 1);
  CHECK(one_by_one.pass.concurrent_batches == 1);
  for (const auto& [threads, concurrent] : std::vector<std::pair<std::size_t, std::size_t>>{{2, 0}, {3, 3}, {4, 0}, {3, 2}}) {
    INFO(threads << " threads, " << concurrent << " requested at once");
    // One round per setting: under ASan (-O0) a pass with every method takes seconds.
    const pass_outcome at_once = run_pass(batches, threads, concurrent);
    CHECK(at_once.pass.concurrent_batches == (concurrent ? concurrent : threads));
    for (std::size_t k = 0; k < all_methods.size(); ++k) require_identical(one_by_one.results[k], at_once.results[k]);
  }
}

TEST_CASE("the statistics pass reports every batch once, in increasing count, and keeps the first inputs") {
  const sample_dir dir(jumpy_scales);
  const calibration_batches batches = dir.batches();
  for (std::size_t concurrent : {1u, 3u}) {
    const pass_outcome o = run_pass(batches, 3, concurrent);
    std::vector<std::size_t> expected(batches.size());
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
    CHECK(o.progress == expected);
    REQUIRE(o.pass.kept_inputs.size() == 3);
    for (std::size_t b = 0; b < 3; ++b) {
      const named_tensors loaded = batches.load(b);
      REQUIRE(o.pass.kept_inputs[b].size() == loaded.size());
      const auto kept = o.pass.kept_inputs[b].begin()->second.values<float>();
      const auto fresh = loaded.begin()->second.values<float>();
      CHECK(std::equal(kept.begin(), kept.end(), fresh.begin(), fresh.end()));
    }
    CHECK(o.pass.peak_activation_bytes > 0);
  }
}

TEST_CASE("batches in flight are bounded by the activation budget and by the pool") {
  const sample_dir dir(jumpy_scales);
  const calibration_batches batches = dir.batches();
  thread_pool pool(4);
  auto run_with = [&](thread_pool* p, std::size_t budget) {
    collect_options co;
    co.batches = static_cast<std::int64_t>(batches.size());
    co.pool = p;
    statistics_collector collector(conv_net(), co);
    interpreter interp(conv_net(), p);
    statistics_pass_options po;
    po.pool = p;
    po.activation_budget = budget;
    return run_statistics_pass(interp, batches, collector, po);
  };
  const statistics_pass_result unbounded = run_with(&pool, std::numeric_limits<std::size_t>::max());
  CHECK(unbounded.concurrent_batches == 4);
  const std::size_t one_batch = unbounded.peak_activation_bytes / 4;
  CHECK(run_with(&pool, 2 * one_batch).concurrent_batches == 2);
  CHECK(run_with(&pool, one_batch).concurrent_batches == 1);
  CHECK(run_with(nullptr, std::numeric_limits<std::size_t>::max()).concurrent_batches == 1);
  thread_pool single(1);
  CHECK(run_with(&single, std::numeric_limits<std::size_t>::max()).concurrent_batches == 1);
}

TEST_CASE("with batches in flight the earliest failing batch is the error, as one after another") {
  sample_dir dir(jumpy_scales);
  // With this seed's shuffle sample 9 is batch 2, sample 10 batch 3 and sample 7 the last: the
  // truncated file fails at once when loaded, often before batch 2 reaches its NaN.
  dir.poison(9, std::numeric_limits<float>::quiet_NaN());
  dir.truncate(10);
  dir.poison(7, std::numeric_limits<float>::infinity());
  const calibration_batches batches = dir.batches();
  // The dataset is shuffled as TPU-MLIR shuffles it: find where the bad files went.
  std::size_t first = batches.size();
  std::string first_file;
  for (std::size_t b = 0; b < batches.size() && first == batches.size(); ++b) {
    const std::string& text = batches.selection().samples[batches.samples_of(b).front()].text;
    for (const char* bad : {"sample_09.npy", "sample_10.npy", "sample_07.npy"})
      if (text.find(bad) != std::string::npos) {
        first = b;
        first_file = bad;
      }
  }
  REQUIRE(first < batches.size());
  CHECK(first_file == "sample_09.npy");
  const std::string expected = first_file == "sample_10.npy" ? "sample_10.npy" : "NaN or inf in batch " + std::to_string(first + 1) + " ";
  for (std::size_t concurrent : {1u, 2u, 3u})
    for (int round = 0; round < 4; ++round) {
      INFO(concurrent << " at once, round " << round);
      CHECK_THROWS_WITH(run_pass(batches, 3, concurrent), Catch::Contains(expected) && Catch::Contains(first_file));
    }
}

}  // namespace statistics_pass_test
