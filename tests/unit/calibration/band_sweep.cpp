// The auto-tuner's band-by-band scoring of convolutions (band_sweep.hpp) and its scoring of
// concatenations (tile_sweep.hpp) against the whole-tensor evaluation they replace: a row band
// must give the whole convolution's rows bit for bit, and the candidates' squared errors the
// whole-tensor ones up to the order of the sums.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../transforms/transform_support.hpp"
#include "mixq/calibration/band_sweep.hpp"
#include "mixq/calibration/tuner.hpp"

namespace band_sweep_tests {

using namespace mixq;
using mixq::test::builder;

struct conv_case {
  shape_t input;
  std::int64_t oc, k, stride, pad, group, dilation;
  bool relu = false;
};

/// One convolution (random weights and bias) of `c`'s geometry; returns the graph and its node.
std::pair<graph, int> conv_graph(const conv_case& c) {
  builder b;
  const int x = b.input("x", c.input);
  const int w = b.random_weight("w", {c.oc, c.input[1] / c.group, c.k, c.k});
  const int bias = b.random_weight("b", {c.oc});
  top::conv_op::attributes a;
  a.kernel_shape = std::vector<std::int64_t>{c.k, c.k};
  a.strides = std::vector<std::int64_t>{c.stride, c.stride};
  a.pads = std::vector<std::int64_t>{c.pad, c.pad, c.pad, c.pad};
  a.group = c.group;
  a.dilations = std::vector<std::int64_t>{c.dilation, c.dilation};
  a.do_relu = c.relu;
  a.relu_limit = c.relu ? 0.7 : -1.0;
  const int y = b.op<top::conv_op>({x, w, bias}, "y", a);
  b.outputs({y});
  return {b.g, b.g.find_node("y")};
}

std::vector<const tensor*> conv_operands(const graph& g, const interpreter& interp, int node, const tensor& x) {
  const auto& ops = g.nodes[static_cast<std::size_t>(node)].operands;
  return {&x, &interp.constant(ops[1]), &interp.constant(ops[2])};
}

/// Rows [b, e) of every plane of an NCHW tensor, as a new [n, c, e - b, w] tensor.
tensor rows_of(const tensor& t, std::int64_t b, std::int64_t e) {
  const shape_t& s = t.shape();
  tensor out = tensor::empty(dtype::f32, {s[0], s[1], e - b, s[3]});
  for (std::int64_t p = 0; p < s[0] * s[1]; ++p)
    for (std::int64_t r = b; r < e; ++r)
      for (std::int64_t j = 0; j < s[3]; ++j)
        out.data<float>()[((p * (e - b)) + r - b) * s[3] + j] = t.data<float>()[(p * s[2] + r) * s[3] + j];
  return out;
}

std::vector<quant::int_fake_quant> candidates(double lo, double hi, int steps = 21) {
  std::vector<quant::int_fake_quant> qs;
  for (int k = 0; k <= steps; ++k) qs.push_back(quant::int_fake_quant::symmetric<8>(lo + (hi - lo) * k / steps));
  return qs;
}

/// The tuner's whole-tensor scoring: fake-quantized copy, the op, squared distance.
std::vector<double> whole_scores(const interpreter& interp, int node, std::vector<const tensor*> ops, const tensor& ref,
                                 const std::vector<quant::int_fake_quant>& qs) {
  std::vector<double> d;
  const tensor& input = *ops[0];
  for (const auto& q : qs) {
    tensor x = tensor::empty(dtype::f32, input.shape());
    quant::fake_quantize(input.values<float>(), x.values<float>(), q);
    ops[0] = &x;
    std::vector<tensor> outs(1);
    interp.compute_node(node, ops, outs);
    d.push_back(calibration::squared_distance(ref.values<float>(), outs[0].values<float>()));
  }
  return d;
}

const std::vector<conv_case> geometries{
    {{1, 8, 13, 11}, 16, 1, 1, 0, 1, 1},         // pointwise: a GEMM on the input in place
    {{1, 6, 17, 15}, 12, 3, 1, 1, 1, 1, true},   // 3x3, relu with a limit
    {{2, 6, 17, 15}, 12, 3, 2, 1, 1, 1},         // stride 2, two images
    {{1, 8, 19, 16}, 8, 5, 1, 2, 8, 1},          // depthwise 5x5
    {{1, 8, 19, 16}, 8, 3, 2, 1, 8, 1},          // depthwise, stride 2
    {{1, 4, 21, 18}, 8, 3, 1, 2, 2, 2},          // grouped, dilated
    {{1, 96, 7, 7}, 128, 3, 1, 1, 1, 1},         // small map, many channels: the transposed GEMM
    {{1, 64, 12, 20}, 24, 3, 1, 1, 1, 1},        // few output channels: the input read in place
};

}  // namespace band_sweep_tests

