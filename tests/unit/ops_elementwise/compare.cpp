// Compare, CompareConst, LogicalAnd, Where, MaskedFill, Cast, DtypeCast: masks and integer
// tensors as they flow through a BERT-like graph.
#include "ew_support.hpp"

using namespace mixq;
using namespace mixq::test;
using namespace mixq::test::ew;

namespace {
const char* const modes[] = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "NotEqual", "And", "Not", "Xor"};
}

TEST_CASE("Compare: every mode, hand values", "[compare]") {
  const tensor a = f32({5}, {1.f, 2.f, 3.f, 0.f, 0.f}), b = f32({5}, {2.f, 2.f, 2.f, 5.f, 0.f});
  const std::vector<std::vector<double>> want = {
      {0, 1, 0, 0, 1},  // Equal
      {0, 0, 1, 0, 0},  // Greater
      {0, 1, 1, 0, 1},  // GreaterOrEqual
      {1, 0, 0, 1, 0},  // Less
      {1, 1, 0, 1, 1},  // LessOrEqual
      {1, 0, 1, 1, 0},  // NotEqual
      {1, 1, 1, 0, 0},  // And
      {0, 0, 0, 1, 1},  // Not (of lhs)
      {0, 0, 0, 1, 0},  // Xor
  };
  for (std::size_t m = 0; m < 9; ++m)
    for (bool ref : {true, false}) {
      INFO(modes[m] << (ref ? " reference" : " compute"));
      const tensor r = run1("top.Compare", {a, b}, attrs({{"mode", str(modes[m])}}), ref);
      CHECK(r.elem() == dtype::f32);
      CHECK(as_doubles(r) == want[m]);
    }
}

TEST_CASE("Compare: NaN compares unequal", "[compare]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const tensor a = f32({2}, {nan, 1.f}), b = f32({2}, {nan, nan});
  for (bool ref : {true, false}) {
    CHECK(as_doubles(run1("top.Compare", {a, b}, attrs({{"mode", str("Equal")}}), ref)) == std::vector<double>{0, 0});
    CHECK(as_doubles(run1("top.Compare", {a, b}, attrs({{"mode", str("NotEqual")}}), ref)) == std::vector<double>{1, 1});
    CHECK(as_doubles(run1("top.Compare", {a, b}, attrs({{"mode", str("Less")}}), ref)) == std::vector<double>{0, 0});
  }
}

TEST_CASE("Compare: bad or missing mode is an error naming the attribute", "[compare][attributes]") {
  CHECK_THROWS_WITH(run1("top.Compare", {random_tensor({2}), random_tensor({2})}, attrs({{"mode", str("Bigger")}})),
                    Catch::Contains("attribute 'mode'") && Catch::Contains("Bigger"));
  CHECK_THROWS_WITH(run1("top.Compare", {random_tensor({2}), random_tensor({2})}),
                    Catch::Contains("required attribute 'mode'"));
  CHECK_THROWS_WITH(run1("top.CompareConst", {random_tensor({2})},
                         attrs({{"mode", str("Equal")}, {"const_val", f64(1.0)}})),
                    Catch::Contains("required attribute 'inversed'"));
}

TEST_CASE("Compare: compute matches reference on broadcast patterns for every mode", "[compare][broadcast]") {
  for (const char* m : modes)
    for (const auto& [as, bs] : broadcast_patterns()) {
      INFO(m << " " << to_string(as) << " vs " << to_string(bs));
      // few distinct values so that equality happens
      tensor a = random_tensor(as, -2.f, 2.f), b = random_tensor(bs, -2.f, 2.f);
      for (float& v : a.values<float>()) v = std::round(v);
      for (float& v : b.values<float>()) v = std::round(v);
      require_compute_matches_reference("top.Compare", {a, b}, attrs({{"mode", str(m)}}), 0, 0);
    }
}

