// Calibration propagation (docs/lowering_spec.md §2.4) on small hand-written graphs and on
// blazeface with TPU-MLIR's table.
#include <catch2/catch.hpp>

#include <string>

#include "mixq/io/cali_table.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/onnx/importer.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/canonicalize.hpp"
#include "mixq/transforms/import_calibration.hpp"

using namespace mixq;

namespace {

std::pair<double, double> range_of(const graph& g, const std::string& name) {
  const int v = g.find_value(name);
  REQUIRE(v >= 0);
  const auto c = quant::parse_calibrated(g.values[static_cast<std::size_t>(v)].type.quant);
  REQUIRE(c.has_value());
  return {c->min, c->max};
}

std::string cal(double mn, double mx) { return quant::format(quant::calibrated_type{dtype::f32, mn, mx}); }

/// x -> Conv-free chain: Relu(a) with a = Add(x, x), Reshape, MaxPool, Concat with y.
graph chain() {
  const std::string t = "tensor<1x2x4x4x";
  const std::string text =
      "module @p attributes {module.chip = \"ALL\", module.platform = \"ONNX\", module.state = \"TOP_CALIBRATED\", "
      "module.weight_file = \"p_top_f32_all_weight.npz\"} {\n"
      "  func.func @main(%arg0: tensor<1x2x4x4xf32>, %arg1: tensor<1x2x2x2xf32>) -> tensor<1x4x2x2x" + cal(0, 3.6) + "> {\n"
      "    %0 = \"top.None\"() : () -> none loc(unknown)\n"
      "    %1 = \"top.Input\"(%arg0) : (tensor<1x2x4x4xf32>) -> " + t + cal(-2, 2) + "> loc(\"x\")\n"
      "    %2 = \"top.Input\"(%arg1) : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2x" + cal(0, 3) + "> loc(\"y\")\n"
      "    %3 = \"top.Add\"(%1, %1) : (" + t + cal(-2, 2) + ">, " + t + cal(-2, 2) + ">) -> " + t + cal(-4, 4) + "> loc(\"a\")\n"
      "    %4 = \"top.Relu\"(%3) : (" + t + cal(-4, 4) + ">) -> " + t + cal(0, 3.5) + "> loc(\"r\")\n"
      "    %5 = \"top.MaxPool\"(%4) {kernel_shape = [2, 2], strides = [2, 2], pads = [0, 0, 0, 0]} : (" + t + cal(0, 3.5) +
      ">) -> tensor<1x2x2x2x" + cal(0, 3.4) + "> loc(\"m\")\n"
      "    %6 = \"top.Concat\"(%5, %2) {axis = 1 : si32} : (tensor<1x2x2x2x" + cal(0, 3.4) + ">, tensor<1x2x2x2x" + cal(0, 3) +
      ">) -> tensor<1x4x2x2x" + cal(0, 3.6) + "> loc(\"c\")\n"
      "    return %6 : tensor<1x4x2x2x" + cal(0, 3.6) + "> loc(unknown)\n  } loc(unknown)\n} loc(unknown)\n";
  return parse_mlir(text);
}

}  // namespace

TEST_CASE("propagation: Relu and MaxPool push their range back, Concat unifies its inputs") {
  graph g = chain();
  const auto rep = propagate_calibration(g, targets::find_processor("bm1684x"));
  CHECK(rep.changes > 0);
  // Concat: inputs differ, so both take the output's range...
  CHECK(range_of(g, "m") == std::pair{0.0, 3.6});
  CHECK(range_of(g, "y") == std::pair{0.0, 3.6});
  // ...and MaxPool (single use) and Relu pass it back to their inputs.
  CHECK(range_of(g, "r") == std::pair{0.0, 3.6});
  CHECK(range_of(g, "a") == std::pair{0.0, 3.6});
  CHECK(range_of(g, "c") == std::pair{0.0, 3.6});
  // A second run changes nothing.
  CHECK(propagate_calibration(g, targets::find_processor("bm1684x")).changes == 0);
}

TEST_CASE("propagation on blazeface: every Pad and MaxPool shares its input's range") {
  onnx::import_options o;
  o.model_name = "blazeface";
  graph g = onnx::import_model(onnx::read_model(std::string(MIXQ_TEST_DATA_DIR) + "/onnx_models/blazeface.onnx"), o);
  canonicalize(g);
  import_calibration(g, read_cali_table(std::string(MIXQ_TEST_DATA_DIR) + "/cali_tables/blazeface_cali_table"));
  propagate_calibration(g, targets::find_processor("bm1684x"));
  for (const node& n : g.nodes) {
    if (n.mnemonic() != "top.Pad" && n.mnemonic() != "top.MaxPool" && n.mnemonic() != "top.Reshape" && n.mnemonic() != "top.Permute") continue;
    const auto in = quant::parse_calibrated(g.values[static_cast<std::size_t>(n.operands[0])].type.quant);
    const auto out = quant::parse_calibrated(g.values[static_cast<std::size_t>(n.results[0])].type.quant);
    REQUIRE(in.has_value());
    REQUIRE(out.has_value());
    INFO(g.node_name(static_cast<int>(&n - g.nodes.data())));
    CHECK(in->min == out->min);
    CHECK(in->max == out->max);
  }
}
