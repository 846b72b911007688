// TPU-MLIR's requant primitives (include/mixq/quant/requant.hpp) on the numbers docs/lowering_spec.md
// quotes in §1: rounding tables, multiplier/shift searches, the BM1684 AvgPool table, casts.
#include <catch2/catch.hpp>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>

#include "mixq/quant/requant.hpp"

using namespace mixq;
using namespace mixq::quant;

namespace {
constexpr round_mode all_modes[] = {round_mode::half_away_from_zero, round_mode::half_up,      round_mode::half_down,
                                    round_mode::half_to_even,        round_mode::half_to_odd,  round_mode::half_towards_zero,
                                    round_mode::towards_zero,        round_mode::up,           round_mode::down};
}  // namespace

TEST_CASE("round and requant mode names are TPU-MLIR's attribute spellings and round-trip") {
  CHECK(round_mode_name(round_mode::half_away_from_zero) == "HalfAwayFromZero");
  CHECK(round_mode_name(round_mode::half_towards_zero) == "HalfTowardsZero");
  CHECK(round_mode_name(round_mode::towards_zero) == "TowardsZero");
  for (round_mode m : all_modes) CHECK(parse_round_mode(round_mode_name(m)) == m);
  CHECK(requant_mode_name(requant_mode::tflite_lshift) == "TFLite_LShift");
  CHECK(requant_mode_name(requant_mode::multiplier_shift) == "MultiplierShift");
  for (auto m : {requant_mode::tflite_lshift, requant_mode::tflite, requant_mode::multiplier_shift, requant_mode::only_shift,
                 requant_mode::qdm, requant_mode::only_scale})
    CHECK(parse_requant_mode(requant_mode_name(m)) == m);
  CHECK_THROWS_WITH(parse_round_mode("HalfEven"), Catch::Contains("unknown round_mode 'HalfEven'") && Catch::Contains("HalfToEven"));
  CHECK_THROWS_WITH(parse_requant_mode("qdm"), Catch::Contains("unknown quant_mode 'qdm'"));
}

TEST_CASE("to_int rounds ties per mode and non-ties to nearest") {
  CHECK(to_int(2.5, round_mode::half_away_from_zero) == 3);
  CHECK(to_int(-2.5, round_mode::half_away_from_zero) == -3);
  CHECK(to_int(2.5, round_mode::half_up) == 3);
  CHECK(to_int(-2.5, round_mode::half_up) == -2);
  CHECK(to_int(2.5, round_mode::half_down) == 2);
  CHECK(to_int(-2.5, round_mode::half_down) == -3);
  CHECK(to_int(2.5, round_mode::half_to_even) == 2);
  CHECK(to_int(3.5, round_mode::half_to_even) == 4);
  CHECK(to_int(-3.5, round_mode::half_to_even) == -4);
  CHECK(to_int(-2.7, round_mode::towards_zero) == -2);
  CHECK(to_int(2.1, round_mode::up) == 3);
  CHECK(to_int(-2.1, round_mode::down) == -3);  // floor, as the newest MathUtils.cpp does
  for (round_mode m : {round_mode::half_away_from_zero, round_mode::half_up, round_mode::half_down, round_mode::half_to_even}) {
    CHECK(to_int(2.4, m) == 2);
    CHECK(to_int(-2.6, m) == -3);
  }
}

TEST_CASE("to_int HalfToEven narrows |v| to float first, as TPU-MLIR's float modf does") {
  // 2^25 + 1 is not a float: it narrows to 2^25
  CHECK(to_int(33554433.0, round_mode::half_to_even) == 33554432);
  CHECK(to_int(-33554433.0, round_mode::half_to_even) == -33554432);
  CHECK(to_int(33554433.0, round_mode::half_away_from_zero) == 33554433);
}

TEST_CASE("to_int rejects the two modes TPU-MLIR leaves unimplemented and saturates past int64") {
  CHECK_THROWS_WITH(to_int(1.5, round_mode::half_to_odd), Catch::Contains("HalfToOdd"));
  CHECK_THROWS_WITH(to_int(1.5, round_mode::half_towards_zero), Catch::Contains("HalfTowardsZero"));
  CHECK(to_int(1e300, round_mode::half_up) == std::numeric_limits<std::int64_t>::max());
  CHECK(to_int(-std::numeric_limits<double>::infinity(), round_mode::down) == std::numeric_limits<std::int64_t>::min());
  CHECK(to_int(std::nan(""), round_mode::half_away_from_zero) == 0);
}

