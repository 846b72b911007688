#pragma once
// Entropy (KL-divergence) threshold searches over an |x| histogram.
//  - kl_threshold: TPU-MLIR's variant (bindings/kld/calibration_math.cpp, facts doc §2.4),
//    reproduced in its float32 arithmetic so the chosen bin is TPU-MLIR's: candidates every
//    `target_bins` bins, outliers folded into the last kept bin, Q spread over the non-empty bins
//    of each group, base-10 logs, threshold = width * i.
//  - kl_trt_threshold: TensorRT's entropy calibration (every bin a candidate, natural log,
//    threshold at the upper edge of the kept bins), offered as `kl_trt`.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/thread_pool.hpp"

namespace mixq::calibration {

/// A histogram ready for the search: padded to a multiple of `target_bins` and, while longer
/// than 64 x 2048 bins, folded pairwise (width doubles), as TPU-MLIR prepares it.
struct search_histogram {
  std::vector<std::int64_t> counts;
  double width = 0;
};

inline search_histogram prepare_for_search(std::vector<std::int64_t> counts, double width, int target_bins) {
  if (target_bins <= 0) throw error("calibration: KL target bins must be positive");
  auto pad = [&] {
    const std::size_t rem = counts.size() % static_cast<std::size_t>(target_bins);
    if (rem) counts.resize(counts.size() + static_cast<std::size_t>(target_bins) - rem, 0);
  };
  pad();
  while (counts.size() > 64u * 2048u) {
    std::vector<std::int64_t> folded(counts.size() / 2);
    for (std::size_t i = 0; i < folded.size(); ++i) folded[i] = counts[2 * i] + counts[2 * i + 1];
    counts = std::move(folded);
    width *= 2;
    pad();
  }
  return {std::move(counts), width};
}

namespace detail {

/// KL of candidate cut `i` (a multiple of `bins`), in calibration_math.cpp's float arithmetic.
inline float tpu_mlir_kl_candidate(const std::vector<std::int64_t>& hist, const std::vector<double>& log_p_inner,
                                   float count, std::int64_t i, std::int64_t bins) {
  const auto n = static_cast<std::int64_t>(hist.size());
  // P[i-1] folds every bin from i-1 on, accumulated in float in ascending order.
  float tail = 0.f;
  for (std::int64_t j = i - 1; j < n; ++j) tail += static_cast<float>(hist[static_cast<std::size_t>(j)]);
  const float p_last = tail / count;
  float sum = 0.f;
  for (std::int64_t j = 0; j < i; ++j) sum += static_cast<float>(hist[static_cast<std::size_t>(j)]);
  const std::int64_t expand = i / bins;
  float kl = 0.f;
  for (std::int64_t g = 0; g < bins; ++g) {
    const std::int64_t begin = g * expand;
    float sum_bin = 0.f, positive = 0.f;
    for (std::int64_t k = begin; k < begin + expand; ++k) {
      sum_bin += static_cast<float>(hist[static_cast<std::size_t>(k)]);
      positive += hist[static_cast<std::size_t>(k)] > 0 ? 1.f : 0.f;
    }
    positive = positive == 0.f ? 1.f : positive;
    const float q_base = sum_bin / positive / sum;
    for (std::int64_t k = begin; k < begin + expand; ++k) {
      const float q = hist[static_cast<std::size_t>(k)] ? q_base : 0.f;
      const double log_q = std::log10(static_cast<double>(q) + 1e-30);
      double p, log_p;
      if (k == i - 1) {
        p = p_last;
        log_p = std::log10(p + 1e-30);
      } else {
        p = static_cast<float>(static_cast<float>(hist[static_cast<std::size_t>(k)]) / count);
        log_p = log_p_inner[static_cast<std::size_t>(k)];
      }
      kl = static_cast<float>(static_cast<double>(kl) + p * (log_p - log_q));
    }
  }
  return kl;
}

}  // namespace detail

/// TPU-MLIR's KL threshold. `width` is the histogram's bin width (range / (bins - 1));
/// `target_bins` is 128 for INT8 and 8 for INT4. An empty histogram gives 0.
inline double kl_threshold(const std::vector<std::int64_t>& counts, double width, int target_bins = 128,
                           thread_pool* pool = nullptr) {
  if (target_bins != 128 && target_bins != 8) throw error("calibration: KL target bins must be 128 or 8");
  const search_histogram h = prepare_for_search(counts, width, target_bins);
  const auto n = static_cast<std::int64_t>(h.counts.size());
  std::int64_t total = 0;
  for (auto c : h.counts) total += c;
  const float count = static_cast<float>(total);
  // log10(P[j] + 1e-30) of the bins below the cut does not depend on the cut.
  std::vector<double> log_p(h.counts.size());
  for (std::size_t j = 0; j < h.counts.size(); ++j) {
    const float p = static_cast<float>(h.counts[j]) / count;
    log_p[j] = std::log10(static_cast<double>(p) + 1e-30);
  }
  const std::int64_t candidates = n / target_bins;
  std::vector<float> kl(static_cast<std::size_t>(candidates), 0.f);
  auto eval = [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t m = b; m < e; ++m)
      kl[static_cast<std::size_t>(m)] = detail::tpu_mlir_kl_candidate(h.counts, log_p, count, (m + 1) * target_bins, target_bins);
  };
  if (pool && n > 16 * 2048) pool->parallel_for(candidates, 1, eval);
  else eval(0, candidates);
  // the_min_index: the first strict minimum (a NaN never wins, as in the C loop).
  std::int64_t best = 0;
  for (std::int64_t m = 1; m < candidates; ++m)
    if (kl[static_cast<std::size_t>(best)] > kl[static_cast<std::size_t>(m)]) best = m;
  const float w = static_cast<float>(h.width);
  const float th = (w * static_cast<float>(best + 1)) * static_cast<float>(target_bins);
  return th;
}

