// Weight-only modes (W8F16/W4F16...) and --quant_input/--quant_output: the weight quantization
// against hand-computed values and a plain scalar reference written here from the formulas
// (TPU-MLIR's A16MatMulAdjust), the lowering to tpu.A16MatMul, the runner's dequantize-then-f16
// matmul against a scalar dequantized matmul, and the I/O cast stripping.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/weight_only.hpp"
#include "mixq/targets/lowering.hpp"

using namespace mixq;

namespace weight_only_tests {

std::vector<float> random_values(std::size_t n, unsigned seed, float sd = 0.5f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& e : v) e = d(gen);
  return v;
}

/// Scalar reference of the per-row 8-bit rule: scale = absmax/127, q = round(w/scale).
void reference_w8_rows(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, std::vector<float>& scale, std::vector<int>& q) {
  scale.assign(static_cast<std::size_t>(rows), 0.f);
  q.assign(w.size(), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (std::int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w[static_cast<std::size_t>(r * cols + c)]));
    scale[static_cast<std::size_t>(r)] = amax / 127.f;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float t = std::round(w[static_cast<std::size_t>(r * cols + c)] / scale[static_cast<std::size_t>(r)]);
      q[static_cast<std::size_t>(r * cols + c)] = static_cast<int>(std::clamp(t, -128.f, 127.f));
    }
  }
}

/// x [M, K] -> MatMul(W [K, N] or [N, K] with right_transpose, bias [N], relu?) -> y.
graph mlp(std::int64_t M, std::int64_t K, std::int64_t N, bool right_transpose, bool relu, unsigned seed) {
  graph g;
  g.name = "wo_mlp";
  g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = g.add_argument({dtype::f32, {M, K}});
  const int x = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, {M, K}}}, {"x"}))].results[0];
  const shape_t ws = right_transpose ? shape_t{N, K} : shape_t{K, N};
  g.weights["w"] = tensor::from_vector<float>(ws, random_values(static_cast<std::size_t>(K * N), seed, 1.f / std::sqrt(static_cast<float>(K))));
  g.weights["b"] = tensor::from_vector<float>({N}, random_values(static_cast<std::size_t>(N), seed + 1, 0.1f));
  const int w = g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::f32, ws}}, {"w"}))].results[0];
  const int b = g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::f32, {N}}}, {"b"}))].results[0];
  top::matmul_op::attributes a;
  a.right_transpose = right_transpose;
  a.do_relu = relu;
  const int y = g.nodes[static_cast<std::size_t>(g.add<top::matmul_op>({x, w, b}, {{dtype::f32, {M, N}}}, {"fc"}, a))].results[0];
  g.outputs = {y};
  return g;
}

graph lower(const graph& top, targets::quant_mode mode, const char* chip, targets::lowering_report& rep, std::int64_t group = 64,
            bool symmetric = false) {
  targets::deploy_options opt;
  opt.mode = mode;
  opt.chip = &targets::find_processor(chip);
  opt.q_group_size = group;
  opt.q_symmetric = symmetric;
  return targets::lower_to_tpu(top, opt, rep);
}

const node* find_op(const graph& g, std::string_view mnemonic) {
  for (const auto& n : g.nodes)
    if (n.mnemonic() == mnemonic) return &n;
  return nullptr;
}

float f16_round(float v) { return tensor::from_vector<float>({1}, {v}).cast(dtype::f16).cast(dtype::f32).data<float>()[0]; }

/// The chip's W*F16 arithmetic, scalar: x and the bias rounded to f16, each weight dequantized
/// with the f16 scale and rounded to f16, the dot product, the result rounded to f16.
std::vector<float> reference_a16(const std::vector<float>& x, std::int64_t M, const quant::weight_only_weights& q, std::span<const float> bias,
                                 bool relu) {
  std::vector<float> s16(q.scale.size());
  for (std::size_t i = 0; i < s16.size(); ++i) s16[i] = f16_round(q.scale[i]);
  std::vector<float> y(static_cast<std::size_t>(M * q.rows));
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < q.rows; ++n) {
      double acc = f16_round(bias[static_cast<std::size_t>(n)]);
      for (std::int64_t k = 0; k < q.cols; ++k)
        acc += static_cast<double>(f16_round(x[static_cast<std::size_t>(m * q.cols + k)])) * f16_round(q.dequantized(n, k, s16));
      if (relu) acc = std::max(acc, 0.0);
      y[static_cast<std::size_t>(m * q.rows + n)] = f16_round(static_cast<float>(acc));
    }
  return y;
}

