#pragma once
// Tensor similarity metrics with TPU-MLIR's definitions (facts doc §11.5), shared by
// npz_tool, model_transform/model_deploy checks, calibration tuning and the searches.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mixq/core/tensor.hpp"

namespace mixq {

namespace detail {
/// Values as double with NaN -> 0 and +-inf -> +-10000, as TPU-MLIR's compare sanitises them.
inline std::vector<double> sanitized_values(const tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    double x = element_as_double(t, i);
    if (std::isnan(x)) x = 0.0;
    else if (std::isinf(x)) x = x > 0 ? 10000.0 : -10000.0;
    v[static_cast<std::size_t>(i)] = x;
  }
  return v;
}
}  // namespace detail

/// Plain cosine a.b / (|a||b|); 0 when either vector is all zero.
inline double cosine_similarity(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  if (aa == 0 || bb == 0) return 0.0;
  return ab / (std::sqrt(aa) * std::sqrt(bb));
}

/// 1 - |a - b| / (|(a + b) / 2| + 1e-7).
inline double euclidean_similarity(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, m = 0;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    const double mid = (a[i] + b[i]) / 2;
    m += mid * mid;
  }
  return 1.0 - std::sqrt(d) / (std::sqrt(m) + 1e-7);
}

/// SQNR in dB of `signal` against `noisy` (not symmetric). Zeros of the signal are dropped;
/// +inf when either zero-mean variance vanishes.
inline double sqnr_db(const std::vector<double>& signal, const std::vector<double>& noisy) {
  std::vector<double> raw, noise;
  for (std::size_t i = 0; i < std::min(signal.size(), noisy.size()); ++i)
    if (signal[i] != 0) {
      raw.push_back(signal[i]);
      noise.push_back(signal[i] - noisy[i]);
    }
  if (raw.empty()) return std::numeric_limits<double>::infinity();
  double mr = 0, mn = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) mr += raw[i], mn += noise[i];
  mr /= static_cast<double>(raw.size());
  mn /= static_cast<double>(noise.size());
  double vr = 0, vn = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) vr += (raw[i] - mr) * (raw[i] - mr), vn += (noise[i] - mn) * (noise[i] - mn);
  if (vr == 0 || vn == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(vr / vn);
}

/// The search tools' "cos": 0.5 + 0.5 * cos, in [0, 1].
inline double half_cosine(const tensor& a, const tensor& b) {
  return 0.5 + 0.5 * cosine_similarity(detail::sanitized_values(a), detail::sanitized_values(b));
}

/// Verdicts of TPU-MLIR's npz compare.
enum class compare_verdict { not_match, equal, not_equal, close, similar, not_similar };

inline const char* verdict_name(compare_verdict v) {
  switch (v) {
    case compare_verdict::not_match: return "NOT_MATCH";
    case compare_verdict::equal: return "EQUAL";
    case compare_verdict::not_equal: return "NOT_EQUAL";
    case compare_verdict::close: return "CLOSE";
    case compare_verdict::similar: return "SIMILAR";
    case compare_verdict::not_similar: return "NOT_SIMILAR";
  }
  return "?";
}

struct compare_tolerance {
  double cosine = 0.99;
  double euclidean = 0.99;
  double sqnr = -std::numeric_limits<double>::infinity();
  int close_order = 3;  // allclose with rtol 10^-k, k >= close_order, counts as CLOSE
};

struct compare_result {
  compare_verdict verdict = compare_verdict::not_match;
  bool passed = false;
  int close_order = 0;
  double cosine = 1.0, euclidean = 1.0, sqnr = std::numeric_limits<double>::infinity();
  bool has_similarity() const noexcept {
    return verdict == compare_verdict::similar || verdict == compare_verdict::not_similar;
  }
};

/// TPU-MLIR's tensor compare of `target` against `reference`: EQUAL, int8 NOT_EQUAL, CLOSE
/// (numpy allclose with rtol 10^-k, atol 1e-8, k from close_order+2 down to close_order), else
/// cosine / euclidean / SQNR against the tolerance. Element counts must agree (shapes may differ).
inline compare_result compare_tensors(const tensor& target, const tensor& reference, const compare_tolerance& tol = {}) {
  compare_result r;
  if (target.numel() != reference.numel()) return r;
  const auto a = [&] {
    std::vector<double> v(static_cast<std::size_t>(target.numel()));
    for (std::int64_t i = 0; i < target.numel(); ++i) v[static_cast<std::size_t>(i)] = element_as_double(target, i);
    return v;
  }();
  const auto b = [&] {
    std::vector<double> v(static_cast<std::size_t>(reference.numel()));
    for (std::int64_t i = 0; i < reference.numel(); ++i) v[static_cast<std::size_t>(i)] = element_as_double(reference, i);
    return v;
  }();
  bool equal = true;
  for (std::size_t i = 0; i < a.size() && equal; ++i) equal = a[i] == b[i];
  if (equal) {
    r.verdict = compare_verdict::equal;
    r.passed = true;
    return r;
  }
  if (target.elem() == dtype::i8 || reference.elem() == dtype::i8) {
    r.verdict = compare_verdict::not_equal;
    return r;
  }
  auto allclose = [&](double rtol) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i]) && std::isnan(b[i])) continue;
      if (std::isinf(a[i]) || std::isinf(b[i])) {
        if (a[i] != b[i]) return false;
        continue;
      }
      if (!(std::abs(a[i] - b[i]) <= 1e-8 + rtol * std::abs(b[i]))) return false;
    }
    return true;
  };
  for (int order = tol.close_order + 2; order >= tol.close_order; --order)
    if (allclose(std::pow(10.0, -order))) {
      r.verdict = compare_verdict::close;
      r.passed = true;
      r.close_order = order;
      return r;
    }
  const auto sa = detail::sanitized_values(target), sb = detail::sanitized_values(reference);
  r.cosine = cosine_similarity(sa, sb);
  r.euclidean = euclidean_similarity(sa, sb);
  r.sqnr = sqnr_db(sa, sb);
  r.passed = r.cosine > tol.cosine && r.euclidean > tol.euclidean && r.sqnr > tol.sqnr;
  r.verdict = r.passed ? compare_verdict::similar : compare_verdict::not_similar;
  return r;
}

}  // namespace mixq
