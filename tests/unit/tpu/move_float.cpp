// Data movement on int8 values (the TOP kernels on the stored integers, TPU-MLIR's operand lists
// with their `none` buffers), tpu.Concat's CV18xx requant, tpu.Pad's stored-domain value,
// tpu.Upsample, the float-only ops (LayerNorm, Interp, Reduce...), and a lowered file with the
// new dialect attributes read back from its text.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "tpu_harness.hpp"

using namespace mixq;
using namespace tpu_test;

namespace {

/// The TOP op on the same values held as f32 (exact for int8).
tensor top_on_floats(std::string_view mnemonic, const std::vector<tensor>& inputs, const attr_dict& attrs, const tensor_type& result) {
  const top::op_info& info = top::ops().at(mnemonic);
  const top::attr_ptr decoded = info.decode(attrs);
  std::vector<tensor> f;
  for (const tensor& t : inputs) f.push_back(t.defined() && !is_floating(t.elem()) && &t == &inputs[0] ? t.cast(dtype::f32) : t);
  std::vector<const tensor*> ptrs;
  for (const tensor& t : f) ptrs.push_back(t.defined() ? &t : nullptr);
  std::vector<tensor> outs(1);
  const std::vector<tensor_type> types{{dtype::f32, result.shape}};
  top::kernel_context k{ptrs, outs, types};
  info.reference(k, decoded.get());
  return outs[0];
}

void check_moves_like_top(op_call c, std::string_view top_mnemonic, std::size_t top_operands) {
  const tensor y = run_both(c);
  std::vector<tensor> ins(c.inputs.begin(), c.inputs.begin() + static_cast<std::ptrdiff_t>(top_operands));
  const tensor f = top_on_floats(top_mnemonic, ins, c.attrs, c.results[0]);
  REQUIRE(f.numel() == y.numel());
  for (std::int64_t i = 0; i < y.numel(); ++i) REQUIRE(static_cast<double>(f.data<float>()[i]) == element_as_double(y, i));
}

}  // namespace

