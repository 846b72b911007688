#pragma once
// The state of one TOP -> TPU lowering (model_deploy's convert-top-to-tpu): the graph being
// built, where each TOP value went, the casts between precisions (made where a consumer needs
// another type than its producer gave, named and shared as TPU-MLIR does), and the weights the
// rules quantize. Plain code: the per-op rules (targets/rules_*.hpp) are the templates.
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/dialect/ops.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/quant/quant_type.hpp"
#include "mixq/quant/types.hpp"
#include "mixq/targets/processor.hpp"

namespace mixq::targets {

struct deploy_options {
  quant_mode mode = quant_mode::F32;
  const processor_info* chip = &all_processors[0];
  bool asymmetric = false;
  /// Per-op modes from the quantize table (TOP op names, already rewritten for the chip).
  std::map<std::string, quant_mode, std::less<>> qtable;
  bool high_precision = false;  // AvgPool and Softmax in F32
  /// Weight-only modes: the group size of W4 modes (`--q_group_size`; W8 modes quantize per
  /// output channel, as TPU-MLIR's model_deploy passes 0 for them), symmetric groups
  /// (`--q_symmetric`), and per-op group sizes from the qtable's third column (any W mode).
  std::int64_t q_group_size = 64;
  bool q_symmetric = false;
  std::map<std::string, std::int64_t, std::less<>> qtable_group_size;
  /// `--quant_input` / `--quant_output`: the graph takes its inputs in the type of their first
  /// cast and returns its outputs in their lowered type (no cast back to f32).
  bool quant_input = false;
  bool quant_output = false;
  /// `--matmul_perchannel` (bm1684x/bm1688 INT8): MatMuls with a weight take one scale per
  /// output column (lowering_spec §3.1 item 4, §4.2).
  bool matmul_perchannel = false;
};

/// One TOP op whose lowering differs from the mode asked for.
struct lowering_note {
  std::string op;
  std::string what;
};

/// What the rules asked the context for while one TOP op was lowered: the weights by the name
/// the rule gave (add_weight may append `_<k>`) and every cast it used, made or shared. The
/// quantized evaluator replays a cached lowering from it (targets/evaluator.hpp); null otherwise.
struct lowering_trace {
  struct weight_use {
    int value;               // the top.Weight result in the lowered graph
    std::string requested;   // the name the rule asked for
  };
  struct cast_use {
    int input;               // lowered value cast
    tensor_type type;
    std::string consumer;
    int result;
    bool created;            // false: an earlier consumer's cast was shared
    int at_node;             // nodes in the lowered graph when the rule asked
  };
  std::vector<weight_use> weights;
  std::vector<cast_use> casts;
};

struct lowering_report {
  std::map<std::string, std::size_t> ops_per_mode;  // "INT8": 52, "F16": 3...
  std::vector<lowering_note> notes;                  // fallbacks and their reasons
  std::size_t casts = 0;
};

class lowering_context {
 public:
  lowering_context(const graph& top, graph& out, const deploy_options& opt, lowering_report& report)
      : top_(top), out_(out), opt_(opt), report_(report), users_(top.users()) {
    value_map_.assign(top.values.size(), -1);
  }

  const graph& top() const noexcept { return top_; }
  graph& out() noexcept { return out_; }
  const deploy_options& options() const noexcept { return opt_; }
  const processor_info& chip() const noexcept { return *opt_.chip; }
  lowering_report& report() noexcept { return report_; }
  const std::vector<int>& users_of(int top_value) const { return users_[static_cast<std::size_t>(top_value)]; }

  // --- TOP side -----------------------------------------------------------------------------
  const node& top_node(int i) const { return top_.nodes.at(static_cast<std::size_t>(i)); }
  const value_info& top_value(int v) const { return top_.values.at(static_cast<std::size_t>(v)); }
  const std::string& name_of(int top_node_index) const { return top_.node_name(top_node_index); }
  /// The constant behind a TOP value (a top.Weight), or nullptr.
  const tensor* constant(int top_v) const {
    const value_info& vi = top_value(top_v);
    if (vi.producer < 0 || !top_.nodes[static_cast<std::size_t>(vi.producer)].is<top::weight_op>()) return nullptr;
    auto it = top_.weights.find(vi.name);
    if (it == top_.weights.end()) return nullptr;
    return &it->second;
  }
  std::optional<quant::calibrated_type> range(int top_v) const { return quant::parse_calibrated(top_value(top_v).type.quant); }
  bool calibrated(int top_v) const { return range(top_v).has_value(); }

