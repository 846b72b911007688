#pragma once
// The quantized evaluator: a TOP model lowered once for a processor and mode (model_deploy in
// memory), run on many samples (model_runner in memory), and changed one op at a time — an op's
// precision (set_mode) or a tensor's threshold (set_threshold) — the way the mixed-precision
// search tries candidates (ROADMAP 5: search_qtable, run_sensitive_layer). No files, no parsing.
//
// What a change redoes, and why it is exact:
// - Lowering. The lowered graph is always what lower_to_tpu makes of the changed model; the
//   evaluator only stands in for the rules of single TOP ops (targets::lowering_observer). A rule
//   reads the op's mode, its TOP operands (propagation may swap them) and their calibrated types,
//   its results' calibrated types, and the lowered type and name of each activation operand;
//   everything else it reads (attributes, weights, processor, global options) is fixed for the
//   evaluator. So each TOP op's lowering is cached under that key as the steps the rule took —
//   weights added (already quantized), casts asked for, ops emitted — and replayed through the
//   same lowering_context calls when the key matches: casts are shared or made, and weights named,
//   exactly as the rule would. The changed op, the consumers whose types or multipliers depend on
//   it and the ops whose ranges propagation moved get a new key and run their rule; nothing else
//   is requantized. Caching per TOP op rather than splicing the lowered graph keeps the lowering
//   code (and its casts, shared between consumers) the single source of truth, and lets a search
//   that flips an op INT8 -> F16 -> INT8 find both lowerings in the cache (a few variants per op).
// - Preparation. Replayed nodes keep the prepared state (packed weights) of the cached step.
// - Running. Each sample keeps every value of its last run. A rebuild keeps the lowered nodes
//   before the first node that differs (same cached step, in the same place, after an equal
//   prefix), so a run restarts there from the sample's cached values; the caches together are
//   bounded by evaluator_options::cache_budget_bytes (a sample beyond it runs in full).
// One evaluator is not thread-safe; parallel searches use one per thread (weight buffers are shared, not copied).
#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/cali_table.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/import_calibration.hpp"

