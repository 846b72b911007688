// tpu.Pool2D (Avg/Max): lowering_spec 7.3 (bm1684x), 7.5 (bm1684's reciprocal table) and 7.6
// (cv183x's truncated multiplier, HalfUp) worked examples, the border cases (count_include_pad,
// zero-point padding, ceil mode), the asymmetric scale/offset form, MaxPool's relu, the float
// forms, and the fast loops against the scalar reference.
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

tpu::pool_attributes pool(std::int64_t k, std::int64_t s, std::vector<std::int64_t> pads, const char* mode = "Avg") {
  tpu::pool_attributes a;
  a.kernel_shape = std::vector<std::int64_t>{k, k};
  a.strides = std::vector<std::int64_t>{s, s};
  a.pads = std::move(pads);
  a.pool_mode = tpu::pool_mode_attr(mode);
  return a;
}

op_call pool_call(std::string chip, const tensor& x, const tensor_type& xt, const tensor_type& yt, const tpu::pool_attributes& a, bool asym = false) {
  op_call c("tpu.Pool2D", std::move(chip), asym);
  c.in(x, xt).out(yt).with<tpu::pool2d_op>(a);
  return c;
}

}  // namespace

TEST_CASE("bm1684x AvgPool 2x2 (1, 2): 11.5 -> 12, -11.5 -> -11, 11.75 -> 12 (spec 7.3), through the interpreter too") {
  const tensor x = i8({1, 3, 2, 2}, {10, 11, 12, 13, -10, -11, -12, -13, 10, 11, 12, 14});
  auto a = pool(2, 2, {0, 0, 0, 0});
  a.multiplier = top::si32(1);
  a.rshift = top::si32(2);
  const op_call c = pool_call("bm1684x", x, qtype(dtype::i8, {1, 3, 2, 2}, 1.0 / 64), qtype(dtype::i8, {1, 3, 1, 1}, 1.0 / 64), a);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{12, -11, 12});

  graph g;
  g.module_attributes.set("module.chip", attribute(std::string("bm1684x")));
  const int arg = g.add_argument({dtype::f32, {1, 3, 2, 2}});
  const int in = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, {1, 3, 2, 2}}}, {"x"}))].results[0];
  const int xq = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({in}, {qtype(dtype::i8, {1, 3, 2, 2}, 1.0 / 64)}, {"xq"}))].results[0];
  const int p = g.nodes[static_cast<std::size_t>(g.add<tpu::pool2d_op>({xq}, {qtype(dtype::i8, {1, 3, 1, 1}, 1.0 / 64)}, {"pool"}, a))].results[0];
  g.outputs = {p};
  tensor xf = tensor::empty(dtype::f32, {1, 3, 2, 2});
  for (std::int64_t i = 0; i < 12; ++i) xf.data<float>()[i] = x.data<std::int8_t>()[i] / 64.f;
  interpreter run(g);
  CHECK(ints(run.run({{"x", xf}}).values[static_cast<std::size_t>(p)]) == std::vector<std::int64_t>{12, -11, 12});
}

TEST_CASE("bm1684x AvgPool 3x3 (57, 9): nine 127s -> 127, a corner without count_include_pad -> round(41.5 * 9) = 374 -> 42 (spec 7.3)") {
  auto a = pool(3, 1, {0, 0, 0, 0});
  a.multiplier = top::si32(57);
  a.rshift = top::si32(9);
  const tensor nines = i8({1, 1, 3, 3}, std::vector<std::int8_t>(9, 127));
  CHECK(ints(run_both(pool_call("bm1684x", nines, qtype(dtype::i8, {1, 1, 3, 3}, 1.0 / 64), qtype(dtype::i8, {1, 1, 1, 1}, 1.0 / 64), a))) ==
        std::vector<std::int64_t>{127});
  a.pads = std::vector<std::int64_t>{1, 1, 1, 1};
  const tensor corner = i8({1, 1, 2, 2}, {40, 41, 42, 43});
  const auto xt = qtype(dtype::i8, {1, 1, 2, 2}, 1.0 / 64);
  CHECK(ints(run_both(pool_call("bm1684x", corner, xt, xt, a))) == std::vector<std::int64_t>{42, 42, 42, 42});
  a.count_include_pad = true;  // 166 / 9 * 9 = 166 -> 166 * 57 / 512 = 18.48
  CHECK(ints(run_both(pool_call("bm1684x", corner, xt, xt, a))) == std::vector<std::int64_t>{18, 18, 18, 18});
}