  /// The INT8 type of a calibrated TOP value (lowering_spec §2.1-2.2): symmetric th/127 (signed,
  /// min < 0) or th/255; asymmetric from (min, max); CV18xx always signed [-max, max].
  quant::uniform_type int8_type(int top_v, bool asymmetric) const {
    const auto r = range(top_v);
    if (!r) throw error("lowering: \"" + top_value(top_v).name + "\" has no calibrated range (is it in the calibration table?)");
    quant::uniform_type u;
    u.expressed = dtype::f32;
    const bool sym_only = chip().symmetric_calibration;
    const double mn = sym_only ? -std::max(std::fabs(r->min), std::fabs(r->max)) : r->min;
    const double mx = sym_only ? std::max(std::fabs(r->min), std::fabs(r->max)) : r->max;
    if (asymmetric && !sym_only) {
      const auto p = quant::int8_asym::params(mn, mx);
      u.storage = p.qmin < 0 ? dtype::i8 : dtype::u8;
      u.scale = p.scale;
      u.zero_point = p.zero_point;
    } else {
      const double th = std::max(std::fabs(mn), std::fabs(mx));
      const auto p = quant::int8_sym::params(th > 0 ? th : 1e-5, mn < 0);
      u.storage = mn < 0 ? dtype::i8 : dtype::u8;
      u.scale = p.scale;
    }
    return u;
  }

  /// The mode a TOP op lowers in: its qtable entry, else the global mode; CV18xx has BF16 for
  /// F16, INT4 is INT8 for everything but Conv and MatMul (lowering_spec §3.2).
  quant_mode mode_of(int top_node_index) const {
    const node& n = top_node(top_node_index);
    quant_mode m = opt_.mode;
    for (int r : n.results) {
      auto it = opt_.qtable.find(top_value(r).name);
      if (it != opt_.qtable.end()) m = it->second;
    }
    if (chip().arithmetic == arithmetic_family::cv18xx && m == quant_mode::F16) m = quant_mode::BF16;
    if (m == quant_mode::INT4 && n.mnemonic() != "top.Conv" && n.mnemonic() != "top.MatMul") m = quant_mode::INT8;
    if (opt_.high_precision && (n.mnemonic() == "top.AvgPool" || n.mnemonic() == "top.Softmax")) m = quant_mode::F32;
    return m;
  }

  // --- TPU side -----------------------------------------------------------------------------
  void map(int top_v, int out_v) { value_map_[static_cast<std::size_t>(top_v)] = out_v; }
  int mapped(int top_v) const {
    const int v = value_map_[static_cast<std::size_t>(top_v)];
    if (v < 0) throw error("lowering: \"" + top_value(top_v).name + "\" was used before it was lowered");
    return v;
  }
  const tensor_type& out_type(int out_v) const { return out_.values.at(static_cast<std::size_t>(out_v)).type; }
  int none() const { return none_; }
  void set_none(int v) { none_ = v; }

  /// Appends an op of the registry by mnemonic; returns its node index.
  int emit(std::string_view mnemonic, std::vector<int> operands, std::vector<tensor_type> results, std::vector<std::string> names,
           attr_dict attrs = {}) {
    const top::op_info* info = top::ops().find(mnemonic);
    if (!info) throw error("lowering: mixq has no op " + std::string(mnemonic));
    return out_.add_node(*info, std::move(operands), std::move(results), std::move(names), std::move(attrs));
  }
  int result(int node_index, int i = 0) const { return out_.nodes.at(static_cast<std::size_t>(node_index)).results.at(static_cast<std::size_t>(i)); }

