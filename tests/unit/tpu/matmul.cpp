// tpu.MatMul: lowering_spec 7.2's worked example on bm1684x (MultiplierShift), bm1684 (shift
// only, int16 bias) and cv183x (QDM per batch), per-channel multipliers (fuse_rq), the float
// form, and the int8 GEMM path against the scalar reference on random shapes.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "tpu_harness.hpp"

using namespace mixq;
using namespace tpu_test;

namespace {

// x_q = [40, -24, 8] at 1/64 times W_q = [[127, -32], [64, 16], [-96, 0]], b_q = [1024, -512]
const tensor spec_x = i8({1, 3}, {40, -24, 8});
const tensor spec_w = i8({3, 2}, {127, -32, 64, 16, -96, 0});
const tensor spec_b = i32({1, 2}, {1024, -512});

op_call spec_call(std::string chip, tpu::matmul_op::attributes a, tensor w = spec_w, tensor b = spec_b) {
  op_call c("tpu.MatMul", std::move(chip));
  c.in(spec_x, qtype(dtype::i8, {1, 3}, 1.0 / 64)).in(w, true).in(b, true).none().none();
  c.out(qtype(dtype::i8, {1, 2}, 1.0 / 32));
  c.with<tpu::matmul_op>(a);
  return c;
}

}  // namespace

TEST_CASE("bm1684x MatMul: (1, 8) HalfUp gives 14.84 -> 15 and -8.5 -> -8 (spec 7.2), through the interpreter too") {
  tpu::matmul_op::attributes a;
  a.multipliers = {1};
  a.rshifts = {8};
  CHECK(ints(run_both(spec_call("bm1684x", a))) == std::vector<std::int64_t>{15, -8});
  a.do_relu = true;
  CHECK(ints(run_both(spec_call("bm1684x", a))) == std::vector<std::int64_t>{15, 0});

  // x f32 -> tpu.Cast (1/64) -> tpu.MatMul -> [1, 2] at 1/32
  graph g;
  g.module_attributes.set("module.chip", attribute(std::string("bm1684x")));
  const int arg = g.add_argument({dtype::f32, {1, 3}});
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int none = g.nodes.back().results[0];
  const int in = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, {1, 3}}}, {"x"}))].results[0];
  const int xq = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({in}, {qtype(dtype::i8, {1, 3}, 1.0 / 64)}, {"x_si8"}))].results[0];
  const int w = g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::i8, {3, 2}}}, {"fc_filter_int8"}))].results[0];
  const int b = g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::i32, {1, 2}}}, {"fc_bias_int32"}))].results[0];
  g.weights["fc_filter_int8"] = spec_w;
  g.weights["fc_bias_int32"] = spec_b;
  a.do_relu = false;
  const int mm = g.nodes[static_cast<std::size_t>(g.add<tpu::matmul_op>({xq, w, b, none, none}, {qtype(dtype::i8, {1, 2}, 1.0 / 32)}, {"fc"}, a))].results[0];
  g.outputs = {mm};
  interpreter run(g);
  const auto r = run.run({{"x", tensor::from_vector<float>({1, 3}, {40.f / 64, -24.f / 64, 8.f / 64})}});
  CHECK(ints(r.values[static_cast<std::size_t>(mm)]) == std::vector<std::int64_t>{15, -8});
}

TEST_CASE("bm1684 MatMul: rshift 7 only, weights at half scale and an int16 bias: 15 and -8 (spec 5)") {
  tpu::matmul_op::attributes a;
  a.rshifts = {7};  // multipliers stay at their default [1]
  const tensor w = i8({3, 2}, {64, -16, 32, 8, -48, 0});
  const tensor b = tensor::from_vector<std::int16_t>({1, 2}, {512, -256});
  CHECK(ints(run_both(spec_call("bm1684", a, w, b))) == std::vector<std::int64_t>{15, -8});
}

