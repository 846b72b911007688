// TOP -> TPU lowering on a small calibrated graph: INT8 for bm1684x and cv183x, F16 and BF16,
// the casts between precisions, weight names, module attributes, and the lowered model's outputs
// against FP32.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "mixq/calibration/calibrate.hpp"
#include "mixq/core/similarity.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mixq/io/model.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/import_calibration.hpp"

#include "max_table.hpp"

using namespace mixq;

namespace {

/// x [1,3,8,8] -> Conv 3x3 (relu) -> Conv 1x1 -> out; random weights.
graph two_convs() {
  graph g;
  g.name = "two_convs";
  g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
  std::mt19937 gen(5);
  std::normal_distribution<float> d(0.f, 0.3f);
  auto weight = [&](const std::string& name, shape_t shape) {
    std::vector<float> v(static_cast<std::size_t>(numel(shape)));
    for (auto& e : v) e = d(gen);
    g.weights[name] = tensor::from_vector<float>(shape, v);
    return g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::f32, shape}}, {name}))].results[0];
  };
  g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = g.add_argument({dtype::f32, {1, 3, 8, 8}});
  const int x = g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, {1, 3, 8, 8}}}, {"x"}))].results[0];
  top::conv_op::attributes c1;
  c1.kernel_shape = std::vector<std::int64_t>{3, 3};
  c1.strides = std::vector<std::int64_t>{1, 1};
  c1.pads = std::vector<std::int64_t>{1, 1, 1, 1};
  c1.do_relu = true;
  const int w1 = weight("w1", {8, 3, 3, 3}), b1 = weight("b1", {8});
  const int y1 = g.nodes[static_cast<std::size_t>(g.add<top::conv_op>({x, w1, b1}, {{dtype::f32, {1, 8, 8, 8}}}, {"conv1"}, c1))].results[0];
  top::conv_op::attributes c2;
  c2.kernel_shape = std::vector<std::int64_t>{1, 1};
  c2.strides = std::vector<std::int64_t>{1, 1};
  c2.pads = std::vector<std::int64_t>{0, 0, 0, 0};
  const int w2 = weight("w2", {4, 8, 1, 1}), b2 = weight("b2", {4});
  const int y2 = g.nodes[static_cast<std::size_t>(g.add<top::conv_op>({y1, w2, b2}, {{dtype::f32, {1, 4, 8, 8}}}, {"conv2"}, c2))].results[0];
  g.outputs = {y2};
  return g;
}

std::vector<named_tensors> samples(int n) {
  std::mt19937 gen(9);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<named_tensors> out;
  for (int k = 0; k < n; ++k) {
    tensor t = tensor::empty(dtype::f32, {1, 3, 8, 8});
    for (float& v : t.values<float>()) v = d(gen);
    out.push_back({{"x", t}});
  }
  return out;
}


graph lower_for(const graph& top_f32, const cali_table& table, const std::string& chip, targets::quant_mode mode,
              targets::lowering_report& rep) {
  graph g = top_f32;
  const auto& p = targets::find_processor(chip);
  if (targets::is_integer_mode(mode)) {
    import_calibration(g, table, {.symmetric_only = p.symmetric_calibration});
    propagate_calibration(g, p);
  }
  targets::deploy_options opt;
  opt.mode = mode;
  opt.chip = &p;
  return targets::lower_to_tpu(g, opt, rep);
}

double cosine_vs_fp32(const graph& top_f32, const graph& low, const named_tensors& in) {
  interpreter a(top_f32), b(low);
  const auto ra = a.run(in), rb = b.run(in);
  return cosine_similarity(detail::sanitized_values(ra.outputs()[0].second), detail::sanitized_values(rb.outputs()[0].second));
}

}  // namespace

