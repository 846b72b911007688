// tpu.Cast and tpu.Conv2D on lowering_spec §7's worked examples (hand-computed, exact scales):
// the same 2-channel convolution on bm1684x (MultiplierShift, HalfUp), bm1684 (OnlyShift, int16
// bias) and cv183x (QDM, HalfAwayFromZero), each run through the interpreter, the fast kernels
// and the scalar reference.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mixq/quant/quant_type.hpp"

using namespace mixq;

namespace {

std::string uniform(dtype storage, double scale, std::int64_t zp = 0) {
  return quant::format(quant::uniform_type{storage, dtype::f32, scale, zp});
}

struct conv_case {
  std::string chip;
  std::vector<std::int8_t> filter;
  std::vector<std::int64_t> bias;  // int32, or int16 for bm1684
  bool bias16 = false;
  std::string quant_mode;
  std::vector<std::int64_t> multiplier, rshift;
  bool relu = false;
};

/// x [1,1,2,2] f32 -> Cast (i8, 1/64) -> Conv2D 2x2 (2 channels) -> [1,2,1,1] i8 at 1/32 -> Cast f32.
graph conv_model(const conv_case& c) {
  graph g;
  g.name = "conv";
  g.module_attributes.set("module.chip", attribute(c.chip));
  g.module_attributes.set("module.state", attribute(std::string("TPU_LOWERED")));
  const int arg = g.add_argument({dtype::f32, {1, 1, 2, 2}});
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int none = g.nodes.back().results[0];
  const int in = g.add<top::input_op>({arg}, {{dtype::f32, {1, 1, 2, 2}}}, {"x"});
  const int xq = g.add<tpu::cast_op>({g.nodes[static_cast<std::size_t>(in)].results[0]}, {{dtype::i8, {1, 1, 2, 2}, uniform(dtype::i8, 1.0 / 64)}},
                                      {"x_si8"});
  const int w = g.add<top::weight_op>({}, {{dtype::i8, {2, 1, 2, 2}}}, {"conv_filter_i8"});
  g.weights["conv_filter_i8"] = tensor::from_vector<std::int8_t>({2, 1, 2, 2}, c.filter);
  int b = none;
  if (!c.bias.empty()) {
    const dtype bt = c.bias16 ? dtype::i16 : dtype::i32;
    const int bn = g.add<top::weight_op>({}, {{bt, {1, 2, 1, 1}}}, {"conv_bias"});
    b = g.nodes[static_cast<std::size_t>(bn)].results[0];
    if (c.bias16) g.weights["conv_bias"] = tensor::from_vector<std::int16_t>({1, 2, 1, 1}, {static_cast<std::int16_t>(c.bias[0]), static_cast<std::int16_t>(c.bias[1])});
    else g.weights["conv_bias"] = tensor::from_vector<std::int32_t>({1, 2, 1, 1}, {static_cast<std::int32_t>(c.bias[0]), static_cast<std::int32_t>(c.bias[1])});
  }
  tpu::conv2d_op::attributes a;
  a.kernel_shape = std::vector<std::int64_t>{2, 2};
  a.strides = std::vector<std::int64_t>{1, 1};
  a.pads = std::vector<std::int64_t>{0, 0, 0, 0};
  a.with_bias = !c.bias.empty();
  a.quant_mode = c.quant_mode;
  a.multiplier = c.multiplier;
  a.rshift = c.rshift;
  a.do_relu = c.relu;
  const int conv = g.add<tpu::conv2d_op>({g.nodes[static_cast<std::size_t>(xq)].results[0], g.nodes[static_cast<std::size_t>(w)].results[0], b},
                                         {{dtype::i8, {1, 2, 1, 1}, uniform(dtype::i8, 1.0 / 32)}}, {"conv"}, a);
  const int y = g.add<tpu::cast_op>({g.nodes[static_cast<std::size_t>(conv)].results[0]}, {{dtype::f32, {1, 2, 1, 1}}}, {"conv_f32"});
  g.outputs = {g.nodes[static_cast<std::size_t>(conv)].results[0], g.nodes[static_cast<std::size_t>(y)].results[0]};
  return g;
}

std::vector<std::int64_t> run(const graph& g, bool reference = false) {
  const tensor x = tensor::from_vector<float>({1, 1, 2, 2}, {0.5f, 0.25f, -0.75f, 1.0f});  // x_q = [32, 16, -48, 64]
  std::vector<std::int64_t> q;
  if (!reference) {
    interpreter interp(g);
    const run_result r = interp.run({{"x", x}});
    const tensor& out = r.values[static_cast<std::size_t>(g.outputs[0])];
    for (std::int64_t i = 0; i < out.numel(); ++i) q.push_back(out.data<std::int8_t>()[i]);
    const tensor& f = r.values[static_cast<std::size_t>(g.outputs[1])];
    for (std::int64_t i = 0; i < f.numel(); ++i) CHECK(f.data<float>()[i] == static_cast<float>(q[static_cast<std::size_t>(i)]) / 32.f);
    return q;
  }
  // The op's scalar reference, on the quantized input, with the declared types.
  const node* conv_node = nullptr;
  for (const node& n : g.nodes)
    if (n.mnemonic() == "tpu.Conv2D") conv_node = &n;
  REQUIRE(conv_node);
  const node& conv = *conv_node;
  const tensor xq = tensor::from_vector<std::int8_t>({1, 1, 2, 2}, {32, 16, -48, 64});
  std::vector<const tensor*> in{&xq, &g.weights.at("conv_filter_i8"), g.weights.count("conv_bias") ? &g.weights.at("conv_bias") : nullptr};
  std::vector<const tensor_type*> types;
  for (int v : conv.operands) types.push_back(&g.values[static_cast<std::size_t>(v)].type);
  std::vector<tensor_type> out_types{g.values[static_cast<std::size_t>(conv.results[0])].type};
  std::vector<tensor> outs(1);
  top::kernel_context k{in, outs, out_types, nullptr, types, &g.module_attributes};
  conv.op->reference(k, conv.decoded.get());
  for (std::int64_t i = 0; i < outs[0].numel(); ++i) q.push_back(outs[0].data<std::int8_t>()[i]);
  return q;
}

}  // namespace