namespace mixq {

struct evaluator_options {
  thread_pool* pool = nullptr;
  /// What the per-sample value caches may hold together (activation bytes of the lowered model).
  std::size_t cache_budget_bytes = std::size_t{512} << 20;
  /// Cached lowerings kept per TOP op (e.g. its INT8 and F16 forms); the oldest goes first.
  std::size_t variants_per_op = 4;
};

struct evaluator_stats {
  std::size_t rebuilds = 0;
  // Per-TOP-op lowerings: by the op's rule (weights quantized) or replayed from the cache.
  std::size_t lowerings = 0, replays = 0;            // over the evaluator's life
  std::size_t last_lowerings = 0, last_replays = 0;  // in the last rebuild
  // Prepared states (packed weights) of the last rebuild: reused from the cache or built.
  std::size_t prepared_reused = 0, prepared_built = 0;
  /// Where the last rebuild's graph first differs from the previous one (node index).
  std::size_t first_changed_node = 0;
  // Kernels run (source ops not counted).
  std::size_t nodes_executed = 0;   // over the evaluator's life
  std::size_t last_run_nodes = 0;   // by the last run() call
  std::size_t full_run_nodes = 0;   // by one full run of the current lowered graph
  // Per-sample caches.
  std::size_t cache_bytes = 0, cached_samples = 0;
  std::size_t cached_lowerings = 0;  // cached per-op lowerings (all variants)
};

namespace detail {

/// Where a lowered value comes from, relative to one cached lowering.
struct lowered_ref {
  enum class kind : std::uint8_t { step, mapped, none };
  kind k = kind::none;
  int a = 0;  // step: step index; mapped: TOP value id
  int b = 0;  // step: result index
};

/// One thing a rule did: add a weight, ask for a cast (made or shared), or emit an op.
struct lowering_step {
  enum class kind : std::uint8_t { op, weight, cast };
  kind k = kind::op;
  const top::op_info* op = nullptr;
  std::vector<lowered_ref> operands;  // cast: operands[0] is the value cast
  std::vector<tensor_type> types;
  std::vector<std::string> names;     // cast: the result's name as recorded
  attr_dict attrs;
  std::string requested;              // weight: the name the rule asked for
  tensor data;                        // weight: the quantized data
  std::string consumer;               // cast
  bool created = false;               // cast: made by this op when recorded
  top::prepared_ptr prepared;         // op and cast steps, once an interpreter prepared them
};

/// What a TOP op's rule reads (see the header comment).
struct lowering_key {
  targets::quant_mode mode = targets::quant_mode::F32;
  std::vector<int> operands;
  std::vector<std::string> top_types;  // calibrated types of the operands, then of the results
  std::vector<tensor_type> in_types;   // lowered activation operands
  std::vector<std::string> in_names;
  friend bool operator==(const lowering_key&, const lowering_key&) = default;
};

struct cached_lowering {
  int id = 0;
  lowering_key key;
  std::vector<lowering_step> steps;
  std::vector<lowered_ref> results;  // per TOP result
  std::map<std::string, std::size_t> ops_per_mode;
  std::vector<targets::lowering_note> notes;
  bool cacheable = true;
  /// Some emitted name contains a cast's name (Concat's `<in>_to_<out>` transfers): replayed only
  /// where every cast resolves as recorded, so names stay what lower_to_tpu gives.
  bool name_sensitive = false;
};

/// A node of the lowered graph: the cached step it came from (lowering -1: made by lower_to_tpu).
struct node_origin {
  int lowering = -1, step = -1;
  friend bool operator==(const node_origin&, const node_origin&) = default;
};

}  // namespace detail

class quantized_evaluator : private targets::lowering_observer {
 public:
  /// `top`: the TOP model (TOP_F32 or TOP_CALIBRATED); `table` is imported into it as model_deploy
  /// does (asymmetric and the processor's symmetric-only rule from `opt`), then propagated.
  quantized_evaluator(const graph& top, const cali_table& table, targets::deploy_options opt, evaluator_options eo = {})
      : base_(top), table_(table), has_table_(true), opt_(std::move(opt)), eo_(eo) {
    if (!opt_.chip) throw error("quantized_evaluator: no processor");
    calibrate();
    rebuild();
  }
  /// A model already in the state lower_to_tpu needs (float modes, or calibrated by the caller);
  /// set_threshold is not available.
  quantized_evaluator(const graph& top, targets::deploy_options opt, evaluator_options eo = {})
      : base_(top), opt_(std::move(opt)), eo_(eo) {
    if (!opt_.chip) throw error("quantized_evaluator: no processor");
    calibrated_ = base_;
    rebuild();
  }
  quantized_evaluator(const quantized_evaluator&) = delete;
  quantized_evaluator& operator=(const quantized_evaluator&) = delete;

  // --- changes (applied at the next run or lowered()) ---------------------------------------------

  /// Op `op` (a TOP op's name, as in a qtable) in mode `m`, rewritten for the processor as a qtable
  /// entry is (CV18xx F16 -> BF16, BM1684 non-INT8 -> F32).
  void set_mode(std::string_view op, targets::quant_mode m) {
    if (base_.find_node(op) < 0) throw error("quantized_evaluator: no op named \"" + std::string(op) + "\"");
    const targets::quant_mode r = opt_.chip->qtable_mode(m);
    if (!opt_.chip->modes.has(r) && !(targets::is_float_mode(r) && opt_.chip->mix_floats.has(r)))
      throw error("quantized_evaluator: " + std::string(opt_.chip->name) + " cannot run " + std::string(targets::mode_name(r)));
    auto it = opt_.qtable.find(op);
    if (it != opt_.qtable.end() && it->second == r) return;
    opt_.qtable[std::string(op)] = r;
    dirty_ = true;
  }
  /// Op `op` back in the global mode.
  void reset_mode(std::string_view op) {
    auto it = opt_.qtable.find(op);
    if (it == opt_.qtable.end()) return;
    opt_.qtable.erase(it);
    dirty_ = true;
  }
  /// The qtable entry of `op`, or the global mode.
  targets::quant_mode mode(std::string_view op) const {
    auto it = opt_.qtable.find(op);
    return it == opt_.qtable.end() ? opt_.mode : it->second;
  }

