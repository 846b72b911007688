// The quantized evaluator against lower_to_tpu from scratch: after every change of an op's mode or
// a tensor's threshold, the lowered graph, its weights and every sample's outputs are the same bits;
// only the changed ops are lowered again, and runs restart from the first changed node.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>

#include "mixq/calibration/calibrate.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npz.hpp"
#include "mixq/targets/evaluator.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/import_calibration.hpp"

#include "max_table.hpp"

using namespace mixq;

namespace eval_test {

struct builder {
  graph g;
  std::mt19937 gen{11};
  int weight(const std::string& name, shape_t shape, float sd = 0.3f) {
    std::normal_distribution<float> d(0.f, sd);
    std::vector<float> v(static_cast<std::size_t>(numel(shape)));
    for (auto& e : v) e = d(gen);
    g.weights[name] = tensor::from_vector<float>(shape, v);
    return g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::f32, shape}}, {name}))].results[0];
  }
  template <class Op> int op(std::vector<int> in, shape_t out, const std::string& name, const typename Op::attributes& a = {}) {
    return g.nodes[static_cast<std::size_t>(g.add<Op>(std::move(in), {{dtype::f32, std::move(out)}}, {name}, a))].results[0];
  }
  int conv(int x, std::int64_t ic, std::int64_t oc, std::int64_t hw, const std::string& name, bool relu) {
    top::conv_op::attributes c;
    c.kernel_shape = std::vector<std::int64_t>{3, 3};
    c.strides = std::vector<std::int64_t>{1, 1};
    c.pads = std::vector<std::int64_t>{1, 1, 1, 1};
    c.do_relu = relu;
    const int w = weight(name + "_w", {oc, ic, 3, 3}, 0.5f / static_cast<float>(ic)), b = weight(name + "_b", {oc}, 0.1f);
    return op<top::conv_op>({x, w, b}, {1, oc, hw, hw}, name, c);
  }
};

/// x -> conv1 (relu) -> conv2 -> add(conv1, conv2) -> relu -> concat(relu, conv2) -> reshape -> fc
/// (MatMul + bias) -> sigmoid; outputs fc and sig.
graph mixed_model() {
  builder b;
  b.g.name = "mixed";
  b.g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
  b.g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = b.g.add_argument({dtype::f32, {1, 3, 8, 8}});
  const int x = b.op<top::input_op>({arg}, {1, 3, 8, 8}, "x");
  const int c1 = b.conv(x, 3, 8, 8, "conv1", true);
  const int c2 = b.conv(c1, 8, 8, 8, "conv2", false);
  const int add = b.op<top::add_op>({c1, c2}, {1, 8, 8, 8}, "add");
  const int relu = b.op<top::relu_op>({add}, {1, 8, 8, 8}, "relu");
  top::concat_op::attributes ca;
  ca.axis = 1;
  const int cat = b.op<top::concat_op>({relu, c2}, {1, 16, 8, 8}, "cat", ca);
  top::reshape_op::attributes ra;
  ra.shape = std::vector<std::int64_t>{1, 1024};
  const int flat = b.op<top::reshape_op>({cat}, {1, 1024}, "flat", ra);
  const int w = b.weight("fc_w", {1024, 10}, 0.05f), bias = b.weight("fc_b", {10}, 0.1f);
  const int fc = b.op<top::matmul_op>({flat, w, bias}, {1, 10}, "fc");
  const int sig = b.op<top::sigmoid_op>({fc}, {1, 10}, "sig");
  b.g.outputs = {fc, sig};
  return std::move(b.g);
}

/// x -> `layers` 3x3 convs (relu) of `ch` channels at hw x hw -> output: for timing.
graph conv_stack(int layers, std::int64_t ch, std::int64_t hw) {
  builder b;
  b.g.name = "stack";
  b.g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
  b.g.add<top::none_op>({}, {tensor_type::none()}, {""});
  const int arg = b.g.add_argument({dtype::f32, {1, 3, hw, hw}});
  int x = b.op<top::input_op>({arg}, {1, 3, hw, hw}, "x");
  for (int l = 0; l < layers; ++l) x = b.conv(x, l == 0 ? 3 : ch, ch, hw, "conv" + std::to_string(l), true);
  b.g.outputs = {x};
  return std::move(b.g);
}

