// int8 kernels (include/mixq/kernels/int8) against the float kernels (include/mixq/kernels/simd) on
// the same shapes: GEMM, convolution layers of mobilenet_v2 and resnet18, and every convolution of
// mobilenet_v2 at 224x224 run back to back. The int8 convolutions write requantized int8 output
// (bm1684x per-channel MultiplierShift + relu, fused into the GEMM's tiles), the float ones float
// output with relu, i.e. what each evaluator does per layer. GOP/s counts 2 operations per
// multiply-accumulate for both.
// Run: ./bench/mixq_bench_int8 [--benchmark_filter=...]; the last argument of each case is the
// number of threads.
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>
#include <random>
#include <vector>

#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/int8/conv.hpp"
#include "mixq/kernels/int8/gemm.hpp"
#include "mixq/kernels/simd/conv.hpp"
#include "mixq/kernels/simd/gemm.hpp"

namespace {
using index_t = std::int64_t;
namespace i8 = mixq::int8;
namespace simd = mixq::simd;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// GOP/s over wall time, and GOP/s/core over the CPU time of all our threads (meaningful on a
// shared machine: it counts only the time our threads ran).
void set_rate(benchmark::State& state, double ops_per_iteration, double cpu_begin) {
  const double ops = ops_per_iteration * static_cast<double>(state.iterations());
  state.counters["GOP/s"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsRate);
  const double cpu = process_cpu_seconds() - cpu_begin;
  state.counters["GOP/s/core"] = benchmark::Counter(cpu > 0 ? ops * 1e-9 / cpu : 0.0);
}

mixq::thread_pool& pool_of(index_t threads) {
  static mixq::thread_pool one(1), two(2);
  return threads <= 1 ? one : two;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  static std::mt19937 gen(5);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(d(gen));
  return v;
}
std::vector<float> random_floats(std::size_t n) {
  static std::mt19937 gen(6);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// ------------------------------------------------------------------------------------ GEMM

void BM_int8_gemm(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  auto& pool = pool_of(state.range(3));
  const auto a = random_bytes(static_cast<std::size_t>(M * K)), b = random_bytes(static_cast<std::size_t>(K * N));
  std::vector<std::int32_t> c(static_cast<std::size_t>(M * N));
  const i8::packed_matrix pa = i8::pack_a_once(a.data(), i8::elem::s8, M, K, K, 1);
  const i8::gemm_operand A{&pa, i8::elem::s8, {}, {}};
  const i8::gemm_operand B = i8::strided_b(b.data(), i8::elem::u8, K, N, N, 1);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    i8::gemm(M, N, K, A, B, {c.data(), N, nullptr, nullptr, {}}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M * N) * static_cast<double>(K), cpu0);
}

void BM_f32_gemm(benchmark::State& state) {
  const index_t M = state.range(0), N = state.range(1), K = state.range(2);
  auto& pool = pool_of(state.range(3));
  const auto a = random_floats(static_cast<std::size_t>(M * K)), b = random_floats(static_cast<std::size_t>(K * N));
  std::vector<float> c(static_cast<std::size_t>(M * N));
  const auto pa = simd::pack_a_once(a.data(), M, K, K, 1);
  const auto gb = simd::strided_b(b.data(), N, N, 1);
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    simd::gemm(M, N, K, {&pa, {}}, gb, c.data(), N, {}, &pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, 2.0 * static_cast<double>(M * N) * static_cast<double>(K), cpu0);
}

#define MIXQ_GEMM_SHAPES(B)                                                                                       \
  B->ArgNames({"M", "N", "K", "threads"})                                                                           \
      ->ArgsProduct({{64}, {3136}, {576}, {1, 2}})                                                                  \
      ->ArgsProduct({{256}, {256}, {256}, {1, 2}})                                                                  \
      ->ArgsProduct({{1024}, {1024}, {1024}, {1, 2}})                                                               \
      ->ArgsProduct({{1000}, {1}, {1280}, {1}})  /* mobilenet_v2 classifier */                                     \
      ->UseRealTime()                                                                                               \
      ->Unit(benchmark::kMillisecond)
MIXQ_GEMM_SHAPES(BENCHMARK(BM_int8_gemm));
MIXQ_GEMM_SHAPES(BENCHMARK(BM_f32_gemm));

// ------------------------------------------------------------------------------------ conv

struct layer {
  index_t ic, oc, hw, k, s, group;
  bool signed_input;  // int8 input s8 (a linear bottleneck's output) or u8 (after relu)
};

i8::conv2d_geometry int8_geometry(const layer& l) {
  i8::conv2d_geometry g;
  g.ic = l.ic;
  g.oc = l.oc;
  g.ih = g.iw = l.hw;
  g.kh = g.kw = l.k;
  g.sh = g.sw = l.s;
  g.pad_top = g.pad_left = l.k / 2;
  g.group = l.group;
  g.oh = g.ow = (l.hw + 2 * (l.k / 2) - l.k) / l.s + 1;
  return g;
}

simd::conv2d_geometry float_geometry(const layer& l) {
  const i8::conv2d_geometry g = int8_geometry(l);
  simd::conv2d_geometry f;
  f.ic = g.ic;
  f.oc = g.oc;
  f.ih = g.ih;
  f.iw = g.iw;
  f.oh = g.oh;
  f.ow = g.ow;
  f.kh = g.kh;
  f.kw = g.kw;
  f.sh = g.sh;
  f.sw = g.sw;
  f.pad_top = g.pad_top;
  f.pad_left = g.pad_left;
  f.group = g.group;
  return f;
}

double conv_ops(const layer& l) {
  const i8::conv2d_geometry g = int8_geometry(l);
  return 2.0 * static_cast<double>(g.oc * g.oh * g.ow) * static_cast<double>(g.icg() * g.kh * g.kw);
}

/// One int8 layer, prepared as an evaluator would: packed filter, bias and requant parameters.
struct int8_layer {
  layer l;
  i8::conv2d_geometry g;
  std::vector<std::uint8_t> input, filter, output;
  std::vector<std::int32_t> bias, multiplier, rshift;
  i8::packed_conv_filter packed;
  i8::requant_spec spec;

