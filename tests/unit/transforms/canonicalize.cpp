#include "transform_support.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
top::conv_op::attributes conv3x3(std::int64_t pad = 1, std::int64_t group = 1) {
  top::conv_op::attributes a;
  a.kernel_shape = std::vector<std::int64_t>{3, 3};
  a.strides = std::vector<std::int64_t>{1, 1};
  a.pads = std::vector<std::int64_t>{pad, pad, pad, pad};
  a.group = group;
  return a;
}
top::mul_const_op::attributes times(double c) {
  top::mul_const_op::attributes a;
  a.const_val = c;
  return a;
}
top::add_const_op::attributes plus(double c) {
  top::add_const_op::attributes a;
  a.const_val = c;
  return a;
}
top::clip_op::attributes clip(double lo, double hi) {
  top::clip_op::attributes a;
  a.min = lo;
  a.max = hi;
  return a;
}
}  // namespace

TEST_CASE("Relu fuses into a single-use Conv, which takes the Relu's name", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 3, 9, 7});
  const int c = b.op<top::conv_op>({x, b.random_weight("w", {4, 3, 3, 3}), b.random_weight("bias", {4})}, "5_Conv", conv3x3());
  b.outputs({b.op<top::relu_op>({c}, "6_Relu")});
  const graph g = canonicalized(b.g);
  REQUIRE(count_ops(g, "top.Relu") == 0);
  const node& conv = node_named(g, "6_Relu");
  REQUIRE(conv.is<top::conv_op>());
  CHECK(conv.attributes<top::conv_op>().do_relu);
  CHECK(g.find_value("5_Conv") < 0);
}

TEST_CASE("Relu after an op with two readers, or after a non-fusing op, stays", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 3, 8, 8});
  const int c = b.op<top::conv_op>({x, b.random_weight("w", {3, 3, 3, 3}), b.none}, "c_Conv", conv3x3());
  const int r = b.op<top::relu_op>({c}, "r_Relu");
  const int add = b.op<top::add_op>({c, r}, "a_Add");
  const int sig = b.op<top::sigmoid_op>({add}, "s_Sigmoid");
  b.outputs({b.op<top::relu_op>({sig}, "r2_Relu")});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Relu") == std::vector<std::string>{"r_Relu", "r2_Relu"});
  CHECK_FALSE(node_named(g, "c_Conv").attributes<top::conv_op>().do_relu);
}

TEST_CASE("Add + Relu becomes one Add named like the Relu, MatMul too", "[transforms]") {
  builder b;
  const int x = b.input("x", {2, 6}), y = b.input("y", {2, 6});
  const int add = b.op<top::add_op>({x, y}, "83_Add");
  const int r = b.op<top::relu_op>({add}, "84_Relu");
  const int mm = b.op<top::matmul_op>({r, b.random_weight("m", {6, 5}), b.none}, "mm_MatMul");
  b.outputs({b.op<top::relu_op>({mm}, "out_Relu")});
  const graph g = canonicalized(b.g);
  CHECK(node_named(g, "84_Relu").is<top::add_op>());
  CHECK(node_named(g, "84_Relu").attributes<top::add_op>().do_relu);
  CHECK(node_named(g, "out_Relu").is<top::matmul_op>());
  CHECK(count_ops(g, "top.Relu") == 0);
}

TEST_CASE("Clip(0, 6) becomes a limited Relu that fuses, other Clips stay", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 2, 6, 6});
  const int c = b.op<top::conv_op>({x, b.random_weight("w", {2, 2, 3, 3}, -3, 3), b.none}, "c_Conv", conv3x3());
  const int r6 = b.op<top::clip_op>({c}, "r6_Clip", clip(0, 6));
  b.outputs({b.op<top::clip_op>({r6}, "k_Clip", clip(-1, 2))});
  const graph g = canonicalized(b.g, 3, -10, 10);
  const node& conv = node_named(g, "r6_Clip");
  REQUIRE(conv.is<top::conv_op>());
  CHECK(conv.attributes<top::conv_op>().do_relu);
  CHECK(conv.attributes<top::conv_op>().relu_limit == 6.0);
  CHECK(node_named(g, "k_Clip").is<top::clip_op>());
}