TEST_CASE("right_shift_round of -3712 >> 8 (-14.5) and +3712 in every mode, spec §1.1") {
  CHECK(right_shift_round(-3712, 8, round_mode::half_up) == -14);
  CHECK(right_shift_round(-3712, 8, round_mode::half_away_from_zero) == -15);
  CHECK(right_shift_round(-3712, 8, round_mode::half_to_even) == -14);
  CHECK(right_shift_round(-3712, 8, round_mode::half_down) == -15);
  CHECK(right_shift_round(-3712, 8, round_mode::towards_zero) == -14);
  CHECK(right_shift_round(-3712, 8, round_mode::up) == -14);
  CHECK(right_shift_round(-3712, 8, round_mode::down) == -15);
  CHECK(right_shift_round(3712, 8, round_mode::half_up) == 15);
  CHECK(right_shift_round(3712, 8, round_mode::half_away_from_zero) == 15);
  CHECK(right_shift_round(3712, 8, round_mode::half_to_even) == 14);
  CHECK(right_shift_round(3712, 8, round_mode::half_down) == 14);
  CHECK(right_shift_round(3712, 8, round_mode::towards_zero) == 14);
  CHECK(right_shift_round(3712, 8, round_mode::up) == 15);
  CHECK(right_shift_round(3712, 8, round_mode::down) == 14);
  // -3600/256 = -14.06 and -3800/256 = -14.84: nearest for the half modes
  for (round_mode m : {round_mode::half_up, round_mode::half_away_from_zero, round_mode::half_to_even, round_mode::half_down}) {
    CHECK(right_shift_round(-3600, 8, m) == -14);
    CHECK(right_shift_round(-3800, 8, m) == -15);
  }
}

TEST_CASE("right_shift_round: n = 0 is identity, n < 0 shifts left, n > 63 counts as 63") {
  CHECK(right_shift_round(-77, 0, round_mode::half_up) == -77);
  CHECK(right_shift_round(5, -2, round_mode::half_up) == 20);
  CHECK(right_shift_round(-5, -3, round_mode::down) == -40);
  CHECK(right_shift_round(std::numeric_limits<std::int64_t>::min(), 100, round_mode::half_up) == -1);
  CHECK(right_shift_round(std::numeric_limits<std::int64_t>::min(), 63, round_mode::half_up) == -1);
  CHECK(right_shift_round(-1, 100, round_mode::half_up) == 0);
  CHECK(right_shift_round(-1, 100, round_mode::down) == -1);
  CHECK(right_shift_round(std::numeric_limits<std::int64_t>::max(), 63, round_mode::half_up) == 1);
  CHECK_THROWS_WITH(right_shift_round(1, -64, round_mode::half_up), Catch::Contains("left shift by 64"));
}

TEST_CASE("right_shift_round: HalfToOdd and HalfTowardsZero give the floor, as TPU-MLIR's fall-through does") {
  CHECK(right_shift_round(-3712, 8, round_mode::half_to_odd) == -15);
  CHECK(right_shift_round(3712 + 200, 8, round_mode::half_towards_zero) == 15);
}

TEST_CASE("saturation clamps to the storage range of each integer type") {
  CHECK(saturate<std::int8_t>(200) == 127);
  CHECK(saturate<std::int8_t>(-200) == -128);
  CHECK(saturate<std::uint8_t>(-1) == 0);
  CHECK(saturate<std::uint8_t>(256) == 255);
  CHECK(saturate<std::int16_t>(40000) == 32767);
  CHECK(saturate<std::uint16_t>(70000) == 65535);
  CHECK(saturate<std::int32_t>(std::int64_t{1} << 40) == std::numeric_limits<std::int32_t>::max());
  CHECK(saturate_bits(9, 4, true) == 7);
  CHECK(saturate_bits(-9, 4, true) == -8);
  CHECK(saturate_bits(16, 4, false) == 15);
  CHECK(to_int8(127.5) == 127);
  CHECK(to_int8(-127.5) == -128);
  CHECK(to_int8(-2.5) == -3);
  CHECK(to_int8(-2.5, round_mode::half_up) == -2);
  CHECK(to_uint8(-0.4) == 0);
  CHECK(to_uint8(254.5) == 255);
  CHECK(to_int4(6.5) == 7);
  CHECK(to_int4(-8.6) == -8);
  CHECK(to_uint4(14.5) == 15);
  CHECK(to_int16(-32768.6) == -32768);
  CHECK(to_uint16(65535.4) == 65535);
}

