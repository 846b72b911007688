// tpu.Add / Sub / Mul / MulShift / AddConst / RequantInt: lowering_spec 7.4's Add on bm1684x,
// bm1684 and cv183x (one rounding per input vs one shared rounding), the asymmetric branches,
// the float forms, and the table/broadcast fast paths against the scalar reference.
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

op_call add_call(std::string chip, const tensor& a, double sa, const tensor& b, double sb, double so, tpu::add_op::attributes at) {
  op_call c("tpu.Add", std::move(chip));
  c.in(a, qtype(a.elem(), a.shape(), sa)).in(b, qtype(b.elem(), b.shape(), sb)).out(qtype(dtype::i8, a.shape(), so));
  c.with<tpu::add_op>(at);
  return c;
}

}  // namespace

TEST_CASE("bm1684x Add rounds each input on its own: (37, 5) -> 24, (-37, 5) -> -13, 1/64 + 1/64 -> 2 (spec 7.4)") {
  tpu::add_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{1, 1};
  a.rshifts = std::vector<std::int64_t>{1, 0};
  CHECK(ints(run_both(add_call("bm1684x", i8({2}, {37, -37}), 1.0 / 64, i8({2}, {5, 5}), 1.0 / 32, 1.0 / 32, a))) ==
        std::vector<std::int64_t>{24, -13});
  a.rshifts = std::vector<std::int64_t>{1, 1};
  CHECK(ints(run_both(add_call("bm1684x", i8({1}, {1}), 1.0 / 64, i8({1}, {1}), 1.0 / 64, 1.0 / 32, a))) == std::vector<std::int64_t>{2});
}

TEST_CASE("bm1684 Add: (m, r) = (64, 7) and (64, 6) give the bm1684x results (spec 7.5)") {
  tpu::add_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{64, 64};
  a.rshifts = std::vector<std::int64_t>{7, 6};
  CHECK(ints(run_both(add_call("bm1684", i8({2}, {37, -37}), 1.0 / 64, i8({2}, {5, 5}), 1.0 / 32, 1.0 / 32, a))) ==
        std::vector<std::int64_t>{24, -13});
}

TEST_CASE("cv183x Add shifts the sum once: (1, 1) at 1/64 -> (64 + 64) / 128 = 1 (spec 7.6)") {
  tpu::add_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{64, 64};
  a.rshifts = std::vector<std::int64_t>{7};
  CHECK(ints(run_both(add_call("cv183x", i8({1}, {1}), 1.0 / 64, i8({1}, {1}), 1.0 / 64, 1.0 / 32, a))) == std::vector<std::int64_t>{1});
  // -64 - 64 = -128 -> -1 ; relu keeps 0
  a.do_relu = true;
  CHECK(ints(run_both(add_call("cv183x", i8({2}, {-1, 3}), 1.0 / 64, i8({2}, {-1, 1}), 1.0 / 64, 1.0 / 32, a))) == std::vector<std::int64_t>{0, 2});
}

TEST_CASE("asymmetric bm1684x Add subtracts each input's zero point and adds the output's") {
  op_call c("tpu.Add", "bm1684x", true);
  c.in(u8({2}, {130, 90}), qtype(dtype::u8, {2}, 0.02, 100)).in(i8({2}, {-10, 20}), qtype(dtype::i8, {2}, 0.01, -20));
  c.out(qtype(dtype::i8, {2}, 0.04, 5));
  tpu::add_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{1, 1};
  a.rshifts = std::vector<std::int64_t>{1, 2};
  c.with<tpu::add_op>(a);
  // RSR(30, 1) + RSR(10, 2) + 5 = 15 + 3 + 5 = 23 ; RSR(-10, 1) + RSR(40, 2) + 5 = -5 + 10 + 5 = 10
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{23, 10});
}

