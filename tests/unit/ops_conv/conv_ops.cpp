#include "op_harness.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
tensor absent() { return {}; }

attr_dict conv_attrs(std::vector<std::int64_t> k, std::vector<std::int64_t> s, std::vector<std::int64_t> pads,
                     std::int64_t group = 1, std::vector<std::int64_t> dil = {}, bool relu = false, double limit = -1) {
  attr_dict d = attrs({{"kernel_shape", i64s(k)}, {"strides", i64s(s)}, {"pads", i64s(pads)}, {"group", i64(group)},
                       {"do_relu", attribute(relu)}, {"relu_limit", f64(limit)}});
  if (!dil.empty()) d.set("dilations", i64s(dil));
  return d;
}

void conv_case(shape_t in, std::int64_t oc, std::vector<std::int64_t> k, std::vector<std::int64_t> s,
               std::vector<std::int64_t> pads, std::int64_t group, std::vector<std::int64_t> dil, bool bias,
               bool relu = false) {
  shape_t wshape{oc, in[1] / group};
  wshape.insert(wshape.end(), k.begin(), k.end());
  const tensor x = random_tensor(in), w = random_tensor(wshape), b = bias ? random_tensor({oc}) : absent();
  INFO("input " << to_string(in) << " filter " << to_string(wshape) << " group " << group);
  const auto a = conv_attrs(k, s, pads, group, dil, relu, relu ? 0.7 : -1.0);
  require_compute_matches_reference("top.Conv", {x, w, b}, a, 1e-4, 1e-4, {1, 2});  // packed once
  require_compute_matches_reference("top.Conv", {x, w, b}, a, 1e-4, 1e-4);         // packed per run
}
}  // namespace

TEST_CASE("Conv reference matches a 3x3 convolution computed by hand", "[conv]") {
  // input 1..9 in a 3x3 plane, filter of ones with the centre 2, pads 1: each output is the sum
  // of the 3x3 neighbourhood plus the centre once more.
  const tensor x = tensor::from_vector<float>({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const tensor w = tensor::from_vector<float>({1, 1, 3, 3}, {1, 1, 1, 1, 2, 1, 1, 1, 1});
  const tensor b = tensor::from_vector<float>({1}, {0.5f});
  auto r = run_op("top.Conv", {x, w, b}, conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}));
  // e.g. top-left: 1+2+4+5 + 1 (centre again) + 0.5 = 13.5; centre: 45 + 5 + 0.5 = 50.5;
  // left middle: 1+2+4+5+7+8 + 4 + 0.5 = 31.5
  const std::vector<float> want{13.5f, 23.5f, 19.5f, 31.5f, 50.5f, 39.5f, 31.5f, 47.5f, 37.5f};
  REQUIRE(r.outputs[0].shape() == shape_t{1, 1, 3, 3});
  CHECK(std::vector<float>(r.outputs[0].values<float>().begin(), r.outputs[0].values<float>().end()) == want);
}

TEST_CASE("Conv reference handles stride, asymmetric pads and relu limit by hand", "[conv]") {
  // 1x4 input [1,2,3,4] (1-D), kernel [1,-1], stride 2, pads [1, 0]: windows (0,1), (2,3) of [0,1,2,3,4]
  const tensor x = tensor::from_vector<float>({1, 1, 4}, {1, 2, 3, 4});
  const tensor w = tensor::from_vector<float>({1, 1, 2}, {1, -1});
  auto r = run_op("top.Conv", {x, w, absent()}, conv_attrs({2}, {2}, {1, 0}));
  REQUIRE(r.outputs[0].shape() == shape_t{1, 1, 2});
  CHECK(r.outputs[0].values<float>()[0] == -1.f);  // 0 - 1
  CHECK(r.outputs[0].values<float>()[1] == -1.f);  // 2 - 3
  const tensor w2 = tensor::from_vector<float>({1, 1, 2}, {-3, 1});
  auto r2 = run_op("top.Conv", {x, w2, absent()}, conv_attrs({2}, {2}, {1, 0}, 1, {}, true, 2.5));
  CHECK(r2.outputs[0].values<float>()[0] == 1.f);    // 0*-3 + 1
  CHECK(r2.outputs[0].values<float>()[1] == 0.f);    // -6 + 3 -> relu 0
}