TEST_CASE("Compare: integer and bool operands, bool and f32 results", "[compare][integer]") {
  // input_ids == pad id -> attention mask, as a BERT graph does
  const tensor ids = i64t({2, 4}, {101, 2023, 102, 0, 101, 102, 0, 0});
  const tensor pad = i64t({}, {0});
  for (bool ref : {true, false}) {
    const tensor m = run_typed("top.Compare", {ids, pad}, attrs({{"mode", str("NotEqual")}}),
                               tensor_type{dtype::boolean, {2, 4}}, ref);
    CHECK(as_doubles(m) == std::vector<double>{1, 1, 1, 0, 1, 1, 0, 0});
    const tensor f = run_typed("top.Compare", {ids, pad}, attrs({{"mode", str("Equal")}}), tensor_type{dtype::f32, {2, 4}}, ref);
    CHECK(as_doubles(f) == std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1});
    // int64 values beyond float precision still compare exactly
    const tensor big = run_typed("top.Compare", {i64t({1}, {9007199254740993LL}), i64t({1}, {9007199254740992LL})},
                                 attrs({{"mode", str("Greater")}}), tensor_type{dtype::boolean, {1}}, ref);
    CHECK(as_doubles(big) == std::vector<double>{1});
    const tensor bb = run_typed("top.Compare", {boolt({3}, {true, false, true}), boolt({3}, {true, true, false})},
                                attrs({{"mode", str("Xor")}}), tensor_type{dtype::boolean, {3}}, ref);
    CHECK(as_doubles(bb) == std::vector<double>{0, 1, 1});
    // mixed int and float operands compare as floats
    const tensor mixed = run_typed("top.Compare", {i32t({3}, {1, 2, 3}), f32({1}, {1.5f})}, attrs({{"mode", str("Less")}}),
                                   tensor_type{dtype::i32, {3}}, ref);
    CHECK(as_doubles(mixed) == std::vector<double>{1, 0, 0});
  }
  const auto r = run_op("top.Compare", {ids, pad}, attrs({{"mode", str("Equal")}}));
  CHECK(r.types[0] == tensor_type{dtype::i64, {2, 4}});  // infer: the first operand's dtype
}

TEST_CASE("CompareConst: modes, inversed, integer inputs", "[compare][const]") {
  const tensor x = f32({4}, {-1.f, 0.f, 0.5f, 2.f});
  for (bool ref : {true, false}) {
    CHECK(as_doubles(run1("top.CompareConst", {x},
                          attrs({{"mode", str("Greater")}, {"const_val", f64(0.0)}, {"inversed", attribute(false)}}), ref)) ==
          std::vector<double>{0, 0, 1, 1});
    CHECK(as_doubles(run1("top.CompareConst", {x},
                          attrs({{"mode", str("Greater")}, {"const_val", f64(0.0)}, {"inversed", attribute(true)}}), ref)) ==
          std::vector<double>{1, 0, 0, 0});
    CHECK(as_doubles(run1("top.CompareConst", {x},
                          attrs({{"mode", str("Equal")}, {"const_val", f64(0.5)}, {"inversed", attribute(false)}}), ref)) ==
          std::vector<double>{0, 0, 1, 0});
    const tensor ids = i64t({3}, {9007199254740993LL, 0, 5});
    const tensor m = run_typed("top.CompareConst", {ids},
                               attrs({{"mode", str("Equal")}, {"const_val", f64(0.0)}, {"inversed", attribute(false)}}),
                               tensor_type{dtype::boolean, {3}}, ref);
    CHECK(as_doubles(m) == std::vector<double>{0, 1, 0});
    const tensor h = run_typed("top.CompareConst", {ids},
                               attrs({{"mode", str("Less")}, {"const_val", f64(4.5)}, {"inversed", attribute(false)}}),
                               tensor_type{dtype::i64, {3}}, ref);
    CHECK(as_doubles(h) == std::vector<double>{0, 1, 0});
  }
  for (const char* m : modes)
    require_compute_matches_reference("top.CompareConst", {random_tensor({3, 37}, -1.f, 1.f)},
                                      attrs({{"mode", str(m)}, {"const_val", f64(0.25)}, {"inversed", attribute(true)}}), 0, 0);
}