TEST_CASE("BatchNorm folds into the Conv before it, a following Relu then names the Conv", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 3, 7, 7});
  const int c = b.op<top::conv_op>({x, b.random_weight("w", {5, 3, 3, 3}), b.random_weight("cb", {5})}, "c_Conv", conv3x3());
  const int bn = b.op<top::batch_norm_op>({c, b.random_weight("mean", {5}), b.random_weight("var", {5}, 0.5f, 2.f),
                                           b.random_weight("gamma", {5}), b.random_weight("beta", {5})},
                                          "bn_BatchNormalization");
  const int c2 = b.op<top::conv_op>({bn, b.random_weight("w2", {4, 5, 3, 3}), b.none}, "c2_Conv", conv3x3());
  const int bn2 = b.op<top::batch_norm_op>({c2, b.random_weight("mean2", {4}), b.random_weight("var2", {4}, 0.5f, 2.f),
                                            b.none, b.none},
                                           "bn2_BatchNormalization");
  b.outputs({b.op<top::relu_op>({bn2}, "r_Relu")});
  const graph g = canonicalized(b.g);
  CHECK(count_ops(g, "top.BatchNorm") == 0);
  CHECK(count_ops(g, "top.Scale") == 0);
  const node& c1 = node_named(g, "c_Conv");
  CHECK(g.values[static_cast<std::size_t>(c1.operands[1])].name == "c_Conv_bn_merged_to_conv_weight");
  CHECK(g.values[static_cast<std::size_t>(c1.operands[2])].name == "c_Conv_bn_merged_to_conv_bias");
  const node& last = node_named(g, "r_Relu");
  REQUIRE(last.is<top::conv_op>());
  CHECK(last.attributes<top::conv_op>().do_relu);
  CHECK(g.find_value("c2_Conv") < 0);
  CHECK(g.weights.count("w") == 0);  // the unfolded filter is gone
}

TEST_CASE("BatchNorm without a foldable Conv becomes a Scale with its name", "[transforms]") {
  builder b;
  const int x = b.input("x", {2, 4, 3, 5});
  const int c = b.op<top::conv_op>({x, b.random_weight("w", {4, 4, 3, 3}), b.none}, "c_Conv", conv3x3());
  const int bn = b.op<top::batch_norm_op>({c, b.random_weight("mean", {4}), b.random_weight("var", {4}, 0.5f, 2.f),
                                           b.random_weight("gamma", {4}), b.random_weight("beta", {4})},
                                          "bn_BatchNormalization");
  const int bn_in = b.op<top::batch_norm_op>({x, b.random_weight("m2", {4}), b.random_weight("v2", {4}, 0.5f, 2.f),
                                              b.random_weight("g2", {4}), b.random_weight("b2", {4})},
                                             "bn_in_BatchNormalization");
  b.outputs({b.op<top::add_op>({bn, c}, "a_Add"), bn_in});  // the Conv has two readers
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Scale") == std::vector<std::string>{"bn_BatchNormalization", "bn_in_BatchNormalization"});
  const node& s = node_named(g, "bn_BatchNormalization");
  CHECK(g.values[static_cast<std::size_t>(s.operands[1])].name == "bn_BatchNormalization_scale");
  CHECK(g.values[static_cast<std::size_t>(s.operands[2])].name == "bn_BatchNormalization_bias");
}

