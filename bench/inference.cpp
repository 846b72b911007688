// FP32 inference time of a TOP .mlir through mixq's interpreter: the mixq side of
// bench/run_inference.sh (bench/ort_bench.js is the onnxruntime side, on the same input file).
//   MIXQ_NUM_THREADS=2 mixq_bench_inference --model m.mlir --input x.npy [--warmup 5] [--runs 20]
//       [--min_time S] [--output out.npy] [--reference ort_out.npy] [--profile]
// Times at least --runs runs and keeps going until S seconds of runs (at most 1000). Prints one JSON line with the median and minimum run time in ms; --profile adds a per-op-type
// time breakdown (stderr), measured between consecutive op completions through the run hooks
// (per op, the fastest of the profiled runs).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npy.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t m = xs.size() / 2;
  return xs.size() % 2 ? xs[m] : 0.5 * (xs[m - 1] + xs[m]);
}

double cosine(const mixq::tensor& a, const mixq::tensor& b) {
  const auto x = a.values<float>();
  const auto y = b.values<float>();
  double xy = 0, xx = 0, yy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy += double(x[i]) * y[i];
    xx += double(x[i]) * x[i];
    yy += double(y[i]) * y[i];
  }
  return xx == 0 && yy == 0 ? 1.0 : xy / std::sqrt(xx * yy);
}

struct op_time {
  double ms = 0;
  int count = 0;
};

struct op_profile {
  std::map<std::string, op_time> by_type;
  std::vector<double> by_node;  // ms, the fastest of the profiled runs: robust to other jobs' bursts
};

// "top.Conv 3x3/2 g32": convolutions differ so much in cost per FLOP that one row for all hides
// where the time goes. Kernel and group from the filter's type, stride from the spatial sizes.
std::string op_kind(const mixq::graph& g, int node) {
  const mixq::node& n = g.nodes[static_cast<std::size_t>(node)];
  std::string kind(n.mnemonic());
  if (kind != "top.Conv" || n.operands.size() < 2) return kind;
  const auto& in = g.values[static_cast<std::size_t>(n.operands[0])].type.shape;
  const auto& w = g.values[static_cast<std::size_t>(n.operands[1])].type.shape;
  const auto& out = g.values[static_cast<std::size_t>(n.results[0])].type.shape;
  if (in.size() != 4 || w.size() != 4 || out.size() != 4) return kind;
  const std::int64_t groups = w[1] > 0 ? in[1] / w[1] : 1;
  const std::int64_t stride = out[2] > 0 ? (in[2] + out[2] - 1) / out[2] : 1;
  kind += " " + std::to_string(w[2]) + "x" + std::to_string(w[3]) + "/" + std::to_string(stride);
  if (groups > 1) kind += groups == in[1] ? " dw" : " g" + std::to_string(groups);
  return kind;
}

// The time from one op's completion to the next op's is charged to the next op: it includes the
// interpreter's own bookkeeping for that op, which is part of what an inference costs.
op_profile profile_ops(const mixq::interpreter& run, const mixq::named_tensors& inputs, int runs) {
  op_profile p;
  const mixq::graph& g = run.model();
  p.by_node.assign(g.nodes.size(), 0.0);
  std::vector<double> this_run(g.nodes.size(), 0.0);
  clock_type::time_point last;
  int last_node = -1;
  mixq::run_hooks hooks;
  hooks.on_output = [&](int node, int, mixq::tensor&) {
    const auto now = clock_type::now();
    if (node == last_node) return;  // later results of a multi-result op
    if (last_node >= 0) this_run[static_cast<std::size_t>(node)] = std::chrono::duration<double, std::milli>(now - last).count();
    last_node = node;
    last = clock_type::now();
  };
  mixq::run_options opt;
  opt.hooks = &hooks;
  for (int r = 0; r < runs; ++r) {
    last_node = -1;
    std::fill(this_run.begin(), this_run.end(), 0.0);
    run.run(inputs, opt);
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      if (r == 0 || this_run[i] < p.by_node[i]) p.by_node[i] = this_run[i];
  }
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (p.by_node[i] == 0) continue;
    auto& e = p.by_type[op_kind(g, static_cast<int>(i))];
    e.ms += p.by_node[i];
    ++e.count;
  }
  return p;
}

