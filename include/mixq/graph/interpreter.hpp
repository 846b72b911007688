#pragma once
// Runs a graph in float. Built once per graph (attributes decoded, weights bound and
// packed), then run many times; calibration and search drive it through hooks.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/graph.hpp"

namespace mixq {

/// Observation and substitution points. An empty std::function costs one branch per op.
struct run_hooks {
  /// After `node` produced result `result_index`. The hook may assign a new tensor to `t`
  /// (e.g. its fake-quantized copy); every consumer then sees the new one. Write into t's
  /// buffer only if `t.use_count() == 1`: shape ops share buffers with their inputs.
  std::function<void(int node, int result_index, tensor& t)> on_output;
  /// Before `node` runs, once per operand: `t` is what this node alone will read. Assigning
  /// to it changes this consumer's view only (fake-quantizing one op's inputs).
  std::function<void(int node, int operand_index, tensor& t)> on_input;
};

struct run_options {
  const run_hooks* hooks = nullptr;
  /// Keep every value (dump_all_tensors); otherwise an activation is freed after its last use.
  bool keep_all = false;
  /// Value names to keep besides the graph outputs.
  std::vector<std::string> keep;
  /// Start at this node; values produced before it that later nodes read must be in `cache`
  /// (keyed by value id). Inputs are then not needed unless a later node reads them.
  int start_node = 0;
  const std::unordered_map<int, tensor>* cache = nullptr;
  /// Stop after this node (-1: run to the end).
  int stop_node = -1;
};

struct run_result {
  std::vector<tensor> values;  // indexed by value id; defined where kept
  std::size_t peak_activation_bytes = 0;
  std::size_t nodes_executed = 0;  // kernels run (source ops not counted): less than the graph's when started late
  const graph* g = nullptr;

