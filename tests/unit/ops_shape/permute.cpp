// Permute, Transpose, ShuffleChannel, SwapChannel, Reverse, Depth2Space.
#include <algorithm>
#include <numeric>

#include "shape_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("Permute matches hand-computed 2-D and 3-D results", "[shape][permute]") {
  auto r = both_kernels("top.Permute", {iota(dtype::f32, {2, 3})}, attrs({{"order", i64s({1, 0})}}));
  CHECK(r.outputs[0].shape() == shape_t{3, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 3, 1, 4, 2, 5});
  r = both_kernels("top.Permute", {iota(dtype::i64, {2, 2, 3})}, attrs({{"order", i64s({2, 0, 1})}}));
  CHECK(r.outputs[0].shape() == shape_t{3, 2, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11});
}

TEST_CASE("Permute compute equals reference for all 24 orders of a 4-D tensor", "[shape][permute]") {
  std::vector<std::int64_t> order{0, 1, 2, 3};
  for (const shape_t& s : {shape_t{3, 5, 7, 2}, shape_t{2, 9, 6, 13}, shape_t{1, 4, 1, 33}}) {
    tensor x = iota(dtype::f32, s);
    std::sort(order.begin(), order.end());
    int count = 0;
    do {
      INFO("shape " << to_string(s) << " order " << order[0] << order[1] << order[2] << order[3]);
      auto r = both_kernels("top.Permute", {x}, attrs({{"order", i64s(order)}}));
      for (std::size_t i = 0; i < 4; ++i) CHECK(r.outputs[0].dim(i) == s[static_cast<std::size_t>(order[i])]);
      ++count;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(count == 24);
  }
}

TEST_CASE("Permute works on every dtype", "[shape][permute][dtypes]") {
  for (dtype dt : all_dtypes) {
    INFO(name(dt));
    tensor x = iota(dt, {3, 4, 5});
    auto r = both_kernels("top.Permute", {x}, attrs({{"order", i64s({2, 0, 1})}}));
    CHECK(r.outputs[0].elem() == dt);
    // element [c][a][b] of the result is x[a][b][c]
    const auto got = as_doubles(r.outputs[0]), want = as_doubles(x);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 4; ++b)
        for (int c = 0; c < 5; ++c) REQUIRE(got[static_cast<std::size_t>((c * 3 + a) * 4 + b)] == want[static_cast<std::size_t>((a * 4 + b) * 5 + c)]);
  }
}

TEST_CASE("Permute handles Swin's 6-D window partition and 5-D orders", "[shape][permute]") {
  // [B, H/ws, ws, W/ws, ws, C] -> [B, H/ws, W/ws, ws, ws, C]
  tensor x = random_tensor({1, 4, 7, 4, 7, 12});
  auto r = both_kernels("top.Permute", {x}, attrs({{"order", i64s({0, 1, 3, 2, 4, 5})}}));
  CHECK(r.outputs[0].shape() == shape_t{1, 4, 4, 7, 7, 12});
  // and back
  auto back = both_kernels("top.Permute", {r.outputs[0]}, attrs({{"order", i64s({0, 1, 3, 2, 4, 5})}}));
  require_identical(back.outputs[0], x);
  for (const auto& s : odd_shapes(6)) {
    tensor y = iota(dtype::i16, s);
    both_kernels("top.Permute", {y}, attrs({{"order", i64s({5, 3, 1, 0, 2, 4})}}));
    both_kernels("top.Permute", {y}, attrs({{"order", i64s({0, 2, 4, 1, 3, 5})}}));
  }
  for (const auto& s : odd_shapes(5)) {
    tensor y = iota(dtype::f32, s);
    both_kernels("top.Permute", {y}, attrs({{"order", i64s({0, 2, 1, 3, 4})}}));
    both_kernels("top.Permute", {y}, attrs({{"order", i64s({0, 3, 4, 1, 2})}}));
    both_kernels("top.Permute", {y}, attrs({{"order", i64s({4, 3, 2, 1, 0})}}));
  }
}

