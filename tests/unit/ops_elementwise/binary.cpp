// Binary arithmetic ops: hand-computed values, compute vs reference over broadcast patterns,
// integer and bool operands, attribute handling.
#include "ew_support.hpp"

using namespace mixq;
using namespace mixq::test;
using namespace mixq::test::ew;

namespace {
const char* const binary_float_ops[] = {"top.Add", "top.Sub", "top.Mul", "top.Div", "top.Max", "top.Min",
                                        "top.Mod", "top.Remainder", "top.Pow3"};
}

TEST_CASE("Add sums its inputs with coeff and fused relu", "[elementwise][add]") {
  const tensor a = f32({2, 2}, {1.f, -2.f, 3.f, -4.f}), b = f32({2}, {10.f, 20.f});
  CHECK(as_doubles(run1("top.Add", {a, b})) == std::vector<double>{11, 18, 13, 16});
  CHECK(as_doubles(run1("top.Add", {a, b}, attrs({{"coeff", f64s({2.0, -1.0})}}))) ==
        std::vector<double>{-8, -24, -4, -28});
  CHECK(as_doubles(run1("top.Add", {a, b, a})) == std::vector<double>{12, 16, 16, 12});
  const tensor c = f32({4}, {-5.f, 1.f, 7.f, 2.f});
  CHECK(as_doubles(run1("top.Add", {c, f32({}, {0.f})}, attrs({{"do_relu", attribute(true)}}))) ==
        std::vector<double>{0, 1, 7, 2});
  CHECK(as_doubles(run1("top.Add", {c, f32({}, {0.f})},
                        attrs({{"do_relu", attribute(true)}, {"relu_limit", f64(6.0)}}))) ==
        std::vector<double>{0, 1, 6, 2});
}

TEST_CASE("Sub and Div honour is_reverse", "[elementwise][sub][div]") {
  const tensor a = f32({3}, {8.f, 6.f, -3.f}), b = f32({1}, {2.f});
  CHECK(as_doubles(run1("top.Sub", {a, b})) == std::vector<double>{6, 4, -5});
  CHECK(as_doubles(run1("top.Sub", {a, b}, attrs({{"is_reverse", attribute(true)}}))) == std::vector<double>{-6, -4, 5});
  CHECK(as_doubles(run1("top.Div", {a, b})) == std::vector<double>{4, 3, -1.5});
  const auto rev = as_doubles(run1("top.Div", {a, b}, attrs({{"is_reverse", attribute(true)}})));
  CHECK(rev[0] == Approx(0.25));
  CHECK(rev[2] == Approx(-2.0 / 3.0));
  CHECK(as_doubles(run1("top.Sub", {a, b}, attrs({{"coeff", f64s({1.0, 3.0})}}))) == std::vector<double>{2, 0, -9});
}

TEST_CASE("Div by zero gives IEEE infinities and NaN", "[elementwise][div]") {
  const auto r = as_doubles(run1("top.Div", {f32({3}, {1.f, -1.f, 0.f}), f32({1}, {0.f})}));
  CHECK(std::isinf(r[0]));
  CHECK(r[0] > 0);
  CHECK(std::isinf(r[1]));
  CHECK(r[1] < 0);
  CHECK(std::isnan(r[2]));
}

TEST_CASE("Max and Min propagate NaN and fold several inputs", "[elementwise][max][min]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const tensor a = f32({4}, {1.f, nan, 3.f, -1.f}), b = f32({4}, {2.f, 0.f, nan, -2.f}), c = f32({1}, {0.5f});
  for (bool ref : {true, false}) {
    const auto mx = as_doubles(run1("top.Max", {a, b, c}, {}, ref));
    CHECK(mx[0] == 2);
    CHECK(std::isnan(mx[1]));
    CHECK(std::isnan(mx[2]));
    CHECK(mx[3] == 0.5);
    const auto mn = as_doubles(run1("top.Min", {a, b}, {}, ref));
    CHECK(mn[0] == 1);
    CHECK(std::isnan(mn[1]));
    CHECK(std::isnan(mn[2]));
    CHECK(mn[3] == -2);
  }
}

TEST_CASE("Mod keeps the dividend's sign, Remainder the divisor's", "[elementwise][mod]") {
  const tensor a = f32({4}, {7.f, -7.f, 7.f, -7.f}), b = f32({4}, {3.f, 3.f, -3.f, -3.f});
  CHECK(as_doubles(run1("top.Mod", {a, b})) == std::vector<double>{1, -1, 1, -1});
  CHECK(as_doubles(run1("top.Remainder", {a, b})) == std::vector<double>{1, 2, -2, -1});
  const tensor ia = i64t({4}, {7, -7, 7, -7}), ib = i64t({4}, {3, 3, -3, 0});
  CHECK(as_doubles(run1("top.Mod", {ia, ib})) == std::vector<double>{1, -1, 1, 0});
  CHECK(as_doubles(run1("top.Remainder", {ia, ib})) == std::vector<double>{1, 2, -2, 0});
}

