// Slice, SliceAxis, StridedSlice, Split, Concat, Pack, Unpack.
#include <limits>

#include "shape_test_util.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {
attr_dict slice(std::vector<std::int64_t> offset, std::vector<std::int64_t> ends, std::vector<std::int64_t> steps,
                std::vector<std::int64_t> axes = {}) {
  return attrs({{"offset", i64s(offset)}, {"ends", i64s(ends)}, {"steps", i64s(steps)}, {"axes", i64s(axes)}});
}
const tensor none;
}  // namespace

TEST_CASE("Slice takes full-rank offset/ends/steps", "[shape][slice]") {
  auto r = both_kernels("top.Slice", {iota(dtype::f32, {3, 4})}, slice({1, 0}, {3, 4}, {1, 2}));
  CHECK(r.outputs[0].shape() == shape_t{2, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{4, 6, 8, 10});
  // fewer entries than the rank slice the leading axes
  r = both_kernels("top.Slice", {iota(dtype::f32, {3, 4})}, slice({2}, {3}, {1}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{8, 9, 10, 11});
}

TEST_CASE("Slice with axes, negative offsets, huge ends and negative steps", "[shape][slice]") {
  tensor x = iota(dtype::i64, {3, 4});
  auto r = both_kernels("top.Slice", {x}, slice({-3}, {4}, {1}, {1}));
  CHECK(r.outputs[0].shape() == shape_t{3, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 2, 3, 5, 6, 7, 9, 10, 11});
  r = both_kernels("top.Slice", {x}, slice({1}, {std::numeric_limits<std::int64_t>::max()}, {1}, {0}));
  CHECK(r.outputs[0].shape() == shape_t{2, 4});
  r = both_kernels("top.Slice", {x}, slice({-1}, {std::numeric_limits<std::int64_t>::min()}, {-1}, {-1}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8});
  r = both_kernels("top.Slice", {x}, slice({3}, {0}, {-2}, {1}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{3, 1, 7, 5, 11, 9});
  r = both_kernels("top.Slice", {x}, slice({2}, {1}, {1}, {1}));
  CHECK(r.outputs[0].shape() == shape_t{3, 0});
}

TEST_CASE("Slice reads constant offsetT/endsT/stepsT on the sliced axes", "[shape][slice]") {
  tensor x = iota(dtype::f32, {3, 4});
  auto r = both_kernels("top.Slice", {x, ints({1}, {2}), none, none}, slice({0}, {4}, {1}, {1}), {1});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{2, 3, 6, 7, 10, 11});
  r = both_kernels("top.Slice", {x, none, ints({1}, {1}), none}, slice({0}, {4}, {1}, {0}), {2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 2, 3});
  // float-typed bounds (frontends make everything f32)
  r = both_kernels("top.Slice", {x, floats({1}, {1.f}), none, floats({1}, {2.f})}, slice({0}, {4}, {1}, {1}), {1, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 3, 5, 7, 9, 11});
}

TEST_CASE("Slice compute equals reference on random shapes and every dtype", "[shape][slice][dtypes]") {
  for (dtype dt : all_dtypes)
    for (const auto& s : odd_shapes(4)) {
      std::vector<std::int64_t> off, end, step;
      for (auto d : s) {
        const std::int64_t st = random_int(0, 3) == 0 ? -random_int(1, 2) : random_int(1, 3);
        off.push_back(random_int(-d, d));
        end.push_back(random_int(-d - 1, d + 1));
        step.push_back(st);
      }
      both_kernels("top.Slice", {iota(dt, s)}, slice(off, end, step));
    }
  both_kernels("top.Slice", {random_tensor({1, 64, 40, 40})}, slice({0, 1, 0, 0}, {1, 64, 40, 40}, {1, 2, 1, 1}));
}

TEST_CASE("Slice rejects a zero step", "[shape][slice][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Slice", {{dtype::f32, {3, 4}}}, slice({0}, {4}, {0}, {1})),
                    Catch::Contains("top.Slice: step 0 on axis 1"));
}

TEST_CASE("SliceAxis slices one axis given as tensors", "[shape][slice]") {
  tensor x = iota(dtype::f32, {3, 4});
  auto r = run_op("top.SliceAxis", {x, ints({1}, {1}), ints({1}, {1}), none, ints({1}, {3})}, {}, true, {1, 2, 4});
  CHECK(r.outputs[0].shape() == shape_t{3, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 2, 5, 6, 9, 10});
}

TEST_CASE("StridedSlice honours begin/end masks and shrink_axis_mask", "[shape][slice]") {
  tensor x = iota(dtype::f32, {3, 4});
  auto masks = [](std::int64_t b, std::int64_t e, std::int64_t s) {
    return attrs({{"begin_mask", i64(b)}, {"end_mask", i64(e)}, {"ellipsis_mask", i64(0)}, {"new_axis_mask", i64(0)},
                  {"shrink_axis_mask", i64(s)}});
  };
  auto r = run_op("top.StridedSlice", {x, ints({2}, {0, 1}), ints({2}, {2, 4}), ints({2}, {1, 2})}, masks(0, 0, 0), true,
                  {1, 2, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{1, 3, 5, 7});
  r = run_op("top.StridedSlice", {x, ints({2}, {1, 3}), ints({2}, {2, 0}), ints({2}, {1, 1})}, masks(2, 2, 1), true,
             {1, 2, 3});
  CHECK(r.outputs[0].shape() == shape_t{4});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{4, 5, 6, 7});
}