TEST_CASE("Permute of a large tensor (threaded, tiled) equals reference", "[shape][permute]") {
  tensor x = random_tensor({1, 37, 61, 59});
  both_kernels("top.Permute", {x}, attrs({{"order", i64s({0, 2, 3, 1})}}));
  both_kernels("top.Permute", {x}, attrs({{"order", i64s({0, 3, 1, 2})}}));
  both_kernels("top.Permute", {x.cast(dtype::f16)}, attrs({{"order", i64s({3, 2, 1, 0})}}));
  both_kernels("top.Permute", {x.cast(dtype::u8)}, attrs({{"order", i64s({0, 1, 3, 2})}}));
}

TEST_CASE("Permute rejects an order that is not a permutation", "[shape][permute][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Permute", {{dtype::f32, {2, 3}}}, attrs({{"order", i64s({0, 0})}})),
                    Catch::Contains("top.Permute: order is not a permutation"));
  CHECK_THROWS_WITH(infer_types("top.Permute", {{dtype::f32, {2, 3}}}, attrs({{"order", i64s({0, 1, 2})}})),
                    Catch::Contains("order has 3 entries for a rank-2 input"));
}

TEST_CASE("Transpose swaps two axes, negative ones too", "[shape][transpose]") {
  auto r = both_kernels("top.Transpose", {iota(dtype::f32, {2, 3})}, attrs({{"dim0", si32v(-1)}, {"dim1", si32v(0)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 3, 1, 4, 2, 5});
  r = both_kernels("top.Transpose", {iota(dtype::i32, {2, 3, 5, 4})}, attrs({{"dim0", si32v(1)}, {"dim1", si32v(2)}}));
  CHECK(r.outputs[0].shape() == shape_t{2, 5, 3, 4});
  CHECK_THROWS_WITH(infer_types("top.Transpose", {{dtype::f32, {2, 3}}}, attrs({{"dim0", si32v(2)}, {"dim1", si32v(0)}})),
                    Catch::Contains("top.Transpose: axis 2 is out of range"));
}

TEST_CASE("ShuffleChannel interleaves channel groups", "[shape][shuffle]") {
  auto r = both_kernels("top.ShuffleChannel", {iota(dtype::f32, {1, 6, 1, 1})}, attrs({{"group", i64(3)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 2, 4, 1, 3, 5});
  r = both_kernels("top.ShuffleChannel", {iota(dtype::f32, {1, 4, 1, 2})}, attrs({{"group", i64(2)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 4, 5, 2, 3, 6, 7});
  for (dtype dt : all_dtypes) both_kernels("top.ShuffleChannel", {iota(dt, {2, 12, 3, 5})}, attrs({{"group", i64(4)}}));
  CHECK_THROWS_WITH(infer_types("top.ShuffleChannel", {{dtype::f32, {1, 6, 2, 2}}}, attrs({{"group", i64(4)}})),
                    Catch::Contains("group 4 does not divide 6 channels"));
}

TEST_CASE("SwapChannel reorders channels", "[shape][swapchannel]") {
  auto r = run_op("top.SwapChannel", {iota(dtype::u8, {1, 3, 1, 2})}, attrs({{"channel_order", i64s({2, 1, 0})}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{4, 5, 2, 3, 0, 1});
}

TEST_CASE("Reverse flips one axis", "[shape][reverse]") {
  auto r = both_kernels("top.Reverse", {iota(dtype::f32, {2, 3})}, attrs({{"axis", i64(1)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2, 1, 0, 5, 4, 3});
  r = both_kernels("top.Reverse", {iota(dtype::i64, {2, 3})}, attrs({{"axis", i64(0)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{3, 4, 5, 0, 1, 2});
  for (dtype dt : all_dtypes)
    for (std::int64_t ax = -3; ax < 3; ++ax) both_kernels("top.Reverse", {iota(dt, {3, 5, 7})}, attrs({{"axis", i64(ax)}}));
}

namespace {
attr_dict d2s(std::int64_t b, bool crd, bool inv, bool in_nchw = true, bool out_nchw = true, bool swap = false) {
  return attrs({{"block_h", i64(b)},
                {"block_w", i64(b)},
                {"is_CRD", boolean(crd)},
                {"is_inversed", boolean(inv)},
                {"in_is_NCHW", boolean(in_nchw)},
                {"out_is_NCHW", boolean(out_nchw)},
                {"swap_cr", boolean(swap)}});
}
}  // namespace

TEST_CASE("Depth2Space DCR and CRD match the ONNX examples", "[shape][depth2space]") {
  tensor x = iota(dtype::f32, {1, 8, 2, 3});
  auto dcr = both_kernels("top.Depth2Space", {x}, d2s(2, false, false));
  CHECK(dcr.outputs[0].shape() == shape_t{1, 2, 4, 6});
  CHECK(as_doubles(dcr.outputs[0]) ==
        std::vector<double>{0,  12, 1,  13, 2,  14, 24, 36, 25, 37, 26, 38, 3,  15, 4,  16, 5,  17, 27, 39, 28, 40, 29, 41,
                            6,  18, 7,  19, 8,  20, 30, 42, 31, 43, 32, 44, 9,  21, 10, 22, 11, 23, 33, 45, 34, 46, 35, 47});
  auto crd = both_kernels("top.Depth2Space", {x}, d2s(2, true, false));
  CHECK(as_doubles(crd.outputs[0]) ==
        std::vector<double>{0,  6,  1,  7,  2,  8,  12, 18, 13, 19, 14, 20, 3,  9,  4,  10, 5,  11, 15, 21, 16, 22, 17, 23,
                            24, 30, 25, 31, 26, 32, 36, 42, 37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47});
}

TEST_CASE("Depth2Space inversed undoes Depth2Space", "[shape][depth2space]") {
  for (bool crd : {false, true}) {
    tensor x = iota(dtype::i32, {2, 12, 3, 5});
    auto fwd = both_kernels("top.Depth2Space", {x}, d2s(2, crd, false));
    CHECK(fwd.outputs[0].shape() == shape_t{2, 3, 6, 10});
    auto back = both_kernels("top.Depth2Space", {fwd.outputs[0]}, d2s(2, crd, true));
    require_identical(back.outputs[0], x);
  }
}

TEST_CASE("Depth2Space NHWC layouts and swap_cr agree with the NCHW result", "[shape][depth2space]") {
  tensor x = iota(dtype::f32, {1, 8, 2, 3});
  auto nchw = run_op("top.Depth2Space", {x}, d2s(2, false, false)).outputs[0];
  // the same data given and taken as NHWC
  tensor x_nhwc = run_op("top.Permute", {x}, attrs({{"order", i64s({0, 2, 3, 1})}})).outputs[0];
  auto nhwc = both_kernels("top.Depth2Space", {x_nhwc}, d2s(2, false, false, false, false)).outputs[0];
  CHECK(nhwc.shape() == shape_t{1, 4, 6, 2});
  require_identical(run_op("top.Permute", {nhwc}, attrs({{"order", i64s({0, 3, 1, 2})}})).outputs[0], nchw);
  // swap_cr reads each block transposed: result[.., 2h+i, 2w+j] = plain[.., 2h+j, 2w+i]
  auto swapped = both_kernels("top.Depth2Space", {x}, d2s(2, false, false, true, true, true)).outputs[0];
  const auto p = as_doubles(nchw), s = as_doubles(swapped);
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 4; ++h)
      for (int w = 0; w < 6; ++w) {
        const int th = (h / 2) * 2 + w % 2, tw = (w / 2) * 2 + h % 2;
        REQUIRE(s[static_cast<std::size_t>((c * 4 + h) * 6 + w)] == p[static_cast<std::size_t>((c * 4 + th) * 6 + tw)]);
      }
  for (dtype dt : {dtype::u8, dtype::f16, dtype::i64})
    for (bool crd : {false, true})
      for (bool inv : {false, true}) {
        tensor y = inv ? iota(dt, {2, 3, 6, 4}) : iota(dt, {2, 12, 3, 2});
        both_kernels("top.Depth2Space", {y}, d2s(2, crd, inv, true, false));
        both_kernels("top.Depth2Space", {y}, d2s(2, crd, inv, true, true, true));
      }
}

TEST_CASE("Depth2Space rejects channels that do not divide", "[shape][depth2space][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Depth2Space", {{dtype::f32, {1, 6, 2, 2}}}, d2s(2, false, false)),
                    Catch::Contains("top.Depth2Space: 6 channels are not a multiple of block_h*block_w = 4"));
}
