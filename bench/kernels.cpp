// Throughput of the compute kernels in GFLOP/s, next to the core's measured FMA peak.
// Run: MIXQ_NUM_THREADS=1 ./bench/mixq_bench_kernels   (and MIXQ_NUM_THREADS=2)
#include <benchmark/benchmark.h>

#include <random>

#include "mixq/dialect/top/conv.hpp"
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

void set_rate(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// Peak: independent FMA chains (enough to cover latency x units), nothing else in the loop.
void BM_fma_peak(benchmark::State& state) {
  using B = mixq::simd::batch<float>;
  constexpr int chains = 16;
  B acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = B(0.001f * static_cast<float>(i));
  const B x(0.999f), y(0.0001f);
  constexpr int steps = 1024;
  for (auto _ : state) {
    for (int s = 0; s < steps; ++s) {
#pragma GCC unroll 16
      for (int i = 0; i < chains; ++i) acc[i] = xsimd::fma(acc[i], x, y);
    }
    benchmark::DoNotOptimize(acc);
  }
  set_rate(state, 2.0 * chains * steps * static_cast<double>(mixq::simd::width<float>));
}
BENCHMARK(BM_fma_peak);

void BM_gemm(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  tensor a = random_tensor({M, K}), b = random_tensor({K, N}), c = tensor::empty(mixq::dtype::f32, {M, N});
  const auto packed_a = mixq::simd::pack_a_once(a.data<float>(), M, K, K, 1);
  const mixq::simd::gemm_a ga{&packed_a, {}};
  const auto gb = mixq::simd::strided_b(b.data<float>(), N, N, 1);
  auto& pool = mixq::thread_pool::global();
  for (auto _ : state) {
    mixq::simd::gemm(M, N, K, ga, gb, c.data<float>(), N, {}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K));
}
BENCHMARK(BM_gemm)->Args({256, 256, 256})->Args({1024, 1024, 1024})->Args({64, 3136, 576})->Unit(benchmark::kMillisecond);

// Both operands packed beforehand: the microkernel and blocking alone, without packing B.
void BM_gemm_prepacked(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  tensor a = random_tensor({M, K}), b = random_tensor({K, N}), c = tensor::empty(mixq::dtype::f32, {M, N});
  const auto packed_a = mixq::simd::pack_a_once(a.data<float>(), M, K, K, 1);
  const auto packed_b = mixq::simd::pack_b_once(b.data<float>(), K, N, N, 1);
  auto& pool = mixq::thread_pool::global();
  for (auto _ : state) {
    mixq::simd::gemm(M, N, K, {&packed_a, {}}, {&packed_b, {}}, c.data<float>(), N, {}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K));
}
BENCHMARK(BM_gemm_prepacked)->Args({1024, 1024, 1024})->Args({64, 3136, 576})->Args({60, 3136, 576})->Args({72, 3136, 576})->Args({64, 512, 576})->Unit(benchmark::kMillisecond);

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
  for (auto _ : state) {
    outs[0] = tensor();
    top::kernel_context kc{ins, outs, out_type, nullptr};
    top::conv_op::compute(kc, a, prepared);
    benchmark::DoNotOptimize(outs[0].raw());
  }
  set_rate(state, 2.0 * static_cast<double>(g.oc * g.out_spatial() * (ic / group) * k * k));
}
BENCHMARK(BM_conv)
    ->ArgNames({"ic", "oc", "hw", "k", "s", "g"})
    ->Args({64, 64, 56, 1, 1, 1})     // 1x1 pointwise (GEMM on NCHW, M=64 N=3136 K=64)
    ->Args({256, 64, 56, 1, 1, 1})    // 1x1 bottleneck reduce (K=256)
    ->Args({64, 64, 56, 3, 1, 1})     // 3x3 (im2col into B panels, K=576)
    ->Args({128, 128, 28, 3, 2, 1})   // 3x3 stride 2
    ->Args({96, 96, 56, 3, 1, 96})    // depthwise 3x3 stride 1
    ->Args({96, 96, 56, 3, 2, 96})    // depthwise 3x3 stride 2
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
