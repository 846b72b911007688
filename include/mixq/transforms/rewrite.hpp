#pragma once
// The editing toolkit the graph passes share: a use index kept up to date while ops are
// rewired, replaced in place or killed, weight creation, and the final reordering that puts
// new weights before their first reader.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/graph/edit.hpp"
#include "mixq/graph/graph.hpp"

namespace mixq::transforms {

/// The ONNX output name behind a TPU-MLIR loc `<output>_<OpType>`: the loc minus its last
/// `_<suffix>` (ONNX op types contain no '_'). A name without '_' is returned unchanged.
inline std::string onnx_output_name(std::string_view loc) {
  const auto cut = loc.rfind('_');
  return std::string(cut == std::string_view::npos ? loc : loc.substr(0, cut));
}

/// Graph edits with an always-correct use index. Killed nodes lose their operands and result
/// names; `finish()` drops them (and everything else that became dead) and restores a
/// topological order in which new weights sit right before their first reader.
class rewriter {
 public:
  explicit rewriter(graph& g) : g_(g) { rebuild(); }

  graph& model() noexcept { return g_; }
  const graph& model() const noexcept { return g_; }
  node& at(int n) { return g_.nodes[static_cast<std::size_t>(n)]; }
  const node& at(int n) const { return g_.nodes[static_cast<std::size_t>(n)]; }
  const value_info& value(int v) const { return g_.values[static_cast<std::size_t>(v)]; }
  value_info& value(int v) { return g_.values[static_cast<std::size_t>(v)]; }
  const std::string& name_of(int v) const { return value(v).name; }
  const shape_t& shape_of(int v) const { return value(v).type.shape; }

  bool alive(int n) const { return alive_[static_cast<std::size_t>(n)] != 0; }
  std::size_t node_count() const { return g_.nodes.size(); }

  /// Readers of value v (one entry per use; graph outputs are counted by `use_count`).
  const std::vector<int>& users(int v) const { return users_[static_cast<std::size_t>(v)]; }
  /// Uses of v including being returned by the function.
  std::size_t use_count(int v) const {
    return users(v).size() + static_cast<std::size_t>(std::count(g_.outputs.begin(), g_.outputs.end(), v));
  }
  bool single_use(int v) const { return use_count(v) == 1; }

  /// The node producing v, or -1 (function argument).
  int producer(int v) const { return value(v).producer; }
  /// The producer of operand i of node n when it is a live op of type Op, else -1.
  template <class Op> int producer_if(int v) const {
    const int p = producer(v);
    return p >= 0 && alive(p) && g_.nodes[static_cast<std::size_t>(p)].is<Op>() ? p : -1;
  }

  /// The constant behind v when it is a top.Weight.
  const tensor* weight_of(int v) const {
    const int p = producer(v);
    if (p < 0 || !g_.nodes[static_cast<std::size_t>(p)].is<top::weight_op>()) return nullptr;
    auto it = g_.weights.find(name_of(v));
    return it == g_.weights.end() ? nullptr : &it->second;
  }
  /// v's value when it is a one-element float weight.
  std::optional<double> scalar_weight(int v) const {
    const tensor* t = weight_of(v);
    if (!t || t->numel() != 1) return std::nullopt;
    return t->cast(dtype::f64).data<double>()[0];
  }

  /// Points every reader of `from` (and the function's results) at `to`.
  void replace_uses(int from, int to) {
    if (from == to) return;
    for (int n : users_[static_cast<std::size_t>(from)]) {
      for (int& v : at(n).operands)
        if (v == from) v = to;
      users_[static_cast<std::size_t>(to)].push_back(n);
    }
    users_[static_cast<std::size_t>(from)].clear();
    for (int& o : g_.outputs)
      if (o == from) o = to;
  }

  void set_operand(int n, std::size_t i, int v) {
    int& slot = at(n).operands.at(i);
    auto& old_users = users_[static_cast<std::size_t>(slot)];
    old_users.erase(std::find(old_users.begin(), old_users.end(), n));
    slot = v;
    users_[static_cast<std::size_t>(v)].push_back(n);
  }
  void set_operands(int n, std::vector<int> operands) {
    for (int v : at(n).operands) {
      auto& u = users_[static_cast<std::size_t>(v)];
      u.erase(std::find(u.begin(), u.end(), n));
    }
    at(n).operands = std::move(operands);
    for (int v : at(n).operands) users_[static_cast<std::size_t>(v)].push_back(n);
  }

  /// Removes node n from the computation: its results must have no readers left.
  void kill(int n) {
    set_operands(n, {});
    for (int r : at(n).results) {
      if (use_count(r) != 0) throw error("mixq transforms: killing an op whose result is still read");
      value(r).name.clear();
    }
    alive_[static_cast<std::size_t>(n)] = 0;
  }
  /// Replaces node n's result 0 by value v everywhere, then kills n.
  void bypass(int n, int v) {
    replace_uses(at(n).results[0], v);
    kill(n);
  }

