// Pad, Tile, Repeat, Expand, Gather family, Scatter family, Shape, Size, Arange, Range, ConstantFill, Copy.
#include "shape_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
attr_dict pad(std::vector<std::int64_t> p, std::string mode, double val = 0) {
  return attrs({{"paddings", i64s(p)}, {"mode", str(mode)}, {"val", f64(val)}});
}
}  // namespace

TEST_CASE("Pad constant fills with val", "[shape][pad]") {
  auto r = both_kernels("top.Pad", {iota(dtype::f32, {2, 3})}, pad({1, 0, 0, 2}, "constant", 9));
  CHECK(r.outputs[0].shape() == shape_t{3, 5});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{9, 9, 9, 9, 9, 0, 1, 2, 9, 9, 3, 4, 5, 9, 9});
}

TEST_CASE("Pad reflect, symmetric and edge mirror as numpy does", "[shape][pad]") {
  tensor x = iota(dtype::f32, {4});
  CHECK(as_doubles(both_kernels("top.Pad", {x}, pad({2, 2}, "reflect")).outputs[0]) ==
        std::vector<double>{2, 1, 0, 1, 2, 3, 2, 1});
  CHECK(as_doubles(both_kernels("top.Pad", {x}, pad({2, 2}, "symmetric")).outputs[0]) ==
        std::vector<double>{1, 0, 0, 1, 2, 3, 3, 2});
  CHECK(as_doubles(both_kernels("top.Pad", {x}, pad({2, 2}, "edge")).outputs[0]) ==
        std::vector<double>{0, 0, 0, 1, 2, 3, 3, 3});
  CHECK(as_doubles(both_kernels("top.Pad", {iota(dtype::f32, {3})}, pad({4, 0}, "reflect")).outputs[0]) ==
        std::vector<double>{0, 1, 2, 1, 0, 1, 2});
}

TEST_CASE("Pad compute equals reference for every mode and dtype", "[shape][pad][dtypes]") {
  for (dtype dt : all_dtypes)
    for (const char* mode : {"constant", "reflect", "symmetric", "edge"})
      for (const auto& s : odd_shapes(4)) {
        std::vector<std::int64_t> p;
        for (int i = 0; i < 8; ++i) p.push_back(random_int(0, 3));
        both_kernels("top.Pad", {iota(dt, s)}, pad(p, mode, 1));
      }
  both_kernels("top.Pad", {random_tensor({1, 16, 80, 80})}, pad({0, 0, 1, 1, 0, 0, 1, 1}, "constant"));
}

TEST_CASE("Pad reads a constant paddingsT and rejects bad paddings", "[shape][pad][errors]") {
  auto r = run_op("top.Pad", {iota(dtype::f32, {2}), ints({2}, {1, 0})}, pad({0, 0}, "constant", 5), true, {1});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{5, 0, 1});
  CHECK_THROWS_WITH(infer_types("top.Pad", {{dtype::f32, {2, 3}}}, pad({1, 1}, "constant")),
                    Catch::Contains("top.Pad: paddings has 2 entries, a rank-2 input needs 4"));
  CHECK_THROWS_WITH(infer_types("top.Pad", {{dtype::f32, {2}}}, pad({-1, 0}, "constant")), Catch::Contains("negative"));
  CHECK_THROWS_WITH(infer_types("top.Pad", {{dtype::f32, {2}}}, pad({1, 0}, "wrap")), Catch::Contains("not one of"));
}

TEST_CASE("Tile repeats along each axis", "[shape][tile]") {
  auto r = both_kernels("top.Tile", {iota(dtype::f32, {2, 2})}, attrs({{"tile", i64s({2, 3})}}));
  CHECK(r.outputs[0].shape() == shape_t{4, 6});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3,
                                                          0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3});
  r = both_kernels("top.Tile", {iota(dtype::i64, {2}), ints({1}, {3})}, {}, {1});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 0, 1, 0, 1});
  for (dtype dt : all_dtypes) both_kernels("top.Tile", {iota(dt, {3, 1, 5})}, attrs({{"tile", i64s({2, 4, 1})}}));
}

TEST_CASE("Repeat tiles with more counts than axes", "[shape][repeat]") {
  auto r = both_kernels("top.Repeat", {iota(dtype::f32, {2}), ints({2}, {2, 2})}, {}, {1});
  CHECK(r.outputs[0].shape() == shape_t{2, 4});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 0, 1, 0, 1, 0, 1});
}

