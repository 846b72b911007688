#pragma once
// Streaming per-tensor statistics for calibration: each batch's activation is folded into a
// bounded summary and then dropped, so memory does not grow with the number of samples (except
// the percentile method's exact top-k, whose size is set by the sample count, as in TPU-MLIR).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <mutex>

#include "mixq/calibration/kernels.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/thread_pool.hpp"

namespace mixq::calibration {

namespace detail {
/// Python's float floor division (CPython float_floor_div, numpy npy_divmod): floor of the
/// exact quotient, computed from fmod so that e.g. 0.3 // 0.1 is 2, not 3.
inline double python_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div != 0) {
    double f = std::floor(div);
    if (div - f > 0.5) f += 1.0;
    return f;
  }
  return std::copysign(0.0, a / b);
}
}  // namespace detail

/// TPU-MLIR's histogram of |x| (facts doc §2.3). The first batch sets the bin width to
/// abs_max / (bins - 1); a later batch with a larger range extends the histogram by whole bins
/// of (about) the same width instead of re-binning; past 8,000,000 bins it restarts from the
/// current batch. TPU-MLIR holds the range as float32 until the first extension and as float64
/// after it; the arithmetic below follows that, so every count lands in TPU-MLIR's bin.
class abs_histogram {
 public:
  static constexpr std::int64_t max_bins = 8'000'000;

  explicit abs_histogram(std::int64_t initial_bins = 2048) : initial_bins_(initial_bins) {
    if (initial_bins < 2) throw error("calibration: a histogram needs at least 2 bins, got " + std::to_string(initial_bins));
  }

  /// Adds one batch; `running_abs_max` is max(|min|, |max|) over every batch so far, this one included.
  void add(std::span<const float> x, float running_abs_max, thread_pool* pool = nullptr) {
    pool_ = pool;
    if (counts_.empty() || range_ == 0) {  // nothing seen yet (or only zeros): start over
      start(x, running_abs_max);
      return;
    }
    const double new_th = running_abs_max;
    if (new_th <= range_) {
      bin(x, range_ / static_cast<double>(counts_.size() - 1), counts_);
      return;
    }
    const auto old_bins = static_cast<std::int64_t>(counts_.size());
    const double old_step = range_ / static_cast<double>(old_bins);
    const double grow = range_is_f32_ ? static_cast<double>(running_abs_max - static_cast<float>(range_)) : new_th - range_;
    const auto added = static_cast<std::int64_t>(detail::python_floordiv(grow, old_step) + 1);
    const std::int64_t new_bins = old_bins + added;
    if (new_bins > max_bins) {
      ++restarts_;
      start(x, running_abs_max);
      return;
    }
    const double new_range = static_cast<double>(added) * old_step + range_;
    std::vector<std::int64_t> grown(static_cast<std::size_t>(new_bins), 0);
    bin(x, new_range / static_cast<double>(new_bins - 1), grown);
    for (std::int64_t i = 0; i < old_bins; ++i) grown[static_cast<std::size_t>(i)] += counts_[static_cast<std::size_t>(i)];
    counts_ = std::move(grown);
    range_ = new_range;
    range_is_f32_ = false;
  }

  /// What add_within_range saw: the batch's range, and whether the batch was counted.
  struct within_result {
    value_range range;
    bool counted = false;
  };