TEST_CASE("data movement runs the TOP kernels on the stored int8 values, TPU-MLIR's buffer operands accepted") {
  std::mt19937 rng(31);
  const shape_t s{2, 4, 3, 6};
  const tensor x = random_bytes(rng, dtype::i8, s);
  const auto xt = qtype(dtype::i8, s, 0.1);
  const auto like = [&](shape_t shape) { return qtype(dtype::i8, std::move(shape), 0.1); };
  {
    op_call c("tpu.Permute");
    top::permute_op::attributes a;
    a.order = std::vector<std::int64_t>{0, 2, 3, 1};
    c.in(x, xt).none().out(like({2, 3, 6, 4})).with<tpu::permute_op>(a);
    check_moves_like_top(c, "top.Permute", 1);
  }
  {
    op_call c("tpu.Slice");
    top::slice_op::attributes a;
    a.offset = std::vector<std::int64_t>{0, 1, 0, 1};
    a.ends = std::vector<std::int64_t>{2, 4, 3, 6};
    a.steps = std::vector<std::int64_t>{1, 2, 1, 2};
    c.in(x, xt).none().none().none().none().out(like({2, 2, 3, 3})).with<tpu::slice_op>(a);
    check_moves_like_top(c, "top.Slice", 1);
  }
  {
    op_call c("tpu.Depth2Space");
    top::depth2space_op::attributes a;
    a.block_h = 2;
    a.block_w = 2;
    a.is_CRD = true;
    a.is_inversed = false;
    c.in(x, xt).out(like({2, 1, 6, 12})).with<tpu::depth2space_op>(a);
    check_moves_like_top(c, "top.Depth2Space", 1);
  }
  {
    op_call c("tpu.Tile");
    top::tile_op::attributes a;
    a.tile = std::vector<std::int64_t>{1, 2, 1, 3};
    c.in(x, xt).none().none().out(like({2, 8, 3, 18})).with<tpu::tile_op>(a);
    check_moves_like_top(c, "top.Tile", 1);
  }
  {
    op_call c("tpu.Unsqueeze");
    top::unsqueeze_op::attributes a;
    a.axes = std::vector<std::int64_t>{0};
    c.in(x, xt).out(like({1, 2, 4, 3, 6})).with<tpu::unsqueeze_op>(a);
    check_moves_like_top(c, "top.Unsqueeze", 1);
  }
  {
    op_call c("tpu.Reshape");
    tpu::reshape_op::attributes a;  // shape = [] as TPU-MLIR leaves it: the declared type decides
    c.in(x, xt).none().out(like({8, 18})).with<tpu::reshape_op>(a);
    const tensor y = run_both(c);
    CHECK(std::memcmp(y.raw(), x.raw(), x.nbytes()) == 0);
    c.results[0] = like({8, 17});
    CHECK_THROWS_WITH(run(c, false), Catch::Contains("cannot reshape"));
  }
  {
    op_call c("tpu.ShuffleChannel");
    top::shuffle_channel_op::attributes a;
    a.group = 2;
    c.in(x, xt).out(like(s)).with<tpu::shuffle_channel_op>(a);
    check_moves_like_top(c, "top.ShuffleChannel", 1);
  }
  {
    op_call c("tpu.Gather");
    top::gather_op::attributes a;
    a.axis = top::si32(1);
    c.in(x, xt).in(tensor::from_vector<float>({2}, {3.f, 0.f}), true).none().out(like({2, 2, 3, 6})).with<tpu::gather_op>(a);
    check_moves_like_top(c, "top.Gather", 2);
  }
  {
    op_call c("tpu.Permute");
    top::permute_op::attributes a;
    a.order = std::vector<std::int64_t>{0, 1, 3, 2};
    c.in(x, xt).none().out({dtype::u8, {2, 4, 6, 3}}).with<tpu::permute_op>(a);
    CHECK_THROWS_WITH(run(c, false), Catch::Contains("keeps the element type"));
  }
}

TEST_CASE("tpu.Pad fills with its value as stored (the lowering's round(val / s + zp)), tpu.Upsample repeats values and applies its relu") {
  op_call p("tpu.Pad");
  tpu::pad_op::attributes a;
  a.paddings = std::vector<std::int64_t>{0, 1, 0, 2};
  a.val = -3.0;
  p.in(i8({1, 2}, {5, -7}), qtype(dtype::i8, {1, 2}, 0.1, -3)).none().none().none().none().out(qtype(dtype::i8, {1, 5}, 0.1, -3));
  p.with<tpu::pad_op>(a);
  CHECK(ints(run_both(p)) == std::vector<std::int64_t>{-3, 5, -7, -3, -3});
  a.mode = "edge";
  p.with<tpu::pad_op>(a);
  CHECK(ints(run_both(p)) == std::vector<std::int64_t>{5, 5, -7, -7, -7});

  op_call u("tpu.Upsample");
  tpu::upsample_op::attributes ua;
  ua.scale_h = 2;
  ua.scale_w = 3;
  ua.do_relu = true;
  u.in(i8({1, 1, 1, 2}, {-4, 9}), qtype(dtype::i8, {1, 1, 1, 2}, 0.1)).out(qtype(dtype::i8, {1, 1, 2, 6}, 0.1)).with<tpu::upsample_op>(ua);
  CHECK(ints(run_both(u)) == std::vector<std::int64_t>{0, 0, 0, 9, 9, 9, 0, 0, 0, 9, 9, 9});
  std::mt19937 rng(6);
  ua.do_relu = false;
  u.inputs[0] = random_floats(rng, {2, 3, 4, 5}).cast(dtype::f16);
  u.types[0] = u.inputs[0].type();
  u.results[0] = {dtype::f16, {2, 3, 8, 15}};
  u.with<tpu::upsample_op>(ua);
  run_both(u);
}