TEST_CASE("Conv infers output shapes from pads, strides and dilations", "[conv]") {
  auto r = run_op("top.Conv", {random_tensor({2, 4, 11, 9}), random_tensor({6, 2, 3, 2}), absent()},
                  conv_attrs({3, 2}, {2, 1}, {1, 0, 2, 1}, 2, {2, 3}));
  // h: (11 + 1 + 2 - 5) / 2 + 1 = 5; w: (9 + 0 + 1 - 4) / 1 + 1 = 7
  CHECK(r.types[0].shape == shape_t{2, 6, 5, 7});
}

TEST_CASE("Conv fast path matches reference: 1x1 pointwise GEMM", "[conv]") {
  conv_case({1, 13, 7, 9}, 21, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, {}, true);
  conv_case({2, 33, 5, 5}, 17, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1, {}, false, true);
  conv_case({1, 8, 9, 9}, 8, {1, 1}, {2, 2}, {0, 0, 0, 0}, 1, {}, true);  // strided 1x1 goes through im2col
}

TEST_CASE("Conv fast path matches reference: general im2col with odd shapes", "[conv]") {
  conv_case({1, 3, 17, 19}, 10, {3, 3}, {1, 1}, {1, 1, 1, 1}, 1, {}, true);
  conv_case({2, 5, 12, 40}, 7, {3, 5}, {2, 1}, {0, 2, 1, 2}, 1, {}, false, true);
  conv_case({1, 4, 15, 15}, 9, {3, 3}, {1, 2}, {2, 1, 0, 3}, 1, {2, 2}, true);
  conv_case({1, 16, 23, 37}, 32, {3, 3}, {1, 1}, {1, 1, 1, 1}, 1, {}, true, true);
}

TEST_CASE("Conv fast path matches reference: grouped convolution", "[conv]") {
  conv_case({1, 8, 9, 11}, 12, {3, 3}, {1, 1}, {1, 1, 1, 1}, 4, {}, true);
  conv_case({2, 6, 7, 7}, 6, {1, 1}, {1, 1}, {0, 0, 0, 0}, 3, {}, false);
  conv_case({1, 4, 8, 8}, 8, {3, 3}, {2, 2}, {1, 1, 1, 1}, 4, {}, true);  // depthwise with multiplier 2
}

TEST_CASE("Conv fast path matches reference: depthwise kernels", "[conv][depthwise]") {
  conv_case({1, 7, 19, 21}, 7, {3, 3}, {1, 1}, {1, 1, 1, 1}, 7, {}, true);
  conv_case({2, 5, 20, 33}, 5, {3, 3}, {2, 2}, {1, 1, 1, 1}, 5, {}, false, true);
  conv_case({1, 3, 16, 18}, 3, {5, 5}, {2, 3}, {2, 1, 2, 3}, 3, {2, 1}, true);
  conv_case({1, 4, 9, 40}, 4, {3, 3}, {1, 1}, {0, 0, 0, 0}, 4, {}, false);
}

TEST_CASE("Conv fast path matches reference: 1-D convolution", "[conv]") {
  conv_case({2, 6, 50}, 5, {3}, {1}, {1, 1}, 1, {}, true);
  conv_case({1, 4, 33}, 4, {5}, {2}, {2, 0}, 4, {2}, false, true);
}

TEST_CASE("Conv computes 3-D convolution and inserts", "[conv]") {
  const tensor x = random_tensor({1, 2, 5, 6, 4}), w = random_tensor({3, 2, 2, 3, 2}), b = random_tensor({3});
  auto a = conv_attrs({2, 3, 2}, {1, 2, 1}, {1, 0, 1, 0, 1, 0});
  auto r = run_op("top.Conv", {x, w, b}, a);
  // pads [d0, h0, w0, d1, h1, w1]: d (5+1+0-2)/1+1 = 5, h (6+0+1-3)/2+1 = 3, w (4+1+0-2)/1+1 = 4
  CHECK(r.types[0].shape == shape_t{1, 3, 5, 3, 4});
  require_compute_matches_reference("top.Conv", {x, w, b}, a, 1e-4, 1e-4, {1, 2});
  // inserts: one zero between neighbours makes a 3x3 input 5x5
  auto ai = conv_attrs({3, 3}, {1, 1}, {0, 0, 0, 0});
  ai.set("inserts", i64s({1, 1}));
  const tensor xi = random_tensor({1, 2, 3, 3}), wi = random_tensor({4, 2, 3, 3});
  auto ri = run_op("top.Conv", {xi, wi, absent()}, ai);
  CHECK(ri.types[0].shape == shape_t{1, 4, 3, 3});
  require_compute_matches_reference("top.Conv", {xi, wi, absent()}, ai, 1e-4, 1e-4, {1});
}

