// The reduce / resize / norm / misc ONNX converters on one-node models built in C++, run by the
// interpreter and compared with values worked out by hand (or by a scalar loop written here).
#include "test_support.hpp"

#include <cmath>
#include <limits>
#include <numeric>

#include "mixq/graph/interpreter.hpp"
#include "mixq/onnx/importer.hpp"

using namespace mixq;

namespace {

struct model_builder {
  onnx::model_proto m;
  explicit model_builder(int opset) { m.opsets.push_back({"", opset}); }

  model_builder& input(const std::string& name, const shape_t& shape, onnx::data_type t = onnx::data_type::float32) {
    onnx::value_info v;
    v.name = name;
    v.elem = t;
    v.has_shape = true;
    for (auto d : shape) v.dims.push_back({d, ""});
    m.graph.inputs.push_back(v);
    return *this;
  }
  model_builder& constant(const std::string& name, const tensor& t) {
    onnx::tensor_proto p;
    p.name = name;
    p.dims = t.shape();
    p.data = t;
    m.graph.initializers.push_back(p);
    return *this;
  }
  model_builder& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                      std::vector<onnx::attribute_proto> attrs = {}) {
    onnx::node_proto n;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attributes = std::move(attrs);
    m.graph.nodes.push_back(n);
    for (const auto& o : m.graph.nodes.back().outputs) {
      onnx::value_info v;
      v.name = o;
      m.graph.outputs.push_back(v);
    }
    return *this;
  }
  graph import() const { return onnx::import_model(m); }
  std::vector<tensor> run(const named_tensors& inputs) const {
    const graph g = import();
    const interpreter it(g);
    std::vector<tensor> out;
    for (auto& [name, t] : it.run(inputs).outputs()) out.push_back(t);
    return out;
  }
};

onnx::attribute_proto attr_i(const std::string& name, std::int64_t v) {
  onnx::attribute_proto a;
  a.name = name, a.type = onnx::attribute_type::i, a.i = v;
  return a;
}
onnx::attribute_proto attr_f(const std::string& name, float v) {
  onnx::attribute_proto a;
  a.name = name, a.type = onnx::attribute_type::f, a.f = v;
  return a;
}
onnx::attribute_proto attr_s(const std::string& name, const std::string& v) {
  onnx::attribute_proto a;
  a.name = name, a.type = onnx::attribute_type::s, a.s = v;
  return a;
}
onnx::attribute_proto attr_ints(const std::string& name, std::vector<std::int64_t> v) {
  onnx::attribute_proto a;
  a.name = name, a.type = onnx::attribute_type::ints, a.ints = std::move(v);
  return a;
}

tensor iota_tensor(const shape_t& s) {
  tensor t = tensor::empty(dtype::f32, s);
  float v = 0;
  for (float& x : t.values<float>()) x = v++;
  return t;
}
tensor ints(const std::vector<std::int64_t>& v) { return tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(v.size())}, v); }
tensor floats(const shape_t& s, const std::vector<float>& v) { return tensor::from_vector<float>(s, v); }

bool graph_has(const graph& g, std::string_view mnemonic) {
  for (const auto& n : g.nodes)
    if (n.mnemonic() == mnemonic) return true;
  return false;
}

}  // namespace

TEST_CASE("ReduceMean over one axis without keepdims matches a scalar loop") {
  const tensor x = test::random_tensor({2, 3, 5});
  model_builder b(13);
  b.input("x", {2, 3, 5}).node("ReduceMean", {"x"}, {"y"}, {attr_ints("axes", {1}), attr_i("keepdims", 0)});
  const tensor y = b.run({{"x", x}})[0];
  tensor want = tensor::empty(dtype::f32, {2, 5});
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 5; ++k) {
      double s = 0;
      for (int j = 0; j < 3; ++j) s += x.data<float>()[(i * 3 + j) * 5 + k];
      want.data<float>()[i * 5 + k] = static_cast<float>(s / 3);
    }
  test::require_close(y, want, 1e-5, 1e-6);
}

TEST_CASE("ReduceSum of opset 13 reads axes from its input, all axes without keepdims give a scalar") {
  model_builder b(13);
  b.input("x", {2, 3}).constant("axes", ints({0, 1})).node("ReduceSum", {"x", "axes"}, {"y"}, {attr_i("keepdims", 0)});
  const tensor y = b.run({{"x", iota_tensor({2, 3})}})[0];
  REQUIRE(y.shape().empty());
  REQUIRE(y.data<float>()[0] == 15.f);
}

