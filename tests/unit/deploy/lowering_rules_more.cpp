// INT8 rules added after the first set (lowering_rules.cpp): bm1684x/bm1688 per-channel MatMul
// (`--matmul_perchannel`, lowering_spec §4.2), bm1684x Clip (F16 as TPU-MLIR), and Mul, Concat and
// LeakyRelu on BM1684 (§5) and CV18xx (§6). Multipliers and shifts are worked out here from the
// spec's formulas; integer outputs are checked against a scalar version of the interpreter formula
// written here; dequantized outputs against FP32. The area builds as one translation unit with
// lowering_rules.cpp: everything here lives in its own namespace, the test cases included.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/import_calibration.hpp"

#include "rule_harness.hpp"

namespace lowering_rules_more_test {

using namespace mixq;
using namespace rule_harness;

inline lowered lower_perchannel(const net& n, const std::string& chip) { return lower(n, chip, false, false, true); }

// ================================================================ bm1684x/bm1688 per-channel MatMul

TEST_CASE("bm1684x --matmul_perchannel: one scale per column, multipliers brought to the common shift 29") {
  net n;
  const int x = n.input("x", {2, 3}, -4, 4);
  // column maxima 1, 0.9921875, 0.25 -> scales max/127
  const int w = n.weight("w", {3, 3}, {1.0f, -0.5f, 0.1f, -0.25f, 0.9921875f, -0.25f, 0.375f, 0.25f, 0.0625f});
  n.output(n.op<top::matmul_op>({x, w, n.none}, {2, 3}, "mm", -8, 8));
  const lowered l = lower_perchannel(n, "bm1684x");
  const node* m = find_op(l.low, "tpu.MatMul");
  REQUIRE(m);
  // f_n = f32((4/127)(max_n/127)/(8/127)) = f32(max_n/254): f32(1/254) = 2113665 2^-29 exactly;
  // 0.9921875/254 = 2^-8 -> (1, 8); f32(0.25/254) = 16513 2^-24 exactly. Common shift 29:
  // 1 << 21 = 2097152, 16513 << 5 = 528416.
  CHECK(ints_attr_of(*m, "rshifts") == std::vector<std::int64_t>{29, 29, 29});
  CHECK(ints_attr_of(*m, "multipliers") == std::vector<std::int64_t>{2113665, 2097152, 528416});
  CHECK(bool_attr_of(*m, "fuse_rq"));
  CHECK(bool_attr_of(*m, "matmulPerchannelQuant"));
  const tensor& multi = l.low.weights.at("mm_multi_int32");
  CHECK(multi.shape() == shape_t{1, 3});
  CHECK(ints(multi) == std::vector<std::int64_t>{2113665, 2097152, 528416});
  // W_q = to_int8(w 127 / max_n), per column: 0.375 127 = 47.6, -0.5 128 = -64, f32(0.1) 508 = 50.8
  CHECK(ints(l.low.weights.at("mm_filter_int8")) == std::vector<std::int64_t>{127, -64, 51, -32, 127, -127, 48, 32, 32});
  const std::int64_t mult[3] = {2113665, 2097152, 528416};
  check_ints(l, "tpu.MatMul", -4, 4, [&](const op_ints& o, std::size_t e) {
    const std::size_t i = e / 3, j = e % 3;
    std::int64_t acc = 0;
    for (std::size_t k = 0; k < 3; ++k) acc += o.in[0][i * 3 + k] * o.in[1][k * 3 + j];
    return sat8(rsr_up(acc * mult[j], 29));
  });
}

TEST_CASE("bm1684x --matmul_perchannel: a multiplier above 2^31 at shift limit 32 sends the search to 8-bit multipliers") {
  net n;
  const int x = n.input("x", {1, 2}, -4, 4);
  const int w = n.weight("w", {2, 2}, {1.0f, 0.001f, -0.5f, -0.0005f});
  // s_out = th/127 with th = 4/(127 5): f_0 = 5 -> (5, 0), f_1 = f32(5 f32(0.001)) -> (2684355, 29);
  // 5 << 29 > 2^31. At limit 31 (multipliers below 127): (5, 0) and (41, 13) -> 40960, 41, shift 13.
  // Column 1's scale f32(0.001)/127 is below 1e-5: no floor applies (only an all-zero column gets one).
  n.output(n.op<top::matmul_op>({x, w, n.none}, {1, 2}, "mm", -4.0 / (127 * 5), 4.0 / (127 * 5)));
  const lowered l = lower_perchannel(n, "bm1684x");
  const node* m = find_op(l.low, "tpu.MatMul");
  REQUIRE(m);
  CHECK(ints_attr_of(*m, "rshifts") == std::vector<std::int64_t>{13, 13});
  CHECK(ints(l.low.weights.at("mm_multi_int32")) == std::vector<std::int64_t>{40960, 41});
}

TEST_CASE("bm1688 --matmul_perchannel with bias and right_transpose: integers as the formula, cosine > 0.99") {
  const std::int64_t K = 16, N = 8;
  net n;
  const int x = n.input("x", {4, K}, -2, 2);
  std::vector<float> wv = random_values(static_cast<std::size_t>(K * N), -1, 1, 5);
  for (std::int64_t col = 0; col < N; ++col)  // columns of very different ranges, where per-channel pays
    for (std::int64_t k = 0; k < K; ++k) wv[static_cast<std::size_t>(col * K + k)] *= std::ldexp(1.f, -static_cast<int>(col));
  const int w = n.weight("w", {N, K}, wv);
  const int b = n.weight("b", {N}, random_values(static_cast<std::size_t>(N), -0.5f, 0.5f, 6));
  top::matmul_op::attributes a;
  a.right_transpose = true;
  n.output(n.op<top::matmul_op>({x, w, b}, {4, N}, "mm", -6, 6, a));
  const lowered l = lower_perchannel(n, "bm1688");
  const node* m = find_op(l.low, "tpu.MatMul");
  REQUIRE(m);
  const auto mult = ints(l.low.weights.at("mm_multi_int32"));
  const std::int64_t r = ints_attr_of(*m, "rshifts")[0];
  // scale_n = max_k |W[n, k]| / 127: the largest weight of every row quantizes to +-127
  const auto wq = ints(l.low.weights.at("mm_filter_int8"));
  for (std::int64_t col = 0; col < N; ++col) {
    std::int64_t mx = 0;
    for (std::int64_t k = 0; k < K; ++k) mx = std::max(mx, std::abs(wq[static_cast<std::size_t>(col * K + k)]));
    CHECK(mx == 127);
  }
  check_ints(l, "tpu.MatMul", -2, 2, [&](const op_ints& o, std::size_t e) {
    const std::size_t i = e / N, j = e % N;
    std::int64_t acc = o.in[2][j];
    for (std::size_t k = 0; k < static_cast<std::size_t>(K); ++k) acc += o.in[0][i * K + k] * o.in[1][j * K + k];
    return sat8(rsr_up(acc * mult[j], static_cast<int>(r)));
  });
  CHECK(worst_cosine(l, -2, 2) > 0.99);
}

TEST_CASE("per-channel MatMul (--matmul_perchannel) is refused on processors other than bm1684x and bm1688") {
  net n;
  const int x = n.input("x", {1, 2}, -4, 4);
  const int w = n.weight("w", {2, 2}, {1.0f, 0.5f, -0.5f, 0.25f});
  n.output(n.op<top::matmul_op>({x, w, n.none}, {1, 2}, "mm", -4, 4));
  for (const char* chip : {"bm1690", "cv186x", "bm1684", "cv183x"}) CHECK_THROWS_WITH(lower_perchannel(n, chip), Catch::Contains("bm1684x/bm1688"));
  const lowered l = lower(n, "bm1684x", false);
  const node* m = find_op(l.low, "tpu.MatMul");
  REQUIRE(m);
  CHECK(m->attrs.find("fuse_rq") == nullptr);
}

// ================================================================================ bm1684x Clip

TEST_CASE("bm1684x Clip in INT8 is lowered to F16, as TPU-MLIR's LoweringINT8 does") {
  net n;
  const int x = n.input("x", {1, 8}, -4, 4);
  top::clip_op::attributes a;
  a.min = -1.0;
  a.max = 2.0;
  n.output(n.op<top::clip_op>({x}, {1, 8}, "clip", -1, 2, a));
  const lowered l = lower(n, "bm1684x");
  CHECK(in_mode(l.report, "F16") == 1);
  CHECK(has_note(l.report, "Clip has no INT8 form in TPU-MLIR"));
  CHECK(worst_cosine(l, -4, 4) > 0.99);
}

// ================================================================================ bm1684x PRelu


TEST_CASE("bm1684x PRelu: shift 7 from max slope 0.5, int8 slopes 32, 12, 64 truncated, negatives requantized per channel") {
  net n;
  const int x = n.input("x", {1, 3, 4}, -4, 4);
  const int s = n.weight("slope", {3}, {0.25f, 0.1f, 0.5f});
  n.output(n.op<top::prelu_op>({x, s}, {1, 3, 4}, "prelu", -4, 4));
  const lowered l = lower(n, "bm1684x");
  const node* m = find_op(l.low, "tpu.PRelu");
  REQUIRE(m);
  // the smallest r with 0.5 2^(r+1) >= 127 is 7; slopes (uint32)(s 128): 32, 12.8 -> 12, 64
  CHECK(int_attr_of(*m, "rshift") == 7);
  const tensor& sq = l.low.weights.at("prelu_slope_i8");
  CHECK(sq.elem() == dtype::i8);
  CHECK(ints(sq) == std::vector<std::int64_t>{32, 12, 64});
  const std::int64_t slope_i8[3] = {32, 12, 64};
  check_ints(l, "tpu.PRelu", -4, 4, [&](const op_ints& o, std::size_t e) {
    const std::int64_t v = o.in[0][e];
    return v >= 0 ? v : sat8(rsr_up(v * slope_i8[(e / 4) % 3], 7));
  });
  CHECK(worst_cosine(l, -4, 4) > 0.99);
}

TEST_CASE("bm1684x PRelu falls back: asymmetric -> F16 (tpu.PRelu in f16), a negative slope or different scales -> float, noted") {
  net n;
  const int x = n.input("x", {1, 2, 4}, -4, 4);
  const int s = n.weight("slope", {2}, {0.25f, 0.5f});
  n.output(n.op<top::prelu_op>({x, s}, {1, 2, 4}, "prelu", -4, 4));
  const lowered a = lower(n, "bm1684x", true);
  CHECK(in_mode(a.report, "F16") == 1);
  const node* f = find_op(a.low, "tpu.PRelu");
  REQUIRE(f);
  CHECK(a.low.values[static_cast<std::size_t>(f->results[0])].type.elem == dtype::f16);
  CHECK(worst_cosine(a, -4, 4) > 0.999);

  net neg;
  const int x2 = neg.input("x", {1, 2, 4}, -4, 4);
  const int s2 = neg.weight("slope", {2}, {-0.25f, 0.5f});
  neg.output(neg.op<top::prelu_op>({x2, s2}, {1, 2, 4}, "prelu", -4, 4));
  CHECK(has_note(lower(neg, "bm1684x").report, "negative slope"));

  net other;
  const int x3 = other.input("x", {1, 2, 4}, -4, 4);
  const int s3 = other.weight("slope", {2}, {0.25f, 0.5f});
  other.output(other.op<top::prelu_op>({x3, s3}, {1, 2, 4}, "prelu", -2, 2));
  CHECK(has_note(lower(other, "bm1684x").report, "input and output types differ"));
}

// ====================================================================================== bm1684

TEST_CASE("bm1684 LeakyRelu: get_scale_and_shift(f32(0.1), 8) = (51, 9), no alpha attribute, positives kept") {
  net n;
  const int x = n.input("x", {1, 2, 6}, -4, 4);
  top::leaky_relu_op::attributes a;
  a.alpha = 0.1;
  n.output(n.op<top::leaky_relu_op>({x}, {1, 2, 6}, "lrelu", -4, 4, a));
  const lowered l = lower(n, "bm1684");
  const node* m = find_op(l.low, "tpu.LeakyRelu");
  REQUIRE(m);
  CHECK(int_attr_of(*m, "multiplier") == 51);
  CHECK(int_attr_of(*m, "rshift") == 9);
  CHECK(m->attrs.find("alpha") == nullptr);
  check_ints(l, "tpu.LeakyRelu", -4, 4, [](const op_ints& o, std::size_t e) {
    const std::int64_t v = o.in[0][e];
    return v >= 0 ? v : sat8(rsr_up(v * 51, 9));
  });
  CHECK(worst_cosine(l, -4, 4) > 0.99);
}

TEST_CASE("bm1684 Concat: an input of another scale goes through tpu.MulShift (3, 2), only_merge false") {
  net n;
  const int a = n.input("a", {1, 2, 3}, -4, 4), b = n.input("b", {1, 3, 3}, -3, 3);
  top::concat_op::attributes at;
  at.axis = 1;
  n.output(n.op<top::concat_op>({a, b}, {1, 5, 3}, "cat", -4, 4, at));
  const lowered l = lower(n, "bm1684");
  const node* c = find_op(l.low, "tpu.Concat");
  REQUIRE(c);
  CHECK_FALSE(bool_attr_of(*c, "only_merge"));
  const node* m = find_op(l.low, "tpu.MulShift");
  REQUIRE(m);
  // get_scale_and_shift_positive(f32(3/4), 8) = (3, 2)
  CHECK(int_attr_of(*m, "multiplier") == 3);
  CHECK(int_attr_of(*m, "rshift") == 2);
  std::mt19937 gen(11);
  for (int k = 0; k < 3; ++k) {
    const run_result r = run_all(l.low, random_inputs(l.top, gen, -3, 3));
    const op_ints cat = ints_of(l.low, r, "tpu.Concat");
    const op_ints s = ints_of(l.low, r, "tpu.MulShift");
    std::vector<std::int64_t> want(cat.in[0].begin(), cat.in[0].end());
    for (std::int64_t v : s.in[0]) want.push_back(sat8(rsr_up(v * 3, 2)));
    CHECK(cat.out == want);
  }
  CHECK(worst_cosine(l, -3, 3) > 0.99);
}

TEST_CASE("bm1684 Concat with a weight input falls back to F32") {
  net n;
  const int a = n.input("a", {1, 2}, -4, 4);
  const int w = n.weight("w", {1, 2}, {0.5f, -1.0f});
  top::concat_op::attributes at;
  at.axis = 1;
  n.output(n.op<top::concat_op>({a, w}, {1, 4}, "cat", -4, 4, at));
  const lowered l = lower(n, "bm1684");
  CHECK(in_mode(l.report, "F32") == 1);
}

TEST_CASE("bm1684 Mul of two activations: get_scale_and_shift(f32(1/127), 8) = (65, 13), one requant of the product") {
  net n;
  const int x = n.input("x", {1, 8}, -4, 4), y = n.input("y", {1, 8}, -2, 2);
  n.output(n.op<top::mul_op>({x, y}, {1, 8}, "mul", -8, 8));
  const lowered l = lower(n, "bm1684");
  const node* m = find_op(l.low, "tpu.Mul");
  REQUIRE(m);
  // (4/127)(2/127)/(8/127) = 1/127: 65/8192 = 0.0079346 is the closest below 127
  CHECK(int_attr_of(*m, "multiplier") == 65);
  CHECK(int_attr_of(*m, "rshift") == 13);
  check_ints(l, "tpu.Mul", -2, 2, [](const op_ints& o, std::size_t e) { return sat8(rsr_up(o.in[0][e] * o.in[1][e] * 65, 13)); });
  CHECK(worst_cosine(l, -2, 2) > 0.99);
}

TEST_CASE("bm1684 Mul whose factor needs a left shift falls back to F32 (TPU-MLIR would clamp the shift to 0)") {
  net n;
  const int x = n.input("x", {1, 4}, -4, 4), y = n.input("y", {1, 4}, -2, 2);
  // factor (4/127)(2/127)/(0.0004/127) = 157.48: the best 8-bit form is (79, -1)
  n.output(n.op<top::mul_op>({x, y}, {1, 4}, "mul", -0.0004, 0.0004));
  const lowered l = lower(n, "bm1684");
  CHECK(in_mode(l.report, "F32") == 1);
  CHECK(has_note(l.report, "shift outside [0, 31]"));
}

// ====================================================================================== cv18xx

TEST_CASE("cv183x Mul: QDM multiplier 1082196484 rshift 6 from 1/127, rounded half away from zero after the 2^31 step") {
  net n;
  const int x = n.input("x", {1, 8}, -4, 4), y = n.input("y", {1, 8}, -2, 2);
  n.output(n.op<top::mul_op>({x, y}, {1, 8}, "mul", -8, 8));
  const lowered l = lower(n, "cv183x");
  const node* m = find_op(l.low, "tpu.Mul");
  REQUIRE(m);
  // frexp(1/127) = 0.503937 2^-6: m = round(0.503937 2^31) = 1082196484, rshift 6
  CHECK(int_attr_of(*m, "multiplier") == 1082196484);
  CHECK(int_attr_of(*m, "rshift") == 6);
  check_ints(l, "tpu.Mul", -2, 2, [](const op_ints& o, std::size_t e) {
    const std::int64_t t = std::clamp<std::int64_t>(rsr_up(o.in[0][e] * o.in[1][e] * 1082196484, 31), INT32_MIN, INT32_MAX);
    return sat8(rsr_away(t, 6));
  });
  CHECK(worst_cosine(l, -2, 2) > 0.99);
}

TEST_CASE("cv183x Mul with a weight first: quantized signed by its abs max / 127, a weight second -> BF16") {
  net n;
  const int x = n.input("x", {1, 4}, -4, 4);
  const int w = n.weight("w", {1, 4}, {0.375f, 1.0f, 0.25f, 0.75f});
  n.output(n.op<top::mul_op>({w, x}, {1, 4}, "mul", -4, 4));
  const lowered l = lower(n, "cv183x");
  const node* m = find_op(l.low, "tpu.Mul");
  REQUIRE(m);
  // signed even for a positive weight (CV18xx): to_int8(w / f32(1/127)): 47.6, 127, 31.75, 95.25
  CHECK(ints(l.low.weights.at("w_i8")) == std::vector<std::int64_t>{48, 127, 32, 95});
  CHECK(worst_cosine(l, -4, 4) > 0.99);
  net r;
  const int x2 = r.input("x", {1, 4}, -4, 4);
  const int w2 = r.weight("w", {1, 4}, {0.375f, 1.0f, 0.25f, 0.75f});
  r.output(r.op<top::mul_op>({x2, w2}, {1, 4}, "mul", -4, 4));
  const lowered b = lower(r, "cv183x");
  CHECK(in_mode(b.report, "BF16") == 1);
  CHECK(has_note(b.report, "second operand is a weight"));
}

TEST_CASE("cv183x Concat: per-input multipliers/rshifts, th 2 into th 4 -> (64, 7), an equal threshold (1, 0)") {
  net n;
  const int a = n.input("a", {1, 2, 3}, -4, 4), b = n.input("b", {1, 3, 3}, -2, 2);
  top::concat_op::attributes at;
  at.axis = 1;
  n.output(n.op<top::concat_op>({a, b}, {1, 5, 3}, "cat", -4, 4, at));
  const lowered l = lower(n, "cv183x");
  const node* c = find_op(l.low, "tpu.Concat");
  REQUIRE(c);
  // 0.5: the smallest r with 0.5 2^(r+1) >= 127 is 7, m = (int)(0.5 2^7) = 64
  CHECK(ints_attr_of(*c, "multipliers") == std::vector<std::int64_t>{1, 64});
  CHECK(ints_attr_of(*c, "rshifts") == std::vector<std::int64_t>{0, 7});
  CHECK(count_ops(l.low, "tpu.MulShift") == 0);
  std::mt19937 gen(13);
  for (int k = 0; k < 3; ++k) {
    const run_result r = run_all(l.low, random_inputs(l.top, gen, -2, 2));
    const op_ints o = ints_of(l.low, r, "tpu.Concat");
    std::vector<std::int64_t> want(o.in[0].begin(), o.in[0].end());
    for (std::int64_t v : o.in[1]) want.push_back(sat8(cv_mul_shift(v, 64, 7)));
    CHECK(o.out == want);
  }
  CHECK(worst_cosine(l, -2, 2) > 0.99);
}

TEST_CASE("cv183x LeakyRelu, thresholds 4 -> 8: positive (64, 7) from 0.5, negative (102, 11) from f32(0.05)") {
  net n;
  const int x = n.input("x", {1, 2, 6}, -4, 4);
  top::leaky_relu_op::attributes a;
  a.alpha = 0.1;
  n.output(n.op<top::leaky_relu_op>({x}, {1, 2, 6}, "lrelu", -8, 8, a));
  const lowered l = lower(n, "cv183x");
  const node* m = find_op(l.low, "tpu.LeakyRelu");
  REQUIRE(m);
  // 0.5 2^(r+1) >= 127 -> r = 7, m = 64; f32(0.05) 2^(r+1) >= 127 -> r = 11, m = (int)(0.05 2048) = 102
  CHECK(int_attr_of(*m, "multiplier") == 64);
  CHECK(int_attr_of(*m, "rshift") == 7);
  CHECK(int_attr_of(*m, "multiplier_neg") == 102);
  CHECK(int_attr_of(*m, "rshift_neg") == 11);
  check_ints(l, "tpu.LeakyRelu", -4, 4, [](const op_ints& o, std::size_t e) {
    const std::int64_t v = o.in[0][e];
    return sat8(v >= 0 ? cv_mul_shift(v, 64, 7) : cv_mul_shift(v, 102, 11));
  });
  CHECK(worst_cosine(l, -4, 4) > 0.99);
}

TEST_CASE("cv183x LeakyRelu with equal thresholds: positives kept (1, 0), negatives (102, 10) from f32(0.1)") {
  net n;
  const int x = n.input("x", {1, 2, 6}, -4, 4);
  top::leaky_relu_op::attributes a;
  a.alpha = 0.1;
  n.output(n.op<top::leaky_relu_op>({x}, {1, 2, 6}, "lrelu", -4, 4, a));
  const lowered l = lower(n, "cv183x");
  const node* m = find_op(l.low, "tpu.LeakyRelu");
  REQUIRE(m);
  CHECK(int_attr_of(*m, "multiplier") == 1);
  CHECK(int_attr_of(*m, "rshift") == 0);
  CHECK(int_attr_of(*m, "multiplier_neg") == 102);
  CHECK(int_attr_of(*m, "rshift_neg") == 10);
  check_ints(l, "tpu.LeakyRelu", -4, 4, [](const op_ints& o, std::size_t e) {
    const std::int64_t v = o.in[0][e];
    return sat8(v >= 0 ? v : cv_mul_shift(v, 102, 10));
  });
  CHECK(worst_cosine(l, -4, 4) > 0.99);
}

TEST_CASE("cv183x LeakyRelu with a negative alpha falls back to BF16") {
  net n;
  const int x = n.input("x", {1, 4}, -4, 4);
  top::leaky_relu_op::attributes a;
  a.alpha = -0.2;
  n.output(n.op<top::leaky_relu_op>({x}, {1, 4}, "lrelu", -4, 4, a));
  const lowered l = lower(n, "cv183x");
  CHECK(in_mode(l.report, "BF16") == 1);
  CHECK(has_note(l.report, "negative alpha"));
}

}  // namespace lowering_rules_more_test
