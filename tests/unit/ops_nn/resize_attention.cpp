#include <cmath>
#include <tuple>
#include <vector>

#include "nn_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
op_run interp(const tensor& x, const char* mode, const char* coord, std::int64_t out_w) {
  const tensor target = f32({2}, {1, static_cast<float>(out_w)});
  return run_op("top.Interp", {x, target}, attrs({{"mode", str(mode)}, {"coord_mode", str(coord)}}), true, {1});
}
}  // namespace

TEST_CASE("Interp linear follows each ONNX coordinate mode", "[ops_nn][resize]") {
  const tensor x = f32({1, 1, 1, 2}, {0, 10});
  require_values(interp(x, "linear", "align_corners", 3).outputs[0], {0, 5, 10});
  require_values(interp(x, "linear", "half_pixel", 4).outputs[0], {0, 2.5f, 7.5f, 10});
  require_values(interp(x, "linear", "pytorch_half_pixel", 4).outputs[0], {0, 2.5f, 7.5f, 10});
  require_values(interp(x, "linear", "asymmetric", 4).outputs[0], {0, 5, 10, 10});
  // a single output column: half_pixel samples the middle, pytorch_half_pixel the first cell
  require_values(interp(x, "linear", "half_pixel", 1).outputs[0], {5});
  require_values(interp(x, "linear", "pytorch_half_pixel", 1).outputs[0], {0});
}

TEST_CASE("Interp nearest: floor for asymmetric, round-prefer-floor otherwise", "[ops_nn][resize]") {
  const tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  require_values(interp(x, "nearest", "asymmetric", 2).outputs[0], {1, 3});
  require_values(interp(x, "nearest", "half_pixel", 2).outputs[0], {1, 3});  // sources 0.5, 2.5 round down
  require_values(interp(x, "nearest", "asymmetric", 8).outputs[0], {1, 1, 2, 2, 3, 3, 4, 4});
  require_values(interp(x, "nearest", "align_corners", 3).outputs[0], {1, 2, 4});  // sources 0, 1.5 (down), 3
}

