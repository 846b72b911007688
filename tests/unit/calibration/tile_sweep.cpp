// The auto-tuner's piecewise candidate sweep (tile_sweep.hpp) and the fused point-wise scoring
// kernel (quant/candidate_score.hpp) against the whole-tensor evaluation they replace: every
// candidate's squared error must come out with the same bits, with and without a thread pool.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "mixq/calibration/tile_sweep.hpp"
#include "mixq/calibration/tuner.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/quant/candidate_score.hpp"

using namespace mixq;
using namespace mixq::calibration;

namespace {

std::string tensor_text(const shape_t& s) {
  std::string t = "tensor<";
  for (auto d : s) t += std::to_string(d) + "x";
  return t + "f32>";
}

/// A module whose inputs feed one op `op` (with `attrs`), result shaped `out`.
graph one_op(const std::string& op, const std::string& attrs, const std::vector<shape_t>& inputs, const shape_t& out) {
  std::string args, ins, types, sig;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string t = tensor_text(inputs[k]);
    sig += (k ? ", " : "") + std::string("%arg") + std::to_string(k) + ": " + t;
    ins += "    %" + std::to_string(k + 1) + " = \"top.Input\"(%arg" + std::to_string(k) + ") : (" + t + ") -> " + t + " loc(\"in" +
           std::to_string(k) + "\")\n";
    args += (k ? ", " : "") + std::string("%") + std::to_string(k + 1);
    types += (k ? ", " : "") + t;
  }
  const std::string o = tensor_text(out);
  const std::string r = "%" + std::to_string(inputs.size() + 1);
  const std::string text = "module @s attributes {module.chip = \"ALL\", module.platform = \"ONNX\", module.state = \"TOP_F32\", "
                           "module.weight_file = \"s_top_f32_all_weight.npz\"} {\n  func.func @main(" + sig + ") -> " + o + " {\n" + ins +
                           "    " + r + " = \"" + op + "\"(" + args + ")" + (attrs.empty() ? "" : " {" + attrs + "}") + " : (" + types + ") -> " +
                           o + " loc(\"out\")\n    return " + r + " : " + o + " loc(unknown)\n  } loc(unknown)\n} loc(unknown)\n";
  return parse_mlir(text);
}

tensor random_tensor(const shape_t& s, unsigned seed, float offset = 0.f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(offset, 1.5f);
  tensor t = tensor::empty(dtype::f32, s);
  for (float& v : t.values<float>()) v = d(gen);
  return t;
}

std::vector<quant::int_fake_quant> candidates_for(const std::vector<tensor>& xs) {
  float amax = 0;
  for (const tensor& x : xs)
    for (float v : x.values<float>()) amax = std::max(amax, std::fabs(v));
  std::vector<quant::int_fake_quant> qs;
  for (int k = 0; k <= 21; ++k) qs.push_back(quant::int_fake_quant::symmetric<8>(amax * (0.3 + 0.7 * k / 21.0)));
  return qs;
}

/// The whole-tensor evaluation: fake-quantized copies, the op on whole tensors, squared_distance.
std::vector<double> whole_tensor_sums(const interpreter& interp, int i, const std::vector<tensor>& xs, const std::vector<bool>& quantize,
                                      const tensor& ref, const std::vector<quant::int_fake_quant>& qs, thread_pool* pool) {
  std::vector<double> sums;
  for (const auto& q : qs) {
    std::vector<tensor> in(xs.size());
    std::vector<const tensor*> ptrs;
    for (std::size_t j = 0; j < xs.size(); ++j) {
      if (quantize[j]) {
        in[j] = tensor::empty(dtype::f32, xs[j].shape());
        quant::fake_quantize(xs[j].values<float>(), in[j].values<float>(), q);
      } else {
        in[j] = xs[j];
      }
      ptrs.push_back(&in[j]);
    }
    std::vector<tensor> outs(1);
    interp.compute_node(i, ptrs, outs);
    sums.push_back(squared_distance(ref.values<float>(), outs[0].values<float>(), pool));
  }
  return sums;
}

struct sweep_case {
  std::string op, attrs;
  std::vector<shape_t> inputs;
  shape_t out;
  std::vector<bool> quantize;
};

