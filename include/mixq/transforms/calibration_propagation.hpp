#pragma once
// TPU-MLIR's `calibration_process` (docs/lowering_spec.md §2.4): before lowering, calibrated
// ranges are copied forward through data-movement ops, backward into the producers of Relu-like
// ops, unified across Concat/Min/Max inputs, and sign-corrected, so that ops that only move values
// need no requantization. Stages run in TPU-MLIR's order, each to a fixed point.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/core/error.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/targets/processor.hpp"

namespace mixq {

struct propagation_report {
  std::size_t changes = 0;  // range assignments made
};

namespace detail {

class range_editor {
 public:
  range_editor(graph& g, const targets::processor_info& chip) : g_(g), chip_(chip), users_(g.users()) {}

  std::optional<quant::calibrated_type> range(int v) const { return quant::parse_calibrated(g_.values[static_cast<std::size_t>(v)].type.quant); }
  bool set(int v, double mn, double mx) {
    auto cur = range(v);
    if (!cur) return false;
    if (cur->min == mn && cur->max == mx) return false;
    cur->min = mn;
    cur->max = mx;
    g_.values[static_cast<std::size_t>(v)].type.quant = quant::format(*cur);
    ++changes;
    return true;
  }
  bool copy(int from, int to) {
    const auto r = range(from);
    return r && set(to, r->min, r->max);
  }
  static bool is_signed(const quant::calibrated_type& r) { return r.min < 0; }
  int uses(int v) const { return static_cast<int>(users_[static_cast<std::size_t>(v)].size()); }
  const std::vector<int>& users_of(int v) const { return users_[static_cast<std::size_t>(v)]; }
  bool is_weight(int v) const {
    const int p = g_.values[static_cast<std::size_t>(v)].producer;
    return p >= 0 && g_.nodes[static_cast<std::size_t>(p)].is<top::weight_op>();
  }
  /// The operands that are activations (not weights, not none).
  std::vector<int> activations(const node& n) const {
    std::vector<int> out;
    for (int v : n.operands)
      if (!g_.values[static_cast<std::size_t>(v)].type.is_none && !is_weight(v)) out.push_back(v);
    return out;
  }
  /// Runs `step` over every node until nothing changes (TPU-MLIR's greedy rewriting).
  template <class Step> void to_fixed_point(Step&& step) {
    for (int round = 0; round < 64; ++round) {
      bool changed = false;
      for (std::size_t i = 0; i < g_.nodes.size(); ++i) changed |= step(g_.nodes[i]);
      if (!changed) return;
    }
    throw error("calibration propagation does not settle (64 rounds)");
  }

  graph& g_;
  const targets::processor_info& chip_;
  std::vector<std::vector<int>> users_;
  std::size_t changes = 0;
};

inline bool op_in(std::string_view op, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), op) != names.end();
}

}  // namespace detail