  /// Tensor `name`'s threshold in the calibration table (its min and max kept; a tensor without a
  /// row gets [-th, th]). The table is imported and propagated again, as model_deploy would.
  void set_threshold(std::string_view name, double threshold) {
    const cali_row* r = find_row(name);
    set_threshold(name, threshold, r ? r->min : -threshold, r ? r->max : threshold);
  }
  void set_threshold(std::string_view name, double threshold, double min, double max) {
    if (!has_table_) throw error("quantized_evaluator: built without a calibration table, no threshold to change");
    if (base_.find_value(name) < 0) throw error("quantized_evaluator: no tensor named \"" + std::string(name) + "\"");
    auto& rows = table_.header.fp8 ? table_.fp8_rows : table_.rows;
    cali_row* row = nullptr;
    for (auto it = rows.rbegin(); it != rows.rend() && !row; ++it)
      if (it->name == name) row = &*it;
    if (!row) row = &rows.emplace_back(cali_row{std::string(name), 0, 0, 0});
    if (row->threshold == threshold && row->min == min && row->max == max) return;
    row->threshold = threshold;
    row->min = min;
    row->max = max;
    recalibrate_ = dirty_ = true;
  }
  /// A whole new table (search_threshold's candidates).
  void set_table(const cali_table& t) {
    if (!has_table_) throw error("quantized_evaluator: built without a calibration table");
    // `#weight_scale` rows become weight attributes, which the lowering keys do not cover.
    if (!(t.weight_scales == table_.weight_scales)) {
      cache_.clear();
      by_id_.clear();
    }
    table_ = t;
    recalibrate_ = dirty_ = true;
  }
  const cali_table& table() const noexcept { return table_; }
  const targets::deploy_options& options() const noexcept { return opt_; }

  // --- samples and runs ---------------------------------------------------------------------------

  /// Registers a sample (inputs by the model's input names); its index for run(sample).
  std::size_t add_sample(named_tensors inputs) {
    samples_.push_back({std::move(inputs), {}, 0, 0});
    return samples_.size() - 1;
  }
  std::size_t samples() const noexcept { return samples_.size(); }
  void clear_samples() {
    samples_.clear();
    stats_.cache_bytes = stats_.cached_samples = 0;
  }

