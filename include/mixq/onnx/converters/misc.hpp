#pragma once
// ONNX Split, Tile, Expand, DepthToSpace, SpaceToDepth and Einsum.
#include <algorithm>
#include <cctype>
#include <numeric>
#include <type_traits>
#include <string>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/onnx/converters/table.hpp"

namespace mixq::onnx {

namespace detail {

/// Split: sizes from the `split` attribute before opset 13, from a constant input after; equal
/// parts (one per output) when absent.
inline void convert_split(import_context& ctx, const node_proto& n) {
  const ref x = ctx.input(n, 0);
  const shape_t in = ctx.shape_of(x);
  const std::int64_t axis = top::normalize_axis(attr_int(n, "axis", 0), in.size());
  std::vector<std::int64_t> sizes;
  if (ctx.opset() < 13) sizes = attr_ints(n, "split");
  else if (ctx.num_inputs(n) > 1) sizes = to_int64_vector(ctx.constant_input(n, 1, "split"));
  const auto outputs = static_cast<std::int64_t>(n.outputs.size());
  if (outputs == 0) throw error("Split has no outputs");
  const std::int64_t len = in[static_cast<std::size_t>(axis)];
  if (sizes.empty()) {
    if (len % outputs != 0)
      throw error("axis " + std::to_string(axis) + " of " + to_string(in) + " does not split into " + std::to_string(outputs) +
                  " equal parts");
    sizes.assign(static_cast<std::size_t>(outputs), len / outputs);
  }
  if (static_cast<std::int64_t>(sizes.size()) != outputs)
    throw error("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(outputs) + " outputs");
  if (std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}) != len)
    throw error("split sizes do not add up to " + std::to_string(len));
  top::split_op::attributes at;
  at.axis = top::si32(axis);
  at.num = outputs;
  at.split_size = sizes;
  std::vector<std::string> names;
  for (const auto& o : n.outputs) names.push_back(o + "_" + n.op_type);
  const auto results = ctx.emit<top::split_op>({x}, at, names);
  for (std::size_t i = 0; i < results.size(); ++i) define_output(ctx, n, i, results[i]);
}

inline void convert_tile(import_context& ctx, const node_proto& n) {
  top::tile_op::attributes at;
  at.tile = to_int64_vector(ctx.constant_input(n, 1, "repeats"));
  define_output(ctx, n, 0, ctx.emit<top::tile_op>({ctx.input(n, 0), ref{}}, at, {import_context::loc_name(n)})[0]);
}

inline void convert_expand(import_context& ctx, const node_proto& n) {
  top::expand_op::attributes at;
  at.shape = to_int64_vector(ctx.constant_input(n, 1, "shape"));
  define_output(ctx, n, 0, ctx.emit<top::expand_op>({ctx.input(n, 0), ref{}}, at, {import_context::loc_name(n)})[0]);
}

/// DepthToSpace (DCR or CRD) and SpaceToDepth (the inverse of DCR) are one TOP op.
inline void convert_depth_to_space(import_context& ctx, const node_proto& n) {
  const std::int64_t block = attr_int(n, "blocksize", 0);
  if (block <= 0) throw error("blocksize must be positive");
  top::depth2space_op::attributes at;
  at.block_h = block;
  at.block_w = block;
  at.is_inversed = n.op_type == "SpaceToDepth";
  const std::string mode = attr_string(n, "mode", "DCR");
  if (mode != "DCR" && mode != "CRD") throw error("unknown mode \"" + mode + "\"");
  at.is_CRD = !*at.is_inversed && mode == "CRD";
  define_output(ctx, n, 0, ctx.emit<top::depth2space_op>({ctx.input(n, 0)}, at, {import_context::loc_name(n)})[0]);
}

// ---- Einsum ----

struct einsum_equation {
  std::vector<std::string> inputs;
  std::string output;
};

inline einsum_equation parse_einsum(const std::string& text, std::size_t operands) {
  std::string eq;
  for (char c : text)
    if (c != ' ') eq += c;
  if (eq.find("...") != std::string::npos) throw error("Einsum equation \"" + text + "\" uses '...', which is not supported");
  einsum_equation e;
  const auto arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  for (std::size_t b = 0;;) {
    const auto comma = lhs.find(',', b);
    e.inputs.push_back(lhs.substr(b, comma == std::string::npos ? std::string::npos : comma - b));
    if (comma == std::string::npos) break;
    b = comma + 1;
  }
  if (arrow != std::string::npos) {
    e.output = eq.substr(arrow + 2);
  } else {  // implicit mode: the letters used once, in alphabetical order
    std::string all;
    for (const auto& t : e.inputs) all += t;
    std::string sorted = all;
    std::sort(sorted.begin(), sorted.end());
    for (char c : sorted)
      if (std::count(all.begin(), all.end(), c) == 1) e.output += c;
  }
  if (e.inputs.size() != operands)
    throw error("Einsum equation \"" + text + "\" has " + std::to_string(e.inputs.size()) + " terms for " +
                std::to_string(operands) + " inputs");
  for (const auto& t : e.inputs)
    for (char c : t)
      if (!std::isalpha(static_cast<unsigned char>(c))) throw error("Einsum equation \"" + text + "\" is malformed");
  return e;
}

/// The equation with letters renamed a, b, c... in order of first use, the spelling TOP's modes use.
inline std::string canonical_einsum(const einsum_equation& e) {
  std::string map(128, 0), out;
  char next = 'a';
  auto rename = [&](const std::string& term) {
    std::string r;
    for (char c : term) {
      auto& m = map[static_cast<unsigned char>(c)];
      if (!m) m = next++;
      r += m;
    }
    return r;
  };
  for (std::size_t i = 0; i < e.inputs.size(); ++i) {
    if (i) out += ',';
    out += rename(e.inputs[i]);
  }
  out += "->";
  out += rename(e.output);
  return out;
}

inline ref emit_permute(import_context& ctx, const ref& x, const std::vector<std::int64_t>& order, const std::string& loc) {
  bool identity = true;
  for (std::size_t i = 0; i < order.size(); ++i) identity = identity && order[i] == static_cast<std::int64_t>(i);
  if (identity) return x;
  top::permute_op::attributes at;
  at.order = order;
  return ctx.emit<top::permute_op>({x}, at, {loc})[0];
}
inline ref emit_reshape_to(import_context& ctx, const ref& x, const shape_t& shape, const std::string& loc) {
  if (ctx.shape_of(x) == shape) return x;
  top::reshape_op::attributes at;
  at.shape = shape;
  return ctx.emit<top::reshape_op>({x, ref{}}, at, {loc})[0];
}

/// Sums the letters of `term` that `keep` does not list; returns the remaining term.
inline std::string einsum_sum_out(import_context& ctx, ref& x, const std::string& term, const std::string& keep,
                                  const std::string& loc) {
  std::vector<std::int64_t> axes;
  std::string rest;
  for (std::size_t i = 0; i < term.size(); ++i) {
    if (keep.find(term[i]) == std::string::npos) axes.push_back(static_cast<std::int64_t>(i));
    else rest += term[i];
  }
  if (axes.empty()) return term;
  top::reduce_op::attributes at;
  at.axes = axes;
  at.keepdims = rest.empty();
  at.mode.value.value = "ReduceSum";
  x = ctx.emit<top::reduce_op>({x}, at, {loc})[0];
  return rest;
}

inline std::vector<std::int64_t> positions(const std::string& term, const std::string& letters) {
  std::vector<std::int64_t> p;
  for (char c : letters) p.push_back(static_cast<std::int64_t>(term.find(c)));
  return p;
}

/// Equations TOP's Einsum lacks, with one or two operands and no repeated letter in a term,
/// become ReduceSum, Permute, Reshape and a batched MatMul.
inline void lower_einsum(import_context& ctx, const node_proto& n, const einsum_equation& e, const std::string& text) {
  const std::string loc = import_context::loc_name(n);
  for (const auto& t : e.inputs)
    for (char c : t)
      if (std::count(t.begin(), t.end(), c) > 1)
        throw error("Einsum equation \"" + text + "\" repeats a letter within a term (a diagonal), which is not supported");
  if (e.inputs.size() > 2) throw error("Einsum equation \"" + text + "\" is not one TOP's Einsum supports");
  std::vector<ref> x;
  std::vector<std::string> terms = e.inputs;
  std::vector<std::int64_t> size(128, -1);
  for (std::size_t i = 0; i < terms.size(); ++i) {
    x.push_back(ctx.input(n, i));
    const shape_t s = ctx.shape_of(x[i]);
    if (s.size() != terms[i].size())
      throw error("Einsum term \"" + terms[i] + "\" does not match the rank of " + to_string(s));
    for (std::size_t d = 0; d < s.size(); ++d) {
      auto& sz = size[static_cast<unsigned char>(terms[i][d])];
      if (sz >= 0 && sz != s[d]) throw error(std::string("Einsum letter '") + terms[i][d] + "' has two sizes (broadcasting is not supported)");
      sz = s[d];
    }
  }
  shape_t out_shape;
  for (char c : e.output) out_shape.push_back(size[static_cast<unsigned char>(c)]);
  ref y;
  if (terms.size() == 1) {
    const std::string rest = einsum_sum_out(ctx, x[0], terms[0], e.output, loc + "_sum");
    y = rest.empty() ? x[0] : emit_permute(ctx, x[0], positions(rest, e.output), loc + "_permute");
  } else {
    terms[0] = einsum_sum_out(ctx, x[0], terms[0], e.output + terms[1], loc + "_sum0");
    terms[1] = einsum_sum_out(ctx, x[1], terms[1], e.output + terms[0], loc + "_sum1");
    std::string batch, left, right, contract;
    for (char c : terms[0]) {
      const bool in_b = terms[1].find(c) != std::string::npos, in_out = e.output.find(c) != std::string::npos;
      (in_b ? (in_out ? batch : contract) : left) += c;
    }
    for (char c : terms[1])
      if (terms[0].find(c) == std::string::npos) right += c;
    auto prod = [&](const std::string& letters) {
      std::int64_t p = 1;
      for (char c : letters) p *= size[static_cast<unsigned char>(c)];
      return p;
    };
    const ref a = emit_reshape_to(ctx, emit_permute(ctx, x[0], positions(terms[0], batch + left + contract), loc + "_lhs_permute"),
                                  {prod(batch), prod(left), prod(contract)}, loc + "_lhs_reshape");
    const ref b = emit_reshape_to(ctx, emit_permute(ctx, x[1], positions(terms[1], batch + contract + right), loc + "_rhs_permute"),
                                  {prod(batch), prod(contract), prod(right)}, loc + "_rhs_reshape");
    const ref mm = ctx.emit<top::matmul_op>({a, b, ref{}}, {}, {loc + "_matmul"})[0];
    const std::string got = batch + left + right;
    shape_t got_shape;
    for (char c : got) got_shape.push_back(size[static_cast<unsigned char>(c)]);
    y = emit_permute(ctx, emit_reshape_to(ctx, mm, got_shape, loc + "_reshape"), positions(got, e.output), loc + "_permute");
  }
  define_output(ctx, n, 0, emit_reshape_to(ctx, y, out_shape, loc));
}

inline void convert_einsum(import_context& ctx, const node_proto& n) {
  const std::string text = attr_string(n, "equation", "");
  const einsum_equation e = parse_einsum(text, ctx.num_inputs(n));
  using mode_t = std::remove_cvref_t<decltype(*std::declval<top::einsum_op::attributes>().mode)>;
  const std::string canonical = canonical_einsum(e);
  if (mode_t::allowed(canonical)) {
    top::einsum_op::attributes at;
    at.mode = mode_t(canonical);
    std::vector<ref> operands;
    for (std::size_t i = 0; i < ctx.num_inputs(n); ++i) operands.push_back(ctx.input(n, i));
    define_output(ctx, n, 0, ctx.emit<top::einsum_op>(operands, at, {import_context::loc_name(n)})[0]);
    return;
  }
  lower_einsum(ctx, n, e, text);
}

}  // namespace detail

inline void add_misc_converters(converter_table& t) {
  using namespace detail;
  t.add("Split", convert_split);
  t.add("Tile", convert_tile);
  t.add("Expand", convert_expand);
  t.add("DepthToSpace", convert_depth_to_space);
  t.add("SpaceToDepth", convert_depth_to_space);
  t.add("Einsum", convert_einsum);
}

}  // namespace mixq::onnx
