// Activations and unary math ops: hand-computed values (incl. NaN/inf), vectorized compute vs
// the scalar reference on odd and large sizes, attribute defaults and validation.
#include "ew_support.hpp"

using namespace mixq;
using namespace mixq::test;
using namespace mixq::test::ew;

namespace {
const float inf = std::numeric_limits<float>::infinity();
const float nan_v = std::numeric_limits<float>::quiet_NaN();

struct unary_case {
  const char* op;
  attr_dict attrs;
  float lo, hi;  // input range for random tests
};

std::vector<unary_case> unary_cases() {
  return {
      {"top.Relu", {}, -3, 3},
      {"top.Relu", attrs({{"relu_limit", f64(1.0)}}), -3, 3},
      {"top.LeakyRelu", attrs({{"alpha", f64(0.1)}}), -3, 3},
      {"top.SiLU", {}, -20, 20},
      {"top.Swish", attrs({{"beta", f64(1.5)}}), -20, 20},
      {"top.GELU", {}, -6, 6},
      {"top.GELU", attrs({{"approx_mode", str("tanh")}}), -6, 6},
      {"top.GELU", attrs({{"approx_mode", str("sigm")}}), -6, 6},
      {"top.Sigmoid", {}, -30, 30},
      {"top.Sigmoid", attrs({{"scale", f64(2.0)}, {"bias", f64(0.5)}}), -30, 30},
      {"top.Sigmoid", attrs({{"log", attribute(true)}}), -15, 15},
      {"top.Tanh", {}, -10, 10},
      {"top.HardSigmoid", attrs({{"alpha", f64(0.2)}, {"beta", f64(0.5)}}), -5, 5},
      {"top.HardSwish", {}, -5, 5},
      {"top.Clip", attrs({{"min", f64(-0.5)}, {"max", f64(1.5)}}), -3, 3},
      {"top.Elu", attrs({{"alpha", f64(1.0)}}), -5, 5},
      {"top.Mish", {}, -20, 20},
      {"top.Softplus", {}, -30, 30},
      {"top.Softsign", {}, -10, 10},
      {"top.Exp", {}, -20, 20},
      {"top.Log", {}, 1e-4f, 100},
      {"top.LogB", attrs({{"base", i64(10)}}), 1e-3f, 1000},
      {"top.Sqrt", {}, 0, 100},
      {"top.Rsqrt", {}, 1e-3f, 100},
      {"top.Erf", {}, -4, 4},
      {"top.Reciprocal", {}, 0.1f, 10},
      {"top.Reciprocal", attrs({{"const_val", f64(-2.0)}, {"do_relu", attribute(true)}}), -10, 10},
      {"top.Abs", {}, -5, 5},
      {"top.Sign", {}, -5, 5},
      {"top.Floor", {}, -5, 5},
      {"top.Ceil", {}, -5, 5},
      {"top.Round", {}, -5, 5},
      {"top.Sin", {}, -20, 20},
      {"top.Cos", {}, -20, 20},
      {"top.Tan", {}, -1.4f, 1.4f},
      {"top.Sinh", {}, -10, 10},
      {"top.Cosh", {}, -10, 10},
      {"top.Arctanh", {}, -0.99f, 0.99f},
      {"top.Arccos", {}, -1, 1},
  };
}

std::vector<double> eval(const char* op, std::vector<float> x, const attr_dict& a = {}, bool ref = true) {
  const auto n = static_cast<std::int64_t>(x.size());
  return as_doubles(run1(op, {f32({n}, std::move(x))}, a, ref));
}

/// Both the reference and the vectorized kernel give `want` (NaN matches NaN).
void check_values(const char* op, const std::vector<float>& x, const std::vector<double>& want, const attr_dict& a = {},
                  double tol = 1e-6) {
  for (bool ref : {true, false}) {
    const auto got = eval(op, x, a, ref);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO(op << (ref ? " reference" : " compute") << " x=" << x[i] << " got " << got[i] << " want " << want[i]);
      if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
      else if (std::isinf(want[i])) CHECK(got[i] == want[i]);
      else CHECK(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])));
    }
  }
}
}  // namespace

