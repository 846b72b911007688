// The auto-tuner's pruned candidate sweep (candidate_sweep.hpp) against scoring every step: the
// best candidate and every score that can be the minimum must come out with the same bits, the
// stopped candidates with lower bounds above the minimum, at any thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "mixq/calibration/candidate_sweep.hpp"
#include "mixq/calibration/tuner.hpp"

namespace candidate_sweep_tests {

using namespace mixq;
using calibration::detail::sweep_problem;

/// Candidate k is told apart by its inv_scale, k + 1.
std::vector<quant::int_fake_quant> numbered_candidates(std::size_t K) {
  std::vector<quant::int_fake_quant> qs(K);
  for (std::size_t k = 0; k < K; ++k) qs[k].inv_scale = static_cast<float>(k + 1);
  return qs;
}

/// A made-up sample: candidate k's error over a step is `cost(k)` times a weight that varies
/// from step to step, plus a little noise that makes the sums' order matter. The problem checks
/// that each chain's steps reach it in order for every candidate.
class synthetic_problem final : public sweep_problem {
 public:
  synthetic_problem(std::vector<std::size_t> steps, std::vector<double> cost, unsigned seed, bool noise_per_candidate = true)
      : steps_(std::move(steps)), cost_(std::move(cost)), seed_(seed), noise_per_candidate_(noise_per_candidate),
        next_(steps_.size() * cost_.size(), 0) {}

  std::size_t chains() const override { return steps_.size(); }
  std::size_t steps(std::size_t c) const override { return steps_[c]; }
  std::unique_ptr<worker> make_worker() const override { return std::make_unique<synthetic_worker>(*this); }

  /// Whether every chain's steps came in order, once each, for the candidates that ran.
  bool in_order() const { return !out_of_order_; }

 private:
  double error(std::size_t chain, std::size_t step, std::size_t k) const {
    std::uint32_t h = seed_ * 2654435761u ^ static_cast<std::uint32_t>(chain * 40503u + step * 9973u + (noise_per_candidate_ ? k * 31u : 0u));
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const double noise = static_cast<double>(h % 1000) / 1000.0;  // [0, 1)
    const double weight = 1.0 + static_cast<double>((chain * 7 + step * 3) % 11);
    return cost_[k] * weight * (1.0 + 0.003 * noise) + 1e-7 * noise;
  }

  class synthetic_worker final : public worker {
   public:
    explicit synthetic_worker(const synthetic_problem& p) : p_(p) {}
    void score(std::size_t chain, std::size_t step, std::span<const quant::int_fake_quant> qs, std::span<double> totals) override {
      for (std::size_t j = 0; j < qs.size(); ++j) {
        const auto k = static_cast<std::size_t>(qs[j].inv_scale) - 1;
        int& next = p_.next_[chain * p_.cost_.size() + k];
        if (next != static_cast<int>(step)) p_.out_of_order_ = true;
        next = static_cast<int>(step) + 1;
        totals[j] += p_.error(chain, step, k);
      }
    }

   private:
    const synthetic_problem& p_;
  };

