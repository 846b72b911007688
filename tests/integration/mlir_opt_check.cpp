// Checks mixq's .mlir reader and writer against the real MLIR parser (mlir-opt, Debian mlir-19-tools):
//  - every .mlir under the data folder, and every file mixq prints, is accepted by
//    `mlir-opt --allow-unregistered-dialect`;
//  - mlir-opt's own re-printing, generic (`--mlir-print-op-generic`) and custom, both with
//    `--mlir-print-debuginfo`, reads back as an equivalent graph.
// Usage: mixq_mlir_opt_check <mlir-opt or ""> <data dir> <work dir>. Exit 77 (skipped) without mlir-opt.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "mixq/graph/compare.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mlir_test_ops.hpp"

namespace fs = std::filesystem;
using namespace mixq;

namespace {

int failures = 0;

void fail(const std::string& what) {
  ++failures;
  std::cerr << "FAIL: " << what << "\n";
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs mlir-opt on `in` writing `out`; returns false (and reports mlir-opt's complaint) on failure.
bool run_mlir_opt(const std::string& mlir_opt, const fs::path& in, const fs::path& out, const std::string& flags) {
  const fs::path err = out.string() + ".stderr";
  const std::string cmd = quoted(mlir_opt) + " --allow-unregistered-dialect " + flags + " " + quoted(in.string()) +
                          " -o " + quoted(out.string()) + " 2> " + quoted(err.string());
  if (std::system(cmd.c_str()) != 0) {
    fail("mlir-opt " + flags + " rejects " + in.string() + ":\n" + read_text(err));
    return false;
  }
  return true;
}

/// The registry a file needs: the real one, or the test stand-ins for ops not written yet.
const top::registry* registry_for(const std::string& text) {
  for (const top::registry* r : {&top::ops(), &mlirio_test::test_ops()}) {
    try {
      (void)parse_mlir(text, "<probe>", *r);
      return r;
    } catch (const parse_error& e) {
      if (std::string(e.what()).find("unknown op") == std::string::npos) return r;  // a real error: report it below
    }
  }
  return nullptr;
}

/// `g` printed, fed to mlir-opt in both output forms, read back: all must be equivalent to `g`.
void check_graph(const std::string& mlir_opt, const graph& g, const top::registry& ops, const fs::path& work,
                 const std::string& label) {
  const fs::path printed = work / (label + ".printed.mlir");
  write_mlir(g, printed.string());
  struct form {
    const char* suffix;
    const char* flags;
  };
  for (const form f : {form{".generic.mlir", "--mlir-print-op-generic --mlir-print-debuginfo"},
                       form{".custom.mlir", "--mlir-print-debuginfo"}}) {
    const fs::path out = work / (label + f.suffix);
    if (!run_mlir_opt(mlir_opt, printed, out, f.flags)) continue;
    try {
      const graph back = read_mlir(out.string(), ops);
      std::string why;
      if (!equivalent(g, back, &why)) fail(label + ": mlir-opt's " + f.flags + " output differs: " + why);
    } catch (const error& e) {
      fail(label + ": cannot read mlir-opt's output " + out.string() + ": " + e.what());
    }
  }
}

/// Graphs with the awkward corners of the format: escapes, NaN/inf, f32 and f16 attributes, quantized types,
/// scalars, unit and quoted attribute names, dialect attributes, legacy module form, multi-result ops.
std::vector<std::pair<std::string, graph>> built_graphs() {
  std::vector<std::pair<std::string, graph>> out;
  {
    graph g;
    g.name = "odd-name.v1";
    g.module_attributes.set("module.chip", std::string("ALL"));
    g.module_attributes.set("module.note", std::string("tab\there \"quoted\" back\\slash \xce\xbb"));
    g.module_attributes.set("module.nan", float_attr{std::numeric_limits<double>::quiet_NaN(), "f64"});
    g.module_attributes.set("module.ninf", float_attr{-std::numeric_limits<double>::infinity(), "f32"});
    g.module_attributes.set("module.third", float_attr{1.0 / 3.0, "f64"});
    g.module_attributes.set("module.f32", float_attr{static_cast<double>(0.1f), "f32"});
    g.module_attributes.set("module.f16", float_attr{0.5, "f16"});
    g.module_attributes.set("module.bf16", float_attr{-2.5, "bf16"});
    g.module_attributes.set("module.tiny", float_attr{5e-324, "f64"});
    g.module_attributes.set("module.si", int_attr{-7, "si32"});
    g.module_attributes.set("module.ui", int_attr{255, "ui8"});
    g.module_attributes.set("module.min", int_attr{std::numeric_limits<std::int64_t>::min(), "i64"});
    g.module_attributes.set("module.flag", unit_attr{});
    g.module_attributes.set("module.arr", attr_array{int_attr{1}, float_attr{2.0}, attr_array{std::string("x"), true},
                                                     int_attr{3, "i32"}, float_attr{1.5, "f32"}});
    g.module_attributes.set("module.round", opaque_attr{"#tpu<round_mode HalfAwayFromZero>"});
    g.module_attributes.set("module.dense", opaque_attr{"dense<[1, 2]> : tensor<2xi64>"});
    g.add<top::none_op>({}, {tensor_type::none()}, {""});
    const int a0 = g.add_argument({dtype::f32, {}});
    const int a1 = g.add_argument({dtype::f32, {2, 3}, "!quant.calibrated<f32<-1.500000e+00:2.250000e+00>>"});
    const int a2 = g.add_argument({dtype::i64, {4}});
    const int i0 = g.add<top::input_op>({a0}, {{dtype::f32, {}}}, {"scalar in"});
    const int i1 = g.add<top::input_op>({a1}, {{dtype::f32, {2, 3}, "!quant.calibrated<f32<-1.500000e+00:2.250000e+00>>"}}, {"q\"in"});
    const int i2 = g.add<top::input_op>({a2}, {{dtype::i64, {4}}}, {"ids"});
    const int w = g.add<top::weight_op>({}, {{dtype::i8, {3}, "!quant.uniform<i8:f32, 1.000000e-01:3>"}}, {"w/0"});
    const int add = g.add<top::add_op>({g.nodes[static_cast<std::size_t>(i1)].results[0], g.nodes[static_cast<std::size_t>(w)].results[0]},
                                       {{dtype::f32, {2, 3}}}, {"sum"});
    g.nodes[static_cast<std::size_t>(add)].attrs.set("round_mode", opaque_attr{"#tpu<round_mode HalfAwayFromZero>"});
    top::relu_op::attributes r;
    r.relu_limit = 6.0;
    const int relu = g.add<top::relu_op>({g.nodes[static_cast<std::size_t>(i0)].results[0]}, {{dtype::f32, {}}}, {"relu"}, r);
    g.nodes[static_cast<std::size_t>(relu)].attrs.set("needs quotes", std::string("v"));
    g.outputs = {g.nodes[static_cast<std::size_t>(add)].results[0], g.nodes[static_cast<std::size_t>(relu)].results[0],
                 g.nodes[static_cast<std::size_t>(i2)].results[0]};
    out.emplace_back("built_corners", std::move(g));
  }
  {
    graph g;
    g.legacy_module_form = true;
    g.name = "legacy";
    g.module_attributes.set("module.name", std::string("legacy"));
    g.module_attributes.set("module.FLOPs", int_attr{123, "i64"});
    const int a = g.add_argument({dtype::f32, {1, 4}});
    const int in = g.add<top::input_op>({a}, {{dtype::f32, {1, 4}}}, {"x"});
    g.outputs = {g.nodes[static_cast<std::size_t>(in)].results[0]};
    out.emplace_back("built_legacy", std::move(g));
  }
  return out;
}

graph built_multi_result() {
  const auto& ops = mlirio_test::test_ops();
  graph g;
  g.name = "multi";
  const int a = g.add_argument({dtype::f32, {1, 4}});
  const int none = g.add_node(ops.at("top.None"), {}, {tensor_type::none()}, {""});
  const int in = g.add_node(ops.at("top.Input"), {a}, {{dtype::f32, {1, 4}}}, {"x"});
  attr_dict split_attrs;
  split_attrs.set("axis", int_attr{1});
  split_attrs.set("num", int_attr{2});
  const int split = g.add_node(ops.at("top.Split"), {g.nodes[static_cast<std::size_t>(in)].results[0]},
                               {{dtype::f32, {1, 2}}, {dtype::f32, {1, 2}}}, {"left", "right"}, split_attrs);
  const int w = g.add_node(ops.at("top.Weight"), {}, {{dtype::f32, {2, 2, 1, 1}}}, {"filter"});
  attr_dict conv_attrs;
  conv_attrs.set("kernel_shape", attr_array{int_attr{1}, int_attr{1}});
  const int conv = g.add_node(ops.at("top.Conv"),
                              {g.nodes[static_cast<std::size_t>(split)].results[1], g.nodes[static_cast<std::size_t>(w)].results[0],
                               g.nodes[static_cast<std::size_t>(none)].results[0]},
                              {{dtype::f32, {1, 2}}}, {"conv"}, conv_attrs);
  g.add_node(ops.at("test.Sink"), {g.nodes[static_cast<std::size_t>(conv)].results[0]}, {}, {});
  g.outputs = {g.nodes[static_cast<std::size_t>(split)].results[0], g.nodes[static_cast<std::size_t>(conv)].results[0]};
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: mixq_mlir_opt_check <mlir-opt> <data dir> <work dir>\n";
    return 2;
  }
  const std::string mlir_opt = argv[1];
  if (mlir_opt.empty() || mlir_opt.find("NOTFOUND") != std::string::npos || !fs::exists(mlir_opt)) {
    std::cout << "mlir-opt not found (Debian package mlir-19-tools): skipping the mlir-opt round trips\n";
    return 77;
  }
  const fs::path data = argv[2], work = argv[3];
  fs::create_directories(work);
  int files = 0;

  std::vector<fs::path> inputs;
  for (const auto& e : fs::recursive_directory_iterator(data))
    if (e.is_regular_file() && e.path().extension() == ".mlir") inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& file : inputs) {
    ++files;
    const std::string label = fs::relative(file, data).string();
    std::string flat = label;
    for (char& c : flat)
      if (c == '/') c = '_';
    if (!run_mlir_opt(mlir_opt, file, work / (flat + ".accepted.mlir"), "")) continue;
    const std::string text = read_text(file);
    const top::registry* ops = registry_for(text);
    if (!ops) {
      std::cout << "note: " << label << " uses ops neither registry knows; only mlir-opt's acceptance was checked\n";
      continue;
    }
    try {
      const graph g = parse_mlir(text, file.string(), *ops);
      // mlir-opt's re-printing of the original file must read as the same graph...
      const fs::path generic = work / (flat + ".orig-generic.mlir");
      if (run_mlir_opt(mlir_opt, file, generic, "--mlir-print-op-generic --mlir-print-debuginfo")) {
        std::string why;
        if (!equivalent(g, read_mlir(generic.string(), *ops), &why)) fail(label + ": mlir-opt's generic form differs: " + why);
      }
      // ...and so must its re-printing of what mixq prints.
      check_graph(mlir_opt, g, *ops, work, flat);
    } catch (const error& e) {
      fail(label + ": " + e.what());
    }
  }
  for (const auto& [label, g] : built_graphs()) {
    ++files;
    check_graph(mlir_opt, g, top::ops(), work, label);
  }
  ++files;
  check_graph(mlir_opt, built_multi_result(), mlirio_test::test_ops(), work, "built_multi_result");

  std::cout << files << " modules checked against " << mlir_opt << ", " << failures << " failures\n";
  return failures == 0 ? 0 : 1;
}
