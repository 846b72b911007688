// Quant types and fake-quant kernels: parameters as TPU-MLIR's Module.cpp derives them, and
// vector kernels bit-identical to their scalar references on awkward values.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "mixq/quant/fake_quant.hpp"
#include "mixq/quant/types.hpp"

using namespace mixq;
using namespace mixq::quant;

namespace {

/// Values that stress rounding: exact halves, the saturation edges, zeros of both signs,
/// subnormals, huge values, NaN and inf, then random ones; an odd count exercises the tail.
std::vector<float> awkward_values(float scale, std::size_t random_count = 4001) {
  std::vector<float> v{0.f, -0.f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -127.5f, 127.5f, -128.5f, 1e-30f, -1e-40f,
                       1e30f, -1e30f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                       std::numeric_limits<float>::quiet_NaN(), 65504.f, 65519.f, 65520.f, -65536.f, 6.1035156e-05f, 5.96e-08f,
                       2.98e-08f, 3.0e-08f, 3.3895314e38f};
  for (std::size_t i = 0; i < 64; ++i) v.push_back((static_cast<float>(i) - 32.f + 0.5f) / scale);
  std::mt19937 gen(7);
  std::normal_distribution<float> d(0.f, 40.f / scale);
  for (std::size_t i = 0; i < random_count; ++i) v.push_back(d(gen));
  return v;
}

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

void require_bit_identical(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& in) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << " input " << in[i] << ": simd " << a[i] << " reference " << b[i]);
    REQUIRE(same_bits(a[i], b[i]));
  }
}

}  // namespace

TEST_CASE("symmetric INT8/INT4 scales follow Module.cpp: th/127 signed, th/255 unsigned, th/7, th/15") {
  CHECK(int8_sym::params(12.7).scale == Approx(0.1));
  CHECK(int8_sym::params(12.7).qmin == -128);
  CHECK(int8_sym::params(12.7).qmax == 127);
  const auto u = int8_sym::params(25.5, false);
  CHECK(u.scale == Approx(0.1));
  CHECK(u.qmin == 0);
  CHECK(u.qmax == 255);
  CHECK(int4_sym::params(7.0).scale == Approx(1.0));
  CHECK(int4_sym::params(7.0).qmin == -8);
  CHECK(int4_sym::params(15.0, false).scale == Approx(1.0));
  CHECK(int8_sym::params(1.0).zero_point == 0);
  CHECK_THROWS_AS(int8_sym::params(0.0), error);
  CHECK_THROWS_AS(int8_sym::params(std::nan("")), error);
}

TEST_CASE("asymmetric INT8 derives scale and zero-point, nudging the zero-point into range") {
  const auto p = int8_asym::params(-1.0, 3.0);
  CHECK(p.qmin == -128);
  CHECK(p.qmax == 127);
  CHECK(p.scale == Approx(4.0 / 255));
  CHECK(p.zero_point == static_cast<int>(std::round(-128 + 1.0 / (4.0 / 255))));
  const auto u = int8_asym::params(0.5, 2.0);  // non-negative: unsigned storage; zp would be < 0
  CHECK(u.qmin == 0);
  CHECK(u.qmax == 255);
  CHECK(u.zero_point == 0);
  CHECK(u.scale == Approx(2.0 / 255));
  const auto n = int8_asym::params(-3.0, -1.0);  // all negative: zp above qmax, nudged to 127
  CHECK(n.zero_point == 127);
  CHECK(n.scale == Approx(-3.0 / (-128 - 127)));
  // The unrounded zero-point decides: min = 0.001 gives zp_real = -0.1 < 0, so zp = 0 and s = max/255.
  const auto small = int8_asym::params(0.001, 2.55);
  CHECK(small.zero_point == 0);
  CHECK(small.scale == 2.55 / 255);
  const auto i4 = int4_asym::params(-1.0, 1.0);
  CHECK(i4.qmin == -8);
  CHECK(i4.qmax == 7);
  CHECK_THROWS_AS(int8_asym::params(2.0, 1.0), error);
}