TEST_CASE("bm1684x Conv2D: MultiplierShift (1, 8), HalfUp: 17.875 -> 18 and -14.5 -> -14 (spec 7.1)") {
  conv_case c{"bm1684x", {127, -64, 32, 16, -127, 64, 0, 0}, {2048, -672}, false, "MultiplierShift", {1, 1}, {8, 8}};
  const graph g = conv_model(c);
  CHECK(run(g) == std::vector<std::int64_t>{18, -14});
  CHECK(run(g, true) == std::vector<std::int64_t>{18, -14});
  c.relu = true;
  CHECK(run(conv_model(c)) == std::vector<std::int64_t>{18, 0});
}

TEST_CASE("bm1684 Conv2D: OnlyShift 7 with an int16 bias: 18 and -15 (spec 7.5)") {
  conv_case c{"bm1684", {64, -32, 16, 8, -64, 32, 0, 0}, {1024, -336}, true, "OnlyShift", {}, {7}};
  const graph g = conv_model(c);
  CHECK(run(g) == std::vector<std::int64_t>{18, -15});
  CHECK(run(g, true) == std::vector<std::int64_t>{18, -15});
}

TEST_CASE("cv183x Conv2D: QDM (1073741824, 7), final shift HalfAwayFromZero: 18 and -15 (spec 7.6)") {
  conv_case c{"cv183x", {127, -64, 32, 16, -127, 64, 0, 0}, {2048, -672}, false, "QDM", {1073741824, 1073741824}, {7, 7}};
  const graph g = conv_model(c);
  CHECK(run(g) == std::vector<std::int64_t>{18, -15});
  CHECK(run(g, true) == std::vector<std::int64_t>{18, -15});
}

TEST_CASE("tpu.Cast quantizes half away from zero (32.5 -> 33) and dequantizes in float") {
  graph g;
  g.module_attributes.set("module.chip", attribute(std::string("bm1684x")));
  const int arg = g.add_argument({dtype::f32, {4}});
  const int in = g.add<top::input_op>({arg}, {{dtype::f32, {4}}}, {"x"});
  const int q = g.add<tpu::cast_op>({g.nodes[static_cast<std::size_t>(in)].results[0]}, {{dtype::i8, {4}, uniform(dtype::i8, 1.0 / 64)}}, {"q"});
  const int d = g.add<tpu::cast_op>({g.nodes[static_cast<std::size_t>(q)].results[0]}, {{dtype::f32, {4}}}, {"d"});
  g.outputs = {g.nodes[static_cast<std::size_t>(q)].results[0], g.nodes[static_cast<std::size_t>(d)].results[0]};
  interpreter interp(g);
  const auto r = interp.run({{"x", tensor::from_vector<float>({4}, {0.5078125f, -0.5078125f, 10.f, -3.f})}});
  const tensor& qt = r.values[static_cast<std::size_t>(g.outputs[0])];
  CHECK(std::vector<std::int8_t>(qt.data<std::int8_t>(), qt.data<std::int8_t>() + 4) == std::vector<std::int8_t>{33, -33, 127, -128});
  const tensor& dt = r.values[static_cast<std::size_t>(g.outputs[1])];
  CHECK(dt.data<float>()[0] == 33.f / 64);
  CHECK(dt.data<float>()[3] == -2.f);
}

TEST_CASE("a lowered model prints and reads back with its quantized types, enum attributes and integer weights") {
  conv_case c{"bm1684x", {127, -64, 32, 16, -127, 64, 0, 0}, {2048, -672}, false, "MultiplierShift", {1, 1}, {8, 8}};
  const graph g = conv_model(c);
  const std::string text = print_mlir(g);
  CHECK(text.find("quant_mode = #tpu<rq_mode MultiplierShift>") != std::string::npos);
  CHECK(text.find("!quant.uniform<i8:f32, 0.015625>") != std::string::npos);
  graph back = parse_mlir(text);
  back.weights = g.weights;
  CHECK(run(back) == std::vector<std::int64_t>{18, -14});
}
