// model_transform: ONNX -> TOP-dialect .mlir + weight npz, with TPU-MLIR's flags and names.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "driver.hpp"
#include "mixq/core/similarity.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npy.hpp"
#include "mixq/io/npz.hpp"
#ifdef MIXQ_HAVE_IMAGE
#include "mixq/io/preprocess.hpp"
#endif
#include "mixq/onnx/importer.hpp"
#include "mixq/transforms/canonicalize.hpp"

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<double> numbers(const std::string& flag, const std::string& s) {
  std::vector<double> v;
  for (const auto& t : split(s, ',')) {
    try {
      std::size_t used = 0;
      v.push_back(std::stod(t, &used));
      if (used != t.size()) throw std::invalid_argument(t);
    } catch (const std::exception&) {
      throw mixq::error(flag + ": \"" + t + "\" is not a number");
    }
  }
  return v;
}

/// "[[1,3,224,224],[1,10]]" or "[1,3,224,224]".
std::vector<mixq::shape_t> parse_shapes(const std::string& text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  if (s.empty()) return {};
  if (s.front() != '[' || s.back() != ']') throw mixq::error("--input_shapes: expected [[d0,d1,...],...], got \"" + text + "\"");
  if (s.size() > 1 && s[1] != '[') s = "[" + s + "]";
  std::vector<mixq::shape_t> shapes;
  std::size_t i = 1;
  while (i < s.size() - 1) {
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '[') throw mixq::error("--input_shapes: expected '[' at position " + std::to_string(i) + " of \"" + text + "\"");
    const std::size_t close = s.find(']', i);
    if (close == std::string::npos) throw mixq::error("--input_shapes: unbalanced brackets in \"" + text + "\"");
    mixq::shape_t shape;
    for (double d : numbers("--input_shapes", s.substr(i + 1, close - i - 1))) {
      if (d <= 0 || d != static_cast<double>(static_cast<std::int64_t>(d)))
        throw mixq::error("--input_shapes: dimension " + std::to_string(d) + " is not a positive integer");
      shape.push_back(static_cast<std::int64_t>(d));
    }
    shapes.push_back(shape);
    i = close + 1;
  }
  return shapes;
}

mixq::dtype parse_type(const std::string& t) {
  if (t == "float32" || t == "float") return mixq::dtype::f32;
  if (t == "int32") return mixq::dtype::i32;
  if (t == "int64") return mixq::dtype::i64;
  if (t == "int8") return mixq::dtype::i8;
  if (t == "uint8") return mixq::dtype::u8;
  if (t == "bool") return mixq::dtype::boolean;
  throw mixq::error("--input_types: unknown type \"" + t + "\" (float32, int32, int64, int8, uint8, bool)");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Test inputs: one npz (keys = input names; a single-input model takes its only array), one npy
/// per input, or images: input i takes image i (the last one when there are fewer images than
/// inputs, as in TPU-MLIR), preprocessed by its top.Input attributes (the preprocessing flags).
mixq::named_tensors load_test_inputs(const std::vector<std::string>& files, const mixq::graph& g) {
  std::vector<std::string> names;
  for (int i : g.input_nodes()) names.push_back(g.node_name(i));
  mixq::named_tensors in;
  if (files.size() == 1 && ends_with(files[0], ".npz")) {
    const mixq::npz_file npz = mixq::read_npz(files[0]);
    if (names.size() == 1 && npz.entries().size() == 1) {
      in.emplace(names[0], npz.entries()[0].second);
      return in;
    }
    for (const auto& n : names) {
      const mixq::tensor* t = npz.find(n);
      if (!t) throw mixq::error(files[0] + ": no array named \"" + n + "\" (an input of the model)");
      in.emplace(n, *t);
    }
    return in;
  }
  const bool arrays =
      std::any_of(files.begin(), files.end(), [](const std::string& f) { return ends_with(f, ".npy") || ends_with(f, ".npz"); });
  if (arrays) {
    if (files.size() != names.size())
      throw mixq::error("--test_input: " + std::to_string(files.size()) + " file(s) for " + std::to_string(names.size()) + " input(s)");
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (!ends_with(files[i], ".npy"))
        throw mixq::error(files[i] + ": --test_input takes one .npz, one .npy per input, or images, not a mixture");
      in.emplace(names[i], mixq::read_npy(files[i]));
    }
    return in;
  }
  if (files.size() > names.size())
    throw mixq::error("--test_input: " + std::to_string(files.size()) + " images for " + std::to_string(names.size()) +
                      " input(s)");
#ifdef MIXQ_HAVE_IMAGE
  const std::vector<int> nodes = g.input_nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string& file = files[std::min(i, files.size() - 1)];
    mixq::preprocess_config cfg;
    try {
      cfg = mixq::preprocess_config_for(g, nodes[i]);
    } catch (const mixq::error& e) {
      throw mixq::error("--test_input " + file + ": " + e.what());
    }
    in.emplace(names[i], mixq::load_image_input({file}, cfg));
  }
  return in;
