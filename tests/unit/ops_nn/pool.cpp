#include "nn_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
attr_dict pool_attrs(std::vector<std::int64_t> k, std::vector<std::int64_t> s, std::vector<std::int64_t> p,
                     bool ceil = false, bool include_pad = false) {
  auto d = attrs({{"kernel_shape", i64s(k)}, {"strides", i64s(s)}, {"pads", i64s(p)},
                  {"count_include_pad", attribute(include_pad)}});
  if (ceil) d.set("ceil_mode", attribute(true));
  return d;
}
// 1x1x3x3 with values 1..9
const tensor x33 = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}  // namespace

TEST_CASE("MaxPool 2x2 stride 1 on a 3x3 map", "[ops_nn][pool]") {
  auto r = run_op("top.MaxPool", {x33}, pool_attrs({2, 2}, {1, 1}, {0, 0, 0, 0}));
  CHECK(r.types[0].shape == shape_t{1, 1, 2, 2});
  require_values(r.outputs[0], {5, 6, 8, 9});
}

TEST_CASE("MaxPool ignores padding even when every input is negative", "[ops_nn][pool]") {
  const tensor x = f32({1, 1, 2, 2}, {-1, -2, -3, -4});
  auto r = run_op("top.MaxPool", {x}, pool_attrs({2, 2}, {1, 1}, {1, 1, 1, 1}));
  CHECK(r.types[0].shape == shape_t{1, 1, 3, 3});
  require_values(r.outputs[0], {-1, -1, -2, -1, -1, -2, -3, -3, -4});
}

TEST_CASE("AvgPool with padding: count_include_pad both ways", "[ops_nn][pool]") {
  // 3x3 kernel, pad 1: the corner window holds 1,2,4,5 (sum 12) and 5 padded cells.
  auto excl = run_op("top.AvgPool", {x33}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false, false));
  CHECK(excl.types[0].shape == shape_t{1, 1, 2, 2});
  require_values(excl.outputs[0], {12.f / 4, 16.f / 4, 24.f / 4, 28.f / 4});
  auto incl = run_op("top.AvgPool", {x33}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false, true));
  require_values(incl.outputs[0], {12.f / 9, 16.f / 9, 24.f / 9, 28.f / 9});
}

TEST_CASE("ceil_mode adds a partial window and its divisor stops at the padded edge", "[ops_nn][pool]") {
  const tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  // kernel 1x3, stride 2, no pad: floor gives 1 window, ceil gives 2 (the second covers 3,4 only).
  auto fl = run_op("top.AvgPool", {x}, pool_attrs({1, 3}, {1, 2}, {0, 0, 0, 0}, false, true));
  CHECK(fl.types[0].shape == shape_t{1, 1, 1, 1});
  auto ce = run_op("top.AvgPool", {x}, pool_attrs({1, 3}, {1, 2}, {0, 0, 0, 0}, true, true));
  CHECK(ce.types[0].shape == shape_t{1, 1, 1, 2});
  // PyTorch: divisor of the overhanging window is clipped to input + pad = 2 cells.
  require_values(ce.outputs[0], {2, 3.5f});
  auto mx = run_op("top.MaxPool", {x}, pool_attrs({1, 3}, {1, 2}, {0, 0, 0, 0}, true));
  require_values(mx.outputs[0], {3, 4});
}

TEST_CASE("1-D and 3-D pooling", "[ops_nn][pool]") {
  const tensor x1 = f32({1, 2, 5}, {1, 5, 2, 4, 3, 0, -1, -2, -3, -4});
  auto r1 = run_op("top.MaxPool", {x1}, pool_attrs({2}, {2}, {0, 1}));
  CHECK(r1.types[0].shape == shape_t{1, 2, 3});
  require_values(r1.outputs[0], {5, 4, 3, 0, -2, -4});
  std::vector<float> v(8);
  for (int i = 0; i < 8; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  auto r3 = run_op("top.AvgPool", {f32({1, 1, 2, 2, 2}, v)}, pool_attrs({2, 2, 2}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}));
  CHECK(r3.types[0].shape == shape_t{1, 1, 1, 1, 1});
  require_values(r3.outputs[0], {3.5f});
}