  /// The outputs (f32, in return order) of sample `s`, from the first node the changes since its
  /// last run touched.
  std::vector<std::pair<std::string, tensor>> run(std::size_t s) {
    ensure_built();
    sample& sm = samples_.at(s);
    const graph& g = *lowered_;
    run_options ro;
    // Keep every value only where the cache will take them (else the run frees them as it goes).
    ro.keep_all = !sm.values.empty() || stats_.cache_bytes + std::max<std::size_t>(last_sample_bytes_, 1) <= eo_.cache_budget_bytes;
    std::unordered_map<int, tensor> cache;
    const int start = sm.values.empty() ? 0 : static_cast<int>(sm.valid_nodes);
    auto before = [&](int v) { return g.values[static_cast<std::size_t>(v)].producer < start; };
    if (start > 0) {
      for (std::size_t i = static_cast<std::size_t>(start); i < g.nodes.size(); ++i)
        for (int v : g.nodes[i].operands)
          if (before(v) && sm.values[static_cast<std::size_t>(v)].defined()) cache.emplace(v, sm.values[static_cast<std::size_t>(v)]);
      for (int v : g.outputs)
        if (before(v) && sm.values[static_cast<std::size_t>(v)].defined()) cache.emplace(v, sm.values[static_cast<std::size_t>(v)]);
      ro.start_node = start;
      ro.cache = &cache;
    }
    run_result r = interp_->run(start > 0 ? named_tensors{} : sm.inputs, ro);
    stats_.last_run_nodes = r.nodes_executed;
    stats_.nodes_executed += r.nodes_executed;
    auto outputs = r.outputs();
    // The prefix's values stay valid: a later change may restart between them.
    if (start > 0)
      for (std::size_t v = 0; v < r.values.size() && v < sm.values.size(); ++v)
        if (!r.values[v].defined() && before(static_cast<int>(v))) r.values[v] = std::move(sm.values[v]);
    if (ro.keep_all) store(sm, std::move(r.values));
    return outputs;
  }
  /// Every sample's outputs.
  std::vector<std::vector<std::pair<std::string, tensor>>> run_all() {
    std::vector<std::vector<std::pair<std::string, tensor>>> out;
    std::size_t nodes = 0;
    for (std::size_t s = 0; s < samples_.size(); ++s) {
      out.push_back(run(s));
      nodes += stats_.last_run_nodes;
    }
    stats_.last_run_nodes = nodes;
    return out;
  }
  /// A one-off run of inputs that are not a sample (nothing cached).
  std::vector<std::pair<std::string, tensor>> run(const named_tensors& inputs) {
    ensure_built();
    run_result r = interp_->run(inputs);
    stats_.last_run_nodes = r.nodes_executed;
    stats_.nodes_executed += r.nodes_executed;
    return r.outputs();
  }
  /// Tensor `name` of the lowered graph from sample s's last run (undefined if not cached).
  tensor value(std::size_t s, std::string_view name) {
    ensure_built();
    const int v = lowered_->find_value(name);
    const sample& sm = samples_.at(s);
    if (v < 0 || static_cast<std::size_t>(v) >= sm.values.size() || lowered_->values[static_cast<std::size_t>(v)].producer >= static_cast<int>(sm.valid_nodes))
      return {};
    return sm.values[static_cast<std::size_t>(v)];
  }

  // --- state --------------------------------------------------------------------------------------

  /// The lowered graph with every change so far.
  const graph& lowered() {
    ensure_built();
    return *lowered_;
  }
  /// The calibrated TOP graph the lowering starts from.
  const graph& calibrated() {
    ensure_built();
    return calibrated_;
  }
  const targets::lowering_report& report() {
    ensure_built();
    return report_;
  }
  const evaluator_stats& stats() const noexcept { return stats_; }

 private:
  struct sample {
    named_tensors inputs;
    std::vector<tensor> values;  // by value id of the lowered graph; valid below valid_nodes
    std::size_t valid_nodes = 0;
    std::size_t bytes = 0;
  };

  const cali_row* find_row(std::string_view name) const {
    return table_.header.fp8 ? table_.find_fp8(name) : table_.find(name);
  }

  void calibrate() {
    calibrated_ = base_;
    import_calibration_options io;
    io.asymmetric = opt_.asymmetric;
    io.symmetric_only = opt_.chip->symmetric_calibration;
    io.fp8 = table_.header.fp8;
    import_calibration(calibrated_, table_, io);
    propagate_calibration(calibrated_, *opt_.chip);
  }

  void ensure_built() {
    if (!dirty_) return;
    if (recalibrate_) calibrate();
    recalibrate_ = false;
    rebuild();
  }