  /// A new top.Weight in the lowered graph named `name` (TPU-MLIR adds `_<k>` on a clash).
  int add_weight(std::string name, tensor data, std::string quant = {}) {
    std::string unique = name;
    for (int k = 1; out_.weights.count(unique); ++k) {
      const auto us = name.rfind('_');
      unique = us == std::string::npos ? name + "_" + std::to_string(k) : name.substr(0, us) + "_" + std::to_string(k) + name.substr(us);
    }
    tensor_type t{data.elem(), data.shape(), std::move(quant)};
    const int n = out_.add<top::weight_op>({}, {t}, {unique});
    out_.weights.emplace(unique, std::move(data));
    if (trace_) trace_->weights.push_back({result(n), std::move(name)});
    return result(n);
  }

  /// The lowered value of a TOP operand as an INT8 consumer needs it: the lowered value when it
  /// is already integer, else a quantizing tpu.Cast to the value's own INT8 type.
  int as_int8(int top_v, const std::string& consumer, bool asymmetric) {
    const int v = mapped(top_v);
    if (quant::parse_uniform(out_type(v).quant) || is_integer(out_type(v).elem)) return v;
    const quant::uniform_type u = int8_type(top_v, asymmetric);
    return cast(v, tensor_type{u.storage, out_type(v).shape, quant::format(u)}, consumer);
  }
  /// The lowered value as a float consumer of type `f` needs it (dequantize or float cast).
  int as_float(int top_v, dtype f, const std::string& consumer) {
    const int v = mapped(top_v);
    const tensor_type& t = out_type(v);
    if (!quant::parse_uniform(t.quant) && t.elem == f) return v;
    if (!quant::parse_uniform(t.quant) && !is_floating(t.elem)) return v;  // integer data (indices, shapes) passes as it is
    tensor_type want{f, t.shape};
    if (const auto r = range(top_v)) want.quant = quant::format(quant::calibrated_type{f, r->min, r->max});
    return cast(v, want, consumer);
  }

  /// A tpu.Cast of out value v to `type`, shared by every consumer that needs the same type.
  int cast(int v, const tensor_type& type, const std::string& consumer) {
    if (const int shared = find_cast(v, type); shared >= 0) {
      if (trace_) trace_->casts.push_back({v, type, consumer, shared, false, static_cast<int>(out_.nodes.size())});
      return shared;
    }
    const auto key = cast_key(v, type);
    const std::string base = out_.values[static_cast<std::size_t>(v)].name;
    const auto u = quant::parse_uniform(type.quant);
    const std::string suffix = u ? (u->storage == dtype::u8 ? "ui8" : "si8")
                                 : type.elem == dtype::f16 ? "f16" : type.elem == dtype::bf16 ? "bf16" : "f32";
    attr_dict a;
    a.set("round_mode", attribute(opaque_attr{"#tpu<round_mode HalfAwayFromZero>"}));
    a.set("with_scale", attribute(true));
    const int n = emit("tpu.Cast", {v}, {type}, {base + consumer + "_" + suffix}, std::move(a));
    ++report_.casts;
    casts_[key] = result(n);
    if (trace_) trace_->casts.push_back({v, type, consumer, result(n), true, n});
    return result(n);
  }
  /// The cast of out value v to `type` an earlier consumer made, or -1.
  int find_cast(int v, const tensor_type& type) const {
    auto it = casts_.find(cast_key(v, type));
    return it == casts_.end() ? -1 : it->second;
  }

  /// Records what the rules ask for into `t` (nullptr: stop recording).
  void set_trace(lowering_trace* t) noexcept { trace_ = t; }

  void note(int top_node_index, std::string what) { report_.notes.push_back({name_of(top_node_index), std::move(what)}); }

 private:
  static std::pair<int, std::string> cast_key(int v, const tensor_type& type) {
    return std::make_pair(v, type.quant.empty() ? std::string(name(type.elem)) : type.quant);
  }

  const graph& top_;
  graph& out_;
  const deploy_options& opt_;
  lowering_report& report_;
  std::vector<std::vector<int>> users_;
  std::vector<int> value_map_;
  int none_ = -1;
  std::map<std::pair<int, std::string>, int> casts_;
  lowering_trace* trace_ = nullptr;
};

}  // namespace mixq::targets
