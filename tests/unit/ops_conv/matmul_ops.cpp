#include "op_harness.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
tensor no_tensor() { return {}; }

attr_dict mm_attrs(bool rt = false, bool lt = false, bool ot = false, bool hdim = false, bool keep = true,
                   bool relu = false) {
  return attrs({{"right_transpose", attribute(rt)}, {"left_transpose", attribute(lt)},
                {"output_transpose", attribute(ot)}, {"hdim_is_batch", attribute(hdim)}, {"keep_dims", attribute(keep)},
                {"do_relu", attribute(relu)}});
}

// bias_len: N (defaults to the last output axis; pass it when output_transpose moves N).
void mm_case(shape_t a, shape_t b, bool bias, const attr_dict& at, shape_t want, std::int64_t bias_len = -1) {
  INFO("input " << to_string(a) << " right " << to_string(b));
  const tensor x = random_tensor(a), w = random_tensor(b);
  auto r = run_op("top.MatMul", {x, w, no_tensor()}, at);
  REQUIRE(r.types[0].shape == want);
  const tensor bb = bias ? random_tensor({bias_len > 0 ? bias_len : want.back()}) : no_tensor();
  require_compute_matches_reference("top.MatMul", {x, w, bb}, at, 1e-4, 1e-4, {1, 2});
  require_compute_matches_reference("top.MatMul", {x, w, bb}, at, 1e-4, 1e-4);
}
}  // namespace

TEST_CASE("MatMul reference matches a 2x2 product by hand", "[matmul]") {
  const tensor a = tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  const tensor b = tensor::from_vector<float>({2, 2}, {5, 6, 7, 8});
  const tensor bias = tensor::from_vector<float>({2}, {1, -100});
  auto r = run_op("top.MatMul", {a, b, bias}, mm_attrs(false, false, false, false, true, true));
  // [[19, 22], [43, 50]] + [1, -100], relu
  const std::vector<float> want{20, 0, 44, 0};
  CHECK(std::vector<float>(r.outputs[0].values<float>().begin(), r.outputs[0].values<float>().end()) == want);
  auto rt = run_op("top.MatMul", {a, b, no_tensor()}, mm_attrs(true));  // a · b^T = [[17, 23], [39, 53]]
  CHECK(std::vector<float>(rt.outputs[0].values<float>().begin(), rt.outputs[0].values<float>().end()) ==
        std::vector<float>{17, 23, 39, 53});
}

TEST_CASE("MatMul fast path matches reference on odd 2-D shapes", "[matmul]") {
  mm_case({1, 1}, {1, 1}, true, mm_attrs(), {1, 1});
  mm_case({17, 33}, {33, 45}, true, mm_attrs(), {17, 45});
  mm_case({5, 300}, {300, 7}, false, mm_attrs(false, false, false, false, true, true), {5, 7});
  mm_case({31, 19}, {23, 19}, true, mm_attrs(true), {31, 23});
}

TEST_CASE("MatMul folds batch rows onto a shared 2-D right operand", "[matmul]") {
  mm_case({4, 5, 6}, {6, 7}, true, mm_attrs(), {4, 5, 7});
  mm_case({2, 3, 9, 13}, {13, 35}, false, mm_attrs(), {2, 3, 9, 35});
  mm_case({4, 5, 6}, {6, 7}, true, mm_attrs(false, false, false, false, false), {20, 7});  // keep_dims = false
  mm_case({1, 512 / 8, 2, 2}, {256, 9}, true, mm_attrs(), {1, 9});                          // trailing axes = K
}

TEST_CASE("MatMul broadcasts batch dimensions", "[matmul]") {
  mm_case({3, 4, 5, 6}, {3, 4, 6, 7}, true, mm_attrs(), {3, 4, 5, 7});
  mm_case({3, 1, 5, 6}, {1, 4, 6, 7}, false, mm_attrs(), {3, 4, 5, 7});
  mm_case({5, 6}, {2, 6, 7}, true, mm_attrs(), {2, 5, 7});
  mm_case({2, 5, 6}, {2, 7, 6}, false, mm_attrs(true), {2, 5, 7});
}

TEST_CASE("MatMul handles vector operands", "[matmul]") {
  mm_case({4, 5, 6}, {6}, false, mm_attrs(), {4, 5});
  mm_case({3}, {3, 25}, true, mm_attrs(), {1, 25});
}

TEST_CASE("MatMul left and output transposes", "[matmul]") {
  mm_case({2, 6, 5}, {2, 6, 7}, true, mm_attrs(false, true), {2, 5, 7});
  mm_case({9, 11}, {11, 13}, true, mm_attrs(false, false, true), {13, 9}, 13);
  mm_case({2, 6, 5}, {6, 7}, false, mm_attrs(false, true, true), {2, 7, 5});
}

TEST_CASE("MatMul with hdim_is_batch treats axis 2 as a batch axis", "[matmul]") {
  mm_case({2, 5, 3, 6}, {2, 6, 3, 7}, true, mm_attrs(false, false, false, true), {2, 5, 3, 7});
  mm_case({1, 5, 3, 6}, {1, 7, 3, 6}, false, mm_attrs(true, false, false, true), {1, 5, 3, 7});
}

TEST_CASE("MatMul rejects mismatched contraction sizes", "[matmul]") {
  CHECK_THROWS_AS(run_op("top.MatMul", {random_tensor({3, 4}), random_tensor({3, 5, 6}), no_tensor()}, mm_attrs()), error);
  CHECK_THROWS_AS(run_op("top.MatMul", {random_tensor({3, 4}), random_tensor({4, 5}), random_tensor({4})}, mm_attrs()),
                  error);
}