TEST_CASE("bm1684 AvgPool uses the reciprocal table: 3x3 -> (57, 9), nine 127s -> 127 (spec 7.5)") {
  const quant::multiplier_shift ms = quant::avgpool_reciprocal_bm1684(9);
  CHECK(ms == quant::multiplier_shift{57, 9});
  auto a = pool(3, 1, {0, 0, 0, 0});
  a.multiplier = top::si32(ms.multiplier);
  a.rshift = top::si32(ms.shift);
  const tensor nines = i8({1, 1, 3, 3}, std::vector<std::int8_t>(9, 127));
  CHECK(ints(run_both(pool_call("bm1684", nines, qtype(dtype::i8, {1, 1, 3, 3}, 1.0 / 64), qtype(dtype::i8, {1, 1, 1, 1}, 1.0 / 64), a))) ==
        std::vector<std::int64_t>{127});
}

TEST_CASE("cv183x AvgPool: (113, 10) gives nine 127s -> 126.13 -> 126, (64, 8) gives -11.5 -> HalfUp -11 (spec 7.6)") {
  auto a = pool(3, 1, {0, 0, 0, 0});
  a.multiplier = top::si32(113);
  a.rshift = top::si32(10);
  const tensor nines = i8({1, 1, 3, 3}, std::vector<std::int8_t>(9, 127));
  CHECK(ints(run_both(pool_call("cv183x", nines, qtype(dtype::i8, {1, 1, 3, 3}, 1.0 / 64), qtype(dtype::i8, {1, 1, 1, 1}, 1.0 / 32), a))) ==
        std::vector<std::int64_t>{126});
  a = pool(2, 2, {0, 0, 0, 0});
  a.multiplier = top::si32(64);
  a.rshift = top::si32(8);
  CHECK(ints(run_both(pool_call("cv183x", i8({1, 1, 2, 2}, {-10, -11, -12, -13}), qtype(dtype::i8, {1, 1, 2, 2}, 1.0 / 64),
                                qtype(dtype::i8, {1, 1, 1, 1}, 1.0 / 32), a))) == std::vector<std::int64_t>{-11});
}

TEST_CASE("asymmetric AvgPool: avg * kh * kw * scale + offset, the padding filled with the input zero point and counted") {
  auto a = pool(2, 1, {0, 0, 1, 1});
  a.scale = 0.25;    // s_in / (kh kw s_out) with s_in = s_out
  a.offset = -5.0;   // zp_out - zp_in
  const tensor x = u8({1, 1, 2, 2}, {20, 30, 40, 50});
  const op_call c = pool_call("bm1684x", x, qtype(dtype::u8, {1, 1, 2, 2}, 0.1, 10), qtype(dtype::u8, {1, 1, 2, 2}, 0.1, 5), a, true);
  // (20+30+40+50)/4 - 5 = 30 ; (30+10+50+10)/4 - 5 = 20 ; (40+50+10+10)/4 - 5 = 22.5 -> 23 ; (50+30)/4 - 5 = 15
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{30, 20, 23, 15});
  a.round_mode = "HalfToEven";
  CHECK(ints(run_both(pool_call("bm1684x", x, c.types[0], c.results[0], a, true))) == std::vector<std::int64_t>{30, 20, 22, 15});
}

TEST_CASE("symmetric AvgPool without multiplier and rshift rounds the average, do_relu clamps at the output zero point") {
  auto a = pool(2, 2, {0, 0, 0, 0});
  const tensor x = i8({1, 2, 2, 2}, {1, 2, 2, 2, -1, -2, -2, -2});
  const auto xt = qtype(dtype::i8, {1, 2, 2, 2}, 0.1), yt = qtype(dtype::i8, {1, 2, 1, 1}, 0.1);
  CHECK(ints(run_both(pool_call("bm1684x", x, xt, yt, a))) == std::vector<std::int64_t>{2, -2});
  a.do_relu = true;
  CHECK(ints(run_both(pool_call("bm1684x", x, xt, yt, a))) == std::vector<std::int64_t>{2, 0});
}

TEST_CASE("MaxPool int8: padding never wins, do_relu clamps at 0 as TPU-MLIR does") {
  auto a = pool(2, 1, {1, 1, 1, 1}, "Max");
  const tensor x = i8({1, 1, 2, 2}, {-5, -3, 7, -1});
  const auto xt = qtype(dtype::i8, {1, 1, 2, 2}, 0.1), yt = qtype(dtype::i8, {1, 1, 3, 3}, 0.1);
  CHECK(ints(run_both(pool_call("bm1684x", x, xt, yt, a))) == std::vector<std::int64_t>{-5, -3, -3, 7, 7, -1, 7, 7, -1});
  a.do_relu = true;
  CHECK(ints(run_both(pool_call("bm1684x", x, xt, yt, a))) == std::vector<std::int64_t>{0, 0, 0, 7, 7, 0, 7, 7, 0});
}

