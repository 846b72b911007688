#pragma once
// Structural edits on a graph: dropping dead ops, renumbering values.
#include <vector>

#include "mixq/graph/graph.hpp"

namespace mixq {

/// Keeps only the nodes with keep[i] set (and the values they define), renumbering values.
/// Every kept node's operands must be kept values.
inline void compact(graph& g, const std::vector<char>& keep) {
  std::vector<int> new_id(g.values.size(), -1);
  graph out;
  out.name = g.name;
  out.module_attributes = g.module_attributes;
  out.legacy_module_form = g.legacy_module_form;
  out.function_name = g.function_name;
  for (int a : g.arguments) {
    new_id[static_cast<std::size_t>(a)] = static_cast<int>(out.values.size());
    out.values.push_back(g.values[static_cast<std::size_t>(a)]);
    out.arguments.push_back(new_id[static_cast<std::size_t>(a)]);
  }
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (!keep[i]) continue;
    node n = std::move(g.nodes[i]);
    for (int& v : n.operands) {
      if (new_id[static_cast<std::size_t>(v)] < 0) throw error("compact: a kept op reads a removed value");
      v = new_id[static_cast<std::size_t>(v)];
    }
    const int idx = static_cast<int>(out.nodes.size());
    for (std::size_t r = 0; r < n.results.size(); ++r) {
      value_info vi = g.values[static_cast<std::size_t>(n.results[r])];
      vi.producer = idx;
      new_id[static_cast<std::size_t>(n.results[r])] = static_cast<int>(out.values.size());
      out.values.push_back(std::move(vi));
      n.results[r] = new_id[static_cast<std::size_t>(n.results[r])];
    }
    if (n.op && n.op->mnemonic == top::weight_op::mnemonic) {
      const std::string& name = out.values[static_cast<std::size_t>(n.results[0])].name;
      auto it = g.weights.find(name);
      if (it != g.weights.end()) out.weights[name] = it->second;
    }
    out.nodes.push_back(std::move(n));
  }
  for (int o : g.outputs) {
    if (new_id[static_cast<std::size_t>(o)] < 0) throw error("compact: a graph output was removed");
    out.outputs.push_back(new_id[static_cast<std::size_t>(o)]);
  }
  g = std::move(out);
}

/// Removes ops whose results nobody reads (top.None and top.Input always stay).
inline void remove_dead_ops(graph& g) {
  std::vector<int> uses(g.values.size(), 0);
  for (int o : g.outputs) ++uses[static_cast<std::size_t>(o)];
  for (const auto& n : g.nodes)
    for (int v : n.operands) ++uses[static_cast<std::size_t>(v)];
  std::vector<char> keep(g.nodes.size(), 1);
  for (std::size_t i = g.nodes.size(); i-- > 0;) {
    const node& n = g.nodes[i];
    if (n.is<top::none_op>() || n.is<top::input_op>()) continue;
    bool used = false;
    for (int r : n.results) used |= uses[static_cast<std::size_t>(r)] > 0;
    if (!used) {
      keep[i] = 0;
      for (int v : n.operands) --uses[static_cast<std::size_t>(v)];
    }
  }
  compact(g, keep);
}

}  // namespace mixq