TEST_CASE("Pow3 raises tensor to tensor", "[elementwise][pow]") {
  const auto r = as_doubles(run1("top.Pow3", {f32({3}, {2.f, 9.f, 4.f}), f32({3}, {3.f, 0.5f, -1.f})}));
  CHECK(r[0] == Approx(8.0));
  CHECK(r[1] == Approx(3.0));
  CHECK(r[2] == Approx(0.25));
}

TEST_CASE("binary ops: compute matches reference on every broadcast pattern", "[elementwise][broadcast]") {
  for (const char* op : binary_float_ops) {
    for (const auto& [as, bs] : broadcast_patterns()) {
      INFO(op << " " << to_string(as) << " with " << to_string(bs));
      tensor a = random_tensor(as, -3.f, 3.f), b = random_tensor(bs, 0.5f, 3.f);
      require_compute_matches_reference(op, {a, b});
      require_compute_matches_reference(op, {b, a});
    }
  }
}

TEST_CASE("binary ops: compute matches reference on random shapes", "[elementwise][broadcast]") {
  for (int trial = 0; trial < 60; ++trial) {
    const shape_t out = random_shape(5, 11);
    const shape_t as = random_broadcast_of(out), bs = random_broadcast_of(out);
    const char* op = binary_float_ops[trial % 9];
    INFO(op << " " << to_string(as) << " with " << to_string(bs));
    tensor a = random_tensor(as, -2.f, 2.f), b = random_tensor(bs, 0.25f, 2.f);
    auto fast = run_op(op, {a, b}, {}, false);
    auto ref = run_op(op, {a, b}, {}, true);
    REQUIRE(ref.types[0].shape == top::broadcast_shapes(as, bs));
    require_close(fast.outputs[0], ref.outputs[0], 1e-6, 1e-6);
  }
}

TEST_CASE("Add with coeff, relu and several inputs: compute matches reference", "[elementwise][add]") {
  const attr_dict a = attrs({{"coeff", f64s({0.5, -1.25, 2.0})}, {"do_relu", attribute(true)}, {"relu_limit", f64(1.5)}});
  require_compute_matches_reference("top.Add", {random_tensor({3, 17, 5}), random_tensor({17, 1}), random_tensor({1, 5})}, a);
  require_compute_matches_reference("top.Sub", {random_tensor({3, 17, 5}), random_tensor({5})},
                                    attrs({{"is_reverse", attribute(true)}, {"do_relu", attribute(true)}}));
  require_compute_matches_reference("top.Mul", {random_tensor({2, 33}), random_tensor({2, 1}), random_tensor({33})},
                                    attrs({{"do_relu", attribute(true)}}));
  require_compute_matches_reference("top.Add", {random_tensor({9, 7})});
}

TEST_CASE("integer operands stay exact in int64 and keep their dtype", "[elementwise][integer]") {
  const tensor ids = i64t({2, 3}, {101, 2003, 102, 0, 7, 9007199254740993LL});
  const tensor one = i64t({1}, {1});
  for (bool ref : {true, false}) {
    const tensor sum = run1("top.Add", {ids, one}, {}, ref);
    REQUIRE(sum.elem() == dtype::i64);
    CHECK(sum.data<std::int64_t>()[5] == 9007199254740994LL);  // not representable in double
    CHECK(sum.data<std::int64_t>()[0] == 102);
    const tensor q = run1("top.Div", {i64t({4}, {7, -7, 5, 3}), i64t({4}, {2, 2, 0, -1})}, {}, ref);
    CHECK(as_doubles(q) == std::vector<double>{3, -3, 0, -3});
    const tensor prod = run1("top.Mul", {i32t({3}, {4, -5, 6}), i32t({1}, {3})}, {}, ref);
    REQUIRE(prod.elem() == dtype::i32);
    CHECK(as_doubles(prod) == std::vector<double>{12, -15, 18});
    const tensor mx = run1("top.Max", {i64t({3}, {4, -5, 6}), i64t({3}, {5, -9, 1})}, {}, ref);
    CHECK(as_doubles(mx) == std::vector<double>{5, -5, 6});
    const tensor mn = run1("top.Min", {i64t({3}, {4, -5, 6}), i64t({3}, {5, -9, 1})}, {}, ref);
    CHECK(as_doubles(mn) == std::vector<double>{4, -9, 1});
    const tensor d = run1("top.Sub", {i64t({2}, {std::numeric_limits<std::int64_t>::min(), 0}), i64t({1}, {1})}, {}, ref);
    CHECK(d.data<std::int64_t>()[0] == std::numeric_limits<std::int64_t>::max());  // wraps, no UB
  }
}

