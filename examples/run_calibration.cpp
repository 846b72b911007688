// run_calibration: activation thresholds for a TOP .mlir from a calibration dataset, written as
// TPU-MLIR's cali_table (TPU-MLIR's flags; the ones of later stages are refused with a reason).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mixq/calibration/calibrate.hpp"
#include "mixq/calibration/dataset.hpp"
#include "mixq/calibration/search_threshold.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/io/atomic_file.hpp"
#include "mixq/io/cali_table.hpp"
#include "mixq/io/model.hpp"
#include "mixq/targets/processor.hpp"
#include "progress.hpp"
#if MIXQ_HAVE_IMAGE
#include "mixq/io/preprocess.hpp"
#endif

namespace {

using namespace mixq;
namespace cal = mixq::calibration;

/// TPU-MLIR's parse_debug_cmd: "k1;k2=v" -> {k1: "", k2: "v"}, keys lower-cased.
std::map<std::string, std::string> parse_debug_cmd(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t semi = std::min(text.find(';', pos), text.size());
    std::string item = text.substr(pos, semi - pos);
    pos = semi + 1;
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      return s;
    };
    item = trim(item);
    if (item.empty()) continue;
    std::string key = item, value;
    if (const auto eq = item.find('='); eq != std::string::npos) {
      key = trim(item.substr(0, eq));
      value = trim(item.substr(eq + 1));
    }
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out[key] = value;
  }
  return out;
}