std::vector<named_tensors> inputs(int n, shape_t shape) {
  std::mt19937 gen(21);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<named_tensors> out;
  for (int k = 0; k < n; ++k) {
    tensor t = tensor::empty(dtype::f32, shape);
    for (float& v : t.values<float>()) v = d(gen);
    out.push_back({{"x", t}});
  }
  return out;
}


graph from_scratch(const graph& top, const cali_table& t, const targets::deploy_options& d) {
  graph cal = top;
  import_calibration_options io;
  io.asymmetric = d.asymmetric;
  io.symmetric_only = d.chip->symmetric_calibration;
  import_calibration(cal, t, io);
  propagate_calibration(cal, *d.chip);
  targets::lowering_report rep;
  return targets::lower_to_tpu(cal, d, rep);
}

bool same_bits(const tensor& a, const tensor& b) {
  return a.elem() == b.elem() && a.shape() == b.shape() && a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

/// Node by node: op, operands, result names and types, attributes; weights by name and bits.
void require_same_graph(const graph& a, const graph& b) {
  REQUIRE(a.nodes.size() == b.nodes.size());
  REQUIRE(a.values.size() == b.values.size());
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    INFO("node " << i << " " << a.nodes[i].mnemonic() << " \"" << a.node_name(static_cast<int>(i)) << "\"");
    REQUIRE(a.nodes[i].op == b.nodes[i].op);
    REQUIRE(a.nodes[i].operands == b.nodes[i].operands);
    REQUIRE(a.nodes[i].results == b.nodes[i].results);
    REQUIRE(a.nodes[i].attrs == b.nodes[i].attrs);
  }
  for (std::size_t v = 0; v < a.values.size(); ++v) REQUIRE(a.values[v] == b.values[v]);
  REQUIRE(a.outputs == b.outputs);
  REQUIRE(a.weights.size() == b.weights.size());
  for (const auto& [name, t] : a.weights) {
    INFO("weight " << name);
    REQUIRE(b.weights.count(name) == 1);
    REQUIRE(same_bits(t, b.weights.at(name)));
  }
}

/// Every sample through the evaluator and through a fresh interpreter of the from-scratch graph.
void require_same_outputs(quantized_evaluator& ev, const graph& ref, const std::vector<named_tensors>& s) {
  interpreter full(ref);
  for (std::size_t k = 0; k < s.size(); ++k) {
    const auto got = ev.run(k);
    const auto want = full.run(s[k]).outputs();
    REQUIRE(got.size() == want.size());
    for (std::size_t o = 0; o < got.size(); ++o) {
      INFO("sample " << k << " output " << want[o].first);
      REQUIRE(got[o].first == want[o].first);
      REQUIRE(got[o].second.elem() == dtype::f32);
      REQUIRE(same_bits(got[o].second, want[o].second));
    }
  }
}

const tensor& weight_of(const graph& g, const std::string& name) { return g.weights.at(name); }

}  // namespace eval_test

using namespace eval_test;
using targets::quant_mode;