  /// One pass over a batch for the common case once the range has settled: when every |x| fits
  /// the current range, x is binned at the current width while its range is taken (add() would
  /// bin it the same way). Otherwise nothing is counted, and the caller, who now has the range,
  /// goes through add().
  within_result add_within_range(std::span<const float> x, thread_pool* pool = nullptr) {
    within_result r;
    if (counts_.empty() || range_ == 0) {
      r.range = range_of(x, pool);
      return r;
    }
    const float w = static_cast<float>(range_ / static_cast<double>(counts_.size() - 1));
    // add() bins at the current width when the running abs max (as double) is <= range_; the
    // earlier batches' abs max always is, so this batch's decides.
    constexpr std::int64_t grain = 1 << 15;
    const auto n = static_cast<std::int64_t>(x.size());
    if (!pool || n < 2 * grain) {
      r.counted = add_abs_histogram_within(x, w, counts_, range_, r.range);
      return r;
    }
    std::mutex merge;
    std::vector<std::pair<value_range, std::vector<std::int64_t>>> parts;
    pool->parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
      std::vector<std::int64_t> local(counts_.size(), 0);
      value_range part;
      add_abs_histogram_within(x.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b)), w, local,
                               std::numeric_limits<double>::infinity(), part);
      std::lock_guard lock(merge);
      parts.emplace_back(part, std::move(local));
    });
    for (const auto& part : parts) {
      r.range.min = std::min(r.range.min, part.first.min);
      r.range.max = std::max(r.range.max, part.first.max);
      r.range.finite = r.range.finite && part.first.finite;
    }
    r.counted = r.range.finite && static_cast<double>(r.range.abs_max()) <= range_;
    if (r.counted)
      for (const auto& part : parts)
        for (std::size_t i = 0; i < part.second.size(); ++i) counts_[i] += part.second[i];
    return r;
  }

  const std::vector<std::int64_t>& counts() const noexcept { return counts_; }
  /// Bin width as TPU-MLIR stores it: range / (bins - 1).
  double width() const noexcept { return counts_.size() > 1 ? range_ / static_cast<double>(counts_.size() - 1) : 0.0; }
  double range() const noexcept { return range_; }
  /// How many times the 8M-bin limit discarded the accumulated counts.
  int restarts() const noexcept { return restarts_; }
  std::size_t memory_bytes() const noexcept { return counts_.capacity() * sizeof(std::int64_t); }

 private:
  void start(std::span<const float> x, float abs_max) {
    counts_.assign(static_cast<std::size_t>(initial_bins_), 0);
    range_ = abs_max;
    range_is_f32_ = true;
    if (abs_max > 0) bin(x, static_cast<double>(abs_max) / static_cast<double>(initial_bins_ - 1), counts_);
  }
  void bin(std::span<const float> x, double width, std::vector<std::int64_t>& counts) const {
    // numpy divides the float32 array by the width cast to float32.
    const float w = static_cast<float>(width);
    constexpr std::int64_t grain = 1 << 15;
    const auto n = static_cast<std::int64_t>(x.size());
    if (!pool_ || n < 2 * grain) {
      add_abs_histogram(x, w, counts);
      return;
    }
    // Integer counts: merging per-range histograms in any order gives the same result.
    std::mutex merge;
    pool_->parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
      std::vector<std::int64_t> local(counts.size(), 0);
      add_abs_histogram(x.subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b)), w, local);
      std::lock_guard lock(merge);
      for (std::size_t i = 0; i < local.size(); ++i) counts[i] += local[i];
    });
  }

  std::int64_t initial_bins_;
  thread_pool* pool_ = nullptr;
  std::vector<std::int64_t> counts_;
  double range_ = 0;
  bool range_is_f32_ = true;
  int restarts_ = 0;
};

/// The k largest values (or |values|, or the k smallest) seen over all batches, exactly.
/// A batch only contributes the elements above the current k-th largest, so after the first
/// batch almost nothing is copied.
class top_k {
 public:
  enum class order { largest, smallest, largest_abs };

  top_k(std::int64_t k, order o) : k_(std::max<std::int64_t>(1, k)), order_(o) {}

  void add(std::span<const float> x) {
    const bool full = static_cast<std::int64_t>(kept_.size()) >= k_;
    const float bar = full ? floor_ : -std::numeric_limits<float>::infinity();
    for (float v : x) {
      const float key = transform(v);
      if (!full || key > bar) kept_.push_back(key);
    }
    if (static_cast<std::int64_t>(kept_.size()) > k_) {
      std::nth_element(kept_.begin(), kept_.begin() + (k_ - 1), kept_.end(), std::greater<float>());
      kept_.resize(static_cast<std::size_t>(k_));
      // The first batch may have copied a whole tensor; later batches add only a few candidates.
      if (kept_.capacity() > 2 * kept_.size() + 64) kept_.shrink_to_fit();
    }
    if (!kept_.empty()) floor_ = *std::min_element(kept_.begin(), kept_.end());
  }

