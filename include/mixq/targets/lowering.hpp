#pragma once
// TOP -> TPU lowering (model_deploy): every TOP op becomes TPU ops in its mode (qtable entry or
// `--quantize`), INT8 ops through the rule of the processor's arithmetic family, float ops through
// their TPU twins; casts are inserted where precisions meet, graph outputs return in f32.
//
// INT8 rules are specialisations `int8_rule<Op, Family>`; an op without one falls back to the
// generic rule: ops that only move values stay INT8 with their input's type, the others take the
// chip's float type (reported). The table the pass looks rules up in is derived from the one op list.
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mixq/dialect/top/op_list.hpp"
#include "mixq/dialect/ops.hpp"
#include "mixq/targets/lowering_context.hpp"
#include "mixq/targets/rules_bm168x.hpp"
#include "mixq/targets/rules_bm168x_eltwise.hpp"
#include "mixq/targets/rules_common.hpp"
#include "mixq/targets/rules_cv18xx_bm1684.hpp"
#include "mixq/targets/rules_weight_only.hpp"

namespace mixq::targets {

using rule_fn = void (*)(lowering_context&, int);

/// No specific rule: see the generic fallback in int8_rule_table.
template <class Op, arithmetic_family F>
struct int8_rule {
  static constexpr rule_fn fn = nullptr;
};

// BM168x family (bm1684x, bm1688, bm1690, cv186x): lowering_spec §4.
template <> struct int8_rule<top::conv_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::conv_bm168x; };
template <> struct int8_rule<top::add_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::add_bm168x; };
template <> struct int8_rule<top::avg_pool_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::avgpool_bm168x; };
template <> struct int8_rule<top::matmul_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::matmul_bm168x; };
template <> struct int8_rule<top::sub_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::sub_bm168x; };
template <> struct int8_rule<top::mul_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::mul_bm168x; };
template <> struct int8_rule<top::mul_const_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::mul_const_bm168x; };
template <> struct int8_rule<top::add_const_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::add_const_bm168x; };
template <> struct int8_rule<top::softmax_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::softmax_bm168x; };
template <> struct int8_rule<top::concat_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::concat_bm168x; };
template <> struct int8_rule<top::leaky_relu_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::leaky_relu_bm168x; };
template <> struct int8_rule<top::clip_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::clip_bm168x; };
template <> struct int8_rule<top::prelu_op, arithmetic_family::bm168x> { static constexpr rule_fn fn = rules::prelu_bm168x; };
// CV18xx (§6) and BM1684 (§5).
template <> struct int8_rule<top::conv_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::conv_cv18xx; };
template <> struct int8_rule<top::add_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::add_cv18xx; };
template <> struct int8_rule<top::avg_pool_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::avgpool_cv18xx; };
template <> struct int8_rule<top::matmul_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::matmul_cv18xx; };
template <> struct int8_rule<top::mul_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::mul_cv18xx; };
template <> struct int8_rule<top::concat_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::concat_cv18xx; };
template <> struct int8_rule<top::leaky_relu_op, arithmetic_family::cv18xx> { static constexpr rule_fn fn = rules::leaky_relu_cv18xx; };
template <> struct int8_rule<top::conv_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::conv_bm1684; };
template <> struct int8_rule<top::matmul_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::matmul_bm1684; };
template <> struct int8_rule<top::add_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::add_bm1684; };
template <> struct int8_rule<top::avg_pool_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::avgpool_bm1684; };
template <> struct int8_rule<top::mul_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::mul_bm1684; };
template <> struct int8_rule<top::concat_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::concat_bm1684; };
template <> struct int8_rule<top::leaky_relu_op, arithmetic_family::bm1684> { static constexpr rule_fn fn = rules::leaky_relu_bm1684; };
// Relu, every family (§4.8, §6: relu_limit -1; asymmetric -> F32, a limit on CV18xx -> BF16).
template <arithmetic_family F> struct int8_rule<top::relu_op, F> { static constexpr rule_fn fn = rules::relu_int8; };
// Table activations, every family (§4.9, §6).
template <arithmetic_family F> struct int8_rule<top::sigmoid_op, F> { static constexpr rule_fn fn = rules::lut_int8; };
template <arithmetic_family F> struct int8_rule<top::silu_op, F> { static constexpr rule_fn fn = rules::lut_int8; };
template <arithmetic_family F> struct int8_rule<top::gelu_op, F> { static constexpr rule_fn fn = rules::lut_int8; };
template <arithmetic_family F> struct int8_rule<top::hard_swish_op, F> { static constexpr rule_fn fn = rules::lut_int8; };
template <arithmetic_family F> struct int8_rule<top::hard_sigmoid_op, F> { static constexpr rule_fn fn = rules::lut_int8; };
template <arithmetic_family F> struct int8_rule<top::tanh_op, F> { static constexpr rule_fn fn = rules::lut_int8; };