/// The TOP weight as [N, K] rows.
std::vector<float> rows_of(const graph& g, bool right_transpose, std::int64_t K, std::int64_t N) {
  const tensor& w = g.weights.at("w");
  std::vector<float> r(static_cast<std::size_t>(N * K));
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < K; ++k) r[static_cast<std::size_t>(n * K + k)] = w.data<float>()[right_transpose ? n * K + k : k * N + n];
  return r;
}

tensor run_one(const graph& g, const tensor& x) {
  interpreter run(g);
  const auto res = run.run({{"x", x}});
  const tensor& y = res.values[static_cast<std::size_t>(g.outputs[0])];
  return y.elem() == dtype::f32 ? y : y.cast(dtype::f32);
}

// The cases are in the namespace too: the area is one unity translation unit, and other files
// have helpers of the same names.

TEST_CASE("weight-only W8 per channel: absmax/127 scales and int8 values as the scalar rule", "[deploy][weight_only]") {
  const std::int64_t rows = 5, cols = 24;
  const auto w = random_values(static_cast<std::size_t>(rows * cols), 3);
  const auto q = quant::quantize_weight_only(w, rows, cols, {8, 0, false});
  std::vector<float> scale;
  std::vector<int> ref;
  reference_w8_rows(w, rows, cols, scale, ref);
  CHECK(q.sign);
  CHECK(q.signed_storage);
  CHECK(q.groups() == 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    CHECK(q.scale[static_cast<std::size_t>(r)] == scale[static_cast<std::size_t>(r)]);
    CHECK(q.zp[static_cast<std::size_t>(r)] == 0);
    for (std::int64_t c = 0; c < cols; ++c) CHECK(q.stored(r, c) == ref[static_cast<std::size_t>(r * cols + c)]);
  }
  // Hand-checked: the row's abs max maps to +-127.
  const std::vector<float> one{2.f, -2.f, 1.f, 0.f};
  const auto h = quant::quantize_weight_only(one, 1, 4, {8, 0, false});
  CHECK(h.stored(0, 0) == 127);
  CHECK(h.stored(0, 1) == -127);
  CHECK(h.stored(0, 3) == 0);
  CHECK(h.scale[0] == 2.f / 127.f);
}

TEST_CASE("weight-only W8 per channel: an all-positive weight is uint8 over absmax/255", "[deploy][weight_only]") {
  const std::vector<float> w{0.5f, 1.f, 2.f, 0.25f};
  const auto q = quant::quantize_weight_only(w, 1, 4, {8, 0, false});
  CHECK_FALSE(q.sign);
  CHECK_FALSE(q.signed_storage);
  CHECK(q.scale[0] == 2.f / 255.f);
  CHECK(q.stored(0, 2) == 255);
  CHECK(q.stored(0, 1) == static_cast<int>(std::round(1.f / (2.f / 255.f))));
}

TEST_CASE("weight-only W4 per group, asymmetric: (max-min)/15 scales, zero points, two nibbles per byte low first", "[deploy][weight_only]") {
  // Group 0: min -0.3, max 1.2 -> scale 0.1, zp 3, q = {0, 3, 9, 15}. Group 1: all >= 0.
  const std::vector<float> w{-0.3f, 0.f, 0.6f, 1.2f, 0.f, 0.5f, 1.0f, 1.5f};
  const auto q = quant::quantize_weight_only(w, 1, 8, {4, 4, false});
  REQUIRE(q.groups() == 2);
  CHECK(q.scale[0] == 1.5f / 15.f);
  CHECK(q.zp[0] == 3);
  CHECK(q.zp[1] == 0);
  REQUIRE(q.data.size() == 4);
  CHECK(q.data[0] == 0x30);  // q0 = 0 (low), q1 = 3 (high)
  CHECK(q.data[1] == 0xF9);  // q2 = 9, q3 = 15
  CHECK((q.data[3] >> 4) == 15);
  // Dequantized within half a step.
  for (int c = 0; c < 8; ++c) CHECK(std::fabs(q.dequantized(0, c, q.scale) - w[static_cast<std::size_t>(c)]) <= q.scale[static_cast<std::size_t>(c / 4)] / 2 + 1e-6f);
}

