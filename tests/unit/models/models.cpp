// The model fixtures of tests/data/models (make_models.py), run in-process: load_model, the
// interpreter, and a comparison with the outputs of the script's independent float64 numpy code.
#include "test_support.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "mixq/core/similarity.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npz.hpp"

using namespace mixq;
using Catch::Matchers::Contains;

namespace {

std::string model_path(const std::string& file) { return std::string(MIXQ_TEST_DATA_DIR) + "/models/" + file; }

/// The `top.*` ops a .mlir uses that the registry does not know (yet).
std::vector<std::string> unregistered_ops(const std::string& mlir_path) {
  std::ifstream in(mlir_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  static const std::regex op_name("\"(top\\.[A-Za-z0-9_]+)\"\\(");
  std::vector<std::string> missing;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), op_name); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    if (!top::ops().find(name) && std::find(missing.begin(), missing.end(), name) == missing.end())
      missing.push_back(name);
  }
  return missing;
}

/// Models whose ops are still being written are skipped with a warning, not failed: the same
/// test turns into a real check once the registry has them.
bool ops_available(const std::string& model) {
  const auto missing = unregistered_ops(model_path(model + ".mlir"));
  if (missing.empty()) return true;
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
  WARN(model << ": skipped, ops not registered yet: " << list);
  return false;
}

/// float32 interpreter against the float64 oracle: npz_tool's similarity at the integration
/// tests' tolerance, and element-wise closeness.
void require_matches_oracle(const std::string& name, const tensor& got, const tensor& want) {
  INFO("tensor \"" << name << "\"");
  REQUIRE(got.defined());
  CHECK(got.elem() == want.elem());
  REQUIRE(got.shape() == want.shape());
  compare_tolerance tol;
  tol.cosine = 0.9999;
  tol.euclidean = 0.999;
  const compare_result r = compare_tensors(got, want, tol);
  INFO("verdict " << verdict_name(r.verdict) << ", cosine " << r.cosine << ", euclidean " << r.euclidean);
  CHECK(r.passed);
  test::require_close(got, want, 1e-4, 1e-5);
}

run_result run_fixture(const std::string& model, const interpreter& it) {
  run_options keep_all;
  keep_all.keep_all = true;
  return it.run(to_named(read_npz(model_path(model + "_in_f32.npz"))), keep_all);
}

/// The function's results, in return order and by name, match NAME_expected.npz.
void check_outputs(const std::string& model) {
  if (!ops_available(model)) return;
  const graph g = load_model(model_path(model + ".mlir"));
  const interpreter it(g);
  const run_result res = run_fixture(model, it);
  const npz_file expected = read_npz(model_path(model + "_expected.npz"));
  const auto outputs = res.outputs();
  REQUIRE(outputs.size() == expected.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    CHECK(outputs[i].first == expected.entries()[i].first);
    require_matches_oracle(outputs[i].first, outputs[i].second, expected.entries()[i].second);
  }
}

/// Every input and op result matches NAME_all_expected.npz, so a wrong op is found by name.
void check_every_tensor(const std::string& model) {
  if (!ops_available(model)) return;
  const graph g = load_model(model_path(model + ".mlir"));
  const interpreter it(g);
  const run_result res = run_fixture(model, it);
  const npz_file expected = read_npz(model_path(model + "_all_expected.npz"));
  for (const auto& [name, want] : expected) {
    INFO("tensor \"" << name << "\"");
    REQUIRE(g.find_value(name) >= 0);
    require_matches_oracle(name, res.at(name), want);
  }
}

}  // namespace

TEST_CASE("add_relu: outputs match the numpy oracle", "[models]") { check_outputs("add_relu"); }
TEST_CASE("add_relu: every tensor matches the numpy oracle", "[models]") { check_every_tensor("add_relu"); }
TEST_CASE("conv_net: outputs match the numpy oracle", "[models]") { check_outputs("conv_net"); }
TEST_CASE("conv_net: every tensor matches the numpy oracle", "[models]") { check_every_tensor("conv_net"); }
TEST_CASE("transformer_block: outputs match the numpy oracle", "[models]") { check_outputs("transformer_block"); }
TEST_CASE("transformer_block: every tensor matches the numpy oracle", "[models]") {
  check_every_tensor("transformer_block");
}
TEST_CASE("multi_result: outputs match the numpy oracle", "[models]") { check_outputs("multi_result"); }
TEST_CASE("multi_result: every tensor matches the numpy oracle", "[models]") { check_every_tensor("multi_result"); }
TEST_CASE("int_flow: outputs match the numpy oracle", "[models]") { check_outputs("int_flow"); }
TEST_CASE("int_flow: every tensor matches the numpy oracle", "[models]") { check_every_tensor("int_flow"); }