TEST_CASE("Split uses ceil-sized pieces or split_size", "[shape][split]") {
  tensor x = iota(dtype::f32, {2, 5});
  auto r = both_kernels("top.Split", {x}, attrs({{"axis", si32v(1)}, {"num", i64(2)}}), {}, 2);
  REQUIRE(r.outputs.size() == 2);
  CHECK(r.outputs[0].shape() == shape_t{2, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 2, 5, 6, 7});
  CHECK(as_doubles(r.outputs[1]) == std::vector<double>{3, 4, 8, 9});
  r = both_kernels("top.Split", {x}, attrs({{"axis", si32v(-1)}, {"num", i64(3)}, {"split_size", i64s({1, 3, 1})}}), {}, 3);
  CHECK(as_doubles(r.outputs[1]) == std::vector<double>{1, 2, 3, 6, 7, 8});
  CHECK(as_doubles(r.outputs[2]) == std::vector<double>{4, 9});
  for (dtype dt : all_dtypes)
    both_kernels("top.Split", {iota(dt, {3, 7, 5})}, attrs({{"axis", si32v(1)}, {"num", i64(3)}}), {}, 3);
}

TEST_CASE("Split reports a result count that does not match num", "[shape][split][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Split", {{dtype::f32, {2, 6}}}, attrs({{"axis", si32v(1)}, {"num", i64(3)}}), 2),
                    Catch::Contains("top.Split: num = 3 but the op has 2 results"));
  CHECK_THROWS_WITH(infer_types("top.Split", {{dtype::f32, {2, 6}}}, attrs({{"axis", si32v(2)}, {"num", i64(2)}}), 2),
                    Catch::Contains("top.Split: axis 2 is out of range"));
}

TEST_CASE("Concat joins along an axis for every dtype", "[shape][concat][dtypes]") {
  auto r = both_kernels("top.Concat", {iota(dtype::f32, {2, 2}), iota(dtype::f32, {2, 1}, 100)}, attrs({{"axis", si32v(1)}}));
  CHECK(r.outputs[0].shape() == shape_t{2, 3});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 100, 2, 3, 101});
  r = both_kernels("top.Concat", {iota(dtype::i64, {1, 2}), iota(dtype::i64, {2, 2}, 10)}, attrs({{"axis", si32v(0)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 10, 11, 12, 13});
  // default axis is 1
  CHECK(infer_types("top.Concat", {{dtype::f32, {1, 2, 3}}, {dtype::f32, {1, 4, 3}}})[0].shape == shape_t{1, 6, 3});
  for (dtype dt : all_dtypes)
    for (std::int64_t ax = -3; ax < 3; ++ax)
      both_kernels("top.Concat", {iota(dt, {2, 3, 4}), iota(dt, {2, 3, 4}, 50), iota(dt, {2, 3, 4}, 7)},
                   attrs({{"axis", si32v(ax)}}));
  both_kernels("top.Concat", {random_tensor({1, 5, 33, 33}), random_tensor({1, 64, 33, 33})}, attrs({{"axis", si32v(1)}}));
}

TEST_CASE("Concat applies its fused relu and limit", "[shape][concat]") {
  auto r = both_kernels("top.Concat", {floats({2}, {-1.f, 2.f}), floats({1}, {0.5f})},
                        attrs({{"axis", si32v(0)}, {"do_relu", boolean(true)}, {"relu_limit", f64(1.5)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1.5, 0.5});
}

TEST_CASE("Concat rejects mismatched shapes and dtypes", "[shape][concat][errors]") {
  CHECK_THROWS_WITH(infer_types("top.Concat", {{dtype::f32, {1, 2, 3}}, {dtype::f32, {1, 4, 5}}}),
                    Catch::Contains("top.Concat: input 1 has shape 1x4x5, which does not match 1x2x3 outside axis 1"));
  CHECK_THROWS_WITH(infer_types("top.Concat", {{dtype::f32, {1, 2}}, {dtype::i64, {1, 2}}}),
                    Catch::Contains("input 1 holds int64"));
}

TEST_CASE("Pack stacks along a new axis and Unpack undoes it", "[shape][pack]") {
  tensor a = iota(dtype::f32, {2}), b = iota(dtype::f32, {2}, 10);
  auto r = both_kernels("top.Pack", {a, b}, attrs({{"axis", si32v(0)}, {"values_count", i64(2)}}));
  CHECK(r.outputs[0].shape() == shape_t{2, 2});
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 1, 10, 11});
  r = both_kernels("top.Pack", {a, b}, attrs({{"axis", si32v(-1)}, {"values_count", i64(2)}}));
  CHECK(as_doubles(r.outputs[0]) == std::vector<double>{0, 10, 1, 11});
  auto u = both_kernels("top.Unpack", {iota(dtype::i64, {2, 3})}, attrs({{"axis", si32v(1)}}), {}, 3);
  REQUIRE(u.outputs.size() == 3);
  CHECK(u.outputs[0].shape() == shape_t{2});
  CHECK(as_doubles(u.outputs[0]) == std::vector<double>{0, 3});
  CHECK(as_doubles(u.outputs[2]) == std::vector<double>{2, 5});
  for (dtype dt : all_dtypes) {
    tensor x = iota(dt, {3, 4, 5});
    for (std::int64_t ax = 0; ax < 3; ++ax) {
      auto parts = both_kernels("top.Unpack", {x}, attrs({{"axis", si32v(ax)}}), {}, static_cast<std::size_t>(x.dim(static_cast<std::size_t>(ax))));
      auto packed = both_kernels("top.Pack", parts.outputs,
                                 attrs({{"axis", si32v(ax)}, {"values_count", i64(x.dim(static_cast<std::size_t>(ax)))}}));
      require_identical(packed.outputs[0], x);
    }
  }
  CHECK_THROWS_WITH(infer_types("top.Unpack", {{dtype::f32, {2, 3}}}, attrs({{"axis", si32v(1)}}), 2),
                    Catch::Contains("top.Unpack: axis 1 has size 3 but the op has 2 results"));
}