double number_of(const std::string& key, const std::string& value) {
  try {
    std::size_t used = 0;
    const double v = std::stod(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  throw error("--debug_cmd " + key + "=" + value + ": not a number");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Calibrate a TOP-dialect .mlir: per-tensor thresholds as TPU-MLIR's cali_table (TPU-MLIR run_calibration)",
               "run_calibration"};
  std::string mlir, dataset, data_list, tune_list, cali_method = "kl", debug_cmd, processor = "bm1684x", output;
  std::int64_t input_num = 0, tune_num = 5, histogram_bins = 2048;
  bool kurtosis = false, debug_log = false;
  app.add_option("mlir_file", mlir, "TOP .mlir (its weight npz next to it)")->required();
  auto* ds_opt = app.add_option("--dataset", dataset, "folder of calibration samples (images, npz or npy; searched recursively)");
  auto* dl_opt = app.add_option("--data_list", data_list, "file with one sample per line (comma-separated files for several inputs)");
  ds_opt->excludes(dl_opt);
  dl_opt->excludes(ds_opt);
  app.add_option("--input_num", input_num, "number of calibration samples (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--tune_list", tune_list, "file listing separate tuning samples (default: the first --tune_num calibration samples)");
  app.add_option("--tune_num", tune_num, "number of tuning samples (0: no auto-tune)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--histogram_bin_num", histogram_bins, "histogram bins for KL")->capture_default_str()->check(CLI::Range(2, 1 << 24));
  app.add_option("--cali_method", cali_method,
                 "kl, mse, max, percentile9999, aciq_gauss, aciq_laplace (also use_-prefixed), or mixq's kl_trt")
      ->capture_default_str();
  app.add_option("--debug_cmd", debug_cmd, "TPU-MLIR debug keys, e.g. \"use_mse;tune_steps=10;int4;dump_list\"");
  app.add_option("--processor,--chip", processor, "target processor (bm1684x, bm1684, bm1688, bm1690, cv186x, cv18[0-3]x, cv184x)")
      ->capture_default_str();
  app.add_flag("--kurtosis_analysis", kurtosis, "write the per-tensor kurtosis file kurtosis_analysis next to the table");
  app.add_flag("--debug_log", debug_log, "log more (per-stage timings and memory)");
  app.add_option("-o,--calibration_table", output, "output cali_table")->required();
  const std::string later = "the quantize-table searches (search_qtable, mix precision) are not implemented yet";
  std::string search = "False", benchmark = "cos";
  std::int64_t inference_num = 30;
  app.add_option("--search", search, "search_threshold (search_qtable, fast_search and mix_search are not implemented yet)")
      ->capture_default_str();
  app.add_option("--inference_num", inference_num, "samples scored by search_threshold")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--benchmark_method", benchmark, "cos or snr (search_threshold's score)")->capture_default_str()->check(CLI::IsMember({"cos", "snr"}));
  for (const char* f : {"--bc_inference_num", "--expected_cos", "--min_layer_cos", "--max_float_layers", "--fp_type",
                        "--quantize_method_list", "--mix_mode", "--part_quantize", "--custom_operator", "--pre_qtable",
                        "--post_process", "--global_compare_layers", "--quantize_table"})
    driver::reject_flag(app, f, later, true);
  for (const char* f : {"--sq", "--smc", "--we", "--bc", "--cluster", "--part_asymmetric"})
    driver::reject_flag(app, f, "accuracy recovery (SmoothQuant, equalization, bias correction) and asymmetric calibration are not implemented yet", false);
  driver::reject_flag(app, "--transformer", "TPU-MLIR removed it: sensitive op types are found automatically", true);

  return driver::run(app, argc, argv, [&]() -> int {
    namespace fs = std::filesystem;
    if (dataset.empty() && data_list.empty()) throw error("give the calibration samples with --dataset DIR or --data_list FILE");
    auto method = cal::parse_method(cali_method);
    if (!method || *method == cal::method::torch_observer)
      throw error("--cali_method: unknown method \"" + cali_method + "\" (kl, mse, max, percentile9999, aciq_gauss, aciq_laplace, kl_trt)");

    cal::calibrate_options opt;
    bool dump_list = false;
    std::string input_table_path;
    for (const auto& [key, value] : parse_debug_cmd(debug_cmd)) {
      if (auto m = cal::parse_method(key)) {
        method = *m;  // a method key in debug_cmd overrides --cali_method, as in TPU-MLIR
      } else if (key == "int4") {
        opt.int4 = true;
      } else if (key == "fp8") {
        opt.fp8 = true;
      } else if (key == "tune_steps") {
        const double v = number_of(key, value);
        if (v < 1 || v != static_cast<double>(static_cast<int>(v))) throw error("--debug_cmd tune_steps must be a positive integer");
        opt.tune.steps = static_cast<int>(v);
      } else if (key == "min_tuned_diff") {
        opt.tune.min_tuned_diff = number_of(key, value);
      } else if (key == "find_lower_th") {
        opt.tune.find_lower_th = true;
      } else if (key == "not_use_fp32_tensor_as_ref") {
        opt.tune.quantized_inputs = true;
      } else if (key == "input_calibration_table") {
        if (value.empty()) throw error("--debug_cmd input_calibration_table needs a file: input_calibration_table=FILE");
        input_table_path = value;
      } else if (key == "dump_list") {
        dump_list = true;
      } else if (key == "debug_log") {
        debug_log = true;
      } else if (key == "observer_type") {
        throw error("--debug_cmd Observer_type: TPU-MLIR never applies it (it always uses HistogramObserver); mixq refuses it rather than ignore it");
      } else if (key == "print_debug_info" || key == "visual_tensor") {
        throw error("--debug_cmd " + key + ": plots are not supported by mixq");
      } else if (key == "use_pil_resize") {
        throw error("--debug_cmd use_pil_resize: mixq decodes and resizes as OpenCV does; PIL resizing is not supported");
      } else {
        throw error("--debug_cmd: unknown key \"" + key + "\"");
      }
    }
    if (opt.int4 && opt.fp8) throw error("--debug_cmd: int4 and fp8 cannot be calibrated together");
    // Refused before the model and the dataset are read.
    if (search != "False" && search != "search_threshold")
      throw error("--search " + search + ": not implemented yet in mixq (search_threshold is; search_qtable, fast_search and mix_search come later)");
    if (opt.fp8) {
      if (*method == cal::method::torch_observer) std::fprintf(stderr, "run_calibration: fp8 ignores use_torch_observer_for_cali (max only)\n");
      method = cal::method::max;
    }
    if (*method == cal::method::torch_observer && opt.int4) throw error("--debug_cmd: the torch observer cannot calibrate int4");
    processor = std::string(targets::find_processor(processor).name);
    opt.m = *method;
    opt.histogram_bins = static_cast<int>(histogram_bins);
    opt.tune_num = tune_num;
    opt.kurtosis = kurtosis;
    opt.mlir_file = mlir;
    opt.pool = &thread_pool::global();

    const graph g = load_model(mlir);
    const auto inputs = model_inputs_of(g);
    const auto input_nodes = g.input_nodes();
#if MIXQ_HAVE_IMAGE
    std::vector<preprocess_config> configs;
    auto configure_images = [&] {
      if (configs.empty())
        for (int n : input_nodes) configs.push_back(preprocess_config_for(g, n));
    };
    image_batch_loader load_images = [&](std::span<const std::string> files, std::size_t input) {
      std::vector<fs::path> paths(files.begin(), files.end());
      return load_image_input(paths, configs.at(input));
    };
#else
    auto configure_images = [] { throw error("this run_calibration was built without image support (libjpeg, libpng); give npz or npy samples"); };
    image_batch_loader load_images;
#endif
    auto select = [&](const std::string& dir, const std::string& list, std::size_t n) {
      return dir.empty() ? read_data_list(list, n) : select_dataset(dir, n);
    };
    dataset_selection selection = select(dataset, data_list, static_cast<std::size_t>(input_num));
    if (selection.kind == sample_kind::image || selection.kind == sample_kind::yuv) configure_images();
    if (dump_list) dump_data_list(std::string(selected_list_file), selection);
    const calibration_batches batches(std::move(selection), inputs, load_images);
    std::optional<calibration_batches> tune_batches;
    if (!tune_list.empty()) {
      dataset_selection ts = read_data_list(tune_list, 0);
      if (ts.kind == sample_kind::image || ts.kind == sample_kind::yuv) configure_images();
      if (dump_list) dump_data_list(std::string(selected_tune_list_file), ts);
      tune_batches.emplace(std::move(ts), inputs, load_images);
    }
    std::optional<cali_table> input_table;
    if (!input_table_path.empty()) {
      std::vector<file_warning> warnings;
      input_table = read_cali_table(input_table_path, &warnings);
      for (const auto& w : warnings) std::fprintf(stderr, "run_calibration: warning: %s\n", w.to_string().c_str());
      opt.input_table = &*input_table;
    }
    // Fail on an unwritable destination before the long run, not after it.
    const fs::path out_dir = fs::path(output).parent_path();
    if (!out_dir.empty() && !fs::is_directory(out_dir)) throw error(output + ": the folder " + out_dir.string() + " does not exist");

    std::fprintf(stderr, "run_calibration: %s, %zu batch(es) of %lld from %s, method %s%s, %zu thread(s), %s\n", mlir.c_str(),
                 batches.size(), static_cast<long long>(batches.batch_size()), batches.selection().source.c_str(),
                 std::string(cal::method_name(opt.m)).c_str(),
                 cal::will_tune(opt) ? (", auto-tune on " + std::to_string(std::min<std::int64_t>(tune_num, static_cast<std::int64_t>(
                                                                                    tune_batches ? tune_batches->size() : batches.size()))) +
                                        " batch(es)").c_str()
                                     : "",
                 opt.pool->size(), processor.c_str());
    std::optional<driver::progress_line> bar;
    opt.on_progress = [&](const cal::calibrate_progress& p) {
      const char* label = p.what == cal::calibrate_progress::stage::statistics ? "statistics" : "auto-tune";
      if (!bar || (p.what == cal::calibrate_progress::stage::tuning && p.done == 1)) bar.emplace(label);
      bar->update(p.done, p.total);
    };
    if (search != "False") {
      if (opt.int4 || opt.fp8 || opt.input_table) throw error("--search search_threshold calibrates INT8 from the data (no int4, fp8 or input_calibration_table)");
      cal::search_threshold_options so;
      so.inference_num = inference_num;
      so.benchmark = benchmark == "snr" ? cal::benchmark_method::snr : cal::benchmark_method::cos;
      so.chip = &targets::find_processor(processor);
      so.base = opt;
      std::string log_text;
      so.log = [&](const std::string& line) {
        std::fprintf(stderr, "run_calibration: %s\n", line.c_str());
        log_text += "INFO:root:" + line + "\n";
      };
      so.on_candidate = [&](cal::method, const cali_table& t) { write_cali_table("new_cali_table.txt", t); };
      so.table_name = [&](cal::method m, bool tuned) {
        return tuned ? cali_method_tuned_path(output, std::string(cal::method_name(m))) : cali_method_path(output, std::string(cal::method_name(m)), false);
      };
      const cal::search_threshold_result r = cal::search_threshold(g, batches, tune_batches ? &*tune_batches : nullptr, so);
      bar.reset();
      for (const auto& mt : r.methods) {
        const std::string m(cal::method_name(mt.m));
        write_cali_table(cali_method_path(output, m, mt.tuned.has_value()), mt.untuned);
        if (mt.tuned) write_cali_table(cali_method_tuned_path(output, m), *mt.tuned);
      }
      write_cali_table(output, r.methods[r.best].final_table());
      write_file_atomically("Search_Threshold", log_text);
      std::fprintf(stderr, "run_calibration: statistics %.2f s, tuning %.2f s, evaluation %.2f s (%zu of %zu batches scored); best %s -> %s\n",
                   r.statistics_seconds, r.tune_seconds, r.evaluation_seconds, r.inference_batches, r.batches,
                   std::string(cal::method_name(r.methods[r.best].m)).c_str(), output.c_str());
      return 0;
    }
    const cal::calibrate_output out = cal::calibrate(g, batches, tune_batches ? &*tune_batches : nullptr, opt);
    bar.reset();
    for (const auto& w : out.warnings) std::fprintf(stderr, "run_calibration: warning: %s\n", w.c_str());

    if (out.untuned) write_cali_table(cali_untuned_path(output), *out.untuned);
    write_cali_table(output, out.table);
    if (kurtosis) {
      std::string text = "# op_name   kurtosis   op_type\n";
      char buf[64];
      for (const auto& k : out.kurtosis) {
        if (std::isinf(k.value)) std::snprintf(buf, sizeof buf, "%s", k.value > 0 ? "inf" : "-inf");
        else std::snprintf(buf, sizeof buf, "%.7f", k.value);
        text += k.name + "  " + buf + "  " + k.op_type + "\n";
      }
      write_file_atomically(cali_sibling_path(output, "kurtosis_analysis"), text);
    }
    std::fprintf(stderr, "run_calibration: statistics %.2f s (%zu batches, %zu at a time, %.1f MiB of statistics, %.1f MiB peak activations)",
                 out.statistics_seconds, out.batches, out.concurrent_batches, static_cast<double>(out.statistics_bytes) / (1 << 20),
                 static_cast<double>(out.peak_activation_bytes) / (1 << 20));
    if (out.untuned)
      std::fprintf(stderr, ", auto-tune %.2f s (%zu batches, %zu inputs searched, %zu thresholds raised, %zu op runs)", out.tune_seconds,
                   out.tune_batches, out.tuned_inputs, out.raised, out.tune_op_runs);
    if (out.untuned && out.tune_steps_total > 0)
      std::fprintf(stderr, ", %.0f%% of candidate steps skipped (they could not win)",
                   100.0 * static_cast<double>(out.tune_steps_total - out.tune_steps_scored) / static_cast<double>(out.tune_steps_total));
    std::fprintf(stderr, "\n");
    if (debug_log && out.untuned)
      std::fprintf(stderr, "run_calibration: auto-tune cache peak %.1f MiB\n", static_cast<double>(out.tune_cache_bytes) / (1 << 20));
    std::fprintf(stderr, "run_calibration: wrote %s%s (%zu rows)\n", output.c_str(),
                 out.untuned ? (" and " + cali_untuned_path(output)).c_str() : "", out.table.thresholds().size());
    return 0;
  });
}
