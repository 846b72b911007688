// Reshape, View, Flatten, Squeeze, Unsqueeze, Tuple, UnTuple: shape rules, aliasing, errors.
#include "shape_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("Reshape resolves 0 and -1 entries as TPU-MLIR does", "[shape][reshape]") {
  auto t = infer_types("top.Reshape", {{dtype::f32, {2, 3, 4}}}, attrs({{"shape", i64s({0, -1, 2})}}));
  CHECK(t[0].shape == shape_t{2, 6, 2});
  t = infer_types("top.Reshape", {{dtype::i64, {1, 128}}}, attrs({{"shape", i64s({-1})}}));
  CHECK(t[0].shape == shape_t{128});
  CHECK(t[0].elem == dtype::i64);
}

TEST_CASE("Reshape shares the input buffer for every dtype", "[shape][reshape]") {
  for (dtype dt : all_dtypes) {
    tensor x = iota(dt, {2, 3, 4});
    auto r = run_op("top.Reshape", {x}, attrs({{"shape", i64s({4, 6})}}));
    CHECK(r.outputs[0].shape() == shape_t{4, 6});
    CHECK(r.outputs[0].raw() == x.raw());
    CHECK(r.outputs[0].elem() == dt);
  }
}

TEST_CASE("Reshape reads a constant shapeT operand", "[shape][reshape]") {
  tensor x = iota(dtype::f32, {2, 6});
  tensor shape = ints({3}, {0, 3, -1});
  auto r = run_op("top.Reshape", {x, shape}, {}, true, {1});
  CHECK(r.outputs[0].shape() == shape_t{2, 3, 2});
  CHECK(r.outputs[0].raw() == x.raw());
}

TEST_CASE("Reshape without a shape falls back to the declared result type", "[shape][reshape]") {
  auto t = infer_types("top.Reshape", {{dtype::f32, {2, 3, 4}}}, {}, 1, {{dtype::f32, {6, 4}}});
  CHECK(t[0].shape == shape_t{6, 4});
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {2, 3, 4}}}, {}, 1, {{dtype::f32, {5, 4}}}),
                    Catch::Contains("top.Reshape") && Catch::Contains("24 elements"));
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {2, 3, 4}}}),
                    Catch::Contains("top.Reshape") && Catch::Contains("result shape is unknown"));
}

TEST_CASE("Reshape flatten_start_dim merges the trailing axes", "[shape][reshape]") {
  auto t = infer_types("top.Reshape", {{dtype::f32, {2, 3, 4, 5}}}, attrs({{"flatten_start_dim", i64(1)}}));
  CHECK(t[0].shape == shape_t{2, 60});
}

TEST_CASE("Reshape rejects an element-count mismatch with a clear message", "[shape][reshape][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {2, 3}}}, attrs({{"shape", i64s({4, 2})}})),
                    Catch::Contains("top.Reshape: cannot reshape 2x3 (6 elements) to 4x2 (8 elements)"));
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {2, 3}}}, attrs({{"shape", i64s({-1, 4})}})),
                    Catch::Contains("cannot reshape 2x3"));
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {2, 3}}}, attrs({{"shape", i64s({-1, -1})}})),
                    Catch::Contains("more than one -1"));
  CHECK_THROWS_WITH(infer_types("top.Reshape", {{dtype::f32, {6}}}, attrs({{"shape", i64s({3, -2})}})),
                    Catch::Contains("invalid"));
}

TEST_CASE("View takes its shape from a constant operand", "[shape][view]") {
  tensor x = iota(dtype::i64, {4, 5});
  auto r = run_op("top.View", {x, ints({2}, {-1, 10})}, {}, true, {1});
  CHECK(r.outputs[0].shape() == shape_t{2, 10});
  CHECK(r.outputs[0].raw() == x.raw());
}

TEST_CASE("Flatten merges start_dim..end_dim", "[shape][flatten]") {
  CHECK(infer_types("top.Flatten", {{dtype::f32, {2, 3, 4, 5}}})[0].shape == shape_t{120});
  CHECK(infer_types("top.Flatten", {{dtype::f32, {2, 3, 4, 5}}}, attrs({{"start_dim", i64(1)}}))[0].shape ==
        shape_t{2, 60});
  CHECK(infer_types("top.Flatten", {{dtype::f32, {2, 3, 4, 5}}}, attrs({{"start_dim", i64(1)}, {"end_dim", i64(2)}}))[0]
            .shape == shape_t{2, 12, 5});
  tensor x = iota(dtype::u8, {2, 3, 4});
  auto r = run_op("top.Flatten", {x}, attrs({{"start_dim", i64(1)}}));
  CHECK(r.outputs[0].raw() == x.raw());
  CHECK_THROWS_WITH(infer_types("top.Flatten", {{dtype::f32, {2, 3}}}, attrs({{"start_dim", i64(5)}})),
                    Catch::Contains("top.Flatten: axis 5 is out of range"));
}