TEST_CASE("INT8 fake-quant is TPU-MLIR's import_quant_bias: round half to even, clip to [-128, 127]") {
  const auto q = int_fake_quant::symmetric<8>(127.0);  // scale 1
  std::vector<float> in{0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 200.f, -200.f, 126.6f};
  std::vector<float> out(in.size());
  fake_quantize(in, out, q);
  CHECK(out == std::vector<float>{0.f, 2.f, 2.f, -0.f, -2.f, 127.f, -128.f, 127.f});
  const auto away = int_fake_quant::symmetric<8>(127.0, true, rounding::half_away_from_zero);
  fake_quantize(in, out, away);
  CHECK(out == std::vector<float>{1.f, 2.f, 3.f, -1.f, -2.f, 127.f, -128.f, 127.f});
  // inv_scale is 127/th rounded once to float, and the result is q / inv_scale (not q * th / 127).
  const auto t = int_fake_quant::symmetric<8>(3.3);
  CHECK(t.inv_scale == static_cast<float>(127.0 / 3.3));
}

TEST_CASE("integer fake-quant kernels match the scalar reference bit for bit") {
  for (double th : {1.0, 3.3, 0.0123, 1000.0}) {
    for (auto mode : {rounding::half_to_even, rounding::half_away_from_zero}) {
      for (const auto& q : {int_fake_quant::symmetric<8>(th, true, mode), int_fake_quant::symmetric<8>(th, false, mode),
                            int_fake_quant::symmetric<4>(th, true, mode),
                            int_fake_quant::from(int8_asym::params(-th / 3, th), mode)}) {
        const auto in = awkward_values(static_cast<float>(127.0 / th));
        std::vector<float> a(in.size()), b(in.size());
        fake_quantize(in, a, q);
        fake_quantize_reference(in, b, q);
        INFO("threshold " << th << " rounding " << rounding_name(mode) << " qmin " << q.qmin << " zp " << q.zero_point);
        require_bit_identical(a, b, in);
      }
    }
  }
}

TEST_CASE("fake-quant may run in place and on lengths around the vector width") {
  const auto q = int_fake_quant::symmetric<8>(2.0);
  for (std::size_t n = 0; n < 70; ++n) {
    auto in = awkward_values(63.5f, 0);
    in.resize(n, 0.37f);
    std::vector<float> ref(n), inplace = in;
    fake_quantize_reference(in, ref, q);
    fake_quantize(inplace, inplace, q);
    require_bit_identical(inplace, ref, in);
  }
  std::vector<float> a(3), b(4);
  CHECK_THROWS_AS(fake_quantize(a, b, q), error);
}

TEST_CASE("F16 and BF16 fake-quant round to nearest even, overflow to inf and keep NaN, bit-identical to the reference") {
  auto in = awkward_values(1.f);
  // Every float16 rounding boundary neighbourhood: midpoints between consecutive halves.
  for (std::uint32_t h = 0; h < 0x7c00; h += 7) {
    const float lo = float16::to_float(static_cast<std::uint16_t>(h)), hi = float16::to_float(static_cast<std::uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;
    in.push_back(mid);
    in.push_back(-mid);
    in.push_back(std::nextafter(mid, 0.f));
    in.push_back(std::nextafter(mid, 1e9f));
  }
  for (std::uint32_t b = 0; b < 0x7f80; b += 13) {
    const float lo = std::bit_cast<float>(b << 16), hi = std::bit_cast<float>((b + 1) << 16);
    in.push_back(lo + (hi - lo) / 2);
  }
  std::vector<float> a(in.size()), r(in.size());
  fake_quantize<f16_type>(in, a);
  fake_quantize_reference<f16_type>(in, r);
  require_bit_identical(a, r, in);
  fake_quantize<bf16_type>(in, a);
  fake_quantize_reference<bf16_type>(in, r);
  require_bit_identical(a, r, in);
  fake_quantize<f32_type>(in, a);
  require_bit_identical(a, in, in);
  std::vector<float> edge{65504.f, 65519.99f, 65520.f, 1.f + 1.f / 2048.f, 1.f + 3.f / 2048.f};
  std::vector<float> e(edge.size());
  fake_quantize<f16_type>(edge, e);
  CHECK(e[0] == 65504.f);
  CHECK(e[1] == 65504.f);
  CHECK(std::isinf(e[2]));
  CHECK(e[3] == 1.f);                 // halfway, down to even
  CHECK(e[4] == 1.f + 4.f / 2048.f);  // halfway, up to even
}
