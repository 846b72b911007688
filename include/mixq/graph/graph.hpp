#pragma once
// The in-memory form of a TOP-dialect module: one function, ops in topological order,
// SSA values named by their `loc`, weights by name.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mixq/core/attribute.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/dialect/ops.hpp"
#include "mixq/dialect/top/source.hpp"

namespace mixq {

/// One SSA value. `producer` is the node index, or -1 for a function argument.
struct value_info {
  std::string name;  // the loc name; empty for loc(unknown)
  tensor_type type;
  int producer = -1;
  int result_index = 0;
  friend bool operator==(const value_info&, const value_info&) = default;
};

/// One op instance.
struct node {
  const top::op_info* op = nullptr;
  std::vector<int> operands;  // value ids
  std::vector<int> results;   // value ids
  attr_dict attrs;            // as written; what the printer prints
  top::attr_ptr decoded;      // `attrs` decoded into the op's attributes struct

  std::string_view mnemonic() const { return op ? op->mnemonic : std::string_view{}; }
  template <class Op> const typename Op::attributes& attributes() const {
    if (!op || op->mnemonic != Op::mnemonic)
      throw error("mixq: node is " + std::string(mnemonic()) + ", not " + std::string(Op::mnemonic));
    return *static_cast<const typename Op::attributes*>(decoded.get());
  }
  template <class Op> bool is() const noexcept { return op && op->mnemonic == Op::mnemonic; }
};

class graph {
 public:
  std::string name;                 // module symbol name
  attr_dict module_attributes;      // module.chip, module.state, module.weight_file...
  bool legacy_module_form = false;  // `module attributes {module.name = ...}` without a symbol name
  std::string function_name = "main";
  std::vector<int> arguments;  // value ids of the function arguments
  std::vector<node> nodes;     // topological order
  std::vector<value_info> values;
  std::vector<int> outputs;    // returned value ids
  std::unordered_map<std::string, tensor> weights;  // keyed by top.Weight name

  int add_argument(tensor_type type, std::string name = {}) {
    values.push_back({std::move(name), std::move(type), -1, static_cast<int>(arguments.size())});
    arguments.push_back(static_cast<int>(values.size()) - 1);
    return arguments.back();
  }

  /// Appends an op. `attrs` is decoded (and so validated) against the op's attribute struct;
  /// the error names the op. Returns the node index.
  int add_node(const top::op_info& op, std::vector<int> operands, std::vector<tensor_type> result_types,
               std::vector<std::string> result_names, attr_dict attrs = {}) {
    node n;
    n.op = &op;
    const std::string label = describe(op.mnemonic, result_names);
    for (int v : operands)
      if (v < 0 || v >= static_cast<int>(values.size())) throw error(label + ": operand refers to an unknown value");
    const auto [min_ops, max_ops] = op.operand_count_range();
    if (operands.size() < min_ops || (max_ops >= 0 && static_cast<long>(operands.size()) > max_ops))
      throw error(label + ": takes " + count_text(min_ops, max_ops) + " operands, got " + std::to_string(operands.size()));
    if (op.num_results >= 0 && result_types.size() != static_cast<std::size_t>(op.num_results))
      throw error(label + ": has " + std::to_string(op.num_results) + " results, got " + std::to_string(result_types.size()));
    if (result_names.size() != result_types.size()) result_names.resize(result_types.size());
    try {
      n.decoded = op.decode(attrs);
    } catch (const error& e) {
      throw error(label + ": " + e.what());
    }
    n.attrs = std::move(attrs);
    n.operands = std::move(operands);
    const int id = static_cast<int>(nodes.size());
    for (std::size_t i = 0; i < result_types.size(); ++i) {
      values.push_back({std::move(result_names[i]), std::move(result_types[i]), id, static_cast<int>(i)});
      n.results.push_back(static_cast<int>(values.size()) - 1);
    }
    nodes.push_back(std::move(n));
    return id;
  }

  /// Same, with attributes given as the op's typed struct.
  template <class Op>
  int add(std::vector<int> operands, std::vector<tensor_type> result_types, std::vector<std::string> result_names,
          const typename Op::attributes& attrs = {}) {
    attr_dict d;
    top::encode_attributes(attrs, d);
    return add_node(top::ops().at(Op::mnemonic), std::move(operands), std::move(result_types), std::move(result_names),
                    std::move(d));
  }

  /// Replaces a node's attributes with a typed struct (re-encodes, keeping unknown keys).
  template <class Op> void set_attributes(int node_index, const typename Op::attributes& attrs) {
    node& n = nodes.at(static_cast<std::size_t>(node_index));
    top::encode_attributes(attrs, n.attrs);
    n.decoded = n.op->decode(n.attrs);
  }

