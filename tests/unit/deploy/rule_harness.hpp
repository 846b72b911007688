#pragma once
// What the INT8 rule tests share (lowering_rules.cpp, lowering_rules_more.cpp): the spec's scalar
// arithmetic (lowering_spec §1), a small TOP graph builder with its calibration rows, lowering
// one graph for a chip, and checks of attributes, integers and cosine against FP32.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "mixq/graph/interpreter.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/import_calibration.hpp"

namespace rule_harness {

using namespace mixq;

// ---------------------------------------------------------------- scalar spec arithmetic
// Written from the spec text (§1.1), independent of mixq's quant/requant.hpp.

/// RightShiftRound(x, n, HalfUp) = floor((x + 2^(n-1)) / 2^n); n <= 0: x << -n.
inline std::int64_t rsr_up(std::int64_t x, int n) {
  if (n <= 0) return x * (std::int64_t{1} << -n);
  const std::int64_t d = std::int64_t{1} << n;
  const std::int64_t t = x + d / 2;
  return t >= 0 ? t / d : -((-t + d - 1) / d);
}
/// RightShiftRound(x, n, HalfAwayFromZero).
inline std::int64_t rsr_away(std::int64_t x, int n) {
  if (n <= 0) return x * (std::int64_t{1} << -n);
  const std::int64_t d = std::int64_t{1} << n;
  return x >= 0 ? (x + d / 2) / d : -((-x + d / 2) / d);
}
inline std::int64_t sat8(std::int64_t v) { return std::clamp<std::int64_t>(v, -128, 127); }
inline std::int64_t satu8(std::int64_t v) { return std::clamp<std::int64_t>(v, 0, 255); }
inline std::int64_t round_away(double v) { return static_cast<std::int64_t>(std::round(v)); }
/// CV18xx MultiplierShift (§1.4): to_int(f32(f32(v) m) / 2^r, HalfUp).
inline std::int64_t cv_mul_shift(std::int64_t v, std::int64_t m, int r) {
  const float p = static_cast<float>(v) * static_cast<float>(m);
  return static_cast<std::int64_t>(std::floor(static_cast<double>(p / std::ldexp(1.f, r)) + 0.5));
}

// ---------------------------------------------------------------- graph building

/// A TOP graph with its calibration rows.
struct net {
  graph g;
  cali_table table;
  int none = -1;
  net() {
    g.name = "rules";
    g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
    none = g.nodes[static_cast<std::size_t>(g.add<top::none_op>({}, {tensor_type::none()}, {""}))].results[0];
  }
  void row(const std::string& name, double mn, double mx) { table.rows.push_back({name, std::max(std::fabs(mn), std::fabs(mx)), mn, mx}); }
  int input(const std::string& name, shape_t shape, double mn, double mx) {
    const int arg = g.add_argument({dtype::f32, shape});
    row(name, mn, mx);
    return g.nodes[static_cast<std::size_t>(g.add<top::input_op>({arg}, {{dtype::f32, shape}}, {name}))].results[0];
  }
  int weight(const std::string& name, shape_t shape, std::vector<float> v) {
    g.weights[name] = tensor::from_vector<float>(shape, v);
    return g.nodes[static_cast<std::size_t>(g.add<top::weight_op>({}, {{dtype::f32, shape}}, {name}))].results[0];
  }
  template <class Op>
  int op(std::vector<int> operands, shape_t shape, const std::string& name, double mn, double mx, typename Op::attributes a = {}) {
    row(name, mn, mx);
    return g.nodes[static_cast<std::size_t>(g.add<Op>(std::move(operands), {{dtype::f32, shape}}, {name}, a))].results[0];
  }
  void output(int v) { g.outputs = {v}; }
};

struct lowered {
  graph top;  // FP32
  graph low;
  targets::lowering_report report;
};

inline lowered lower(const net& n, const std::string& chip, bool asymmetric = false, bool propagate = false, bool perchannel = false) {
  lowered r;
  r.top = n.g;
  graph g = n.g;
  const auto& p = targets::find_processor(chip);
  import_calibration(g, n.table, {.asymmetric = asymmetric, .symmetric_only = p.symmetric_calibration});
  if (propagate) propagate_calibration(g, p);
  targets::deploy_options opt;
  opt.mode = targets::quant_mode::INT8;
  opt.chip = &p;
  opt.asymmetric = asymmetric;
  opt.matmul_perchannel = perchannel;
  r.low = targets::lower_to_tpu(g, opt, r.report);
  return r;
}

inline const node* find_op(const graph& g, std::string_view mnemonic) {
  for (const node& n : g.nodes)
    if (n.mnemonic() == mnemonic) return &n;
  return nullptr;
}
inline std::size_t count_ops(const graph& g, std::string_view mnemonic) {
  return static_cast<std::size_t>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const node& n) { return n.mnemonic() == mnemonic; }));
}
inline std::int64_t int_attr_of(const node& n, std::string_view key) {
  const attribute* a = n.attrs.find(key);
  REQUIRE(a);
  REQUIRE(a->get_if<int_attr>());
  return a->get_if<int_attr>()->value;
}
inline double float_attr_of(const node& n, std::string_view key) {
  const attribute* a = n.attrs.find(key);
  REQUIRE(a);
  REQUIRE(a->get_if<float_attr>());
  return a->get_if<float_attr>()->value;
}
inline std::vector<std::int64_t> ints_attr_of(const node& n, std::string_view key) {
  const attribute* a = n.attrs.find(key);
  REQUIRE(a);
  REQUIRE(a->get_if<attr_array>());
  std::vector<std::int64_t> out;
  for (const attribute& e : *a->get_if<attr_array>()) out.push_back(e.get_if<int_attr>()->value);
  return out;
}
inline bool bool_attr_of(const node& n, std::string_view key) {
  const attribute* a = n.attrs.find(key);
  REQUIRE(a);
  REQUIRE(a->get_if<bool>());
  return *a->get_if<bool>();
}
inline quant::uniform_type qtype_of(const graph& g, int v) {
  const auto u = quant::parse_uniform(g.values[static_cast<std::size_t>(v)].type.quant);
  REQUIRE(u.has_value());
  return *u;
}
inline std::vector<std::int64_t> ints(const tensor& t) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<std::int64_t>(element_as_double(t, i)));
  return v;
}
inline std::size_t in_mode(const targets::lowering_report& r, const std::string& mode) {
  const auto it = r.ops_per_mode.find(mode);
  return it == r.ops_per_mode.end() ? 0 : it->second;
}
inline bool has_note(const targets::lowering_report& r, const std::string& what) {
  return std::any_of(r.notes.begin(), r.notes.end(), [&](const targets::lowering_note& n) { return n.what.find(what) != std::string::npos; });
}