#else
  throw mixq::error(files[0] + ": this model_transform was built without image support (mixq::image needs libjpeg and "
                               "libpng); pass the preprocessed input as .npz or .npy");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Convert an ONNX model to a TOP-dialect .mlir and its weight npz (TPU-MLIR model_transform)", "model_transform"};
  std::string model_name, model_def, input_shapes_text, input_types_text, output_names_text, test_input_text, test_result;
  std::string test_reference, tolerance = "0.99,0.99", excepts = "-", mlir;
  std::string resize_dims, keep_ratio_mode = "letterbox", pad_type = "center", mean = "0,0,0", scale = "1,1,1";
  std::string pixel_format = "bgr", channel_format = "nchw";
  double pad_value = 0;
  bool keep_aspect_ratio = false, debug = false, not_inference = false;
  app.add_option("--model_name", model_name, "model name")->required();
  app.add_option("--model_def", model_def, "ONNX model file")->required();
  app.add_option("--input_shapes", input_shapes_text, "input shapes, e.g. [[1,3,224,224]] (fixes dynamic dimensions)");
  app.add_option("--input_types", input_types_text, "input element types, e.g. float32,int32 (default float32)");
  app.add_option("--output_names", output_names_text, "tensors to return instead of the model outputs (comma-separated)");
  app.add_option("--resize_dims", resize_dims, "h,w the image is resized to before cropping (default: the input's h,w)");
  app.add_flag("--keep_aspect_ratio", keep_aspect_ratio, "resize keeping the aspect ratio");
  app.add_option("--keep_ratio_mode", keep_ratio_mode, "letterbox or short_side_scale")
      ->check(CLI::IsMember({"letterbox", "short_side_scale"}))
      ->capture_default_str();
  app.add_option("--pad_value", pad_value, "letterbox fill value")->capture_default_str();
  app.add_option("--pad_type", pad_type, "normal or center")->check(CLI::IsMember({"normal", "center"}))->capture_default_str();
  app.add_option("--mean", mean, "per-channel mean")->capture_default_str();
  app.add_option("--scale", scale, "per-channel scale: y = (x - mean) * scale")->capture_default_str();
  app.add_option("--pixel_format", pixel_format, "rgb, bgr, gray or rgba")
      ->check(CLI::IsMember({"rgb", "bgr", "gray", "rgba"}))
      ->capture_default_str();
  app.add_option("--channel_format", channel_format, "nchw or nhwc")->check(CLI::IsMember({"nchw", "nhwc"}))->capture_default_str();
  app.add_option("--test_input", test_input_text, "test input: one .npz, .npy files or images (jpg/png/bmp) joined by ','");
  app.add_option("--test_result", test_result, "npz for every tensor of the converted model on --test_input");
  app.add_option("--test_reference", test_reference,
                 "npz of the original framework's outputs (keys = ONNX output names), compared with --tolerance");
  auto* tol_opt = app.add_option("--tolerance", tolerance, "minimum cosine,euclidean similarity to --test_reference")
                      ->capture_default_str();
  app.add_option("--excepts", excepts, "output names excluded from the comparison ('-': none)")->capture_default_str();
  app.add_flag("--debug", debug, "keep intermediate files (mixq writes none; accepted for compatibility)");
  app.add_flag("--not_inference", not_inference, "only convert, do not run --test_input");
  app.add_option("--mlir", mlir, "output .mlir file")->required();
  const std::string out_of_scope = "it drives TPU-MLIR code generation or frontends mixq does not have";
  mixq::driver::reject_flag(app, "--model_data", "caffe models are not supported (ONNX only)", true);
  mixq::driver::reject_flag(app, "--model_extern", "multi-file models are not supported", true);
  mixq::driver::reject_flag(app, "--add_postprocess", "post-processing insertion is out of scope (" + out_of_scope + ")", true);
  mixq::driver::reject_flag(app, "--onnx_sim", "mixq folds constants itself; onnx-simplifier options do not apply", true);
  mixq::driver::reject_flag(app, "--dynamic", "dynamic-shape compilation is out of scope; fix shapes with --input_shapes", false);
  mixq::driver::reject_flag(app, "--dynamic_shape_input_names", "dynamic-shape compilation is out of scope", true);
  mixq::driver::reject_flag(app, "--shape_influencing_input_names", "dynamic-shape compilation is out of scope", true);
  mixq::driver::reject_flag(app, "--cache_skip", "there is no bmodel cache in mixq", false);
  mixq::driver::reject_flag(app, "--dump_final_opt", "mixq writes no intermediate ONNX file", true);
  mixq::driver::reject_flag(app, "--patterns_count", "regression-test option of TPU-MLIR", true);
  mixq::driver::reject_flag(app, "--path_yaml", "MaskRCNN conversion is not supported", true);
  mixq::driver::reject_flag(app, "--enable_maskrcnn", "MaskRCNN conversion is not supported", false);
  mixq::driver::reject_flag(app, "--op_custom_shape", "dynamic shapes are out of scope", true);
  mixq::driver::reject_flag(app, "--replace_topk_indices", "not implemented", true);
  mixq::driver::reject_flag(app, "--yuv_type", ".yuv inputs are not supported yet", true);
  return mixq::driver::run(app, argc, argv, [&] {
    namespace fs = std::filesystem;
    if (!ends_with(mlir, ".mlir")) throw mixq::error("--mlir must name a .mlir file, got \"" + mlir + "\"");
    if (!ends_with(model_def, ".onnx"))
      throw mixq::error(model_def + ": mixq's model_transform reads ONNX models (.onnx); export other frameworks to ONNX first");
    if (tol_opt->count() && test_reference.empty())
      throw mixq::error("--tolerance applies to the comparison with --test_reference, which is not given");
    if (!test_reference.empty() && test_input_text.empty())
      throw mixq::error("--test_reference needs --test_input (the inputs the reference outputs come from)");
    if (!test_input_text.empty() && test_result.empty() && !not_inference)
      throw mixq::error("--test_input needs --test_result (where every tensor of the converted model is written)");
    const auto t0 = std::chrono::steady_clock::now();

    mixq::onnx::import_options opt;
    opt.model_name = model_name;
    opt.input_shapes = parse_shapes(input_shapes_text);
    for (const auto& t : split(input_types_text, ',')) opt.input_types.push_back(parse_type(t));
    opt.output_names = split(output_names_text, ',');
    auto& pre = opt.preprocess;
    pre.do_preprocess = true;
    pre.pixel_format = pixel_format;
    pre.channel_format = channel_format;
    pre.keep_aspect_ratio = keep_aspect_ratio;
    pre.keep_ratio_mode = keep_ratio_mode;
    pre.pad_value = static_cast<std::int64_t>(pad_value);
    pre.pad_type = pad_type;
    pre.mean = numbers("--mean", mean);
    pre.scale = numbers("--scale", scale);
    if (!resize_dims.empty()) {
      std::vector<std::int64_t> dims;
      for (double d : numbers("--resize_dims", resize_dims)) dims.push_back(static_cast<std::int64_t>(d));
      if (dims.size() != 2) throw mixq::error("--resize_dims wants h,w");
      pre.resize_dims = dims;
    }

    const mixq::onnx::model_proto onnx_model = mixq::onnx::read_model(model_def);
    mixq::graph g = mixq::onnx::import_model(onnx_model, opt);
    mixq::canonicalize(g);
    // TOP inputs without resize_dims resize to the input's own h,w, as TPU-MLIR records it.
    for (int i : g.input_nodes()) {
      auto a = g.nodes[static_cast<std::size_t>(i)].attributes<mixq::top::input_op>();
      const auto& shape = g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(i)].results[0])].type.shape;
      if (a.do_preprocess && !a.resize_dims && shape.size() == 4) {
        const bool nhwc = a.channel_format && a.channel_format->value == "nhwc";
        a.resize_dims = std::vector<std::int64_t>{shape[nhwc ? 1 : 2], shape[nhwc ? 2 : 3]};
        g.set_attributes<mixq::top::input_op>(i, a);
      }
    }
    mixq::save_model(g, mlir, mixq::onnx::top_weight_file_name(model_name));
    const auto t1 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "converted %s: %zu ops, %zu weights, %.0f ms -> %s\n", model_def.c_str(), g.nodes.size(),
                 g.weights.size(), std::chrono::duration<double, std::milli>(t1 - t0).count(), mlir.c_str());

    if (test_input_text.empty() || not_inference) return 0;
    const mixq::named_tensors inputs = load_test_inputs(split(test_input_text, ','), g);
    const fs::path dir = fs::path(mlir).parent_path();
    mixq::write_npz((dir / (model_name + "_in_f32.npz")).string(), inputs);
    mixq::interpreter interp(g);
    mixq::run_options ro;
    ro.keep_all = true;
    const mixq::run_result res = interp.run(inputs, ro);
    mixq::npz_file all;
    for (std::size_t v = 0; v < g.values.size(); ++v) {
      const auto& vi = g.values[v];
      if (!res.values[v].defined() || vi.name.empty() || vi.type.is_none) continue;
      if (vi.producer >= 0 && g.nodes[static_cast<std::size_t>(vi.producer)].is<mixq::top::weight_op>()) continue;
      all.add(vi.name, res.values[v]);
    }
    mixq::write_npz(test_result, all);
    if (test_reference.empty()) return 0;

    const auto tol = numbers("--tolerance", tolerance);
    if (tol.size() != 2) throw mixq::error("--tolerance wants cos,euclid");
    const mixq::npz_file ref = mixq::read_npz(test_reference);
    const auto skip = split(excepts, ',');
    const auto outs = res.outputs();
    std::vector<std::string> onnx_outputs = opt.output_names;
    if (onnx_outputs.empty())
      for (const auto& o : onnx_model.graph.outputs) onnx_outputs.push_back(o.name);
    int failed = 0, compared = 0;
    for (std::size_t i = 0; i < outs.size() && i < onnx_outputs.size(); ++i) {
      const std::string& name = onnx_outputs[i];
      if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
      const mixq::tensor* r = ref.find(name);
      if (!r) throw mixq::error(test_reference + ": no array named \"" + name + "\" (an output of the model)");
      const auto c = mixq::compare_tensors(outs[i].second, *r, {tol[0], tol[1]});
      ++compared;
      failed += c.passed ? 0 : 1;
      std::printf("[%-32s] %12s [%6s]", outs[i].first.c_str(), mixq::verdict_name(c.verdict), c.passed ? "PASSED" : "FAILED");
      if (c.has_similarity()) std::printf(" cos %.6f euclid %.6f sqnr %.2f", c.cosine, c.euclidean, c.sqnr);
      std::printf("\n");
    }
    if (compared == 0) throw mixq::error("no output was compared with " + test_reference);
    std::printf("%d compared, %d failed: model_transform %s\n", compared, failed, failed ? "FAILED" : "PASSED");
    return failed ? 1 : 0;
  });
}
