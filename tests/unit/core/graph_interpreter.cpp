#include "test_support.hpp"

#include "mixq/mixq.hpp"

using namespace mixq;

namespace {
// x -> Add(x, w) -> Relu, the smallest graph with a weight, a broadcast and two ops.
graph tiny_graph() {
  graph g;
  g.name = "tiny";
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = g.add_argument({dtype::f32, {2, 4}});
  const int in = g.add<top::input_op>({arg}, {{dtype::f32, {2, 4}}}, {"x"});
  const int w = g.add<top::weight_op>({}, {{dtype::f32, {4}}}, {"w"});
  g.weights["w"] = tensor::from_vector<float>({4}, {1, -2, 3, -4});
  const int add = g.add<top::add_op>({g.nodes[in].results[0], g.nodes[w].results[0]}, {{dtype::f32, {2, 4}}}, {"y_Add"});
  const int relu = g.add<top::relu_op>({g.nodes[add].results[0]}, {{dtype::f32, {2, 4}}}, {"z_Relu"});
  g.outputs = {g.nodes[relu].results[0]};
  return g;
}
const tensor x_in = tensor::from_vector<float>({2, 4}, {1, 1, 1, 1, 0, 5, -5, 5});
}  // namespace

TEST_CASE("interpreter runs a graph with a broadcast weight", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  auto res = it.run({{"x", x_in}});
  auto outs = res.outputs();
  REQUIRE(outs.size() == 1);
  CHECK(outs[0].first == "z_Relu");
  std::vector<float> got(outs[0].second.values<float>().begin(), outs[0].second.values<float>().end());
  CHECK(got == std::vector<float>{2, 0, 4, 0, 1, 3, 0, 1});
}

TEST_CASE("interpreter frees intermediates unless asked to keep them", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  auto lean = it.run({{"x", x_in}});
  CHECK_FALSE(lean.values[static_cast<std::size_t>(g.find_value("y_Add"))].defined());
  run_options keep_all;
  keep_all.keep_all = true;
  auto full = it.run({{"x", x_in}}, keep_all);
  CHECK(full.at("y_Add").values<float>()[1] == -1.f);
  CHECK(full.peak_activation_bytes >= lean.peak_activation_bytes);
}

TEST_CASE("output hook sees every computed tensor and can replace it", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  run_hooks hooks;
  std::vector<std::string> seen;
  hooks.on_output = [&](int node, int, tensor& t) {
    seen.push_back(g.node_name(node));
    if (g.node_name(node) == "y_Add") {  // replace Add's output: Relu must see the new tensor
      t = tensor::from_vector<float>({2, 4}, std::vector<float>(8, -1.f));
    }
  };
  run_options o;
  o.hooks = &hooks;
  auto res = it.run({{"x", x_in}}, o);
  CHECK(seen == std::vector<std::string>{"x", "y_Add", "z_Relu"});
  for (float v : res.outputs()[0].second.values<float>()) CHECK(v == 0.f);
}

TEST_CASE("input hook changes what one consumer reads", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  run_hooks hooks;
  hooks.on_input = [&](int node, int operand, tensor& t) {
    if (g.node_name(node) == "y_Add" && operand == 1) t = tensor::from_vector<float>({4}, {0, 0, 0, 0});
  };
  run_options o;
  o.hooks = &hooks;
  o.keep_all = true;
  auto res = it.run({{"x", x_in}}, o);
  CHECK(res.at("y_Add").values<float>()[5] == 5.f);
  CHECK(res.at("w").values<float>()[1] == -2.f);  // the weight itself is untouched
}

TEST_CASE("run from a node with cached upstream tensors", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  std::unordered_map<int, tensor> cache{{g.find_value("y_Add"), tensor::from_vector<float>({2, 4}, {-1, 2, -3, 4, 5, -6, 7, -8})}};
  run_options o;
  o.start_node = g.find_node("z_Relu");
  o.cache = &cache;
  auto res = it.run({}, o);
  std::vector<float> got(res.outputs()[0].second.values<float>().begin(), res.outputs()[0].second.values<float>().end());
  CHECK(got == std::vector<float>{0, 2, 0, 4, 5, 0, 7, 0});
}

TEST_CASE("missing inputs, unknown inputs and wrong shapes are clear errors", "[graph]") {
  graph g = tiny_graph();
  interpreter it(g);
  CHECK_THROWS_WITH(it.run({}), Catch::Contains("input \"x\" was not given"));
  CHECK_THROWS_WITH(it.run({{"q", x_in}}), Catch::Contains("no input named \"q\""));
  CHECK_THROWS_WITH(it.run({{"x", tensor::zeros(dtype::f32, {3})}}), Catch::Contains("expects 2x4"));
}

TEST_CASE("graph verify names the op and the problem", "[graph]") {
  graph g = tiny_graph();
  g.weights.erase("w");
  CHECK_THROWS_WITH(g.verify(), Catch::Contains("no weight named \"w\""));
  graph h = tiny_graph();
  h.values[static_cast<std::size_t>(h.find_value("z_Relu"))].type.shape = {3, 4};
  CHECK_THROWS_WITH(h.verify(false), Catch::Contains("top.Relu \"z_Relu\""));
}

TEST_CASE("attributes decode with defaults and reject wrong kinds", "[graph]") {
  const auto& info = top::ops().at("top.Add");
  attr_dict d;
  auto a = info.decode(d);
  CHECK(static_cast<const top::add_op::attributes*>(a.get())->relu_limit == -1.0);
  d.set("do_relu", attribute(std::string("yes")));
  CHECK_THROWS_WITH(info.decode(d), Catch::Contains("attribute 'do_relu': expected bool, found string"));
  attr_dict in;
  in.set("pixel_format", attribute(std::string("xyz")));
  CHECK_THROWS_WITH(top::ops().at("top.Input").decode(in), Catch::Contains("not one of rgb, bgr"));
}