TEST_CASE("get_scale_and_shift keeps the first exact shift: 2^-8 -> (1, 8), 0.25 -> (1, 2)") {
  CHECK(get_scale_and_shift(1.f / 256, 32) == multiplier_shift{1, 8});
  CHECK(get_scale_and_shift(0.25f, 8) == multiplier_shift{1, 2});
  CHECK(get_scale_and_shift(0.25f, 32) == multiplier_shift{1, 2});
  CHECK(get_scale_and_shift(0.f, 32) == multiplier_shift{0, -32});
}

TEST_CASE("get_scale_and_shift with 8 bits: ties in the float error keep the earlier shift, |m| < 127") {
  CHECK(get_scale_and_shift(static_cast<float>(1.0 / 9), 8) == multiplier_shift{57, 9});
  CHECK(get_scale_and_shift_positive(static_cast<float>(1.0 / 9), 8) == multiplier_shift{57, 9});
  // 0.3: 77/256; 154/512 would break the 8-bit limit
  CHECK(get_scale_and_shift_positive(0.3f, 8) == multiplier_shift{77, 8});
  // MulConst may carry a negative multiplier
  CHECK(get_scale_and_shift(-0.3f, 8) == multiplier_shift{-77, 8});
}

TEST_CASE("get_scale_and_shift with 32 bits ends at shift 30 for a non-dyadic factor (spec §7.1 asym: 2959131, 30)") {
  const auto scale_w = static_cast<float>(0.7f / 127.f);
  const double factor = static_cast<double>(scale_w) * (4.0 / 255) / (8.0 / 255);
  CHECK(get_scale_and_shift(static_cast<float>(factor), 32) == multiplier_shift{2959131, 30});
}

TEST_CASE("get_scale_and_shift narrows the factor to float and shifts left for factors above 2^31") {
  // 1/3 narrowed to float is 11184811 * 2^-25 exactly: the search stops there, not at 30
  CHECK(get_scale_and_shift(static_cast<float>(1.0 / 3), 32) == multiplier_shift{11184811, 25});
  // 3e9 = 5859375 * 2^9: exact at shift -9 (left shift), below the int32 limit
  CHECK(get_scale_and_shift(3e9f, 32) == multiplier_shift{5859375, -9});
  CHECK_THROWS_WITH(get_scale_and_shift(std::numeric_limits<float>::infinity(), 32), Catch::Contains("not finite"));
}

TEST_CASE("get_scale_and_shift_positive: 0.5 -> (1, 1), 1.0 -> (1, 0), shifts never negative") {
  CHECK(get_scale_and_shift_positive(0.5f, 8) == multiplier_shift{1, 1});
  CHECK(get_scale_and_shift_positive(1.0f, 8) == multiplier_shift{1, 0});
  CHECK(get_scale_and_shift_positive(100.0f, 8) == multiplier_shift{100, 0});
  CHECK(get_scale_and_shift_positive(1000.0f, 32) == multiplier_shift{1000, 0});
}

TEST_CASE("get_scale_and_shift_positive rejects a factor no 8-bit multiplier reaches (TPU-MLIR's INT32_MIN)") {
  // every shift >= 0 needs m >= 176: only x86's INT32_MIN of an out-of-range (int) passes TPU-MLIR's test
  CHECK_THROWS_WITH(get_scale_and_shift_positive(176.f, 8), Catch::Contains("undefined") && Catch::Contains("below 127"));
  CHECK(get_scale_and_shift(176.f, 8) == multiplier_shift{11, -4});  // a left shift reaches it
}

TEST_CASE("quantize_multiplier normalises into 2^30 <= m < 2^31 and handles its edge cases") {
  CHECK(quantize_multiplier(1.0 / 256) == multiplier_shift{std::int64_t{1} << 30, -7});
  CHECK(quantize_multiplier(0.0) == multiplier_shift{0, 0});
  CHECK(quantize_multiplier(std::ldexp(1.0, -40)) == multiplier_shift{0, 0});
  CHECK(quantize_multiplier(std::ldexp(1.0, 40)) == multiplier_shift{(std::int64_t{1} << 31) - 1, 30});
  // q * 2^31 rounds up to 2^31: halved, exponent + 1
  CHECK(quantize_multiplier(1.0 - std::ldexp(1.0, -33)) == multiplier_shift{std::int64_t{1} << 30, 1});
  CHECK(quantize_multiplier(1.0 / 3) == multiplier_shift{1431655765, -1});
}