  /// Gives node `n`'s result 0 the name of value `from` (the name moves; `from` goes unnamed).
  void take_name(int n, int from) {
    std::string name = name_of(from);
    value(from).name.clear();
    value(at(n).results[0]).name = std::move(name);
  }

  /// Turns node n into an `Op` with new operands and attributes; its results (ids, names and
  /// types) stay.
  template <class Op> void replace_op(int n, std::vector<int> operands, const typename Op::attributes& attrs = {}) {
    node& nd = at(n);
    nd.op = &top::ops().at(Op::mnemonic);
    nd.attrs = attr_dict{};
    top::encode_attributes(attrs, nd.attrs);
    nd.decoded = nd.op->decode(nd.attrs);
    set_operands(n, std::move(operands));
  }
  /// Re-decodes n after its attribute dictionary was edited.
  void set_attr(int n, std::string key, attribute a) {
    node& nd = at(n);
    nd.attrs.set(std::move(key), std::move(a));
    nd.decoded = nd.op->decode(nd.attrs);
  }

  /// A new top.Weight named `name` (made unique) holding t; returns its value id.
  int add_weight(const std::string& name, tensor t) {
    std::string unique = name;
    for (int k = 1; g_.find_value(unique) >= 0 || g_.weights.count(unique); ++k) unique = name + "_" + std::to_string(k);
    const int n = g_.add<top::weight_op>({}, {t.type()}, {unique});
    g_.weights[unique] = std::move(t);
    alive_.push_back(1);
    users_.resize(g_.values.size());
    return g_.nodes[static_cast<std::size_t>(n)].results[0];
  }

  /// The value of the function's top.None (added when the graph has none).
  int none_value() {
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (alive_[i] && g_.nodes[i].is<top::none_op>()) return g_.nodes[i].results[0];
    const int n = g_.add<top::none_op>({}, {tensor_type::none()}, {""});
    alive_.push_back(1);
    users_.resize(g_.values.size());
    return g_.nodes[static_cast<std::size_t>(n)].results[0];
  }

  /// Reorders, drops dead ops and their weights, verifies.
  void finish() {
    reorder();
    remove_dead_ops(g_);  // also forgets the weights no kept op names
    g_.verify(true);
    rebuild();
  }

 private:
  void rebuild() {
    users_ = g_.users();
    alive_.assign(g_.nodes.size(), 1);
  }

  /// Original order, except that an op's producers are emitted before it (new weights were
  /// appended at the end). Killed ops go last; remove_dead_ops drops them.
  void reorder() {
    const std::size_t n = g_.nodes.size();
    std::vector<char> placed(n, 0);
    std::vector<int> order;
    order.reserve(n);
    std::vector<std::pair<int, std::size_t>> stack;
    for (std::size_t i = 0; i < n; ++i) {
      if (placed[i] || !alive_[i]) continue;
      stack.push_back({static_cast<int>(i), 0});
      while (!stack.empty()) {
        auto& [node_index, next] = stack.back();
        const auto& ops = g_.nodes[static_cast<std::size_t>(node_index)].operands;
        if (next < ops.size()) {
          const int p = g_.values[static_cast<std::size_t>(ops[next++])].producer;
          if (p >= 0 && !placed[static_cast<std::size_t>(p)]) {
            placed[static_cast<std::size_t>(p)] = 1;  // marks before the push: no duplicates
            stack.push_back({p, 0});
          }
          continue;
        }
        placed[static_cast<std::size_t>(node_index)] = 1;
        order.push_back(node_index);
        stack.pop_back();
      }
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!alive_[i]) order.push_back(static_cast<int>(i));
    std::vector<node> nodes;
    nodes.reserve(n);
    for (std::size_t k = 0; k < order.size(); ++k) {
      nodes.push_back(std::move(g_.nodes[static_cast<std::size_t>(order[k])]));
      for (int r : nodes.back().results) g_.values[static_cast<std::size_t>(r)].producer = static_cast<int>(k);
    }
    g_.nodes = std::move(nodes);
    alive_.assign(n, 1);
  }

  graph& g_;
  std::vector<std::vector<int>> users_;
  std::vector<char> alive_;
};

namespace detail {
inline bool near(double a, double b, double tol = 1e-6) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }

/// `do_relu` / `relu_limit` of an op, read from its attribute dictionary (defaults if absent).
inline bool has_relu(const node& n) {
  if (auto a = n.attrs.find("do_relu"))
    if (auto b = a->get_if<bool>()) return *b;
  return false;
}
inline double relu_limit_of(const node& n) {
  if (auto a = n.attrs.find("relu_limit"))
    if (auto f = a->get_if<float_attr>()) return f->value;
  return -1.0;
}
inline bool supports_attr(const node& n, std::string_view key) {
  return std::find(n.op->attribute_names.begin(), n.op->attribute_names.end(), key) != n.op->attribute_names.end();
}
}  // namespace detail

}  // namespace mixq::transforms