TEST_CASE("global AvgPool with keepdims=false drops the trailing unit axes", "[ops_nn][pool]") {
  auto d = pool_attrs({3, 3}, {1, 1}, {0, 0, 0, 0});
  d.set("keepdims", attribute(false));
  auto r = run_op("top.AvgPool", {x33}, d);
  CHECK(r.types[0].shape == shape_t{1, 1});
  require_values(r.outputs[0], {5});
}

TEST_CASE("pooling applies the fused relu with its limit", "[ops_nn][pool]") {
  const tensor x = f32({1, 1, 1, 4}, {-3, 2, 7, 9});
  auto d = pool_attrs({1, 2}, {1, 2}, {0, 0, 0, 0});
  d.set("do_relu", attribute(true));
  d.set("relu_limit", f64(6));
  require_values(run_op("top.MaxPool", {x}, d).outputs[0], {2, 6});
  require_values(run_op("top.MaxPool", {x}, d, false).outputs[0], {2, 6});
  require_values(run_op("top.AvgPool", {x}, d).outputs[0], {0, 6});
}

TEST_CASE("auto_pad SAME_UPPER pads the end first", "[ops_nn][pool]") {
  const tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  auto d = pool_attrs({1, 2}, {1, 1}, {});
  d.set("auto_pad", str("SAME_UPPER"));
  auto r = run_op("top.MaxPool", {x}, d);
  CHECK(r.types[0].shape == shape_t{1, 1, 1, 4});
  require_values(r.outputs[0], {2, 3, 4, 4});
}

TEST_CASE("MaxPoolWithMask returns the in-plane index of each maximum", "[ops_nn][pool]") {
  const tensor x = f32({1, 2, 2, 2}, {1, 9, 3, 4, 8, 5, 6, 7});
  auto r = run_op("top.MaxPoolWithMask", {x}, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}), true, {}, 2);
  REQUIRE(r.outputs.size() == 2);
  require_values(r.outputs[0], {9, 8});
  require_values(r.outputs[1], {1, 0});
}

TEST_CASE("AdaptiveAvgPool uses floor/ceil bins", "[ops_nn][pool]") {
  const tensor x = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  auto r = run_op("top.AdaptiveAvgPool", {x}, attrs({{"output_size", i64s({1, 3})}}));
  CHECK(r.types[0].shape == shape_t{1, 1, 1, 3});
  // bins [0,2) [1,4) [3,5)
  require_values(r.outputs[0], {1.5f, 3, 4.5f});
}

TEST_CASE("pool attribute errors name the op", "[ops_nn][pool]") {
  CHECK_THROWS_WITH(run_op("top.MaxPool", {x33}, pool_attrs({2, 2}, {1}, {0, 0, 0, 0})),
                    Catch::Contains("top.MaxPool") && Catch::Contains("strides"));
  CHECK_THROWS_WITH(run_op("top.AvgPool", {x33}, pool_attrs({2, 2}, {1, 1}, {0, 0})), Catch::Contains("pads"));
  CHECK_THROWS_WITH(run_op("top.AvgPool", {x33}, pool_attrs({5, 5}, {1, 1}, {0, 0, 0, 0})),
                    Catch::Contains("does not fit"));
  CHECK_THROWS_WITH(run_op("top.MaxPool", {x33}, attrs({{"strides", i64s({1, 1})}, {"pads", i64s({0, 0, 0, 0})}})),
                    Catch::Contains("kernel_shape"));
  CHECK_THROWS_WITH(run_op("top.AdaptiveAvgPool", {x33}, attrs({{"output_size", i64s({0, 2})}})),
                    Catch::Contains("positive"));
}