TEST_CASE("rshift_and_multiplier_from_qscale: QDM negates the shift, 8-bit mode truncates") {
  CHECK(rshift_and_multiplier_from_qscale(1.0 / 256, true) == multiplier_shift{std::int64_t{1} << 30, 7});
  CHECK(rshift_and_multiplier_from_qscale(2.0, true) == rshift_and_multiplier_from_qscale(0.999999, true));
  CHECK(rshift_and_multiplier_from_qscale(0.25, false) == multiplier_shift{64, 8});
  CHECK(rshift_and_multiplier_from_qscale(1.0 / 9, false) == multiplier_shift{113, 10});  // 113.78 truncated
  CHECK(rshift_and_multiplier_from_qscale(1.0 / 4, false, 255) == multiplier_shift{128, 9});
  CHECK(rshift_and_multiplier_from_qscale(300.0, false) == multiplier_shift{127, 0});
  CHECK(rshift_and_multiplier_from_qscale(1e-30, false) == multiplier_shift{0, 0});
}

TEST_CASE("multiplier_i8_from_qscale_and_rshift truncates and keeps the low byte") {
  CHECK(multiplier_i8_from_qscale_and_rshift(0.5, 7) == 64);
  CHECK(multiplier_i8_from_qscale_and_rshift(0.999, 7) == 127);
  CHECK(multiplier_i8_from_qscale_and_rshift(1.5, 7) == -64);  // 192 as int8
  CHECK_THROWS_WITH(multiplier_i8_from_qscale_and_rshift(-0.5, 7), Catch::Contains("negative coefficient"));
}

TEST_CASE("BM1684 shift searches: calRightShiftNum and calRightShiftNumUseCblas (spec §7.5)") {
  // 0.9921875 * (1/64) / (1/32) = 0.49609375 reaches 127 after 8 doublings -> 7
  CHECK(cal_right_shift_num(0.9921875f, 1.0 / 64, 1.0 / 32) == 7);
  CHECK(cal_right_shift_num(200.f, 1.0, 1.0) == -1);  // already >= 127
  CHECK(cal_right_shift_num(0.f, 1.0, 1.0) == 0);
  CHECK(cal_right_shift_num(1e-30f, 1.0, 1.0) == 31);
  CHECK(cal_right_shift_num_use_cblas(1.f, 1.0 / 64, 1.0 / 32) == 7);  // floor(log2 254)
  CHECK(cal_right_shift_num_use_cblas(1.f, 1.0 / 32, 1.0 / 32) == 6);  // floor(log2 127)
  CHECK(cal_right_shift_num_use_cblas(-1.f, 1.0 / 32, 1.0 / 32) == 6);
  CHECK(cal_right_shift_num_use_cblas(1e-12f, 1.0, 1.0) == 31);
  CHECK_THROWS_WITH(cal_right_shift_num_use_cblas(0.f, 1.0, 1.0), Catch::Contains("finite and > 0"));
}

TEST_CASE("BM1684 AvgPool reciprocal: k = 4, 9, 3, 7, 49 as the table, spec §1.3e") {
  CHECK(avgpool_reciprocal_bm1684(4) == multiplier_shift{1, 2});
  CHECK(avgpool_reciprocal_bm1684(9) == multiplier_shift{57, 9});
  CHECK(avgpool_reciprocal_bm1684(3) == multiplier_shift{171, 9});
  CHECK(avgpool_reciprocal_bm1684(7) == multiplier_shift{73, 9});
  CHECK(avgpool_reciprocal_bm1684(49) == multiplier_shift{167, 13});
  CHECK(avgpool_reciprocal_bm1684(1) == multiplier_shift{1, 0});
  CHECK_THROWS_WITH(avgpool_reciprocal_bm1684(226), Catch::Contains("1..225"));
  CHECK_THROWS(avgpool_reciprocal_bm1684(0));
}