  /// Value id by name, or -1.
  int find_value(std::string_view value_name) const {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i].name == value_name) return static_cast<int>(i);
    return -1;
  }
  /// Node index by the name of any of its results, or -1.
  int find_node(std::string_view value_name) const {
    const int v = find_value(value_name);
    return v < 0 ? -1 : values[static_cast<std::size_t>(v)].producer;
  }
  /// The `top.Input` nodes, in argument order.
  std::vector<int> input_nodes() const {
    std::vector<int> out;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].is<top::input_op>()) out.push_back(static_cast<int>(i));
    return out;
  }
  /// users[v] = indices of the nodes that read value v (a node appears once per use).
  std::vector<std::vector<int>> users() const {
    std::vector<std::vector<int>> u(values.size());
    for (std::size_t i = 0; i < nodes.size(); ++i)
      for (int v : nodes[i].operands) u[static_cast<std::size_t>(v)].push_back(static_cast<int>(i));
    return u;
  }
  /// `module.weight_file`, if set.
  std::string weight_file() const {
    if (auto a = module_attributes.find("module.weight_file"))
      if (auto s = a->get_if<std::string>()) return *s;
    return {};
  }
  /// A node's name: its first result's name (what TPU-MLIR's tables call the op).
  const std::string& node_name(int node_index) const {
    static const std::string empty;
    const node& n = nodes.at(static_cast<std::size_t>(node_index));
    return n.results.empty() ? empty : values[static_cast<std::size_t>(n.results[0])].name;
  }

  /// Structural and type checks: operands defined before use, result types agree with
  /// shape inference, weights present with the right element count. Throws on the first problem.
  void verify(bool check_weights = true) const;

 private:
  static std::string describe(std::string_view mnemonic, const std::vector<std::string>& names) {
    std::string s(mnemonic);
    if (!names.empty() && !names[0].empty()) s += " \"" + names[0] + "\"";
    return s;
  }
  static std::string count_text(std::size_t min, long max) {
    if (max < 0) return "at least " + std::to_string(min);
    if (static_cast<long>(min) == max) return std::to_string(min);
    return std::to_string(min) + " to " + std::to_string(max);
  }
};

inline void graph::verify(bool check_weights) const {
  std::vector<char> defined(values.size(), 0);
  for (int a : arguments) defined[static_cast<std::size_t>(a)] = 1;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node& n = nodes[i];
    std::vector<std::string> names;
    for (int r : n.results) names.push_back(values[static_cast<std::size_t>(r)].name);
    const std::string label = describe(n.mnemonic(), names);
    for (int v : n.operands)
      if (!defined[static_cast<std::size_t>(v)]) throw error(label + ": uses a value before it is defined");
    if (n.is<top::weight_op>()) {
      if (check_weights) {
        const std::string& w = values[static_cast<std::size_t>(n.results[0])].name;
        auto it = weights.find(w);
        if (it == weights.end()) throw error(label + ": no weight named \"" + w + "\" in the weight file");
        const tensor_type& t = values[static_cast<std::size_t>(n.results[0])].type;
        if (it->second.numel() != t.numel())
          throw error(label + ": weight has " + std::to_string(it->second.numel()) + " elements, its type " +
                      to_string(t.shape) + " needs " + std::to_string(t.numel()));
      }
    } else if (!n.op->has(top::trait::source)) {
      std::vector<const tensor_type*> in;
      std::vector<const tensor*> consts;
      for (int v : n.operands) {
        const auto& vi = values[static_cast<std::size_t>(v)];
        in.push_back(&vi.type);
        const tensor* c = nullptr;
        if (vi.producer >= 0 && nodes[static_cast<std::size_t>(vi.producer)].is<top::weight_op>()) {
          auto it = weights.find(vi.name);
          if (it != weights.end()) c = &it->second;
        }
        consts.push_back(c);
      }
      std::vector<tensor_type> declared;
      for (int r : n.results) declared.push_back(values[static_cast<std::size_t>(r)].type);
      top::infer_context ctx{in, consts, n.results.size(), declared};
      std::vector<tensor_type> inferred;
      try {
        inferred = n.op->infer(ctx, n.decoded.get());
      } catch (const error& e) {
        throw error(label + ": " + e.what());
      }
      if (inferred.size() != n.results.size())
        throw error(label + ": shape inference gives " + std::to_string(inferred.size()) + " results, the op has " +
                    std::to_string(n.results.size()));
      for (std::size_t r = 0; r < inferred.size(); ++r) {
        const tensor_type& have = values[static_cast<std::size_t>(n.results[r])].type;
        if (have.is_none) continue;  // an unused optional result (Arg's values, TopK's indices)
        if (have.shape != inferred[r].shape)
          throw error(label + ": result " + std::to_string(r) + " has type " + to_string(have.shape) +
                      " but its operands give " + to_string(inferred[r].shape));
      }
    }
    for (int r : n.results) defined[static_cast<std::size_t>(r)] = 1;
  }
  for (int o : outputs)
    if (!defined[static_cast<std::size_t>(o)]) throw error("the function returns a value that is never defined");
}

}  // namespace mixq