TEST_CASE("Expand broadcasts, a 1 in the target keeps the input size", "[shape][expand]") {
  auto r = both_kernels("top.Expand", {iota(dtype::f32, {3, 1})}, attrs({{"shape", i64s({2, 1, 4})}}));
  CHECK(r.outputs[0].shape() == shape_t{2, 3, 4});
  const auto v = as_doubles(r.outputs[0]);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) REQUIRE(v[static_cast<std::size_t>((b * 3 + i) * 4 + j)] == i);
  // BERT mask: [1, 1, 1, 128] -> [1, 12, 128, 128] through shapeT
  auto m = both_kernels("top.Expand", {iota(dtype::boolean, {1, 1, 1, 16}), ints({4}, {1, 3, 16, 16})}, {}, {1});
  CHECK(m.outputs[0].shape() == shape_t{1, 3, 16, 16});
  for (dtype dt : all_dtypes) both_kernels("top.Expand", {iota(dt, {1, 5, 1})}, attrs({{"shape", i64s({3, 5, 7})}}));
  CHECK_THROWS_WITH(infer_types("top.Expand", {{dtype::f32, {3, 2}}}, attrs({{"shape", i64s({3, 4})}})),
                    Catch::Contains("top.Expand: cannot expand"));
}

TEST_CASE("Gather picks rows like an embedding lookup, negative indices wrap", "[shape][gather]") {
  tensor table = iota(dtype::f32, {5, 3});
  auto r = both_kernels("top.Gather", {table, ints({1, 2}, {0, -2})});
  CHECK(r.outputs[0].shape() == shape_t{1, 2, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 2, 9, 10, 11});
  // the same with indices of other dtypes
  for (dtype it : {dtype::i32, dtype::f32, dtype::u8, dtype::i16})
    require_identical(both_kernels("top.Gather", {table, ints({1, 2}, {0, 3}).cast(it)}).outputs[0], r.outputs[0]);
}

TEST_CASE("Gather keepdims=false with a [1] index drops the axis", "[shape][gather]") {
  auto r = both_kernels("top.Gather", {iota(dtype::f32, {5, 3}), ints({1}, {1})},
                        attrs({{"axis", si32v(1)}, {"keepdims", boolean(false)}}));
  CHECK(r.outputs[0].shape() == shape_t{5});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 4, 7, 10, 13});
  r = both_kernels("top.Gather", {iota(dtype::i64, {5}), ints({1}, {2})}, attrs({{"keepdims", boolean(false)}}));
  CHECK(r.outputs[0].shape() == shape_t{1});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2});
  r = both_kernels("top.Gather", {iota(dtype::f32, {5, 3}), ints({}, {4})}, attrs({{"axis", si32v(0)}}));
  CHECK(r.outputs[0].shape() == shape_t{3});
}

TEST_CASE("Gather moves every dtype and matches reference on random shapes", "[shape][gather][dtypes]") {
  for (dtype dt : all_dtypes)
    for (std::int64_t ax = -3; ax < 3; ++ax) {
      tensor x = iota(dt, {4, 5, 6});
      const std::int64_t n = x.dim(static_cast<std::size_t>(ax < 0 ? ax + 3 : ax));
      std::vector<std::int64_t> idx;
      for (int i = 0; i < 7; ++i) idx.push_back(random_int(-n, n - 1));
      both_kernels("top.Gather", {x, ints({7}, idx)}, attrs({{"axis", si32v(ax)}}));
    }
}

TEST_CASE("Gather names the op and the index when an index is out of range", "[shape][gather][errors]") {
  CHECK_THROWS_WITH(run_op("top.Gather", {iota(dtype::f32, {5, 3}), ints({2}, {1, 5})}),
                    Catch::Contains("top.Gather: index 5 is out of range for axis 0 of size 5"));
  CHECK_THROWS_WITH(run_op("top.Gather", {iota(dtype::f32, {5, 3}), ints({1}, {-6})}, {}, false),
                    Catch::Contains("top.Gather: index -6 is out of range"));
  CHECK_THROWS_WITH(infer_types("top.Gather", {{dtype::f32, {5, 3}}, {dtype::i64, {2}}}, attrs({{"axis", si32v(2)}})),
                    Catch::Contains("top.Gather: axis 2 is out of range"));
}

