// histogram_observer against torch 1.13's HistogramObserver on the cases make_fixtures.py recorded.
#include <algorithm>
#include <cstdio>
#include <string>

#include "observer_test_util.hpp"

using mixq::calibration::detail::torch_observer::torch_float_sum;

namespace {

const mixq::npz_file& fixtures() {
  static const mixq::npz_file f = mixq::read_npz(MIXQ_TEST_DATA_DIR "/observer/torch_observer.npz");
  return f;
}

std::string case_key(int i) {
  std::string k = std::to_string(i);
  return "c" + std::string(2 - std::min<std::size_t>(2, k.size()), '0') + k;
}

}  // namespace

TEST_CASE("histogram_observer reproduces torch's qparams, ranges and histogram on every recorded case") {
  const mixq::npz_file& f = fixtures();
  double worst = 0;
  int cases = 0;
  for (int i = 0; f.contains(case_key(i) + "_name"); ++i, ++cases) {
    const std::string c = case_key(i);
    const auto name_bytes = f.at(c + "_name").values<std::uint8_t>();
    const std::string name(name_bytes.begin(), name_bytes.end());
    std::vector<mixq::tensor> batches;
    for (int k = 0; f.contains(c + "_b" + std::to_string(k)); ++k) batches.push_back(f.at(c + "_b" + std::to_string(k)));
    const int bins = static_cast<int>(f.at(c + "_bins").values<std::int64_t>()[0]);
    INFO("case " << c << " (" << name << "), " << bins << " bins, " << batches.size() << " batches");
    const auto result = mixq::test::run_observer(bins, batches);
    worst = std::max(worst, mixq::test::compare_with_torch(result, f, [&](const char* what) { return c + "_" + what; }));
  }
  REQUIRE(cases >= 15);
  // The recorded agreement is exact; report it anyway in the -s output.
  std::printf("histogram_observer: %d torch cases, max relative threshold difference %g\n", cases, worst);
}

TEST_CASE("torch_float_sum adds in torch.sum's order") {
  const mixq::npz_file& f = fixtures();
  int checked = 0;
  for (int j = 0;; ++j) {
    std::string k = std::to_string(j);
    k = "s" + std::string(2 - std::min<std::size_t>(2, k.size()), '0') + k;
    if (!f.contains(k + "_in")) break;
    const auto in = f.at(k + "_in").values<float>();
    INFO(k << ": " << in.size() << " values");
    CHECK(torch_float_sum(in) == f.at(k + "_out").values<float>()[0]);
    ++checked;
  }
  REQUIRE(checked >= 10);
}