TEST_CASE("BM1684 AvgPool reciprocal: all 225 entries equal the closed form bit_width(511 k) - 2") {
  // m(e) = floor(2^e/k + 1/2) <= 255  <=>  2^(e+1) < 511 k  (511 k is never a power of two), so
  // the largest e is bit_width(511 k) - 2; then every factor 2 of m is moved into e
  for (std::int64_t k = 1; k <= 225; ++k) {
    std::int64_t e = static_cast<std::int64_t>(std::bit_width(static_cast<std::uint64_t>(511 * k))) - 2;
    std::int64_t m = ((std::int64_t{1} << (e + 1)) + k) / (2 * k);
    REQUIRE(m <= 255);
    REQUIRE(((std::int64_t{1} << (e + 2)) + k) / (2 * k) > 255);
    const int twos = std::countr_zero(static_cast<std::uint64_t>(m));
    m >>= twos;
    e -= twos;
    INFO("k = " << k);
    CHECK(avgpool_reciprocal_bm1684(k) == multiplier_shift{m, e});
    // and the pair really approximates 1/k within the table's 8 bits
    CHECK(std::abs(static_cast<double>(m) / std::ldexp(1.0, static_cast<int>(e)) - 1.0 / static_cast<double>(k)) <=
          0.5 / 128 / static_cast<double>(k));
  }
}

TEST_CASE("multiply_by_quantized_multiplier: the Q31 step always rounds HalfUp, then the mode") {
  // 2^30 is 0.5 in Q31. 4576 -> 2288 -> 2288 / 128 = 17.875 -> 18
  CHECK(multiply_by_quantized_multiplier(4576, 1 << 30, -7, round_mode::half_away_from_zero) == 18);
  CHECK(multiply_by_quantized_multiplier(-3712, 1 << 30, -7, round_mode::half_away_from_zero) == -15);
  CHECK(multiply_by_quantized_multiplier(-3712, 1 << 30, -7, round_mode::half_up) == -14);
  // -3 * 0.5 = -1.5: the first rounding is HalfUp (-1), not the requested HalfAwayFromZero (-2)
  CHECK(multiply_by_quantized_multiplier(-3, 1 << 30, 0, round_mode::half_away_from_zero) == -1);
  // a positive shift is a left shift done in int32 (TPU-MLIR's int shift wraps)
  CHECK(multiply_by_quantized_multiplier(3, 1 << 30, 2, round_mode::half_up) == 6);
  CHECK(multiply_by_quantized_multiplier(1 << 30, 1 << 30, 2, round_mode::half_up) == 0);  // 2^32 wraps to 0
  // the Q31 product is clamped to int32 before the final shift
  CHECK(multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0, round_mode::half_up) == INT32_MAX);
  CHECK_THROWS(multiply_by_quantized_multiplier(1, 1, 32, round_mode::half_up));
}

TEST_CASE("apply_multiplier_and_rshift on the spec's bm1684x Conv/MatMul/AvgPool/Add numbers (§7.1-§7.4)") {
  using enum requant_mode;
  CHECK(apply_multiplier_and_rshift(2528 + 2048, 1, 8, multiplier_shift) == 18);
  CHECK(apply_multiplier_and_rshift(-3040 - 672, 1, 8, multiplier_shift) == -14);  // default HalfUp
  CHECK(apply_multiplier_and_rshift(-3040 - 672, 1, 8, multiplier_shift, round_mode::half_away_from_zero) == -15);
  CHECK(apply_multiplier_and_rshift(2776 + 1024, 1, 8, multiplier_shift) == 15);
  CHECK(apply_multiplier_and_rshift(-1664 - 512, 1, 8, multiplier_shift) == -8);
  CHECK(apply_multiplier_and_rshift(46, 1, 2, multiplier_shift) == 12);
  CHECK(apply_multiplier_and_rshift(-46, 1, 2, multiplier_shift) == -11);
  CHECK(apply_multiplier_and_rshift(47, 1, 2, multiplier_shift) == 12);
  CHECK(apply_multiplier_and_rshift(1143, 57, 9, multiplier_shift) == 127);
  CHECK(apply_multiplier_and_rshift(374, 57, 9, multiplier_shift) == 42);
  CHECK(apply_multiplier_and_rshift(37, 1, 1, multiplier_shift) + apply_multiplier_and_rshift(5, 1, 0, multiplier_shift) == 24);
  CHECK(apply_multiplier_and_rshift(-37, 1, 1, multiplier_shift) + 5 == -13);
  CHECK(apply_multiplier_and_rshift((1152 + 11607), 2959131, 30, multiplier_shift) - 64 == -29);
}

