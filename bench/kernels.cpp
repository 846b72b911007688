// Throughput of the compute kernels in GFLOP/s, next to the core's measured FMA peak.
// Run: MIXQ_NUM_THREADS=1 ./bench/mixq_bench_kernels   (and MIXQ_NUM_THREADS=2)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "mixq/calibration/band_sweep.hpp"
#include "mixq/calibration/kernels.hpp"
#include "mixq/calibration/tuner.hpp"
#include "mixq/dialect/top/conv.hpp"
#include "mixq/dialect/top/elementwise.hpp"
#include "mixq/quant/candidate_score.hpp"
#include "mixq/kernels/simd/gemm.hpp"

namespace {
using mixq::simd::index_t;
using mixq::tensor;

tensor random_tensor(mixq::shape_t shape) {
  static std::mt19937 gen(7);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  tensor t = tensor::empty(mixq::dtype::f32, std::move(shape));
  for (float& v : t.values<float>()) v = d(gen);
  return t;
}

// CPU time of every thread of the process: with the machine shared, wall time includes the time
// other jobs held our cores, while process CPU time counts only the time our threads ran.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Starts the process CPU clock; call before the timing loop and pass the result to set_rate.
double cpu_start() { return process_cpu_seconds(); }

// GFLOP/s: over wall-clock time (the benchmarks use UseRealTime), the number that counts when the
// cores are ours alone; GFLOP/s/core: over the CPU time of all our threads, i.e. what one core
// delivers while it runs our code, which stays meaningful on a loaded machine.
void set_rate(benchmark::State& state, double flops_per_iteration, double cpu_begin) {
  const double flops = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
  const double cpu = process_cpu_seconds() - cpu_begin;
  state.counters["GFLOP/s/core"] = benchmark::Counter(cpu > 0 ? flops * 1e-9 / cpu : 0.0);
}

// Peak: independent FMA chains (enough to cover latency x units), nothing else in the loop.
void BM_fma_peak(benchmark::State& state) {
  using B = mixq::simd::batch<float>;
  constexpr int chains = 16;
  B acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = B(0.001f * static_cast<float>(i));
  const B x(0.999f), y(0.0001f);
  constexpr int steps = 1024;
  const double cpu0 = cpu_start();
  for (auto _ : state) {
    for (int s = 0; s < steps; ++s) {
#pragma GCC unroll 16
      for (int i = 0; i < chains; ++i) acc[i] = xsimd::fma(acc[i], x, y);
    }
    benchmark::DoNotOptimize(acc);
  }
  set_rate(state, 2.0 * chains * steps * static_cast<double>(mixq::simd::width<float>), cpu0);
}
BENCHMARK(BM_fma_peak)->UseRealTime();

void BM_gemm(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  tensor a = random_tensor({M, K}), b = random_tensor({K, N}), c = tensor::empty(mixq::dtype::f32, {M, N});
  const auto packed_a = mixq::simd::pack_a_once(a.data<float>(), M, K, K, 1);
  const mixq::simd::gemm_a ga{&packed_a, {}};
  const auto gb = mixq::simd::strided_b(b.data<float>(), N, N, 1);
  auto& pool = mixq::thread_pool::global();
  const double cpu0 = cpu_start();
  for (auto _ : state) {
    mixq::simd::gemm(M, N, K, ga, gb, c.data<float>(), N, {}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K), cpu0);
}
BENCHMARK(BM_gemm)
    ->Args({256, 256, 256})
    ->Args({1024, 1024, 1024})
    ->Args({64, 3136, 576})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Both operands packed beforehand: the microkernel and blocking alone, without packing B.
void BM_gemm_prepacked(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  tensor a = random_tensor({M, K}), b = random_tensor({K, N}), c = tensor::empty(mixq::dtype::f32, {M, N});
  const auto packed_a = mixq::simd::pack_a_once(a.data<float>(), M, K, K, 1);
  const auto packed_b = mixq::simd::pack_b_once(b.data<float>(), K, N, N, 1);
  auto& pool = mixq::thread_pool::global();
  const double cpu0 = cpu_start();
  for (auto _ : state) {
    mixq::simd::gemm(M, N, K, {&packed_a, {}}, {&packed_b, {}}, c.data<float>(), N, {}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K), cpu0);
}
BENCHMARK(BM_gemm_prepacked)
    ->Args({1024, 1024, 1024})
    ->Args({64, 3136, 576})
    ->Args({64, 512, 576})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// top.Conv through its prepared fast path: args = (channels in, channels out, H=W, kernel, stride, group).
void BM_conv(benchmark::State& state) {
  const index_t ic = state.range(0), oc = state.range(1), hw = state.range(2), k = state.range(3),
                s = state.range(4), group = state.range(5);
  namespace top = mixq::top;
  top::conv_op::attributes a;
  a.kernel_shape = std::vector<std::int64_t>{k, k};
  a.strides = std::vector<std::int64_t>{s, s};
  a.pads = std::vector<std::int64_t>{k / 2, k / 2, k / 2, k / 2};
  a.group = group;
  const tensor x = random_tensor({1, ic, hw, hw}), w = random_tensor({oc, ic / group, k, k}), b = random_tensor({oc});
  const mixq::tensor_type xt = x.type(), wt = w.type(), bt = b.type();
  const mixq::tensor_type* types[] = {&xt, &wt, &bt};
  const tensor* consts[] = {nullptr, &w, &b};
  const auto prepared = top::conv_op::prepare(top::prepare_context{types, consts}, a);
  const auto out_type = top::conv_op::infer(top::infer_context{types, consts, 1}, a);
  const tensor* ins[] = {&x, &w, &b};
  std::vector<tensor> outs(1);
  const auto g = top::conv_op::geometry(x.shape(), w.shape(), a);
  const double cpu0 = cpu_start();
  for (auto _ : state) {
    outs[0] = tensor();
    top::kernel_context kc{ins, outs, out_type, nullptr};
    top::conv_op::compute(kc, a, prepared);
    benchmark::DoNotOptimize(outs[0].raw());
  }
  set_rate(state, 2.0 * static_cast<double>(g.oc * g.out_spatial() * (ic / group) * k * k), cpu0);
}
BENCHMARK(BM_conv)
    ->ArgNames({"ic", "oc", "hw", "k", "s", "g"})
    // 1x1 pointwise (a GEMM on the NCHW input): resnet18 / mobilenet_v2 shapes
    ->Args({64, 64, 56, 1, 1, 1})
    ->Args({256, 64, 56, 1, 1, 1})
    ->Args({96, 576, 28, 1, 1, 1})
    ->Args({960, 160, 7, 1, 1, 1})
    // 3x3 dense (im2col packed into B panels)
    ->Args({64, 64, 56, 3, 1, 1})
    ->Args({128, 128, 28, 3, 2, 1})
    ->Args({128, 128, 28, 3, 1, 1})  // resnet18 layer2
    ->Args({256, 256, 14, 3, 1, 1})  // layer3
    ->Args({512, 512, 7, 3, 1, 1})   // layer4: N = 49 columns
    ->Args({96, 24, 160, 3, 1, 1})   // PP-OCR det head at 640x640: M = 24 rows
    // depthwise 3x3, mobilenet_v2
    ->Args({32, 32, 112, 3, 1, 32})
    ->Args({144, 144, 56, 3, 1, 144})
    ->Args({144, 144, 56, 3, 2, 144})
    ->Args({96, 96, 112, 3, 2, 96})
    ->Args({576, 576, 14, 3, 1, 576})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

// Calibration's |x| histogram (KL) on a post-ReLU activation: 56x56x128, 45% zeros, 2048 bins.
// Arg 0: the plain scalar reference; arg 1: the vectorized kernel. Reported in elements/s.
void BM_abs_histogram(benchmark::State& state) {
  static std::mt19937 gen(11);
  std::normal_distribution<float> d(0.1f, 1.f);
  std::vector<float> x(56 * 56 * 128);
  for (float& v : x) v = std::max(0.f, d(gen));
  const float width = *std::max_element(x.begin(), x.end()) / 2047.f;
  std::vector<std::int64_t> counts(2048, 0);
  for (auto _ : state) {
    if (state.range(0) == 0) mixq::calibration::add_abs_histogram_reference(x, width, counts);
    else mixq::calibration::add_abs_histogram(x, width, counts);
    benchmark::DoNotOptimize(counts.data());
  }
  state.counters["elements/s"] = benchmark::Counter(static_cast<double>(x.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_abs_histogram)->Arg(0)->Arg(1);

// The auto-tuner's scoring of 22 candidate thresholds for an element-wise consumer (AddConst)
// on a 1x16x320x320 activation. Arg 0: the three passes per candidate it replaced (fake-quantized
// copy, the op over the tensor, squared distance); arg 1: quant::score_fake_quantized_map over
// 16K-element pieces, each candidate in registers. Reported in elements x candidates per second.
void BM_tune_scoring(benchmark::State& state) {
  const std::size_t n = 16 * 320 * 320;
  const tensor x = random_tensor({static_cast<std::int64_t>(n)});
  const tensor ref = random_tensor({static_cast<std::int64_t>(n)});
  std::vector<mixq::quant::int_fake_quant> qs;
  for (int k = 0; k < 22; ++k) qs.push_back(mixq::quant::int_fake_quant::symmetric<8>(0.5 + 0.025 * k));
  const auto f = mixq::top::add_const_op::functor({0.25, false, -1.0, false});
  std::vector<float> q(n), y(n);
  std::vector<double> totals(qs.size());
  mixq::thread_pool one(1);
  for (auto _ : state) {
    std::fill(totals.begin(), totals.end(), 0.0);
    if (state.range(0) == 0) {
      for (std::size_t k = 0; k < qs.size(); ++k) {
        mixq::quant::fake_quantize(x.values<float>(), q, qs[k]);
        mixq::simd::map_unary(q.data(), y.data(), static_cast<std::int64_t>(n), one, f);
        totals[k] = mixq::calibration::squared_distance(ref.values<float>(), y);
      }
    } else {
      for (std::size_t lo = 0; lo < n; lo += 1 << 14)
        mixq::quant::score_fake_quantized_map(f, x.data<float>() + lo, ref.data<float>() + lo, std::min<std::size_t>(1 << 14, n - lo), qs,
                                              totals.data());
    }
    benchmark::DoNotOptimize(totals.data());
  }
  state.counters["element-candidates/s"] =
      benchmark::Counter(static_cast<double>(n * qs.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_tune_scoring)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The auto-tuner's scoring of 22 candidate thresholds for a convolution consumer, one sample.
// Arg 0: whole tensors per candidate (fake-quantized copy, the convolution, squared distance, as
// auto_tuner does with piecewise off); arg 1: band by band (calibration/band_sweep.hpp). The second
// argument picks a PP-OCR det (640x640) convolution: 0: 3x3 96->24 @160x160, 1: 1x1 16->32
// @320x320, 2: depthwise 3x3, 32 channels @320x320. MIXQ_NUM_THREADS sets the threads.
void BM_conv_tune_scoring(benchmark::State& state) {
  struct conv_shape {
    std::int64_t ic, oc, hw, k, group;
  };
  static const conv_shape shapes[] = {{96, 24, 160, 3, 1}, {16, 32, 320, 1, 1}, {32, 32, 320, 3, 32}};
  const conv_shape c = shapes[state.range(1)];
  using mixq::dtype;
  const mixq::shape_t in{1, c.ic, c.hw, c.hw}, ws{c.oc, c.ic / c.group, c.k, c.k}, out{1, c.oc, c.hw, c.hw};
  mixq::graph g;
  g.name = "bench";
  const int arg = g.add_argument({dtype::f32, in});
  const int x = g.nodes[static_cast<std::size_t>(g.add<mixq::top::input_op>({arg}, {{dtype::f32, in}}, {"x"}))].results[0];
  const int w = g.nodes[static_cast<std::size_t>(g.add<mixq::top::weight_op>({}, {{dtype::f32, ws}}, {"w"}))].results[0];
  const int b = g.nodes[static_cast<std::size_t>(g.add<mixq::top::weight_op>({}, {{dtype::f32, {c.oc}}}, {"b"}))].results[0];
  g.weights["w"] = random_tensor(ws);
  g.weights["b"] = random_tensor({c.oc});
  mixq::top::conv_op::attributes a;
  a.kernel_shape = std::vector<std::int64_t>{c.k, c.k};
  a.strides = std::vector<std::int64_t>{1, 1};
  a.pads = std::vector<std::int64_t>(4, c.k / 2);
  a.group = c.group;
  const int node = g.add<mixq::top::conv_op>({x, w, b}, {{dtype::f32, out}}, {"y"}, a);
  g.outputs = {g.nodes[static_cast<std::size_t>(node)].results[0]};
  mixq::thread_pool& pool = mixq::thread_pool::global();
  const mixq::interpreter interp(g, &pool);
  const tensor input = random_tensor(in);
  std::vector<const tensor*> ops{&input, &interp.constant(w), &interp.constant(b)};
  std::vector<tensor> ref(1);
  interp.compute_node(node, ops, ref);
  std::vector<double> ths;
  std::vector<mixq::quant::int_fake_quant> qs;
  for (int k = 0; k < 22; ++k) {
    ths.push_back(0.5 + 0.025 * k);
    qs.push_back(mixq::quant::int_fake_quant::symmetric<8>(ths.back()));
  }
  const auto layout = mixq::calibration::detail::band_layout_of(g, interp, node);
  if (!layout) {
    state.SkipWithError("no band layout");
    return;
  }
  const std::vector<mixq::calibration::detail::sweep_operand> sweep{{ops[0], true}, {ops[1], false}, {ops[2], false}};
  std::vector<double> totals(qs.size());
  for (auto _ : state) {
    if (state.range(0) == 0) {
      for (std::size_t k = 0; k < qs.size(); ++k) {
        const tensor q = mixq::calibration::detail::fake_quant_copy(input, ths[k], &pool);
        std::vector<const tensor*> cand = ops;
        cand[0] = &q;
        std::vector<tensor> y(1);
        interp.compute_node(node, cand, y);
        totals[k] = mixq::calibration::squared_distance(ref[0].values<float>(), y[0].values<float>(), &pool);
      }
    } else {
      totals = mixq::calibration::detail::band_squared_distances(interp, node, *layout, sweep, ref[0], qs, &pool);
    }
    benchmark::DoNotOptimize(totals.data());
  }
  state.counters["candidates/s"] = benchmark::Counter(static_cast<double>(qs.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_conv_tune_scoring)
    ->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->ArgNames({"bands", "conv"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