TEST_CASE("mixed integer and float operands compute in f32", "[elementwise][integer]") {
  const tensor mask = i64t({1, 4}, {1, 1, 0, 0});
  const tensor x = f32({2, 4}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f});
  for (bool ref : {true, false}) {
    const tensor r = run1("top.Mul", {mask, x}, {}, ref);
    REQUIRE(r.elem() == dtype::f32);
    CHECK(as_doubles(r) == std::vector<double>{1, 2, 0, 0, 5, 6, 0, 0});
    // (1 - mask) * -10000: the BERT attention-mask idiom, with the mask as bool
    const tensor b = boolt({4}, {true, true, false, false});
    const tensor s = run1("top.Sub", {f32({}, {1.f}), b}, {}, ref);
    REQUIRE(s.elem() == dtype::f32);
    CHECK(as_doubles(s) == std::vector<double>{0, 0, 1, 1});
  }
  // an integer result type for float operands converts on store
  const tensor r = run_typed("top.Add", {f32({3}, {1.25f, 2.75f, -1.5f}), f32({1}, {1.f})}, {},
                             tensor_type{dtype::i32, {3}}, false);
  CHECK(as_doubles(r) == std::vector<double>{2, 3, 0});
  // integer operands with a float result type divide exactly
  const tensor q = run_typed("top.Div", {i64t({2}, {7, 1}), i64t({1}, {2})}, {}, tensor_type{dtype::f32, {2}}, true);
  CHECK(as_doubles(q) == std::vector<double>{3.5, 0.5});
}

TEST_CASE("bool operands add and multiply as integers", "[elementwise][integer]") {
  const tensor a = boolt({3}, {true, false, true}), b = boolt({3}, {true, true, false});
  const tensor m = run1("top.Mul", {a, b});
  REQUIRE(m.elem() == dtype::boolean);
  CHECK(as_doubles(m) == std::vector<double>{1, 0, 0});
  CHECK(as_doubles(run_typed("top.Add", {a, b}, {}, tensor_type{dtype::i64, {3}}, false)) == std::vector<double>{2, 1, 1});
}

TEST_CASE("binary ops infer the broadcast shape and a float dtype if any operand is one", "[elementwise][infer]") {
  auto r = run_op("top.Add", {i64t({2, 1}, {1, 2}), random_tensor({3})});
  CHECK(r.types[0] == tensor_type{dtype::f32, {2, 3}});
  r = run_op("top.Max", {i32t({2, 1}, {1, 2}), i32t({1, 3}, {1, 2, 3})});
  CHECK(r.types[0] == tensor_type{dtype::i32, {2, 3}});
  CHECK_THROWS_WITH(run_op("top.Mul", {random_tensor({2, 3}), random_tensor({4})}), Catch::Contains("do not broadcast"));
}

TEST_CASE("const ops apply const_val, is_reverse and fused relu", "[elementwise][const]") {
  const tensor x = f32({4}, {-2.f, 0.5f, 3.f, 8.f});
  const auto run = [&](const char* op, attr_dict a, bool ref) { return as_doubles(run1(op, {x}, a, ref)); };
  for (bool ref : {true, false}) {
    CHECK(run("top.AddConst", attrs({{"const_val", f64(1.5)}}), ref) == std::vector<double>{-0.5, 2, 4.5, 9.5});
    CHECK(run("top.AddConst", attrs({{"const_val", f64(1.0)}, {"do_relu", attribute(true)}, {"relu_limit", f64(4.0)}}), ref) ==
          std::vector<double>{0, 1.5, 4, 4});
    CHECK(run("top.SubConst", attrs({{"const_val", f64(1.0)}}), ref) == std::vector<double>{-3, -0.5, 2, 7});
    CHECK(run("top.SubConst", attrs({{"const_val", f64(1.0)}, {"is_reverse", attribute(true)}}), ref) ==
          std::vector<double>{3, 0.5, -2, -7});
    CHECK(run("top.MulConst", attrs({{"const_val", f64(-2.0)}}), ref) == std::vector<double>{4, -1, -6, -16});
    CHECK(run("top.DivConst", attrs({{"const_val", f64(2.0)}}), ref) == std::vector<double>{-1, 0.25, 1.5, 4});
    CHECK(run("top.DivConst", attrs({{"const_val", f64(8.0)}, {"is_reverse", attribute(true)}}), ref) ==
          std::vector<double>{-4, 16, static_cast<double>(8.f / 3.f), 1});
    CHECK(run("top.MaxConst", attrs({{"const_val", f64(1.0)}}), ref) == std::vector<double>{1, 1, 3, 8});
    CHECK(run("top.MinConst", attrs({{"const_val", f64(1.0)}}), ref) == std::vector<double>{-2, 0.5, 1, 1});
  }
}