namespace detail {

/// Ops whose INT8 form moves integers unchanged (lowering_common_int8).
inline bool moves_values(std::string_view op) {
  static constexpr std::string_view names[] = {"top.Reshape", "top.Permute", "top.Squeeze", "top.Unsqueeze", "top.Slice",
                                               "top.Pad",     "top.MaxPool", "top.Upsample", "top.Depth2Space", "top.Tile",
                                               "top.Relu",    "top.Flatten"};
  return std::find(std::begin(names), std::end(names), op) != std::end(names);
}

inline void generic_int8(lowering_context& c, int i) {
  const node& n = c.top_node(i);
  if (moves_values(n.mnemonic())) return rules::lower_move_int8(c, i);
  const dtype f = rules::float_dtype(c.chip().auto_float);
  c.note(i, std::string(n.mnemonic()) + " has no INT8 lowering in mixq yet: lowered to " + std::string(rules::mode_label(f)));
  rules::lower_float(c, i, f);
}

/// `--quant_input` / `--quant_output` (TPU-MLIR's StripIOQuant, applied here to the `_tpu.mlir`
/// since mixq writes no bmodel): an input whose only users are one tpu.Cast takes that cast's
/// type and the cast goes; an output produced by a tpu.Cast back to f32 is returned uncast. The
/// graph is rebuilt without the removed casts; what could not be stripped is reported.
inline graph strip_io_casts(const graph& g, bool inputs, bool outputs, lowering_report& report) {
  const auto users = g.users();
  std::vector<char> drop(g.nodes.size(), 0);
  std::vector<int> replace(g.values.size(), -1);  // a dropped cast's result -> the value it stands for (in g)
  std::vector<std::optional<tensor_type>> arg_type(g.values.size());
  if (inputs)
    for (int i : g.input_nodes()) {
      const node& in = g.nodes[static_cast<std::size_t>(i)];
      const int v = in.results[0];
      const auto& us = users[static_cast<std::size_t>(v)];
      const bool returned = std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
      if (us.size() != 1 || returned || g.nodes[static_cast<std::size_t>(us[0])].mnemonic() != "tpu.Cast") {
        report.notes.push_back({g.node_name(i), "--quant_input: kept in " + std::string(name(g.values[static_cast<std::size_t>(v)].type.elem)) +
                                                    " (its users do not all take one cast of it)"});
        continue;
      }
      const node& cast = g.nodes[static_cast<std::size_t>(us[0])];
      drop[static_cast<std::size_t>(us[0])] = 1;
      replace[static_cast<std::size_t>(cast.results[0])] = v;
      arg_type[static_cast<std::size_t>(v)] = g.values[static_cast<std::size_t>(cast.results[0])].type;
    }
  std::vector<int> outs = g.outputs;
  if (outputs)
    for (int& o : outs) {
      const int p = g.values[static_cast<std::size_t>(o)].producer;
      if (p < 0 || g.nodes[static_cast<std::size_t>(p)].mnemonic() != "tpu.Cast") continue;
      const int src = g.nodes[static_cast<std::size_t>(p)].operands[0];
      if (users[static_cast<std::size_t>(o)].empty() && std::count(g.outputs.begin(), g.outputs.end(), o) == 1) drop[static_cast<std::size_t>(p)] = 1;
      o = src;
    }
  graph out;
  out.name = g.name;
  out.legacy_module_form = g.legacy_module_form;
  out.function_name = g.function_name;
  out.module_attributes = g.module_attributes;
  out.weights = g.weights;
  std::vector<int> map(g.values.size(), -1);
  // An input's argument takes its new type too.
  std::vector<std::optional<tensor_type>> arg_new(g.values.size());
  for (int i : g.input_nodes()) {
    const node& in = g.nodes[static_cast<std::size_t>(i)];
    if (arg_type[static_cast<std::size_t>(in.results[0])]) arg_new[static_cast<std::size_t>(in.operands[0])] = arg_type[static_cast<std::size_t>(in.results[0])];
  }
  for (int a : g.arguments) {
    const value_info& vi = g.values[static_cast<std::size_t>(a)];
    map[static_cast<std::size_t>(a)] = out.add_argument(arg_new[static_cast<std::size_t>(a)] ? *arg_new[static_cast<std::size_t>(a)] : vi.type, vi.name);
  }
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const node& n = g.nodes[i];
    if (drop[i]) {
      --report.casts;
      continue;
    }
    std::vector<int> ops;
    for (int v : n.operands) {
      const int src = replace[static_cast<std::size_t>(v)] >= 0 ? replace[static_cast<std::size_t>(v)] : v;
      ops.push_back(map[static_cast<std::size_t>(src)]);
    }
    std::vector<tensor_type> types;
    std::vector<std::string> names;
    for (int r : n.results) {
      const auto& t = arg_type[static_cast<std::size_t>(r)];
      types.push_back(t ? *t : g.values[static_cast<std::size_t>(r)].type);
      names.push_back(g.values[static_cast<std::size_t>(r)].name);
    }
    const int k = out.add_node(*n.op, std::move(ops), std::move(types), std::move(names), n.attrs);
    for (std::size_t r = 0; r < n.results.size(); ++r)
      map[static_cast<std::size_t>(n.results[r])] = out.nodes[static_cast<std::size_t>(k)].results[r];
  }
  for (int o : outs) out.outputs.push_back(map[static_cast<std::size_t>(o)]);
  return out;
}