using namespace band_sweep_tests;

TEST_CASE("Conv row bands give the rows of the whole convolution bit for bit") {
  for (const conv_case& c : geometries) {
    const auto [g, node] = conv_graph(c);
    thread_pool pool(2);
    interpreter interp(g, &pool);
    const tensor x = mixq::test::random_tensor(c.input, -2.f, 2.f);
    std::vector<tensor> whole(1);
    interp.compute_node(node, conv_operands(g, interp, node, x), whole);
    const shape_t& out = whole[0].shape();
    for (std::int64_t rows : {1, 2, 3, 5}) {
      INFO("input " << to_string(c.input) << " oc " << c.oc << " k " << c.k << " stride " << c.stride << " group " << c.group
                    << ", bands of " << rows << " rows");
      for (std::int64_t b = 0; b < out[2]; b += rows) {
        const std::int64_t e = std::min(out[2], b + rows);
        const auto span = interp.band_input_rows(node, b, e);
        REQUIRE(span);
        const tensor xb = rows_of(x, span->first, span->second);
        tensor yb = tensor::empty(dtype::f32, {out[0], out[1], e - b, out[3]});
        top::row_band band{b, e, span->first, span->second, c.input};
        interp.compute_node_band(node, conv_operands(g, interp, node, xb), band, yb, yb.type());
        const tensor want = rows_of(whole[0], b, e);
        std::int64_t differ = 0;
        for (std::int64_t k = 0; k < want.numel(); ++k) differ += yb.data<float>()[k] != want.data<float>()[k];
        INFO("rows " << b << ".." << e);
        CHECK(differ == 0);
      }
    }
  }
}

TEST_CASE("Conv row bands refuse what they cannot compute") {
  const auto [g, node] = conv_graph({{1, 4, 9, 9}, 4, 3, 1, 1, 1, 1});
  interpreter interp(g);
  CHECK_FALSE(interp.band_input_rows(node, 0, 0));   // empty band
  CHECK_FALSE(interp.band_input_rows(node, 3, 10));  // past the last output row
  // The input rows a band reads: output rows 2..4 of a 3x3, pad 1 read input rows 1..5.
  const auto span = interp.band_input_rows(node, 2, 5);
  REQUIRE(span);
  CHECK(span->first == 1);
  CHECK(span->second == 6);
  const auto top = interp.band_input_rows(node, 0, 1);
  REQUIRE(top);
  CHECK(top->first == 0);  // the top padding row is not an input row
  CHECK(top->second == 2);
  // A 1x1 with padding: its first output row reads padding only, so it has no band, and the
  // tuner scores that convolution on whole tensors.
  const auto [padded, pnode] = conv_graph({{1, 4, 9, 9}, 4, 1, 1, 1, 1, 1});
  interpreter pinterp(padded);
  CHECK_FALSE(pinterp.band_input_rows(pnode, 0, 1));
  CHECK(pinterp.band_input_rows(pnode, 1, 3));
  CHECK_FALSE(calibration::detail::band_layout_of(padded, pinterp, pnode));
}