TEST_CASE("A spatial zero Pad folds into the Conv after it, channel pads and pads before MaxPool stay", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 3, 10, 9});
  top::pad_op::attributes sp;
  sp.paddings = std::vector<std::int64_t>{0, 0, 1, 1, 0, 0, 2, 2};
  sp.mode.value = "constant";
  const int p = b.op<top::pad_op>({x, b.none}, "75_Pad", sp);
  const int c = b.op<top::conv_op>({p, b.random_weight("w", {3, 3, 3, 3}), b.none}, "79_Conv", conv3x3(0));
  top::pad_op::attributes cp;
  cp.paddings = std::vector<std::int64_t>{0, 0, 0, 0, 0, 4, 0, 0};
  cp.mode.value = "constant";
  const int chp = b.op<top::pad_op>({c, b.none}, "85_Pad", cp);
  const int c2 = b.op<top::conv_op>({chp, b.random_weight("w2", {2, 7, 3, 3}), b.none}, "86_Conv", conv3x3());
  const int p2 = b.op<top::pad_op>({c, b.none}, "90_Pad", sp);
  top::max_pool_op::attributes mp;
  mp.kernel_shape = std::vector<std::int64_t>{2, 2};
  mp.strides = std::vector<std::int64_t>{2, 2};
  mp.pads = std::vector<std::int64_t>{0, 0, 0, 0};
  b.outputs({c2, b.op<top::max_pool_op>({p2}, "91_MaxPool", mp)});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Pad") == std::vector<std::string>{"85_Pad", "90_Pad"});
  CHECK(*node_named(g, "79_Conv").attributes<top::conv_op>().pads == std::vector<std::int64_t>{1, 1, 2, 2});
}

TEST_CASE("HardSigmoid(x) * x becomes HardSwish named after the Mul's ONNX output, the SE gate stays", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 4, 5, 5});
  top::hard_sigmoid_op::attributes hs;
  hs.alpha = 0.1666666716337204;
  hs.beta = 0.5;
  const int h = b.op<top::hard_sigmoid_op>({x}, "h_HardSigmoid", hs);
  const int y = b.op<top::mul_op>({h, x}, "hardswish_0.tmp_0_Mul");
  top::avg_pool_op::attributes gap;
  gap.kernel_shape = std::vector<std::int64_t>{5, 5};
  gap.strides = std::vector<std::int64_t>{1, 1};
  gap.pads = std::vector<std::int64_t>{0, 0, 0, 0};
  const int pooled = b.op<top::avg_pool_op>({y}, "gap_GlobalAveragePool", gap);
  const int gate = b.op<top::hard_sigmoid_op>({pooled}, "hardsigmoid_0.tmp_0_HardSigmoid", hs);
  b.outputs({b.op<top::mul_op>({y, gate}, "p2o.Mul.41_Mul")});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.HardSwish") == std::vector<std::string>{"hardswish_0.tmp_0_HardSwish"});
  CHECK(names_of(g, "top.HardSigmoid") == std::vector<std::string>{"hardsigmoid_0.tmp_0_HardSigmoid"});
  CHECK(names_of(g, "top.Mul") == std::vector<std::string>{"p2o.Mul.41_Mul"});
}

TEST_CASE("x * clip(x + 3, 0, 6) / 6 and x * relu6(x + 3) / 6 become HardSwish", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 3, 4, 4});
  // PP-OCR's export: Add, Clip, Mul, Div (the Div imported as MulConst 1/6)
  const int a = b.op<top::add_const_op>({x}, "p2o.Add.5_Add", plus(3));
  const int cl = b.op<top::clip_op>({a}, "p2o.Clip.1_Clip", clip(0, 6));
  const int m = b.op<top::mul_op>({x, cl}, "p2o.Mul.3_Mul");
  const int hsw = b.op<top::mul_const_op>({m}, "hardswish_30.tmp_0_Div", times(1.0 / 6.0));
  top::relu_op::attributes r6;
  r6.relu_limit = 6;
  const int a2 = b.op<top::add_const_op>({hsw}, "a2_Add", plus(3));
  const int rl = b.op<top::relu_op>({a2}, "r_Relu", r6);
  const int m2 = b.op<top::mul_op>({rl, hsw}, "m2_Mul");
  const int out = b.op<top::mul_const_op>({m2}, "out2_Div", times(1.0 / 6.0));
  // relu6(x + 3) / 6 alone is a HardSigmoid
  const int a3 = b.op<top::add_const_op>({out}, "a3_Add", plus(3));
  const int c3 = b.op<top::clip_op>({a3}, "c3_Clip", clip(0, 6));
  b.outputs({b.op<top::mul_const_op>({c3}, "hsig_Div", times(1.0 / 6.0))});
  const graph g = canonicalized(b.g, 3, -8, 8);
  CHECK(names_of(g, "top.HardSwish") == std::vector<std::string>{"hardswish_30.tmp_0_HardSwish", "out2_HardSwish"});
  CHECK(names_of(g, "top.HardSigmoid") == std::vector<std::string>{"hsig_HardSigmoid"});
  CHECK(g.nodes.size() == 5);  // None, Input and the three fused ops
}

