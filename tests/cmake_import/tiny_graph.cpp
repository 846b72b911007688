// A user of mixq: builds x -> Add(x, w) -> Relu and runs it with the interpreter, against
// single_include/ alone (tests/integration/tooling.cmake), header-only: every op is instantiated here.
#include <cstdio>
#include <vector>

#include "mixq/mixq.hpp"

int main() {
  using namespace mixq;
  graph g;
  g.name = "tiny";
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = g.add_argument({dtype::f32, {2, 3}});
  const int in = g.add<top::input_op>({arg}, {{dtype::f32, {2, 3}}}, {"x"});
  const int w = g.add<top::weight_op>({}, {{dtype::f32, {3}}}, {"w"});
  g.weights["w"] = tensor::from_vector<float>({3}, {1, -2, 3});
  const int add = g.add<top::add_op>({g.nodes[in].results[0], g.nodes[w].results[0]}, {{dtype::f32, {2, 3}}}, {"y"});
  const int relu = g.add<top::relu_op>({g.nodes[add].results[0]}, {{dtype::f32, {2, 3}}}, {"z"});
  g.outputs = {g.nodes[relu].results[0]};
  g.verify();

  interpreter it(g);
  const auto outputs = it.run({{"x", tensor::from_vector<float>({2, 3}, {1, 1, 1, 0, 5, -5})}}).outputs();
  const std::vector<float> expected{2, 0, 4, 1, 3, 0};
  bool ok = outputs.size() == 1 && outputs[0].second.numel() == 6;
  if (ok) {
    const auto got = outputs[0].second.values<float>();
    for (std::size_t i = 0; i < expected.size(); ++i) ok = ok && got[i] == expected[i];
  }
  std::printf("mixq %s: tiny graph %s\n", MIXQ_VERSION_STRING, ok ? "ok" : "gave wrong results");
  return ok ? 0 : 1;
}
