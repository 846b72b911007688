// Processors as types, quantized element types, and the calibration import (model_deploy's first
// step) on the bundled blazeface with TPU-MLIR's own table.
#include <catch2/catch.hpp>

#include <string>

#include "mixq/io/cali_table.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mixq/onnx/importer.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/targets/processor.hpp"
#include "mixq/transforms/canonicalize.hpp"
#include "mixq/transforms/import_calibration.hpp"

using namespace mixq;
using namespace mixq::targets;

static_assert(supports_mode<bm1684x, quant_mode::F16>);
static_assert(!supports_mode<cv183x, quant_mode::F16>);
static_assert(supports_mode<cv182x, quant_mode::BF16>);
static_assert(!supports_mode<bm1684, quant_mode::BF16>);
static_assert(supports_mode<bm1688, quant_mode::INT4> && !supports_mode<bm1684x, quant_mode::INT4>);
static_assert(processor<cv180x> && processor<bm1690>);

TEST_CASE("processor table: names, modes, float types for mixing, capabilities") {
  CHECK(all_processors.size() == 10);
  const auto& x = find_processor("BM1684X");
  CHECK(x.name == "bm1684x");
  CHECK(x.auto_float == quant_mode::F16);
  CHECK(x.asymmetric);
  CHECK_FALSE(x.int4);
  CHECK(find_processor("bm1684").auto_float == quant_mode::F32);
  CHECK_FALSE(find_processor("bm1684").per_channel_weights);
  const auto& cv = find_processor("cv181x");
  CHECK(cv.arithmetic == arithmetic_family::cv18xx);
  CHECK(cv.symmetric_calibration);
  CHECK(cv.auto_float == quant_mode::BF16);
  CHECK(find_processor("cv186x").auto_float == quant_mode::F16);
  CHECK(find_processor("cv184x").modes.has(quant_mode::W4INT8));
  // Lowered with the same arithmetic the TPU kernels run for it (dialect/tpu/common.hpp family_of).
  CHECK(find_processor("cv184x").arithmetic == arithmetic_family::bm168x);
  CHECK(find_processor("cv184x").auto_float == quant_mode::BF16);
  CHECK_FALSE(find_processor("cv184x").symmetric_calibration);
  CHECK_THROWS_WITH(find_processor("bm9999"), Catch::Contains("bm1684x") && Catch::Contains("cv180x"));
  CHECK_THROWS_WITH(require_mode(cv, quant_mode::F16), Catch::Contains("cv181x does not support --quantize F16") && Catch::Contains("BF16, INT8"));
  CHECK_NOTHROW(require_mode(x, quant_mode::W8F16));
}

TEST_CASE("qtable modes are rewritten per chip as init_qtable does") {
  CHECK(find_processor("cv183x").qtable_mode(quant_mode::F32) == quant_mode::BF16);
  CHECK(find_processor("cv183x").qtable_mode(quant_mode::F16) == quant_mode::BF16);
  CHECK(find_processor("cv183x").qtable_mode(quant_mode::INT8) == quant_mode::INT8);
  CHECK(find_processor("bm1684").qtable_mode(quant_mode::F16) == quant_mode::F32);
  CHECK(find_processor("bm1684").qtable_mode(quant_mode::INT8) == quant_mode::INT8);
  CHECK(find_processor("bm1684x").qtable_mode(quant_mode::BF16) == quant_mode::BF16);
  CHECK(parse_quant_mode("w8f16") == quant_mode::W8F16);
  CHECK_FALSE(parse_quant_mode("INT9").has_value());
}