TEST_CASE("Relu and LeakyRelu hand values", "[activation]") {
  check_values("top.Relu", {-1.f, 0.f, 2.5f, 7.f, -inf, inf}, {0, 0, 2.5, 7, 0, inf});
  check_values("top.Relu", {-1.f, 2.5f, 7.f, inf}, {0, 2.5, 6, 6}, attrs({{"relu_limit", f64(6.0)}}));
  check_values("top.LeakyRelu", {-2.f, 0.f, 3.f, nan_v}, {-0.2, 0, 3, NAN}, attrs({{"alpha", f64(0.1)}}));
}

TEST_CASE("PRelu uses the slope operand with broadcasting", "[activation][prelu]") {
  const tensor x = f32({1, 2, 1, 2}, {-1.f, 2.f, -3.f, 4.f});
  for (bool ref : {true, false}) {
    CHECK(as_doubles(run1("top.PRelu", {x, f32({1, 2, 1, 1}, {0.5f, 0.25f})}, {}, ref)) ==
          std::vector<double>{-0.5, 2, -0.75, 4});
    // a 1-D slope of channel length is per channel, not per last dim
    CHECK(as_doubles(run1("top.PRelu", {x, f32({2}, {0.5f, 0.25f})}, {}, ref)) == std::vector<double>{-0.5, 2, -0.75, 4});
  }
  require_compute_matches_reference("top.PRelu", {random_tensor({2, 5, 7, 9}), random_tensor({1, 5, 1, 1})});
  require_compute_matches_reference("top.PRelu", {random_tensor({3, 11}), random_tensor({1})});
  require_compute_matches_reference("top.PRelu", {random_tensor({4, 13, 33}), random_tensor({13})});
}

TEST_CASE("sigmoid family hand values, incl. saturation and NaN", "[activation]") {
  const double s1 = 1.0 / (1.0 + std::exp(-1.0));
  check_values("top.Sigmoid", {0.f, 1.f, -100.f, 100.f, nan_v}, {0.5, s1, 0, 1, NAN});
  check_values("top.Sigmoid", {0.f, 1.f}, {1.5, 2 * s1 + 0.5}, attrs({{"scale", f64(2.0)}, {"bias", f64(0.5)}}));
  check_values("top.Sigmoid", {0.f, 1.f}, {std::log(0.5), std::log(s1)}, attrs({{"log", attribute(true)}}));
  check_values("top.SiLU", {0.f, 1.f, -1.f, -200.f, 200.f}, {0, s1, -(1 - s1), 0, 200});
  check_values("top.Swish", {2.f}, {2.0 / (1.0 + std::exp(-1.0))}, attrs({{"beta", f64(0.5)}}));
  check_values("top.Tanh", {0.f, 0.5f, -20.f, inf}, {0, std::tanh(0.5), -1, 1});
  check_values("top.HardSigmoid", {-10.f, 0.f, 1.f, 10.f}, {0, 0.5, 0.7, 1}, attrs({{"alpha", f64(0.2)}, {"beta", f64(0.5)}}));
  check_values("top.HardSwish", {-4.f, 0.f, 1.f, 4.f}, {0, 0, 1.0 * (1.0 / 6 + 0.5), 4});
}

TEST_CASE("GELU modes hand values", "[activation][gelu]") {
  const auto gelu = [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); };
  const auto gelu_t = [](double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  };
  const auto gelu_s = [](double x) { return x / (1 + std::exp(-1.702 * x)); };
  const std::vector<float> x{-3.f, -1.f, 0.f, 0.5f, 2.f};
  std::vector<double> w, wt, ws;
  for (float v : x) w.push_back(gelu(v)), wt.push_back(gelu_t(v)), ws.push_back(gelu_s(v));
  check_values("top.GELU", x, w, {}, 2e-6);
  check_values("top.GELU", x, wt, attrs({{"approx_mode", str("tanh")}}), 2e-6);
  check_values("top.GELU", x, ws, attrs({{"approx_mode", str("sigm")}}), 2e-6);
  // far in the negative tail the exact form keeps its relative accuracy
  const auto tail = eval("top.GELU", {-8.f}, {}, false);
  CHECK(tail[0] == Approx(gelu(-8.0)).epsilon(1e-4));
  CHECK_THROWS_WITH(run1("top.GELU", {random_tensor({2})}, attrs({{"approx_mode", str("fast")}})),
                    Catch::Contains("attribute 'approx_mode'"));
}

