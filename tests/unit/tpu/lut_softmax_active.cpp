// tpu.Lut, tpu.Softmax (integer with its exp table, and float), tpu.Relu, tpu.LeakyRelu and
// tpu.Active on hand-computed values, and their fast paths against the scalar references.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "tpu_harness.hpp"

using namespace mixq;
using namespace tpu_test;

namespace {

tensor ramp_table(dtype d) {
  tensor t = tensor::empty(d, {1, 1, 1, 256});
  for (int i = 0; i < 256; ++i) {
    if (d == dtype::i8) t.data<std::int8_t>()[i] = static_cast<std::int8_t>(i - 128);
    else if (d == dtype::f16) t.data<float16>()[i] = float16(static_cast<float>(i) / 8.f);
  }
  return t;
}

tensor exp_table(double s_in, double beta) {
  tensor t = tensor::empty(dtype::f32, {1, 1, 1, 256});
  for (int i = 0; i < 256; ++i) t.data<float>()[i] = static_cast<float>(std::exp(-s_in * i * beta));
  return t;
}

}  // namespace

TEST_CASE("tpu.Lut indexes the table with x & 0xff: int8 -1 reads entry 255, uint8 reads its own value") {
  op_call c("tpu.Lut");
  c.in(i8({4}, {-128, -1, 0, 127}), qtype(dtype::i8, {4}, 0.1)).in(ramp_table(dtype::i8), true).out(qtype(dtype::i8, {4}, 0.05));
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{0, 127, -128, -1});
  op_call u("tpu.Lut");
  u.in(u8({2}, {0, 255}), qtype(dtype::u8, {2}, 0.1)).in(ramp_table(dtype::i8), true).out(qtype(dtype::i8, {2}, 0.05));
  CHECK(ints(run_both(u)) == std::vector<std::int64_t>{-128, 127});
  // an f16 table (a float activation of an int8 input on bm1684x): the entries themselves
  op_call f("tpu.Lut");
  f.in(i8({2}, {-1, 16}), qtype(dtype::i8, {2}, 0.1)).in(ramp_table(dtype::f16), true).out({dtype::f16, {2}});
  const tensor y = run_both(f);
  CHECK(static_cast<float>(y.data<float16>()[0]) == 255.f / 8);
  CHECK(static_cast<float>(y.data<float16>()[1]) == 2.f);

  std::mt19937 rng(8);
  op_call r("tpu.Lut");
  r.in(random_bytes(rng, dtype::i8, {3, 1000}), qtype(dtype::i8, {3, 1000}, 0.1)).in(random_bytes(rng, dtype::u8, {1, 1, 1, 256}), true);
  r.out(qtype(dtype::u8, {3, 1000}, 0.1));
  run_both(r);
}

TEST_CASE("tpu.Softmax int8: table[max - x] / (sum * s_out), rounded: [10, 8, 0] at 0.1 -> uint8 [117, 95, 43], int8 [58, 48, 21]") {
  const tensor x = i8({1, 3}, {10, 8, 0});
  tpu::softmax_op::attributes a;
  a.axis = top::si32(1);
  op_call c("tpu.Softmax");
  c.in(x, qtype(dtype::i8, {1, 3}, 0.1)).in(exp_table(0.1, 1.0), true).none().none().none().none().out(qtype(dtype::u8, {1, 3}, 1.0 / 255));
  c.with<tpu::softmax_op>(a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{117, 95, 43});
  c.results[0] = qtype(dtype::i8, {1, 3}, 1.0 / 127);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{58, 48, 21});
}

TEST_CASE("tpu.Softmax's row loops equal the reference on every axis, the float form runs top.Softmax") {
  std::mt19937 rng(9);
  for (std::int64_t axis = 0; axis < 4; ++axis)
    for (dtype t : {dtype::i8, dtype::u8}) {
      tpu::softmax_op::attributes a;
      a.axis = top::si32(axis);
      op_call c("tpu.Softmax");
      c.in(random_bytes(rng, t, {2, 5, 3, 7}), qtype(t, {2, 5, 3, 7}, 0.05)).in(exp_table(0.05, 1.5), true).none().none().none().none();
      c.out(qtype(axis % 2 ? dtype::u8 : dtype::i8, {2, 5, 3, 7}, 1.0 / 255, axis % 2 ? 0 : -128)).with<tpu::softmax_op>(a);
      run_both(c);
    }
  const tensor x = random_floats(rng, {2, 4});
  tpu::softmax_op::attributes a;
  a.axis = top::si32(1);
  op_call f("tpu.Softmax");
  f.in(x).none().none().none().none().none().out({dtype::f32, {2, 4}}).with<tpu::softmax_op>(a);
  const tensor y = run_both(f);
  for (std::int64_t r = 0; r < 2; ++r) {
    double s = 0;
    for (std::int64_t j = 0; j < 4; ++j) s += std::exp(static_cast<double>(x.data<float>()[r * 4 + j]));
    for (std::int64_t j = 0; j < 4; ++j) CHECK(y.data<float>()[r * 4 + j] == Approx(std::exp(x.data<float>()[r * 4 + j]) / s).margin(1e-6));
  }
}

TEST_CASE("tpu.Relu: integer max(x, 0) (at 0 whatever the zero point), relu_limit when positive, float form top.Relu") {
  op_call c("tpu.Relu");
  c.in(i8({4}, {-3, 0, 5, 100}), qtype(dtype::i8, {4}, 0.1)).out(qtype(dtype::i8, {4}, 0.1));
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{0, 0, 5, 100});
  tpu::relu_op::attributes a;
  a.relu_limit = 60.0;
  c.with<tpu::relu_op>(a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{0, 0, 5, 60});
  op_call f("tpu.Relu");
  f.in(tensor::from_vector<float>({3}, {-1.5f, 0.25f, 7.f})).out({dtype::f32, {3}});
  const tensor y = run_both(f);
  CHECK(std::vector<float>(y.data<float>(), y.data<float>() + 3) == std::vector<float>{0.f, 0.25f, 7.f});
}