TEST_CASE("band scoring of a convolution matches whole-tensor scoring, at any thread count") {
  // Large enough for several bands under the L2 budget.
  for (const conv_case& c : {conv_case{{1, 16, 96, 96}, 24, 3, 1, 1, 1, 1}, conv_case{{1, 32, 128, 80}, 32, 3, 2, 1, 32, 1},
                             conv_case{{1, 16, 80, 96}, 32, 1, 1, 0, 1, 1}}) {
    const auto [g, node] = conv_graph(c);
    thread_pool pool(2);
    interpreter interp(g, &pool);
    const auto layout = calibration::detail::band_layout_of(g, interp, node);
    REQUIRE(layout);
    INFO("input " << to_string(c.input) << ": " << layout->bands.size() << " bands");
    CHECK(layout->bands.size() > 2);
    CHECK(layout->bands.front().out_begin == 0);
    CHECK(layout->bands.back().out_end == layout->out_rows);
    const tensor x = mixq::test::random_tensor(c.input, -2.f, 2.f);
    const auto ops = conv_operands(g, interp, node, x);
    std::vector<tensor> ref(1);
    interp.compute_node(node, ops, ref);
    // Nine candidates, not the tuner's 22: bands are what is checked here (85 s under ASan with 22).
    const auto qs = candidates(0.4, 2.0, 8);
    const auto whole = whole_scores(interp, node, ops, ref[0], qs);
    const std::vector<calibration::detail::sweep_operand> sweep{{ops[0], true}, {ops[1], false}, {ops[2], false}};
    const auto banded = calibration::detail::band_squared_distances(interp, node, *layout, sweep, ref[0], qs, &pool);
    const auto serial = calibration::detail::band_squared_distances(interp, node, *layout, sweep, ref[0], qs, nullptr);
    REQUIRE(banded.size() == qs.size());
    for (std::size_t k = 0; k < qs.size(); ++k) {
      INFO("candidate " << k);
      CHECK(banded[k] == serial[k]);
      // Float sums over runs of 64 vectors that start elsewhere: about 1e-8 relative.
      CHECK(banded[k] == Approx(whole[k]).epsilon(1e-6));
    }
    // A quantized weight is not what bands score: the caller falls back to whole tensors.
    const std::vector<calibration::detail::sweep_operand> weights_too{{ops[0], true}, {ops[1], true}, {ops[2], false}};
    CHECK(calibration::detail::band_squared_distances(interp, node, *layout, weights_too, ref[0], qs, &pool).empty());
  }
}

TEST_CASE("concatenation scoring matches whole-tensor scoring") {
  builder b;
  const int x0 = b.input("a", {1, 3, 40, 41});
  const int x1 = b.input("b", {1, 5, 40, 41});
  const int x2 = b.input("c", {1, 2, 40, 41});
  top::concat_op::attributes a;
  a.axis.value = 1;
  const int y = b.op<top::concat_op>({x0, x1, x2}, "y", a);
  b.outputs({y});
  const graph g = b.g;
  const int node = g.find_node("y");
  const auto offsets = calibration::detail::concat_offsets_of(g, node);
  REQUIRE(offsets);
  CHECK(*offsets == std::vector<std::int64_t>{0, 3 * 40 * 41, 8 * 40 * 41});
  thread_pool pool(2);
  interpreter interp(g, &pool);
  const tensor t0 = mixq::test::random_tensor({1, 3, 40, 41}, -2.f, 2.f), t1 = mixq::test::random_tensor({1, 5, 40, 41}, -1.f, 3.f),
               t2 = mixq::test::random_tensor({1, 2, 40, 41});
  std::vector<const tensor*> ops{&t0, &t1, &t2};
  std::vector<tensor> ref(1);
  interp.compute_node(node, ops, ref);
  const auto qs = candidates(0.5, 3.0);
  // Whole tensors: operands 0 and 2 quantized, 1 (say an integer row) passed as it is.
  std::vector<double> whole;
  for (const auto& q : qs) {
    tensor q0 = tensor::empty(dtype::f32, t0.shape()), q2 = tensor::empty(dtype::f32, t2.shape());
    quant::fake_quantize(t0.values<float>(), q0.values<float>(), q);
    quant::fake_quantize(t2.values<float>(), q2.values<float>(), q);
    std::vector<const tensor*> cand{&q0, &t1, &q2};
    std::vector<tensor> outs(1);
    interp.compute_node(node, cand, outs);
    whole.push_back(calibration::squared_distance(ref[0].values<float>(), outs[0].values<float>()));
  }
  const std::vector<calibration::detail::sweep_operand> sweep{{&t0, true}, {&t1, false}, {&t2, true}};
  const auto fused = calibration::detail::concat_squared_distances(*offsets, sweep, ref[0], qs, &pool);
  REQUIRE(fused.size() == qs.size());
  for (std::size_t k = 0; k < qs.size(); ++k) CHECK(fused[k] == Approx(whole[k]).epsilon(1e-6));

  // Along an axis with a larger dimension before it the operands interleave: not a layout.
  builder b2;
  const int u = b2.input("u", {2, 3, 4});
  const int v = b2.input("v", {2, 5, 4});
  top::concat_op::attributes a2;
  a2.axis.value = 1;
  const int w = b2.op<top::concat_op>({u, v}, "w", a2);
  b2.outputs({w});
  CHECK_FALSE(calibration::detail::concat_offsets_of(b2.g, b2.g.find_node("w")));
}