TEST_CASE("ReduceSum with empty axes and noop_with_empty_axes is an identity") {
  model_builder b(13);
  b.input("x", {2, 2}).constant("axes", tensor::from_vector<std::int64_t>({0}, {}));
  b.node("ReduceSum", {"x", "axes"}, {"y"}, {attr_i("noop_with_empty_axes", 1)});
  // The output is the input itself; keep the graph non-trivial by reading it through Relu.
  b.m.graph.outputs.clear();
  b.node("Relu", {"y"}, {"z"});
  const tensor z = b.run({{"x", floats({2, 2}, {1, -2, 3, 4})}})[0];
  test::require_close(z, floats({2, 2}, {1, 0, 3, 4}));
}

TEST_CASE("ReduceL2, ReduceProd, ReduceMax and ReduceMin keep dims by default") {
  const tensor x = floats({2, 2}, {3, 4, -1, 2});
  for (auto [op, a, c] : {std::tuple{"ReduceL2", 5.f, std::sqrt(5.f)}, std::tuple{"ReduceProd", 12.f, -2.f},
                          std::tuple{"ReduceMax", 4.f, 2.f}, std::tuple{"ReduceMin", 3.f, -1.f}}) {
    model_builder b(13);
    b.input("x", {2, 2}).node(op, {"x"}, {"y"}, {attr_ints("axes", {-1})});
    INFO(op);
    test::require_close(b.run({{"x", x}})[0], floats({2, 1}, {a, c}), 1e-6, 1e-6);
  }
}

TEST_CASE("ArgMax and ArgMin pick the first or last extreme as select_last_index says") {
  const tensor x = floats({2, 3}, {1, 5, 5, 2, 0, 0});
  auto run = [&](const char* op, std::int64_t last) {
    model_builder b(13);
    b.input("x", {2, 3}).node(op, {"x"}, {"y"}, {attr_i("axis", 1), attr_i("keepdims", 0), attr_i("select_last_index", last)});
    return b.run({{"x", x}})[0].cast(dtype::f32);
  };
  test::require_close(run("ArgMax", 0), floats({2}, {1, 0}));
  test::require_close(run("ArgMax", 1), floats({2}, {2, 0}));
  test::require_close(run("ArgMin", 0), floats({2}, {0, 1}));
  test::require_close(run("ArgMin", 1), floats({2}, {0, 2}));
}

TEST_CASE("Split uses the split attribute before opset 13 and the split input from 13") {
  const tensor x = iota_tensor({2, 5});
  for (int opset : {11, 13}) {
    model_builder b(opset);
    b.input("x", {2, 5});
    if (opset < 13) b.node("Split", {"x"}, {"a", "b"}, {attr_i("axis", 1), attr_ints("split", {2, 3})});
    else b.constant("s", ints({2, 3})).node("Split", {"x", "s"}, {"a", "b"}, {attr_i("axis", -1)});
    INFO("opset " << opset);
    const auto out = b.run({{"x", x}});
    REQUIRE(out.size() == 2);
    test::require_close(out[0], floats({2, 2}, {0, 1, 5, 6}));
    test::require_close(out[1], floats({2, 3}, {2, 3, 4, 7, 8, 9}));
  }
}

TEST_CASE("Split without sizes makes equal parts and rejects an uneven axis") {
  model_builder b(13);
  b.input("x", {6}).node("Split", {"x"}, {"a", "b", "c"});
  const auto out = b.run({{"x", iota_tensor({6})}});
  test::require_close(out[2], floats({2}, {4, 5}));
  model_builder bad(13);
  bad.input("x", {5}).node("Split", {"x"}, {"a", "b"});
  REQUIRE_THROWS_WITH(bad.import(), Catch::Contains("equal parts"));
}