  std::vector<std::size_t> steps_;
  std::vector<double> cost_;
  unsigned seed_;
  bool noise_per_candidate_;
  // Written by the worker of the one task that owns a (chain, candidate) at a time.
  mutable std::vector<int> next_;
  mutable bool out_of_order_ = false;
};

/// The tuner's score: mean over samples of sqrt(l2) / l1.
double tuner_score(std::span<const double> l2, std::span<const double> l1) {
  double sum = 0;
  for (std::size_t s = 0; s < l2.size(); ++s) sum += calibration::detail::tune_distance_of(l2[s], l1[s]);
  return sum / static_cast<double>(l2.size());
}

struct sweep_case {
  std::size_t samples, candidates;
  std::vector<std::size_t> steps;  // per chain
  std::size_t best;                // the candidate with the lowest cost
};

std::vector<double> costs_for(const sweep_case& c) {
  std::vector<double> cost(c.candidates);
  for (std::size_t k = 0; k < c.candidates; ++k) {
    const double d = static_cast<double>(k) - static_cast<double>(c.best);
    cost[k] = 1.0 + 0.02 * d * d;  // a smooth curve, as thresholds give
  }
  return cost;
}

TEST_CASE("pruned candidate sweep: the winner and every score that can win are those of the full sweep, bit for bit") {
  const std::vector<sweep_case> cases = {
      {5, 22, std::vector<std::size_t>(40, 1), 3},            // bands: one step per chain
      {5, 22, std::vector<std::size_t>(25, 4), 0},            // element-wise blocks of four pieces
      {3, 22, {4, 4, 4, 4, 4, 4, 4, 2}, 21},                  // a short last block, winner last
      {1, 22, std::vector<std::size_t>(100, 1), 11},          // one sample
      {4, 7, std::vector<std::size_t>(9, 3), 2},
      {2, 2, std::vector<std::size_t>(30, 1), 1},             // too few candidates to stop any
      {3, 22, {1}, 5},                                         // too few steps to stop any
  };
  thread_pool pool(2);
  for (const sweep_case& c : cases) {
    INFO(c.samples << " samples, " << c.candidates << " candidates, " << c.steps.size() << " chains");
    const auto qs = numbered_candidates(c.candidates);
    const auto cost = costs_for(c);
    std::vector<double> l1;
    for (std::size_t s = 0; s < c.samples; ++s) l1.push_back(10.0 + static_cast<double>(s));
    auto score = [&](std::span<const double> l2) { return tuner_score(l2, l1); };

    // Every step of every candidate.
    std::vector<double> full(c.candidates);
    {
      std::vector<std::vector<double>> l2;
      for (std::size_t s = 0; s < c.samples; ++s) {
        const synthetic_problem p(c.steps, cost, static_cast<unsigned>(s + 1));
        l2.push_back(calibration::detail::sweep_totals(p, qs, &pool));
        CHECK(p.in_order());
      }
      for (std::size_t k = 0; k < c.candidates; ++k) {
        std::vector<double> per(c.samples);
        for (std::size_t s = 0; s < c.samples; ++s) per[s] = l2[s][k];
        full[k] = score(per);
      }
    }
    std::size_t steps_per_sample = 0;
    for (std::size_t v : c.steps) steps_per_sample += v;
    const auto first_min = static_cast<std::size_t>(std::min_element(full.begin(), full.end()) - full.begin());
    CHECK(first_min == c.best);

    for (thread_pool* threads : {&pool, static_cast<thread_pool*>(nullptr)}) {
      INFO((threads ? "two threads" : "one thread"));
      std::vector<std::unique_ptr<synthetic_problem>> problems;
      std::vector<const sweep_problem*> ptrs;
      for (std::size_t s = 0; s < c.samples; ++s) {
        problems.push_back(std::make_unique<synthetic_problem>(c.steps, cost, static_cast<unsigned>(s + 1)));
        ptrs.push_back(problems.back().get());
      }
      const auto pruned = calibration::detail::pruned_sweep(ptrs, qs, score, threads);
      for (const auto& p : problems) CHECK(p->in_order());
      REQUIRE(pruned.scores.size() == c.candidates);
      CHECK(pruned.steps_total == c.samples * c.candidates * steps_per_sample);
      CHECK(pruned.scores[c.best] == full[c.best]);
      for (std::size_t k = 0; k < c.candidates; ++k) {
        INFO("candidate " << k);
        if (pruned.scores[k] != full[k]) {
          CHECK(pruned.scores[k] < full[k]);
          CHECK(pruned.scores[k] > full[c.best]);
        }
      }
      const auto chosen = static_cast<std::size_t>(std::min_element(pruned.scores.begin(), pruned.scores.end()) - pruned.scores.begin());
      CHECK(chosen == c.best);
      const bool can_stop = c.candidates >= 3 && pruned.steps_total / c.candidates >= 2 * c.samples;
      if (can_stop) CHECK(pruned.steps_scored < pruned.steps_total);
      else CHECK(pruned.steps_scored == pruned.steps_total);
    }
  }
}

TEST_CASE("pruned candidate sweep: equal candidates all run to the end, and keep equal scores") {
  const sweep_case c{3, 10, std::vector<std::size_t>(32, 1), 0};
  const auto qs = numbered_candidates(c.candidates);
  const std::vector<double> cost(c.candidates, 1.0);
  std::vector<std::unique_ptr<synthetic_problem>> problems;
  std::vector<const sweep_problem*> ptrs;
  for (std::size_t s = 0; s < c.samples; ++s) {
    problems.push_back(std::make_unique<synthetic_problem>(c.steps, cost, static_cast<unsigned>(s + 1), false));
    ptrs.push_back(problems.back().get());
  }
  const std::vector<double> l1(c.samples, 1.0);
  thread_pool pool(2);
  const auto pruned = calibration::detail::pruned_sweep(
      ptrs, qs, [&](std::span<const double> l2) { return tuner_score(l2, l1); }, &pool);
  // A tie is not "unable to win": the first of equals wins, so nothing may be stopped.
  CHECK(pruned.steps_scored == pruned.steps_total);
  for (std::size_t k = 1; k < c.candidates; ++k) CHECK(pruned.scores[k] == pruned.scores[0]);
}

TEST_CASE("pruned candidate sweep: a NaN score is never stopped and never wins") {
  const sweep_case c{2, 8, std::vector<std::size_t>(40, 1), 4};
  const auto qs = numbered_candidates(c.candidates);
  auto cost = costs_for(c);
  cost[6] = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::unique_ptr<synthetic_problem>> problems;
  std::vector<const sweep_problem*> ptrs;
  for (std::size_t s = 0; s < c.samples; ++s) {
    problems.push_back(std::make_unique<synthetic_problem>(c.steps, cost, static_cast<unsigned>(s + 3)));
    ptrs.push_back(problems.back().get());
  }
  const std::vector<double> l1(c.samples, 2.0);
  const auto pruned = calibration::detail::pruned_sweep(
      ptrs, qs, [&](std::span<const double> l2) { return tuner_score(l2, l1); }, nullptr);
  CHECK(std::isnan(pruned.scores[6]));
  double best = std::numeric_limits<double>::infinity();
  std::size_t at = 0;
  for (std::size_t k = 0; k < c.candidates; ++k)
    if (pruned.scores[k] < best) {
      best = pruned.scores[k];
      at = k;
    }
  CHECK(at == c.best);
  CHECK(pruned.steps_scored < pruned.steps_total);
}

}  // namespace candidate_sweep_tests