TEST_CASE("tpu.Concat joins int8 inputs, on CV18xx an input with (multiplier, rshift) != (1, 0) is requantized first") {
  const tensor a = i8({1, 2}, {10, -10}), b = i8({1, 1}, {100});
  tpu::concat_op::attributes at;
  at.axis = top::si32(1);
  op_call c("tpu.Concat");
  c.in(a, qtype(dtype::i8, {1, 2}, 0.1)).in(b, qtype(dtype::i8, {1, 1}, 0.1)).out(qtype(dtype::i8, {1, 3}, 0.1)).with<tpu::concat_op>(at);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{10, -10, 100});
  at.multipliers = std::vector<std::int64_t>{1, 3};
  at.rshifts = std::vector<std::int64_t>{0, 1};
  at.do_relu = true;
  c.with<tpu::concat_op>(at);
  CHECK(ints(run_both(c)) == std::vector<std::int64_t>{10, 0, 100});  // BM168x ignores them (the lowering inserts MulShift)
  op_call v = c;
  v.module.set("module.chip", attribute(std::string("cv183x")));
  CHECK(ints(run_both(v)) == std::vector<std::int64_t>{10, 0, 127});  // 100 * 3 / 2 saturates
}

TEST_CASE("float-only TPU ops run their TOP op with TPU-MLIR's extra operands, and reject quantized operands") {
  std::mt19937 rng(13);
  const tensor x = random_floats(rng, {2, 3, 8});
  const tensor w = random_floats(rng, {8}), b = random_floats(rng, {8});
  top::layer_norm_op::attributes ln;
  ln.normalized_shape = std::vector<std::int64_t>{8};
  ln.axis = top::si32(2);
  ln.eps = 1e-5;
  op_call c("tpu.LayerNorm");
  c.in(x).in(w, true).in(b, true).none().none().out({dtype::f32, {2, 3, 8}}).with<tpu::layer_norm_op>(ln);
  const tensor y = run_both(c);
  CHECK(close(y, top_on_floats("top.LayerNorm", {x, w, b}, c.attrs, c.results[0])));

  tpu::interp_op::attributes ia;
  ia.scale_h = 2.0;
  ia.scale_w = 2.0;
  ia.mode = tpu::resize_mode_attr("linear");
  ia.coord_mode = tpu::resize_coord_mode_attr("half_pixel");
  const tensor img = random_floats(rng, {1, 2, 3, 4});
  op_call i("tpu.Interp");
  i.in(img).none().none().out({dtype::f32, {1, 2, 6, 8}}).with<tpu::interp_op>(ia);
  const tensor r = run_both(i);
  top::interp_op::attributes ta = tpu::interp_op::top_attributes(ia);
  attr_dict td;
  top::encode_attributes(ta, td);
  CHECK(close(r, top_on_floats("top.Interp", {img}, td, i.results[0])));

  top::reduce_op::attributes ra;
  ra.axes = std::vector<std::int64_t>{2};
  ra.keepdims = false;
  ra.mode.value = std::string("ReduceMean");
  op_call red("tpu.Reduce");
  red.in(x).none().none().out({dtype::f16, {2, 3}}).with<tpu::reduce_op>(ra);
  run_both(red);

  op_call q("tpu.LayerNorm");
  q.in(random_bytes(rng, dtype::i8, {2, 3, 8}), qtype(dtype::i8, {2, 3, 8}, 0.1)).in(w, true).in(b, true).none().none();
  q.out(qtype(dtype::i8, {2, 3, 8}, 0.1)).with<tpu::layer_norm_op>(ln);
  CHECK_THROWS_WITH(run(q, false), Catch::Contains("only in float"));
}