TEST_CASE("weight-only W4 per group, symmetric: 2 absmax/15 with zero point 8 (the top clips to 7 steps)", "[deploy][weight_only]") {
  const std::vector<float> w{-1.2f, 0.f, 0.6f, 1.5f};
  const auto q = quant::quantize_weight_only(w, 1, 4, {4, 4, true});
  CHECK(q.scale[0] == 3.f / 15.f);
  CHECK(q.zp[0] == 8);
  CHECK(q.stored(0, 0) == 2);
  CHECK(q.stored(0, 1) == 8);
  CHECK(q.stored(0, 2) == 11);
  CHECK(q.stored(0, 3) == 15);
}

TEST_CASE("weight-only W4 per channel (group 0) is asymmetric uint4 per row", "[deploy][weight_only]") {
  const std::vector<float> w{-0.3f, 0.f, 0.6f, 1.2f, 3.f, 1.f, 2.f, 0.f};
  const auto q = quant::quantize_weight_only(w, 2, 4, {4, 0, false});
  CHECK(q.groups() == 1);
  CHECK(q.zp[0] == 3);
  CHECK(q.stored(0, 3) == 15);
  CHECK(q.scale[1] == 3.f / 15.f);
  CHECK(q.stored(1, 0) == 15);
  CHECK(q.stored(1, 3) == 0);
}

TEST_CASE("weight-only: an all-zero row stores its zero point and dequantizes to 0", "[deploy][weight_only]") {
  const std::vector<float> w(8, 0.f);
  for (auto spec : {quant::weight_only_spec{8, 0, false}, quant::weight_only_spec{4, 4, true}, quant::weight_only_spec{4, 4, false}}) {
    const auto q = quant::quantize_weight_only(w, 1, 8, spec);
    for (int c = 0; c < 8; ++c) {
      CHECK(q.stored(0, c) == q.zp[static_cast<std::size_t>(q.param_index(0, c))]);
      CHECK(q.dequantized(0, c, q.scale) == 0.f);
    }
  }
}

TEST_CASE("weight-only: a group size that does not divide K, or an odd K in 4 bits, is an error", "[deploy][weight_only]") {
  const std::vector<float> w(12, 1.f);
  CHECK_THROWS_WITH(quant::quantize_weight_only(w, 1, 12, {4, 8, false}), Catch::Contains("not a multiple of the group size 8"));
  CHECK_THROWS_WITH(quant::quantize_weight_only(w, 4, 3, {4, 0, false}), Catch::Contains("even reduction size"));
  CHECK_THROWS_WITH(quant::quantize_weight_only(w, 1, 12, {5, 0, false}), Catch::Contains("8 or 4"));
}

TEST_CASE("W8F16 lowering: tpu.A16MatMul with [N, K] int8 weights, f16 scales and bias, the runner equals the scalar dequantized f16 matmul",
          "[deploy][weight_only]") {
  const std::int64_t M = 3, K = 32, N = 6;
  const graph top = mlp(M, K, N, false, false, 11);
  targets::lowering_report rep;
  const graph low = lower(top, targets::quant_mode::W8F16, "bm1684x", rep);
  const node* a16 = find_op(low, "tpu.A16MatMul");
  REQUIRE(a16 != nullptr);
  CHECK(rep.ops_per_mode.at("W8F16") == 1);
  const auto& at = a16->attributes<tpu::a16_matmul_op>();
  CHECK(*at.weight_bits == 8);
  CHECK(at.w_transpose);
  CHECK(at.q_group_size == 0);  // W8: per output channel, whatever --q_group_size says
  CHECK(low.weights.at("fc_int").elem() == dtype::i8);
  CHECK(low.weights.at("fc_int").shape() == shape_t{N, K});
  CHECK(low.weights.at("fc_scale_f16").elem() == dtype::f16);
  CHECK(low.weights.at("fc_scale_f16").shape() == shape_t{N, 1});
  CHECK(low.weights.at("b_f16").elem() == dtype::f16);
  CHECK(low.values[static_cast<std::size_t>(a16->results[0])].type.elem == dtype::f16);

  const auto q = quant::quantize_weight_only(rows_of(top, false, K, N), N, K, {8, 0, false});
  const tensor& wq = low.weights.at("fc_int");
  for (std::int64_t i = 0; i < N * K; ++i) CHECK(wq.data<std::int8_t>()[i] == q.stored(i / K, i % K));
  const auto xv = random_values(static_cast<std::size_t>(M * K), 21, 1.f);
  const tensor y = run_one(low, tensor::from_vector<float>({M, K}, xv));
  const auto ref = reference_a16(xv, M, q, top.weights.at("b").values<float>(), false);
  for (std::size_t i = 0; i < ref.size(); ++i) CHECK(y.data<float>()[i] == Approx(ref[i]).epsilon(2e-3).margin(2e-3));
}