TEST_CASE("x * Sigmoid(x) becomes SiLU keeping the Mul's name", "[transforms]") {
  builder b;
  const int x = b.input("x", {2, 8});
  const int s = b.op<top::sigmoid_op>({x}, "s_Sigmoid");
  const int y = b.op<top::mul_op>({x, s}, "/model.0/act/Mul_output_0_Mul");
  const int s2 = b.op<top::sigmoid_op>({y}, "s2_Sigmoid");
  const int z = b.op<top::mul_op>({x, s2}, "z_Mul");  // x * sigmoid(y): not SiLU
  b.outputs({z});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.SiLU") == std::vector<std::string>{"/model.0/act/Mul_output_0_Mul"});
  CHECK(names_of(g, "top.Sigmoid") == std::vector<std::string>{"s2_Sigmoid"});
}

TEST_CASE("decomposed LayerNorm becomes top.LayerNorm named <out>_LayerNormalization", "[transforms]") {
  for (const bool use_pow : {true, false}) {
    for (const bool affine : {true, false}) {
      DYNAMIC_SECTION("pow " << use_pow << " affine " << affine) {
        builder b;
        const int x = b.input("x", {2, 3, 16});
        top::reduce_op::attributes mean;
        mean.axes = std::vector<std::int64_t>{-1};
        mean.keepdims = true;
        mean.mode.value = "ReduceMean";
        const int mu = b.op<top::reduce_op>({x}, "/ln/ReduceMean_output_0_ReduceMean", mean);
        const int d = b.op<top::sub_op>({x, mu}, "/ln/Sub_output_0_Sub");
        top::pow_op::attributes sq;
        sq.exponent = 2.0;
        const int p = use_pow ? b.op<top::pow_op>({d}, "/ln/Pow_output_0_Pow", sq) : b.op<top::mul_op>({d, d}, "/ln/Mul_sq_Mul");
        const int var = b.op<top::reduce_op>({p}, "/ln/ReduceMean_1_output_0_ReduceMean", mean);
        const int ve = b.op<top::add_const_op>({var}, "/ln/Add_output_0_Add", plus(1e-5));
        const int sd = b.op<top::sqrt_op>({ve}, "/ln/Sqrt_output_0_Sqrt");
        int y = b.op<top::div_op>({d, sd}, "/ln/Div_output_0_Div");
        if (affine) {
          y = b.op<top::mul_op>({y, b.random_weight("ln.weight", {16})}, "/ln/Mul_output_0_Mul");
          y = b.op<top::add_op>({y, b.random_weight("ln.bias", {16})}, "/ln/Add_1_output_0_Add");
        }
        b.outputs({b.op<top::relu_op>({y}, "r_Relu")});
        const graph g = canonicalized(b.g);
        const std::string want = affine ? "/ln/Add_1_output_0_LayerNormalization" : "/ln/Div_output_0_LayerNormalization";
        CHECK(names_of(g, "top.LayerNorm") == std::vector<std::string>{want});
        const node& ln = node_named(g, want);
        CHECK(ln.attributes<top::layer_norm_op>().axis->value == 2);
        CHECK(*ln.attributes<top::layer_norm_op>().eps == 1e-5);
        CHECK(g.nodes.size() == (affine ? 6u : 4u));  // None, Input, [gamma, beta,] LayerNorm, Relu
      }
    }
  }
}