void check_sweep_matches(const sweep_case& c) {
  const graph g = one_op(c.op, c.attrs, c.inputs, c.out);
  thread_pool pool(2);
  interpreter interp(g, &pool);
  const int node = g.find_node("out");
  const auto layout = calibration::detail::sweep_layout_of(g, interp, node);
  REQUIRE(layout.has_value());
  std::vector<tensor> xs;
  for (std::size_t j = 0; j < c.inputs.size(); ++j) xs.push_back(random_tensor(c.inputs[j], 11 + static_cast<unsigned>(j), j ? 0.4f : 0.f));
  std::vector<const tensor*> ptrs;
  for (const tensor& x : xs) ptrs.push_back(&x);
  std::vector<tensor> ref(1);
  interp.compute_node(node, ptrs, ref);
  const auto qs = candidates_for(xs);
  std::vector<calibration::detail::sweep_operand> ops;
  for (std::size_t j = 0; j < xs.size(); ++j) ops.push_back({&xs[j], static_cast<bool>(c.quantize[j])});
  for (thread_pool* p : {static_cast<thread_pool*>(nullptr), &pool}) {
    INFO(c.op << " on " << to_string(c.out) << (p ? " with a pool" : " on one thread"));
    const auto piecewise = calibration::detail::sweep_squared_distances(interp, node, *layout, ops, ref[0], qs, p);
    const auto whole = whole_tensor_sums(interp, node, xs, c.quantize, ref[0], qs, p);
    REQUIRE(piecewise.size() == whole.size());
    for (std::size_t k = 0; k < qs.size(); ++k) {
      INFO("candidate " << k);
      CHECK(piecewise[k] == whole[k]);
    }
    CHECK(whole.front() != whole.back());  // the candidates do differ
  }
}

}  // namespace

TEST_CASE("tile sweep: point-wise ops scored in registers give the whole-tensor sums bit for bit") {
  // 122409 elements: two reduction blocks, the second partial, and a tail shorter than a vector
  // (AVX2 and AVX-512).
  for (const auto& [op, attrs] : std::vector<std::pair<std::string, std::string>>{
           {"top.AddConst", "const_val = 0.25 : f64"},
           {"top.MulConst", "const_val = -1.75 : f64"},
           {"top.HardSwish", ""},
           {"top.HardSigmoid", "alpha = 0.2 : f64, beta = 0.5 : f64"},
           {"top.Sigmoid", ""},
           {"top.Relu", ""}}) {
    check_sweep_matches({op, attrs, {{1, 3, 201, 203}}, {1, 3, 201, 203}, {true}});
    check_sweep_matches({op, attrs, {{1, 5, 37, 41}}, {1, 5, 37, 41}, {true}});
  }
}

TEST_CASE("tile sweep: binary ops on full, per-channel and single-value operands give the whole-tensor sums") {
  // 67950 elements: two reduction blocks, the second partial. Both inputs quantized; one left in FP32.
  check_sweep_matches({"top.Add", "", {{1, 3, 150, 151}, {1, 3, 150, 151}}, {1, 3, 150, 151}, {true, true}});
  check_sweep_matches({"top.Add", "", {{1, 3, 150, 151}, {1, 3, 150, 151}}, {1, 3, 150, 151}, {true, false}});
  // Per-channel scale, rows longer than a piece (partial rows) and shorter (whole rows plus ends).
  check_sweep_matches({"top.Mul", "", {{1, 4, 150, 151}, {1, 4, 1, 1}}, {1, 4, 150, 151}, {true, true}});
  check_sweep_matches({"top.Mul", "", {{1, 64, 45, 45}, {1, 64, 1, 1}}, {1, 64, 45, 45}, {true, true}});
  check_sweep_matches({"top.Mul", "", {{1, 64, 45, 45}, {1, 64, 1, 1}}, {1, 64, 45, 45}, {false, true}});
  check_sweep_matches({"top.Sub", "", {{1, 64, 1, 1}, {1, 64, 45, 45}}, {1, 64, 45, 45}, {true, true}});
  // A single value against a tensor.
  check_sweep_matches({"top.Add", "", {{1, 3, 150, 151}, {1}}, {1, 3, 150, 151}, {true, true}});
}

TEST_CASE("tile sweep: ops that are not element-wise, or broadcast along inner axes, are left to whole tensors") {
  {
    const graph g = one_op("top.Add", "", {{1, 4, 20, 20}, {1, 1, 20, 20}}, {1, 4, 20, 20});
    interpreter interp(g);
    CHECK_FALSE(calibration::detail::sweep_layout_of(g, interp, g.find_node("out")).has_value());
  }
  {
    const graph g = one_op("top.Softmax", "axis = 1 : si32", {{1, 4, 5, 5}}, {1, 4, 5, 5});
    interpreter interp(g);
    CHECK_FALSE(calibration::detail::sweep_layout_of(g, interp, g.find_node("out")).has_value());
  }
}