TEST_CASE("LogicalAnd of several masks", "[compare][logical]") {
  const tensor a = boolt({4}, {true, true, false, false}), b = boolt({4}, {true, false, true, false});
  const tensor c = f32({1}, {2.f});
  for (bool ref : {true, false}) {
    const tensor r = run1("top.LogicalAnd", {a, b}, {}, ref);
    REQUIRE(r.elem() == dtype::boolean);
    CHECK(as_doubles(r) == std::vector<double>{1, 0, 0, 0});
    // Element by element: with GCC 12 -O3 -march=native (AVX-512) a braced std::vector<double>
    // constant {1, 1, 0, 0} in this function compared as {1, 1, 1, 1}.
    const std::vector<double> got = as_doubles(run_typed("top.LogicalAnd", {a, c, a}, {}, tensor_type{dtype::f32, {4}}, ref));
    REQUIRE(got.size() == 4);
    CHECK(got[0] == 1.0);
    CHECK(got[1] == 1.0);
    CHECK(got[2] == 0.0);
    CHECK(got[3] == 0.0);
  }
}

TEST_CASE("Where selects on any condition dtype with broadcasting", "[compare][where]") {
  const tensor cond = boolt({2, 1}, {true, false});
  const tensor x = f32({1, 3}, {1.f, 2.f, 3.f}), y = f32({2, 3}, {-1.f, -2.f, -3.f, -4.f, -5.f, -6.f});
  for (bool ref : {true, false}) {
    const tensor r = run1("top.Where", {cond, x, y}, {}, ref);
    CHECK(r.shape() == shape_t{2, 3});
    CHECK(as_doubles(r) == std::vector<double>{1, 2, 3, -4, -5, -6});
    // a float condition: nonzero (and NaN) is true
    const tensor fc = f32({3}, {0.f, 0.5f, std::numeric_limits<float>::quiet_NaN()});
    CHECK(as_doubles(run1("top.Where", {fc, x.reshaped({3}), f32({}, {9.f})}, {}, ref)) == std::vector<double>{9, 2, 3});
    // integer branches keep their dtype (token ids)
    const tensor ids = run1("top.Where", {boolt({3}, {true, false, true}), i64t({3}, {7, 8, 9007199254740993LL}),
                                          i64t({}, {0})}, {}, ref);
    REQUIRE(ids.elem() == dtype::i64);
    CHECK(ids.data<std::int64_t>()[2] == 9007199254740993LL);
    CHECK(ids.data<std::int64_t>()[1] == 0);
  }
}

TEST_CASE("Where with constant branches", "[compare][where]") {
  const tensor cond = i32t({4}, {1, 0, 3, 0});
  const tensor none;
  const tensor x = f32({4}, {1.f, 2.f, 3.f, 4.f});
  for (bool ref : {true, false}) {
    CHECK(as_doubles(run1("top.Where", {cond, none, x}, attrs({{"x_is_const", attribute(true)}, {"x_const_val", f64(-9.0)}}),
                          ref)) == std::vector<double>{-9, 2, -9, 4});
    CHECK(as_doubles(run1("top.Where", {cond, x, none}, attrs({{"y_is_const", attribute(true)}, {"y_const_val", f64(-7.0)}}),
                          ref)) == std::vector<double>{1, -7, 3, -7});
    const tensor both = run_typed("top.Where", {cond, none, none},
                                  attrs({{"x_is_const", attribute(true)}, {"y_is_const", attribute(true)},
                                         {"x_const_val", f64(1.0)}, {"y_const_val", f64(-10000.0)}}),
                                  tensor_type{dtype::f32, {4}}, ref);
    CHECK(as_doubles(both) == std::vector<double>{1, -10000, 1, -10000});
  }
  const auto r = run_op("top.Where", {cond, none, x}, attrs({{"x_is_const", attribute(true)}}));
  CHECK(r.types[0] == tensor_type{dtype::f32, {4}});
}

TEST_CASE("Where: compute matches reference on random broadcasts and dtypes", "[compare][where]") {
  for (int trial = 0; trial < 40; ++trial) {
    const shape_t out = random_shape(4, 9);
    tensor c = random_tensor(random_broadcast_of(out), -1.f, 1.f);
    for (float& v : c.values<float>()) v = v > 0.f ? 1.f : 0.f;
    const tensor cb = c.cast(dtype::boolean);
    tensor x = random_tensor(random_broadcast_of(out)), y = random_tensor(random_broadcast_of(out));
    if (trial % 3 == 1) x = x.cast(dtype::i64), y = y.cast(dtype::i64);
    if (trial % 3 == 2) x = x.cast(dtype::f16), y = y.cast(dtype::f16);
    INFO(to_string(cb.shape()) << " " << to_string(x.shape()) << " " << to_string(y.shape()));
    require_compute_matches_reference("top.Where", {trial % 2 ? cb : c, x, y}, {}, 0, 0);
  }
}

