#pragma once
// model_deploy's first step: a cali_table turns a TOP_F32 graph into a TOP_CALIBRATED one, each
// tensor typed `!quant.calibrated<f32<min:max>>` by the rules of TPU-MLIR's ImportCalibration.cpp
// (facts doc §1.1), and `#weight_scale` rows become the `scale` of the weights they name.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/cali_table.hpp"
#include "mixq/quant/quant_type.hpp"

namespace mixq {

struct import_calibration_options {
  /// `--asymmetric`: tensors keep the table's [min, max] (else [min < 0 ? -th : 0, th]).
  bool asymmetric = false;
  /// CV18xx: every range becomes [-max, max] (symmetric only).
  bool symmetric_only = false;
  /// fp8 tables: [-th, th].
  bool fp8 = false;
};

struct import_calibration_report {
  std::size_t calibrated = 0;          // tensors that got a calibrated type
  std::vector<std::string> missing;    // float tensors the table has no row for (they stay f32)
  std::size_t weight_scales = 0;       // `#weight_scale` rows attached
  std::vector<std::string> unmatched_weight_scales;  // rows naming no weight's consumer
};

namespace detail {

inline bool attr_true(const attr_dict& a, std::string_view key) {
  const attribute* v = a.find(key);
  return v && v->get_if<bool>() && *v->get_if<bool>();
}

inline std::string_view producer_op(const graph& g, int value) {
  const int p = g.values[static_cast<std::size_t>(value)].producer;
  return p < 0 ? std::string_view{} : g.nodes[static_cast<std::size_t>(p)].mnemonic();
}

}  // namespace detail

/// The (min, max) the importer gives a tensor of node `n` from its table row (getMinMax).
inline std::pair<double, double> calibrated_range(const graph& g, const node& n, const std::string& name, const cali_row& row,
                                                  const import_calibration_options& opt, const std::set<std::string>& asym_ops) {
  const double th = row.threshold;
  const std::string_view op = n.mnemonic();
  double mn, mx;
  if (opt.fp8) {
    mn = -th;
    mx = th;
  } else if (op == "top.Abs") {
    mn = -th;
    mx = th;
  } else if ((op == "top.Sigmoid" && !detail::attr_true(n.attrs, "log")) || op == "top.Softmax") {
    mn = 0;
    mx = 1;
  } else if (op == "top.Mul") {
    bool unsigned_inputs = n.operands.size() == 2 && n.operands[0] == n.operands[1];
    if (!unsigned_inputs) {
      unsigned_inputs = !n.operands.empty();
      for (int v : n.operands) {
        const std::string_view p = detail::producer_op(g, v);
        if (p != "top.Sigmoid" && p != "top.Relu") unsigned_inputs = false;
      }
    }
    mn = unsigned_inputs ? 0 : (row.min < 0 ? -th : 0);
    mx = th;
  } else if (op == "top.Sub") {
    mn = row.min < 0 ? -th : -1e-5;
    mx = th;
  } else if (opt.asymmetric || detail::attr_true(n.attrs, "output_asym") || asym_ops.count(name)) {
    mn = row.min;
    mx = row.max;
  } else {
    mn = row.min < 0 ? -th : 0;
    mx = th;
  }
  if (op != "top.Sub" && detail::attr_true(n.attrs, "do_relu")) mn = 0;
  if (opt.symmetric_only) mn = -mx;
  return {mn, mx};
}

/// Types every float op result (and graph input) that has a row; sets module.state.
inline import_calibration_report import_calibration(graph& g, const cali_table& table, const import_calibration_options& opt = {}) {
  import_calibration_report rep;
  const std::set<std::string> asym_ops(table.asym_ops.begin(), table.asym_ops.end());
  const auto& rows = table.thresholds();
  auto find = [&](const std::string& name) -> const cali_row* {
    for (auto it = rows.rbegin(); it != rows.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  };
  for (node& n : g.nodes) {
    if (n.is<top::weight_op>() || n.is<top::none_op>()) continue;
    for (int r : n.results) {
      value_info& vi = g.values[static_cast<std::size_t>(r)];
      if (vi.type.is_none || !is_floating(vi.type.elem) || vi.name.empty()) continue;  // integer results are skipped
      const cali_row* row = find(vi.name);
      if (!row) {
        rep.missing.push_back(vi.name);
        continue;
      }
      auto [mn, mx] = calibrated_range(g, n, vi.name, *row, opt, asym_ops);
      if (mn == 0 && mx == 0) {  // TPU-MLIR leaves such a value plain f32
        rep.missing.push_back(vi.name);
        continue;
      }
      vi.type.quant = quant::format(quant::calibrated_type{vi.type.elem, mn, mx});
      ++rep.calibrated;
    }
  }
  // Graph arguments take their Input op's type.
  for (const node& n : g.nodes)
    if (n.is<top::input_op>()) g.values[static_cast<std::size_t>(n.operands[0])].type.quant.clear();
  // `#weight_scale`: `<consumer op>_weight` names the weight whose first user is that op.
  if (!table.weight_scales.empty()) {
    const auto users = g.users();
    for (const weight_scale_row& w : table.weight_scales) {
      const std::string suffix = "_weight";
      if (w.name.size() <= suffix.size() || w.name.compare(w.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        rep.unmatched_weight_scales.push_back(w.name);
        continue;
      }
      const std::string consumer = w.name.substr(0, w.name.size() - suffix.size());
      bool attached = false;
      for (node& n : g.nodes) {
        if (!n.is<top::weight_op>()) continue;
        const auto& u = users[static_cast<std::size_t>(n.results[0])];
        if (u.empty() || g.node_name(u.front()) != consumer) continue;
        attr_array scales;
        for (double s : w.scales) scales.emplace_back(float_attr{s, "f64"});
        n.attrs.set("scale", attribute(std::move(scales)));
        n.decoded = n.op->decode(n.attrs);
        attached = true;
        ++rep.weight_scales;
        break;
      }
      if (!attached) rep.unmatched_weight_scales.push_back(w.name);
    }
  }
  g.module_attributes.set("module.state", attribute(std::string("TOP_CALIBRATED")));
  return rep;
}

}  // namespace mixq