TEST_CASE("bm1684x INT8: Convs become tpu.Conv2D with int8 filters, int32 biases and one quantizing cast") {
  const graph g = two_convs();
  const auto s = samples(4);
  targets::lowering_report rep;
  const graph low = lower_for(g, deploy_test::max_cali_table(g, s), "bm1684x", targets::quant_mode::INT8, rep);
  CHECK(rep.ops_per_mode["INT8"] == 2);
  CHECK(rep.casts == 2);  // quantize x, dequantize the output
  CHECK(low.weights.count("conv1_filter_i8") == 1);
  CHECK(low.weights.at("conv1_filter_i8").elem() == dtype::i8);
  CHECK(low.weights.at("conv1_bias_int32").shape() == shape_t{1, 8, 1, 1});
  CHECK(low.weight_file() == "two_convs_tpu_lowered_bm1684x_int8_sym_weight.npz");
  CHECK(low.find_value("xconv1_si8") >= 0);
  CHECK(low.find_value("conv2_f32") >= 0);
  // conv1 has a relu: unsigned output, so conv2 reads uint8.
  CHECK(low.values[static_cast<std::size_t>(low.find_value("conv1"))].type.elem == dtype::u8);
  for (const auto& in : s) CHECK(cosine_vs_fp32(g, low, in) > 0.995);
  // The lowered file prints and reads back to the same computation.
  graph back = parse_mlir(print_mlir(low));
  back.weights = low.weights;
  interpreter a(low), b(back);
  const tensor ya = a.run(s[0]).outputs()[0].second, yb = b.run(s[0]).outputs()[0].second;
  CHECK(std::equal(ya.values<float>().begin(), ya.values<float>().end(), yb.values<float>().begin()));
}

TEST_CASE("cv183x and bm1684 INT8: QDM and shift-only convolutions, signed on CV18xx") {
  const graph g = two_convs();
  const auto s = samples(4);
  for (const char* chip : {"cv183x", "bm1684"}) {
    targets::lowering_report rep;
    const graph low = lower_for(g, deploy_test::max_cali_table(g, s), chip, targets::quant_mode::INT8, rep);
    INFO(chip);
    CHECK(rep.ops_per_mode["INT8"] == 2);
    CHECK(low.values[static_cast<std::size_t>(low.find_value("conv1"))].type.elem == (std::string(chip) == "cv183x" ? dtype::i8 : dtype::u8));
    for (const auto& in : s) CHECK(cosine_vs_fp32(g, low, in) > 0.99);
  }
  targets::lowering_report rep;
  const graph bm = lower_for(g, deploy_test::max_cali_table(g, s), "bm1684", targets::quant_mode::INT8, rep);
  CHECK(bm.weights.at("conv1_bias_int16").elem() == dtype::i16);
}

TEST_CASE("F16 and BF16 lowering: float tpu.Conv2D with converted weights, outputs close to FP32") {
  const graph g = two_convs();
  const auto s = samples(2);
  for (auto mode : {targets::quant_mode::F16, targets::quant_mode::BF16}) {
    targets::lowering_report rep;
    const graph low = lower_for(g, {}, "bm1684x", mode, rep);
    const dtype f = mode == targets::quant_mode::F16 ? dtype::f16 : dtype::bf16;
    CHECK(low.weights.at(mode == targets::quant_mode::F16 ? "w1_f16" : "w1_bf16").elem() == f);
    CHECK(low.values[static_cast<std::size_t>(low.find_value("conv1"))].type.elem == f);
    for (const auto& in : s) CHECK(cosine_vs_fp32(g, low, in) > 0.9999);
  }
}

TEST_CASE("a BF16 model saved and loaded again reads its uint16-stored weights back as bfloat16") {
  // numpy has no bfloat16, so the npz holds the bits as uint16 (as TPU-MLIR's does).
  const graph g = two_convs();
  targets::lowering_report rep;
  graph low = lower_for(g, {}, "bm1684x", targets::quant_mode::BF16, rep);
  const auto dir = std::filesystem::temp_directory_path() / "mixq_bf16_roundtrip";
  std::filesystem::create_directories(dir);
  save_model(low, (dir / "low.mlir").string(), "low_weight.npz");
  CHECK(read_npz((dir / "low_weight.npz").string()).find("w1_bf16")->elem() == dtype::u16);
  const graph back = load_model((dir / "low.mlir").string());
  CHECK(back.weights.at("w1_bf16").elem() == dtype::bf16);
  for (const auto& in : samples(1)) CHECK(cosine_vs_fp32(low, back, in) > 0.999999);
  std::filesystem::remove_all(dir);
}

TEST_CASE("unsupported processor/mode pairs and asymmetric on a symmetric chip are errors") {
  const graph g = two_convs();
  targets::lowering_report rep;
  targets::deploy_options opt;
  opt.mode = targets::quant_mode::F16;
  opt.chip = &targets::find_processor("cv183x");
  CHECK_THROWS_WITH(targets::lower_to_tpu(g, opt, rep), Catch::Contains("cv183x does not support --quantize F16"));
  opt.mode = targets::quant_mode::INT8;
  opt.asymmetric = true;
  CHECK_THROWS_WITH(targets::lower_to_tpu(g, opt, rep), Catch::Contains("--asymmetric"));
}