TEST_CASE("2-D pooling fast path matches the reference on random shapes", "[ops_nn][pool]") {
  for (int trial = 0; trial < 60; ++trial) {
    const std::int64_t kh = random_int(1, 4), kw = random_int(1, 4);
    const std::int64_t ih = random_int(kh, 19), iw = random_int(kw, 37);
    const std::int64_t sh = random_int(1, 3), sw = trial % 3 == 0 ? random_int(1, 3) : 1;
    const std::int64_t pt = random_int(0, kh - 1), pl = random_int(0, kw - 1), pb = random_int(0, kh - 1),
                       pr = random_int(0, kw - 1);
    const bool ceil = trial % 2 == 1, incl = trial % 4 >= 2;
    const tensor x = random_tensor({random_int(1, 2), random_int(1, 5), ih, iw}, -3, 3);
    const auto d = pool_attrs({kh, kw}, {sh, sw}, {pt, pl, pb, pr}, ceil, incl);
    INFO("trial " << trial << " k " << kh << "x" << kw << " s " << sh << "x" << sw << " in " << ih << "x" << iw);
    require_compute_matches_reference("top.MaxPool", {x}, d, 0, 0);
    require_compute_matches_reference("top.AvgPool", {x}, d, 1e-5, 1e-6);
  }
}

TEST_CASE("1-D pooling fast path matches the reference", "[ops_nn][pool]") {
  const tensor x = random_tensor({2, 3, 41});
  require_compute_matches_reference("top.MaxPool", {x}, pool_attrs({3}, {1}, {1, 2}, true), 0, 0);
  require_compute_matches_reference("top.AvgPool", {x}, pool_attrs({4}, {3}, {2, 1}, true, true));
}

TEST_CASE("global pooling and strided CNN pooling match the reference", "[ops_nn][pool]") {
  // Global windows take the whole-plane path; 3x3/2 and 2x2/2 on wide rows take the stride-phase path
  // with full vectors and ragged tails.
  for (std::int64_t hw : {1, 7, 12, 56}) {
    const tensor x = random_tensor({2, 3, hw, hw + 3}, -3, 3);
    const auto d = pool_attrs({hw, hw + 3}, {1, 1}, {0, 0, 0, 0});
    require_compute_matches_reference("top.MaxPool", {x}, d, 0, 0);
    require_compute_matches_reference("top.AvgPool", {x}, d, 1e-5, 1e-6);
  }
  const tensor x = random_tensor({1, 4, 45, 113}, -3, 3);
  for (bool incl : {false, true}) {
    const auto d3 = pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, false, incl);
    require_compute_matches_reference("top.MaxPool", {x}, d3, 0, 0);
    require_compute_matches_reference("top.AvgPool", {x}, d3, 1e-5, 1e-6);
    const auto d2 = pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}, true, incl);
    require_compute_matches_reference("top.MaxPool", {x}, d2, 0, 0);
    require_compute_matches_reference("top.AvgPool", {x}, d2, 1e-5, 1e-6);
  }
}

TEST_CASE("MaxPool picks exact values of integer tensors, on both paths", "[ops_nn][pool]") {
  // 250 and 3'000'000'000 would not survive a trip through float arithmetic that rounds
  const tensor u8 = tensor::from_vector<std::uint8_t>({1, 1, 2, 3}, {1, 250, 3, 249, 5, 0});
  const tensor big = tensor::from_vector<std::int64_t>({1, 1, 2, 2}, {-7, 3'000'000'001, 3'000'000'000, -1});
  for (bool reference : {true, false}) {
    auto r = run_op("top.MaxPool", {u8}, pool_attrs({2, 2}, {1, 1}, {0, 0, 0, 0}), reference);
    REQUIRE(r.outputs[0].elem() == dtype::u8);
    CHECK(std::vector<std::uint8_t>(r.outputs[0].values<std::uint8_t>().begin(), r.outputs[0].values<std::uint8_t>().end()) ==
          std::vector<std::uint8_t>{250, 250});
    // bottom/right padding: the last window holds -1 and three padded cells, which never win
    auto s = run_op("top.MaxPool", {big}, pool_attrs({2, 2}, {1, 1}, {0, 0, 1, 1}), reference);
    REQUIRE(s.types[0].shape == shape_t{1, 1, 2, 2});
    CHECK(to_int64_vector(s.outputs[0]) == std::vector<std::int64_t>{3'000'000'001, 3'000'000'001, 3'000'000'000, -1});
  }
  CHECK_THROWS_WITH(run_op("top.AvgPool", {u8}, pool_attrs({2, 2}, {1, 1}, {0, 0, 0, 0})), Catch::Contains("float"));
}