TEST_CASE("exp, log and friends hand values incl. edge cases", "[activation][math]") {
  check_values("top.Exp", {0.f, 1.f, -inf, inf, 100.f, nan_v}, {1, std::exp(1.0), 0, inf, inf, NAN});
  check_values("top.Log", {1.f, 0.f, -1.f, inf, 10.f}, {0, -inf, NAN, inf, std::log(10.0)});
  check_values("top.LogB", {100.f, 2.f}, {2, std::log(2.0) / std::log(10.0)}, attrs({{"base", i64(10)}}));
  check_values("top.Sqrt", {4.f, 0.f, -1.f, inf}, {2, 0, NAN, inf});
  check_values("top.Rsqrt", {4.f, 0.f, 0.01f}, {0.5, inf, 10});
  check_values("top.Erf", {0.f, 0.5f, -2.f, inf, -inf}, {0, std::erf(0.5), std::erf(-2.0), 1, -1});
  check_values("top.Reciprocal", {2.f, -4.f, 0.f}, {0.5, -0.25, inf});
  check_values("top.Reciprocal", {2.f, -4.f}, {0, 1.5}, attrs({{"const_val", f64(-6.0)}, {"do_relu", attribute(true)}}));
  check_values("top.Softplus", {0.f, 1.f, -100.f, 100.f}, {std::log(2.0), std::log1p(std::exp(1.0)), 0, 100});
  check_values("top.Mish", {0.f, 1.f, -100.f, 100.f}, {0, std::tanh(std::log1p(std::exp(1.0))), 0, 100});
  check_values("top.Softsign", {1.f, -3.f, 0.f}, {0.5, -0.75, 0});
  check_values("top.Elu", {1.f, 0.f, -1.f, -inf}, {1, 0, 2 * std::expm1(-1.0), -2}, attrs({{"alpha", f64(2.0)}}));
  check_values("top.Clip", {-5.f, 0.f, 5.f, nan_v}, {-1, 0, 2, NAN}, attrs({{"min", f64(-1.0)}, {"max", f64(2.0)}}));
}

TEST_CASE("rounding, sign, abs and trigonometry hand values", "[activation][math]") {
  check_values("top.Floor", {-1.5f, 1.5f, 2.f}, {-2, 1, 2});
  check_values("top.Ceil", {-1.5f, 1.5f, 2.f}, {-1, 2, 2});
  check_values("top.Round", {0.5f, 1.5f, 2.5f, -0.5f, -1.6f}, {0, 2, 2, -0.0, -2});
  check_values("top.Sign", {-3.f, 0.f, 2.f, nan_v}, {-1, 0, 1, NAN});
  check_values("top.Abs", {-3.f, 0.f, 2.f, -inf}, {3, 0, 2, inf});
  check_values("top.Sin", {0.f, 1.f, inf}, {0, std::sin(1.0), NAN});
  check_values("top.Cos", {0.f, 1.f}, {1, std::cos(1.0)});
  check_values("top.Tan", {0.f, 1.f}, {0, std::tan(1.0)}, {}, 2e-6);
  check_values("top.Sinh", {0.f, 1.f}, {0, std::sinh(1.0)});
  check_values("top.Cosh", {0.f, 1.f}, {1, std::cosh(1.0)});
  check_values("top.Arctanh", {0.f, 0.5f, 2.f}, {0, std::atanh(0.5), NAN});
  check_values("top.Arccos", {1.f, 0.f, -1.f, 2.f}, {0, std::acos(0.0), std::acos(-1.0), NAN});
}

TEST_CASE("unary ops: vectorized compute matches the scalar reference", "[activation][fast]") {
  for (const auto& c : unary_cases())
    for (const shape_t& s : std::vector<shape_t>{{1}, {3}, {17}, {2, 3, 5}, {64}, {1, 3, 224, 224}}) {
      INFO(c.op << " shape " << to_string(s));
      require_compute_matches_reference(c.op, {random_tensor(s, c.lo, c.hi)}, c.attrs, 1e-5, 1e-6);
    }
}

