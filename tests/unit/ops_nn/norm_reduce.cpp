#include <cmath>

#include "nn_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("BatchNorm folds mean, variance, gamma and beta per channel", "[ops_nn][norm]") {
  const tensor x = f32({1, 2, 1, 2}, {1, 3, 10, 20});
  const tensor mean = f32({2}, {2, 10}), var = f32({2}, {4, 100}), gamma = f32({2}, {2, 1}), beta = f32({2}, {1, -1});
  auto d = attrs({{"epsilon", f64(0.0)}});
  const std::vector<float> expect{(1 - 2) / 2.f * 2 + 1, (3 - 2) / 2.f * 2 + 1, -1, 0};
  require_values(run_op("top.BatchNorm", {x, mean, var, gamma, beta}, d).outputs[0], expect);
  require_values(run_op("top.BatchNorm", {x, mean, var, gamma, beta}, d, false).outputs[0], expect);
  require_values(run_op("top.BatchNorm", {x, mean, var, tensor{}, tensor{}}, d).outputs[0], {-0.5f, 0.5f, 0, 1});
}

TEST_CASE("Scale is x * s[c] + b[c] with fused relu", "[ops_nn][norm]") {
  const tensor x = f32({1, 2, 2}, {1, -2, 3, 4});
  auto d = attrs({{"do_relu", attribute(true)}});
  auto r = run_op("top.Scale", {x, f32({1, 2, 1}, {2, -1}), f32({1, 2, 1}, {0, 1})}, d);
  require_values(r.outputs[0], {2, 0, 0, 0});
}

TEST_CASE("LayerNorm over the last axis with weight and bias", "[ops_nn][norm]") {
  const tensor x = f32({2, 2}, {1, 3, -2, 2});
  auto d = attrs({{"normalized_shape", i64s({2})}, {"axis", attribute(int_attr{-1, "si32"})}, {"eps", f64(0)}});
  auto r = run_op("top.LayerNorm", {x, f32({2}, {2, 1}), f32({2}, {0, 10})}, d);
  require_values(r.outputs[0], {-2, 11, -2, 11});
  auto none = run_op("top.LayerNorm", {x, tensor{}, tensor{}}, d, false);
  require_values(none.outputs[0], {-1, 1, -1, 1});
}

TEST_CASE("RMSNorm, InstanceNorm, GroupNorm, PixelNorm on hand-computed data", "[ops_nn][norm]") {
  auto eps0 = attrs({{"eps", f64(0)}});
  require_values(run_op("top.RMSNorm", {f32({1, 2}, {3, 4}), f32({2}, {1, 2})}, eps0).outputs[0],
                 {3 / std::sqrt(12.5f), 8 / std::sqrt(12.5f)});
  const tensor x = f32({1, 2, 2}, {0, 2, 5, 7});  // channel 0: 0,2 ; channel 1: 5,7
  require_values(run_op("top.InstanceNorm", {x, f32({2}, {1, 3}), f32({2}, {0, 1})}, eps0).outputs[0], {-1, 1, -2, 4});
  // one group over all 4 values: mean 3.5, var 7.25
  auto g = attrs({{"eps", f64(0)}, {"num_groups", i64(1)}});
  const float s = std::sqrt(7.25f);
  require_values(run_op("top.GroupNorm", {x, tensor{}, tensor{}}, g).outputs[0], {-3.5f / s, -1.5f / s, 1.5f / s, 3.5f / s});
  // PixelNorm normalises (0,5) and (2,7) across channels
  require_values(run_op("top.PixelNorm", {x, tensor{}, tensor{}}, eps0).outputs[0], {-1, -1, 1, 1});
  require_values(run_op("top.Normalize", {f32({1, 2, 1}, {3, 4}), f32({1}, {2})}, {}).outputs[0], {1.2f, 1.6f});
}

TEST_CASE("norm attribute and operand errors", "[ops_nn][norm]") {
  const tensor x = random_tensor({2, 3, 4});
  auto d = attrs({{"normalized_shape", i64s({5})}, {"axis", attribute(int_attr{2, "si32"})}, {"eps", f64(1e-5)}});
  CHECK_THROWS_WITH(run_op("top.LayerNorm", {x, tensor{}, tensor{}}, d), Catch::Contains("normalized_shape"));
  CHECK_THROWS_WITH(run_op("top.LayerNorm", {x, tensor{}, tensor{}}, attrs({{"axis", attribute(int_attr{2, "si32"})}})),
                    Catch::Contains("required attribute"));
  CHECK_THROWS_WITH(run_op("top.GroupNorm", {x, tensor{}, tensor{}}, attrs({{"eps", f64(0)}, {"num_groups", i64(2)}})),
                    Catch::Contains("does not divide"));
  CHECK_THROWS_WITH(run_op("top.BatchNorm", {x, f32({2}, {0, 0}), f32({3}, {1, 1, 1}), tensor{}, tensor{}}, {}),
                    Catch::Contains("mean has 2 values"));
}