TEST_CASE("apply_multiplier_and_rshift on the spec's bm1684 and cv18xx numbers (§7.5, §7.6)") {
  using enum requant_mode;
  CHECK(apply_multiplier_and_rshift(1280 + 1024, 0, 7, only_shift) == 18);
  CHECK(apply_multiplier_and_rshift(-1536 - 336, 0, 7, only_shift) == -15);
  const auto cv = chip_family::cv18xx;
  CHECK(apply_multiplier_and_rshift(4576, 1 << 30, 7, qdm, round_mode::half_away_from_zero, cv) == 18);
  CHECK(apply_multiplier_and_rshift(-3712, 1 << 30, 7, qdm, round_mode::half_away_from_zero, cv) == -15);
  // BM168x QDM takes the shift as is (negative = right)
  CHECK(apply_multiplier_and_rshift(-3712, 1 << 30, -7, qdm, round_mode::half_away_from_zero) == -15);
  CHECK(apply_multiplier_and_rshift(4576, 1 << 30, -7, tflite) == 18);
  // cv18xx AvgPool and Add: single precision, then HalfUp
  CHECK(apply_multiplier_and_rshift(1143, 113, 10, multiplier_shift, round_mode::half_up, cv) == 126);
  CHECK(apply_multiplier_and_rshift(-46, 64, 8, multiplier_shift, round_mode::half_up, cv) == -11);
  CHECK(apply_multiplier_and_rshift(128, 1, 7, multiplier_shift, round_mode::half_up, cv) == 1);
  CHECK_THROWS_WITH(apply_multiplier_and_rshift(1, 1, 1, only_scale), Catch::Contains("OnlyScale"));
  CHECK_THROWS(apply_multiplier_and_rshift(1, 1, 32, multiplier_shift, round_mode::half_up, cv));
}

TEST_CASE("apply_multiplier_and_rshift on CV18xx multiplies in single precision") {
  // 16777217 is not a float: f32(v) = 2^24, so the product and the result lose the 1
  CHECK(apply_multiplier_and_rshift(16777217, 1, 0, requant_mode::multiplier_shift, round_mode::half_up, chip_family::cv18xx) ==
        16777216);
  CHECK(apply_multiplier_and_rshift(16777217, 1, 0, requant_mode::multiplier_shift) == 16777217);
  // 2^31 as an int is INT_MIN: TPU-MLIR's (1 << 31) divisor is negative, reproduced
  CHECK(apply_multiplier_and_rshift(std::int64_t{1} << 32, 1, 31, requant_mode::multiplier_shift, round_mode::half_up,
                                    chip_family::cv18xx) == -2);
}

TEST_CASE("BM168x quantize cast rounds the float product half away from zero, then adds zp (§7.7)") {
  const float r = cast_reciprocal(1.0 / 64);
  CHECK(r == 64.f);
  CHECK(quantize_bm168x<std::int8_t>(0.5078125f, r, 0) == 33);
  CHECK(quantize_bm168x<std::int8_t>(-0.5078125f, r, 0) == -33);
  CHECK(quantize_bm168x<std::int8_t>(3.f, r, 0) == 127);
  CHECK(quantize_bm168x<std::int8_t>(-3.f, r, 0) == -128);
  CHECK(quantize_bm168x<std::uint8_t>(-0.5f, r, 10) == 0);  // -32 + 10 saturates at 0
  CHECK(quantize_bm168x<std::uint8_t>(0.5f, r, 10) == 42);
  CHECK(quantize_bm168x<std::int8_t>(std::numeric_limits<float>::infinity(), r, 0) == 127);
  // the reciprocal is a float: 1/0.1 = 10 exactly in float, 0.25 * 10 = 2.5 -> 3
  CHECK(quantize_bm168x<std::int8_t>(0.25f, cast_reciprocal(0.1), 0) == 3);
}