TEST_CASE("const ops require const_val", "[elementwise][const]") {
  for (const char* op : {"top.AddConst", "top.SubConst", "top.MulConst", "top.DivConst", "top.MaxConst", "top.MinConst"})
    CHECK_THROWS_WITH(run1(op, {random_tensor({2})}), Catch::Contains("'const_val'"));
  CHECK_THROWS_WITH(run1("top.AddConst", {random_tensor({2})}, attrs({{"const_val", str("x")}})),
                    Catch::Contains("attribute 'const_val': expected float"));
}

TEST_CASE("const ops on integer tensors stay integers for integral constants", "[elementwise][const][integer]") {
  const tensor x = i64t({3}, {4, -5, 9007199254740993LL});
  const tensor r = run1("top.AddConst", {x}, attrs({{"const_val", f64(1.0)}}), false);
  REQUIRE(r.elem() == dtype::i64);
  CHECK(r.data<std::int64_t>()[2] == 9007199254740994LL);
  CHECK(as_doubles(run1("top.MulConst", {x}, attrs({{"const_val", f64(-1.0)}}))).at(1) == 5);
  // a fractional constant is applied in f32 and the result truncated on store
  CHECK(as_doubles(run1("top.MulConst", {i64t({2}, {3, -3})}, attrs({{"const_val", f64(0.5)}}))) ==
        std::vector<double>{1, -1});
}

TEST_CASE("const ops: compute matches reference on odd sizes", "[elementwise][const]") {
  const std::pair<const char*, attr_dict> cases[] = {
      {"top.AddConst", attrs({{"const_val", f64(0.75)}, {"do_relu", attribute(true)}})},
      {"top.SubConst", attrs({{"const_val", f64(0.75)}, {"is_reverse", attribute(true)}})},
      {"top.MulConst", attrs({{"const_val", f64(-3.5)}, {"do_relu", attribute(true)}, {"relu_limit", f64(2.0)}})},
      {"top.DivConst", attrs({{"const_val", f64(3.0)}, {"is_reverse", attribute(true)}})},
      {"top.MaxConst", attrs({{"const_val", f64(0.1)}})},
      {"top.MinConst", attrs({{"const_val", f64(0.1)}})},
      {"top.Pow", attrs({{"exponent", f64(2.0)}})},
      {"top.Pow", attrs({{"exponent", f64(3.0)}})},
      {"top.Pow", attrs({{"exponent", f64(0.5)}})},
      {"top.Pow", attrs({{"exponent", f64(-1.0)}})},
      {"top.Pow", attrs({{"exponent", f64(1.7)}})},
      {"top.Pow2", attrs({{"const_val", f64(2.0)}})},
      {"top.Pow2", attrs({{"const_val", f64(10.0)}})},
  };
  for (const auto& [op, a] : cases)
    for (std::int64_t n : {1, 7, 16, 33, 100003}) {
      INFO(op << " n=" << n);
      require_compute_matches_reference(op, {random_tensor({n}, 0.05f, 4.f)}, a, 2e-6, 1e-6);
    }
}

TEST_CASE("Pow and Pow2 hand values", "[elementwise][pow]") {
  for (bool ref : {true, false}) {
    const auto p = as_doubles(run1("top.Pow", {f32({3}, {2.f, 9.f, -3.f})}, attrs({{"exponent", f64(2.0)}}), ref));
    CHECK(p == std::vector<double>{4, 81, 9});
    const auto s = as_doubles(run1("top.Pow", {f32({2}, {9.f, -1.f})}, attrs({{"exponent", f64(0.5)}}), ref));
    CHECK(s[0] == 3);
    CHECK(std::isnan(s[1]));
    const auto e = as_doubles(run1("top.Pow2", {f32({3}, {0.f, 3.f, -1.f})}, attrs({{"const_val", f64(2.0)}}), ref));
    CHECK(e[0] == Approx(1.0));
    CHECK(e[1] == Approx(8.0));
    CHECK(e[2] == Approx(0.5));
  }
  CHECK_THROWS_WITH(run1("top.Pow", {random_tensor({2})}), Catch::Contains("required attribute 'exponent'"));
}