TEST_CASE("GatherElements follows the ONNX example", "[shape][gather]") {
  auto r = run_op("top.GatherElements", {floats({2, 2}, {1, 2, 3, 4}), ints({2, 2}, {0, 0, 1, 0})}, attrs({{"axis", i64(1)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 1, 4, 3});
  r = run_op("top.GatherElements", {floats({3, 2}, {1, 2, 3, 4, 5, 6}), ints({2, 2}, {-1, 0, 1, 2})}, attrs({{"axis", i64(0)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{5, 2, 3, 6});
  CHECK_THROWS_WITH(run_op("top.GatherElements", {floats({2, 2}, {1, 2, 3, 4}), ints({1, 1}, {2})}, attrs({{"axis", i64(1)}})),
                    Catch::Contains("top.GatherElements: index 2 is out of range for axis 1 of size 2"));
}

TEST_CASE("GatherND follows the ONNX examples, batch_dims included", "[shape][gather]") {
  tensor d = iota(dtype::f32, {2, 2});
  CHECK(as_doubles(run_op("top.GatherND", {d, ints({2, 2}, {0, 0, 1, 1})}).outputs[0]) == std::vector<double>{0, 3});
  auto r = run_op("top.GatherND", {d, ints({2, 1}, {1, 0})});
  CHECK(r.outputs[0].shape() == shape_t{2, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2, 3, 0, 1});
  r = run_op("top.GatherND", {iota(dtype::i64, {2, 2, 2}), ints({2, 1}, {1, 0})}, attrs({{"batch_dims", i64(1)}}));
  CHECK(r.outputs[0].shape() == shape_t{2, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2, 3, 4, 5});
}

TEST_CASE("ScatterElements and ScatterND follow the ONNX examples", "[shape][scatter]") {
  auto r = run_op("top.ScatterElements",
                  {floats({1, 5}, {1, 2, 3, 4, 5}), ints({1, 2}, {1, 3}), floats({1, 2}, {1.1f, 2.1f})},
                  attrs({{"axis", i64(1)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 1.1f, 3, 2.1f, 5});
  tensor data = floats({8}, {1, 2, 3, 4, 5, 6, 7, 8});
  tensor idx = ints({4, 1}, {4, 3, 1, 7});
  tensor upd = floats({4}, {9, 10, 11, 12});
  CHECK(as_doubles(run_op("top.ScatterND", {data, idx, upd}).outputs[0]) == std::vector<double>{1, 11, 3, 10, 9, 6, 7, 12});
  CHECK(as_doubles(run_op("top.ScatterND", {data, idx, upd}, attrs({{"reduction", attribute(int_attr{1, "i32"})}})).outputs[0]) ==
        std::vector<double>{1, 13, 3, 14, 14, 6, 7, 20});
  CHECK(data.values<float>()[1] == 2.f);  // the input is never written
}

TEST_CASE("Shape and Size report dimensions", "[shape][shapeop]") {
  tensor x = iota(dtype::f32, {2, 3, 4});
  auto r = run_op("top.Shape", {x});
  CHECK(r.outputs[0].elem() == dtype::i64);
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2, 3, 4});
  CHECK(as_doubles(run_op("top.Shape", {x}, attrs({{"start", i64(1)}})).outputs[0]) == std::vector<double>{3, 4});
  CHECK(as_doubles(run_op("top.Shape", {x}, attrs({{"start", i64(-1)}})).outputs[0]) == std::vector<double>{4});
  CHECK(as_doubles(run_op("top.Shape", {x}, attrs({{"start", i64(-2)}, {"end", i64(-1)}})).outputs[0]) ==
        std::vector<double>{3});
  CHECK(as_doubles(run_op("top.Shape", {x}, attrs({{"start", i64(-1)}, {"end", i64(0)}})).outputs[0]) ==
        std::vector<double>{4});
  CHECK(as_doubles(run_op("top.Size", {x}, attrs({{"axis", si32v(-2)}})).outputs[0]) == std::vector<double>{3});
  CHECK(as_doubles(run_op("top.Size", {x}).outputs[0]) == std::vector<double>{2, 3, 4});
}

TEST_CASE("Arange and Range count from start by step", "[shape][range]") {
  const tensor none;
  auto r = run_op("top.Arange", {ints({1}, {1}), ints({1}, {7}), ints({1}, {2})}, {}, true, {0, 1, 2});
  CHECK(r.outputs[0].elem() == dtype::i64);
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 3, 5});
  r = run_op("top.Arange", {none, floats({1}, {1}), floats({1}, {0.25f})}, {}, true, {1, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 0.25, 0.5, 0.75});
  r = run_op("top.Range", {none, ints({1}, {5}), none}, {}, true, {1});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 2, 3, 4});
  r = run_op("top.Range", {ints({1}, {5}), ints({1}, {0}), ints({1}, {-2})}, {}, true, {0, 1, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{5, 3, 1});
}

TEST_CASE("ConstantFill makes a tensor of the given shape", "[shape][fill]") {
  auto r = run_op("top.ConstantFill", {ints({2}, {2, 3})}, attrs({{"value", f64(7)}}), true, {0});
  CHECK(r.outputs[0].shape() == shape_t{2, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>(6, 7.0));
}

TEST_CASE("Copy moves a strided block", "[shape][copy]") {
  auto r = run_op("top.Copy", {iota(dtype::f32, {2, 3})},
                  attrs({{"shape", i64s({2, 2})}, {"input_stride", i64s({3, 1})}, {"output_stride", i64s({2, 1})}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 3, 4});
}