TEST_CASE("tpu.Add through the interpreter: a residual add of two int8 branches with a broadcast operand") {
  graph g;
  g.module_attributes.set("module.chip", attribute(std::string("bm1684x")));
  const int a0 = g.add_argument({dtype::f32, {1, 2, 2}});
  const int a1 = g.add_argument({dtype::f32, {1, 2, 1}});
  const int x = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({a0}, {{dtype::f32, {1, 2, 2}}}, {"x"}))].results[0];
  const int y = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({a1}, {{dtype::f32, {1, 2, 1}}}, {"y"}))].results[0];
  const int xq = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({x}, {qtype(dtype::i8, {1, 2, 2}, 1.0 / 64)}, {"xq"}))].results[0];
  const int yq = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({y}, {qtype(dtype::i8, {1, 2, 1}, 1.0 / 32)}, {"yq"}))].results[0];
  tpu::add_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{1, 1};
  a.rshifts = std::vector<std::int64_t>{1, 0};
  const int s = g.nodes[static_cast<std::size_t>(g.add<tpu::add_op>({xq, yq}, {qtype(dtype::i8, {1, 2, 2}, 1.0 / 32)}, {"sum"}, a))].results[0];
  g.outputs = {s};
  interpreter run(g);
  const auto r = run.run({{"x", tensor::from_vector<float>({1, 2, 2}, {37.f / 64, -37.f / 64, 1.f / 64, 3.f / 64})},
                          {"y", tensor::from_vector<float>({1, 2, 1}, {5.f / 32, -1.f / 32})}});
  // row 0: (37 >> 1) + 5 = 24, -18 + 5 = -13 ; row 1: RSR(1, 1) - 1 = 0, RSR(3, 1) - 1 = 1
  CHECK(ints(r.values[static_cast<std::size_t>(s)]) == std::vector<std::int64_t>{24, -13, 0, 1});
}

TEST_CASE("tpu.Sub: bm1684x per-input rounding, is_reverse, cv18xx one rounding, asymmetric on dequantized values") {
  op_call c("tpu.Sub");
  c.in(i8({2}, {37, -37}), qtype(dtype::i8, {2}, 1.0 / 64)).in(i8({2}, {5, 5}), qtype(dtype::i8, {2}, 1.0 / 32)).out(qtype(dtype::i8, {2}, 1.0 / 32));
  tpu::sub_op::attributes a;
  a.multipliers = std::vector<std::int64_t>{1, 1};
  a.rshifts = std::vector<std::int64_t>{1, 0};
  c.with<tpu::sub_op>(a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{14, -23});
  a.is_reverse = true;
  c.with<tpu::sub_op>(a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{-14, 23});

  op_call v("tpu.Sub", "cv181x");
  v.in(i8({2}, {3, -3}), qtype(dtype::i8, {2}, 1.0 / 64)).in(i8({2}, {1, 1}), qtype(dtype::i8, {2}, 1.0 / 64)).out(qtype(dtype::i8, {2}, 1.0 / 32));
  a = {};
  a.multipliers = std::vector<std::int64_t>{64, 64};
  a.rshifts = std::vector<std::int64_t>{7};
  v.with<tpu::sub_op>(a);
  // (192 - 64) / 128 = 1 ; (-192 - 64) / 128 = -2
  CHECK(ints(run_both(v)) == std::vector<std::int64_t>{1, -2});

  op_call q("tpu.Sub", "bm1684x", true);
  q.in(u8({2}, {150, 100}), qtype(dtype::u8, {2}, 0.5, 100)).in(i8({2}, {-20, 10}), qtype(dtype::i8, {2}, 0.25, -20)).out(qtype(dtype::i8, {2}, 1.0, 3));
  q.with<tpu::sub_op>({});
  // 25 - 0 = 25 -> 28 ; 0 - 7.5 = -7.5 -> -8 (half away) + 3 = -5
  CHECK(ints(run_both(q)) == std::vector<std::int64_t>{28, -5});
}

TEST_CASE("tpu.Mul: integer product then requant, HalfUp on bm1684x and HalfAwayFromZero on cv183x, zero points when asymmetric") {
  tpu::mul_op::attributes a;
  a.multiplier = 1;
  a.rshift = 4;
  op_call c("tpu.Mul");
  c.in(i8({3}, {10, -10, 12}), qtype(dtype::i8, {3}, 0.1)).in(i8({3}, {4, 4, -3}), qtype(dtype::i8, {3}, 0.1)).out(qtype(dtype::i8, {3}, 0.1));
  c.with<tpu::mul_op>(a);
  // 40/16 = 2.5 -> 3 ; -2.5 -> -2 (HalfUp) ; -36/16 = -2.25 -> -2
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{3, -2, -2});
  op_call v = c;
  v.module.set("module.chip", attribute(std::string("cv183x")));
  CHECK(ints(run_both(v)) == std::vector<std::int64_t>{3, -3, -2});
  a.do_relu = true;
  c.with<tpu::mul_op>(a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{3, 0, 0});

  op_call q("tpu.Mul", "bm1684x", true);
  q.in(u8({2}, {20, 5}), qtype(dtype::u8, {2}, 0.1, 10)).in(i8({2}, {3, 3}), qtype(dtype::i8, {2}, 0.1, -1)).out(qtype(dtype::i8, {2}, 0.1, 2));
  a = {};
  a.multiplier = 3;
  a.rshift = 2;
  q.with<tpu::mul_op>(a);
  // (10 * 4) * 3 / 4 = 30 + 2 ; (-5 * 4) * 3 / 4 = -15 + 2
  CHECK(ints(run_both(q)) == std::vector<std::int64_t>{32, -13});
}