TEST_CASE("Tile and Expand follow numpy") {
  model_builder t(13);
  t.input("x", {1, 2}).constant("r", ints({2, 2})).node("Tile", {"x", "r"}, {"y"});
  test::require_close(t.run({{"x", floats({1, 2}, {1, 2})}})[0], floats({2, 4}, {1, 2, 1, 2, 1, 2, 1, 2}));
  model_builder e(13);
  e.input("x", {3, 1}).constant("s", ints({2, 1, 2})).node("Expand", {"x", "s"}, {"y"});
  test::require_close(e.run({{"x", floats({3, 1}, {1, 2, 3})}})[0],
                      floats({2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST_CASE("DepthToSpace DCR and CRD, and SpaceToDepth undoes DCR") {
  const tensor x = iota_tensor({1, 8, 2, 3});
  // numpy: DCR = x.reshape(1,2,2,2,2,3).transpose(0,3,4,1,5,2); CRD = x.reshape(1,2,2,2,2,3).transpose(0,1,4,2,5,3).
  auto depth_to_space = [&](bool crd) {
    tensor want = tensor::empty(dtype::f32, {1, 2, 4, 6});
    for (int c = 0; c < 2; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 6; ++w) {
          const int bh = h % 2, bw = w % 2;
          const int src_c = crd ? c * 4 + bh * 2 + bw : (bh * 2 + bw) * 2 + c;
          want.data<float>()[(c * 4 + h) * 6 + w] = x.data<float>()[(src_c * 2 + h / 2) * 3 + w / 2];
        }
    return want;
  };
  for (bool crd : {false, true}) {
    model_builder b(13);
    b.input("x", {1, 8, 2, 3}).node("DepthToSpace", {"x"}, {"y"}, {attr_i("blocksize", 2), attr_s("mode", crd ? "CRD" : "DCR")});
    INFO((crd ? "CRD" : "DCR"));
    test::require_close(b.run({{"x", x}})[0], depth_to_space(crd));
  }
  model_builder s(13);
  s.input("x", {1, 2, 4, 6}).node("SpaceToDepth", {"x"}, {"y"}, {attr_i("blocksize", 2)});
  test::require_close(s.run({{"x", depth_to_space(false)}})[0], x);
}

TEST_CASE("LayerNormalization normalises from axis and can return Mean and InvStdDev") {
  const tensor x = test::random_tensor({2, 3, 4});
  const tensor w = test::random_tensor({3, 4}), bias = test::random_tensor({3, 4});
  model_builder b(17);
  b.input("x", {2, 3, 4}).constant("w", w).constant("b", bias);
  b.node("LayerNormalization", {"x", "w", "b"}, {"y", "mean", "inv"}, {attr_i("axis", 1), attr_f("epsilon", 1e-3f)});
  const auto out = b.run({{"x", x}});
  REQUIRE(out.size() == 3);
  tensor y = tensor::empty(dtype::f32, {2, 3, 4}), mean = tensor::empty(dtype::f32, {2, 1, 1}), inv = mean.clone();
  for (int r = 0; r < 2; ++r) {
    const float* p = x.data<float>() + r * 12;
    double m = 0, v = 0;
    for (int i = 0; i < 12; ++i) m += p[i];
    m /= 12;
    for (int i = 0; i < 12; ++i) v += (p[i] - m) * (p[i] - m);
    const double rs = 1 / std::sqrt(v / 12 + 1e-3);
    for (int i = 0; i < 12; ++i)
      y.data<float>()[r * 12 + i] = static_cast<float>((p[i] - m) * rs * w.data<float>()[i] + bias.data<float>()[i]);
    mean.data<float>()[r] = static_cast<float>(m);
    inv.data<float>()[r] = static_cast<float>(rs);
  }
  test::require_close(out[0], y, 1e-4, 1e-5);
  test::require_close(out[1], mean, 1e-4, 1e-5);
  test::require_close(out[2], inv, 1e-4, 1e-5);
}

TEST_CASE("LayerNormalization broadcasts a smaller constant scale") {
  model_builder b(17);
  b.input("x", {1, 4}).constant("w", floats({1}, {2})).node("LayerNormalization", {"x", "w"}, {"y"});
  const tensor y = b.run({{"x", floats({1, 4}, {1, 2, 3, 4})}})[0];
  const double rs = 1 / std::sqrt(1.25 + 1e-5);
  test::require_close(y, floats({1, 4}, {static_cast<float>(-3 * rs), static_cast<float>(-rs), static_cast<float>(rs),
                                          static_cast<float>(3 * rs)}),
                      1e-5, 1e-6);
}

TEST_CASE("InstanceNormalization normalises each channel of each item") {
  model_builder b(13);
  b.input("x", {1, 2, 1, 3}).constant("s", floats({2}, {1, 2})).constant("b", floats({2}, {0, 1}));
  b.node("InstanceNormalization", {"x", "s", "b"}, {"y"}, {attr_f("epsilon", 1e-5f)});
  const tensor y = b.run({{"x", floats({1, 2, 1, 3}, {-1, 0, 1, 2, 4, 6})}})[0];
  const double a = 1 / std::sqrt(2.0 / 3 + 1e-5), c = 1 / std::sqrt(8.0 / 3 + 1e-5);
  test::require_close(y, floats({1, 2, 1, 3}, {static_cast<float>(-a), 0, static_cast<float>(a), static_cast<float>(1 - 4 * c), 1,
                                                static_cast<float>(1 + 4 * c)}),
                      1e-5, 1e-6);
}

TEST_CASE("Resize nearest by integer scales becomes top.Upsample") {
  model_builder b(13);
  b.input("x", {1, 1, 2, 2}).constant("scales", floats({4}, {1, 1, 2, 3}));
  b.node("Resize", {"x", "", "scales"}, {"y"}, {attr_s("mode", "nearest")});
  REQUIRE(graph_has(b.import(), "top.Upsample"));
  const tensor y = b.run({{"x", floats({1, 1, 2, 2}, {1, 2, 3, 4})}})[0];
  test::require_close(y, floats({1, 1, 4, 6}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
}

TEST_CASE("Resize linear with sizes and align_corners becomes top.Interp") {
  model_builder b(13);
  b.input("x", {1, 1, 1, 2}).constant("sizes", ints({1, 1, 1, 3}));
  b.node("Resize", {"x", "", "", "sizes"}, {"y"}, {attr_s("mode", "linear"), attr_s("coordinate_transformation_mode", "align_corners")});
  REQUIRE(graph_has(b.import(), "top.Interp"));
  test::require_close(b.run({{"x", floats({1, 1, 1, 2}, {0, 4})}})[0], floats({1, 1, 1, 3}, {0, 2, 4}));
}

TEST_CASE("Upsample of opset 7 reads scales from its attribute") {
  model_builder b(7);
  onnx::attribute_proto scales;
  scales.name = "scales", scales.type = onnx::attribute_type::floats, scales.floats = {1, 1, 2, 2};
  b.input("x", {1, 1, 1, 2}).node("Upsample", {"x"}, {"y"}, {scales});
  test::require_close(b.run({{"x", floats({1, 1, 1, 2}, {5, 6})}})[0], floats({1, 1, 2, 4}, {5, 5, 6, 6, 5, 5, 6, 6}));
}

TEST_CASE("Resize rejects what top.Interp cannot express, naming the reason") {
  auto importing = [](const std::string& mode, const std::string& coord, const std::string& nearest) {
    model_builder b(13);
    b.input("x", {1, 1, 2, 2}).constant("scales", floats({4}, {1, 1, 1.5f, 1.5f}));
    b.node("Resize", {"x", "", "scales"}, {"y"},
           {attr_s("mode", mode), attr_s("coordinate_transformation_mode", coord), attr_s("nearest_mode", nearest)});
    return b;
  };
  REQUIRE_THROWS_WITH(importing("cubic", "half_pixel", "floor").import(), Catch::Contains("cubic"));
  REQUIRE_THROWS_WITH(importing("linear", "tf_crop_and_resize", "floor").import(), Catch::Contains("tf_crop_and_resize"));
  REQUIRE_THROWS_WITH(importing("nearest", "half_pixel", "ceil").import(), Catch::Contains("nearest_mode ceil"));
  model_builder nc(13);
  nc.input("x", {1, 2, 2, 2}).constant("scales", floats({4}, {1, 2, 1, 1})).node("Resize", {"x", "", "scales"}, {"y"});
  REQUIRE_THROWS_WITH(nc.import(), Catch::Contains("axis 1"));
}

TEST_CASE("Einsum maps TOP's equations to top.Einsum whatever the letters") {
  model_builder b(12);
  onnx::attribute_proto eq = attr_s("equation", "xyz,xyw->xzw");  // = abc,abd->acd
  b.input("p", {2, 3, 4}).input("q", {2, 3, 5}).node("Einsum", {"p", "q"}, {"y"}, {eq});
  REQUIRE(graph_has(b.import(), "top.Einsum"));
  const tensor p = test::random_tensor({2, 3, 4}), q = test::random_tensor({2, 3, 5});
  tensor want = tensor::empty(dtype::f32, {2, 4, 5});
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 4; ++c)
      for (int d = 0; d < 5; ++d) {
        double s = 0;
        for (int k = 0; k < 3; ++k) s += p.data<float>()[(a * 3 + k) * 4 + c] * q.data<float>()[(a * 3 + k) * 5 + d];
        want.data<float>()[(a * 4 + c) * 5 + d] = static_cast<float>(s);
      }
  test::require_close(b.run({{"p", p}, {"q", q}})[0], want, 1e-5, 1e-5);
}

TEST_CASE("Einsum equations TOP lacks are lowered to MatMul, Permute and ReduceSum") {
  const tensor a = test::random_tensor({2, 3, 4}), bm = test::random_tensor({2, 4, 5});
  model_builder b(12);
  b.input("a", {2, 3, 4}).input("b", {2, 4, 5}).node("Einsum", {"a", "b"}, {"y"}, {attr_s("equation", "bij, bjk -> bki")});
  const tensor y = b.run({{"a", a}, {"b", bm}})[0];
  tensor want = tensor::empty(dtype::f32, {2, 5, 3});
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        double s = 0;
        for (int j = 0; j < 4; ++j) s += a.data<float>()[(n * 3 + i) * 4 + j] * bm.data<float>()[(n * 4 + j) * 5 + k];
        want.data<float>()[(n * 5 + k) * 3 + i] = static_cast<float>(s);
      }
  test::require_close(y, want, 1e-5, 1e-5);

  model_builder dot(12);
  dot.input("x", {5}).input("z", {5}).node("Einsum", {"x", "z"}, {"y"}, {attr_s("equation", "i,i")});
  const tensor d = dot.run({{"x", floats({5}, {1, 2, 3, 4, 5})}, {"z", floats({5}, {1, 1, 1, 1, 2})}})[0];
  REQUIRE(d.shape().empty());
  REQUIRE(d.data<float>()[0] == 20.f);

  model_builder sum(12);
  sum.input("x", {2, 3}).node("Einsum", {"x"}, {"y"}, {attr_s("equation", "ij->ji")});
  test::require_close(sum.run({{"x", iota_tensor({2, 3})}})[0], floats({3, 2}, {0, 3, 1, 4, 2, 5}));
}

TEST_CASE("Einsum with a diagonal or an ellipsis is rejected clearly") {
  model_builder b(12);
  b.input("x", {3, 3}).node("Einsum", {"x"}, {"y"}, {attr_s("equation", "ii->i")});
  REQUIRE_THROWS_WITH(b.import(), Catch::Contains("diagonal"));
  model_builder e(12);
  e.input("x", {3, 3}).node("Einsum", {"x"}, {"y"}, {attr_s("equation", "...i->...")});
  REQUIRE_THROWS_WITH(e.import(), Catch::Contains("'...'"));
}

TEST_CASE("Pow with a tensor exponent runs element-wise") {
  model_builder b(15);
  b.input("x", {3}).input("e", {3}).node("Pow", {"x", "e"}, {"y"});
  test::require_close(b.run({{"x", floats({3}, {2, 3, 4})}, {"e", floats({3}, {3, 2, 0.5f})}})[0], floats({3}, {8, 9, 2}));
}

TEST_CASE("A constant graph output becomes a weight, training-mode Dropout is rejected") {
  model_builder b(15);
  b.input("x", {2, 3}).node("Shape", {"x"}, {"s"});
  const auto out = b.run({{"x", iota_tensor({2, 3})}});
  REQUIRE(out[0].elem() == dtype::i64);
  REQUIRE(to_int64_vector(out[0]) == std::vector<std::int64_t>{2, 3});
  model_builder d(13);
  d.input("x", {2}).constant("ratio", tensor::scalar<float>(0.5f)).constant("train", tensor::scalar<bool>(true));
  d.node("Dropout", {"x", "ratio", "train"}, {"y"});
  REQUIRE_THROWS_WITH(d.import(), Catch::Contains("training-mode"));
}

TEST_CASE("Pow by a constant 2 becomes Mul(x, x), by 1 passes x through, a constant base is Pow2") {
  model_builder b(13);
  b.input("x", {3}).constant("two", tensor::scalar<float>(2.f)).constant("one", tensor::scalar<float>(1.f));
  b.node("Pow", {"x", "two"}, {"sq"}).node("Pow", {"x", "one"}, {"id"}).node("Pow", {"two", "x"}, {"exp2"});
  const graph g = b.import();
  CHECK(g.node_name(g.find_node("sq_Pow")) == "sq_Pow");
  CHECK(g.nodes[static_cast<std::size_t>(g.find_node("sq_Pow"))].is<top::mul_op>());
  CHECK(graph_has(g, "top.Pow2"));
  CHECK_FALSE(graph_has(g, "top.Pow"));
  const auto out = b.run({{"x", floats({3}, {-3, 0.5f, 4})}});
  test::require_close(out[0], floats({3}, {9, 0.25f, 16}));
  test::require_close(out[1], floats({3}, {-3, 0.5f, 4}));
  test::require_close(out[2], floats({3}, {0.125f, std::sqrt(2.f), 16}));
}

TEST_CASE("ConstantOfShape, Range and Mod of static shapes fold to constants") {
  // torch's export of F.pad / torch.arange / shape arithmetic: x.shape[1] % 4, arange(0, 5, 2), zeros
  onnx::attribute_proto value;
  value.name = "value", value.type = onnx::attribute_type::t;
  value.t = onnx::tensor_proto{};
  value.t->dims = {1};
  value.t->data = tensor::from_vector<std::int64_t>({1}, {7});
  model_builder b(13);
  b.input("x", {2, 6}).node("Shape", {"x"}, {"s"});
  b.constant("four", tensor::scalar<std::int64_t>(4)).constant("neg", tensor::scalar<std::int64_t>(-4));
  b.constant("start", tensor::scalar<std::int64_t>(0)).constant("limit", tensor::scalar<std::int64_t>(5));
  b.constant("step", tensor::scalar<std::int64_t>(2)).constant("dims", ints({2, 2}));
  b.node("Mod", {"s", "four"}, {"m"}).node("Mod", {"s", "neg"}, {"mneg"});
  b.node("Mod", {"s", "neg"}, {"cmod"}, {attr_i("fmod", 1)});
  b.node("Range", {"start", "limit", "step"}, {"r"});
  b.node("ConstantOfShape", {"dims"}, {"c"}, {value});
  const graph g = b.import();
  for (const auto& n : g.nodes) {
    INFO(n.mnemonic());
    CHECK((n.is<top::weight_op>() || n.is<top::none_op>() || n.is<top::input_op>()));
  }
  const auto out = b.run({{"x", iota_tensor({2, 6})}});
  CHECK(to_int64_vector(out[1]) == std::vector<std::int64_t>{2, 2});   // Python's %: 6 % 4
  CHECK(to_int64_vector(out[2]) == std::vector<std::int64_t>{-2, -2});  // 6 % -4 takes the divisor's sign
  CHECK(to_int64_vector(out[3]) == std::vector<std::int64_t>{2, 2});   // fmod keeps the dividend's
  CHECK(to_int64_vector(out[4]) == std::vector<std::int64_t>{0, 2, 4});
  REQUIRE(out[5].shape() == shape_t{2, 2});
  CHECK(to_int64_vector(out[5]) == std::vector<std::int64_t>{7, 7, 7, 7});
}

TEST_CASE("Slice with a negative step to the very start keeps element 0 (torch's reversal)") {
  model_builder b(13);
  b.input("x", {4, 2});
  b.constant("starts", ints({-1})).constant("ends", ints({std::numeric_limits<std::int64_t>::min() + 1}));
  b.constant("axes", ints({0})).constant("steps", ints({-1}));
  b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  test::require_close(b.run({{"x", iota_tensor({4, 2})}})[0], floats({4, 2}, {6, 7, 4, 5, 2, 3, 0, 1}));
}

TEST_CASE("ScatterND writes the updates at the index tuples") {
  model_builder b(13);
  b.input("x", {3, 2}).input("u", {2, 2});
  b.constant("idx", tensor::from_vector<std::int64_t>({2, 1}, {2, 0}));
  b.node("ScatterND", {"x", "idx", "u"}, {"y"});
  const tensor y = b.run({{"x", iota_tensor({3, 2})}, {"u", floats({2, 2}, {10, 11, 12, 13})}})[0];
  test::require_close(y, floats({3, 2}, {12, 13, 2, 3, 10, 11}));
}