  std::int64_t k() const noexcept { return k_; }
  /// The kept values in the original sign, ordered from the most extreme inwards:
  /// [0] is the largest (smallest for `smallest`), [k-1] the k-th.
  std::vector<float> extremes() const {
    std::vector<float> v = kept_;
    std::sort(v.begin(), v.end(), std::greater<float>());
    if (order_ == order::smallest)
      for (float& e : v) e = -e;
    return v;
  }
  std::size_t memory_bytes() const noexcept { return kept_.capacity() * sizeof(float); }

 private:
  float transform(float v) const noexcept {
    switch (order_) {
      case order::smallest: return -v;
      case order::largest_abs: return std::fabs(v);
      default: return v;
    }
  }
  std::int64_t k_;
  order order_;
  std::vector<float> kept_;
  float floor_ = -std::numeric_limits<float>::infinity();
};

/// TPU-MLIR's interpolated percentile from the k extreme values (kld_calibrator.py):
/// with inter = total - 1, r = frac(p/100 * inter), the value is e[k-1] + r * (e[k-2] - e[k-1])
/// where e is ordered from the extreme inwards (e[k-1] is the k-th most extreme); k = 1 gives e[0].
/// The difference is taken in float32 as numpy does on float32 data.
inline double interpolated_percentile(const std::vector<float>& extremes, double percent, std::int64_t total) {
  if (extremes.empty()) throw error("calibration: percentile of an empty sample");
  const auto k = extremes.size();
  if (k == 1) return extremes[0];
  const double inter = static_cast<double>(total) - 1.0;
  const double pos = percent / 100.0 * inter;
  const double ratio = pos - static_cast<double>(static_cast<std::int64_t>(pos));
  const float kth = extremes[k - 1], next = extremes[k - 2];
  return static_cast<double>(kth) + ratio * static_cast<double>(next - kth);
}

/// k for a percentile over `total` values: int(total * (1 - p/100)) + 1.
inline std::int64_t percentile_k(std::int64_t total, double percent) {
  return static_cast<std::int64_t>(static_cast<double>(total) * (1.0 - percent / 100.0)) + 1;
}

namespace detail {
/// tail_sums over fixed 64K-element chunks, added in chunk order: the same result whatever the
/// number of threads.
inline tail_sums chunked_tail_sums(std::span<const float> x, float s, thread_pool* pool) {
  constexpr std::size_t chunk = 1 << 16;
  const std::size_t chunks = (x.size() + chunk - 1) / chunk;
  if (!pool || chunks < 4) return tail_sums_of(x, s);
  std::vector<tail_sums> part(chunks);
  pool->parallel_for(static_cast<std::int64_t>(chunks), 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t c = b; c < e; ++c) {
      const std::size_t off = static_cast<std::size_t>(c) * chunk;
      part[static_cast<std::size_t>(c)] = tail_sums_of(x.subspan(off, std::min(chunk, x.size() - off)), s);
    }
  });
  tail_sums t;
  for (const auto& p : part) {
    t.sum_above += p.sum_above;
    t.count_above += p.count_above;
    t.sum_abs += p.sum_abs;
    t.count_nonzero += p.count_nonzero;
  }
  return t;
}
}  // namespace detail