TEST_CASE("quantized_evaluator: changes of mode and threshold give lower_to_tpu's graph and bits", "[deploy][evaluator]") {
  const graph top = mixed_model();
  const auto s = inputs(3, {1, 3, 8, 8});
  cali_table table = deploy_test::max_cali_table(top, s);
  targets::deploy_options d;
  d.mode = quant_mode::INT8;
  d.chip = &targets::find_processor("bm1684x");
  quantized_evaluator ev(top, table, d);
  for (const auto& x : s) ev.add_sample(x);

  const std::size_t ops = ev.stats().last_lowerings;
  CHECK(ops == 8);  // conv1 conv2 add relu cat flat fc sig
  require_same_graph(ev.lowered(), from_scratch(top, table, d));
  require_same_outputs(ev, from_scratch(top, table, d), s);
  CHECK(ev.stats().last_run_nodes == ev.stats().full_run_nodes);

  auto check = [&](const char* what) {
    INFO(what);
    require_same_graph(ev.lowered(), from_scratch(top, table, d));
    require_same_outputs(ev, from_scratch(top, table, d), s);
  };

  SECTION("INT8 -> F16 -> INT8 in the middle") {
    const tensor conv1_filter = weight_of(ev.lowered(), "conv1_filter_i8");
    ev.set_mode("conv2", quant_mode::F16);
    d.qtable["conv2"] = quant_mode::F16;
    check("conv2 F16");
    // conv2 itself and its two INT8 consumers (casts, and Concat's input type) are lowered again;
    // conv1 before it and the ops after the Concat are not.
    CHECK(ev.stats().last_lowerings == 3);
    CHECK(ev.stats().last_replays == ops - 3);
    CHECK(ev.stats().first_changed_node > 0);
    CHECK(ev.stats().last_run_nodes < ev.stats().full_run_nodes);
    // conv1's quantized filter is the same buffer: not requantized.
    CHECK(weight_of(ev.lowered(), "conv1_filter_i8").raw() == conv1_filter.raw());

    ev.set_mode("conv2", quant_mode::INT8);
    d.qtable["conv2"] = quant_mode::INT8;
    check("conv2 back to INT8");
    CHECK(ev.stats().last_lowerings == 0);  // every op's INT8 form is still cached
  }
  SECTION("INT8 -> F32 of an Add, F16 of the MatMul") {
    ev.set_mode("add", quant_mode::F32);
    d.qtable["add"] = quant_mode::F32;
    check("add F32");
    CHECK(ev.stats().last_lowerings < ops);
    CHECK(ev.stats().last_run_nodes < ev.stats().full_run_nodes);
    ev.set_mode("fc", quant_mode::F16);
    d.qtable["fc"] = quant_mode::F16;
    check("fc F16");
    CHECK(ev.stats().last_lowerings <= 2);  // fc and its consumer
  }
  SECTION("a threshold in the middle") {
    const cali_row* r = table.find("conv2");
    REQUIRE(r);
    const double th = r->threshold * 0.7;
    ev.set_threshold("conv2", th);
    for (auto& row : table.rows)
      if (row.name == "conv2") row.threshold = th;
    check("conv2 threshold");
    CHECK(ev.stats().last_lowerings >= 2);  // conv2's requant and its consumers'
    CHECK(ev.stats().last_lowerings < ops);
    CHECK(ev.stats().last_run_nodes < ev.stats().full_run_nodes);
  }
  SECTION("the Concat's own mode, then a threshold with min and max") {
    ev.set_mode("cat", quant_mode::F16);
    d.qtable["cat"] = quant_mode::F16;
    check("cat F16");
    ev.set_threshold("relu", 2.5, 0.0, 2.5);
    for (auto& row : table.rows)
      if (row.name == "relu") row = {"relu", 2.5, 0.0, 2.5};
    check("relu threshold");
    ev.reset_mode("cat");
    d.qtable.erase("cat");
    check("cat back");
  }
  SECTION("several changes at once, one rebuild") {
    ev.set_mode("conv1", quant_mode::F16);
    ev.set_mode("sig", quant_mode::F32);
    ev.set_threshold("add", table.find("add")->threshold * 1.3);
    d.qtable["conv1"] = quant_mode::F16;
    d.qtable["sig"] = quant_mode::F32;
    for (auto& row : table.rows)
      if (row.name == "add") row.threshold *= 1.3;
    const std::size_t before = ev.stats().rebuilds;
    check("three changes");
    CHECK(ev.stats().rebuilds == before + 1);
  }
}

TEST_CASE("quantized_evaluator: CV18xx and asymmetric BM1684X", "[deploy][evaluator]") {
  const graph top = mixed_model();
  const auto s = inputs(2, {1, 3, 8, 8});
  cali_table table = deploy_test::max_cali_table(top, s);
  for (const char* chip : {"cv183x", "bm1684x"}) {
    targets::deploy_options d;
    d.mode = quant_mode::INT8;
    d.chip = &targets::find_processor(chip);
    d.asymmetric = std::string(chip) == "bm1684x";
    INFO(chip);
    quantized_evaluator ev(top, table, d);
    for (const auto& x : s) ev.add_sample(x);
    require_same_outputs(ev, from_scratch(top, table, d), s);
    ev.set_mode("conv2", quant_mode::F16);  // BF16 on CV18xx, as a qtable entry
    d.qtable["conv2"] = d.chip->qtable_mode(quant_mode::F16);
    require_same_graph(ev.lowered(), from_scratch(top, table, d));
    require_same_outputs(ev, from_scratch(top, table, d), s);
    CHECK(ev.stats().last_lowerings < 8);
  }
}