inline rule_fn or_generic(rule_fn f) { return f != nullptr ? f : &generic_int8; }

template <arithmetic_family F, class... Ops>
std::unordered_map<std::string_view, rule_fn> make_rule_table(top::op_list<Ops...>) {
  std::unordered_map<std::string_view, rule_fn> t;
  ((t[Ops::mnemonic] = or_generic(int8_rule<Ops, F>::fn)), ...);
  return t;
}

}  // namespace detail

/// Whether `--matmul_perchannel` applies (TPU-MLIR sets matmulPerchannelQuant on bm1684x and
/// bm1688 only).
inline bool supports_matmul_perchannel(const processor_info& chip) {
  return std::string_view(chip.name) == "bm1684x" || std::string_view(chip.name) == "bm1688";
}

/// The INT8 rule of a TOP op for a processor family.
inline rule_fn int8_rule_for(arithmetic_family f, std::string_view mnemonic) {
  static const auto bm168x = detail::make_rule_table<arithmetic_family::bm168x>(top::all_ops{});
  static const auto bm1684 = detail::make_rule_table<arithmetic_family::bm1684>(top::all_ops{});
  static const auto cv18xx = detail::make_rule_table<arithmetic_family::cv18xx>(top::all_ops{});
  const auto& table = f == arithmetic_family::bm168x ? bm168x : f == arithmetic_family::bm1684 ? bm1684 : cv18xx;
  auto it = table.find(mnemonic);
  return it == table.end() ? &detail::generic_int8 : it->second;
}

/// TPU-MLIR's weight file name of a lowered module (Module.cpp genWeightFileName).
inline std::string lowered_weight_file_name(std::string_view module_name, const processor_info& chip, quant_mode mode, bool asymmetric) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
  };
  std::string name = lower(std::string(module_name)) + "_tpu_lowered_" + std::string(chip.name) + "_" + lower(std::string(mode_name(mode)));
  if (mode == quant_mode::INT8) name += asymmetric ? "_asym" : "_sym";
  return name + "_weight.npz";
}

/// Lets a caller stand in for the rule of single TOP ops: the quantized evaluator replays the
/// lowerings it cached instead of quantizing the same weights again (targets/evaluator.hpp).
struct lowering_observer {
  virtual ~lowering_observer() = default;
  /// Before the rule of TOP op i runs: true if the observer emitted op i itself.
  virtual bool replay(lowering_context& c, int i) = 0;
  /// After the rule lowered TOP op i into the nodes [first_node, end) of the lowered graph.
  virtual void lowered(lowering_context& c, int i, int first_node) = 0;
};