TEST_CASE("tpu.LeakyRelu: bm1684x RightShiftRound(x * m, r) below 0, cv18xx's positive and negative multipliers, the float form") {
  const quant::multiplier_shift ms = quant::get_scale_and_shift(0.1f, 8);
  CHECK(ms == quant::multiplier_shift{51, 9});
  tpu::leaky_relu_op::attributes a;
  a.multiplier = top::si32(51);
  a.rshift = top::si32(9);
  op_call c("tpu.LeakyRelu");
  c.in(i8({3}, {-100, -5, 50}), qtype(dtype::i8, {3}, 0.1)).out(qtype(dtype::i8, {3}, 0.1)).with<tpu::leaky_relu_op>(a);
  // -5100 / 512 = -9.96 -> -10 ; -255 / 512 = -0.498 -> 0 ; 50
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{-10, 0, 50});

  op_call v("tpu.LeakyRelu", "cv183x");
  a.multiplier = top::si32(0);  // positive values pass unchanged
  a.rshift = top::si32(0);
  a.multiplier_neg = top::si32(13);
  a.rshift_neg = top::si32(7);
  v.in(i8({2}, {-100, 50}), qtype(dtype::i8, {2}, 0.1)).out(qtype(dtype::i8, {2}, 0.1)).with<tpu::leaky_relu_op>(a);
  CHECK(ints(run_both(v)) == std::vector<std::int64_t>{-10, 50});  // -1300 / 128 = -10.16

  tpu::leaky_relu_op::attributes f;
  f.alpha = 0.25;
  op_call fl("tpu.LeakyRelu");
  fl.in(tensor::from_vector<float>({2}, {-2.f, 3.f})).out({dtype::f32, {2}}).with<tpu::leaky_relu_op>(f);
  const tensor y = run_both(fl);
  CHECK(y.data<float>()[0] == -0.5f);
  CHECK(y.data<float>()[1] == 3.f);

  op_call q("tpu.LeakyRelu", "bm1684x", true);  // asymmetric: rescaled, alpha below the zero point
  q.in(u8({2}, {100, 140}), qtype(dtype::u8, {2}, 0.1, 120)).out(qtype(dtype::u8, {2}, 0.2, 30)).with<tpu::leaky_relu_op>(f);
  // (100 - 120) * 0.5 * 0.25 = -2.5 -> -3 + 30 ; (140 - 120) * 0.5 = 10 + 30
  CHECK(ints(run_both(q)) == std::vector<std::int64_t>{27, 40});

  std::mt19937 rng(12);
  tensor all = tensor::empty(dtype::i8, {256});
  for (int i = 0; i < 256; ++i) all.data<std::int8_t>()[i] = static_cast<std::int8_t>(i - 128);
  c.inputs[0] = all;
  c.types[0] = qtype(dtype::i8, {256}, 0.1);
  c.results[0] = qtype(dtype::i8, {256}, 0.1);
  run_both(c);
}

TEST_CASE("tpu.Active evaluates its mode in double and rounds to the declared float type") {
  const tensor x = tensor::from_vector<float>({5}, {-3.f, -0.5f, 0.f, 0.75f, 4.f});
  const auto run_mode = [&](const char* mode, std::vector<double> coeffs, dtype out) {
    tpu::active_op::attributes a;
    a.mode = tpu::active_mode_attr(mode);
    if (!coeffs.empty()) a.coeffs = coeffs;
    op_call c("tpu.Active");
    c.in(x).out({out, {5}}).with<tpu::active_op>(a);
    return run_both(c).cast(dtype::f32);
  };
  const tensor s = run_mode("SIGMOID", {}, dtype::f32);
  for (std::int64_t i = 0; i < 5; ++i) CHECK(s.data<float>()[i] == static_cast<float>(1 / (1 + std::exp(-static_cast<double>(x.data<float>()[i])))));
  const tensor h = run_mode("HSIGMOID", {0.5, 0.2}, dtype::f32);  // coeffs are [beta, alpha]
  CHECK(h.data<float>()[0] == Approx(0.f).margin(1e-7));
  CHECK(h.data<float>()[3] == static_cast<float>(0.2 * 0.75 + 0.5));
  CHECK(h.data<float>()[4] == 1.f);
  const tensor g = run_mode("GELU", {}, dtype::f16);
  for (std::int64_t i = 0; i < 5; ++i) {
    const double v = x.data<float>()[i];
    CHECK(g.data<float>()[i] == static_cast<float>(float16(static_cast<float>(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))))));
  }
  const tensor sg = run_mode("SIGN", {}, dtype::f32);
  CHECK(std::vector<float>(sg.data<float>(), sg.data<float>() + 5) == std::vector<float>{-1.f, -1.f, 0.f, 1.f, 1.f});
  const tensor e = run_mode("ELU", {1.5}, dtype::bf16);
  CHECK(e.data<float>()[0] == static_cast<float>(bfloat16(static_cast<float>(1.5 * (std::exp(-3.0) - 1)))));

  op_call bad("tpu.Active");
  tpu::active_op::attributes a;
  a.mode = tpu::active_mode_attr("TANH");
  bad.in(i8({2}, {1, 2}), qtype(dtype::i8, {2}, 0.1)).out(qtype(dtype::i8, {2}, 0.1)).with<tpu::active_op>(a);
  CHECK_THROWS_WITH(run(bad, false), Catch::Contains("tpu.Lut"));
}