TEST_CASE("norm fast paths match the reference on random shapes", "[ops_nn][norm]") {
  for (int trial = 0; trial < 12; ++trial) {
    const std::int64_t n = random_int(1, 3), c = random_int(1, 7), h = random_int(1, 9), w = random_int(1, 37);
    const tensor x = random_tensor({n, c, h, w}, -2, 5);
    const tensor mean = random_tensor({c}), var = random_tensor({c}, 0.1f, 2), g = random_tensor({c}), b = random_tensor({c});
    auto bn = attrs({{"do_relu", attribute(trial % 2 == 0)}, {"relu_limit", f64(trial % 4 == 0 ? 1.0 : -1.0)}});
    require_compute_matches_reference("top.BatchNorm", {x, mean, var, g, b}, bn);
    require_compute_matches_reference("top.Scale", {x, g, b}, bn);
    const int axis = static_cast<int>(random_int(1, 3));
    shape_t ns(x.shape().begin() + axis, x.shape().end());
    auto ln = attrs({{"normalized_shape", i64s(ns)}, {"axis", attribute(int_attr{axis, "si32"})}, {"eps", f64(1e-5)}});
    require_compute_matches_reference("top.LayerNorm", {x, random_tensor(ns), random_tensor(ns)}, ln, 1e-4, 1e-4);
    require_compute_matches_reference("top.RMSNorm", {x, random_tensor({w})}, attrs({{"eps", f64(1e-6)}}), 1e-4, 1e-5);
  }
}