TEST_CASE("W4F16 lowering with a group size: packed [N, K/2] uint4, [N, K/g] scales and zero points, right_transpose weights",
          "[deploy][weight_only]") {
  const std::int64_t M = 2, K = 64, N = 5;
  for (bool rt : {false, true}) {
    const graph top = mlp(M, K, N, rt, false, 13);
    targets::lowering_report rep;
    const graph low = lower(top, targets::quant_mode::W4F16, "bm1688", rep, 16);
    const node* a16 = find_op(low, "tpu.A16MatMul");
    REQUIRE(a16 != nullptr);
    CHECK(a16->attributes<tpu::a16_matmul_op>().q_group_size == 16);
    const tensor& wq = low.weights.at("fc_uint");
    CHECK(wq.shape() == shape_t{N, K / 2});
    CHECK(low.weights.at("fc_zp").shape() == shape_t{N, K / 16});
    const auto q = quant::quantize_weight_only(rows_of(top, rt, K, N), N, K, {4, 16, false});
    CHECK(std::equal(q.data.begin(), q.data.end(), wq.data<std::uint8_t>()));
    const auto xv = random_values(static_cast<std::size_t>(M * K), 23, 1.f);
    const tensor y = run_one(low, tensor::from_vector<float>({M, K}, xv));
    const auto ref = reference_a16(xv, M, q, top.weights.at("b").values<float>(), false);
    for (std::size_t i = 0; i < ref.size(); ++i) CHECK(y.data<float>()[i] == Approx(ref[i]).epsilon(2e-3).margin(2e-3));
  }
}

TEST_CASE("W4BF16 with --q_symmetric: zero points 8, bf16 scales and result", "[deploy][weight_only]") {
  const graph top = mlp(2, 32, 4, false, false, 17);
  targets::lowering_report rep;
  const graph low = lower(top, targets::quant_mode::W4BF16, "bm1684x", rep, 8, true);
  CHECK(low.weights.at("fc_scale_bf16").elem() == dtype::bf16);
  for (std::uint8_t z : low.weights.at("fc_zp").values<std::uint8_t>()) CHECK(z == 8);
  CHECK(low.values[static_cast<std::size_t>(find_op(low, "tpu.A16MatMul")->results[0])].type.elem == dtype::bf16);
}

TEST_CASE("weight-only: a fused relu becomes tpu.Relu named like the MatMul after <name>_a16matmul", "[deploy][weight_only]") {
  const graph top = mlp(2, 16, 4, false, true, 19);
  targets::lowering_report rep;
  const graph low = lower(top, targets::quant_mode::W8F16, "bm1684x", rep);
  const node* relu = find_op(low, "tpu.Relu");
  REQUIRE(relu != nullptr);
  CHECK(low.values[static_cast<std::size_t>(relu->results[0])].name == "fc");
  CHECK(low.values[static_cast<std::size_t>(find_op(low, "tpu.A16MatMul")->results[0])].name == "fc_a16matmul");
  const tensor y = run_one(low, tensor::from_vector<float>({2, 16}, random_values(32, 29, 1.f)));
  for (float v : y.values<float>()) CHECK(v >= 0.f);
}

TEST_CASE("weight-only: a MatMul the group size does not fit, or of two activations, is lowered to F16 with a note", "[deploy][weight_only]") {
  const graph top = mlp(2, 48, 4, false, false, 31);  // 48 is not a multiple of 64
  targets::lowering_report rep;
  const graph low = lower(top, targets::quant_mode::W4F16, "bm1684x", rep, 64);
  CHECK(find_op(low, "tpu.A16MatMul") == nullptr);
  CHECK(find_op(low, "tpu.MatMul") != nullptr);
  REQUIRE(rep.notes.size() == 1);
  CHECK_THAT(rep.notes[0].what, Catch::Contains("not a multiple of q_group_size 64"));
}

