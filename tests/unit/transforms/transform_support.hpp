#pragma once
// Hand-built graphs for the transform tests and the numeric before/after check.
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mixq/graph/graph.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/transforms/canonicalize.hpp"

namespace mixq::test {

/// A graph under construction: `v(name)` finds values, `op<Op>` adds an op whose result type
/// comes from shape inference.
struct builder {
  graph g;
  int none = -1;

  builder() {
    g.name = "t";
    const int n = g.add<top::none_op>({}, {tensor_type::none()}, {""});
    none = g.nodes[static_cast<std::size_t>(n)].results[0];
  }
  int input(const std::string& name, shape_t shape) {
    const int arg = g.add_argument({dtype::f32, shape});
    const int n = g.add<top::input_op>({arg}, {{dtype::f32, shape}}, {name});
    return g.nodes[static_cast<std::size_t>(n)].results[0];
  }
  int weight(const std::string& name, tensor t) {
    const int n = g.add<top::weight_op>({}, {t.type()}, {name});
    g.weights[name] = std::move(t);
    return g.nodes[static_cast<std::size_t>(n)].results[0];
  }
  int random_weight(const std::string& name, shape_t shape, float lo = -1.f, float hi = 1.f) {
    return weight(name, random_tensor(std::move(shape), lo, hi));
  }
  template <class Op> int op(std::vector<int> operands, const std::string& name, const typename Op::attributes& a = {}) {
    const top::op_info& info = top::ops().at(Op::mnemonic);
    attr_dict d;
    top::encode_attributes(a, d);
    const auto decoded = info.decode(d);
    std::vector<tensor_type> types;
    std::vector<const tensor_type*> tp;
    std::vector<const tensor*> cp;
    for (int v : operands) types.push_back(g.values[static_cast<std::size_t>(v)].type);
    for (std::size_t i = 0; i < operands.size(); ++i) {
      tp.push_back(&types[i]);
      const int p = g.values[static_cast<std::size_t>(operands[i])].producer;
      const tensor* c = nullptr;
      if (p >= 0 && g.nodes[static_cast<std::size_t>(p)].is<top::weight_op>())
        c = &g.weights.at(g.values[static_cast<std::size_t>(operands[i])].name);
      cp.push_back(c);
    }
    auto out = info.infer(top::infer_context{tp, cp, 1, {}}, decoded.get());
    const int n = g.add<Op>(std::move(operands), out, {name}, a);
    return g.nodes[static_cast<std::size_t>(n)].results[0];
  }
  void outputs(std::vector<int> o) { g.outputs = std::move(o); }
};

/// Names of the ops (first result) of a given mnemonic, in order.
inline std::vector<std::string> names_of(const graph& g, std::string_view mnemonic) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].mnemonic() == mnemonic) out.push_back(g.node_name(static_cast<int>(i)));
  return out;
}
inline std::size_t count_ops(const graph& g, std::string_view mnemonic) { return names_of(g, mnemonic).size(); }
inline const node& node_named(const graph& g, const std::string& name) {
  const int n = g.find_node(name);
  INFO("op " << name);
  REQUIRE(n >= 0);
  return g.nodes[static_cast<std::size_t>(n)];
}

/// Random inputs for every top.Input of g.
inline named_tensors random_inputs(const graph& g, float lo = -3.f, float hi = 3.f) {
  named_tensors in;
  for (int n : g.input_nodes())
    in.emplace(g.node_name(n), random_tensor(g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(n)].results[0])].type.shape, lo, hi));
  return in;
}

/// max |a - b| <= tol * max |b| over every output, position by position.
inline void require_same_outputs(const graph& before, const graph& after, const named_tensors& in, double tol = 1e-4) {
  interpreter a(before), b(after);
  const auto ra = a.run(in).outputs(), rb = b.run(in).outputs();
  REQUIRE(ra.size() == rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) {
    const tensor x = ra[i].second.cast(dtype::f64), y = rb[i].second.cast(dtype::f64);
    REQUIRE(x.shape() == y.shape());
    double max_ref = 0, max_diff = 0;
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      max_ref = std::max(max_ref, std::abs(x.data<double>()[k]));
      max_diff = std::max(max_diff, std::abs(x.data<double>()[k] - y.data<double>()[k]));
    }
    INFO("output " << i << " (" << ra[i].first << "): max diff " << max_diff << ", max |ref| " << max_ref);
    REQUIRE(max_diff <= tol * std::max(max_ref, 1e-30));
  }
}

/// Canonicalizes a copy and checks the numbers on a few random inputs; returns the copy.
inline graph canonicalized(const graph& g, int trials = 3, float lo = -3.f, float hi = 3.f) {
  graph after = g;
  canonicalize(after);
  for (int t = 0; t < trials; ++t) require_same_outputs(g, after, random_inputs(g, lo, hi));
  return after;
}

}  // namespace mixq::test