TEST_CASE("cv183x MatMul: QDM (2^30, r_b) per batch, final shift HalfAwayFromZero") {
  // two batches sharing the spec's weights and bias; rshifts 7 and 6
  op_call c("tpu.MatMul", "cv183x");
  std::vector<std::int8_t> w2;
  for (int b = 0; b < 2; ++b)
    for (std::int64_t i = 0; i < spec_w.numel(); ++i) w2.push_back(spec_w.data<std::int8_t>()[i]);
  c.in(i8({2, 1, 3}, {40, -24, 8, 40, -24, 8}), qtype(dtype::i8, {2, 1, 3}, 1.0 / 64))
      .in(i8({2, 3, 2}, w2), true)
      .in(spec_b, true)
      .none()
      .none()
      .out(qtype(dtype::i8, {2, 1, 2}, 1.0 / 32));
  tpu::matmul_op::attributes a;
  a.quant_mode = "QDM";
  a.multipliers = {1073741824, 1073741824};
  a.rshifts = {7, 6};
  c.with<tpu::matmul_op>(a);
  // 3800 -> 1900 -> 14.84 -> 15 | -2176 -> -1088 -> -8.5 -> -9 ; batch 1: 29.69 -> 30 | -17
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{15, -9, 30, -17});
}

TEST_CASE("bm1684x MatMul with fuse_rq: the column's multiplier comes from the multi operand") {
  op_call c = spec_call("bm1684x", {});
  c.inputs[3] = i32({1, 2}, {1, 2});
  c.types[3] = c.inputs[3].type();
  c.constant[3] = true;
  tpu::matmul_op::attributes a;
  a.fuse_rq = true;
  a.rshifts = {9};
  c.with<tpu::matmul_op>(a);
  // 3800 / 512 = 7.42 -> 7 ; -2176 * 2 / 512 = -8.5 -> -8
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{7, -8});
}

TEST_CASE("tpu.MatMul rejects what TPU-MLIR's interpreter would not compute") {
  tpu::matmul_op::attributes a;
  a.multipliers = {1, 2};
  a.rshifts = {8};
  CHECK_THROWS_WITH(run(spec_call("bm1684x", a), false), Catch::Contains("one multiplier"));
  a.multipliers = {1};
  a.quant_mode = "TFLite";
  CHECK_THROWS_WITH(run(spec_call("bm1684x", a), false), Catch::Contains("TOP_QUANTIZED"));
}

TEST_CASE("tpu.MatMul's int8 GEMM path equals the scalar reference on random shapes, types, transposes and requant parameters") {
  std::mt19937 rng(5);
  struct shape_case {
    shape_t x, w;
    bool right_transpose, left_transpose, output_transpose, hdim;
  };
  const std::vector<shape_case> cases{
      {{1, 37, 70}, {70, 45}, false, false, false, false},   // several tiles, odd sizes
      {{2, 3, 9, 20}, {20, 33}, false, false, false, false},  // batch folded into M
      {{4, 9, 20}, {4, 20, 11}, false, false, false, false},  // batched right operand
      {{3, 17, 40}, {3, 8, 40}, true, false, false, false},   // right_transpose
      {{2, 40, 13}, {40, 6}, false, true, false, false},      // left_transpose
      {{1, 19, 24}, {24, 7}, false, false, true, false},      // output_transpose (staging)
      {{2, 5, 3, 16}, {2, 16, 3, 9}, false, false, false, true},  // hdim_is_batch
      {{300, 1, 600}, {600, 10}, false, false, false, false},     // K past one block
  };
  int n = 0;
  for (const auto& sc : cases)
    for (dtype xt : {dtype::i8, dtype::u8})
      for (dtype wt : {dtype::i8, dtype::u8})
        for (int variant = 0; variant < 3; ++variant) {
          tpu::matmul_op::attributes a;
          a.right_transpose = sc.right_transpose;
          a.left_transpose = sc.left_transpose;
          a.output_transpose = sc.output_transpose;
          a.hdim_is_batch = sc.hdim;
          const auto plan = top::matmul_op::plan(sc.x, sc.w, tpu::matmul_op::top_attributes(a));
          const tensor x = random_bytes(rng, xt, sc.x);
          const tensor w = random_bytes(rng, wt, sc.w);
          const dtype yt = variant == 1 ? dtype::u8 : dtype::i8;
          const bool weight = variant != 2;  // variant 2: activation x activation
          op_call c("tpu.MatMul");
          c.in(x, qtype(xt, sc.x, 0.02)).in(w, weight ? w.type() : qtype(wt, sc.w, 0.03), weight);
          if (variant == 0) c.in(random_ints(rng, dtype::i32, {plan.N}, -20000, 20000), true);
          else c.none();
          c.none().none();
          std::uniform_int_distribution<std::int64_t> mult(1, 1 << 20), shift(14, 26);
          a.multipliers = {mult(rng)};
          a.rshifts = {shift(rng)};
          a.do_relu = variant == 0;
          c.out(qtype(yt, plan.out_shape, 0.05, yt == dtype::u8 ? 100 : -7));
          c.with<tpu::matmul_op>(a);
          INFO("case " << n << " x " << to_string(sc.x) << " w " << to_string(sc.w));
          run_both(c);
          ++n;
        }
  CHECK(n == 96);
}