  void rebuild() {
    stats_.last_lowerings = stats_.last_replays = 0;
    building_.clear();
    targets::lowering_report rep;
    auto g = std::make_unique<graph>(targets::lower_to_tpu(calibrated_, opt_, rep, this));
    pad_origins(g->nodes.size());
    if (building_.size() != g->nodes.size()) throw error("quantized_evaluator: internal error, node origins out of step with the lowered graph");
    // Prepared states: the cached step's where it has one.
    std::vector<top::prepared_ptr> reuse(g->nodes.size());
    stats_.prepared_reused = stats_.prepared_built = 0;
    for (std::size_t p = 0; p < g->nodes.size(); ++p)
      if (detail::lowering_step* s = step_of(building_[p])) reuse[p] = s->prepared;
    auto interp = std::make_unique<interpreter>(*g, eo_.pool, &reuse);
    std::size_t full = 0;
    for (std::size_t p = 0; p < g->nodes.size(); ++p) {
      const node& n = g->nodes[p];
      if (!n.op->has(top::trait::source)) ++full;
      if (!n.op->prepare) continue;
      if (reuse[p]) ++stats_.prepared_reused;
      else ++stats_.prepared_built;
      if (detail::lowering_step* s = step_of(building_[p])) s->prepared = interp->prepared(static_cast<int>(p));
    }
    // The first node that differs from the previous graph: a cached step in the same place after an
    // equal prefix is the same node; lower_to_tpu's own nodes (inputs, output casts) are compared.
    std::size_t same = 0;
    if (lowered_) {
      const std::size_t n = std::min(g->nodes.size(), lowered_->nodes.size());
      while (same < n && building_[same] == origins_[same] && (building_[same].lowering >= 0 || same_node(*g, *lowered_, same))) ++same;
    }
    stats_.first_changed_node = same;
    for (sample& s : samples_) s.valid_nodes = std::min(s.valid_nodes, same);
    interp_.reset();
    lowered_ = std::move(g);
    interp_ = std::move(interp);
    origins_ = std::move(building_);
    report_ = std::move(rep);
    stats_.full_run_nodes = full;
    ++stats_.rebuilds;
    std::size_t cached = 0;
    for (const auto& [i, v] : cache_) cached += v.size();
    stats_.cached_lowerings = cached;
    dirty_ = false;
  }

  static bool same_node(const graph& a, const graph& b, std::size_t p) {
    const node& x = a.nodes[p];
    const node& y = b.nodes[p];
    if (x.op != y.op || x.operands != y.operands || x.results.size() != y.results.size()) return false;
    for (std::size_t r = 0; r < x.results.size(); ++r)
      if (!(a.values[static_cast<std::size_t>(x.results[r])].type == b.values[static_cast<std::size_t>(y.results[r])].type)) return false;
    return true;
  }

  detail::lowering_step* step_of(const detail::node_origin& o) {
    if (o.lowering < 0) return nullptr;
    auto it = by_id_.find(o.lowering);
    return it == by_id_.end() ? nullptr : &it->second->steps[static_cast<std::size_t>(o.step)];
  }

  void pad_origins(std::size_t nodes) {
    if (building_.size() < nodes) building_.resize(nodes);
  }

  void store(sample& sm, std::vector<tensor> values) {
    stats_.cache_bytes -= sm.bytes;
    if (sm.bytes) --stats_.cached_samples;
    // Activation bytes, each buffer once (shape ops share them); weights belong to the model.
    std::unordered_set<const std::byte*> seen;
    std::size_t bytes = 0;
    for (std::size_t v = 0; v < values.size(); ++v) {
      const tensor& t = values[v];
      const int p = lowered_->values[v].producer;
      if (!t.defined() || (p >= 0 && lowered_->nodes[static_cast<std::size_t>(p)].is<top::weight_op>())) continue;
      if (seen.insert(t.raw()).second) bytes += t.nbytes();
    }
    last_sample_bytes_ = bytes;
    if (stats_.cache_bytes + bytes > eo_.cache_budget_bytes) {
      sm.values.clear();
      sm.valid_nodes = 0;
      sm.bytes = 0;
      return;
    }
    sm.values = std::move(values);
    sm.valid_nodes = lowered_->nodes.size();
    sm.bytes = std::max<std::size_t>(bytes, 1);
    stats_.cache_bytes += sm.bytes;
    ++stats_.cached_samples;
  }