TEST_CASE("quantized element types parse and print back with round-trip precision") {
  const auto c = quant::parse_calibrated("!quant.calibrated<f32<-1.025830e+02:9.768119e+01>>");
  REQUIRE(c.has_value());
  CHECK(c->min == -102.583);
  CHECK(c->max == 97.68119);
  CHECK(quant::parse_calibrated(quant::format(*c)) == c);
  const auto u = quant::parse_uniform("!quant.uniform<u8:f32, 0.023529411764705882:-3>");
  REQUIRE(u.has_value());
  CHECK(u->storage == dtype::u8);
  CHECK(u->zero_point == -3);
  CHECK(u->scale == 0.023529411764705882);
  CHECK(quant::parse_uniform(quant::format(*u)) == u);
  CHECK(quant::format(quant::uniform_type{dtype::i8, dtype::f32, 0.015625, 0}) == "!quant.uniform<i8:f32, 0.015625>");
  CHECK(quant::format(quant::calibrated_type{dtype::f32, 0, 1}) == "!quant.calibrated<f32<0.0:1.0>>");
  for (double v : {1.0 / 3, 1e-5, 2.55 / 255, 127.0 / 64, 6.5e4}) {
    const auto t = quant::parse_uniform(quant::format(quant::uniform_type{dtype::i8, dtype::f32, v, 0}));
    REQUIRE(t.has_value());
    CHECK(t->scale == v);
  }
  CHECK_FALSE(quant::parse_uniform("!quant.uniform<i8<-127:127>:f32:0, {0.1,0.2}>").has_value());  // per-axis
  CHECK_FALSE(quant::parse_calibrated("f32").has_value());
}

namespace {
graph blazeface_top() {
  onnx::import_options o;
  o.model_name = "blazeface";
  graph g = onnx::import_model(onnx::read_model(std::string(MIXQ_TEST_DATA_DIR) + "/onnx_models/blazeface.onnx"), o);
  canonicalize(g);
  return g;
}
}  // namespace

TEST_CASE("import_calibration applies TPU-MLIR's blazeface table with the importer's rules") {
  graph g = blazeface_top();
  const cali_table t = read_cali_table(std::string(MIXQ_TEST_DATA_DIR) + "/cali_tables/blazeface_cali_table");
  const auto rep = import_calibration(g, t);
  CHECK(rep.calibrated == 78);
  CHECK(rep.missing.empty());
  CHECK(g.module_attributes.find("module.state")->get_if<std::string>()->compare("TOP_CALIBRATED") == 0);
  auto range = [&](const std::string& name) {
    const int v = g.find_value(name);
    REQUIRE(v >= 0);
    const auto c = quant::parse_calibrated(g.values[static_cast<std::size_t>(v)].type.quant);
    REQUIRE(c.has_value());
    return std::pair{c->min, c->max};
  };
  CHECK(range("x.1") == std::pair{-1.9812, 1.9812});        // signed input: [-th, th]
  CHECK(range("80_Relu") == std::pair{0.0, 4.1280928});    // Conv with do_relu: min 0
  CHECK(range("81_Conv") == std::pair{-4.6083345, 4.6083345});
  CHECK(range("85_Pad") == std::pair{0.0, 9.4457636});      // table min 0: unsigned
  graph asym = blazeface_top();
  import_calibration(asym, t, {.asymmetric = true});
  const int v = asym.find_value("81_Conv");
  const auto c = quant::parse_calibrated(asym.values[static_cast<std::size_t>(v)].type.quant);
  CHECK(c->min == -7.3697352);
  CHECK(c->max == 3.7644329);
  graph cv = blazeface_top();
  import_calibration(cv, t, {.symmetric_only = true});
  const int r = cv.find_value("80_Relu");
  CHECK(quant::parse_calibrated(cv.values[static_cast<std::size_t>(r)].type.quant)->min == -4.1280928);
  // The calibrated graph prints and reads back with its types.
  const graph back = parse_mlir(print_mlir(g));
  CHECK(back.values[static_cast<std::size_t>(back.find_value("81_Conv"))].type.quant ==
        g.values[static_cast<std::size_t>(g.find_value("81_Conv"))].type.quant);
}

TEST_CASE("import_calibration reports float tensors the table does not cover") {
  graph g = blazeface_top();
  cali_table t;
  t.rows.push_back({"x.1", 2.0, -1.0, 2.0});
  const auto rep = import_calibration(g, t);
  CHECK(rep.calibrated == 1);
  CHECK(rep.missing.size() == 77);
}