/// Lowers `top` (TOP_CALIBRATED for integer modes, or TOP_F32/TOP_CALIBRATED for float modes).
inline graph lower_to_tpu(const graph& top, const deploy_options& opt, lowering_report& report, lowering_observer* observer = nullptr) {
  if (!opt.chip) throw error("lowering: no processor");
  require_mode(*opt.chip, opt.mode);
  if (opt.asymmetric && !opt.chip->asymmetric) throw error(std::string(opt.chip->name) + " does not support --asymmetric");
  if (opt.matmul_perchannel && !supports_matmul_perchannel(*opt.chip))
    throw error("--matmul_perchannel: per-channel MatMul is a bm1684x/bm1688 INT8 option (TPU-MLIR ignores it on " + std::string(opt.chip->name) + ")");
  graph out;
  out.name = top.name;
  out.legacy_module_form = top.legacy_module_form;
  out.function_name = top.function_name;
  out.module_attributes = top.module_attributes;
  lowering_context c(top, out, opt, report);
  std::vector<int> arg_map(top.values.size(), -1);
  for (int a : top.arguments) {
    tensor_type t = top.values[static_cast<std::size_t>(a)].type;
    t.quant.clear();
    arg_map[static_cast<std::size_t>(a)] = out.add_argument(t, top.values[static_cast<std::size_t>(a)].name);
  }
  for (std::size_t i = 0; i < top.nodes.size(); ++i) {
    const node& n = top.nodes[i];
    if (n.is<top::none_op>()) {
      const int k = c.emit("top.None", {}, {tensor_type::none()}, {""});
      c.set_none(c.result(k));
      c.map(n.results[0], c.result(k));
      continue;
    }
    if (n.is<top::weight_op>()) continue;  // the consumers' rules make the lowered weights
    if (n.is<top::input_op>()) {
      const int k = out.add_node(*n.op, {arg_map[static_cast<std::size_t>(n.operands[0])]}, {top.values[static_cast<std::size_t>(n.results[0])].type},
                                 {top.values[static_cast<std::size_t>(n.results[0])].name}, n.attrs);
      c.map(n.results[0], c.result(k));
      continue;
    }
    if (c.none() < 0) {  // TOP graphs always start with top.None; a hand-made one may not
      const int k = c.emit("top.None", {}, {tensor_type::none()}, {""});
      c.set_none(c.result(k));
    }
    if (observer && observer->replay(c, static_cast<int>(i))) continue;
    const int first_node = static_cast<int>(out.nodes.size());
    const quant_mode m = c.mode_of(static_cast<int>(i));
    if (m == quant_mode::INT8 || m == quant_mode::INT4) {
      if (m == quant_mode::INT4) c.note(static_cast<int>(i), "INT4 is lowered as INT8 (mixq has no INT4 lowering yet)");
      int8_rule_for(opt.chip->arithmetic, n.mnemonic())(c, static_cast<int>(i));
    } else if (rules::is_weight_only(m) && n.is<top::matmul_op>()) {
      rules::a16_matmul(c, static_cast<int>(i), m);
    } else {
      rules::lower_float(c, static_cast<int>(i), rules::float_dtype(m));
    }
    if (observer) observer->lowered(c, static_cast<int>(i), first_node);
  }
  for (int v : top.outputs) out.outputs.push_back(c.as_float(v, dtype::f32, ""));
  auto& ma = out.module_attributes;
  ma.set("module.state", attribute(std::string("TPU_LOWERED")));
  ma.set("module.chip", attribute(std::string(opt.chip->name)));
  ma.set("module.mode", attribute(std::string(mode_name(opt.mode))));
  ma.set("module.asymmetric", attribute(opt.asymmetric));
  ma.set("module.high_precision", attribute(opt.high_precision));
  ma.set("module.weight_file", attribute(lowered_weight_file_name(top.name, *opt.chip, opt.mode, opt.asymmetric)));
  if (opt.quant_input || opt.quant_output) out = detail::strip_io_casts(out, opt.quant_input, opt.quant_output, report);
  out.verify(true);
  return out;
}

/// An f32 input tensor in the type a `--quant_input` graph takes for input `name`: quantized (or
/// rounded to f16/bf16) exactly as the tpu.Cast the option removed would have done; other inputs
/// are returned as they are.
inline tensor to_input_type(const graph& g, const std::string& name, const tensor& t) {
  const int node_index = g.find_node(name);
  if (node_index < 0 || !g.nodes[static_cast<std::size_t>(node_index)].is<top::input_op>()) return t;
  const tensor_type& want = g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(node_index)].results[0])].type;
  if (!is_floating(t.elem()) || (want.quant.empty() && (want.elem == t.elem() || !is_floating(want.elem)))) return t;
  const tensor_type in_t{t.elem(), want.shape};
  const tensor x = t.reshaped(want.shape);
  const tensor* ins[1] = {&x};
  const tensor_type* in_types[1] = {&in_t};
  tensor outs[1];
  const tensor_type out_types[1] = {want};
  top::kernel_context k{ins, outs, out_types, nullptr, in_types, &g.module_attributes};
  tpu::cast_op::reference(k, {});
  return outs[0];
}

}  // namespace mixq::targets