TEST_CASE("decomposed GELU becomes top.GELU in its three orderings", "[transforms]") {
  builder b;
  const int x = b.input("x", {3, 10});
  auto erf_term = [&](int v, const std::string& p) {
    const int s = b.op<top::mul_const_op>({v}, p + "/Div_output_0_Div", times(1.0 / std::sqrt(2.0)));
    const int e = b.op<top::erf_op>({s}, p + "/Erf_output_0_Erf");
    return b.op<top::add_const_op>({e}, p + "/Add_output_0_Add", plus(1.0));
  };
  // torch: (x * (1 + erf(x / sqrt2))) * 0.5
  const int m0 = b.op<top::mul_op>({x, erf_term(x, "/a")}, "/a/Mul_output_0_Mul");
  const int g1 = b.op<top::mul_const_op>({m0}, "/a/Mul_1_output_0_Mul", times(0.5));
  // (0.5 x) * (1 + erf(x / sqrt2))
  const int half = b.op<top::mul_const_op>({g1}, "/b/half_Mul", times(0.5));
  const int g2 = b.op<top::mul_op>({half, erf_term(g1, "/b")}, "/b/Mul_1_output_0_Mul");
  // x * (0.5 (1 + erf(x / sqrt2)))
  const int h3 = b.op<top::mul_const_op>({erf_term(g2, "/c")}, "/c/half_Mul", times(0.5));
  const int g3 = b.op<top::mul_op>({g2, h3}, "/c/Mul_1_output_0_Mul");
  b.outputs({g3});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.GELU") ==
        std::vector<std::string>{"/a/Mul_1_output_0_GELU", "/b/Mul_1_output_0_Mul", "/c/Mul_1_output_0_Mul"});
  CHECK(g.nodes.size() == 5);
}

TEST_CASE("identity Reshape / Permute / MulConst 1 / AddConst 0 go, Reshape chains merge", "[transforms]") {
  builder b;
  const int x = b.input("x", {2, 3, 4});
  top::reshape_op::attributes same;
  same.shape = std::vector<std::int64_t>{2, 3, 4};
  const int r0 = b.op<top::reshape_op>({x, b.none}, "r0_Reshape", same);
  top::permute_op::attributes id;
  id.order = std::vector<std::int64_t>{0, 1, 2};
  const int p = b.op<top::permute_op>({r0}, "p_Transpose", id);
  const int m = b.op<top::mul_const_op>({p}, "m_Mul", times(1.0));
  const int a = b.op<top::add_const_op>({m}, "a_Add", plus(0.0));
  const int s = b.op<top::sigmoid_op>({a}, "s_Sigmoid");
  top::reshape_op::attributes flat, back;
  flat.shape = std::vector<std::int64_t>{6, 4};
  back.shape = std::vector<std::int64_t>{4, 6};
  const int r1 = b.op<top::reshape_op>({s, b.none}, "r1_Reshape", flat);
  b.outputs({b.op<top::reshape_op>({r1, b.none}, "r2_Reshape", back)});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Reshape") == std::vector<std::string>{"r2_Reshape"});
  CHECK(count_ops(g, "top.Permute") + count_ops(g, "top.MulConst") + count_ops(g, "top.AddConst") == 0);
  CHECK(g.values[static_cast<std::size_t>(node_named(g, "r2_Reshape").operands[0])].name == "s_Sigmoid");
  CHECK(g.values[static_cast<std::size_t>(node_named(g, "s_Sigmoid").operands[0])].name == "x");
}

