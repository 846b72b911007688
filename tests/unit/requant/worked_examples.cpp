// docs/lowering_spec.md §7: every worked example recomputed from the primitives alone (the
// lowering rules of §4-§6 written out inline), so a change to a primitive that breaks the spec's
// arithmetic fails here, independently of the lowering pass built on top.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "mixq/quant/requant.hpp"
#include "mixq/quant/types.hpp"

using namespace mixq::quant;

namespace {

const std::vector<double> W0{0.9921875, -0.5, 0.25, 0.125}, W1{-0.9921875, 0.5, 0.0, 0.0};
const double B0 = 0.25, B1 = -0.08203125;
const std::vector<std::int64_t> X{32, 16, -48, 64};  // real [0.5, 0.25, -0.75, 1.0] at s_in = 1/64
const double S_IN = (127.0 / 64) / 127, S_OUT = (127.0 / 32) / 127;

std::int64_t dot(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

float max_abs(const std::vector<double>& w) {
  float m = 0.f;
  for (double v : w) m = std::max(m, std::abs(static_cast<float>(v)));
  return m;
}

/// bm1684x per-channel filter scale: f32(max(f32(max|W| / 127), 1e-5)).
float bm1684x_filter_scale(const std::vector<double>& w) { return std::max(max_abs(w) / 127.f, 1e-5f); }

std::vector<std::int64_t> bm1684x_filter(const std::vector<double>& w, float scale_w) {
  std::vector<std::int64_t> q;
  for (double v : w) q.push_back(to_int8(static_cast<double>(static_cast<float>(v)) / static_cast<double>(scale_w)));
  return q;
}

/// The symmetric AvgPool interpreter: the float average times kh, kw, rounded, then requant.
std::int64_t avgpool(const std::vector<std::int64_t>& window, int counted, int kh, int kw, multiplier_shift ms, bool cv18xx) {
  std::int64_t sum = 0;
  for (auto v : window) sum += v;
  const float avg = static_cast<float>(sum) / static_cast<float>(counted);
  const float scaled = (avg * static_cast<float>(kh)) * static_cast<float>(kw);
  const std::int64_t v = to_int(scaled, cv18xx ? round_mode::half_up : round_mode::half_away_from_zero);
  return saturate<std::int8_t>(apply_multiplier_and_rshift(v, ms.multiplier, ms.shift, requant_mode::multiplier_shift,
                                                           round_mode::half_up,
                                                           cv18xx ? chip_family::cv18xx : chip_family::bm168x));
}

}  // namespace

TEST_CASE("spec §7.1: bm1684x Conv, per-channel scales 1/128, multiplier 1 shift 8, HalfUp requant") {
  const float s0 = bm1684x_filter_scale(W0), s1 = bm1684x_filter_scale(W1);
  REQUIRE(s0 == 1.f / 128);
  REQUIRE(s1 == 1.f / 128);
  const auto q0 = bm1684x_filter(W0, s0), q1 = bm1684x_filter(W1, s1);
  CHECK(q0 == std::vector<std::int64_t>{127, -64, 32, 16});
  CHECK(q1 == std::vector<std::int64_t>{-127, 64, 0, 0});
  const std::int64_t b0 = to_int(B0 / (static_cast<double>(s0) * S_IN), round_mode::half_away_from_zero);
  const std::int64_t b1 = to_int(B1 / (static_cast<double>(s1) * S_IN), round_mode::half_away_from_zero);
  CHECK(b0 == 2048);
  CHECK(b1 == -672);
  const multiplier_shift ms = get_scale_and_shift(static_cast<float>(static_cast<double>(s0) * S_IN / S_OUT), 32);
  CHECK(ms == multiplier_shift{1, 8});
  CHECK(dot(q0, X) == 2528);
  CHECK(dot(q1, X) == -3040);
  const auto out = [&](std::int64_t acc, std::int64_t b) {
    return apply_multiplier_and_rshift(acc + b, ms.multiplier, ms.shift, requant_mode::multiplier_shift, round_mode::half_up);
  };
  CHECK(saturate<std::int8_t>(out(dot(q0, X), b0)) == 18);
  CHECK(saturate<std::int8_t>(out(dot(q1, X), b1)) == -14);
  CHECK(saturate<std::int8_t>(std::max<std::int64_t>(out(dot(q1, X), b1), 0)) == 0);  // do_relu at zp 0
}

TEST_CASE("spec §7.1: bm1684x Conv with an all-integer filter keeps scale 1: W_q [1, -1], b_q 32, (1, 1)") {
  const std::vector<double> w{1.0, -1.0};
  const float scale_w = 1.f;  // to_all_int8: every w * 2^0 is an int8
  CHECK(bm1684x_filter(w, scale_w) == std::vector<std::int64_t>{1, -1});
  CHECK(to_int(0.5 / (1.0 * S_IN), round_mode::half_away_from_zero) == 32);
  CHECK(get_scale_and_shift(static_cast<float>(1.0 * S_IN / S_OUT), 32) == multiplier_shift{1, 1});
}

TEST_CASE("spec §7.1: bm1684x asymmetric Conv, zp -64 in and out, output -29") {
  const affine_params in = int8_asym::params(-1.0, 3.0), out = int8_asym::params(-2.0, 6.0);
  CHECK(in.scale == 4.0 / 255);
  CHECK(in.zero_point == -64);
  CHECK(out.scale == 8.0 / 255);
  CHECK(out.zero_point == -64);
  const std::vector<double> w{0.7, -0.2};
  const float scale_w = bm1684x_filter_scale(w);
  CHECK(scale_w == static_cast<float>(0.7f / 127.f));
  const auto q = bm1684x_filter(w, scale_w);
  CHECK(q == std::vector<std::int64_t>{127, -36});
  const double corr = static_cast<double>((q[0] + q[1]) * in.zero_point);
  CHECK(corr == -5824);
  const std::int64_t b = to_int(0.5 / (static_cast<double>(scale_w) * in.scale) - corr, round_mode::half_away_from_zero);
  CHECK(b == 11607);
  const multiplier_shift ms = get_scale_and_shift(static_cast<float>(static_cast<double>(scale_w) * in.scale / out.scale), 32);
  CHECK(ms == multiplier_shift{2959131, 30});
  const std::int64_t acc = dot(q, {0, -32});
  CHECK(acc == 1152);
  const std::int64_t v =
      apply_multiplier_and_rshift(acc + b, ms.multiplier, ms.shift, requant_mode::multiplier_shift, round_mode::half_up);
  CHECK(v == 35);
  CHECK(saturate<std::int8_t>(v + out.zero_point) == -29);
}

TEST_CASE("spec §7.2: bm1684x MatMul, per-tensor 1/128 weights: outputs 15 and -8") {
  const std::vector<std::vector<double>> w{{0.9921875, -0.25}, {0.5, 0.125}, {-0.75, 0.0}};
  double w_max = 0;
  for (const auto& row : w)
    for (double v : row) w_max = std::max(w_max, static_cast<double>(std::abs(static_cast<float>(v))));
  const double w_scale = w_max / 127.0;
  CHECK(w_scale == 1.0 / 128);
  std::vector<std::vector<std::int64_t>> q(3, std::vector<std::int64_t>(2));
  for (int k = 0; k < 3; ++k)
    for (int n = 0; n < 2; ++n) q[k][n] = to_int8(static_cast<double>(static_cast<float>(w[k][n])) / w_scale);
  CHECK(q == std::vector<std::vector<std::int64_t>>{{127, -32}, {64, 16}, {-96, 0}});
  const std::int64_t b0 = to_int(0.125 / (w_scale * S_IN), round_mode::half_away_from_zero);
  const std::int64_t b1 = to_int(-0.0625 / (w_scale * S_IN), round_mode::half_away_from_zero);
  CHECK(b0 == 1024);
  CHECK(b1 == -512);
  const multiplier_shift ms = get_scale_and_shift(static_cast<float>(S_IN * w_scale / S_OUT), 32);
  CHECK(ms == multiplier_shift{1, 8});
  const std::vector<std::int64_t> x{40, -24, 8};
  const std::int64_t acc0 = x[0] * q[0][0] + x[1] * q[1][0] + x[2] * q[2][0];
  const std::int64_t acc1 = x[0] * q[0][1] + x[1] * q[1][1] + x[2] * q[2][1];
  CHECK(acc0 == 2776);
  CHECK(acc1 == -1664);
  CHECK(apply_multiplier_and_rshift(acc0 + b0, 1, 8, requant_mode::multiplier_shift) == 15);
  CHECK(apply_multiplier_and_rshift(acc1 + b1, 1, 8, requant_mode::multiplier_shift) == -8);
}

TEST_CASE("spec §7.3: bm1684x AvgPool 2x2 (1, 2) and 3x3 (57, 9), including a partial window") {
  const multiplier_shift p2 = get_scale_and_shift(static_cast<float>(S_IN / (S_IN * 2 * 2)), 8);
  CHECK(p2 == multiplier_shift{1, 2});
  CHECK(avgpool({10, 11, 12, 13}, 4, 2, 2, p2, false) == 12);
  CHECK(avgpool({-10, -11, -12, -13}, 4, 2, 2, p2, false) == -11);
  CHECK(avgpool({10, 11, 12, 14}, 4, 2, 2, p2, false) == 12);
  const multiplier_shift p3 = get_scale_and_shift(static_cast<float>(S_IN / (S_IN * 3 * 3)), 8);
  CHECK(p3 == multiplier_shift{57, 9});
  CHECK(avgpool(std::vector<std::int64_t>(9, 127), 9, 3, 3, p3, false) == 127);
  CHECK(avgpool({40, 41, 42, 43}, 4, 3, 3, p3, false) == 42);  // count_include_pad = false corner
}

TEST_CASE("spec §7.4: bm1684x Add rounds each input before the sum") {
  const multiplier_shift a = get_scale_and_shift_positive(static_cast<float>(S_IN / S_OUT), 8);
  const multiplier_shift b = get_scale_and_shift_positive(static_cast<float>(S_OUT / S_OUT), 8);
  CHECK(a == multiplier_shift{1, 1});
  CHECK(b == multiplier_shift{1, 0});
  const auto term = [](std::int64_t x, multiplier_shift ms) {
    return apply_multiplier_and_rshift(x, ms.multiplier, ms.shift, requant_mode::multiplier_shift, round_mode::half_up);
  };
  CHECK(saturate<std::int8_t>(term(37, a) + term(5, b)) == 24);
  CHECK(saturate<std::int8_t>(term(-37, a) + term(5, b)) == -13);
  CHECK(saturate<std::int8_t>(term(1, a) + term(1, a)) == 2);  // the real sum is one output step
}

TEST_CASE("spec §7.5: bm1684 Conv (OnlyShift 7, int16 bias), Add and the AvgPool table") {
  const int r = cal_right_shift_num(max_abs(W0), S_IN, S_OUT);
  CHECK(r == 7);
  const auto factor = static_cast<float>(static_cast<double>(1 << r) * S_IN / S_OUT);
  const auto filter = [&](const std::vector<double>& w) {
    std::vector<std::int64_t> q;
    for (double v : w) q.push_back(to_int8(static_cast<double>(static_cast<float>(v) * factor)));
    return q;
  };
  CHECK(filter(W0) == std::vector<std::int64_t>{64, -32, 16, 8});
  CHECK(filter(W1) == std::vector<std::int64_t>{-64, 32, 0, 0});
  const auto bias_factor = static_cast<float>(static_cast<double>(1 << r) / S_OUT);
  const auto bias = [&](double b) { return to_int16(static_cast<double>(static_cast<float>(b) * bias_factor)); };
  CHECK(bias(B0) == 1024);
  CHECK(bias(B1) == -336);
  CHECK(dot(filter(W0), X) == 1280);
  CHECK(apply_multiplier_and_rshift(dot(filter(W0), X) + bias(B0), 1, r, requant_mode::only_shift) == 18);
  CHECK(apply_multiplier_and_rshift(dot(filter(W1), X) + bias(B1), 1, r, requant_mode::only_shift) == -15);
  const int r0 = std::max(cal_right_shift_num_use_cblas(1.f, S_IN, S_OUT), 0);
  const int r1 = std::max(cal_right_shift_num_use_cblas(1.f, S_OUT, S_OUT), 0);
  CHECK(r0 == 7);
  CHECK(r1 == 6);
  CHECK(to_int8(static_cast<double>(1.f * static_cast<float>(static_cast<double>(1 << r0) * S_IN / S_OUT))) == 64);
  CHECK(to_int8(static_cast<double>(1.f * static_cast<float>(static_cast<double>(1 << r1) * S_OUT / S_OUT))) == 64);
  CHECK(avgpool(std::vector<std::int64_t>(9, 127), 9, 3, 3, avgpool_reciprocal_bm1684(9), false) == 127);
}

TEST_CASE("spec §7.6: cv18xx Conv (QDM 2^30, 7, HalfAwayFromZero), Add (one rounding) and AvgPool") {
  const float th_in = 127.f / 64, th_out = 127.f / 32;
  const double qscale = static_cast<double>(max_abs(W0) * th_in) / static_cast<double>(127.f * th_out);
  CHECK(qscale == 1.0 / 256);
  const multiplier_shift ms = rshift_and_multiplier_from_qscale(qscale, true);
  CHECK(ms == multiplier_shift{1073741824, 7});
  const double wf = static_cast<double>(th_in / th_out) * std::ldexp(1.0, static_cast<int>(ms.shift) + 31) /
                    static_cast<double>(ms.multiplier);
  const auto filter = [&](const std::vector<double>& w) {
    std::vector<std::int64_t> q;
    for (double v : w) q.push_back(to_int8(static_cast<double>(static_cast<float>(v) * static_cast<float>(wf)), round_mode::half_to_even));
    return q;
  };
  CHECK(filter(W0) == std::vector<std::int64_t>{127, -64, 32, 16});
  CHECK(filter(W1) == std::vector<std::int64_t>{-127, 64, 0, 0});
  const double bf = static_cast<double>(127.f / th_out) * std::ldexp(1.0, static_cast<int>(ms.shift) + 31) /
                    static_cast<double>(ms.multiplier);
  const auto bias = [&](double b) {
    return to_int(static_cast<double>(static_cast<float>(b) * static_cast<float>(bf)), round_mode::half_to_even);
  };
  CHECK(bias(B0) == 2048);
  CHECK(bias(B1) == -672);
  const auto out = [&](std::int64_t acc, std::int64_t b) {
    return saturate<std::int8_t>(apply_multiplier_and_rshift(acc + b, ms.multiplier, ms.shift, requant_mode::qdm,
                                                             round_mode::half_away_from_zero, chip_family::cv18xx));
  };
  CHECK(out(dot(filter(W0), X), bias(B0)) == 18);
  CHECK(out(dot(filter(W1), X), bias(B1)) == -15);
  // Add, both inputs at 127/64: q = 0.5 each, shared rshift 7, multipliers 64
  const auto q = static_cast<float>(1.0 * th_in / th_out);
  const multiplier_shift shared = rshift_and_multiplier_from_qscale(q, false, 127);
  CHECK(shared.shift == 7);
  const std::int8_t m = multiplier_i8_from_qscale_and_rshift(q, static_cast<int>(shared.shift));
  CHECK(m == 64);
  CHECK(apply_multiplier_and_rshift(1 * m + 1 * m, 1, shared.shift, requant_mode::multiplier_shift, round_mode::half_up,
                                    chip_family::cv18xx) == 1);
  // AvgPool: truncated multipliers
  const multiplier_shift p3 = rshift_and_multiplier_from_qscale(1.0 / 9, false, 127);
  CHECK(p3 == multiplier_shift{113, 10});
  CHECK(avgpool(std::vector<std::int64_t>(9, 127), 9, 3, 3, p3, true) == 126);
  const multiplier_shift p2 = rshift_and_multiplier_from_qscale(1.0 / 4, false, 127);
  CHECK(p2 == multiplier_shift{64, 8});
  CHECK(avgpool({-10, -11, -12, -13}, 4, 2, 2, p2, true) == -11);
}

TEST_CASE("spec §7.7: input quantization rounds half away from zero: 32.5 -> 33 (a numpy round gives 32)") {
  CHECK(quantize_bm168x<std::int8_t>(0.5078125f, cast_reciprocal(S_IN), 0) == 33);
  CHECK(quantize_bm168x<std::int8_t>(-0.5078125f, cast_reciprocal(S_IN), 0) == -33);
}