TEST_CASE("fused fake-quant scoring agrees with the scalar reference (fake-quant, op, squared error)") {
  const tensor x = random_tensor({4099}, 5);
  const tensor r = random_tensor({4099}, 6);
  const auto qs = candidates_for({x});
  const auto f = top::hard_swish_op::functor({});
  std::vector<double> fused(qs.size(), 1.0);  // totals continue from what is there
  quant::score_fake_quantized_map(f, x.data<float>(), r.data<float>(), 4099, qs, fused.data());
  for (std::size_t k = 0; k < qs.size(); ++k) {
    std::vector<float> q(4099), y(4099);
    quant::fake_quantize_reference(x.values<float>(), q, qs[k]);
    for (std::size_t e = 0; e < q.size(); ++e) y[e] = f(q[e]);
    CHECK(fused[k] == Approx(1.0 + quant::squared_distance_reference(r.values<float>(), y)).epsilon(1e-6));
  }
}

TEST_CASE("auto-tune: the piecewise sweep and whole-tensor scoring choose the same thresholds") {
  // x -> AddConst -> HardSwish -> Mul by a per-channel input -> Add with x -> Sigmoid.
  const std::string t = tensor_text({1, 8, 130, 130}), s = tensor_text({1, 8, 1, 1});
  const std::string text =
      "module @t attributes {module.chip = \"ALL\", module.platform = \"ONNX\", module.state = \"TOP_F32\", "
      "module.weight_file = \"t_top_f32_all_weight.npz\"} {\n  func.func @main(%arg0: " + t + ", %arg1: " + s + ") -> " + t + " {\n"
      "    %1 = \"top.Input\"(%arg0) : (" + t + ") -> " + t + " loc(\"x\")\n"
      "    %2 = \"top.Input\"(%arg1) : (" + s + ") -> " + s + " loc(\"s\")\n"
      "    %3 = \"top.AddConst\"(%1) {const_val = 0.5 : f64} : (" + t + ") -> " + t + " loc(\"a\")\n"
      "    %4 = \"top.HardSwish\"(%3) : (" + t + ") -> " + t + " loc(\"h\")\n"
      "    %5 = \"top.Mul\"(%4, %2) : (" + t + ", " + s + ") -> " + t + " loc(\"m\")\n"
      "    %6 = \"top.Add\"(%5, %1) : (" + t + ", " + t + ") -> " + t + " loc(\"r\")\n"
      "    %7 = \"top.Sigmoid\"(%6) : (" + t + ") -> " + t + " loc(\"out\")\n"
      "    return %7 : " + t + " loc(unknown)\n  } loc(unknown)\n} loc(unknown)\n";
  const graph g = parse_mlir(text);
  std::vector<named_tensors> samples;
  for (unsigned k = 0; k < 3; ++k) samples.push_back({{"x", random_tensor({1, 8, 130, 130}, 20 + k)}, {"s", random_tensor({1, 8, 1, 1}, 30 + k, 1.f)}});
  collect_options co;
  co.methods = {method::kl};
  co.batches = 3;
  statistics_collector c(g, co);
  thread_pool pool(2);
  interpreter interp(g, &pool);
  for (const auto& b : samples) c.add_batch(interp, b);
  const auto initial = c.thresholds(method::kl);
  tune_options on, off;
  on.pool = off.pool = &pool;
  off.piecewise = false;
  const auto a = auto_tuner(g, interp, c.layout(), initial, on).run(samples);
  const auto b = auto_tuner(g, interp, c.layout(), initial, off).run(samples);
  tune_options unpruned = on;
  unpruned.prune = false;
  const auto every = auto_tuner(g, interp, c.layout(), initial, unpruned).run(samples);
  // Stopping candidates that cannot win changes no choice, and does skip work here.
  CHECK(a.candidate_steps_scored < a.candidate_steps_total);
  for (std::size_t r = 0; r < a.thresholds.size(); ++r) CHECK(a.thresholds[r] == every.thresholds[r]);
  CHECK(a.tuned_inputs == b.tuned_inputs);
  CHECK(a.op_runs == b.op_runs);
  CHECK(a.raised > 0);
  for (std::size_t r = 0; r < a.thresholds.size(); ++r) {
    INFO(c.layout().rows[r].name);
    CHECK(a.thresholds[r] == b.thresholds[r]);
  }
}
