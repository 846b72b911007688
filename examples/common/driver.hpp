#pragma once
// What every command-line driver shares: one error path, TPU-MLIR flags we reject on purpose.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/quant/quant_type.hpp"

namespace mixq::driver {

/// Runs `body` and turns every failure into one line on stderr and a non-zero exit.
template <class Body>
int run(CLI::App& app, int argc, char** argv, Body&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
    std::fprintf(stderr, "Run with --help for usage.\n");
    return 2;
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
    return 1;
  }
}

/// A TPU-MLIR flag mixq does not support: accepted by the parser only to fail with a reason,
/// never silently ignored.
inline void reject_flag(CLI::App& app, const std::string& flag, const std::string& why, bool takes_value) {
  auto fail = [flag, why](auto&&...) { throw CLI::ValidationError(flag, "not supported by mixq: " + why); };
  if (takes_value) {
    app.add_option_function<std::string>(flag, [fail](const std::string& v) { fail(v); }, "(not supported: " + why + ")");
  } else {
    app.add_flag_function(flag, [fail](std::int64_t n) { fail(n); }, "(not supported: " + why + ")");
  }
}

/// A lowered tensor as floats: integer tensors dequantized with their `!quant.uniform` type
/// (what TPU-MLIR's model_runner writes unless `--out_fixed`).
inline tensor as_real(const tensor& t, const tensor_type& type) {
  if (is_floating(t.elem())) return t.elem() == dtype::f32 ? t : t.cast(dtype::f32);
  const auto u = quant::parse_uniform(type.quant);
  if (!u) return t.cast(dtype::f32);
  tensor f = tensor::empty(dtype::f32, t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i)
    f.data<float>()[i] = static_cast<float>(u->scale * (element_as_double(t, i) - static_cast<double>(u->zero_point)));
  return f;
}

}  // namespace mixq::driver