TEST_CASE("tpu.MatMul fast path equals the reference with per-column multipliers, saturation and CV18xx per-batch requant") {
  std::mt19937 rng(11);
  // fuse_rq: N multipliers, large enough to saturate some outputs
  op_call c("tpu.MatMul");
  c.in(random_bytes(rng, dtype::i8, {2, 25, 64}), qtype(dtype::i8, {2, 25, 64}, 0.1))
      .in(random_bytes(rng, dtype::i8, {64, 50}), true)
      .in(random_ints(rng, dtype::i32, {1, 50}, -5000, 5000), true)
      .in(random_ints(rng, dtype::i32, {1, 1, 50}, 1, 1 << 22), true)
      .none()
      .out(qtype(dtype::i8, {2, 25, 50}, 0.1));
  tpu::matmul_op::attributes a;
  a.fuse_rq = true;
  a.rshifts = {26};
  c.with<tpu::matmul_op>(a);
  const tensor y = run_both(c);
  bool saturated = false;
  for (std::int64_t v : ints(y)) saturated |= v == 127 || v == -128;
  CHECK(saturated);

  op_call q("tpu.MatMul", "cv182x");
  q.in(random_bytes(rng, dtype::i8, {3, 7, 33}), qtype(dtype::i8, {3, 7, 33}, 0.1))
      .in(random_bytes(rng, dtype::i8, {3, 33, 21}), true)
      .none()
      .none()
      .none()
      .out(qtype(dtype::i8, {3, 7, 21}, 0.1));
  a = {};
  a.quant_mode = "QDM";
  a.multipliers = {1500000000, 1200000000, 1073741824};
  a.rshifts = {9, 10, 11};
  q.with<tpu::matmul_op>(a);
  run_both(q);

  // an input zero point (attribute) takes the scalar loop in both paths
  a = {};
  a.input_zp = 3;
  a.right_zp = -2;
  a.multipliers = {3};
  a.rshifts = {12};
  op_call z("tpu.MatMul");
  z.in(random_bytes(rng, dtype::u8, {5, 12}), qtype(dtype::u8, {5, 12}, 0.1)).in(random_bytes(rng, dtype::i8, {12, 4}), true).none().none().none();
  z.out(qtype(dtype::i8, {5, 4}, 0.1)).with<tpu::matmul_op>(a);
  run_both(z);
}

TEST_CASE("tpu.MatMul in float runs top.MatMul and rounds to the declared f16") {
  std::mt19937 rng(3);
  const tensor x = random_floats(rng, {2, 4, 6});
  const tensor w = random_floats(rng, {6, 5});
  const tensor b = random_floats(rng, {5});
  op_call c("tpu.MatMul");
  c.in(x).in(w, true).in(b, true).none().none().out({dtype::f32, {2, 4, 5}});
  tpu::matmul_op::attributes a;
  a.do_relu = true;
  c.with<tpu::matmul_op>(a);
  const tensor y = run_both(c);
  for (std::int64_t r = 0; r < 8; ++r)
    for (std::int64_t j = 0; j < 5; ++j) {
      double s = b.data<float>()[j];
      for (std::int64_t k = 0; k < 6; ++k) s += static_cast<double>(x.data<float>()[r * 6 + k]) * w.data<float>()[k * 5 + j];
      CHECK(y.data<float>()[r * 5 + j] == Approx(std::max(s, 0.0)).margin(1e-5));
    }
  c.results[0] = {dtype::f16, {2, 4, 5}};
  const tensor h = run_both(c);
  for (std::int64_t i = 0; i < h.numel(); ++i) CHECK(static_cast<float>(h.data<float16>()[i]) == static_cast<float>(float16(y.data<float>()[i])));
}