TEST_CASE("a lowered file with Pool2D, MatMul, Add, Active, Pad and Interp prints its #tpu enums and reads back") {
  graph g;
  g.module_attributes.set("module.chip", attribute(std::string("bm1684x")));
  g.module_attributes.set("module.state", attribute(std::string("TPU_LOWERED")));
  const int arg = g.add_argument({dtype::f32, {1, 2, 4, 4}});
  const int none = g.nodes[static_cast<std::size_t>(g.add<top::none_op>({}, {tensor_type::none()}, {""}))].results[0];
  const int in = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, {1, 2, 4, 4}}}, {"x"}))].results[0];
  const int xq = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({in}, {qtype(dtype::i8, {1, 2, 4, 4}, 1.0 / 64)}, {"xq"}))].results[0];
  tpu::pool_attributes pa;
  pa.kernel_shape = std::vector<std::int64_t>{2, 2};
  pa.strides = std::vector<std::int64_t>{2, 2};
  pa.pads = std::vector<std::int64_t>{0, 0, 0, 0};
  pa.pool_mode = tpu::pool_mode_attr("Avg");
  pa.multiplier = top::si32(1);
  pa.rshift = top::si32(2);
  const int pool = g.nodes[static_cast<std::size_t>(g.add<tpu::pool2d_op>({xq}, {qtype(dtype::i8, {1, 2, 2, 2}, 1.0 / 64)}, {"pool"}, pa))].results[0];
  tpu::add_op::attributes aa;
  aa.multipliers = std::vector<std::int64_t>{1, 1};
  aa.rshifts = std::vector<std::int64_t>{0, 0};
  const int sum = g.nodes[static_cast<std::size_t>(g.add<tpu::add_op>({pool, pool}, {qtype(dtype::i8, {1, 2, 2, 2}, 1.0 / 32)}, {"sum"}, aa))].results[0];
  tpu::pad_op::attributes pd;
  pd.paddings = std::vector<std::int64_t>{0, 0, 1, 1, 0, 0, 1, 1};
  const int pad = g.nodes[static_cast<std::size_t>(g.add<tpu::pad_op>({sum, none, none, none, none}, {qtype(dtype::i8, {1, 2, 4, 4}, 1.0 / 32)}, {"pad"}, pd))].results[0];
  const int f = g.nodes[static_cast<std::size_t>(g.add<tpu::cast_op>({pad}, {{dtype::f32, {1, 2, 4, 4}}}, {"padf"}))].results[0];
  tpu::active_op::attributes act;
  act.mode = tpu::active_mode_attr("SIGMOID");
  const int sig = g.nodes[static_cast<std::size_t>(g.add<tpu::active_op>({f}, {{dtype::f32, {1, 2, 4, 4}}}, {"sig"}, act))].results[0];
  tpu::interp_op::attributes ia;
  ia.scale_h = 2.0;
  ia.scale_w = 2.0;
  ia.mode = tpu::resize_mode_attr("nearest");
  ia.coord_mode = tpu::resize_coord_mode_attr("asymmetric");
  const int up = g.nodes[static_cast<std::size_t>(g.add<tpu::interp_op>({sig, none, none}, {{dtype::f32, {1, 2, 8, 8}}}, {"up"}, ia))].results[0];
  g.outputs = {up};

  const std::string text = print_mlir(g);
  for (const char* s : {"pool_mode = #tpu<pool_mode Avg>", "mode = #tpu<active_mode SIGMOID>", "mode = #tpu<Pad_Mode constant>",
                        "mode = #tpu<mode nearest>", "coord_mode = #tpu<coord_mode asymmetric>", "rshift = 2 : si32"})
    CHECK(text.find(s) != std::string::npos);
  graph back = parse_mlir(text);
  std::mt19937 rng(1);
  const tensor x = random_floats(rng, {1, 2, 4, 4}, -1.f, 1.f);
  interpreter a(g), b(back);
  const tensor ya = a.run({{"x", x}}).values[static_cast<std::size_t>(up)];
  const tensor yb = b.run({{"x", x}}).values[static_cast<std::size_t>(back.outputs[0])];
  CHECK(same_bytes(ya, yb));
  CHECK(ya.data<float>()[0] == static_cast<float>(1 / (1 + std::exp(-0.0))));  // the padded corner: sigmoid(0)
}