TEST_CASE("Interp 2-D bilinear and shape from scales", "[ops_nn][resize]") {
  const tensor x = f32({1, 1, 2, 2}, {0, 1, 2, 3});
  auto r = run_op("top.Interp", {x, tensor{}},
                  attrs({{"mode", str("linear")}, {"coord_mode", str("align_corners")}, {"scale_h", f64(1.5)}, {"scale_w", f64(1.5)}}));
  CHECK(r.types[0].shape == shape_t{1, 1, 3, 3});
  require_values(r.outputs[0], {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  CHECK_THROWS_WITH(run_op("top.Interp", {x, tensor{}}, attrs({{"mode", str("linear")}, {"coord_mode", str("half_pixel")}})),
                    Catch::Contains("target_shape"));
  CHECK_THROWS_WITH(run_op("top.Interp", {x, tensor{}}, attrs({{"mode", str("cubic")}, {"coord_mode", str("half_pixel")}})),
                    Catch::Contains("not one of"));
}

TEST_CASE("Interp given scales places sources by the scale, not by out / in (ONNX Resize)", "[ops_nn][resize]") {
  // ONNX's resize_downsample_scales_linear(_align_corners): 2x4 by 0.6 -> 1x2; out / in would be 0.5
  const tensor x = f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  for (bool reference : {true, false}) {
    auto half = run_op("top.Interp", {x, tensor{}},
                       attrs({{"mode", str("linear")}, {"coord_mode", str("half_pixel")}, {"scale_h", f64(0.6)}, {"scale_w", f64(0.6)}}),
                       reference);
    CHECK(half.types[0].shape == shape_t{1, 1, 1, 2});
    require_values(half.outputs[0], {2.6666665f, 4.3333331f});
    auto corners = run_op("top.Interp", {x, tensor{}},
                          attrs({{"mode", str("linear")}, {"coord_mode", str("align_corners")}, {"scale_h", f64(0.6)}, {"scale_w", f64(0.6)}}),
                          reference);
    require_values(corners.outputs[0], {1, 3.142857f});  // the resized length is 4 * 0.6 = 2.4, not 2
  }
}

TEST_CASE("Interp compute matches the reference, up and down, every mode", "[ops_nn][resize]") {
  for (const char* mode : {"nearest", "linear"})
    for (const char* coord : {"align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric"})
      for (int trial = 0; trial < 4; ++trial) {
        const tensor x = random_tensor({random_int(1, 2), random_int(1, 3), random_int(1, 9), random_int(1, 13)});
        const tensor target = f32({2}, {static_cast<float>(random_int(1, 20)), static_cast<float>(random_int(1, 25))});
        require_compute_matches_reference("top.Interp", {x, target}, attrs({{"mode", str(mode)}, {"coord_mode", str(coord)}}),
                                          1e-5, 1e-6, {1});
      }
}

TEST_CASE("Upsample repeats each cell", "[ops_nn][resize]") {
  auto r = run_op("top.Upsample", {f32({1, 1, 1, 2}, {1, -2})},
                  attrs({{"scale_h", i64(2)}, {"scale_w", i64(2)}, {"do_relu", attribute(true)}}));
  CHECK(r.types[0].shape == shape_t{1, 1, 2, 4});
  require_values(r.outputs[0], {1, 1, 0, 0, 1, 1, 0, 0});
}

TEST_CASE("Upsample fast path matches the reference", "[ops_nn][resize]") {
  for (const auto& [shape, sh, sw, relu, limit] :
       std::vector<std::tuple<shape_t, std::int64_t, std::int64_t, bool, double>>{{{2, 3, 5, 37}, 2, 2, false, -1.0},
                                                                                  {{1, 4, 3, 7}, 3, 1, true, -1.0},
                                                                                  {{1, 2, 4, 20}, 1, 3, true, 0.5},
                                                                                  {{3, 2, 9}, 1, 4, false, -1.0}}) {
    INFO("input " << to_string(shape) << " scale " << sh << "x" << sw);
    require_compute_matches_reference("top.Upsample", {random_tensor(shape)},
                                      attrs({{"scale_h", i64(sh)}, {"scale_w", i64(sw)}, {"do_relu", attribute(relu)},
                                             {"relu_limit", f64(limit)}}),
                                      0, 0);
  }
}

TEST_CASE("ScaleDotProductAttention weights values by softmax scores", "[ops_nn][attention]") {
  const tensor q = f32({1, 1, 1}, {1}), k = f32({1, 2, 1}, {0, std::log(3.f)}), v = f32({1, 2, 1}, {1, 5});
  require_values(run_op("top.ScaleDotProductAttention", {q, k, v, tensor{}}, attrs({{"scale", f64(1)}})).outputs[0], {4});
  // causal: query 0 sees key 0 only
  const tensor q2 = f32({2, 1}, {1, 1}), k2 = f32({2, 1}, {0, std::log(3.f)}), v2 = f32({2, 1}, {1, 5});
  require_values(run_op("top.ScaleDotProductAttention", {q2, k2, v2, tensor{}},
                        attrs({{"scale", f64(1)}, {"is_causal", attribute(true)}})).outputs[0],
                 {1, 4});
  // additive mask -inf on key 1
  const tensor m = f32({1, 2}, {0, -INFINITY});
  require_values(run_op("top.ScaleDotProductAttention", {q2, k2, v2, m}, attrs({{"scale", f64(1)}})).outputs[0], {1, 1});
}

TEST_CASE("Attention with identity projections equals hand-computed attention", "[ops_nn][attention]") {
  const tensor eye = f32({2, 2}, {1, 0, 0, 1});
  const tensor in = f32({1, 1, 2}, {1, 0}), keys = f32({1, 2, 2}, {0, 0, std::log(3.f), 0}), values = f32({1, 2, 2}, {1, 1, 5, 9});
  auto r = run_op("top.Attention", {in, keys, values, eye, tensor{}, eye, tensor{}, eye, tensor{}, eye, f32({2}, {0, 100}), tensor{}},
                  attrs({{"scale", f64(1)}, {"head", i64(1)}}));
  CHECK(r.types[0].shape == shape_t{1, 1, 2});
  require_values(r.outputs[0], {4, 107});
  CHECK_THROWS_WITH(run_op("top.Attention", {in, keys, values, eye, tensor{}, eye, tensor{}, eye, tensor{}, eye, tensor{}, tensor{}},
                           attrs({{"scale", f64(1)}, {"head", i64(3)}})),
                    Catch::Contains("does not divide"));
}

TEST_CASE("Rope rotates pairs: out = rot(x) * sin + x * cos", "[ops_nn][attention]") {
  const tensor x = f32({1, 4}, {1, 2, 3, 4});
  require_values(run_op("top.Rope", {x, f32({1}, {1}), f32({1}, {0})}).outputs[0], {-2, 1, -4, 3});
  require_values(run_op("top.Rope", {x, f32({4}, {0, 0, 0, 0}), f32({4}, {1, 2, 3, 4})}).outputs[0], {1, 4, 9, 16});
}

TEST_CASE("Einsum contractions against hand-written loops", "[ops_nn][attention]") {
  const tensor a = f32({2, 2}, {1, 2, 3, 4}), b = f32({2, 2}, {5, 6, 7, 8});
  require_values(run_op("top.Einsum", {a, b}, attrs({{"mode", str("ab,ab->a")}})).outputs[0], {17, 53});
  require_values(run_op("top.Einsum", {f32({2}, {1, 2}), f32({3}, {1, 10, 100})}, attrs({{"mode", str("a,b->ab")}})).outputs[0],
                 {1, 10, 100, 2, 20, 200});
  const tensor x = random_tensor({2, 3, 4}), y = random_tensor({2, 3, 5});
  auto r = run_op("top.Einsum", {x, y}, attrs({{"mode", str("abc,abd->acd")}}));
  REQUIRE(r.types[0].shape == shape_t{2, 4, 5});
  for (int i = 0; i < 2; ++i)
    for (int c = 0; c < 4; ++c)
      for (int d = 0; d < 5; ++d) {
        double s = 0;
        for (int j = 0; j < 3; ++j) s += x.values<float>()[static_cast<std::size_t>((i * 3 + j) * 4 + c)] *
                                         static_cast<double>(y.values<float>()[static_cast<std::size_t>((i * 3 + j) * 5 + d)]);
        CHECK(std::abs(r.outputs[0].values<float>()[static_cast<std::size_t>((i * 4 + c) * 5 + d)] - s) < 1e-5);
      }
  CHECK_THROWS_WITH(run_op("top.Einsum", {a}, attrs({{"mode", str("ab,ab->a")}})), Catch::Contains("needs 2 inputs"));
  CHECK_THROWS_WITH(run_op("top.Einsum", {a, b}, attrs({{"mode", str("ij,jk->ik")}})), Catch::Contains("not one of"));
}