TEST_CASE("BM168x quantize cast with an f16/bf16 expressed type rounds reciprocal and product first") {
  // 1/11 in f16 is 0.0908813...: 5.5 times it is 0.49985 -> f16 0.49976 -> 0, where f32 gives 0.5 -> 1
  const float r16 = cast_reciprocal(11.0, float_type::f16);
  CHECK(r16 == static_cast<float>(float16(static_cast<float>(1.0 / 11))));
  CHECK(r16 != cast_reciprocal(11.0));
  CHECK(quantize_bm168x<std::int8_t>(5.5f, r16, 0, float_type::f16) == 0);
  CHECK(quantize_bm168x<std::int8_t>(5.5f, cast_reciprocal(11.0), 0) == 1);
  // bf16 has 8 bits: 1/3 -> 0.333984375; 190 * that = 63.457 -> bf16 63.5 -> 64, where f32 gives 63
  const float rb = cast_reciprocal(3.0, float_type::bf16);
  CHECK(rb == 0.333984375f);
  CHECK(quantize_bm168x<std::int8_t>(190.f, rb, 0, float_type::bf16) == 64);
  CHECK(quantize_bm168x<std::int8_t>(190.f, cast_reciprocal(3.0), 0) == 63);
}

TEST_CASE("BM168x dequantize cast is f32(s) * (q - f32(zp)) in float") {
  CHECK(dequantize_bm168x(33, 1.0 / 64, 0) == 0.515625f);
  CHECK(dequantize_bm168x(-29, 8.0 / 255, -64) == static_cast<float>(8.0 / 255) * 35.f);
  CHECK(dequantize_bm168x(0, 0.1, 5) == static_cast<float>(0.1) * -5.f);
}

TEST_CASE("CV18xx bf16 rounding: the TPU form rounds to nearest even and clamps inf, the CPU form truncates") {
  const float x = std::bit_cast<float>(0x3F818000u);  // exactly halfway between two bf16 values, odd lsb
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16(x)) == 0x3F820000u);
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16(x, false)) == 0x3F810000u);
  const float y = std::bit_cast<float>(0x3F808000u);  // halfway, even lsb: stays
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16(y)) == 0x3F800000u);
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16(FLT_MAX)) == 0x7F7F0000u);
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16(std::numeric_limits<float>::infinity())) == 0x7F7F0000u);
}

TEST_CASE("CV18xx bf16 multiply flushes denormals and maps overflow to the largest finite value") {
  CHECK(cv18xx_bf16_mul(2.f, 3.f) == 6.f);
  CHECK(cv18xx_bf16_mul(1.00390625f, 1.00390625f) == cv18xx_bf16(1.00390625f * 1.00390625f));
  CHECK(cv18xx_bf16_mul(1e-39f, 1e10f) == 0.f);  // a denormal operand counts as 0
  CHECK(cv18xx_bf16_mul(1e-30f, 1e-15f) == 0.f);  // a denormal product too
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16_mul(1e30f, 1e30f)) == 0x7F7F0000u);
  CHECK(std::bit_cast<std::uint32_t>(cv18xx_bf16_mul(-1e30f, 1e30f)) == 0x7F7F0000u);  // the chip's sign, not IEEE's
}

TEST_CASE("CV18xx quantize cast: bf16 arithmetic and HalfToEven, so 32.5 -> 32 where bm1684x gives 33") {
  CHECK(quantize_cv18xx(0.5078125f, 1.0 / 64) == 32);
  CHECK(quantize_cv18xx(-0.5078125f, 1.0 / 64) == -32);
  CHECK(quantize_cv18xx(0.5234375f, 1.0 / 64) == 34);  // 33.5 -> even 34
  CHECK(quantize_cv18xx(5.f, 1.0 / 64) == 127);
  // x is truncated to bf16 before the multiply: 1.5146484375 (96.94 steps) becomes 1.5078125 (96.5)
  CHECK(quantize_cv18xx(1.5146484375f, 1.0 / 64) == 96);
  CHECK(quantize_cv18xx_input(1.5146484375f, 1.0 / 64) == 97);
  // the graph input's quantize is the plain float one, half away from zero
  CHECK(quantize_cv18xx_input(0.5078125f, 1.0 / 64) == 33);
  CHECK(quantize_cv18xx_input(-0.5078125f, 1.0 / 64) == -33);
}

TEST_CASE("CV18xx dequantize cast: bf16 product on the TPU, float product on the CPU") {
  CHECK(dequantize_cv18xx(100, 1.0 / 64) == 1.5625f);
  // s = 0.1 rounds to bf16 0.10009765625 first; 127 * that = 12.712 -> bf16 12.6875
  CHECK(dequantize_cv18xx(127, 0.1) == 12.6875f);
  CHECK(dequantize_cv18xx(127, 0.1, false) == 127.f * 0.1f);
}
