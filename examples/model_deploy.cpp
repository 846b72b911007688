// model_deploy: a TOP .mlir (and its cali_table / quantize table) lowered for a processor into the
// TPU-dialect `<prefix>_tpu.mlir` TPU-MLIR writes before code generation, checked against the TOP
// outputs with TPU-MLIR's per-mode tolerances. mixq writes no bmodel/cvimodel.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mixq/core/similarity.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/cali_table.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npz.hpp"
#include "mixq/io/qtable.hpp"
#include "mixq/targets/lowering.hpp"
#include "mixq/transforms/calibration_propagation.hpp"
#include "mixq/transforms/import_calibration.hpp"

namespace {

using namespace mixq;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// TPU-MLIR's default (cos, euclid) tolerance of model_deploy per mode (facts doc §11.5).
std::pair<double, double> default_tolerance(targets::quant_mode m) {
  switch (m) {
    case targets::quant_mode::F32: return {0.99, 0.99};
    case targets::quant_mode::F16:
    case targets::quant_mode::BF16: return {0.99, 0.90};
    case targets::quant_mode::F8E4M3:
    case targets::quant_mode::F8E5M2: return {0.80, 0.50};
    default: return {0.90, 0.80};
  }
}

using driver::as_real;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lower a TOP .mlir for a processor into TPU-MLIR's TPU-dialect .mlir, and check it (TPU-MLIR model_deploy)",
               "model_deploy"};
  std::string mlir, quantize = "F32", processor, cali_table_path, qtable_arg, test_input, test_reference, tolerance_text, excepts = "-",
              model;
  bool asymmetric = false, high_precision = false, compare_all = false, q_symmetric = false, quant_input = false, quant_output = false;
  std::int64_t q_group_size = 64;
  app.add_option("--mlir", mlir, "TOP .mlir (from model_transform)")->required();
  app.add_option("--quantize", quantize, "F32, F16, BF16, INT8, W8F16, W8BF16, W4F16, W4BF16 (case-insensitive)")->capture_default_str();
  app.add_option("--processor,--chip", processor, "target processor (bm1684x, bm1684, bm1688, bm1690, cv186x, cv18[0-3]x, cv184x)")->required();
  app.add_option("--calibration_table", cali_table_path, "cali_table from run_calibration (INT8)");
  app.add_option("--quantize_table", qtable_arg, "quantize table (`name MODE` lines) or `name:MODE,...`");
  app.add_flag("--asymmetric", asymmetric, "asymmetric INT8 (zero points)");
  app.add_flag("--high_precision", high_precision, "AvgPool and Softmax in F32");
  app.add_option("--test_input", test_input, "input npz (e.g. <name>_in_f32.npz from model_transform)");
  app.add_option("--test_reference", test_reference, "reference npz (e.g. <name>_top_outputs.npz)");
  app.add_option("--tolerance", tolerance_text, "minimum cosine,euclidean similarity (default per mode, as TPU-MLIR)");
  app.add_option("--excepts", excepts, "tensor names excluded from the comparison ('-': none)")->capture_default_str();
  app.add_flag("--compare_all", compare_all, "compare every tensor the reference has, not only the outputs");
  app.add_option("--model", model, "output .mlir (default <name>_<chip>_<mode>[_sym|_asym]_tpu.mlir)");
  CLI::Option* group_opt =
      app.add_option("--q_group_size", q_group_size, "W4F16/W4BF16: weights per scale along the reduction dimension (0: one per output channel)")
          ->capture_default_str();
  CLI::Option* sym_opt = app.add_flag("--q_symmetric", q_symmetric, "per-group weight-only quantization with a fixed zero point (default asymmetric)");
  app.add_flag("--quant_input", quant_input, "inputs in the type of their first op (int8, f16...) instead of f32: the leading casts are dropped");
  bool matmul_perchannel = false;
  app.add_flag("--matmul_perchannel", matmul_perchannel, "INT8 on bm1684x/bm1688: MatMuls with a weight quantize it per output column");
  app.add_flag("--quant_output", quant_output, "outputs in their lowered type: the trailing casts back to f32 are dropped");
  const std::string later = "not implemented yet in mixq";
  for (const char* f : {"--quant_input_list", "--quant_output_list", "--customization_format", "--fuse_preprocess", "--aligned_input",
                        "--num_device", "--num_core", "--addr_mode", "--compress_mode", "--opt", "--group_by_cores"})
    driver::reject_flag(app, f, "it drives TPU-MLIR's code generation, which mixq does not do", true);
  for (const char* f : {"--disable_layer_group", "--do_winograd", "--ignore_f16_overflow", "--debug", "--dynamic",
                        "--skip_validation", "--merge_weight", "--model_version"})
    driver::reject_flag(app, f, later + " (or code generation only)", false);

  return driver::run(app, argc, argv, [&]() -> int {
    namespace fs = std::filesystem;
    const auto mode = targets::parse_quant_mode(quantize);
    if (!mode) throw error("--quantize: unknown mode \"" + quantize + "\" (F32, F16, BF16, INT8, ...)");
    if (!targets::is_float_mode(*mode) && *mode != targets::quant_mode::INT8 && !targets::rules::is_weight_only(*mode))
      throw error("--quantize " + std::string(targets::mode_name(*mode)) +
                  ": not implemented yet in mixq (F32, F16, BF16, INT8, W8F16, W8BF16, W4F16 and W4BF16 are)");
    const targets::processor_info& chip = targets::find_processor(processor);
    targets::require_mode(chip, *mode);
    if (asymmetric && !chip.asymmetric) throw error(std::string(chip.name) + " does not support --asymmetric (symmetric INT8 only)");
    if (asymmetric && *mode != targets::quant_mode::INT8) throw error("--asymmetric applies to INT8 only");
    if (matmul_perchannel && !targets::supports_matmul_perchannel(chip))
      throw error("--matmul_perchannel is a bm1684x/bm1688 option (per-channel MatMul), not " + std::string(chip.name) + "'s");
    if (matmul_perchannel && *mode != targets::quant_mode::INT8) throw error("--matmul_perchannel applies to --quantize INT8 only");
    if (*mode == targets::quant_mode::INT8 && cali_table_path.empty()) throw error("--quantize INT8 needs --calibration_table");
    if (!test_reference.empty() && test_input.empty()) throw error("--test_reference needs --test_input");
    if (!tolerance_text.empty() && test_reference.empty()) throw error("--tolerance applies to the comparison with --test_reference, which is not given");
    if (q_group_size < 0) throw error("--q_group_size must be 0 (one scale per output channel) or positive, got " + std::to_string(q_group_size));

    graph top = load_model(mlir);
    const std::string prefix = top.name + "_" + std::string(chip.name) + "_" + [&] {
      std::string m(targets::mode_name(*mode));
      std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return m;
    }() + (*mode == targets::quant_mode::INT8 ? (asymmetric ? "_asym" : "_sym") : "");
    if (model.empty()) model = (fs::path(mlir).parent_path() / (prefix + "_tpu.mlir")).string();
    if (ends_with(model, ".bmodel") || ends_with(model, ".cvimodel"))
      throw error(model + ": mixq does not generate bmodel/cvimodel code; pass --model " + prefix + "_tpu.mlir (the lowered TPU-dialect file)");
    if (!ends_with(model, ".mlir")) throw error("--model must name a .mlir file, got \"" + model + "\"");

    if (!cali_table_path.empty()) {
      std::vector<file_warning> warnings;
      const cali_table table = read_cali_table(cali_table_path, &warnings);
      for (const auto& w : warnings) std::fprintf(stderr, "model_deploy: warning: %s\n", w.to_string().c_str());
      import_calibration_options io;
      io.asymmetric = asymmetric;
      io.symmetric_only = chip.symmetric_calibration;
      io.fp8 = table.header.fp8;
      const auto rep = import_calibration(top, table, io);
      if (!rep.missing.empty())
        std::fprintf(stderr, "model_deploy: %zu float tensor(s) have no row in %s and stay float (first: %s)\n", rep.missing.size(),
                     cali_table_path.c_str(), rep.missing.front().c_str());
      for (const auto& w : rep.unmatched_weight_scales)
        std::fprintf(stderr, "model_deploy: warning: %s: #weight_scale row \"%s\" names no weight's consumer\n", cali_table_path.c_str(), w.c_str());
      propagate_calibration(top, chip);
    }
    targets::deploy_options opt;
    opt.mode = *mode;
    opt.chip = &chip;
    opt.asymmetric = asymmetric;
    opt.high_precision = high_precision;
    opt.q_group_size = q_group_size;
    opt.q_symmetric = q_symmetric;
    opt.quant_input = quant_input;
    opt.quant_output = quant_output;
    opt.matmul_perchannel = matmul_perchannel;
    // Which weight-only groupings this deployment can use, to refuse flags that would do nothing.
    bool any_w4 = targets::rules::weight_only_bits(*mode) == 4 && targets::rules::is_weight_only(*mode);
    bool any_group = any_w4 && q_group_size > 0;
    if (!qtable_arg.empty()) {
      const quantize_table q = parse_qtable_argument(qtable_arg);
      for (const auto& e : q.entries) {
        auto m = targets::parse_quant_mode(e.mode);
        if (!m) throw error(qtable_arg + ": \"" + e.name + "\": mode " + e.mode + " is not implemented in mixq yet");
        m = chip.qtable_mode(*m);
        if ((*m == targets::quant_mode::W8F16 || *m == targets::quant_mode::W4F16) && *mode == targets::quant_mode::BF16)
          throw error(qtable_arg + ": \"" + e.name + "\": " + e.mode + " cannot be mixed into a BF16 model");
        if ((*m == targets::quant_mode::W8BF16 || *m == targets::quant_mode::W4BF16) && *mode == targets::quant_mode::F16)
          throw error(qtable_arg + ": \"" + e.name + "\": " + e.mode + " cannot be mixed into an F16 model");
        if (e.group_size && !targets::rules::is_weight_only(*m))
          throw error(qtable_arg + ": \"" + e.name + "\": a group size column applies to weight-only modes (W8F16, W8BF16, W4F16, W4BF16), not " +
                      std::string(targets::mode_name(*m)));
        if (e.group_size && *e.group_size < 0)
          throw error(qtable_arg + ": \"" + e.name + "\": negative group size " + std::to_string(*e.group_size));
        if (!targets::is_float_mode(*m) && *m != targets::quant_mode::INT8 && !targets::rules::is_weight_only(*m))
          throw error(qtable_arg + ": \"" + e.name + "\": mode " + std::string(targets::mode_name(*m)) + " is not implemented in mixq yet");
        if (!chip.modes.has(*m) && !(targets::is_float_mode(*m) && chip.mix_floats.has(*m)))
          throw error(qtable_arg + ": \"" + e.name + "\": " + std::string(chip.name) + " cannot run " + std::string(targets::mode_name(*m)));
        if (*m == targets::quant_mode::INT8 && cali_table_path.empty())
          throw error(qtable_arg + ": \"" + e.name + "\" is INT8, which needs --calibration_table");
        if (top.find_value(e.name) < 0) std::fprintf(stderr, "model_deploy: warning: %s: no op named \"%s\"\n", qtable_arg.c_str(), e.name.c_str());
        opt.qtable[e.name] = *m;
        if (e.group_size) opt.qtable_group_size[e.name] = *e.group_size;
        const bool w4 = targets::rules::is_weight_only(*m) && targets::rules::weight_only_bits(*m) == 4;
        any_w4 = any_w4 || w4;
        any_group = any_group || (e.group_size ? *e.group_size > 0 : w4 && q_group_size > 0);
      }
    }
    if (group_opt->count() > 0 && !any_w4)
      throw error("--q_group_size applies to W4F16/W4BF16 ops (W8 modes quantize per output channel unless a qtable row gives a group size); "
                  "none is being deployed");
    if (sym_opt->count() > 0 && !any_group)
      throw error("--q_symmetric applies to per-group weight-only quantization (W4 modes with --q_group_size > 0, or a qtable group size); "
                  "none is being deployed");
    targets::lowering_report report;
    graph low = targets::lower_to_tpu(top, opt, report);
    // With a quantize table TPU-MLIR names the weights <prefix>_tpu_qtable_weights.npz.
    const std::string weight_file =
        qtable_arg.empty() ? low.weight_file() : fs::path(model).filename().replace_extension().string() + "_qtable_weights.npz";
    save_model(low, model, weight_file);
    std::string modes;
    for (const auto& [m, n] : report.ops_per_mode) modes += (modes.empty() ? "" : ", ") + std::to_string(n) + " " + m;
    std::fprintf(stderr, "model_deploy: %s -> %s (%s ops, %zu casts) for %s\n", mlir.c_str(), model.c_str(), modes.c_str(), report.casts,
                 std::string(chip.name).c_str());
    for (const auto& n : report.notes) std::fprintf(stderr, "model_deploy: %s: %s\n", n.op.c_str(), n.what.c_str());

    if (test_input.empty()) return 0;
    named_tensors inputs = to_named(read_npz(test_input));
    // --quant_input: the f32 test inputs converted as the dropped casts would have done.
    if (quant_input)
      for (auto& [name, t] : inputs) t = targets::to_input_type(low, name, t);
    interpreter interp(low);
    run_options ro;
    ro.keep_all = compare_all;
    const run_result res = interp.run(inputs, ro);
    const std::string out_file = (fs::path(model).parent_path() / (fs::path(model).filename().replace_extension().string() + "_outputs.npz")).string();
    npz_file outs;
    for (std::size_t v = 0; v < low.values.size(); ++v) {
      const auto& vi = low.values[v];
      if (!res.values[v].defined() || vi.name.empty() || vi.type.is_none) continue;
      if (vi.producer >= 0 && low.nodes[static_cast<std::size_t>(vi.producer)].op->has(top::trait::source) &&
          !low.nodes[static_cast<std::size_t>(vi.producer)].is<top::input_op>())
        continue;
      outs.add(vi.name, as_real(res.values[v], vi.type));
    }
    // The graph outputs under their TOP names too (the return casts are named <name>_f32).
    for (std::size_t k = 0; k < low.outputs.size() && k < top.outputs.size(); ++k)
      if (!outs.find(top.values[static_cast<std::size_t>(top.outputs[k])].name))
        outs.add(top.values[static_cast<std::size_t>(top.outputs[k])].name, res.values[static_cast<std::size_t>(low.outputs[k])]);
    write_npz(out_file, outs);
    std::fprintf(stderr, "model_deploy: outputs written to %s\n", out_file.c_str());
    if (test_reference.empty()) return 0;

    auto [tc, te] = default_tolerance(*mode);
    if (!tolerance_text.empty()) {
      const auto parts = split(tolerance_text, ',');
      if (parts.size() != 2) throw error("--tolerance wants cos,euclid");
      tc = std::stod(parts[0]);
      te = std::stod(parts[1]);
    }
    const npz_file ref = read_npz(test_reference);
    const auto skip = split(excepts, ',');
    std::vector<std::string> names;
    if (compare_all) {
      for (const auto& [name, t] : outs.entries())
        if (ref.find(name)) names.push_back(name);
    } else {
      for (int v : top.outputs) names.push_back(top.values[static_cast<std::size_t>(v)].name);
    }
    int failed = 0, compared = 0;
    for (const auto& name : names) {
      if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
      const tensor* r = ref.find(name);
      const tensor* o = outs.find(name);
      if (!r) throw error(test_reference + ": no array named \"" + name + "\"");
      if (!o) continue;
      const auto c = compare_tensors(*o, *r, {tc, te});
      ++compared;
      failed += c.passed ? 0 : 1;
      std::printf("[%-32s] %12s [%6s]", name.c_str(), verdict_name(c.verdict), c.passed ? "PASSED" : "FAILED");
      if (c.has_similarity()) std::printf(" cos %.6f euclid %.6f sqnr %.2f", c.cosine, c.euclidean, c.sqnr);
      std::printf("\n");
    }
    if (compared == 0) throw error("no tensor was compared with " + test_reference);
    std::printf("%d compared, %d failed (tolerance cos %.2f, euclid %.2f): model_deploy %s\n", compared, failed, tc, te,
                failed ? "FAILED" : "PASSED");
    return failed ? 1 : 0;
  });
}
