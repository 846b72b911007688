// search_threshold on the conv_net fixture: every method tuned from one statistics pass, each
// candidate deployed INT8 in memory and scored, the best score wins.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mixq/calibration/search_threshold.hpp"
#include "mixq/io/model.hpp"

using namespace mixq;
using namespace mixq::calibration;

namespace {

const graph& search_conv_net() {
  static const graph g = load_model(std::string(MIXQ_TEST_DATA_DIR) + "/models/conv_net.mlir");
  return g;
}

calibration_batches conv_net_batches() {
  return calibration_batches(select_dataset(std::string(MIXQ_TEST_DATA_DIR) + "/calibration/conv_net_samples"), model_inputs_of(search_conv_net()));
}

}  // namespace

TEST_CASE("search_threshold tunes every method, scores each deployed candidate and picks the best") {
  const calibration_batches batches = conv_net_batches();
  search_threshold_options opt;
  opt.inference_num = 3;
  opt.base.tune_num = 2;
  opt.chip = &targets::find_processor("bm1684x");
  std::vector<std::string> log;
  opt.log = [&](const std::string& s) { log.push_back(s); };
  std::vector<method> candidates;
  opt.on_candidate = [&](method m, const cali_table&) { candidates.push_back(m); };
  const search_threshold_result r = search_threshold(search_conv_net(), batches, nullptr, opt);

  REQUIRE(r.methods.size() == 4);
  CHECK(candidates == opt.methods);
  CHECK(r.inference_batches == 3);
  CHECK(r.tune_batches == 2);
  for (const auto& mt : r.methods) {
    INFO(method_name(mt.m) << " score " << mt.score);
    REQUIRE(mt.tuned.has_value());
    CHECK(mt.tuned->rows.size() == mt.untuned.rows.size());
    CHECK(mt.score > 0.9);  // 0.5 + 0.5 cos of a small INT8 conv net
    CHECK(mt.score <= 1.0);
    CHECK(mt.score <= r.methods[r.best].score);
  }
  REQUIRE(log.size() >= 4);
  CHECK(log.front().find("'kl', 'max', 'percentile9999', 'mse'") != std::string::npos);
  CHECK(log[log.size() - 2].find("optimal_method_name: " + std::string(method_name(r.methods[r.best].m))) != std::string::npos);
  CHECK(log.back() == "success");
}

TEST_CASE("search_threshold's snr score is 1 minus the relative squared error of the outputs") {
  const tensor a = tensor::from_vector<float>({4}, {1, 2, 3, 4});
  const tensor b = tensor::from_vector<float>({4}, {1, 2, 3, 5});
  CHECK(output_similarity({a}, {b}, benchmark_method::snr) == Approx(1.0 - 1.0 / 30.0));
  CHECK(output_similarity({a}, {a}, benchmark_method::cos) == Approx(1.0));
}

TEST_CASE("search_threshold without tuning samples keeps the untuned tables and still scores them") {
  const calibration_batches batches = conv_net_batches();
  search_threshold_options opt;
  opt.methods = {method::max, method::kl};
  opt.inference_num = 2;
  opt.base.tune_num = 0;
  const search_threshold_result r = search_threshold(search_conv_net(), batches, nullptr, opt);
  REQUIRE(r.methods.size() == 2);
  for (const auto& mt : r.methods) {
    CHECK_FALSE(mt.tuned.has_value());
    CHECK(&mt.final_table() == &mt.untuned);
    CHECK(mt.score > 0.9);
  }
}
