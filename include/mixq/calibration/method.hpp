#pragma once
// Threshold methods: TPU-MLIR's `--cali_method` names (and their older `use_`-prefixed
// debug_cmd spellings), plus mixq's `kl_trt`.
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace mixq::calibration {

enum class method { kl, kl_trt, mse, max, percentile9999, aciq_gauss, aciq_laplace, torch_observer };

inline constexpr std::string_view method_name(method m) {
  switch (m) {
    case method::kl: return "kl";
    case method::kl_trt: return "kl_trt";
    case method::mse: return "mse";
    case method::max: return "max";
    case method::percentile9999: return "percentile9999";
    case method::aciq_gauss: return "aciq_gauss";
    case method::aciq_laplace: return "aciq_laplace";
    case method::torch_observer: return "torch_observer";
  }
  return "?";
}

/// "kl", "KL", "use_kl", "use_mse", "Percentile9999", "use_torch_observer_for_cali"...
inline std::optional<method> parse_method(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s.rfind("use_", 0) == 0) s.erase(0, 4);
  if (s == "kl") return method::kl;
  if (s == "kl_trt") return method::kl_trt;
  if (s == "mse" || s == "octav") return method::mse;
  if (s == "max") return method::max;
  if (s == "percentile9999") return method::percentile9999;
  if (s == "aciq_gauss") return method::aciq_gauss;
  if (s == "aciq_laplace") return method::aciq_laplace;
  if (s == "torch_observer_for_cali" || s == "torch_observer") return method::torch_observer;
  return std::nullopt;
}

/// TPU-MLIR tunes the histogram/ACIQ methods only (facts doc §2.5).
inline constexpr bool method_is_tuned(method m) {
  return m == method::kl || m == method::kl_trt || m == method::aciq_gauss || m == method::aciq_laplace ||
         m == method::torch_observer;  // it stands in for the KL result, which is tuned
}

}  // namespace mixq::calibration