TEST_CASE("weight-only: a per-op qtable group size overrides --q_group_size, also for W8", "[deploy][weight_only]") {
  const graph top = mlp(2, 32, 4, false, false, 37);
  targets::deploy_options opt;
  opt.mode = targets::quant_mode::F16;
  opt.chip = &targets::find_processor("bm1684x");
  opt.qtable["fc"] = targets::quant_mode::W8F16;
  opt.qtable_group_size["fc"] = 8;
  targets::lowering_report rep;
  const graph low = targets::lower_to_tpu(top, opt, rep);
  const node* a16 = find_op(low, "tpu.A16MatMul");
  REQUIRE(a16 != nullptr);
  CHECK(a16->attributes<tpu::a16_matmul_op>().q_group_size == 8);
  CHECK(low.weights.at("fc_uint").elem() == dtype::u8);  // per-group 8 bits: uint8 with zero points
  CHECK(low.weights.at("fc_zp").shape() == shape_t{4, 4});
}

TEST_CASE("quant_input and quant_output on F16: the argument is f16, the output stays f16, results unchanged", "[deploy][quant_io]") {
  const graph top = mlp(2, 16, 4, false, false, 41);
  targets::deploy_options opt;
  opt.mode = targets::quant_mode::F16;
  opt.chip = &targets::find_processor("bm1684x");
  targets::lowering_report plain_rep, rep;
  const graph plain = targets::lower_to_tpu(top, opt, plain_rep);
  opt.quant_input = opt.quant_output = true;
  const graph low = targets::lower_to_tpu(top, opt, rep);
  CHECK(low.values[static_cast<std::size_t>(low.arguments[0])].type.elem == dtype::f16);
  CHECK(low.values[static_cast<std::size_t>(low.outputs[0])].type.elem == dtype::f16);
  CHECK(find_op(low, "tpu.Cast") == nullptr);
  CHECK(rep.casts == 0);
  const tensor x = tensor::from_vector<float>({2, 16}, random_values(32, 43, 1.f));
  const tensor a = run_one(plain, x);
  const tensor b = run_one(low, targets::to_input_type(low, "x", x));
  CHECK(std::equal(a.values<float>().begin(), a.values<float>().end(), b.values<float>().begin()));
}

TEST_CASE("quant_input on INT8: the argument is the input's int8 type, floats are refused, the cast's integers give the same result",
          "[deploy][quant_io]") {
  graph top = mlp(2, 16, 4, false, false, 47);
  for (auto& v : top.values)
    if (!v.type.is_none && v.producer >= 0 && !top.nodes[static_cast<std::size_t>(v.producer)].is<top::weight_op>())
      v.type.quant = quant::format(quant::calibrated_type{dtype::f32, -3.0, 3.0});
  targets::deploy_options opt;
  opt.mode = targets::quant_mode::INT8;
  opt.chip = &targets::find_processor("bm1684x");
  targets::lowering_report plain_rep, rep;
  const graph plain = targets::lower_to_tpu(top, opt, plain_rep);
  opt.quant_input = true;
  const graph low = targets::lower_to_tpu(top, opt, rep);
  const tensor_type& at = low.values[static_cast<std::size_t>(low.arguments[0])].type;
  CHECK(at.elem == dtype::i8);
  CHECK_THAT(at.quant, Catch::StartsWith("!quant.uniform<i8:f32"));
  CHECK(low.values[static_cast<std::size_t>(low.outputs[0])].type.elem == dtype::f32);  // no --quant_output: cast back
  const tensor x = tensor::from_vector<float>({2, 16}, random_values(32, 53, 1.f));
  interpreter run(low);
  CHECK_THROWS_WITH(run.run({{"x", x}}), Catch::Contains("is quantized"));
  const tensor xi = targets::to_input_type(low, "x", x);
  CHECK(xi.elem() == dtype::i8);
  const tensor a = run_one(plain, x);
  const tensor b = run_one(low, xi);
  CHECK(std::equal(a.values<float>().begin(), a.values<float>().end(), b.values<float>().begin()));
}

}  // namespace weight_only_tests
