// model_runner: runs a TOP-dialect .mlir on an npz of inputs and writes an npz of outputs,
// with TPU-MLIR's flags.
#include <chrono>
#include <cstdio>
#include <string>

#include "driver.hpp"
#include "mixq/graph/interpreter.hpp"
#include "mixq/io/model.hpp"
#include "mixq/io/npz.hpp"

namespace {

/// Every input present with the right element count, and nothing else: the error names the npz.
void check_inputs(const mixq::graph& g, const mixq::named_tensors& inputs, const std::string& file) {
  std::string expected;
  for (int i : g.input_nodes()) {
    const auto& type = g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(i)].results[0])].type;
    expected += (expected.empty() ? "" : ", ") + g.node_name(i) + " " + mixq::to_string(type.shape);
  }
  for (const auto& [name, t] : inputs) {
    const int node = g.find_node(name);
    if (node < 0 || !g.nodes[static_cast<std::size_t>(node)].is<mixq::top::input_op>())
      throw mixq::error(file + ": no input named \"" + name + "\" (the model's inputs: " + expected + ")");
  }
  for (int i : g.input_nodes()) {
    const std::string& name = g.node_name(i);
    const auto& type = g.values[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(i)].results[0])].type;
    auto it = inputs.find(name);
    if (it == inputs.end()) throw mixq::error(file + ": no array named \"" + name + "\" (an input of the model)");
    if (!type.quant.empty() && mixq::is_integer(type.elem) && it->second.elem() != type.elem)
      throw mixq::error(file + ": input \"" + name + "\" is " + std::string(mixq::name(it->second.elem())) + ", the model takes it quantized (" +
                        std::string(mixq::name(type.elem)) + ", " + type.quant + ", model_deploy --quant_input): give the " +
                        std::string(mixq::name(type.elem)) + " integers");
    if (it->second.numel() != type.numel())
      throw mixq::error(file + ": input \"" + name + "\" has shape " + mixq::to_string(it->second.shape()) +
                        ", the model expects " + mixq::to_string(type.shape));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run a TOP or lowered TPU-dialect .mlir model on npz inputs", "model_runner"};
  std::string input, model, output = "_output.npz";
  bool dump_all = false, out_fixed = false;
  app.add_option("--input", input, "input npz file (keys = the model's input names)")->required();
  app.add_option("--model", model, "TOP-dialect .mlir file (its weight npz is found via module.weight_file)")->required();
  app.add_option("--output", output, "output npz file (keys = tensor names)")->capture_default_str();
  app.add_flag("--dump_all_tensors", dump_all, "write every tensor, not only the model outputs");
  app.add_flag("--out_fixed", out_fixed,
               "keep the integers of quantized tensors (default: dequantized to float32 with their quant.uniform type)");
  mixq::driver::reject_flag(app, "--weight", "caffe models are not read; convert them to .mlir first", true);
  mixq::driver::reject_flag(app, "--cuda", "mixq runs on the CPU", false);
  mixq::driver::reject_flag(app, "--decrypt_lib", "bmodel files are not read", true);
  mixq::driver::reject_flag(app, "--debug", "no debug configuration is implemented", true);
  return mixq::driver::run(app, argc, argv, [&] {
    if (model.size() < 5 || model.substr(model.size() - 5) != ".mlir")
      throw mixq::error(model + ": model_runner runs TOP-dialect .mlir files (run model_transform on .onnx models first)");
    const auto t0 = std::chrono::steady_clock::now();
    const mixq::graph g = mixq::load_model(model);
    const mixq::named_tensors inputs = mixq::to_named(mixq::read_npz(input));
    check_inputs(g, inputs, input);
    mixq::interpreter interp(g);
    mixq::run_options opt;
    opt.keep_all = dump_all;
    const auto t1 = std::chrono::steady_clock::now();
    const mixq::run_result res = interp.run(inputs, opt);
    const auto t2 = std::chrono::steady_clock::now();
    mixq::npz_file out;
    if (dump_all) {
      for (std::size_t v = 0; v < g.values.size(); ++v)
        if (res.values[v].defined() && !g.values[v].name.empty() && !g.values[v].type.is_none &&
            (g.values[v].producer < 0 || !g.nodes[static_cast<std::size_t>(g.values[v].producer)].is<mixq::top::weight_op>()))
          out.add(g.values[v].name, out_fixed ? res.values[v] : mixq::driver::as_real(res.values[v], g.values[v].type));
    } else {
      for (int v : g.outputs) {
        const mixq::tensor& t = res.values[static_cast<std::size_t>(v)];
        out.add(g.values[static_cast<std::size_t>(v)].name, out_fixed ? t : mixq::driver::as_real(t, g.values[static_cast<std::size_t>(v)].type));
      }
    }
    mixq::write_npz(output, out);
    std::fprintf(stderr, "load %.1f ms, run %.1f ms, peak activations %.1f MiB\n",
                 std::chrono::duration<double, std::milli>(t1 - t0).count(),
                 std::chrono::duration<double, std::milli>(t2 - t1).count(),
                 static_cast<double>(res.peak_activation_bytes) / (1024.0 * 1024.0));
    std::printf("Result saved to:%s\n", output.c_str());
    return 0;
  });
}