/// OCTAV / "mse" threshold of one batch (facts doc §2.6): s0 = mean of the non-zero |x|, then
/// s <- sum_{|x|>s} |x| / (4^-b / 3 / u * #(|x|<=s) + #(|x|>s)), u = 4 for a non-negative
/// tensor, up to 20 times, stopping (and keeping the previous s) once a step moves < 1e-6.
/// An all-zero batch gives 0.
inline double octav_threshold(std::span<const float> x, int bits, float batch_min, thread_pool* pool = nullptr) {
  const double u = std::fabs(static_cast<double>(batch_min)) < 1e-6 ? 4.0 : 1.0;
  const double tail_weight = 1.0 / std::pow(4.0, bits) / 3.0 / u;
  const tail_sums first = detail::chunked_tail_sums(x, std::numeric_limits<float>::infinity(), pool);
  if (first.count_nonzero == 0) return 0.0;
  double s = first.sum_abs / static_cast<double>(first.count_nonzero);
  const auto n = static_cast<std::int64_t>(x.size());
  for (int it = 0; it < 20; ++it) {
    const tail_sums t = detail::chunked_tail_sums(x, static_cast<float>(s), pool);
    const double denom = tail_weight * static_cast<double>(n - t.count_above) + static_cast<double>(t.count_above);
    const double next = t.sum_above / denom;
    if (std::fabs(next - s) < 1e-6) break;
    s = next;
  }
  return s;
}

inline double octav_threshold_reference(std::span<const float> x, int bits, float batch_min) {
  const double u = std::fabs(static_cast<double>(batch_min)) < 1e-6 ? 4.0 : 1.0;
  const double tail_weight = 1.0 / std::pow(4.0, bits) / 3.0 / u;
  double sum = 0;
  std::int64_t nonzero = 0;
  for (float v : x) sum += std::fabs(v), nonzero += v != 0;
  if (nonzero == 0) return 0.0;
  double s = sum / static_cast<double>(nonzero);
  for (int it = 0; it < 20; ++it) {
    double above = 0;
    std::int64_t cnt = 0;
    const float sf = static_cast<float>(s);
    for (float v : x)
      if (std::fabs(v) > sf) above += std::fabs(v), ++cnt;
    const double next = above / (tail_weight * static_cast<double>(static_cast<std::int64_t>(x.size()) - cnt) + static_cast<double>(cnt));
    if (std::fabs(next - s) < 1e-6) break;
    s = next;
  }
  return s;
}

/// ACIQ constants (Banner et al.), 8-bit and 4-bit, as TPU-MLIR uses them.
inline double aciq_gauss_alpha(int bits) { return bits == 4 ? 2.55913642 : 3.92403337; }
inline double aciq_laplace_beta(int bits) { return bits == 4 ? 5.02864014 : 9.89675982; }

/// ACIQ-Gauss of one batch: alpha * (max - min) * 0.175 (1 + sqrt(pi ln 4)) / sqrt(2 ln N).
/// A one-element batch has no spread estimate: +inf, which the abs-max clamp then replaces.
inline double aciq_gauss_threshold(float batch_min, float batch_max, std::int64_t n, int bits) {
  if (n <= 1) return std::numeric_limits<double>::infinity();
  const double gaussian_const = (0.5 * 0.35) * (1.0 + std::sqrt(M_PI * std::log(4.0)));
  const double spread = static_cast<double>(batch_max - batch_min);  // float32 difference, as numpy
  return aciq_gauss_alpha(bits) * (spread * gaussian_const) / std::sqrt(2.0 * std::log(static_cast<double>(n)));
}

/// ACIQ-Laplace of one batch: beta * mean |x - mean(x)|.
inline double aciq_laplace_threshold(std::span<const float> x, int bits) {
  if (x.empty()) return 0.0;
  const double mean = sum_of(x) / static_cast<double>(x.size());
  return aciq_laplace_beta(bits) * central_sums_of(x, mean).abs_dev / static_cast<double>(x.size());
}

/// Kurtosis E[z^4] with z = (x - mean) / (std + 1e-8) (not the excess form); +inf when std = 0.
inline double kurtosis(std::span<const float> x) {
  if (x.empty()) return std::numeric_limits<double>::infinity();
  const double n = static_cast<double>(x.size());
  const double mean = sum_of(x) / n;
  const double var = central_sums_of(x, mean).m2 / n;
  const double sd = std::sqrt(var);
  if (sd == 0) return std::numeric_limits<double>::infinity();
  return fourth_moment_of(x, mean, 1.0 / (sd + 1e-8)) / n;
}

}  // namespace mixq::calibration