TEST_CASE("the integer pooling loops equal the scalar reference on random geometries, types, zero points and chips") {
  std::mt19937 rng(23);
  struct geo {
    shape_t x;
    std::int64_t k, s;
    std::vector<std::int64_t> pads;
    bool ceil;
  };
  const std::vector<geo> geos{{{2, 3, 7, 7}, 3, 2, {1, 1, 1, 1}, false}, {{1, 4, 8, 6}, 2, 2, {0, 0, 0, 0}, false},
                              {{1, 2, 8, 8}, 3, 2, {0, 0, 0, 0}, true},  {{1, 5, 7, 7}, 7, 1, {0, 0, 0, 0}, false},
                              {{3, 2, 5, 6}, 3, 1, {1, 0, 2, 1}, false}, {{1, 1, 10, 10}, 5, 3, {2, 2, 2, 2}, true}};
  int n = 0;
  for (const geo& g : geos)
    for (dtype t : {dtype::i8, dtype::u8})
      for (int form = 0; form < 6; ++form) {
        tpu::pool_attributes a = pool(g.k, g.s, g.pads, form == 5 ? "Max" : "Avg");
        a.ceil_mode = g.ceil;
        a.count_include_pad = form == 1;
        a.do_relu = form >= 4;
        std::string chip = form == 2 ? "cv183x" : "bm1684x";
        const bool asym = form == 3;
        if (form != 3) {
          a.multiplier = top::si32(form == 4 ? 1 : 57);
          a.rshift = top::si32(form == 4 ? 0 : 9);
        } else {
          a.scale = 0.07;
          a.offset = 3.25;
        }
        const auto geom = top::detail::make_pool_geometry("test", g.x, tpu::detail::top_pool_attributes(a));
        const tensor x = random_bytes(rng, t, g.x);
        const std::int64_t zp = t == dtype::u8 ? 128 : (form == 1 || form == 3 ? 9 : 0);
        const op_call c = pool_call(chip, x, qtype(t, g.x, 0.1, zp), qtype(t, geom.out_shape, 0.1, t == dtype::u8 ? 3 : -2), a, asym);
        INFO("geometry " << n / 12 << " form " << form);
        run_both(c);
        ++n;
      }
  CHECK(n == 72);
}

TEST_CASE("tpu.Pool2D in float runs top.AvgPool/top.MaxPool with the fused relu, adaptive pooling to the declared size") {
  std::mt19937 rng(4);
  const tensor x = random_floats(rng, {1, 2, 5, 5});
  auto a = pool(3, 2, {1, 1, 1, 1});
  a.do_relu = true;
  op_call c("tpu.Pool2D");
  c.in(x).out({dtype::f32, {1, 2, 3, 3}}).with<tpu::pool2d_op>(a);
  const tensor y = run_both(c);
  top::pool_attributes t = tpu::detail::top_pool_attributes(a);
  attr_dict d;
  top::encode_attributes(t, d);
  std::vector<tensor> outs(1);
  const std::vector<const tensor*> ins{&x};
  const std::vector<tensor_type> types{{dtype::f32, {1, 2, 3, 3}}};
  top::kernel_context k{ins, outs, types};
  top::avg_pool_op::reference(k, t);
  CHECK(close(y, outs[0]));

  a.pool_mode = tpu::pool_mode_attr("Max");
  c.with<tpu::pool2d_op>(a);
  c.results[0] = {dtype::f16, {1, 2, 3, 3}};
  const tensor h = run_both(c);
  for (std::int64_t i = 0; i < h.numel(); ++i) CHECK(static_cast<float>(h.data<float16>()[i]) >= 0.f);

  auto ad = pool(1, 1, {0, 0, 0, 0});
  ad.is_adaptive = true;
  op_call g("tpu.Pool2D");
  g.in(x).out({dtype::f32, {1, 2, 1, 1}}).with<tpu::pool2d_op>(ad);
  const tensor m = run_both(g);
  for (std::int64_t p = 0; p < 2; ++p) {
    double s = 0;
    for (std::int64_t i = 0; i < 25; ++i) s += x.data<float>()[p * 25 + i];
    CHECK(m.data<float>()[p] == Approx(s / 25).margin(1e-6));
  }
}