TEST_CASE("multi_result: fused locs name each result of a Split", "[models][mlir]") {
  if (!ops_available("multi_result")) return;
  const graph g = load_model(model_path("multi_result.mlir"));
  // The first Split's names come from a `#loc` alias of a fused loc, the second's from an inline one.
  for (const auto& names : {std::vector<std::string>{"s0", "s1", "s2"}, std::vector<std::string>{"h0", "h1"}}) {
    const int node = g.find_node(names[0]);
    REQUIRE(node >= 0);
    const auto& results = g.nodes[static_cast<std::size_t>(node)].results;
    REQUIRE(results.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) CHECK(g.values[static_cast<std::size_t>(results[i])].name == names[i]);
  }
  REQUIRE(g.outputs.size() == 2);
  CHECK(g.values[static_cast<std::size_t>(g.outputs[0])].name == "sum_Add");
  CHECK(g.values[static_cast<std::size_t>(g.outputs[1])].name == "s2");  // returned straight from the Split
}

TEST_CASE("conv_net: a weight stored with another shape takes its op's type", "[models]") {
  if (!ops_available("conv_net")) return;
  const graph g = load_model(model_path("conv_net.mlir"));
  const int v = g.find_value("conv1.bias");
  REQUIRE(v >= 0);
  CHECK(g.values[static_cast<std::size_t>(v)].type.shape == shape_t{8});
  CHECK(g.weights.at("conv1.bias").numel() == 8);
}

TEST_CASE("int_flow: an integer input keeps its element type", "[models]") {
  if (!ops_available("int_flow")) return;
  const graph g = load_model(model_path("int_flow.mlir"));
  const int v = g.find_value("ids");
  REQUIRE(v >= 0);
  CHECK(g.values[static_cast<std::size_t>(v)].type.elem == dtype::i32);
}

TEST_CASE("a truncated .mlir is an error naming the file", "[models][errors]") {
  REQUIRE_THROWS_WITH(load_model(model_path("errors/truncated.mlir")), Contains("truncated.mlir"));
}

TEST_CASE("a missing weight file is an error naming it", "[models][errors]") {
  REQUIRE_THROWS_WITH(load_model(model_path("errors/missing_weight_file.mlir")),
                      Contains("missing_weight_file_top_f32_all_weight.npz") && Contains("not found"));
}

TEST_CASE("a weight file without a weight's key is an error naming both", "[models][errors]") {
  REQUIRE_THROWS_WITH(load_model(model_path("errors/missing_weight_key.mlir")),
                      Contains("missing_weight_key_top_f32_all_weight.npz") && Contains("\"w\""));
}

TEST_CASE("a weight with the wrong element count is an error naming it", "[models][errors]") {
  REQUIRE_THROWS_WITH(load_model(model_path("errors/wrong_weight_count.mlir")),
                      Contains("wrong_weight_count.mlir") && Contains("\"w\"") && Contains("5"));
}

TEST_CASE("an unknown op is an error naming the file and the op", "[models][errors]") {
  REQUIRE_THROWS_WITH(load_model(model_path("errors/unknown_op.mlir")),
                      Contains("unknown_op.mlir") && Contains("top.NoSuchOp"));
}

TEST_CASE("an input of the wrong shape is an error naming the input and both shapes", "[models][errors]") {
  const graph g = load_model(model_path("errors/valid.mlir"));
  const interpreter it(g);
  const npz_file bad = read_npz(model_path("errors/wrong_shape_in_f32.npz"));
  REQUIRE_THROWS_WITH(it.run(to_named(bad)), Contains("\"x\"") && Contains("2x5") && Contains("2x4"));
}

TEST_CASE("the valid error-fixture base model runs", "[models][errors]") {
  // Guards the error cases above: each fails for its own problem, not for one they share.
  const graph g = load_model(model_path("errors/valid.mlir"));
  const interpreter it(g);
  const run_result res = it.run(to_named(read_npz(model_path("errors/valid_in_f32.npz"))));
  const npz_file expected = read_npz(model_path("add_relu_expected.npz"));
  require_matches_oracle("z_Relu", res.at("z_Relu"), expected.at("z_Relu"));
}
