// ONNX backend conformance runner: imports every node test case of onnx/backend/test/data/node whose
// ops mixq is required to import, runs it through the interpreter and compares with the expected
// outputs. Usage: mixq_onnx_node_runner [NODE_DIR] [--markdown FILE] [--filter TEXT] [--min-pass-rate R]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mixq/graph/interpreter.hpp"
#include "mixq/onnx/importer.hpp"
#include "mixq/onnx/model.hpp"

namespace fs = std::filesystem;
using namespace mixq;

namespace {

constexpr int exit_skipped = 77;  // CTest SKIP_RETURN_CODE
constexpr double rel_tol = 1e-3, abs_tol = 1e-4;

const std::set<std::string>& required_ops() {
  static const std::set<std::string> ops{
      "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Concat", "Slice", "Split", "Reshape",
      "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Pad", "MaxPool", "AveragePool", "GlobalAveragePool",
      "GlobalMaxPool", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Clip", "Softmax",
      "LogSoftmax", "LayerNormalization", "BatchNormalization", "Upsample", "Resize", "ReduceMean", "ReduceMax",
      "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL2", "Gather", "DepthToSpace", "SpaceToDepth", "Tile", "Cast",
      "Where", "Shape", "Sqrt", "Pow", "Exp", "Log", "Abs", "Erf", "Neg", "Reciprocal", "Max", "Min", "Identity",
      "Dropout", "Constant", "Elu", "Selu", "Softplus", "Softsign", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
      "Expand", "InstanceNormalization", "Gelu", "Mish", "Einsum", "ArgMax", "ArgMin", "Equal", "Greater", "Less", "Not",
      "And", "Or"};
  return ops;
}

bool in_scope(const onnx::model_proto& m) {
  if (m.graph.nodes.empty()) return false;
  for (const auto& n : m.graph.nodes)
    if (!(n.domain.empty() || n.domain == "ai.onnx") || !required_ops().count(n.op_type)) return false;
  return true;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '|', '/');
  return s;
}

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return buf;
}

/// Empty when `got` matches `want`; else why not. Floats of any width are compared as f32 with
/// rtol/atol (NaN equals NaN); integers and bools must be exact.
std::string compare(const tensor& got, const tensor& want, const std::string& name) {
  if (got.shape() != want.shape())
    return "output " + name + " has shape " + to_string(got.shape()) + ", expected " + to_string(want.shape());
  const bool exact = !is_floating(want.elem());
  if (exact && is_floating(got.elem()) && got.elem() != dtype::f32)
    return "output " + name + " is " + std::string(mixq::name(got.elem())) + ", expected " + std::string(mixq::name(want.elem()));
  const tensor g = got.cast(dtype::f32).cast(dtype::f64), w = want.cast(dtype::f32).cast(dtype::f64);
  const double* gp = g.data<double>();
  const double* wp = w.data<double>();
  std::int64_t bad = 0, first = -1;
  for (std::int64_t i = 0; i < g.numel(); ++i) {
    const double a = gp[i], b = wp[i];
    bool ok;
    if (std::isnan(b) || std::isnan(a)) ok = std::isnan(a) && std::isnan(b);
    else if (std::isinf(b) || std::isinf(a)) ok = a == b;
    else ok = exact ? a == b : std::abs(a - b) <= abs_tol + rel_tol * std::abs(b);
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return {};
  return "output " + name + ": " + std::to_string(bad) + " of " + std::to_string(g.numel()) + " values differ, first at " +
         std::to_string(first) + ": " + num(gp[first]) + " vs " + num(wp[first]);
}

/// ONNX's test generator stores bfloat16 tensors as uint16 bit patterns (numpy has no bfloat16).
tensor as_declared(tensor t, onnx::data_type declared) {
  if (declared != onnx::data_type::bfloat16 || t.elem() != dtype::u16) return t;
  tensor b = tensor::empty(dtype::bf16, t.shape());
  std::memcpy(b.raw(), t.raw(), t.nbytes());
  return b;
}

/// Why a known failure fails, when the cause is outside the converters (printed in the markdown).
std::string known_cause(const std::string& name) {
  if (name == "test_identity_opt" || name == "test_identity_sequence")
    return "out of scope: the input is an ONNX optional / sequence, not a tensor; the reader reads TensorProto only";
  if (name == "test_cast_FLOAT_to_BFLOAT16")
    return "by design: the TOP graph computes in f32, so a float-to-float Cast is dropped and the bfloat16 rounding is not applied";
  return {};
}

std::string pct(double rate) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f", 100.0 * rate);
  return buf;
}

