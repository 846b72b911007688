#pragma once
// ONNX ModelProto -> TOP-dialect graph, as TPU-MLIR's ONNX frontend builds it before its
// canonicalisation passes (those are in mixq/transforms).
#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

#include "mixq/dialect/top/top_ops.hpp"
#include "mixq/core/error.hpp"
#include "mixq/graph/edit.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/onnx/converters/registry.hpp"
#include "mixq/onnx/import_context.hpp"
#include "mixq/onnx/model.hpp"

namespace mixq::onnx {

struct import_options {
  std::string model_name = "model";
  /// Per graph input (initializers excluded), in order; empty = the shapes the model declares.
  std::vector<shape_t> input_shapes;
  /// Per graph input; empty = the element types the model declares (floats become f32).
  std::vector<dtype> input_types;
  /// Tensors to return instead of the graph outputs (TPU-MLIR --output_names).
  std::vector<std::string> output_names;
  /// Preprocessing attributes for image-like inputs (4-D with <= 4 channels, or 3-D).
  top::input_op::attributes preprocess;
};

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// TPU-MLIR's weight file name for a freshly imported model.
inline std::string top_weight_file_name(const std::string& model_name) { return lower(model_name) + "_top_f32_all_weight.npz"; }

inline graph import_model(const model_proto& m, const import_options& opt = {}) {
  const int opset = static_cast<int>(m.onnx_opset());
  if (opset < 1 || opset > 17)
    throw error("ONNX opset " + std::to_string(opset) + " is not supported (mixq imports opsets 1 to 17)");
  // Before opset 7 binary ops broadcast by the `broadcast`/`axis` attributes, not numpy's rules;
  // the converters implement opsets 7 to 17, which older ops match otherwise.
  if (opset < 7)
    for (const auto& n : m.graph.nodes)
      if (n.attr("broadcast"))
        throw error(n.op_type + " \"" + import_context::node_name(n) + "\" uses the legacy broadcast attribute of opset " +
                    std::to_string(opset) + ", which is not supported");
  const converter_table& table = converters();
  {
    std::vector<std::string> unsupported;
    for (const auto& n : m.graph.nodes)
      if (!table.find(n.op_type) || !(n.domain.empty() || n.domain == "ai.onnx"))
        unsupported.push_back(n.op_type + (n.domain.empty() ? "" : " (domain " + n.domain + ")") + " \"" +
                              import_context::node_name(n) + "\"");
    if (!unsupported.empty()) {
      std::string list;
      for (const auto& u : unsupported) list += "\n  " + u;
      throw error("the model has " + std::to_string(unsupported.size()) + " node(s) of unsupported op types:" + list);
    }
  }

  graph g;
  g.name = opt.model_name;
  g.module_attributes.set("module.chip", attribute(std::string("ALL")));
  g.module_attributes.set("module.platform", attribute(std::string("ONNX")));
  g.module_attributes.set("module.state", attribute(std::string("TOP_F32")));
  g.module_attributes.set("module.top_run_mode", attribute(std::string("STATIC")));
  g.module_attributes.set("module.weight_file", attribute(top_weight_file_name(opt.model_name)));
  import_context ctx(g, opset);

  for (const auto& t : m.graph.initializers) ctx.define_constant(t.name, t.data);
  std::size_t input_index = 0;
  for (const auto& in : m.graph.inputs) {
    if (ctx.known(in.name)) continue;  // old models list initializers as inputs too
    shape_t shape;
    if (input_index < opt.input_shapes.size()) {
      shape = opt.input_shapes[input_index];
      if (in.has_shape && in.dims.size() != shape.size())
        throw error("input \"" + in.name + "\" has rank " + std::to_string(in.dims.size()) + ", --input_shapes gives " +
                    to_string(shape));
    } else {
      if (!in.has_shape) throw error("input \"" + in.name + "\" has no shape in the model; give it with --input_shapes");
      for (const auto& d : in.dims) {
        if (!d.value || *d.value <= 0)
          throw error("input \"" + in.name + "\" has a dynamic dimension" + (d.param.empty() ? "" : " '" + d.param + "'") +
                      "; fix it with --input_shapes");
        shape.push_back(*d.value);
      }
    }
    dtype dt = dtype::f32;
    if (input_index < opt.input_types.size()) dt = opt.input_types[input_index];
    else if (auto d = to_dtype(in.elem); d && !is_floating(*d)) dt = *d;
    const int arg = g.add_argument({dt, shape});
    top::input_op::attributes attrs;
    const bool image_like = (shape.size() == 4 && shape[1] <= 4) || shape.size() == 3;
    if (image_like && opt.preprocess.do_preprocess) attrs = opt.preprocess;
    const int node = g.add<top::input_op>({arg}, {{dt, shape}}, {in.name}, attrs);
    ctx.define_value(in.name, g.nodes[static_cast<std::size_t>(node)].results[0]);
    ++input_index;
  }
  if (input_index < opt.input_shapes.size())
    throw error("--input_shapes gives " + std::to_string(opt.input_shapes.size()) + " shapes, the model has " +
                std::to_string(input_index) + " input(s)");

  for (const auto& n : m.graph.nodes) {
    try {
      table.find(n.op_type)(ctx, n);
    } catch (const error& e) {
      const std::string what = e.what();
      const std::string label = n.op_type + " \"" + import_context::node_name(n) + "\"";
      throw error(what.rfind(label, 0) == 0 ? what : label + ": " + what);
    }
  }

  std::vector<std::string> outs = opt.output_names;
  if (outs.empty())
    for (const auto& o : m.graph.outputs) outs.push_back(o.name);
  for (const auto& name : outs) {
    if (!ctx.known(name)) throw error("output \"" + name + "\" is not a tensor of the model");
    const ref& r = ctx.get(name);
    g.outputs.push_back(ctx.value_of(r));  // a constant output (Shape of a static shape...) becomes a top.Weight
  }
  remove_dead_ops(g);
  g.verify(true);
  return g;
}

}  // namespace mixq::onnx