TEST_CASE("tpu.MulShift, tpu.AddConst and tpu.RequantInt on hand-computed values") {
  op_call m("tpu.MulShift");
  m.in(u8({3}, {110, 90, 255}), qtype(dtype::u8, {3}, 0.1, 100)).out(qtype(dtype::i8, {3}, 0.2, 1));
  tpu::mul_shift_op::attributes ma;
  ma.multiplier = top::si32(3);
  ma.rshift = top::si32(2);
  m.with<tpu::mul_shift_op>(ma);
  // (10 * 3) / 4 = 7.5 -> 8 + 1 ; (-10 * 3) / 4 = -7.5 -> -7 + 1 ; 155 * 3 / 4 = 116.25 -> 116 + 1
  CHECK(ints(run_both(m)) == std::vector<std::int64_t>{9, -6, 117});

  op_call c("tpu.AddConst");
  c.in(i8({3}, {10, -30, 127}), qtype(dtype::i8, {3}, 0.1)).out(qtype(dtype::i8, {3}, 0.2));
  tpu::add_const_op::attributes ca;
  ca.const_val = 12.0;  // round(c / s_out) << rshift
  ca.multiplier = 1;
  ca.rshift = 1;
  ca.do_relu = true;
  c.with<tpu::add_const_op>(ca);
  // (10 + 12) / 2 = 11 ; (-30 + 12) / 2 = -9 -> relu 0 ; (127 + 12) / 2 = 69.5 -> 70
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{11, 0, 70});

  op_call r("tpu.RequantInt");
  r.in(i32({4}, {1000, -1000, 100000, -333}), tensor_type{dtype::i32, {4}}).out(qtype(dtype::i8, {4}, 0.5, 3));
  tpu::requant_int_op::attributes ra;
  ra.multiplier = top::si32(5);
  ra.rshift = top::si32(6);
  ra.quant_mode = tpu::rq_mode_attr("MultiplierShift");
  r.with<tpu::requant_int_op>(ra);
  // 5000/64 = 78.125 -> 78 + 3 ; -78 + 3 ; saturated 127 ; -1665/64 = -26.02 -> -26 + 3
  CHECK(ints(run_both(r)) == std::vector<std::int64_t>{81, -75, 127, -23});
  ra.quant_mode = tpu::rq_mode_attr("TFLite");
  ra.multiplier = top::si32(1 << 30);
  ra.rshift = top::si32(4);
  r.with<tpu::requant_int_op>(ra);
  // x * 2^30 >> 31 (HalfUp), >> 4 half away, + 3: 500/16 = 31.25 -> 34 ; -31 -> -28 ; 3125 -> 127 ; -333 -> -166 -> -10.4 -> -7
  CHECK(ints(run_both(r)) == std::vector<std::int64_t>{34, -28, 127, -7});
}

