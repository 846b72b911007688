#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "mixq/graph/compare.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mlir_test_ops.hpp"

using namespace mixq;
using mlirio_test::test_ops;

namespace {

std::string data_path(const std::string& name) { return std::string(MIXQ_TEST_DATA_DIR) + "/mlir/" + name; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const value_info& value_named(const graph& g, const std::string& name) {
  const int v = g.find_value(name);
  INFO("value " << name);
  REQUIRE(v >= 0);
  return g.values[static_cast<std::size_t>(v)];
}

/// print(parse(x)) is a fixed point and parse(print(g)) is equivalent to g.
void require_round_trip(const graph& g, const top::registry& ops = top::ops()) {
  const std::string once = print_mlir(g);
  INFO(once);
  const graph again = parse_mlir(once, "<printed>", ops);
  std::string why;
  const bool same = equivalent(g, again, &why);
  INFO(why);
  CHECK(same);
  CHECK(print_mlir(again) == once);
}

/// A module around one function body, with aliases after it.
std::string wrap(const std::string& args, const std::string& results, const std::string& body,
                 const std::string& aliases = "") {
  return "#loc = loc(unknown)\nmodule @m {\n  func.func @main(" + args + ")" + results + " {\n" + body +
         "  } loc(#loc)\n} loc(#loc)\n" + aliases;
}

const std::string small_body =
    "    %0 = \"top.None\"() : () -> none loc(#loc)\n"
    "    %1 = \"top.Input\"(%arg0) : (tensor<2x4xf32>) -> tensor<2x4xf32> loc(#loc1)\n"
    "    %2 = \"top.Relu\"(%1) {relu_limit = 6.000000e+00 : f64} : (tensor<2x4xf32>) -> tensor<2x4xf32> loc(#loc2)\n"
    "    return %2 : tensor<2x4xf32> loc(#loc)\n";
const std::string small_file = wrap("%arg0: tensor<2x4xf32> loc(unknown)", " -> tensor<2x4xf32>", small_body,
                                    "#loc1 = loc(\"x\")\n#loc2 = loc(\"y_Relu\")\n");

}  // namespace

TEST_CASE("reads a TPU-MLIR top module: module, arguments, ops, names, outputs", "[mlir]") {
  const graph g = read_mlir(data_path("add_relu.mlir"));
  CHECK(g.name == "add_relu");
  CHECK_FALSE(g.legacy_module_form);
  CHECK(g.function_name == "main");
  CHECK(g.weights.empty());
  REQUIRE(g.module_attributes.size() == 5);
  CHECK(*g.module_attributes.find("module.state")->get_if<std::string>() == "TOP_F32");
  CHECK(g.weight_file() == "add_relu_top_f32_all_weight.npz");
  REQUIRE(g.arguments.size() == 1);
  CHECK(g.values[static_cast<std::size_t>(g.arguments[0])].type == tensor_type(dtype::f32, {1, 3, 8, 8}));
  CHECK(g.values[static_cast<std::size_t>(g.arguments[0])].name.empty());
  REQUIRE(g.nodes.size() == 6);
  CHECK(g.nodes[0].is<top::none_op>());
  CHECK(g.values[static_cast<std::size_t>(g.nodes[0].results[0])].type.is_none);
  CHECK(g.node_name(1) == "images");
  CHECK(g.nodes[1].attributes<top::input_op>().pixel_format->value == "rgb");
  CHECK(g.nodes[1].attributes<top::input_op>().resize_dims == std::vector<std::int64_t>{8, 8});
  CHECK(value_named(g, "bias.weight").type == tensor_type(dtype::f32, {1, 3, 1, 1}));
  const int add = g.find_node("/model/Add_output_0_Add");
  REQUIRE(add == 3);
  CHECK(g.nodes[3].operands == std::vector<int>{g.nodes[1].results[0], g.nodes[2].results[0]});
  CHECK(g.nodes[4].attributes<top::relu_op>().relu_limit == 6.0);
  CHECK(g.nodes[5].attributes<top::add_op>().coeff == std::vector<double>{1.0, -0.5});
  REQUIRE(g.outputs.size() == 2);
  CHECK(g.values[static_cast<std::size_t>(g.outputs[0])].name == "/model/Relu_output_0_Relu");
  CHECK(g.values[static_cast<std::size_t>(g.outputs[1])].name == "output_Add");
  g.verify(false);
}

TEST_CASE("prints a canonical module byte for byte as read", "[mlir]") {
  for (const char* name : {"add_relu.mlir", "legacy_calibrated.mlir"}) {
    INFO(name);
    const std::string text = read_text(data_path(name));
    CHECK(print_mlir(parse_mlir(text)) == text);
  }
}

TEST_CASE("legacy module form keeps module.name and its attributes in order", "[mlir]") {
  const graph g = read_mlir(data_path("legacy_calibrated.mlir"));
  CHECK(g.legacy_module_form);
  CHECK(g.name == "legacy_net");
  CHECK(*g.module_attributes.find("module.FLOPs") == attribute(int_attr{1536, "i64"}));
  const std::string printed = print_mlir(g);
  CHECK(printed.find("module attributes {module.FLOPs = 1536 : i64, module.chip = \"ALL\", module.name = \"legacy_net\"") !=
        std::string::npos);
  require_round_trip(g);
}

TEST_CASE("quantized element types are kept verbatim with their expressed type", "[mlir]") {
  const graph g = read_mlir(data_path("legacy_calibrated.mlir"));
  const value_info& sum = value_named(g, "sum_Add");
  CHECK(sum.type.elem == dtype::f32);
  CHECK(sum.type.shape == shape_t{4, 16});
  CHECK(sum.type.quant == "!quant.calibrated<f32<-1.025830e+02:9.768119e+01>>");
  const std::string uniform = wrap(
      "%arg0: tensor<2x!quant.uniform<i8:f32, 0.0123:5>> loc(unknown), "
      "%arg1: tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.1,0.2,0.3}>> loc(unknown), "
      "%arg2: tensor<1x!quant.uniform<u8:bf16, 1.0>> loc(unknown)",
      "", "    return loc(#loc)\n");
  const graph q = parse_mlir(uniform);
  // A uniform tensor holds its storage integers; a calibrated one holds floats.
  CHECK(q.values[0].type.quant == "!quant.uniform<i8:f32, 0.0123:5>");
  CHECK(q.values[0].type.elem == dtype::i8);
  CHECK(q.values[1].type.quant == "!quant.uniform<i8<-127:127>:f32:0, {0.1,0.2,0.3}>");
  CHECK(q.values[1].type.elem == dtype::i8);
  CHECK(q.values[2].type.elem == dtype::u8);
  CHECK(print_mlir(q).find("%arg1: tensor<3x!quant.uniform<i8<-127:127>:f32:0, {0.1,0.2,0.3}>> loc(unknown)") !=
        std::string::npos);
  require_round_trip(q);
}

TEST_CASE("element types and scalar tensors", "[mlir]") {
  const std::string text = wrap(
      "%arg0: tensor<f32> loc(unknown), %arg1: tensor<2xi1> loc(unknown), %arg2: tensor<3xui8> loc(unknown), "
      "%arg3: tensor<4xbf16> loc(unknown), %arg4: tensor<5xf16> loc(unknown), %arg5: tensor<6xi64> loc(unknown), "
      "%arg6: tensor<7xsi32> loc(unknown), %arg7: tensor<1x0x2xf64> loc(unknown)",
      "", "    return loc(#loc)\n");
  const graph g = parse_mlir(text);
  const std::vector<tensor_type> want{{dtype::f32, {}},    {dtype::boolean, {2}}, {dtype::u8, {3}},
                                      {dtype::bf16, {4}},  {dtype::f16, {5}},     {dtype::i64, {6}},
                                      {dtype::i32, {7}},   {dtype::f64, {1, 0, 2}}};
  REQUIRE(g.values.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(g.values[i].type == want[i]);
  CHECK(print_mlir(g).find("%arg0: tensor<f32> loc(unknown)") != std::string::npos);
  require_round_trip(g);
}

TEST_CASE("attribute kinds are decoded into mixq::attribute", "[mlir]") {
  const std::string body =
      "    %0 = \"top.Relu\"(%arg0) {arr = [1, -2, [3, 4]], b = true, bf = false, d = dense<[1, 2]> : tensor<2xi64>, "
      "f = -1.0 : f32, fa = [1.5, 2.5 : f32, 0x7FF0000000000000], h = 0x3C00 : f16, i = 2 : si32, inf = 0x7F800000 : f32, "
      "m.dotted = 0 : i64, nan = 0x7FF8000000000000 : f64, one = 1 : i1, r = #tpu<round_mode HalfAwayFromZero>, "
      "relu_limit = 6.5 : f64, s = \"a\\\"b\\\\c\\0A\\22\", sym = @other::@inner, t = tensor<2xf32>, u = 3 : ui8, "
      "unit_flag, \"quoted name\" = 7 : i64, ft = (i32) -> f32, big = -9223372036854775808 : i64, e = 1.5e3 : f64, "
      "aff = affine_map<(d0) -> (d0)>, unit2 = unit, ws = #tpu< a , b >} "
      ": (tensor<2xf32>) -> tensor<2xf32> loc(#loc)\n"
      "    return %0 : tensor<2xf32> loc(#loc)\n";
  const graph g = parse_mlir(wrap("%arg0: tensor<2xf32> loc(unknown)", " -> tensor<2xf32>", body));
  const attr_dict& a = g.nodes.at(0).attrs;
  auto at = [&](const char* k) -> const attribute& {
    INFO(k);
    REQUIRE(a.find(k));
    return *a.find(k);
  };
  CHECK(at("arr") == attribute(attr_array{int_attr{1}, int_attr{-2}, attr_array{int_attr{3}, int_attr{4}}}));
  CHECK(at("b") == attribute(true));
  CHECK(at("bf") == attribute(false));
  CHECK(at("d") == attribute(opaque_attr{"dense<[1, 2]> : tensor<2xi64>"}));
  CHECK(at("f") == attribute(float_attr{-1.0, "f32"}));
  const auto& fa = *at("fa").get_if<attr_array>();
  CHECK(fa[0] == attribute(float_attr{1.5, "f64"}));
  CHECK(fa[1] == attribute(float_attr{2.5, "f32"}));
  CHECK(fa[2] == attribute(int_attr{0x7FF0000000000000, "i64"}));  // untyped hex: an integer
  CHECK(at("h") == attribute(float_attr{1.0, "f16"}));
  CHECK(at("i") == attribute(int_attr{2, "si32"}));
  CHECK(std::isinf(at("inf").get_if<float_attr>()->value));
  CHECK(at("inf").get_if<float_attr>()->type == "f32");
  CHECK(at("m.dotted") == attribute(int_attr{0, "i64"}));
  CHECK(std::isnan(at("nan").get_if<float_attr>()->value));
  CHECK(at("one") == attribute(true));
  CHECK(at("r") == attribute(opaque_attr{"#tpu<round_mode HalfAwayFromZero>"}));
  CHECK(at("s") == attribute(std::string("a\"b\\c\n\"")));
  CHECK(at("sym") == attribute(opaque_attr{"@other::@inner"}));
  CHECK(at("t") == attribute(opaque_attr{"tensor<2xf32>"}));
  CHECK(at("u") == attribute(int_attr{3, "ui8"}));
  CHECK(at("unit_flag").is<unit_attr>());
  CHECK(at("unit2").is<unit_attr>());
  CHECK(at("quoted name") == attribute(int_attr{7, "i64"}));
  CHECK(at("ft") == attribute(opaque_attr{"(i32) -> f32"}));
  CHECK(at("big") == attribute(int_attr{INT64_MIN, "i64"}));
  CHECK(at("e") == attribute(float_attr{1500.0, "f64"}));
  CHECK(at("aff") == attribute(opaque_attr{"affine_map<(d0) -> (d0)>"}));
  CHECK(at("ws") == attribute(opaque_attr{"#tpu< a , b >"}));
  CHECK(g.nodes[0].attributes<top::relu_op>().relu_limit == 6.5);

  const std::string printed = print_mlir(g);
  for (const char* piece :
       {"arr = [1, -2, [3, 4]]", "b = true", "f = -1.000000e+00 : f32", "fa = [1.500000e+00, 2.500000e+00 : f32, 9218868437227405312]",
        "h = 1.000000e+00 : f16", "i = 2 : si32", "inf = 0x7F800000 : f32", "nan = 0x7FF8000000000000 : f64",
        "one = true", "relu_limit = 6.500000e+00 : f64", "s = \"a\\22b\\\\c\\0A\\22\"", "u = 3 : ui8",
        "unit2, unit_flag, ", "\"quoted name\" = 7 : i64", "big = -9223372036854775808 : i64",
        "m.dotted = 0 : i64", "e = 1.500000e+03 : f64"}) {
    INFO(piece);
    CHECK(printed.find(piece) != std::string::npos);
  }
  require_round_trip(g);
}

TEST_CASE("attribute aliases defined before the module are substituted", "[mlir]") {
  const std::string text = "#map = affine_map<(d0) -> (d0)>\n#lims = [1, 2]\n" +
                           wrap("%arg0: tensor<2xf32> loc(unknown)", " -> tensor<2xf32>",
                                "    %0 = \"top.Relu\"(%arg0) {a = #lims, m = #map} : (tensor<2xf32>) -> tensor<2xf32> loc(#loc)\n"
                                "    return %0 : tensor<2xf32> loc(#loc)\n");
  const graph g = parse_mlir(text);
  CHECK(*g.nodes[0].attrs.find("a") == attribute(attr_array{int_attr{1}, int_attr{2}}));
  CHECK(*g.nodes[0].attrs.find("m") == attribute(opaque_attr{"affine_map<(d0) -> (d0)>"}));
}

TEST_CASE("floats print like MLIR: %.6e when exact, else shortest round-trip with a dot, hex for NaN/inf", "[mlir]") {
  auto spell = [](double v, const char* type) {
    std::string s;
    detail::append_float(s, v, type);
    return s;
  };
  CHECK(spell(1.0, "f64") == "1.000000e+00");
  CHECK(spell(-0.5, "f64") == "-5.000000e-01");
  CHECK(spell(0.0, "f64") == "0.000000e+00");
  CHECK(spell(-0.0, "f64") == "-0.000000e+00");
  CHECK(spell(0.1, "f64") == "1.000000e-01");
  CHECK(spell(static_cast<double>(0.1f), "f32") == "1.000000e-01");
  CHECK(spell(0.0039215686274509803, "f64") == "0.00392156862745098");
  CHECK(spell(1e300 * 1.2345678901, "f64").find('.') != std::string::npos);
  CHECK(spell(123456789.0, "f64") == "123456789.0");
  CHECK(spell(1e23, "f64") == "1.000000e+23");
  CHECK(spell(std::numeric_limits<double>::quiet_NaN(), "f64") == "0x7FF8000000000000");
  CHECK(spell(std::numeric_limits<double>::infinity(), "f32") == "0x7F800000");
  CHECK(spell(-std::numeric_limits<double>::infinity(), "f32") == "0xFF800000");
  CHECK(spell(std::numeric_limits<double>::infinity(), "f16") == "0x7C00");
  CHECK(spell(1e39, "f32") == "0x7F800000");  // overflows f32
}

TEST_CASE("random floats survive print and parse at their type's precision", "[mlir]") {
  std::mt19937_64 gen(7);
  for (int i = 0; i < 3000; ++i) {
    const char* type = i % 4 == 0 ? "f32" : i % 4 == 1 ? "f16" : i % 4 == 2 ? "bf16" : "f64";
    double v;
    if (i % 3 == 0) v = std::bit_cast<double>(gen());
    else v = std::ldexp(std::uniform_real_distribution<double>(-1, 1)(gen), static_cast<int>(gen() % 80) - 40);
    v = detail::round_to_float_type(v, type);
    graph g;
    g.module_attributes.set("module.v", float_attr{v, type});
    g.name = "m";
    const graph back = parse_mlir(print_mlir(g));
    const float_attr got = *back.module_attributes.find("module.v")->get_if<float_attr>();
    INFO(print_mlir(g));
    CHECK(got.type == type);
    if (v == v) CHECK(std::bit_cast<std::uint64_t>(got.value) == std::bit_cast<std::uint64_t>(v));
    else CHECK(got.value != got.value);
  }
}

TEST_CASE("locations: aliases anywhere, inline names, NameLoc children, FileLineCol, callsite", "[mlir]") {
  const std::string body =
      "    %0 = \"top.Input\"(%arg0) : (tensor<2xf32>) -> tensor<2xf32> loc(\"inline\")\n"
      "    %1 = \"top.Relu\"(%0) : (tensor<2xf32>) -> tensor<2xf32> loc(#early)\n"
      "    %2 = \"top.Relu\"(%1) : (tensor<2xf32>) -> tensor<2xf32> loc(#loc3)\n"
      "    %3 = \"top.Relu\"(%2) : (tensor<2xf32>) -> tensor<2xf32> loc(\"f.py\":3:4)\n"
      "    %4 = \"top.Relu\"(%3) : (tensor<2xf32>) -> tensor<2xf32> loc(callsite(\"callee\" at \"f.py\":1:2))\n"
      "    %5 = \"top.Relu\"(%4) : (tensor<2xf32>) -> tensor<2xf32> loc(#chain)\n"
      "    %6 = \"top.Relu\"(%5) : (tensor<2xf32>) -> tensor<2xf32> loc(fused[\"first\", \"second\"])\n"
      "    %7 = \"top.Relu\"(%6) : (tensor<2xf32>) -> tensor<2xf32>\n"
      "    return %7 : tensor<2xf32> loc(#loc)\n";
  const std::string text = "#early = loc(\"early_name\")\n" +
                           wrap("%arg0: tensor<2xf32> loc(\"arg_name\")", " -> tensor<2xf32>", body,
                                "#loc2 = loc(\"src.py\":10:2)\n#loc3 = loc(\"with_child\"(#loc2))\n#chain = loc(#loc3)\n");
  const graph g = parse_mlir(text);
  CHECK(g.values[0].name == "arg_name");
  CHECK(g.node_name(0) == "inline");
  CHECK(g.node_name(1) == "early_name");
  CHECK(g.node_name(2) == "with_child");
  CHECK(g.node_name(3).empty());
  CHECK(g.node_name(4) == "callee");
  CHECK(g.node_name(5) == "with_child");
  CHECK(g.node_name(6) == "first");  // a fused location on a one-result op: its first name
  CHECK(g.node_name(7).empty());
  require_round_trip(g);
}

TEST_CASE("multi-result ops: %N:2 definitions, %N#i uses and fused locations, one name per result", "[mlir]") {
  const std::string body =
      "    %0 = \"top.None\"() : () -> none loc(#loc)\n"
      "    %1 = \"top.Input\"(%arg0) : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc(#loc1)\n"
      "    %2:2 = \"top.Split\"(%1) {axis = 1 : i64, num = 2 : i64} : (tensor<1x4x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) loc(#loc4)\n"
      "    %3 = \"top.Weight\"() : () -> tensor<2x2x1x1xf32> loc(#loc5)\n"
      "    %4 = \"top.Conv\"(%2#1, %3, %0) {kernel_shape = [1, 1]} : (tensor<1x2x2x2xf32>, tensor<2x2x1x1xf32>, none) -> tensor<1x2x2x2xf32> loc(#loc6)\n"
      "    %5 = \"top.SiLU\"(%2#0) : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc(#loc7)\n"
      "    \"test.Sink\"(%5, %4) : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> () loc(#loc)\n"
      "    return %2#0, %4 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32> loc(#loc)\n";
  const std::string text = wrap("%arg0: tensor<1x4x2x2xf32> loc(unknown)",
                                " -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>)", body,
                                "#loc1 = loc(\"in\")\n#loc2 = loc(\"s0\")\n#loc3 = loc(\"s1\")\n"
                                "#loc4 = loc(fused[#loc2, #loc3])\n#loc5 = loc(\"w\")\n#loc6 = loc(\"c\")\n"
                                "#loc7 = loc(\"act\")\n");
  const graph g = parse_mlir(text, "<split>", test_ops());
  REQUIRE(g.nodes.size() == 7);
  REQUIRE(g.nodes[2].results.size() == 2);
  CHECK(g.values[static_cast<std::size_t>(g.nodes[2].results[0])].name == "s0");
  CHECK(g.values[static_cast<std::size_t>(g.nodes[2].results[1])].name == "s1");
  CHECK(g.nodes[4].operands == std::vector<int>{g.nodes[2].results[1], g.nodes[3].results[0], g.nodes[0].results[0]});
  CHECK(g.nodes[5].operands == std::vector<int>{g.nodes[2].results[0]});
  CHECK(g.nodes[6].results.empty());
  CHECK(g.outputs == std::vector<int>{g.nodes[2].results[0], g.nodes[4].results[0]});
  const std::string printed = print_mlir(g);
  CHECK(printed.find("%2:2 = \"top.Split\"(%1) {axis = 1 : i64, num = 2 : i64} : (tensor<1x4x2x2xf32>) -> "
                     "(tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) loc(#loc7)") != std::string::npos);
  CHECK(printed.find("\"top.Conv\"(%2#1, %3, %0)") != std::string::npos);
  CHECK(printed.find("    \"test.Sink\"(%5, %4) : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> () loc(#loc)\n") !=
        std::string::npos);
  CHECK(printed.find("#loc6 = loc(\"act\")\n#loc7 = loc(fused[#loc2, #loc3])\n") != std::string::npos);
  CHECK(printed.find("return %2#0, %4 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32> loc(#loc)") != std::string::npos);
  require_round_trip(g, test_ops());
}

TEST_CASE("a plain name on a multi-result op names every result", "[mlir]") {
  const std::string body =
      "    %0:2 = \"top.Split\"(%arg0) {axis = 0 : i64, num = 2 : i64} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>) loc(\"s\")\n"
      "    return %0#1 : tensor<2xf32> loc(#loc)\n";
  const graph g = parse_mlir(wrap("%arg0: tensor<4xf32> loc(unknown)", " -> tensor<2xf32>", body), "<x>", test_ops());
  CHECK(g.values[1].name == "s");
  CHECK(g.values[2].name == "s");
  require_round_trip(g, test_ops());
}

TEST_CASE("mlir-opt's generic form reads as the same graph", "[mlir]") {
  for (const char* name : {"add_relu", "legacy_calibrated"}) {
    INFO(name);
    const graph custom = read_mlir(data_path(std::string(name) + ".mlir"));
    const graph generic = read_mlir(data_path(std::string(name) + "_generic.mlir"));
    std::string why;
    CHECK(equivalent(custom, generic, &why));
    INFO(why);
    require_round_trip(generic);
  }
}

TEST_CASE("generic form with attributes after the region and no block label", "[mlir]") {
  const std::string text =
      "\"builtin.module\"() ({\n"
      "  \"func.func\"() ({\n"
      "    %0 = \"top.None\"() : () -> none loc(#loc)\n"
      "    \"func.return\"() : () -> () loc(#loc)\n"
      "  }) {function_type = () -> (), sym_name = \"f\"} : () -> () loc(#loc)\n"
      "}) {module.name = \"old\"} : () -> () loc(#loc)\n"
      "#loc = loc(unknown)\n";
  const graph g = parse_mlir(text);
  CHECK(g.legacy_module_form);
  CHECK(g.name == "old");
  CHECK(g.function_name == "f");
  CHECK(g.nodes.size() == 1);
  CHECK(g.outputs.empty());
  require_round_trip(g);
}

TEST_CASE("equivalent reports the first difference", "[mlir]") {
  const graph a = read_mlir(data_path("add_relu.mlir"));
  std::string why;
  CHECK(equivalent(a, a, &why));
  graph b = a;
  b.values[static_cast<std::size_t>(b.nodes[3].results[0])].name = "renamed";
  CHECK_FALSE(equivalent(a, b, &why));
  CHECK(why.find("renamed") != std::string::npos);
  b = a;
  b.nodes[4].attrs.set("relu_limit", float_attr{5.0, "f64"});
  CHECK_FALSE(equivalent(a, b, &why));
  CHECK(why.find("relu_limit") != std::string::npos);
  b = a;
  b.values[static_cast<std::size_t>(b.nodes[2].results[0])].type.shape = {3};
  CHECK_FALSE(equivalent(a, b, &why));
  CHECK(why.find("types differ") != std::string::npos);
  b = a;
  std::swap(b.nodes[3].operands[0], b.nodes[3].operands[1]);
  CHECK_FALSE(equivalent(a, b, &why));
  b = a;
  b.module_attributes.set("module.chip", std::string("bm1684x"));
  CHECK_FALSE(equivalent(a, b, &why));
  CHECK(why.find("module.chip") != std::string::npos);
  b = a;
  b.outputs.pop_back();
  CHECK_FALSE(equivalent(a, b));
  b = a;
  b.nodes[4].attrs.set("extra", opaque_attr{"dense<[1,2]>"});
  graph c = a;
  c.nodes[4].attrs.set("extra", opaque_attr{"dense<[1, 2]>"});
  CHECK(equivalent(b, c));  // whitespace inside dialect attributes does not matter
}

TEST_CASE("programmatically built graphs print and read back equivalent", "[mlir]") {
  for (int trial = 0; trial < 25; ++trial) {
    graph g;
    g.name = trial % 5 == 0 ? "needs quoting-" + std::to_string(trial) : "net" + std::to_string(trial);
    g.module_attributes.set("module.state", std::string("TOP_F32"));
    g.module_attributes.set("module.trial", int_attr{trial, "i64"});
    g.add<top::none_op>({}, {tensor_type::none()}, {""});
    const shape_t s{1, test::random_int(1, 5), test::random_int(1, 7)};
    std::vector<int> live;
    const int nargs = static_cast<int>(test::random_int(1, 3));
    for (int a = 0; a < nargs; ++a) {
      const int arg = g.add_argument({dtype::f32, s});
      const int in = g.add<top::input_op>({arg}, {{dtype::f32, s}}, {"in\"put " + std::to_string(a)});
      live.push_back(g.nodes[static_cast<std::size_t>(in)].results[0]);
    }
    const int nops = static_cast<int>(test::random_int(1, 30));
    for (int k = 0; k < nops; ++k) {
      const int x = live[static_cast<std::size_t>(test::random_int(0, static_cast<std::int64_t>(live.size()) - 1))];
      const std::string nm = k % 7 == 3 ? std::string() : "op/" + std::to_string(k) + "_X";
      int n;
      if (k % 3 == 0) {
        const int w = g.add<top::weight_op>({}, {{dtype::f32, {s[2]}}}, {"w" + std::to_string(k)});
        top::add_op::attributes at;
        at.do_relu = k % 2 == 0;
        at.coeff = std::vector<double>{1.0 / (k + 3), -0.1 * k};
        n = g.add<top::add_op>({x, g.nodes[static_cast<std::size_t>(w)].results[0]}, {{dtype::f32, s}}, {nm}, at);
      } else {
        top::relu_op::attributes at;
        at.relu_limit = k * 0.37;
        n = g.add<top::relu_op>({x}, {{dtype::f32, s}}, {nm}, at);
        if (k % 4 == 1) g.nodes[static_cast<std::size_t>(n)].attrs.set("extra", attr_array{std::string("s\n"), unit_attr{}, float_attr{static_cast<double>(0.3f), "f32"}});
      }
      live.push_back(g.nodes[static_cast<std::size_t>(n)].results[0]);
    }
    g.outputs = {live.back(), live.front()};
    require_round_trip(g);
  }
}

TEST_CASE("write_mlir writes through a temporary file, read_mlir reads it back", "[mlir]") {
  const auto dir = std::filesystem::temp_directory_path() / ("mixq_mlirio_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const graph g = read_mlir(data_path("add_relu.mlir"));
  const std::string path = (dir / "out.mlir").string();
  write_mlir(g, path);
  CHECK(read_text(path) == print_mlir(g));
  CHECK(equivalent(read_mlir(path), g));
  CHECK_THROWS_WITH(write_mlir(g, (dir / "missing" / "x.mlir").string()), Catch::Contains("missing/x.mlir"));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);  // no temporary left behind
  CHECK_THROWS_WITH(read_mlir((dir / "nope.mlir").string()), Catch::Contains("nope.mlir"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a 20k-op file parses and prints", "[mlir]") {
  std::string body = "    %0 = \"top.Input\"(%arg0) : (tensor<1x8xf32>) -> tensor<1x8xf32> loc(#loc1)\n";
  std::string aliases = "#loc1 = loc(\"in\")\n";
  const int n = 20000;
  for (int i = 1; i <= n; ++i) {
    body += "    %" + std::to_string(i) + " = \"top.Relu\"(%" + std::to_string(i - 1) +
            ") {relu_limit = -1.000000e+00 : f64} : (tensor<1x8xf32>) -> tensor<1x8xf32> loc(#loc" + std::to_string(i + 1) + ")\n";
    aliases += "#loc" + std::to_string(i + 1) + " = loc(\"r" + std::to_string(i) + "\")\n";
  }
  body += "    return %" + std::to_string(n) + " : tensor<1x8xf32> loc(#loc)\n";
  const std::string text = wrap("%arg0: tensor<1x8xf32> loc(unknown)", " -> tensor<1x8xf32>", body, aliases);
  const graph g = parse_mlir(text);
  CHECK(g.nodes.size() == static_cast<std::size_t>(n + 1));
  CHECK(g.node_name(n) == "r" + std::to_string(n));
  CHECK(print_mlir(g) == text);
}