void print_profile(const mixq::graph& g, const op_profile& p) {
  std::vector<std::pair<std::string, op_time>> rows(p.by_type.begin(), p.by_type.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  double total = 0;
  for (const auto& r : rows) total += r.second.ms;
  std::fprintf(stderr, "%-28s %6s %10s %6s\n", "op", "count", "ms", "share");
  for (const auto& [name, e] : rows)
    std::fprintf(stderr, "%-28s %6d %10.3f %5.1f%%\n", name.c_str(), e.count, e.ms, 100.0 * e.ms / total);
  std::fprintf(stderr, "%-28s %6s %10.3f\n\nslowest ops:\n", "total", "", total);
  std::vector<int> order(g.nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return p.by_node[static_cast<std::size_t>(a)] > p.by_node[static_cast<std::size_t>(b)]; });
  for (std::size_t k = 0; k < std::min<std::size_t>(20, order.size()); ++k) {
    const int i = order[k];
    const mixq::node& n = g.nodes[static_cast<std::size_t>(i)];
    if (p.by_node[static_cast<std::size_t>(i)] == 0) break;
    std::string shapes;
    for (int v : n.operands)
      if (!g.values[static_cast<std::size_t>(v)].type.is_none) shapes += mixq::to_string(g.values[static_cast<std::size_t>(v)].type.shape) + " ";
    shapes += "-> " + mixq::to_string(g.values[static_cast<std::size_t>(n.results[0])].type.shape);
    std::fprintf(stderr, "%8.3f ms  %-22s %s  %s\n", p.by_node[static_cast<std::size_t>(i)], op_kind(g, i).c_str(),
                 g.node_name(i).c_str(), shapes.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time FP32 inference of a TOP-dialect .mlir with mixq's interpreter", "mixq_bench_inference"};
  std::string model, input, output, reference;
  int warmup = 5, runs = 20;
  double min_time = 0;
  bool profile = false;
  app.add_option("--model", model, "TOP-dialect .mlir (its weight npz is found via module.weight_file)")->required();
  app.add_option("--input", input, "input .npy (float32), fed to the model's only input")->required();
  app.add_option("--warmup", warmup, "untimed runs first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--runs", runs, "timed runs (the median is reported)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--min_time", min_time, "keep timing until this many seconds of runs")->check(CLI::NonNegativeNumber);
  app.add_option("--output", output, "write the first output of the last run to this .npy");
  app.add_option("--reference", reference, "compare the first output with this .npy (cosine similarity in the JSON line)");
  app.add_flag("--profile", profile, "per-op-type time breakdown on stderr (extra runs after the timed ones)");
  return mixq::driver::run(app, argc, argv, [&] {
    const mixq::graph g = mixq::load_model(model);
    const std::vector<int> input_nodes = g.input_nodes();
    if (input_nodes.size() != 1)
      throw mixq::error(model + ": the benchmark feeds one input, the model has " + std::to_string(input_nodes.size()));
    mixq::named_tensors inputs;
    inputs.emplace(g.node_name(input_nodes[0]), mixq::read_npy(input));
    const mixq::interpreter run(g);
    mixq::run_result last;
    for (int i = 0; i < warmup; ++i) last = run.run(inputs);
    std::vector<double> times;
    double spent_ms = 0;
    while (times.size() < 1000 && (static_cast<int>(times.size()) < runs || spent_ms < 1000 * min_time)) {
      const auto t0 = clock_type::now();
      last = run.run(inputs);
      times.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      spent_ms += times.back();
    }
    const mixq::tensor first = last.outputs().front().second;
    if (!output.empty()) mixq::write_npy(output, first);
    std::string similarity;
    if (!reference.empty()) {
      const mixq::tensor ref = mixq::read_npy(reference);
      if (ref.numel() != first.numel())
        throw mixq::error(reference + ": " + std::to_string(ref.numel()) + " values, the model's first output has " +
                          std::to_string(first.numel()));
      char buf[64];
      std::snprintf(buf, sizeof buf, ", \"cosine\": %.7f", cosine(first.cast(mixq::dtype::f32), ref.cast(mixq::dtype::f32)));
      similarity = buf;
    }
    std::printf("{\"model\": \"%s\", \"threads\": %zu, \"median_ms\": %.4f, \"min_ms\": %.4f, \"runs\": %zu%s}\n",
                model.c_str(), mixq::thread_pool::global().size(), median(times), *std::min_element(times.begin(), times.end()), times.size(),
                similarity.c_str());
    if (profile) print_profile(g, profile_ops(run, inputs, std::max(3, runs / 2)));
    return 0;
  });
}