  // --- lowering_observer ---------------------------------------------------------------------------

  static detail::lowering_key key_of(targets::lowering_context& c, int i) {
    const node& n = c.top_node(i);
    detail::lowering_key k;
    k.mode = c.mode_of(i);
    k.operands = n.operands;
    for (int v : n.operands) k.top_types.push_back(c.top_value(v).type.quant);
    for (int r : n.results) k.top_types.push_back(c.top_value(r).type.quant);
    for (int v : n.operands) {
      if (c.top_value(v).type.is_none || c.constant(v)) continue;
      const int x = c.mapped(v);
      k.in_types.push_back(c.out_type(x));
      k.in_names.push_back(c.out().values[static_cast<std::size_t>(x)].name);
    }
    return k;
  }

  /// Where a recorded reference points now (steps: the values this replay gave them).
  static int resolve(targets::lowering_context& c, const detail::lowered_ref& r, const std::vector<int>& step_node, const std::vector<int>& step_value) {
    switch (r.k) {
      case detail::lowered_ref::kind::none: return c.none();
      case detail::lowered_ref::kind::mapped: return c.mapped(r.a);
      case detail::lowered_ref::kind::step: {
        const int node_index = step_node[static_cast<std::size_t>(r.a)];
        return node_index >= 0 ? c.result(node_index, r.b) : step_value[static_cast<std::size_t>(r.a)];
      }
    }
    return -1;
  }

  /// For a name-sensitive lowering: does each cast resolve as it did when recorded?
  static bool casts_as_recorded(targets::lowering_context& c, const detail::cached_lowering& f) {
    for (std::size_t s = 0; s < f.steps.size(); ++s) {
      const detail::lowering_step& st = f.steps[s];
      if (st.k != detail::lowering_step::kind::cast) continue;
      if (st.operands[0].k != detail::lowered_ref::kind::mapped) return false;
      const int in = c.mapped(st.operands[0].a);
      bool earlier = false;  // an earlier step of this lowering made the same cast
      for (std::size_t e = 0; e < s && !earlier; ++e)
        earlier = f.steps[e].k == detail::lowering_step::kind::cast && f.steps[e].created && f.steps[e].operands[0].k == st.operands[0].k &&
                  f.steps[e].operands[0].a == st.operands[0].a && f.steps[e].types[0] == st.types[0];
      if (earlier) continue;
      const int have = c.find_cast(in, st.types[0]);
      if (st.created ? have >= 0 : (have < 0 || c.out().values[static_cast<std::size_t>(have)].name != st.names[0])) return false;
    }
    return true;
  }

  bool replay(targets::lowering_context& c, int i) override {
    pad_origins(c.out().nodes.size());
    mode_before_ = c.report().ops_per_mode;
    notes_before_ = c.report().notes.size();
    pending_key_ = key_of(c, i);
    auto it = cache_.find(i);
    if (it != cache_.end())
      for (auto& f : it->second)
        if (f->key == pending_key_ && (!f->name_sensitive || casts_as_recorded(c, *f))) {
          emit(c, i, *f);
          ++stats_.replays;
          ++stats_.last_replays;
          return true;
        }
    trace_.weights.clear();
    trace_.casts.clear();
    c.set_trace(&trace_);
    return false;
  }