struct case_result {
  std::string name, status, reason;  // status: PASS, FAIL, IMPORT-ERROR
};

/// Graph inputs a node reads as a parameter (shape, axes, sizes, bounds...). A static compiler needs
/// them as constants, so the runner freezes them to the test data set's values before importing.
bool is_parameter_slot(const std::string& op, std::size_t input) {
  if (input == 0) return false;
  static const std::set<std::string> second_only{"Reshape", "Expand", "Tile", "Split", "Upsample", "Squeeze", "Unsqueeze",
                                                 "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL2"};
  if (second_only.count(op)) return input == 1;
  return op == "Slice" || op == "Pad" || op == "Resize" || op == "Clip" || op == "Dropout";
}

case_result run_case(const fs::path& dir) {
  case_result r{dir.filename().string(), "PASS", ""};
  const onnx::model_proto model = onnx::read_model((dir / "model.onnx").string());
  std::vector<std::string> input_names;
  std::vector<onnx::data_type> input_types;
  std::set<std::string> frozen;
  {
    std::set<std::string> inits;
    for (const auto& t : model.graph.initializers) inits.insert(t.name);
    for (const auto& in : model.graph.inputs)
      if (!inits.count(in.name)) input_names.push_back(in.name), input_types.push_back(in.elem);
    for (const auto& n : model.graph.nodes)
      for (std::size_t i = 0; i < n.inputs.size(); ++i)
        if (is_parameter_slot(n.op_type, i) && !inits.count(n.inputs[i])) frozen.insert(n.inputs[i]);
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    r.status = "FAIL";
    r.reason = "no test_data_set_* directory";
    return r;
  }
  for (const auto& set : sets) {
    onnx::model_proto m = model;
    named_tensors inputs;
    try {
      for (std::size_t i = 0; i < input_names.size(); ++i) {
        const fs::path p = set / ("input_" + std::to_string(i) + ".pb");
        if (!fs::exists(p)) throw error("missing " + p.filename().string());
        onnx::tensor_proto t = onnx::read_tensor_file(p.string());
        if (frozen.count(input_names[i])) {
          t.name = input_names[i];
          m.graph.initializers.push_back(std::move(t));
        } else {
          inputs[input_names[i]] = as_declared(std::move(t.data), input_types[i]);
        }
      }
    } catch (const std::exception& e) {
      r.status = "FAIL";
      r.reason = set.filename().string() + ": " + one_line(e.what());
      return r;
    }
    graph g;
    try {
      g = onnx::import_model(m);
    } catch (const std::exception& e) {
      r.status = "IMPORT-ERROR";
      r.reason = one_line(e.what());
      return r;
    }
    try {
      const interpreter run(g);
      const run_result res = run.run(inputs);
      const auto outs = res.outputs();
      for (std::size_t i = 0;; ++i) {
        const fs::path p = set / ("output_" + std::to_string(i) + ".pb");
        if (!fs::exists(p)) break;
        if (i >= outs.size()) throw error("the graph has " + std::to_string(outs.size()) + " outputs, expected more");
        const tensor want = as_declared(onnx::read_tensor_file(p.string()).data,
                                        i < model.graph.outputs.size() ? model.graph.outputs[i].elem : onnx::data_type::undefined);
        const std::string why = compare(outs[i].second, want, std::to_string(i));
        if (!why.empty()) {
          r.status = "FAIL";
          r.reason = set.filename().string() + ": " + why;
          return r;
        }
      }
    } catch (const std::exception& e) {
      r.status = "FAIL";
      r.reason = one_line(e.what());
      return r;
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string node_dir = "/usr/include/onnx/backend/test/data/node", markdown, filter;
  double min_rate = 0.9;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--markdown" && i + 1 < argc) markdown = argv[++i];
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--min-pass-rate" && i + 1 < argc) min_rate = std::atof(argv[++i]);
    else if (!a.empty() && a[0] != '-') node_dir = a;
    else {
      std::cerr << "usage: " << argv[0] << " [NODE_DIR] [--markdown FILE] [--filter TEXT] [--min-pass-rate R]\n";
      return 2;
    }
  }
  if (!fs::is_directory(node_dir)) {
    std::cout << "SKIPPED: " << node_dir << " does not exist (install Debian's libonnx-testdata)\n";
    return exit_skipped;
  }
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(node_dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || (name.size() >= 9 && name.compare(name.size() - 9, 9, "_expanded") == 0)) continue;
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());

  std::vector<case_result> results;
  for (const auto& dir : cases) {
    case_result r;
    try {
      if (!in_scope(onnx::read_model((dir / "model.onnx").string()))) continue;
      r = run_case(dir);
    } catch (const std::exception& e) {
      r = {dir.filename().string(), "FAIL", one_line(e.what())};
    }
    std::cout << r.name << ": " << r.status << (r.reason.empty() ? "" : " " + r.reason) << "\n" << std::flush;
    results.push_back(r);
  }
  const auto passed = static_cast<std::size_t>(
      std::count_if(results.begin(), results.end(), [](const case_result& r) { return r.status == "PASS"; }));
  const std::size_t failed = results.size() - passed;
  const double rate = results.empty() ? 0.0 : static_cast<double>(passed) / static_cast<double>(results.size());

  if (!markdown.empty()) {
    std::ofstream md(markdown);
    md << "# ONNX backend node tests\n\n"
       << "Generated by `mixq_onnx_node_runner --markdown docs/onnx_node_tests.md` (tests/integration/onnx_node_runner.cpp)\n"
       << "from Debian's libonnx-testdata (`" << node_dir << "`). A case is in scope when its name does not end in\n"
       << "`_expanded` and every op of its model is one mixq must import. Each case is imported with the input\n"
       << "shapes the model declares and run by `mixq::interpreter` on every `test_data_set_*`.\n\n"
       << "Comparison: same shape; floats with |got - want| <= " << abs_tol << " + " << rel_tol << " * |want|, NaN equal to NaN;\n"
       << "integers and bools exactly. The importer turns every float type into f32, so float64 and float16 cases\n"
       << "are compared after converting the expected values to f32, with the same tolerance. ArgMax/ArgMin give f32\n"
       << "indices (top.Arg, as in TPU-MLIR); they are compared exactly with the int64 expected values.\n\n"
       << "Graph inputs that a node reads as a parameter (the shape of Reshape/Expand, Tile's repeats, Split's sizes,\n"
       << "Slice's starts/ends/axes/steps, Pad's pads and value, Resize's roi/scales/sizes, Upsample's scales, Clip's\n"
       << "bounds, Squeeze/Unsqueeze/Reduce axes, Dropout's ratio) are frozen to the test data set's values before the\n"
       << "import, since a TOP graph (as in TPU-MLIR) needs them as constants; the other inputs are fed at run time.\n\n"
       << "**" << passed << " passed, " << failed << " failed** (" << pct(rate) << "% of " << results.size()
       << " cases).\n\n"
       << "| case | result | reason |\n|---|---|---|\n";
    for (const auto& r : results) {
      std::string why = r.reason;
      if (r.status != "PASS" && !known_cause(r.name).empty()) why += " — " + known_cause(r.name);
      md << "| " << r.name << " | " << r.status << " | " << why << " |\n";
    }
    if (!md) {
      std::cerr << "cannot write " << markdown << "\n";
      return 2;
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return rate >= min_rate ? 0 : 1;
}