TEST_CASE("Reduce modes on a hand-computed 2x3 tensor", "[ops_nn][reduce]") {
  const tensor x = f32({2, 3}, {1, -2, 3, 4, 5, -6});
  auto red = [&](const char* mode, std::vector<std::int64_t> axes, bool keep) {
    return run_op("top.Reduce", {x}, attrs({{"axes", i64s(axes)}, {"keepdims", attribute(keep)}, {"mode", str(mode)}}));
  };
  auto s = red("ReduceSum", {1}, false);
  CHECK(s.types[0].shape == shape_t{2});
  require_values(s.outputs[0], {2, 3});
  CHECK(red("ReduceMean", {0}, true).types[0].shape == shape_t{1, 3});
  require_values(red("ReduceMean", {0}, true).outputs[0], {2.5f, 1.5f, -1.5f});
  require_values(red("ReduceMax", {-1}, false).outputs[0], {3, 5});
  require_values(red("ReduceMin", {1}, false).outputs[0], {-2, -6});
  require_values(red("ReduceL1", {1}, false).outputs[0], {6, 15});
  require_values(red("ReduceL2", {1}, false).outputs[0], {std::sqrt(14.f), std::sqrt(77.f)});
  require_values(red("ReduceProd", {0, 1}, false).outputs[0], {720});
  CHECK(red("ReduceProd", {0, 1}, false).types[0].shape == shape_t{1});
  CHECK_THROWS_WITH(red("ReduceSum", {2}, false), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(red("ReduceAll", {1}, false), Catch::Contains("not one of"));
}

TEST_CASE("Reduce fast path matches the reference", "[ops_nn][reduce]") {
  const char* modes[] = {"ReduceMin", "ReduceMax", "ReduceMean", "ReduceL2", "ReduceL1", "ReduceSum", "ReduceProd"};
  const std::vector<std::vector<std::int64_t>> axes_sets{{3}, {-1, 2}, {1}, {1, 2}, {0, 2}, {0, 1, 2, 3}};
  for (int trial = 0; trial < 14; ++trial) {
    const tensor x = random_tensor({random_int(1, 3), random_int(1, 6), random_int(1, 5), random_int(1, 35)}, 0.5f, 1.5f);
    for (const auto& axes : axes_sets)
      require_compute_matches_reference("top.Reduce", {x},
                                        attrs({{"axes", i64s(axes)}, {"keepdims", attribute(trial % 2 == 0)},
                                               {"mode", str(modes[trial % 7])}}),
                                        1e-4, 1e-5);
  }
}

TEST_CASE("Softmax and log-softmax values, beta, large inputs", "[ops_nn][reduce]") {
  const tensor x = f32({1, 3}, {0, std::log(2.f), std::log(5.f)});
  auto d = attrs({{"axis", attribute(int_attr{1, "si32"})}});
  require_values(run_op("top.Softmax", {x}, d).outputs[0], {0.125f, 0.25f, 0.625f});
  require_values(run_op("top.Softmax", {x}, d, false).outputs[0], {0.125f, 0.25f, 0.625f});
  d.set("log", attribute(true));
  require_values(run_op("top.Softmax", {x}, d, false).outputs[0], {std::log(0.125f), std::log(0.25f), std::log(0.625f)});
  // exp(1000) overflows: the max shift must keep this finite
  auto big = attrs({{"axis", attribute(int_attr{-1, "si32"})}, {"beta", f64(0.5)}});
  require_values(run_op("top.Softmax", {f32({2}, {1000, 1000 + 2 * std::log(3.f)})}, big, false).outputs[0], {0.25f, 0.75f});
}

TEST_CASE("Softmax fast path matches the reference on every axis", "[ops_nn][reduce]") {
  for (int trial = 0; trial < 10; ++trial) {
    const tensor x = random_tensor({random_int(1, 3), random_int(1, 7), random_int(1, 45)}, -8, 8);
    for (int axis = 0; axis < 3; ++axis)
      for (bool lg : {false, true})
        require_compute_matches_reference(
            "top.Softmax", {x}, attrs({{"axis", attribute(int_attr{axis, "si32"})}, {"log", attribute(lg)}}), 2e-6, 2e-7);
  }
}

TEST_CASE("Arg picks the first or last extreme and writes i64 or f32 indices", "[ops_nn][reduce]") {
  const tensor x = f32({2, 3}, {1, 7, 7, 4, 0, 4});
  auto d = attrs({{"axis", i64(1)}, {"keepdims", attribute(true)}, {"mode", str("ArgMax")}});
  auto r = run_op("top.Arg", {x}, d, true, {}, 2);
  CHECK(r.types[0].shape == shape_t{2, 1});
  require_values(r.outputs[0], {2, 2});  // select_last_index defaults to true
  require_values(r.outputs[1], {7, 4});
  d.set("select_last_index", attribute(false));
  d.set("mode", str("ArgMin"));
  require_values(run_op("top.Arg", {x}, d, true, {}, 2).outputs[0], {0, 1});
  // an i64 result type is honoured by the kernel
  std::vector<tensor_type> types{{dtype::i64, {2, 1}}, tensor_type::none()};
  std::vector<tensor> outs(2);
  const tensor* in[] = {&x};
  const auto& info = top::ops().at("top.Arg");
  auto dec = info.decode(d);
  top::kernel_context k{in, outs, types, nullptr};
  info.compute(k, dec.get(), nullptr);
  CHECK(outs[0].data<std::int64_t>()[1] == 1);
  CHECK_FALSE(outs[1].defined());
}

TEST_CASE("TopK returns sorted values with stable indices", "[ops_nn][reduce]") {
  const tensor x = f32({1, 5}, {3, 1, 4, 1, 5});
  auto r = run_op("top.TopK", {x}, attrs({{"axis", i64(1)}, {"K", i64(3)}}), true, {}, 2);
  CHECK(r.types[0].shape == shape_t{1, 3});
  require_values(r.outputs[0], {5, 4, 3});
  require_values(r.outputs[1], {4, 2, 0});
  auto s = run_op("top.TopK", {x}, attrs({{"axis", i64(-1)}, {"K", i64(2)}, {"largest", attribute(false)}}), true, {}, 2);
  require_values(s.outputs[0], {1, 1});
  require_values(s.outputs[1], {1, 3});
  CHECK_THROWS_WITH(run_op("top.TopK", {x}, attrs({{"axis", i64(1)}, {"K", i64(6)}}), true, {}, 2), Catch::Contains("K = 6"));
}

TEST_CASE("CumSum along an inner axis", "[ops_nn][reduce]") {
  auto r = run_op("top.CumSum", {f32({2, 2}, {1, 2, 3, 4}), tensor{}}, attrs({{"axis", i64(0)}}));
  require_values(r.outputs[0], {1, 2, 4, 6});
}