  void emit(targets::lowering_context& c, int i, const detail::cached_lowering& f) {
    std::vector<int> step_node(f.steps.size(), -1), step_value(f.steps.size(), -1);
    for (std::size_t s = 0; s < f.steps.size(); ++s) {
      const detail::lowering_step& st = f.steps[s];
      const std::size_t before = c.out().nodes.size();
      if (st.k == detail::lowering_step::kind::cast) {
        step_value[s] = c.cast(resolve(c, st.operands[0], step_node, step_value), st.types[0], st.consumer);
      } else if (st.k == detail::lowering_step::kind::weight) {
        step_value[s] = c.add_weight(st.requested, st.data, st.types[0].quant);
      } else {
        std::vector<int> ops;
        ops.reserve(st.operands.size());
        for (const auto& r : st.operands) ops.push_back(resolve(c, r, step_node, step_value));
        step_node[s] = c.out().add_node(*st.op, std::move(ops), st.types, st.names, st.attrs);
      }
      if (c.out().nodes.size() > before) {
        if (st.k != detail::lowering_step::kind::op) step_node[s] = static_cast<int>(before);
        building_.push_back({f.id, static_cast<int>(s)});
      }
    }
    const node& n = c.top_node(i);
    for (std::size_t r = 0; r < n.results.size(); ++r) c.map(n.results[r], resolve(c, f.results[r], step_node, step_value));
    for (const auto& [m, k] : f.ops_per_mode) c.report().ops_per_mode[m] += k;
    for (const auto& note : f.notes) c.report().notes.push_back(note);
  }