TEST_CASE("Squeeze drops listed size-1 axes, or all of them", "[shape][squeeze]") {
  CHECK(infer_types("top.Squeeze", {{dtype::f32, {1, 3, 1, 5}}}, attrs({{"axes", i64s({0})}}))[0].shape ==
        shape_t{3, 1, 5});
  CHECK(infer_types("top.Squeeze", {{dtype::f32, {1, 3, 1, 5}}}, attrs({{"axes", i64s({-2, 0})}}))[0].shape ==
        shape_t{3, 5});
  CHECK(infer_types("top.Squeeze", {{dtype::f32, {1, 3, 1, 5}}}, attrs({{"axes", i64s({})}}))[0].shape == shape_t{3, 5});
  // TPU-MLIR keeps a listed axis that is not 1, and represents a scalar as [1]
  CHECK(infer_types("top.Squeeze", {{dtype::f32, {1, 3}}}, attrs({{"axes", i64s({1})}}))[0].shape == shape_t{1, 3});
  CHECK(infer_types("top.Squeeze", {{dtype::f32, {1, 1}}}, attrs({{"axes", i64s({0, 1})}}))[0].shape == shape_t{1});
  tensor x = iota(dtype::boolean, {1, 4, 1});
  auto r = run_op("top.Squeeze", {x}, attrs({{"axes", i64s({0, 2})}}));
  CHECK(r.outputs[0].shape() == shape_t{4});
  CHECK(r.outputs[0].raw() == x.raw());
  CHECK_THROWS_WITH(infer_types("top.Squeeze", {{dtype::f32, {1, 3}}}, attrs({{"axes", i64s({2})}})),
                    Catch::Contains("top.Squeeze: axis 2 is out of range for a rank-2 input"));
}

TEST_CASE("Unsqueeze inserts axes counted on the result", "[shape][unsqueeze]") {
  CHECK(infer_types("top.Unsqueeze", {{dtype::f32, {3, 4}}}, attrs({{"axes", i64s({0})}}))[0].shape == shape_t{1, 3, 4});
  CHECK(infer_types("top.Unsqueeze", {{dtype::f32, {3, 4}}}, attrs({{"axes", i64s({-1})}}))[0].shape == shape_t{3, 4, 1});
  CHECK(infer_types("top.Unsqueeze", {{dtype::f32, {3, 4}}}, attrs({{"axes", i64s({3, 1})}}))[0].shape ==
        shape_t{3, 1, 4, 1});
  // BERT: attention mask [1, 128] -> [1, 1, 1, 128]
  tensor mask = iota(dtype::i64, {1, 128});
  auto r = run_op("top.Unsqueeze", {mask}, attrs({{"axes", i64s({1, 2})}}));
  CHECK(r.outputs[0].shape() == shape_t{1, 1, 1, 128});
  CHECK(r.outputs[0].raw() == mask.raw());
  CHECK_THROWS_WITH(infer_types("top.Unsqueeze", {{dtype::f32, {3}}}, attrs({{"axes", i64s({4})}})),
                    Catch::Contains("top.Unsqueeze: axis 4 is out of range"));
  CHECK_THROWS_WITH(infer_types("top.Unsqueeze", {{dtype::f32, {3}}}, attrs({{"axes", i64s({0, 0})}})),
                    Catch::Contains("repeat"));
}

TEST_CASE("Tuple and UnTuple pass tensors through", "[shape][tuple]") {
  tensor a = iota(dtype::f32, {2, 2}), b = iota(dtype::i32, {3});
  auto t = run_op("top.Tuple", {a});
  CHECK(t.outputs[0].raw() == a.raw());
  auto u = run_op("top.UnTuple", {a, b}, {}, true, {}, 2);
  REQUIRE(u.outputs.size() == 2);
  CHECK(u.outputs[0].raw() == a.raw());
  CHECK(u.outputs[1].raw() == b.raw());
  CHECK(u.outputs[1].elem() == dtype::i32);
  CHECK_THROWS_WITH(run_op("top.UnTuple", {a, b}, {}, true, {}, 3), Catch::Contains("top.UnTuple"));
}