TEST_CASE("quantized_evaluator: the per-sample caches are bounded", "[deploy][evaluator]") {
  const graph top = mixed_model();
  const auto s = inputs(3, {1, 3, 8, 8});
  const cali_table table = deploy_test::max_cali_table(top, s);
  targets::deploy_options d;
  d.mode = quant_mode::INT8;
  d.chip = &targets::find_processor("bm1684x");
  evaluator_options eo;
  quantized_evaluator probe(top, table, d, eo);
  probe.add_sample(s[0]);
  probe.run(0);
  const std::size_t one = probe.stats().cache_bytes;
  REQUIRE(one > 0);
  eo.cache_budget_bytes = one * 5 / 2;  // room for two samples (an F16 op's values are larger)
  quantized_evaluator ev(top, table, d, eo);
  for (const auto& x : s) ev.add_sample(x);
  ev.run_all();
  CHECK(ev.stats().cached_samples == 2);
  CHECK(ev.stats().cache_bytes <= eo.cache_budget_bytes);
  ev.set_mode("fc", quant_mode::F16);
  d.qtable["fc"] = quant_mode::F16;
  require_same_outputs(ev, from_scratch(top, table, d), s);
  ev.run(2);  // the uncached sample runs in full
  CHECK(ev.stats().last_run_nodes == ev.stats().full_run_nodes);
  ev.run(0);
  CHECK(ev.stats().last_run_nodes == 0);  // nothing changed since its last run
  CHECK(ev.value(0, "fc").defined());
}

TEST_CASE("quantized_evaluator: timing on a 20-layer conv net", "[.bench][evaluator]") {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
  const graph top = conv_stack(20, 32, 32);
  const auto s = inputs(8, {1, 3, 32, 32});
  const cali_table table = deploy_test::max_cali_table(top, s);
  targets::deploy_options d;
  d.mode = quant_mode::INT8;
  d.chip = &targets::find_processor("bm1684x");
  quantized_evaluator ev(top, table, d);
  for (const auto& x : s) ev.add_sample(x);
  ev.run_all();
  std::printf("20 convs 32x32x32, %zu samples; per change: evaluator (lowerings/replays, kernels run) vs lower_to_tpu + interpreter + full runs\n", s.size());
  auto scratch = [&](const targets::deploy_options& o, std::size_t& kernels) {
    double best = 1e30;
    for (int k = 0; k < 3; ++k) {
      const auto t0 = clock::now();
      const graph low = from_scratch(top, table, o);
      interpreter q(low);
      kernels = 0;
      for (const auto& x : s) kernels += q.run(x).nodes_executed;
      best = std::min(best, ms_since(t0));
    }
    return best;
  };
  auto change = [&](const char* what, auto&& apply, const targets::deploy_options& o) {
    const auto t0 = clock::now();
    apply();
    ev.lowered();
    const double build = ms_since(t0);
    ev.run_all();
    const double total = ms_since(t0);
    std::size_t kernels = 0;
    const double full = scratch(o, kernels);
    std::printf("  %-22s evaluator %6.2f ms (rebuild %.2f; %zu lowered, %zu replayed; %zu kernels)   from scratch %6.2f ms (%zu kernels)\n", what,
                total, build, ev.stats().last_lowerings, ev.stats().last_replays, ev.stats().last_run_nodes, full, kernels);
  };
  for (const char* op : {"conv15", "conv10", "conv2"}) {
    targets::deploy_options f16 = d;
    f16.qtable[op] = quant_mode::F16;
    const std::string name(op);
    change((name + " INT8->F16").c_str(), [&] { ev.set_mode(op, quant_mode::F16); }, f16);
    change((name + " F16->INT8").c_str(), [&] { ev.set_mode(op, quant_mode::INT8); }, d);
    change((name + " INT8->F16 again").c_str(), [&] { ev.set_mode(op, quant_mode::F16); }, f16);
    ev.reset_mode(op);
  }
  ev.reset_mode("conv2");
  ev.run_all();
  cali_table moved = table;
  for (auto& r : moved.rows)
    if (r.name == "conv10") r.threshold *= 0.9;
  const auto t0 = clock::now();
  ev.set_threshold("conv10", moved.find("conv10")->threshold);
  ev.run_all();
  std::printf("  %-22s evaluator %6.2f ms (%zu lowered, %zu kernels)\n", "conv10 threshold", ms_since(t0), ev.stats().last_lowerings,
              ev.stats().last_run_nodes);
  std::printf("  cache %zu KiB for %zu samples\n", ev.stats().cache_bytes >> 10, ev.stats().cached_samples);
}