  void lowered(targets::lowering_context& c, int i, int first) override {
    c.set_trace(nullptr);
    ++stats_.lowerings;
    ++stats_.last_lowerings;
    auto f = std::make_unique<detail::cached_lowering>();
    f->id = next_id_++;
    f->key = std::move(pending_key_);
    const graph& out = c.out();
    const node& tn = c.top_node(i);
    const int end = static_cast<int>(out.nodes.size());
    std::unordered_map<int, std::pair<int, int>> local;  // lowered value -> (step, result)
    auto classify = [&](int x, detail::lowered_ref& r) {
      if (auto it = local.find(x); it != local.end()) {
        r = {detail::lowered_ref::kind::step, it->second.first, it->second.second};
        return true;
      }
      if (x == c.none()) {
        r = {detail::lowered_ref::kind::none, 0, 0};
        return true;
      }
      for (int v : tn.operands)
        if (!c.top_value(v).type.is_none && !c.constant(v) && c.mapped(v) == x) {
          r = {detail::lowered_ref::kind::mapped, v, 0};
          return true;
        }
      return false;
    };
    std::size_t ci = 0;
    auto shared_casts = [&](int upto) {  // casts shared with earlier consumers, asked before node `upto`
      while (ci < trace_.casts.size() && !trace_.casts[ci].created && trace_.casts[ci].at_node <= upto) {
        const auto& u = trace_.casts[ci++];
        detail::lowering_step st;
        st.k = detail::lowering_step::kind::cast;
        st.operands.resize(1);
        f->cacheable &= classify(u.input, st.operands[0]);
        st.types = {u.type};
        st.names = {out.values[static_cast<std::size_t>(u.result)].name};
        st.consumer = u.consumer;
        local.emplace(u.result, std::make_pair(static_cast<int>(f->steps.size()), 0));
        f->steps.push_back(std::move(st));
      }
    };
    for (int p = first; p < end && f->cacheable; ++p) {
      shared_casts(p);
      const node& n = out.nodes[static_cast<std::size_t>(p)];
      detail::lowering_step st;
      if (ci < trace_.casts.size() && trace_.casts[ci].created && trace_.casts[ci].at_node == p) {
        const auto& u = trace_.casts[ci++];
        st.k = detail::lowering_step::kind::cast;
        st.created = true;
        st.operands.resize(1);
        f->cacheable &= classify(u.input, st.operands[0]);
        st.types = {u.type};
        st.consumer = u.consumer;
      } else if (n.is<top::weight_op>()) {
        st.k = detail::lowering_step::kind::weight;
        const std::string& name = out.values[static_cast<std::size_t>(n.results[0])].name;
        auto w = out.weights.find(name);
        auto t = std::find_if(trace_.weights.begin(), trace_.weights.end(), [&](const auto& e) { return e.value == n.results[0]; });
        if (w == out.weights.end() || t == trace_.weights.end()) {  // e.g. a weight a rule dropped again before falling back
          f->cacheable = false;
          break;
        }
        st.requested = t->requested;
        st.data = w->second;
      } else {
        st.op = n.op;
        st.attrs = n.attrs;
        st.operands.resize(n.operands.size());
        for (std::size_t k = 0; k < n.operands.size(); ++k) f->cacheable &= classify(n.operands[k], st.operands[k]);
      }
      st.types.resize(n.results.size());
      st.names.resize(n.results.size());
      for (std::size_t r = 0; r < n.results.size(); ++r) {
        const value_info& vi = out.values[static_cast<std::size_t>(n.results[r])];
        st.types[r] = vi.type;
        st.names[r] = vi.name;
        local[n.results[r]] = {static_cast<int>(f->steps.size()), static_cast<int>(r)};
      }
      building_.push_back({f->id, static_cast<int>(f->steps.size())});
      f->steps.push_back(std::move(st));
    }
    if (f->cacheable) shared_casts(end);
    if (f->cacheable && ci != trace_.casts.size()) f->cacheable = false;
    if (f->cacheable) {
      f->results.resize(tn.results.size());
      for (std::size_t r = 0; r < tn.results.size(); ++r) f->cacheable &= classify(c.mapped(tn.results[r]), f->results[r]);
    }
    // Names derived from a cast's name make the lowering depend on who made the cast.
    for (const auto& st : f->steps) {
      if (st.k != detail::lowering_step::kind::cast) continue;
      const std::string& cast_name = st.names[0];
      for (const auto& other : f->steps)
        if (other.k == detail::lowering_step::kind::op)
          for (const auto& nm : other.names)
            if (!cast_name.empty() && nm.find(cast_name) != std::string::npos) f->name_sensitive = true;
    }
    for (const auto& [m, k] : c.report().ops_per_mode) {
      auto b = mode_before_.find(m);
      const std::size_t was = b == mode_before_.end() ? 0 : b->second;
      if (k > was) f->ops_per_mode[m] = k - was;
    }
    f->notes.assign(c.report().notes.begin() + static_cast<std::ptrdiff_t>(notes_before_), c.report().notes.end());
    pad_origins(out.nodes.size());  // an uncacheable lowering's remaining nodes
    if (!f->cacheable) {
      for (int p = first; p < end; ++p) building_[static_cast<std::size_t>(p)] = {f->id, -1};
      building_.resize(static_cast<std::size_t>(end));
      return;  // its rule runs again next time; its fresh id keeps its nodes from matching anything
    }
    auto& variants = cache_[i];
    by_id_[f->id] = f.get();
    variants.push_back(std::move(f));
    if (variants.size() > std::max<std::size_t>(1, eo_.variants_per_op)) {
      by_id_.erase(variants.front()->id);
      variants.erase(variants.begin());
    }
  }

  graph base_;
  cali_table table_;
  bool has_table_ = false;
  targets::deploy_options opt_;
  evaluator_options eo_;
  graph calibrated_;
  bool dirty_ = true, recalibrate_ = false;

  std::unique_ptr<graph> lowered_;
  std::unique_ptr<interpreter> interp_;
  targets::lowering_report report_;
  std::vector<detail::node_origin> origins_, building_;
  std::vector<sample> samples_;
  std::size_t last_sample_bytes_ = 0;  // what one sample's cache took last time
  evaluator_stats stats_;

  // Cached lowerings per TOP node index, and by id.
  std::unordered_map<int, std::vector<std::unique_ptr<detail::cached_lowering>>> cache_;
  std::unordered_map<int, detail::cached_lowering*> by_id_;
  int next_id_ = 0;
  // The lowering in progress.
  targets::lowering_trace trace_;
  detail::lowering_key pending_key_;
  std::map<std::string, std::size_t> mode_before_;
  std::size_t notes_before_ = 0;
};

}  // namespace mixq
