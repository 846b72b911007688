// Integration checks on the real models in the shared folder (skipped when it is absent).
#include "transform_support.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "mixq/core/similarity.hpp"
#include "mixq/io/npz.hpp"
// GCC 12 reports a false -Wrestrict inside the importer's Einsum helper (`"," + std::string`)
// at -O2; it is not ours to edit, so it is silenced around the include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include "mixq/onnx/importer.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using namespace mixq;
using namespace mixq::test;

namespace {
const std::string shared_dir = MIXQ_SHARED_DIR;

bool have(const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  WARN("skipped: " << path << " is not available");
  return false;
}

/// The op names (first column) of a calibration table.
std::set<std::string> cali_names(const std::string& path) {
  std::set<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    names.insert(name);
  }
  return names;
}

/// Names of every value an op (not a weight / None) produces.
std::set<std::string> activation_names(const graph& g) {
  std::set<std::string> names;
  for (const auto& n : g.nodes) {
    if (n.is<top::weight_op>() || n.is<top::none_op>()) continue;
    for (int r : n.results)
      if (!g.values[static_cast<std::size_t>(r)].name.empty()) names.insert(g.values[static_cast<std::size_t>(r)].name);
  }
  return names;
}

graph import(const std::string& model, shape_t shape) {
  onnx::import_options opt;
  opt.input_shapes = {std::move(shape)};
  return onnx::import_model(onnx::read_model(model), opt);
}

/// Runs the canonicalized graph on the reference input and compares with onnxruntime.
void check_against_ort(const graph& g, const std::string& stem) {
  const std::string in_path = shared_dir + "/reference/ort/" + stem + "_in_f32.npz";
  const std::string ref_path = shared_dir + "/reference/ort/" + stem + "_ort_outputs.npz";
  if (!have(in_path) || !have(ref_path)) return;
  const named_tensors inputs = to_named(read_npz(in_path));
  const named_tensors refs = to_named(read_npz(ref_path));
  interpreter it(g);
  const auto outs = it.run(inputs).outputs();
  REQUIRE(outs.size() == refs.size());
  for (const auto& [name, ref] : refs) {
    (void)name;
    // outputs are matched by position when the names differ (the graph returns locs)
    const tensor* got = nullptr;
    for (const auto& [oname, t] : outs)
      if (numel(t.shape()) == numel(ref.shape())) got = &t;
    REQUIRE(got != nullptr);
    const tensor a = got->cast(dtype::f64), b = ref.cast(dtype::f64);
    double dot = 0, na = 0, nb = 0, max_ref = 0, max_diff = 0;
    for (std::int64_t k = 0; k < a.numel(); ++k) {
      const double x = a.data<double>()[k], y = b.data<double>()[k];
      dot += x * y, na += x * x, nb += y * y;
      max_ref = std::max(max_ref, std::abs(y));
      max_diff = std::max(max_diff, std::abs(x - y));
    }
    const double cosine = dot / std::sqrt(na * nb);
    INFO(stem << " output " << name << ": cosine " << cosine << ", max diff " << max_diff << ", max |ref| " << max_ref);
    CHECK(cosine >= 0.99999);
    CHECK(max_diff <= 1e-4 * max_ref);
  }
}
}  // namespace

TEST_CASE("blazeface canonicalizes to exactly the tensor names of its TPU-MLIR calibration table", "[transforms][models]") {
  const std::string model = shared_dir + "/models/blazeface.onnx";
  const std::string table = shared_dir + "/reference/cali_tables/blazeface_cali_table";
  if (!have(model) || !have(table)) return;
  const graph imported = import(model, {1, 3, 128, 128});
  graph g = imported;
  canonicalize(g);
  const std::set<std::string> want = cali_names(table), got = activation_names(g);
  std::vector<std::string> missing, extra;
  for (const auto& n : want)
    if (!got.count(n)) missing.push_back(n);
  for (const auto& n : got)
    if (!want.count(n)) extra.push_back(n);
  std::string m, e;
  for (const auto& n : missing) m += n + " ";
  for (const auto& n : extra) e += n + " ";
  INFO("in the table, not in our graph: " << m);
  INFO("in our graph, not in the table: " << e);
  CHECK(missing.empty());
  CHECK(extra.empty());
  CHECK(count_ops(g, "top.Pad") == 11);
  require_same_outputs(imported, g, random_inputs(imported, 0.f, 1.f));
  check_against_ort(g, "blazeface");
}

TEST_CASE("PP-OCR models keep their outputs through canonicalization", "[transforms][models]") {
  struct model_case {
    const char* file;
    const char* stem;
    shape_t shape;
  };
  for (const auto& c : {model_case{"ch_ppocr_mobile_v2.0_cls_infer.onnx", "ppocr_cls", {1, 3, 48, 192}},
                        model_case{"ch_PP-OCRv4_det_infer.onnx", "ppocr_det", {1, 3, 320, 320}},
                        model_case{"ch_PP-OCRv4_rec_infer.onnx", "ppocr_rec", {1, 3, 48, 320}}}) {
    DYNAMIC_SECTION(c.stem) {
      const std::string model = shared_dir + "/models/" + c.file;
      if (!have(model)) continue;
      graph g;
      try {
        g = import(model, c.shape);
      } catch (const error& e) {
        WARN("skipped " << c.stem << ": the importer does not support it yet: " << e.what());
        continue;
      }
      const std::size_t before = g.nodes.size();
      canonicalize(g);
      CHECK(g.nodes.size() < before);
      check_against_ort(g, c.stem);
    }
  }
}
