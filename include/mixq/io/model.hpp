#pragma once
// A model on disk is a TOP-dialect .mlir plus the weight npz its module.weight_file names.
#include <cstring>
#include <filesystem>
#include <string>

#include "mixq/core/error.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/mlir_reader.hpp"
#include "mixq/io/mlir_writer.hpp"
#include "mixq/io/npz.hpp"

namespace mixq {

/// Where a model's weight file is: as written if absolute; else next to the .mlir, then in
/// the working directory (TPU-MLIR resolves it against the working directory only).
inline std::string resolve_weight_file(const std::string& mlir_path, const std::string& weight_file) {
  namespace fs = std::filesystem;
  const fs::path w(weight_file);
  if (w.is_absolute()) return weight_file;
  const fs::path beside = fs::path(mlir_path).parent_path() / w;
  if (fs::exists(beside)) return beside.string();
  if (fs::exists(w)) return weight_file;
  throw error(mlir_path + ": weight file \"" + weight_file + "\" not found (looked in " +
              (beside.parent_path().empty() ? std::string(".") : beside.parent_path().string()) + " and the working directory)");
}

/// Reads the .mlir and, when it has top.Weight ops, its weight npz; checks every weight.
inline graph load_model(const std::string& mlir_path) {
  graph g = read_mlir(mlir_path);
  bool has_weights = false;
  for (const auto& n : g.nodes) has_weights |= n.is<top::weight_op>();
  if (has_weights) {
    const std::string wf = g.weight_file();
    if (wf.empty()) throw error(mlir_path + ": the module has top.Weight ops but no module.weight_file attribute");
    const std::string path = resolve_weight_file(mlir_path, wf);
    npz_file npz = read_npz(path);
    for (const auto& n : g.nodes) {
      if (!n.is<top::weight_op>()) continue;
      const std::string& name = g.values[static_cast<std::size_t>(n.results[0])].name;
      const tensor* t = npz.find(name);
      if (!t) throw error(path + ": no weight named \"" + name + "\" (needed by " + mlir_path + ")");
      const dtype declared = g.values[static_cast<std::size_t>(n.results[0])].type.elem;
      if (declared == dtype::bf16 && t->elem() == dtype::u16) {
        // numpy has no bfloat16: TPU-MLIR (and save_model) store its bits as uint16.
        tensor bits = tensor::empty(dtype::bf16, t->shape());
        std::memcpy(bits.raw(), t->raw(), static_cast<std::size_t>(t->numel()) * 2);
        g.weights[name] = std::move(bits);
      } else {
        g.weights[name] = *t;
      }
    }
  }
  try {
    g.verify(true);
  } catch (const error& e) {
    throw error(mlir_path + ": " + e.what());
  }
  return g;
}

/// Writes the .mlir and, if the graph has weights, the npz named by module.weight_file (placed
/// next to the .mlir). Both files are written atomically.
inline void save_model(graph& g, const std::string& mlir_path, const std::string& weight_file_name = {}) {
  namespace fs = std::filesystem;
  if (!weight_file_name.empty()) g.module_attributes.set("module.weight_file", attribute(weight_file_name));
  npz_file npz;
  for (const auto& n : g.nodes) {
    if (!n.is<top::weight_op>()) continue;
    const std::string& name = g.values[static_cast<std::size_t>(n.results[0])].name;
    auto it = g.weights.find(name);
    if (it == g.weights.end()) throw error("cannot save weight \"" + name + "\": the graph holds no data for it");
    npz.add(name, it->second);
  }
  if (!npz.empty()) {
    const std::string wf = g.weight_file();
    if (wf.empty()) throw error(mlir_path + ": the graph has weights but no module.weight_file to save them to");
    write_npz((fs::path(mlir_path).parent_path() / wf).string(), npz);
  }
  write_mlir(g, mlir_path);
}

}  // namespace mixq