TEST_CASE("auto-tune: band and concatenation scoring choose the thresholds of whole-tensor scoring") {
  // Small maps give the tuner thresholds to raise; larger ones enough bands to stop candidates
  // (there only the pruned and unpruned sweeps are compared: whole tensors are slow under ASan).
  std::size_t raised = 0, steps_scored = 0, steps_total = 0;
  for (const std::int64_t side : {64, 96}) {
    INFO(side << "x" << side);
    // Its own data whichever tests ran before: whether thresholds rise and candidates stop
    // depends on it.
    mixq::test::rng().seed(static_cast<unsigned>(side) + 1);
    // x -> Conv 3x3 -> Conv 1x1 (two branches) -> Concat -> depthwise Conv.
    builder b;
    const int x = b.input("x", {1, 8, side, side});
    auto conv = [&](int in, std::int64_t ic, std::int64_t oc, std::int64_t k, std::int64_t group, const std::string& name) {
      top::conv_op::attributes a;
      a.kernel_shape = std::vector<std::int64_t>{k, k};
      a.strides = std::vector<std::int64_t>{1, 1};
      a.pads = std::vector<std::int64_t>(4, k / 2);
      a.group = group;
      const int w = b.random_weight(name + "_w", {oc, ic / group, k, k});
      const int bias = b.random_weight(name + "_b", {oc}, -0.2f, 0.2f);
      return b.op<top::conv_op>({in, w, bias}, name, a);
    };
    const int c1 = conv(x, 8, 16, 3, 1, "c1");
    const int p1 = conv(c1, 16, 8, 1, 1, "p1");
    const int p2 = conv(c1, 16, 8, 1, 1, "p2");
    top::concat_op::attributes ca;
    ca.axis.value = 1;
    const int cat = b.op<top::concat_op>({p1, p2}, "cat", ca);
    const int dw = conv(cat, 16, 16, 3, 16, "dw");
    b.outputs({dw});
    const graph g = b.g;
    std::vector<named_tensors> samples;
    // Heavy tails (u^3), so that KL clips and the tuner has thresholds to raise.
    for (int s = 0; s < 3; ++s) {
      tensor t = mixq::test::random_tensor({1, 8, side, side});
      for (float& v : t.values<float>()) v = 4 * v * v * v;
      samples.push_back({{"x", t}});
    }
    calibration::collect_options co;
    co.methods = {calibration::method::kl};
    co.batches = 3;
    calibration::statistics_collector c(g, co);
    thread_pool pool(2);
    interpreter interp(g, &pool);
    for (const auto& s : samples) c.add_batch(interp, s);
    const auto initial = c.thresholds(calibration::method::kl);
    calibration::tune_options on, off, unpruned;
    on.pool = off.pool = unpruned.pool = &pool;
    off.piecewise = false;
    unpruned.prune = false;
    const auto with = calibration::auto_tuner(g, interp, c.layout(), initial, on).run(samples);
    const bool compare_whole = side == 64;
    const auto without = compare_whole ? calibration::auto_tuner(g, interp, c.layout(), initial, off).run(samples) : calibration::tune_result{};
    const auto every = calibration::auto_tuner(g, interp, c.layout(), initial, unpruned).run(samples);
    if (compare_whole) CHECK(with.tuned_inputs == without.tuned_inputs);
    CHECK(every.candidate_steps_total == 0);
    raised += with.raised;
    steps_scored += with.candidate_steps_scored;
    steps_total += with.candidate_steps_total;
    for (std::size_t r = 0; r < with.thresholds.size(); ++r) {
      INFO(c.layout().rows[r].name);
      if (compare_whole) CHECK(with.thresholds[r] == without.thresholds[r]);
      // Stopping the candidates that cannot win changes no choice.
      CHECK(with.thresholds[r] == every.thresholds[r]);
    }
  }
  CHECK(raised > 0);
  CHECK(steps_scored < steps_total);
}