TEST_CASE("quantized_evaluator: search_threshold's candidates, per table lowered from scratch or set_table", "[.bench][evaluator]") {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
  const graph top = conv_stack(20, 32, 32);
  const auto s = inputs(8, {1, 3, 32, 32});
  calibration::collect_options o;
  o.methods = {calibration::method::kl, calibration::method::max, calibration::method::percentile9999, calibration::method::mse};
  o.batches = static_cast<std::int64_t>(s.size());
  calibration::statistics_collector col(top, o);
  interpreter interp(top);
  for (const auto& b : s) col.add_batch(interp, b);
  std::vector<cali_table> tables;
  for (auto m : o.methods) {
    const auto r = col.thresholds(m);
    cali_table t;
    for (std::size_t k = 0; k < col.layout().rows.size(); ++k) t.rows.push_back({col.layout().rows[k].name, r.rows[k].threshold, r.rows[k].min, r.rows[k].max});
    tables.push_back(t);
  }
  targets::deploy_options d;
  d.mode = quant_mode::INT8;
  d.chip = &targets::find_processor("bm1684x");
  for (int round = 0; round < 2; ++round) {
    auto t0 = clock::now();
    for (const auto& t : tables) {
      const graph low = from_scratch(top, t, d);
      interpreter q(low);
      for (const auto& x : s) q.run(x);
    }
    const double scratch = ms_since(t0);
    t0 = clock::now();
    evaluator_options eo;
    eo.cache_budget_bytes = 0;
    std::optional<quantized_evaluator> ev;
    std::size_t lowered = 0, replayed = 0;
    for (const auto& t : tables) {
      if (!ev) {
        ev.emplace(top, t, d, eo);
        for (const auto& x : s) ev->add_sample(x);
      } else {
        ev->set_table(t);
      }
      ev->run_all();
      lowered += ev->stats().last_lowerings;
      replayed += ev->stats().last_replays;
    }
    std::printf("4 tables x %zu samples: from scratch %.2f ms, evaluator set_table %.2f ms (%zu lowered, %zu replayed)\n", s.size(), scratch,
                ms_since(t0), lowered, replayed);
  }
}

TEST_CASE("quantized_evaluator: every op of the fixture models flipped to F16 and back, every threshold moved", "[deploy][evaluator]") {
  for (const char* model : {"conv_net", "transformer_block"}) {
    INFO(model);
    const std::string dir = std::string(MIXQ_TEST_DATA_DIR) + "/models/";
    const graph top = load_model(dir + model + ".mlir");
    const named_tensors in = to_named(read_npz(dir + model + "_in_f32.npz"));
    std::vector<named_tensors> s{in};
    named_tensors scaled;
    for (const auto& [k, t] : in) {
      tensor u = t.cast(dtype::f32);
      for (float& v : u.values<float>()) v *= -0.7f;
      scaled.emplace(k, u);
    }
    s.push_back(scaled);
    cali_table table = deploy_test::max_cali_table(top, s);
    targets::deploy_options d;
    d.mode = quant_mode::INT8;
    d.chip = &targets::find_processor("bm1684x");
    quantized_evaluator ev(top, table, d);
    for (const auto& x : s) ev.add_sample(x);
    require_same_outputs(ev, from_scratch(top, table, d), s);
    for (std::size_t i = 0; i < top.nodes.size(); ++i) {
      const node& n = top.nodes[i];
      if (n.op->has(top::trait::source)) continue;
      const std::string name = top.node_name(static_cast<int>(i));
      INFO(name);
      ev.set_mode(name, quant_mode::F16);
      d.qtable[name] = quant_mode::F16;
      require_same_graph(ev.lowered(), from_scratch(top, table, d));
      require_same_outputs(ev, from_scratch(top, table, d), s);
      ev.reset_mode(name);
      d.qtable.erase(name);
      require_same_outputs(ev, from_scratch(top, table, d), s);
      CHECK(ev.stats().last_lowerings == 0);
    }
    for (auto& row : table.rows) {
      INFO(row.name);
      row.threshold *= 0.8;
      ev.set_threshold(row.name, row.threshold);
      require_same_graph(ev.lowered(), from_scratch(top, table, d));
      require_same_outputs(ev, from_scratch(top, table, d), s);
    }
  }
}