  /// Graph outputs by name, in return order.
  std::vector<std::pair<std::string, tensor>> outputs() const {
    std::vector<std::pair<std::string, tensor>> out;
    for (int v : g->outputs) out.emplace_back(g->values[static_cast<std::size_t>(v)].name, values[static_cast<std::size_t>(v)]);
    return out;
  }
  const tensor& at(std::string_view name) const {
    const int v = g->find_value(name);
    if (v < 0 || !values[static_cast<std::size_t>(v)].defined()) throw error("no tensor named \"" + std::string(name) + "\" was kept");
    return values[static_cast<std::size_t>(v)];
  }
  /// Every kept tensor by name (unnamed values are skipped).
  named_tensors named() const {
    named_tensors out;
    for (std::size_t v = 0; v < values.size(); ++v)
      if (values[v].defined() && !g->values[v].name.empty()) out.emplace(g->values[v].name, values[v]);
    return out;
  }
};

class interpreter {
 public:
  /// `reuse[i]`, when given and set, is node i's prepared state from an interpreter of an equal
  /// node (same op, attributes, types and constants): the quantized evaluator keeps the packed
  /// weights of the ops a change did not touch.
  explicit interpreter(const graph& g, thread_pool* pool = nullptr, const std::vector<top::prepared_ptr>* reuse = nullptr) : g_(g), pool_(pool) {
    g_.verify(true);
    constants_.resize(g_.values.size());
    prepared_.resize(g_.nodes.size());
    last_use_.assign(g_.values.size(), -1);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      for (int v : g_.nodes[i].operands) last_use_[static_cast<std::size_t>(v)] = static_cast<int>(i);
    for (int v : g_.outputs) last_use_[static_cast<std::size_t>(v)] = static_cast<int>(g_.nodes.size());
    result_types_.resize(g_.nodes.size());
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      for (int r : g_.nodes[i].results) result_types_[i].push_back(g_.values[static_cast<std::size_t>(r)].type);
    operand_types_.resize(g_.nodes.size());
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      for (int v : g_.nodes[i].operands) operand_types_[i].push_back(&g_.values[static_cast<std::size_t>(v)].type);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const node& n = g_.nodes[i];
      if (n.is<top::weight_op>()) {
        const int v = n.results[0];
        const value_info& vi = g_.values[static_cast<std::size_t>(v)];
        const tensor& w = g_.weights.at(vi.name);
        if (w.elem() != vi.type.elem)
          throw error("weight \"" + vi.name + "\" holds " + std::string(name(w.elem())) + " but its op says " +
                      std::string(name(vi.type.elem)));
        constants_[static_cast<std::size_t>(v)] = w.shape() == vi.type.shape ? w : w.reshaped(vi.type.shape);
      }
    }
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const node& n = g_.nodes[i];
      if (!n.op->prepare) continue;
      if (reuse && i < reuse->size() && (*reuse)[i]) {
        prepared_[i] = (*reuse)[i];
        continue;
      }
      std::vector<const tensor_type*> types;
      std::vector<const tensor*> consts;
      for (int v : n.operands) {
        types.push_back(&g_.values[static_cast<std::size_t>(v)].type);
        const tensor& c = constants_[static_cast<std::size_t>(v)];
        consts.push_back(c.defined() ? &c : nullptr);
      }
      std::vector<tensor_type> results;
      for (int r : n.results) results.push_back(g_.values[static_cast<std::size_t>(r)].type);
      top::prepare_context ctx{types, consts, results, &g_.module_attributes};
      prepared_[i] = n.op->prepare(ctx, n.decoded.get());
    }
  }

  const graph& model() const noexcept { return g_; }
  /// Node i's prepared state (null for ops without one).
  const top::prepared_ptr& prepared(int i) const { return prepared_.at(static_cast<std::size_t>(i)); }

  /// Value v's constant (a `top.Weight` result, shaped as its op says), or an undefined tensor.
  const tensor& constant(int v) const { return constants_.at(static_cast<std::size_t>(v)); }

  /// Runs node i's kernel alone on `operands` (null where the operand is none). Results go to
  /// `outs`; a defined tensor there is written in place (kernels fill `kernel_context::out`), so
  /// a caller can hand in a view of its own buffer. `result_types` default to the node's declared
  /// ones; a caller running the kernel on part of an element-wise op's tensors passes the part's
  /// types and no operand types. Per-call cost is the kernel's alone: the auto-tuner runs single
  /// ops tens of thousands of times, where `run` would set up the whole graph's value table.
  void compute_node(int i, std::span<const tensor* const> operands, std::span<tensor> outs,
                    std::span<const tensor_type> result_types = {}, bool pass_operand_types = true) const {
    const node& n = g_.nodes.at(static_cast<std::size_t>(i));
    if (n.op->has(top::trait::source)) throw error(describe(i) + ": a source op has no kernel to run");
    if (operands.size() != n.operands.size()) throw error(describe(i) + ": given the wrong number of operands");
    if (outs.size() != n.results.size()) throw error(describe(i) + ": given the wrong number of results");
    const bool declared = result_types.empty();
    top::kernel_context ctx{operands, outs, declared ? std::span<const tensor_type>(result_types_[static_cast<std::size_t>(i)]) : result_types,
                            pool_,
                            pass_operand_types ? std::span<const tensor_type* const>(operand_types_[static_cast<std::size_t>(i)])
                                               : std::span<const tensor_type* const>{},
                            &g_.module_attributes};
    try {
      n.op->compute(ctx, n.decoded.get(), prepared_[static_cast<std::size_t>(i)].get());
    } catch (const error& e) {
      throw error(describe(i) + ": " + e.what());
    }
    for (std::size_t r = 0; r < outs.size(); ++r)
      if (!outs[r].defined()) ctx.out(r);
  }

  /// The input rows of node i's operand 0 that its output rows [out_begin, out_end) read, when
  /// its op computes row bands (top::row_band) for this instance; else nullopt.
  std::optional<std::pair<std::int64_t, std::int64_t>> band_input_rows(int i, std::int64_t out_begin, std::int64_t out_end) const {
    const node& n = g_.nodes.at(static_cast<std::size_t>(i));
    if (!n.op->band_input_rows || !n.op->compute_band || !prepared_[static_cast<std::size_t>(i)]) return std::nullopt;
    return n.op->band_input_rows(n.decoded.get(), operand_types_[static_cast<std::size_t>(i)], out_begin, out_end);
  }

  /// Runs node i on one row band: operand 0 is the copy of the band's input rows, `out` (shaped
  /// `out_type`) receives the band's output rows.
  void compute_node_band(int i, std::span<const tensor* const> operands, const top::row_band& band, tensor& out,
                         const tensor_type& out_type) const {
    const node& n = g_.nodes.at(static_cast<std::size_t>(i));
    if (!n.op->compute_band) throw error(describe(i) + ": the op does not run in row bands");
    if (operands.size() != n.operands.size()) throw error(describe(i) + ": given the wrong number of operands");
    tensor outs[1] = {out};
    const tensor_type types[1] = {out_type};
    top::kernel_context ctx{operands, outs, types, pool_, {}, &g_.module_attributes};
    try {
      n.op->compute_band(ctx, n.decoded.get(), prepared_[static_cast<std::size_t>(i)].get(), band);
    } catch (const error& e) {
      throw error(describe(i) + ": " + e.what());
    }
    if (outs[0].raw() != out.raw()) throw error(describe(i) + ": the band kernel did not write the band's output");
  }

  /// Runs on inputs keyed by the graph's input names (the `top.Input` result names).
  run_result run(const named_tensors& inputs, const run_options& opt = {}) const {
    const std::size_t nv = g_.values.size();
    run_result res;
    res.g = &g_;
    res.values.resize(nv);
    std::vector<tensor>& live = res.values;
    std::vector<char> keep(nv, 0);
    for (int v : g_.outputs) keep[static_cast<std::size_t>(v)] = 1;
    for (const auto& k : opt.keep) {
      const int v = g_.find_value(k);
      if (v < 0) throw error("cannot keep \"" + k + "\": no such tensor");
      keep[static_cast<std::size_t>(v)] = 1;
    }
    memory_meter meter;
    const int end = opt.stop_node < 0 ? static_cast<int>(g_.nodes.size()) : std::min<int>(opt.stop_node + 1, static_cast<int>(g_.nodes.size()));
    if (opt.cache)
      for (const auto& [v, t] : *opt.cache) {
        if (v < 0 || static_cast<std::size_t>(v) >= nv) throw error("cache holds an unknown value id");
        live[static_cast<std::size_t>(v)] = t;
      }
    bind_inputs(inputs, opt, live);
    const run_hooks* hooks = opt.hooks;
    std::vector<const tensor*> in_ptrs;
    std::vector<tensor> in_override;
    std::vector<tensor> outs;  // reused: no allocation per op once it has grown
    for (int i = std::max(0, opt.start_node); i < end; ++i) {
      const node& n = g_.nodes[static_cast<std::size_t>(i)];
      if (n.op->has(top::trait::source)) {
        if (n.is<top::weight_op>()) live[static_cast<std::size_t>(n.results[0])] = constants_[static_cast<std::size_t>(n.results[0])];
        else if (n.is<top::input_op>()) {
          const int arg = n.operands[0];
          if (!live[static_cast<std::size_t>(arg)].defined() && !live[static_cast<std::size_t>(n.results[0])].defined())
            throw error("input \"" + g_.node_name(i) + "\" was not given");
          tensor& result = live[static_cast<std::size_t>(n.results[0])];
          if (!result.defined()) result = live[static_cast<std::size_t>(arg)];
          if (!opt.keep_all) live[static_cast<std::size_t>(arg)] = tensor{};
          if (hooks && hooks->on_output) hooks->on_output(i, 0, result);
          meter.add(result);
        }
        continue;
      }
      in_ptrs.clear();
      if (hooks && hooks->on_input) in_override.assign(n.operands.size(), tensor{});
      for (std::size_t k = 0; k < n.operands.size(); ++k) {
        const int v = n.operands[k];
        const tensor& t = live[static_cast<std::size_t>(v)];
        const bool is_none = g_.values[static_cast<std::size_t>(v)].type.is_none;
        if (!t.defined() && !is_none)
          throw error(describe(i) + ": operand " + std::to_string(k) + " (\"" + g_.values[static_cast<std::size_t>(v)].name +
                      "\") is not available" + (opt.start_node > 0 ? " (missing from the cache)" : ""));
        if (hooks && hooks->on_input && !is_none) {
          in_override[k] = t;
          hooks->on_input(i, static_cast<int>(k), in_override[k]);
          in_ptrs.push_back(&in_override[k]);
        } else {
          in_ptrs.push_back(is_none ? nullptr : &t);
        }
      }
      outs.clear();
      outs.resize(n.results.size());
      top::kernel_context ctx{in_ptrs, outs, result_types_[static_cast<std::size_t>(i)], pool_,
                              operand_types_[static_cast<std::size_t>(i)], &g_.module_attributes};
      ++res.nodes_executed;
      try {
        n.op->compute(ctx, n.decoded.get(), prepared_[static_cast<std::size_t>(i)].get());
      } catch (const error& e) {
        throw error(describe(i) + ": " + e.what());
      }
      for (std::size_t r = 0; r < outs.size(); ++r) {
        if (!outs[r].defined()) ctx.out(r);  // kernels that leave a result untouched produce zeros-free garbage otherwise
        if (hooks && hooks->on_output) hooks->on_output(i, static_cast<int>(r), outs[r]);
        live[static_cast<std::size_t>(n.results[r])] = std::move(outs[r]);
        meter.add(live[static_cast<std::size_t>(n.results[r])]);
      }
      in_override.clear();
      if (!opt.keep_all)
        for (int v : n.operands) {
          auto& t = live[static_cast<std::size_t>(v)];
          if (last_use_[static_cast<std::size_t>(v)] <= i && !keep[static_cast<std::size_t>(v)] && t.defined()) {
            meter.remove(t);
            t = tensor{};
          }
        }
      if (!opt.keep_all)
        for (int r : n.results)
          if (last_use_[static_cast<std::size_t>(r)] < 0 && !keep[static_cast<std::size_t>(r)]) {
            meter.remove(live[static_cast<std::size_t>(r)]);
            live[static_cast<std::size_t>(r)] = tensor{};
          }
    }
    res.peak_activation_bytes = meter.peak;
    return res;
  }

 private:
  /// Counts each buffer once, however many tensors view it. A flat list: few buffers are live at
  /// once, and a hash map's node allocation per op showed in the run time of small models.
  struct memory_meter {
    struct entry {
      const std::byte* buffer;
      std::size_t bytes;
      int views;
    };
    std::vector<entry> buffers;
    std::size_t current = 0, peak = 0;
    entry* find(const std::byte* p) {
      for (auto& e : buffers)
        if (e.buffer == p) return &e;
      return nullptr;
    }
    void add(const tensor& t) {
      if (!t.defined()) return;
      if (entry* e = find(t.raw())) {
        ++e->views;
        return;
      }
      buffers.push_back({t.raw(), t.nbytes(), 1});
      current += t.nbytes();
      peak = std::max(peak, current);
    }
    void remove(const tensor& t) {
      entry* e = find(t.raw());
      if (!e || --e->views > 0) return;
      current -= e->bytes;
      *e = buffers.back();
      buffers.pop_back();
    }
  };

  std::string describe(int i) const {
    const node& n = g_.nodes[static_cast<std::size_t>(i)];
    std::string s(n.mnemonic());
    const std::string& nm = g_.node_name(i);
    if (!nm.empty()) s += " \"" + nm + "\"";
    return s;
  }

  void bind_inputs(const named_tensors& inputs, const run_options& opt, std::vector<tensor>& live) const {
    for (const auto& [key, t] : inputs) {
      int node_index = -1;
      for (int i : g_.input_nodes())
        if (g_.node_name(i) == key) node_index = i;
      if (node_index < 0) {
        std::string names;
        for (int i : g_.input_nodes()) names += (names.empty() ? "" : ", ") + g_.node_name(i);
        throw error("no input named \"" + key + "\" (the model's inputs: " + names + ")");
      }
      const node& n = g_.nodes[static_cast<std::size_t>(node_index)];
      const tensor_type& want = g_.values[static_cast<std::size_t>(n.results[0])].type;
      if (numel(t.shape()) != want.numel())
        throw error("input \"" + key + "\" has shape " + to_string(t.shape()) + ", the model expects " + to_string(want.shape));
      // A quantized input (a `--quant_input` model) takes its stored integers: converting floats
      // to them numerically would ignore the scale, so that is refused.
      if (!want.quant.empty() && is_integer(want.elem) && t.elem() != want.elem)
        throw error("input \"" + key + "\" is quantized (" + std::string(name(want.elem)) + ", " + want.quant + "): give its " +
                    std::string(name(want.elem)) + " integers, not " + std::string(name(t.elem())) + " values");
      tensor v = t.elem() == want.elem ? t : t.cast(want.elem);
      if (v.shape() != want.shape) v = v.reshaped(want.shape);
      live[static_cast<std::size_t>(n.operands[0])] = v;
    }
    if (opt.start_node <= 0)
      for (int i : g_.input_nodes()) {
        const node& n = g_.nodes[static_cast<std::size_t>(i)];
        if (!live[static_cast<std::size_t>(n.operands[0])].defined() && !live[static_cast<std::size_t>(n.results[0])].defined())
          throw error("input \"" + g_.node_name(i) + "\" was not given");
      }
  }

  const graph& g_;
  thread_pool* pool_;
  std::vector<tensor> constants_;
  std::vector<top::prepared_ptr> prepared_;
  std::vector<int> last_use_;
  std::vector<std::vector<tensor_type>> result_types_;  // per node, what kernel_context::out allocates
  std::vector<std::vector<const tensor_type*>> operand_types_;  // per node, the declared operand types
};

}  // namespace mixq
