// Speed of histogram_observer (Google Benchmark). Not part of the build; from the repository root:
//   g++ -std=c++20 -O2 -march=native -Iinclude tests/data/observer/bench_observer.cpp
//     -lbenchmark -lpthread -o /tmp/bench_observer && /tmp/bench_observer
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "mixq/calibration/histogram_observer.hpp"

namespace {

using mixq::calibration::histogram_observer;
namespace obs = mixq::calibration::detail::torch_observer;

std::vector<float> normal_values(std::size_t n, float scale, unsigned seed, bool relu = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = relu ? std::max(d(rng), 0.f) : d(rng);
  return v;
}

// The steady state: a batch within the range seen so far (histc plus a histogram add).
void observe_same_range(benchmark::State& state, bool relu) {
  const auto x = normal_values(static_cast<std::size_t>(state.range(0)), 1.f, 1, relu);
  histogram_observer o(2048);
  o.observe(x);
  for (auto _ : state) o.observe(x);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
void BM_observe_normal(benchmark::State& s) { observe_same_range(s, false); }
void BM_observe_relu(benchmark::State& s) { observe_same_range(s, true); }
BENCHMARK(BM_observe_normal)->Arg(1 << 14)->Arg(1 << 20);
BENCHMARK(BM_observe_relu)->Arg(1 << 20);

// A batch that widens the range: histc plus _combine_histograms.
void BM_observe_growing(benchmark::State& state) {
  const auto small = normal_values(1 << 14, 1.f, 2), wide = normal_values(1 << 14, 1.3f, 3);
  for (auto _ : state) {
    state.PauseTiming();
    histogram_observer o(2048);
    o.observe(small);
    state.ResumeTiming();
    o.observe(wide);
    benchmark::DoNotOptimize(o.histogram().data());
  }
}
BENCHMARK(BM_observe_growing);

void BM_histc_counts(benchmark::State& state) {
  const auto x = normal_values(1 << 20, 1.f, 4);
  std::vector<std::uint64_t> counts(2049);
  for (auto _ : state) {
    if (state.range(0)) obs::add_histc_counts(x, -4.f, 4.f, counts);
    else obs::add_histc_counts_reference(x, -4.f, 4.f, counts);
    benchmark::DoNotOptimize(counts.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.size()));
}
BENCHMARK(BM_histc_counts)->Arg(0)->Arg(1);

void qparams_of(benchmark::State& state, const std::vector<std::vector<float>>& batches) {
  histogram_observer o(2048);
  for (const auto& b : batches) o.observe(b);
  for (auto _ : state) benchmark::DoNotOptimize(o.qparams());
}
void BM_qparams_normal(benchmark::State& s) {
  qparams_of(s, {normal_values(1 << 20, 1.f, 5), normal_values(1 << 20, 1.2f, 6), normal_values(1 << 20, 1.5f, 7)});
}
void BM_qparams_relu(benchmark::State& s) {
  qparams_of(s, {normal_values(1 << 20, 1.f, 8, true), normal_values(1 << 20, 2.f, 9, true)});
}
void BM_qparams_outliers(benchmark::State& s) {
  auto x = normal_values(1 << 20, 1.f, 10);
  x[0] = 80.f;
  x[1] = -50.f;
  qparams_of(s, {x});
}
BENCHMARK(BM_qparams_normal)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_qparams_relu)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_qparams_outliers)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