TEST_CASE("Conv rejects a filter that does not match the input", "[conv]") {
  CHECK_THROWS_AS(run_op("top.Conv", {random_tensor({1, 4, 5, 5}), random_tensor({2, 3, 3, 3}), absent()},
                         conv_attrs({3, 3}, {1, 1}, {0, 0, 0, 0})),
                  error);
}

TEST_CASE("Deconv reference matches a stride-2 transposed convolution by hand", "[deconv]") {
  // input [1, 2], kernel [1, 10, 100], stride 2: out[y] += x[i] * w[t] at y = 2i + t -> length 5
  const tensor x = tensor::from_vector<float>({1, 1, 2}, {1, 2});
  const tensor w = tensor::from_vector<float>({1, 1, 3}, {1, 10, 100});
  auto r = run_op("top.Deconv", {x, w, absent()},
                  attrs({{"kernel_shape", i64s({3})}, {"strides", i64s({2})}, {"pads", i64s({0, 0})}}), true, {1});
  REQUIRE(r.outputs[0].shape() == shape_t{1, 1, 5});
  const std::vector<float> want{1, 10, 102, 20, 200};
  CHECK(std::vector<float>(r.outputs[0].values<float>().begin(), r.outputs[0].values<float>().end()) == want);
}

TEST_CASE("Deconv fast path matches reference", "[deconv]") {
  struct c {
    shape_t in;
    std::int64_t oc, group;
    std::vector<std::int64_t> k, s, pads, dil, opad;
    bool bias, relu;
  };
  for (const auto& t : std::vector<c>{{{1, 4, 5, 6}, 6, 1, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {1, 1}, true, false},
                                      {{2, 6, 7, 5}, 4, 2, {4, 3}, {2, 1}, {1, 0, 2, 1}, {1, 2}, {0, 0}, false, true},
                                      {{1, 3, 9}, 5, 1, {3}, {3}, {1, 1}, {1}, {2}, true, false},
                                      {{1, 4, 4, 4}, 4, 4, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, {0, 0}, true, false},
                                      // PP-OCR det's 2x2/2 upsampling deconv, with rows longer than a vector
                                      {{2, 8, 9, 37}, 8, 1, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, {0, 0}, true, true},
                                      // 2700 GEMM rows: the pixel slabs end inside input rows
                                      {{1, 4, 40, 41}, 300, 1, {3, 3}, {2, 2}, {2, 1, 1, 2}, {1, 1}, {1, 0}, true, false}}) {
    shape_t wshape{t.oc / t.group, t.in[1]};  // TPU-MLIR weight layout, declared [oc/g, ic, k...]
    wshape.insert(wshape.end(), t.k.begin(), t.k.end());
    const tensor x = random_tensor(t.in), w = random_tensor(wshape), b = t.bias ? random_tensor({t.oc}) : absent();
    auto a = attrs({{"kernel_shape", i64s(t.k)}, {"strides", i64s(t.s)}, {"pads", i64s(t.pads)},
                    {"group", i64(t.group)}, {"dilations", i64s(t.dil)}, {"output_padding", i64s(t.opad)},
                    {"do_relu", attribute(t.relu)}});
    INFO("input " << to_string(t.in) << " filter " << to_string(wshape));
    auto r = run_op("top.Deconv", {x, w, b}, a, true, {1, 2});
    CHECK(r.types[0].shape[1] == t.oc);
    require_compute_matches_reference("top.Deconv", {x, w, b}, a, 1e-4, 1e-4, {1, 2});
  }
}

TEST_CASE("Deconv reads an activation filter in ONNX layout", "[deconv]") {
  // [ic=2, oc=3, 1] as ONNX stores it; the same weights reordered to [oc, ic, 1] as a constant agree
  const tensor x = random_tensor({1, 2, 4});
  const tensor w_onnx = tensor::from_vector<float>({2, 3, 1}, {1, 2, 3, 4, 5, 6});
  const tensor w_tpu = tensor::from_vector<float>({3, 2, 1}, {1, 4, 2, 5, 3, 6});
  auto a = attrs({{"kernel_shape", i64s({1})}, {"strides", i64s({1})}, {"pads", i64s({0, 0})}});
  auto onnx = run_op("top.Deconv", {x, w_onnx, absent()}, a, true);
  auto tpu = run_op("top.Deconv", {x, w_tpu, absent()}, a, true, {1});
  require_close(onnx.outputs[0], tpu.outputs[0]);
  require_compute_matches_reference("top.Deconv", {x, w_onnx, absent()}, a);
}