TEST_CASE("the element-wise fast paths (tables, broadcast rows) equal the scalar reference") {
  std::mt19937 rng(17);
  const std::vector<std::pair<shape_t, shape_t>> shapes{{{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{1, 3, 1, 7}, {2, 1, 6, 1}},
                                                        {{4, 1}, {1, 9}}, {{5}, {1}}};
  const std::vector<std::string> chips{"bm1684x", "cv183x"};
  int n = 0;
  for (const auto& [sa, sb] : shapes)
    for (dtype ta : {dtype::i8, dtype::u8})
      for (dtype tb : {dtype::i8, dtype::u8})
        for (const std::string& chip : chips)
          for (bool asym : {false, true}) {
            if (asym && chip != "bm1684x") continue;
            const shape_t out = top::broadcast_shapes(sa, sb);
            const dtype ty = n % 2 ? dtype::u8 : dtype::i8;
            const tensor a = random_bytes(rng, ta, sa), b = random_bytes(rng, tb, sb);
            const auto qa = qtype(ta, sa, 0.03, asym ? (ta == dtype::u8 ? 128 : -3) : 0);
            const auto qb = qtype(tb, sb, 0.05, asym ? (tb == dtype::u8 ? 90 : 7) : 0);
            const auto qy = qtype(ty, out, 0.04, asym ? (ty == dtype::u8 ? 120 : 2) : 0);
            op_call add("tpu.Add", chip, asym);
            add.in(a, qa).in(b, qb).out(qy);
            tpu::add_op::attributes aa;
            aa.multipliers = std::vector<std::int64_t>{77, 101};
            aa.rshifts = chip == "cv183x" ? std::vector<std::int64_t>{7} : std::vector<std::int64_t>{7, 8};
            aa.do_relu = n % 3 == 0;
            add.with<tpu::add_op>(aa);
            run_both(add);
            op_call sub = add;
            sub.mnemonic = "tpu.Sub";
            tpu::sub_op::attributes sa2;
            sa2.multipliers = aa.multipliers;
            sa2.rshifts = aa.rshifts;
            sa2.is_reverse = n % 2 == 1;
            sub.with<tpu::sub_op>(sa2);
            run_both(sub);
            op_call mul = add;
            mul.mnemonic = "tpu.Mul";
            tpu::mul_op::attributes ma;
            ma.multiplier = 93;
            ma.rshift = 11;
            ma.do_relu = n % 3 == 1;
            mul.with<tpu::mul_op>(ma);
            run_both(mul);
            ++n;
          }
  CHECK(n == 60);

  // one-input ops: every 8-bit value, and an int32 input (no table)
  for (dtype t : {dtype::i8, dtype::u8}) {
    tensor all = tensor::empty(t, {256});
    for (int v = 0; v < 256; ++v) reinterpret_cast<std::uint8_t*>(all.raw())[v] = static_cast<std::uint8_t>(v);
    op_call m("tpu.MulShift", "cv183x");
    m.in(all, qtype(t, {256}, 0.1)).out(qtype(dtype::i8, {256}, 0.1));
    tpu::mul_shift_op::attributes ma;
    ma.multiplier = top::si32(-45);
    ma.rshift = top::si32(5);
    m.with<tpu::mul_shift_op>(ma);
    run_both(m);
    op_call c("tpu.AddConst");
    c.in(all, qtype(t, {256}, 0.1, t == dtype::u8 ? 128 : 0)).out(qtype(dtype::u8, {256}, 0.1));
    tpu::add_const_op::attributes ca;
    ca.const_val = -37.0;
    ca.multiplier = 3;
    ca.rshift = 2;
    c.with<tpu::add_const_op>(ca);
    run_both(c);
  }
  op_call r("tpu.RequantInt");
  r.in(random_ints(rng, dtype::i32, {1000}, -1 << 20, 1 << 20), tensor_type{dtype::i32, {1000}}).out(qtype(dtype::i8, {1000}, 0.5));
  tpu::requant_int_op::attributes ra;
  ra.multiplier = top::si32(12345);
  ra.rshift = top::si32(20);
  ra.quant_mode = tpu::rq_mode_attr("MultiplierShift");
  ra.round_mode = "HalfToEven";
  r.with<tpu::requant_int_op>(ra);
  run_both(r);
}

TEST_CASE("tpu.Add/Sub/Mul/AddConst in float run their TOP op, an int32 result runs integer arithmetic") {
  std::mt19937 rng(2);
  const tensor a = random_floats(rng, {2, 3}), b = random_floats(rng, {1, 3});
  op_call c("tpu.Add");
  c.in(a).in(b).out({dtype::f32, {2, 3}});
  tpu::add_op::attributes aa;
  aa.coeff = std::vector<double>{2.0, -1.0};
  c.with<tpu::add_op>(aa);
  const tensor y = run_both(c);
  for (std::int64_t i = 0; i < 6; ++i) CHECK(y.data<float>()[i] == 2.f * a.data<float>()[i] - b.data<float>()[i % 3]);

  op_call s("tpu.Sub");
  s.in(a).in(b).out({dtype::bf16, {2, 3}}).with<tpu::sub_op>({});
  const tensor d = run_both(s);
  for (std::int64_t i = 0; i < 6; ++i)
    CHECK(static_cast<float>(d.data<bfloat16>()[i]) == static_cast<float>(bfloat16(a.data<float>()[i] - b.data<float>()[i % 3])));

  op_call k("tpu.Mul");
  k.in(i32({3}, {4, -5, 6}), tensor_type{dtype::i32, {3}}).in(i32({3}, {2, 3, -7}), tensor_type{dtype::i32, {3}}).out({dtype::i32, {3}});
  k.with<tpu::mul_op>({});
  CHECK(ints(run_both(k)) == std::vector<std::int64_t>{8, -15, -42});

  op_call e("tpu.AddConst");
  tpu::add_const_op::attributes ca;
  ca.const_val = 0.5;
  e.in(a).out({dtype::f32, {2, 3}}).with<tpu::add_const_op>(ca);
  const tensor f = run_both(e);
  for (std::int64_t i = 0; i < 6; ++i) CHECK(f.data<float>()[i] == a.data<float>()[i] + 0.5f);

  op_call bad("tpu.Add");
  bad.in(a).in(i8({1, 3}, {1, 2, 3}), qtype(dtype::i8, {1, 3}, 0.1)).out({dtype::f32, {2, 3}}).with<tpu::add_op>({});
  CHECK_THROWS_WITH(run(bad, false), Catch::Contains("tpu.Cast"));
}