inline propagation_report propagate_calibration(graph& g, const targets::processor_info& chip) {
  using detail::op_in;
  detail::range_editor e(g, chip);
  const bool cv18xx = chip.arithmetic == targets::arithmetic_family::cv18xx;
  const bool bm1684 = chip.arithmetic == targets::arithmetic_family::bm1684;
  auto out = [](const node& n) { return n.results.empty() ? -1 : n.results[0]; };

  auto forward = [&](std::initializer_list<std::string_view> ops) {
    e.to_fixed_point([&](const node& n) {
      if (!op_in(n.mnemonic(), ops)) return false;
      const auto in = e.activations(n);
      return !in.empty() && out(n) >= 0 && e.copy(in[0], out(n));
    });
  };
  auto sign_keeping = [&] {
    e.to_fixed_point([&](const node& n) {
      const auto in = e.activations(n);
      if (in.empty() || out(n) < 0) return false;
      const auto ri = e.range(in[0]), ro = e.range(out(n));
      if (!ri || !ro) return false;
      if (op_in(n.mnemonic(), {"top.AvgPool", "top.MaxPool", "top.Abs"})) {
        if (e.is_signed(*ri) && !e.is_signed(*ro)) return e.set(out(n), -0.1 * ro->max, ro->max);
        if (!e.is_signed(*ri) && e.is_signed(*ro)) return e.set(out(n), 0.0, ro->max);
      } else if (n.mnemonic() == "top.SubConst") {
        if (!e.is_signed(*ri) && !e.is_signed(*ro)) return e.set(out(n), -0.1 * ro->max, ro->max);
      }
      return false;
    });
  };

  // 1. Reshape and Permute pass their input's range on.
  forward({"top.Reshape", "top.Permute"});
  // 2. Sign keeping of AvgPool, MaxPool, Abs, SubConst.
  sign_keeping();
  // 3. Mul / Sub sign keeping (not on CV18xx).
  if (!cv18xx)
    e.to_fixed_point([&](node& n) {
      if (n.mnemonic() == "top.Sub") {
        const auto ro = e.range(out(n));
        return ro && !e.is_signed(*ro) && e.set(out(n), -0.1 * ro->max, ro->max);
      }
      if (n.mnemonic() != "top.Mul" || n.operands.size() != 2) return false;
      auto sign_of = [&](int v) -> std::optional<bool> {
        if (e.is_weight(v)) {
          const tensor& w = g.weights.at(g.values[static_cast<std::size_t>(v)].name);
          if (w.numel() != 1) return std::nullopt;
          return element_as_double(w, 0) < 0;
        }
        const auto r = e.range(v);
        if (!r) return std::nullopt;
        return e.is_signed(*r);
      };
      const auto s0 = sign_of(n.operands[0]), s1 = sign_of(n.operands[1]);
      const auto ro = e.range(out(n));
      if (!s0 || !s1 || !ro) return false;
      const bool so = e.is_signed(*ro);
      if (*s0 != so && *s1 == so) {
        std::swap(n.operands[0], n.operands[1]);
        ++e.changes;
        return true;
      }
      if (*s0 && *s1 && !so) return e.set(out(n), -0.1 * ro->max, ro->max);
      if (!*s0 && !*s1 && so)
        throw error("calibration: top.Mul \"" + g.node_name(static_cast<int>(&n - g.nodes.data())) +
                    "\" multiplies two non-negative tensors into a signed one; the calibration table is inconsistent");
      return false;
    });
  // 4. Concat / Min / Max: one range for every input and the output.
  e.to_fixed_point([&](const node& n) {
    if (!op_in(n.mnemonic(), {"top.Concat", "top.Min", "top.Max"})) return false;
    const auto in = e.activations(n);
    const auto ro = e.range(out(n));
    if (in.empty() || !ro) return false;
    std::vector<quant::calibrated_type> r;
    for (int v : in) {
      const auto ri = e.range(v);
      if (!ri) return false;
      for (int u : e.users_of(v))
        if (&g.nodes[static_cast<std::size_t>(u)] != &n && !g.nodes[static_cast<std::size_t>(u)].is<top::max_pool_op>()) return false;
      r.push_back(*ri);
    }
    if (n.mnemonic() == "top.Concat")
      for (const auto& x : r)
        if (e.is_signed(x) != e.is_signed(r.front())) return false;
    const bool same = std::all_of(r.begin(), r.end(), [&](const quant::calibrated_type& x) { return x.min == r[0].min && x.max == r[0].max; });
    if (same) return e.set(out(n), r[0].min, r[0].max);
    bool changed = false;
    for (int v : in) changed |= e.set(v, ro->min, ro->max);
    return changed;
  });
  // 5. Backward: ops whose output range is their input's (single-use inputs).
  auto backward_ops = cv18xx ? std::vector<std::string_view>{"top.Relu", "top.MaxPool", "top.Depth2Space", "top.Abs", "top.LeakyRelu", "top.ScatterND"}
                             : std::vector<std::string_view>{"top.Relu", "top.MaxPool", "top.Depth2Space", "top.Abs", "top.PRelu", "top.LeakyRelu"};
  e.to_fixed_point([&](const node& n) {
    if (std::find(backward_ops.begin(), backward_ops.end(), n.mnemonic()) == backward_ops.end()) return false;
    const auto in = e.activations(n);
    if (in.empty() || e.uses(in[0]) != 1) return false;
    const auto ro = e.range(out(n)), ri = e.range(in[0]);
    if (!ro || !ri) return false;
    const bool keep_min = !cv18xx && (n.mnemonic() == "top.PRelu" || n.mnemonic() == "top.LeakyRelu");
    bool changed = e.set(in[0], keep_min ? ri->min : ro->min, ro->max);
    // The producer of that input, when it only moves data, takes the range too.
    const int p = g.values[static_cast<std::size_t>(in[0])].producer;
    if (changed && p >= 0 && op_in(g.nodes[static_cast<std::size_t>(p)].mnemonic(), {"top.Reshape", "top.Permute", "top.Depth2Space"})) {
      const auto pin = e.activations(g.nodes[static_cast<std::size_t>(p)]);
      if (!pin.empty() && e.uses(pin[0]) == 1) e.copy(in[0], pin[0]);
    }
    return changed;
  });
  // 6. BM1684X family: an Add of single-use Muls gives them its range.
  if (chip.arithmetic == targets::arithmetic_family::bm168x)
    e.to_fixed_point([&](const node& n) {
      if (n.mnemonic() != "top.Add") return false;
      const auto in = e.activations(n);
      if (in.empty()) return false;
      for (int v : in) {
        const int p = g.values[static_cast<std::size_t>(v)].producer;
        if (p < 0 || g.nodes[static_cast<std::size_t>(p)].mnemonic() != "top.Mul" || e.uses(v) != 1) return false;
      }
      bool changed = false;
      for (int v : in) changed |= e.copy(out(n), v);
      return changed;
    });
  // 7. Compare: both inputs take the union of their ranges.
  e.to_fixed_point([&](const node& n) {
    if (n.mnemonic() != "top.Compare") return false;
    const auto in = e.activations(n);
    if (in.size() != 2) return false;
    const auto a = e.range(in[0]), b = e.range(in[1]);
    if (!a || !b) return false;
    const double mn = std::min(a->min, b->min), mx = std::max(a->max, b->max);
    const bool a_changed = e.set(in[0], mn, mx);
    const bool b_changed = e.set(in[1], mn, mx);
    return a_changed || b_changed;
  });
  // 9. Forward through the value-preserving ops.
  std::vector<std::string_view> fwd{"top.Relu",  "top.MaxPool", "top.MinConst", "top.MaxConst", "top.MaxUnpool", "top.Reshape",
                                    "top.Unsqueeze", "top.Squeeze", "top.Slice", "top.Tile", "top.Pad", "top.Permute",
                                    "top.Reverse", "top.Upsample", "top.LeakyRelu", "top.Abs", "top.Arg"};
  if (!cv18xx) fwd.push_back("top.PRelu");
  if (bm1684) fwd.push_back("top.AvgPool");
  e.to_fixed_point([&](const node& n) {
    if (n.mnemonic() == "top.MulConst") {
      const auto in = e.activations(n);
      const auto ri = in.empty() ? std::nullopt : e.range(in[0]);
      const attribute* c = n.attrs.find("const_val");
      if (!ri || !c || !c->get_if<float_attr>() || out(n) < 0) return false;
      const double k = c->get_if<float_attr>()->value;
      if (k == 0) return false;
      return k > 0 ? e.set(out(n), ri->min * k, ri->max * k) : e.set(out(n), ri->max * k, ri->min * k);
    }
    if (cv18xx && n.mnemonic() == "top.Reduce") {
      const attribute* m = n.attrs.find("mode");
      const std::string* mode = m ? m->get_if<std::string>() : nullptr;
      if (!mode || (*mode != "ReduceMax" && *mode != "ReduceMin")) return false;
    } else if (std::find(fwd.begin(), fwd.end(), n.mnemonic()) == fwd.end()) {
      return false;
    }
    const auto in = e.activations(n);
    return !in.empty() && out(n) >= 0 && e.copy(in[0], out(n));
  });
  // 10. Sign keeping again.
  sign_keeping();
  return {e.changes};
}

}  // namespace mixq