TEST_CASE("MaskedFill: TPU-MLIR's inversed convention", "[compare][masked_fill]") {
  const tensor cond = boolt({1, 3}, {true, false, true});
  const tensor x = f32({2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f});
  for (bool ref : {true, false}) {
    CHECK(as_doubles(run1("top.MaskedFill", {cond, x}, attrs({{"inversed", attribute(false)}, {"const_val", f64(-1.0)}}),
                          ref)) == std::vector<double>{1, -1, 3, 4, -1, 6});
    CHECK(as_doubles(run1("top.MaskedFill", {cond, x}, attrs({{"inversed", attribute(true)}, {"const_val", f64(-1.0)}}),
                          ref)) == std::vector<double>{-1, 2, -1, -1, 5, -1});
  }
  require_compute_matches_reference("top.MaskedFill", {random_tensor({4, 1, 9}), random_tensor({4, 7, 9})},
                                    attrs({{"inversed", attribute(true)}, {"const_val", f64(-1e4)}}), 0, 0);
  CHECK_THROWS_WITH(run1("top.MaskedFill", {cond, x}, attrs({{"const_val", f64(0.0)}})),
                    Catch::Contains("required attribute 'inversed'"));
}

TEST_CASE("Cast converts to the result dtype with round_mode for float to int", "[compare][cast]") {
  const tensor x = f32({6}, {2.5f, -2.5f, 1.4f, -1.6f, 3.5f, 1e20f});
  const auto cast = [&](const char* mode) {
    return as_doubles(run_typed("top.Cast", {x}, attrs({{"round_mode", str(mode)}}), tensor_type{dtype::i32, {6}}, true));
  };
  const double imax = std::numeric_limits<std::int32_t>::max();
  CHECK(cast("HalfAwayFromZero") == std::vector<double>{3, -3, 1, -2, 4, imax});
  CHECK(cast("HalfToEven") == std::vector<double>{2, -2, 1, -2, 4, imax});
  CHECK(cast("HalfToOdd") == std::vector<double>{3, -3, 1, -2, 3, imax});
  CHECK(cast("HalfUp") == std::vector<double>{3, -2, 1, -2, 4, imax});
  CHECK(cast("HalfDown") == std::vector<double>{2, -3, 1, -2, 3, imax});
  CHECK(cast("HalfTowardsZero") == std::vector<double>{2, -2, 1, -2, 3, imax});
  CHECK(cast("TowardsZero") == std::vector<double>{2, -2, 1, -1, 3, imax});
  CHECK(cast("Up") == std::vector<double>{3, -2, 2, -1, 4, imax});
  CHECK(cast("Down") == std::vector<double>{2, -3, 1, -2, 3, imax});
  // int -> float, bool -> float, float -> bool
  CHECK(as_doubles(run_typed("top.Cast", {i64t({2}, {3, -4})}, {}, tensor_type{dtype::f32, {2}}, false)) ==
        std::vector<double>{3, -4});
  CHECK(as_doubles(run_typed("top.Cast", {boolt({2}, {true, false})}, {}, tensor_type{dtype::f32, {2}}, false)) ==
        std::vector<double>{1, 0});
  CHECK(as_doubles(run_typed("top.Cast", {f32({3}, {0.f, -0.5f, 2.f})}, {}, tensor_type{dtype::boolean, {3}}, false)) ==
        std::vector<double>{0, 1, 1});
  // without a declared type, infer keeps the operand's type
  CHECK(run_op("top.Cast", {x}).types[0] == x.type());
}

TEST_CASE("DtypeCast converts f32 to f16 and back", "[compare][cast]") {
  const tensor x = f32({3}, {1.f, 0.1f, 65504.f});
  auto r = run_op("top.DtypeCast", {x});
  REQUIRE(r.types[0].elem == dtype::f16);
  REQUIRE(r.outputs[0].elem() == dtype::f16);
  const auto back = as_doubles(run1("top.DtypeCast", {r.outputs[0]}));
  CHECK(back[0] == 1.0);
  CHECK(back[1] == Approx(0.1).epsilon(1e-3));
  CHECK(back[2] == 65504.0);
}