/// TensorRT-style entropy calibration over the same histogram: every cut i >= target_bins is a
/// candidate, P = h[0:i] with the outliers added to its last bin, Q = h[0:i] merged into
/// `target_bins` groups and spread over each group's non-empty bins, KL with natural logs
/// (a candidate whose Q misses mass that P has is skipped). Histograms longer than 4096 bins are
/// first folded pairwise (the search is quadratic in the bin count). Returns the upper edge of the kept bins,
/// (i - 0.5) * width for TPU-MLIR's centred bins.
inline double kl_trt_threshold(std::vector<std::int64_t> counts, double width, int target_bins = 128) {
  if (target_bins < 2) throw error("calibration: kl_trt target bins must be >= 2");
  while (counts.size() > 4096) {
    if (counts.size() % 2) counts.push_back(0);
    std::vector<std::int64_t> folded(counts.size() / 2);
    for (std::size_t i = 0; i < folded.size(); ++i) folded[i] = counts[2 * i] + counts[2 * i + 1];
    counts = std::move(folded);
    width *= 2;
  }
  const auto n = static_cast<std::int64_t>(counts.size());
  if (n <= target_bins) return static_cast<double>(n) * width;
  double total = 0;
  std::vector<double> log_c(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t k = 0; k < n; ++k) {
    const double c = static_cast<double>(counts[static_cast<std::size_t>(k)]);
    total += c;
    if (c > 0) log_c[static_cast<std::size_t>(k)] = std::log(c);
  }
  if (total <= 0) return static_cast<double>(n) * width;
  // With p_k = c_k / total (the tail added to the last kept bin) and q_k = (s_g / nz_g) / prefix
  // for a non-empty bin k of group g: ln(p_k / q_k) = ln c_k - ln total - ln(s_g / nz_g) + ln prefix.
  const double log_total = std::log(total);
  double best_kl = std::numeric_limits<double>::infinity();
  std::int64_t best_i = n;
  double prefix = 0;
  for (std::int64_t k = 0; k < target_bins - 1; ++k) prefix += static_cast<double>(counts[static_cast<std::size_t>(k)]);
  for (std::int64_t i = target_bins; i <= n; ++i) {
    prefix += static_cast<double>(counts[static_cast<std::size_t>(i - 1)]);  // sum of h[0:i]
    const double tail = total - prefix;
    if (prefix <= 0) continue;
    const double log_prefix = std::log(prefix);
    double kl = 0;
    bool finite = true;
    for (std::int64_t g = 0; g < target_bins && finite; ++g) {
      const std::int64_t b = g * i / target_bins, e = (g + 1) * i / target_bins;
      double sg = 0;
      std::int64_t nz = 0;
      for (std::int64_t k = b; k < e; ++k) {
        const auto c = counts[static_cast<std::size_t>(k)];
        sg += static_cast<double>(c);
        nz += c > 0;
      }
      const double log_q_group = nz ? std::log(sg / static_cast<double>(nz)) - log_prefix : 0.0;
      for (std::int64_t k = b; k < e; ++k) {
        double c = static_cast<double>(counts[static_cast<std::size_t>(k)]);
        double log_c_k = log_c[static_cast<std::size_t>(k)];
        if (k == i - 1 && tail > 0) {
          if (c == 0) {  // P has mass where Q has none
            finite = false;
            break;
          }
          c += tail;
          log_c_k = std::log(c);
        }
        if (c <= 0) continue;
        kl += c / total * (log_c_k - log_total - log_q_group);
      }
    }
    if (finite && kl < best_kl) best_kl = kl, best_i = i;
  }
  return (static_cast<double>(best_i) - 0.5) * width;
}

}  // namespace mixq::calibration