  explicit int8_layer(const layer& ly) : l(ly), g(int8_geometry(ly)) {
    input = random_bytes(static_cast<std::size_t>(g.ic * g.ih * g.iw));
    filter = random_bytes(static_cast<std::size_t>(g.oc * g.icg() * g.kh * g.kw));
    output.resize(static_cast<std::size_t>(g.oc * g.oh * g.ow));
    bias.assign(static_cast<std::size_t>(g.oc), 1000);
    multiplier.assign(static_cast<std::size_t>(g.oc), 1234567);
    rshift.assign(static_cast<std::size_t>(g.oc), 30);
    packed = i8::pack_conv_filter(g, filter.data(), i8::elem::s8);
    spec.multiplier = multiplier;
    spec.rshift = rshift;
    spec.bias = bias;
    spec.relu = true;
  }
  void run(mixq::thread_pool& pool) {
    i8::conv2d(g, 1, input.data(), l.signed_input ? i8::elem::s8 : i8::elem::u8, l.signed_input ? 3 : 0, packed, nullptr,
               i8::conv_output{nullptr, &spec, output.data()}, pool);
  }
};

struct float_layer {
  layer l;
  simd::conv2d_geometry g;
  std::vector<float> input, filter, bias, output;
  simd::packed_conv_filter packed;
  simd::gemm_epilogue ep;