TEST_CASE("MatMul + Add of a bias weight becomes one MatMul with bias, named like the Add", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 7, 6});
  const int mm = b.op<top::matmul_op>({x, b.random_weight("w", {6, 5}), b.none}, "fc/MatMul_output_0_MatMul");
  // torch writes the bias first: Add(bias, MatMul)
  const int add = b.op<top::add_op>({b.random_weight("fc.bias", {5}), mm}, "fc/Add_output_0_Add");
  b.outputs({b.op<top::relu_op>({add}, "r_Relu")});
  const graph g = canonicalized(b.g);
  CHECK(count_ops(g, "top.Add") == 0);
  CHECK(g.find_value("fc/MatMul_output_0_MatMul") < 0);
  const node& m = node_named(g, "r_Relu");  // then the Relu fuses into it and names it
  REQUIRE(m.is<top::matmul_op>());
  CHECK(g.values[static_cast<std::size_t>(m.operands[2])].name == "fc.bias");
  CHECK(m.attributes<top::matmul_op>().do_relu);
}

TEST_CASE("MatMul + Add stays when the addend is not a per-column bias or the MatMul has other readers", "[transforms]") {
  builder b;
  const int x = b.input("x", {4, 6}), y = b.input("y", {4, 5});
  const int w = b.random_weight("w", {6, 5});
  const int m1 = b.op<top::matmul_op>({x, w, b.none}, "m1_MatMul");
  const int a1 = b.op<top::add_op>({m1, b.random_weight("rowwise", {4, 1})}, "a1_Add");  // one value per row
  const int m2 = b.op<top::matmul_op>({x, w, b.none}, "m2_MatMul");
  const int a2 = b.op<top::add_op>({m2, y}, "a2_Add");  // an activation, not a weight
  const int m3 = b.op<top::matmul_op>({x, w, b.none}, "m3_MatMul");
  const int a3 = b.op<top::add_op>({m3, b.random_weight("b3", {5})}, "a3_Add");
  const int s3 = b.op<top::sigmoid_op>({m3}, "s3_Sigmoid");  // m3 is read twice
  const int m4 = b.op<top::matmul_op>({x, b.input("dyn", {6, 5}), b.none}, "m4_MatMul");
  const int a4 = b.op<top::add_op>({m4, b.random_weight("b4", {5})}, "a4_Add");  // right is no weight
  b.outputs({a1, a2, a3, s3, a4});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Add") == std::vector<std::string>{"a1_Add", "a2_Add", "a3_Add", "a4_Add"});
  CHECK(count_ops(g, "top.MatMul") == 4);
}

TEST_CASE("a Slice keeping everything and a Pad of nothing go, real slices, reversals and pads stay", "[transforms]") {
  builder b;
  const int x = b.input("x", {1, 4, 6});
  auto slice = [&](int in, std::vector<std::int64_t> off, std::vector<std::int64_t> end, std::vector<std::int64_t> step,
                   const std::string& name) {
    top::slice_op::attributes a;
    a.offset = std::move(off), a.ends = std::move(end), a.steps = std::move(step);
    return b.op<top::slice_op>({in, b.none, b.none, b.none}, name, a);
  };
  auto pad = [&](int in, std::vector<std::int64_t> p, const std::string& name) {
    top::pad_op::attributes a;
    a.paddings = std::move(p);
    a.mode.value.value = "constant";
    return b.op<top::pad_op>({in, b.none}, name, a);
  };
  const int all = slice(x, {0, 0, 0}, {1, 4, 6}, {1, 1, 1}, "all_Slice");  // x[:, :H, :W] with H, W the sizes
  const int nothing = pad(all, {0, 0, 0, 0, 0, 0}, "zero_Pad");
  const int rev = slice(nothing, {0, 3, 0}, {1, -5, 6}, {1, -1, 1}, "rev_Slice");  // same shape, reversed
  const int part = slice(rev, {0, 1, 0}, {1, 4, 6}, {1, 1, 1}, "part_Slice");
  b.outputs({pad(part, {0, 0, 1, 0, 0, 1}, "real_Pad")});
  const graph g = canonicalized(b.g);
  CHECK(names_of(g, "top.Slice") == std::vector<std::string>{"rev_Slice", "part_Slice"});
  CHECK(names_of(g, "top.Pad") == std::vector<std::string>{"real_Pad"});
  CHECK(g.values[static_cast<std::size_t>(node_named(g, "rev_Slice").operands[0])].name == "x");
}
