#pragma once
// Pass 1 of run_calibration: every calibration batch through the FP32 interpreter, its tensors
// into a statistics_collector.
//
// Batches run several at once, each inference on one thread of the pool, rather than one after
// another with each inference split over the pool. An inference is hundreds of parallel loops,
// and between them the threads wait for each other (a 640x640 detector keeps two cores 75-85%
// busy); the statistics (the |x| histogram) are as long as the inference again. Run whole on one
// thread each, neither waits, and each batch decodes its own images on its own thread instead of
// taking a core from the inference. The collector makes every row take the batches in order, so
// the statistics are bit-identical to one batch after another.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "mixq/calibration/collector.hpp"
#include "mixq/calibration/dataset.hpp"
#include "mixq/core/error.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/graph/interpreter.hpp"

namespace mixq::calibration {

struct statistics_pass_options {
  thread_pool* pool = nullptr;
  /// Batches in flight at once, each inference on one thread. 0: as many as the pool has
  /// threads, fewer where their activations would pass `activation_budget`. 1: one batch after
  /// another, each inference on the whole pool (the next batch is decoded meanwhile).
  std::size_t concurrent_batches = 0;
  /// Bound on the activations of the batches in flight (the first batch's peak times their
  /// number), in bytes.
  std::size_t activation_budget = std::size_t{2} << 30;
  /// The inputs of the first `keep_inputs` batches are returned (the tune pass's samples, which
  /// then are not decoded twice).
  std::size_t keep_inputs = 0;
  /// After each batch: how many are done, of how many. Called from one thread at a time.
  std::function<void(std::size_t done, std::size_t total)> on_batch;
};

struct statistics_pass_result {
  /// The largest batch's activations times the batches in flight (an upper bound of the peak).
  std::size_t peak_activation_bytes = 0;
  std::size_t concurrent_batches = 1;
  std::vector<named_tensors> kept_inputs;  // batches 0 .. keep_inputs - 1
};

namespace detail {

/// "file, file" (or "list:line") of batch b, for errors.
inline std::string describe_batch(const calibration_batches& batches, std::size_t b) {
  std::string out;
  for (std::size_t i : batches.samples_of(b)) {
    const auto& s = batches.selection().samples[i];
    out += (out.empty() ? "" : ", ") + (s.line ? batches.selection().source + ":" + std::to_string(s.line) : s.text);
  }
  return out;
}

/// Batch b through the interpreter with the collector's hooks; returns its peak activations.
inline std::size_t run_statistics_batch(const interpreter& interp, const calibration_batches& batches, statistics_collector& collector,
                                        std::size_t b, const named_tensors& inputs) {
  const run_hooks h = collector.batch_hooks(static_cast<std::int64_t>(b));
  run_options ro;
  ro.hooks = &h;
  run_result rr;
  try {
    rr = interp.run(inputs, ro);
  } catch (const error& e) {
    throw error(std::string(e.what()) + "; batch " + std::to_string(b + 1) + " is " + describe_batch(batches, b));
  }
  collector.finish_batch(static_cast<std::int64_t>(b));
  return rr.peak_activation_bytes;
}

}  // namespace detail

/// Runs every batch of `batches` through `interp` (built on `opt.pool`) into `collector`.
/// Errors are those of the earliest failing batch, as one batch after another would give.
inline statistics_pass_result run_statistics_pass(const interpreter& interp, const calibration_batches& batches,
                                                  statistics_collector& collector, const statistics_pass_options& opt) {
  statistics_pass_result res;
  const std::size_t n = batches.size();
  if (n == 0) return res;
  res.kept_inputs.resize(std::min(opt.keep_inputs, n));
  auto keep = [&](std::size_t b, const named_tensors& inputs) {
    if (b < res.kept_inputs.size()) res.kept_inputs[b] = inputs;  // shares the buffers
  };
  std::size_t done = 0;
  auto report = [&] {
    ++done;
    if (opt.on_batch) opt.on_batch(done, n);
  };
  // The first batch alone, on the whole pool: its peak sizes the batches in flight.
  const named_tensors first = batches.load(0);
  keep(0, first);
  std::size_t peak = detail::run_statistics_batch(interp, batches, collector, 0, first);
  report();
  std::size_t lanes = opt.concurrent_batches == 0 ? (opt.pool ? opt.pool->size() : 1) : opt.concurrent_batches;
  lanes = std::min(lanes, n - 1);
  if (opt.concurrent_batches == 0 && peak > 0) lanes = std::min(lanes, std::max<std::size_t>(1, opt.activation_budget / peak));
  if (!opt.pool || opt.pool->size() < 2) lanes = std::min<std::size_t>(lanes, 1);

  if (lanes <= 1) {
    // One after another: batch b + 1 decodes while batch b runs.
    std::future<named_tensors> next;
    if (n > 1) next = std::async(std::launch::async, [&] { return batches.load(1); });
    for (std::size_t b = 1; b < n; ++b) {
      named_tensors inputs = next.get();
      if (b + 1 < n) next = std::async(std::launch::async, [&, b] { return batches.load(b + 1); });
      keep(b, inputs);
      peak = std::max(peak, detail::run_statistics_batch(interp, batches, collector, b, inputs));
      report();
    }
    res.peak_activation_bytes = peak;
    return res;
  }

  res.concurrent_batches = lanes;
  std::atomic<std::size_t> next_batch{1};
  std::mutex mutex;  // guards the failure, the peak and the progress count
  std::size_t failed_batch = std::numeric_limits<std::size_t>::max();
  std::exception_ptr failure;
  std::size_t largest = peak;
  auto fail = [&](std::size_t b, std::exception_ptr e) {
    collector.abort_after(static_cast<std::int64_t>(b));
    std::lock_guard lock(mutex);
    if (b < failed_batch) {
      failed_batch = b;
      failure = e;
    }
  };
  auto lane = [&] {
    for (;;) {
      const std::size_t b = next_batch.fetch_add(1);
      if (b >= n) return;
      {
        std::lock_guard lock(mutex);
        if (b > failed_batch) return;
      }
      try {
        const named_tensors inputs = batches.load(b);
        keep(b, inputs);  // each lane its own elements
        const std::size_t p = detail::run_statistics_batch(interp, batches, collector, b, inputs);
        std::lock_guard lock(mutex);
        largest = std::max(largest, p);
        report();
      } catch (const statistics_collector::batch_aborted&) {
        return;
      } catch (...) {
        fail(b, std::current_exception());
        return;
      }
    }
  };
  opt.pool->parallel_for(static_cast<std::int64_t>(lanes), 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t l = begin; l < end; ++l) lane();
  });
  if (failure) std::rethrow_exception(failure);
  res.peak_activation_bytes = largest * lanes;
  return res;
}

}  // namespace mixq::calibration