  explicit float_layer(const layer& ly) : l(ly), g(float_geometry(ly)) {
    input = random_floats(static_cast<std::size_t>(g.ic * g.ih * g.iw));
    filter = random_floats(static_cast<std::size_t>(g.oc * (g.ic / g.group) * g.kh * g.kw));
    bias = random_floats(static_cast<std::size_t>(g.oc));
    output.resize(static_cast<std::size_t>(g.oc * g.oh * g.ow));
    if (!(g.group == g.ic && g.group == g.oc && g.group > 1)) packed = simd::pack_conv_filter(g, filter.data());
    ep.relu = true;
  }
  void run(mixq::thread_pool& pool) {
    if (g.group == g.ic && g.group == g.oc && g.group > 1)
      simd::depthwise_conv2d(g, 1, input.data(), filter.data(), bias.data(), output.data(), ep, pool);
    else
      simd::conv2d_gemm(g, 1, input.data(), filter.data(), &packed, bias.data(), output.data(), ep, pool);
  }
};

layer layer_of(const benchmark::State& state) {
  return {state.range(0), state.range(1), state.range(2), state.range(3), state.range(4), state.range(5), state.range(6) != 0};
}

void BM_int8_conv(benchmark::State& state) {
  int8_layer L(layer_of(state));
  auto& pool = pool_of(state.range(7));
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    L.run(pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, conv_ops(L.l), cpu0);
}

void BM_f32_conv(benchmark::State& state) {
  float_layer L(layer_of(state));
  auto& pool = pool_of(state.range(7));
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    L.run(pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, conv_ops(L.l), cpu0);
}

// ic, oc, hw, k, s, group, signed input, threads
#define MIXQ_CONV_SHAPES(B)                                                                       \
  B->ArgNames({"ic", "oc", "hw", "k", "s", "g", "s8in", "threads"})                                 \
      /* mobilenet_v2 */                                                                            \
      ->ArgsProduct({{3}, {32}, {224}, {3}, {2}, {1}, {1}, {1, 2}})                                 \
      ->ArgsProduct({{16}, {96}, {112}, {1}, {1}, {1}, {1}, {1, 2}})                                \
      ->ArgsProduct({{144}, {24}, {56}, {1}, {1}, {1}, {0}, {1, 2}})                                \
      ->ArgsProduct({{32}, {192}, {28}, {1}, {1}, {1}, {1}, {1, 2}})                                \
      ->ArgsProduct({{384}, {64}, {14}, {1}, {1}, {1}, {0}, {1, 2}})                                \
      ->ArgsProduct({{960}, {160}, {7}, {1}, {1}, {1}, {0}, {1, 2}})                                \
      ->ArgsProduct({{320}, {1280}, {7}, {1}, {1}, {1}, {1}, {1, 2}})                               \
      ->ArgsProduct({{32}, {32}, {112}, {3}, {1}, {32}, {0}, {1, 2}})                               \
      ->ArgsProduct({{96}, {96}, {112}, {3}, {2}, {96}, {0}, {1, 2}})                               \
      ->ArgsProduct({{144}, {144}, {56}, {3}, {1}, {144}, {0}, {1, 2}})                             \
      ->ArgsProduct({{576}, {576}, {14}, {3}, {1}, {576}, {0}, {1, 2}})                             \
      ->ArgsProduct({{960}, {960}, {7}, {3}, {1}, {960}, {0}, {1, 2}})                              \
      /* resnet18 */                                                                                \
      ->ArgsProduct({{64}, {64}, {56}, {3}, {1}, {1}, {0}, {1, 2}})                                 \
      ->ArgsProduct({{128}, {128}, {28}, {3}, {1}, {1}, {0}, {1, 2}})                               \
      ->ArgsProduct({{256}, {256}, {14}, {3}, {1}, {1}, {0}, {1, 2}})                               \
      ->ArgsProduct({{512}, {512}, {7}, {3}, {1}, {1}, {0}, {1, 2}})                                \
      ->ArgsProduct({{64}, {128}, {56}, {1}, {2}, {1}, {0}, {1, 2}})                                \
      ->UseRealTime()                                                                               \
      ->Unit(benchmark::kMillisecond)
MIXQ_CONV_SHAPES(BENCHMARK(BM_int8_conv));
MIXQ_CONV_SHAPES(BENCHMARK(BM_f32_conv));

// --------------------------------------------------------------- mobilenet_v2, every conv

/// The 52 convolutions of mobilenet_v2 at 224x224 (torchvision layout): first conv, then per
/// inverted-residual block expand 1x1 (t > 1), depthwise 3x3, project 1x1; then the 1x1 to 1280.
std::vector<layer> mobilenet_v2_layers() {
  std::vector<layer> v{{3, 32, 224, 3, 2, 1, true}};
  const index_t blocks[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  index_t c = 32, hw = 112;
  for (const auto& b : blocks)
    for (index_t i = 0; i < b[2]; ++i) {
      const index_t s = i == 0 ? b[3] : 1, hidden = c * b[0];
      if (b[0] != 1) v.push_back({c, hidden, hw, 1, 1, 1, true});  // input: the previous projection (no relu)
      v.push_back({hidden, hidden, hw, 3, s, hidden, false});
      hw = (hw + 2 - 3) / s + 1;
      v.push_back({hidden, b[1], hw, 1, 1, 1, false});
      c = b[1];
    }
  v.push_back({320, 1280, 7, 1, 1, 1, true});
  return v;
}

template <class Layer>
void run_network(benchmark::State& state) {
  std::vector<std::unique_ptr<Layer>> layers;
  double ops = 0;
  for (const layer& l : mobilenet_v2_layers()) {
    layers.push_back(std::make_unique<Layer>(l));
    ops += conv_ops(l);
  }
  auto& pool = pool_of(state.range(0));
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    for (auto& l : layers) l->run(pool);
    benchmark::ClobberMemory();
  }
  set_rate(state, ops, cpu0);
}
void BM_int8_mobilenet_v2_convs(benchmark::State& state) { run_network<int8_layer>(state); }
void BM_f32_mobilenet_v2_convs(benchmark::State& state) { run_network<float_layer>(state); }
BENCHMARK(BM_int8_mobilenet_v2_convs)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_f32_mobilenet_v2_convs)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