TEST_CASE("unary ops keep shape and dtype, and convert other float dtypes through f32", "[activation][infer]") {
  for (const auto& c : unary_cases()) {
    INFO(c.op);
    auto r = run_op(c.op, {random_tensor({2, 3}, c.lo, c.hi)}, c.attrs);
    CHECK(r.types[0] == tensor_type{dtype::f32, {2, 3}});
  }
  const tensor h = random_tensor({5}, -2.f, 2.f).cast(dtype::f16);
  const tensor y = run1("top.Sigmoid", {h}, {}, false);
  REQUIRE(y.elem() == dtype::f16);
  const tensor want = run1("top.Sigmoid", {h.cast(dtype::f32)});
  require_close(y, want, 2e-3, 1e-3);
}

TEST_CASE("Abs, Sign, Relu, Clip and rounding keep integer tensors exact", "[activation][integer]") {
  const tensor x = i64t({4}, {-9007199254740993LL, -2, 0, 5});
  for (bool ref : {true, false}) {
    const tensor a = run1("top.Abs", {x}, {}, ref);
    REQUIRE(a.elem() == dtype::i64);
    CHECK(a.data<std::int64_t>()[0] == 9007199254740993LL);
    CHECK(as_doubles(run1("top.Sign", {x}, {}, ref)) == std::vector<double>{-1, -1, 0, 1});
    CHECK(as_doubles(run1("top.Relu", {x}, {}, ref)) == std::vector<double>{0, 0, 0, 5});
    CHECK(as_doubles(run1("top.Clip", {x}, attrs({{"min", f64(-1.0)}, {"max", f64(3.0)}}), ref)) ==
          std::vector<double>{-1, -1, 0, 3});
    CHECK(run1("top.Floor", {x}, {}, ref).data<std::int64_t>()[0] == -9007199254740993LL);
    const tensor i32 = run1("top.Abs", {i32t({2}, {-7, 7})}, {}, ref);
    REQUIRE(i32.elem() == dtype::i32);
    CHECK(as_doubles(i32) == std::vector<double>{7, 7});
  }
}

TEST_CASE("unary attributes: defaults, required ones and validation", "[activation][attributes]") {
  for (const char* op : {"top.LeakyRelu", "top.Swish", "top.HardSigmoid", "top.Clip", "top.Elu", "top.LogB"})
    CHECK_THROWS_WITH(run1(op, {random_tensor({2})}), Catch::Contains("required attribute"));
  CHECK_THROWS_WITH(run1("top.LogB", {random_tensor({2}, 1.f, 2.f)}, attrs({{"base", i64(1)}})),
                    Catch::Contains("'base'"));
  CHECK_THROWS_WITH(run1("top.Tanh", {random_tensor({2})}, attrs({{"round_mode", str("Nearest")}})),
                    Catch::Contains("attribute 'round_mode'"));
  // defaults as TopOps.td has them
  const auto& sig = top::ops().at("top.Sigmoid");
  auto decoded = sig.decode({});
  const auto* a = static_cast<const top::sigmoid_op::attributes*>(decoded.get());
  CHECK(a->scale == 1.0);
  CHECK(a->bias == 0.0);
  CHECK_FALSE(a->log);
  CHECK(a->round_mode.value == "HalfAwayFromZero");
  auto g = top::ops().at("top.GELU").decode({});
  CHECK(static_cast<const top::gelu_op::attributes*>(g.get())->approx_mode.value == "normal");
  auto r = top::ops().at("top.Reciprocal").decode({});
  CHECK(static_cast<const top::reciprocal_op::attributes*>(r.get())->const_val == 1.0);
  CHECK(top::ops().at("top.Clip").operands[0].name == "inputs");
}

TEST_CASE("large tensors split over threads give the same result as one thread", "[activation][threads]") {
  const tensor x = random_tensor({3, 100001}, -5.f, 5.f);
  thread_pool one(1), four(4);
  for (const char* op : {"top.GELU", "top.Exp", "top.SiLU"}) {
    const top::op_info& info = top::ops().at(op);
    auto decoded = info.decode({});
    std::vector<const tensor*> ins{&x};
    std::vector<tensor_type> types{x.type()};
    std::vector<tensor> o1(1), o4(1);
    top::kernel_context k1{ins, o1, types, &one}, k4{ins, o4, types, &four};
    info.compute(k1, decoded.get(), nullptr);
    info.compute(k4, decoded.get(), nullptr);
    require_close(o4[0], o1[0], 0, 0);
  }
}
