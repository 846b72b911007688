#include "test_support.hpp"

#include "mixq/graph/compare.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mlir_test_ops.hpp"

using namespace mixq;

namespace {

const std::string valid =
    "#loc = loc(unknown)\n"
    "module @m attributes {module.chip = \"ALL\"} {\n"
    "  func.func @main(%arg0: tensor<2x4xf32> loc(unknown)) -> (tensor<2x4xf32>, tensor<2x2xf32>) {\n"
    "    %0 = \"top.None\"() : () -> none loc(#loc)\n"
    "    %1 = \"top.Input\"(%arg0) : (tensor<2x4xf32>) -> tensor<2x4xf32> loc(#loc1)\n"
    "    %2 = \"top.Weight\"() : () -> tensor<4xf32> loc(#loc2)\n"
    "    %3 = \"top.Add\"(%1, %2) {coeff = [1.0, 2.5e-1], do_relu = true, s = \"x\\\"y\"} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32> loc(#loc3)\n"
    "    %4:2 = \"top.Split\"(%3) {axis = 1 : i64, num = 2 : i64} : (tensor<2x4xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>) loc(#loc6)\n"
    "    %5 = \"top.Relu\"(%4#1) {relu_limit = 0x7FF0000000000000 : f64} : (tensor<2x2xf32>) -> tensor<2x2xf32> loc(\"r\"(\"a.py\":1:2))\n"
    "    return %3, %5 : tensor<2x4xf32>, tensor<2x2xf32> loc(#loc)\n"
    "  } loc(#loc)\n"
    "} loc(#loc)\n"
    "#loc1 = loc(\"x\")\n"
    "#loc2 = loc(\"w\")\n"
    "#loc3 = loc(\"sum\")\n"
    "#loc4 = loc(\"p\")\n"
    "#loc5 = loc(\"q\")\n"
    "#loc6 = loc(fused[#loc4, #loc5])\n";

struct bad_case {
  const char* what;
  std::string from, to;       // replace the first `from` in `valid` by `to`
  const char* message;        // expected in what()
  std::size_t line;           // expected line
};

std::string replaced(const std::string& from, const std::string& to) {
  std::string s = valid;
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST_CASE("the error test file itself is valid", "[mlir]") {
  const graph g = parse_mlir(valid, "v.mlir", mlirio_test::test_ops());
  CHECK(g.nodes.size() == 6);
  CHECK(g.values[static_cast<std::size_t>(g.nodes[4].results[1])].name == "q");
  CHECK(g.node_name(5) == "r");
}

TEST_CASE("malformed files give parse_error with file:line:col and a clear message", "[mlir]") {
  const std::vector<bad_case> cases{
      {"unknown op", "\"top.Relu\"", "\"top.Frobnicate\"", "unknown op 'top.Frobnicate'", 9},
      {"undefined value", "\"top.Relu\"(%4#1)", "\"top.Relu\"(%9)", "use of undefined value %9", 9},
      {"use before definition", "\"top.Add\"(%1, %2)", "\"top.Add\"(%1, %5)", "%5 is used before it is defined", 7},
      {"result index out of range", "(%4#1)", "(%4#2)", "has 2 results, #2 does not exist", 9},
      {"wrong operand count", "\"top.Input\"(%arg0) : (tensor<2x4xf32>)", "\"top.Input\"(%arg0, %arg0) : (tensor<2x4xf32>, tensor<2x4xf32>)",
       "takes 1 operands, got 2", 5},
      {"bad attribute kind", "do_relu = true", "do_relu = \"yes\"", "attribute 'do_relu': expected bool, found string", 7},
      {"missing required attribute", "{axis = 1 : i64, num = 2 : i64}", "{axis = 1 : i64}", "required attribute 'num' is missing", 8},
      {"operand type mismatch", "(tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>", "(tensor<2x4xf32>, tensor<5xf32>) -> tensor<2x4xf32>",
       "operand 1 is tensor<4xf32> but the signature says tensor<5xf32>", 7},
      {"result count mismatch", "%4:2 = ", "%4:3 = ", "defines 3 results but its type has 2", 8},
      {"return type mismatch", "return %3, %5 : tensor<2x4xf32>, tensor<2x2xf32>", "return %3, %5 : tensor<2x4xf32>, tensor<2x4xf32>",
       "operand 1 is tensor<2x2xf32>", 10},
      {"return vs function results", "return %3, %5 : tensor<2x4xf32>, tensor<2x2xf32>", "return %3 : tensor<2x4xf32>",
       "returns 1 values but declares 2 results", 10},
      {"missing loc alias", "#loc1 = loc(\"x\")\n", "", "location alias #loc1 is not defined", 5},
      {"alias cycle", "#loc1 = loc(\"x\")", "#loc1 = loc(#loc7)\n#loc7 = loc(#loc1)", "location aliases form a cycle", 13},
      {"unterminated string", "s = \"x\\\"y\"}", "s = \"x\\\"y}", "unterminated string literal", 7},
      {"dynamic shape", "tensor<2x4xf32> loc(unknown)", "tensor<?x4xf32> loc(unknown)", "dynamic shapes are not supported", 3},
      {"unsupported element type", "tensor<4xf32> loc(#loc2)", "tensor<4xcomplex<f32>> loc(#loc2)", "unsupported tensor element type", 6},
      {"value defined twice", "%2 = \"top.Weight\"", "%1 = \"top.Weight\"", "value %1 is defined twice", 6},
      {"fused names vs results", "#loc6 = loc(fused[#loc4, #loc5])", "#loc6 = loc(fused[#loc4, #loc5, #loc4])", "3 names for an op with 2 results", 8},
      {"duplicate attribute", "do_relu = true", "do_relu = true, do_relu = false", "attribute 'do_relu' appears twice", 7},
      {"integer overflow", "axis = 1 : i64", "axis = 99999999999999999999 : i64", "does not fit in 64 bits", 8},
      {"no return", "    return %3, %5 : tensor<2x4xf32>, tensor<2x2xf32> loc(#loc)\n", "", "no 'return'", 10},
      {"second module", "#loc1 = loc(\"x\")", "module {\n}\n#loc1 = loc(\"x\")", "a second module", 13},
      {"garbage after return", "loc(#loc)\n  } loc(#loc)\n} loc(#loc)", "loc(#loc)\n    %9 = \"top.None\"() : () -> none\n  } loc(#loc)\n} loc(#loc)",
       "expected '}' after 'return'", 11},
      {"float literal with int type", "relu_limit = 0x7FF0000000000000 : f64", "relu_limit = 1.5 : i32", "a float literal needs a float type", 9},
      {"hex too wide", "relu_limit = 0x7FF0000000000000 : f64", "relu_limit = 0x7FF0000000000000 : f32", "too wide for f32", 9},
      {"unbalanced dialect attribute", "do_relu = true", "do_relu = true, r = #tpu<x]", "unbalanced ']'", 7},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string text = replaced(c.from, c.to);
    try {
      (void)parse_mlir(text, "bad.mlir", mlirio_test::test_ops());
      FAIL("no error for: " << c.what);
    } catch (const parse_error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.rfind("bad.mlir:" + std::to_string(c.line) + ":", 0) == 0);
      CHECK(msg.find(c.message) != std::string::npos);
      CHECK(e.file() == "bad.mlir");
      CHECK(e.line() == c.line);
    }
  }
}

TEST_CASE("an op the registry does not know is an error naming op, file and line", "[mlir]") {
  CHECK_THROWS_WITH(parse_mlir(replaced("\"top.Relu\"", "\"top.NoSuchOp\""), "net.mlir", mlirio_test::test_ops()),
                    Catch::Equals("net.mlir:9:10: unknown op 'top.NoSuchOp'"));
}

TEST_CASE("every truncation of a valid file is an error, never a crash", "[mlir]") {
  const std::size_t complete = valid.find_last_not_of('\n') + 1;
  for (std::size_t n = 0; n < complete; ++n) {
    INFO("prefix of " << n << " chars");
    CHECK_THROWS_AS(parse_mlir(std::string_view(valid).substr(0, n), "t.mlir", mlirio_test::test_ops()), error);
  }
  CHECK_NOTHROW(parse_mlir(std::string_view(valid).substr(0, complete), "t.mlir", mlirio_test::test_ops()));
}

TEST_CASE("random bytes and random edits never crash the reader", "[mlir]") {
  std::mt19937 gen(99);
  auto try_parse = [](const std::string& text) {
    try {
      const graph g = parse_mlir(text, "fuzz.mlir", mlirio_test::test_ops());
      (void)print_mlir(g);
    } catch (const error&) {
      // expected: anything else (std::exception, crash) fails the test
    }
  };
  const std::string alphabet = "%#@!\"(){}[]<>:=,-.x0123456789 \n\\^abcdefloctensorf32module";
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<std::size_t>(gen() % 200), ' ');
    for (char& ch : s) ch = i % 2 ? static_cast<char>(gen() % 256) : alphabet[gen() % alphabet.size()];
    try_parse(s);
  }
  for (int i = 0; i < 3000; ++i) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(gen() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = gen() % s.size();
      switch (gen() % 3) {
        case 0: s[at] = alphabet[gen() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + gen() % 8); break;
        default: s.insert(at, 1, alphabet[gen() % alphabet.size()]); break;
      }
      if (s.empty()) s = "x";
    }
    try_parse(s);
  }
  try_parse(std::string(100000, '['));
  std::string deep_array = "#a = ";
  deep_array.append(100000, '[');
  try_parse(deep_array);
  try_parse(valid.substr(0, valid.find("#loc1")) + "#loc1 = loc(" + std::string(50000, '"') + ")");
  try_parse(valid.substr(0, valid.find("#loc1")) + "#loc1 = loc(" + std::string(3000, 'f') + ")");
  std::string deep_fused = "#loc1 = loc(";
  for (int i = 0; i < 5000; ++i) deep_fused += "fused[";
  try_parse(valid.substr(0, valid.find("#loc1")) + deep_fused);
  SUCCEED();
}