/// Random inputs: every graph input uniform in [lo, hi].
inline named_tensors random_inputs(const graph& g, std::mt19937& gen, double lo, double hi) {
  std::uniform_real_distribution<float> d(static_cast<float>(lo), static_cast<float>(hi));
  named_tensors in;
  for (const node& n : g.nodes)
    if (n.is<top::input_op>()) {
      const value_info& vi = g.values[static_cast<std::size_t>(n.results[0])];
      tensor t = tensor::empty(dtype::f32, vi.type.shape);
      for (float& e : t.values<float>()) e = d(gen);
      in[vi.name] = t;
    }
  return in;
}

/// Runs the lowered graph, keeping every value.
inline run_result run_all(const graph& g, const named_tensors& in) {
  interpreter it(g);
  run_options o;
  o.keep_all = true;
  return it.run(in, o);
}

/// The integer operands and result of the first `mnemonic` op of a run.
struct op_ints {
  std::vector<std::vector<std::int64_t>> in;
  std::vector<std::int64_t> out;
};
inline op_ints ints_of(const graph& g, const run_result& r, std::string_view mnemonic) {
  const node* n = find_op(g, mnemonic);
  REQUIRE(n);
  op_ints o;
  for (int v : n->operands) {
    const tensor& t = r.values[static_cast<std::size_t>(v)];
    o.in.push_back(t.defined() ? ints(t) : std::vector<std::int64_t>{});
  }
  o.out = ints(r.values[static_cast<std::size_t>(n->results[0])]);
  return o;
}

inline double cosine(const tensor& a, const tensor& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = element_as_double(a, i), y = element_as_double(b, i);
    ab += x * y, aa += x * x, bb += y * y;
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}
/// The lowered model's output against FP32 on `trials` random inputs in [lo, hi].
inline double worst_cosine(const lowered& l, double lo, double hi, int trials = 4, unsigned seed = 7) {
  std::mt19937 gen(seed);
  double worst = 1.0;
  for (int k = 0; k < trials; ++k) {
    const named_tensors in = random_inputs(l.top, gen, lo, hi);
    interpreter a(l.top), b(l.low);
    worst = std::min(worst, cosine(a.run(in).outputs()[0].second, b.run(in).outputs()[0].second));
  }
  return worst;
}

/// Runs `l` on a few random inputs and checks the op's integers against `formula(inputs, e)`.
inline void check_ints(const lowered& l, std::string_view mnemonic, double lo, double hi,
                       const std::function<std::int64_t(const op_ints&, std::size_t)>& formula, unsigned seed = 3) {
  std::mt19937 gen(seed);
  for (int k = 0; k < 3; ++k) {
    const run_result r = run_all(l.low, random_inputs(l.top, gen, lo, hi));
    const op_ints o = ints_of(l.low, r, mnemonic);
    std::vector<std::int64_t> want(o.out.size());
    for (std::size_t e = 0; e < o.out.size(); ++e) want[e] = formula(o, e);
    CHECK(o.out == want);
  }
}
inline std::vector<float> random_values(std::size_t count, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(count);
  for (float& e : v) e = d(gen);
  return v;
}

}  // namespace rule_harness
