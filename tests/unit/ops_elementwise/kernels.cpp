// The element-wise kernel drivers and vector math on their own: broadcast plans, the
// vectorized maps against plain loops, and the vector transcendentals against double std::.
#include "ew_support.hpp"

#include "mixq/kernels/simd/elementwise.hpp"
#include "mixq/kernels/simd/math.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("broadcast plan coalesces per-channel and last-dim patterns", "[kernels][plan]") {
  const shape_t out{2, 3, 5, 7}, ch{1, 3, 1, 1}, last{2, 3, 5, 1};
  auto p = simd::make_broadcast_plan<2>(out, {&out, &ch});
  CHECK(p.shape == shape_t{2, 3, 35});
  CHECK(p.strides[0] == shape_t{105, 35, 1});
  CHECK(p.strides[1] == shape_t{0, 1, 0});
  p = simd::make_broadcast_plan<2>(out, {&out, &last});
  CHECK(p.shape == shape_t{30, 7});
  CHECK(p.strides[1] == shape_t{1, 0});
  p = simd::make_broadcast_plan<2>(out, {&out, &out});
  CHECK(p.shape == shape_t{210});
  const shape_t scalar{};
  p = simd::make_broadcast_plan<2>(scalar, {&scalar, &scalar});
  CHECK(p.shape == shape_t{1});
  CHECK_THROWS_WITH((simd::make_broadcast_plan<2>(ch, {&ch, &out})), Catch::Contains("cannot broadcast"));
}

TEST_CASE("map_binary matches a plain loop on random broadcasts, in float and int64", "[kernels][map]") {
  thread_pool pool(3);
  for (int trial = 0; trial < 100; ++trial) {
    const shape_t out = ew::random_shape(5, 8);
    const shape_t as = ew::random_broadcast_of(out), bs = ew::random_broadcast_of(out);
    const shape_t os = top::broadcast_shapes(as, bs);
    INFO(to_string(as) << " " << to_string(bs));
    const tensor a = random_tensor(as), b = random_tensor(bs);
    tensor fast = tensor::empty(dtype::f32, os), slow = tensor::empty(dtype::f32, os);
    const auto f = [](const auto& x, const auto& y) { return x * y - y; };
    simd::map_binary(a.data<float>(), as, b.data<float>(), bs, fast.data<float>(), os, pool, f);
    top::detail::reference_binary(a.data<float>(), as, b.data<float>(), bs, slow.data<float>(), os, f);
    require_close(fast, slow, 0, 0);
    const tensor ai = a.cast(dtype::i64), bi = b.cast(dtype::i64);
    tensor fi = tensor::empty(dtype::i64, os), si = tensor::empty(dtype::i64, os);
    simd::map_binary(ai.data<std::int64_t>(), as, bi.data<std::int64_t>(), bs, fi.data<std::int64_t>(), os, pool, f);
    top::detail::reference_binary(ai.data<std::int64_t>(), as, bi.data<std::int64_t>(), bs, si.data<std::int64_t>(), os, f);
    require_close(fi, si, 0, 0);
  }
}

TEST_CASE("map_unary handles every tail length", "[kernels][map]") {
  for (std::int64_t n = 0; n < 70; ++n) {
    const tensor x = random_tensor({n});
    tensor y = tensor::empty(dtype::f32, {n});
    simd::map_unary(x.data<float>(), y.data<float>(), n, thread_pool::global(), [](const auto& v) { return v * v; });
    for (std::int64_t i = 0; i < n; ++i) REQUIRE(y.data<float>()[i] == x.data<float>()[i] * x.data<float>()[i]);
  }
}

namespace {
/// Largest error in ulps of the batch function against a double-precision reference.
template <class VF, class DF>
double worst_ulp(VF vf, DF df, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  double worst = 0;
  constexpr std::size_t W = simd::width<float>;
  for (int it = 0; it < 4000; ++it) {
    alignas(64) float x[W], y[W];
    for (auto& v : x) v = d(rng());
    vf(simd::fbatch::load_aligned(x)).store_aligned(y);
    for (std::size_t i = 0; i < W; ++i) {
      const double ref = df(static_cast<double>(x[i]));
      const float fr = static_cast<float>(ref);
      const double ulp = std::nextafter(std::abs(fr), std::numeric_limits<float>::infinity()) - std::abs(fr);
      worst = std::max(worst, std::abs(y[i] - ref) / std::max(ulp, 1e-45));
    }
  }
  return worst;
}
}  // namespace

TEST_CASE("vector transcendentals are within a few ulp of double std::", "[kernels][math]") {
  using simd::fbatch;
  CHECK(worst_ulp([](fbatch x) { return simd::vexp(x); }, [](double x) { return std::exp(x); }, -80, 80) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::vlog(x); }, [](double x) { return std::log(x); }, 1e-20f, 1e20f) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::vtanh(x); }, [](double x) { return std::tanh(x); }, -9, 9) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::verf(x); }, [](double x) { return std::erf(x); }, -4, 4) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::vexpm1(x); }, [](double x) { return std::expm1(x); }, -5, 5) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::vlog1p(x); }, [](double x) { return std::log1p(x); }, -0.5f, 50) < 3);
  CHECK(worst_ulp([](fbatch x) { return simd::sigmoid(x); },
                  [](double x) { return 1 / (1 + std::exp(-x)); }, -30, 30) < 4);
  CHECK(worst_ulp([](fbatch x) { return simd::softplus(x); },
                  [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }, -30, 30) < 4);
  // For x < 0 the float argument -x/sqrt(2) is rounded before erfc, which erfc's steep tail
  // amplifies (~2 z^2 ulp at z = -x/sqrt 2); std::erfcf on the same float argument does the same.
  CHECK(worst_ulp([](fbatch x) { return simd::gelu_erf(x); },
                  [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, -1, 6) < 6);
  CHECK(worst_ulp([](fbatch x) { return simd::gelu_erf(x); },
                  [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, -4, -1) < 40);
  CHECK(worst_ulp([](fbatch x) { return simd::gelu_tanh(x); },
                  [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); },
                  -0.5f, 6) < 6);
}
