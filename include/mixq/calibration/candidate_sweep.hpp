#pragma once
// How the auto-tuner's candidate sweeps are scheduled, and which parts of them can be skipped.
//
// A sweep scores every candidate threshold of a tensor by the squared error it causes in its
// consumer's result. The sweeps of tile_sweep.hpp and band_sweep.hpp cut one sample's result
// into parts that stay in cache; here those parts are `chains` of `steps`. A step adds one
// candidate's error over a part of the result to its chain's running total, so the steps of a
// chain run in order (element-wise sums then keep the whole-tensor bits); chains are
// independent, and a sample's total is its chains' totals summed in chain order.
//
// pruned_sweep scores the candidates of several samples at once and stops scoring a candidate
// once it cannot be the best: errors are squares, so a running total only grows, and so does a
// score computed from running totals (the caller's score is monotone). When a candidate's score
// over the parts done so far already exceeds the complete score of another candidate, its
// remaining parts are skipped. The best candidate and every score that could be the minimum come
// out exactly as scoring everything would give them, bit for bit: the same steps in the same
// order, summed in the same order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "mixq/core/thread_pool.hpp"
#include "mixq/quant/fake_quant.hpp"

namespace mixq::calibration::detail {

namespace sweep_impl {

/// How many groups the candidates split into when `blocks` parts of a result are scored: few
/// parts split the candidates too, so every thread has work.
inline std::size_t candidate_groups(std::size_t blocks, std::size_t candidates, thread_pool* pool) {
  const std::size_t threads = pool ? pool->size() : 1;
  return std::clamp<std::size_t>((2 * threads + blocks - 1) / blocks, 1, std::max<std::size_t>(candidates, 1));
}

/// Runs fn(t0, t1) over tasks [0, n), split across the pool when there is more than one.
template <class Fn>
void run_tasks(std::size_t n, thread_pool* pool, Fn&& fn) {
  if (pool && n > 1)
    pool->parallel_for(static_cast<std::int64_t>(n), 1,
                       [&](std::int64_t t0, std::int64_t t1) { fn(static_cast<std::size_t>(t0), static_cast<std::size_t>(t1)); });
  else
    fn(std::size_t{0}, n);
}

}  // namespace sweep_impl

/// One sample's candidate scoring, cut into chains of steps (see the top of this file).
class sweep_problem {
 public:
  /// One thread's scratch for scoring steps.
  class worker {
   public:
    virtual ~worker() = default;
    /// For each j, adds candidate qs[j]'s squared error over step `step` of chain `chain` to
    /// totals[j], the chain's running total for that candidate.
    virtual void score(std::size_t chain, std::size_t step, std::span<const quant::int_fake_quant> qs, std::span<double> totals) = 0;
  };
  virtual ~sweep_problem() = default;
  virtual std::size_t chains() const = 0;
  virtual std::size_t steps(std::size_t chain) const = 0;
  virtual std::unique_ptr<worker> make_worker() const = 0;
};

namespace sweep_impl {

/// Steps [begin, end) of one chain of one sample.
struct step_run {
  std::size_t sample, chain, begin, end;
};

/// Running totals per sample, chain and candidate, and the runs that advance them.
class sweep_state {
 public:
  sweep_state(std::span<const sweep_problem* const> samples, std::span<const quant::int_fake_quant> qs) : samples_(samples), qs_(qs) {
    totals_.resize(samples.size());
    for (std::size_t s = 0; s < samples.size(); ++s) totals_[s].assign(samples[s]->chains() * qs.size(), 0.0);
  }

  /// Scores `runs` for the candidates `ks` (indices into the candidates), across the pool.
  void run(std::span<const step_run> runs, std::span<const std::size_t> ks, thread_pool* pool) {
    if (runs.empty() || ks.empty()) return;
    const std::size_t K = qs_.size(), groups = candidate_groups(runs.size(), ks.size(), pool);
    run_tasks(runs.size() * groups, pool, [&](std::size_t t0, std::size_t t1) {
      std::vector<std::unique_ptr<sweep_problem::worker>> workers(samples_.size());
      std::vector<quant::int_fake_quant> qs;
      std::vector<double> totals;
      for (std::size_t t = t0; t < t1; ++t) {
        const step_run& part = runs[t / groups];
        const std::size_t grp = t % groups, j0 = grp * ks.size() / groups, j1 = (grp + 1) * ks.size() / groups;
        if (j0 == j1) continue;
        auto& w = workers[part.sample];
        if (!w) w = samples_[part.sample]->make_worker();
        double* row = totals_[part.sample].data() + part.chain * K;
        qs.clear();
        totals.clear();
        for (std::size_t j = j0; j < j1; ++j) {
          qs.push_back(qs_[ks[j]]);
          totals.push_back(row[ks[j]]);
        }
        for (std::size_t step = part.begin; step < part.end; ++step) w->score(part.chain, step, qs, totals);
        for (std::size_t j = j0; j < j1; ++j) row[ks[j]] = totals[j - j0];
      }
    });
  }

  /// Candidate k's total over sample s: its chains' running totals, in chain order.
  double sample_total(std::size_t s, std::size_t k) const {
    const std::size_t K = qs_.size();
    double sum = 0;
    for (std::size_t c = 0; c < samples_[s]->chains(); ++c) sum += totals_[s][c * K + k];
    return sum;
  }

 private:
  std::span<const sweep_problem* const> samples_;
  std::span<const quant::int_fake_quant> qs_;
  std::vector<std::vector<double>> totals_;  // per sample: [chain * K + k]
};

/// Reverses the low `bits` bits of v: visiting chains in this order spreads the first ones
/// over the whole result.
inline std::size_t reverse_bits(std::size_t v, unsigned bits) {
  std::size_t r = 0;
  for (unsigned b = 0; b < bits; ++b) r |= ((v >> b) & 1u) << (bits - 1 - b);
  return r;
}

/// Every step of every sample, in the order pruned_sweep scores them: by how far into its chain
/// a step lies, chains spread over the result, samples in turn. A prefix of this order is then
/// a fair sample of the whole, and a chain's steps still come in order.
struct step_ref {
  std::size_t sample, chain, step;
};
inline std::vector<step_ref> sweep_order(std::span<const sweep_problem* const> samples) {
  struct keyed {
    double depth;
    std::size_t spread, sample, chain, step;
  };
  std::vector<keyed> all;
  for (std::size_t s = 0; s < samples.size(); ++s) {
    const std::size_t C = samples[s]->chains();
    unsigned bits = 0;
    while ((std::size_t{1} << bits) < C) ++bits;
    for (std::size_t c = 0; c < C; ++c) {
      const std::size_t n = samples[s]->steps(c);
      for (std::size_t i = 0; i < n; ++i)
        all.push_back({(static_cast<double>(i) + 0.5) / static_cast<double>(n), reverse_bits(c, bits), s, c, i});
    }
  }
  std::sort(all.begin(), all.end(), [](const keyed& a, const keyed& b) {
    return std::tie(a.depth, a.spread, a.sample, a.chain, a.step) < std::tie(b.depth, b.spread, b.sample, b.chain, b.step);
  });
  std::vector<step_ref> order;
  order.reserve(all.size());
  for (const keyed& k : all) order.push_back({k.sample, k.chain, k.step});
  return order;
}

/// The steps order[lo, hi) as runs (a chain's steps in a prefix-to-prefix window are
/// consecutive).
inline std::vector<step_run> step_runs_of(std::span<const step_ref> order, std::size_t lo, std::size_t hi) {
  std::vector<step_ref> part(order.begin() + static_cast<std::ptrdiff_t>(lo), order.begin() + static_cast<std::ptrdiff_t>(hi));
  std::sort(part.begin(), part.end(),
            [](const step_ref& a, const step_ref& b) { return std::tie(a.sample, a.chain, a.step) < std::tie(b.sample, b.chain, b.step); });
  std::vector<step_run> out;
  for (const step_ref& r : part) {
    if (!out.empty() && out.back().sample == r.sample && out.back().chain == r.chain && out.back().end == r.step) {
      ++out.back().end;
      continue;
    }
    out.push_back({r.sample, r.chain, r.step, r.step + 1});
  }
  return out;
}

}  // namespace sweep_impl

/// Every candidate's squared error over one sample, scoring every step.
inline std::vector<double> sweep_totals(const sweep_problem& problem, std::span<const quant::int_fake_quant> qs, thread_pool* pool) {
  const sweep_problem* const samples[1] = {&problem};
  sweep_impl::sweep_state state(samples, qs);
  std::vector<sweep_impl::step_run> whole;
  for (std::size_t c = 0; c < problem.chains(); ++c)
    if (problem.steps(c) > 0) whole.push_back({0, c, 0, problem.steps(c)});
  std::vector<std::size_t> ks(qs.size());
  for (std::size_t k = 0; k < ks.size(); ++k) ks[k] = k;
  state.run(whole, ks, pool);
  std::vector<double> out(qs.size());
  for (std::size_t k = 0; k < qs.size(); ++k) out[k] = state.sample_total(0, k);
  return out;
}

struct pruned_sweep_result {
  /// Per candidate: its score where it can be the minimum (exactly what scoring every step
  /// gives); for a candidate that was stopped, a lower bound of its score that is already above
  /// the minimum.
  std::vector<double> scores;
  std::size_t steps_scored = 0;  // candidate steps run
  std::size_t steps_total = 0;   // candidate steps a full sweep runs
};

/// Scores the candidates `qs` over `samples` (one problem per sample), stopping a candidate once
/// it cannot be the best. `score` maps a candidate's per-sample totals to its score and must not
/// decrease when a total grows. A first round scores every candidate on a sixteenth of the
/// steps; the candidate that leads then is scored to the end, which gives the bound; the others
/// go on in rounds of a sixteenth, each stopped when its score so far exceeds the bound.
inline pruned_sweep_result pruned_sweep(std::span<const sweep_problem* const> samples, std::span<const quant::int_fake_quant> qs,
                                        const std::function<double(std::span<const double>)>& score, thread_pool* pool) {
  const std::size_t K = qs.size(), S = samples.size();
  pruned_sweep_result out;
  out.scores.assign(K, 0.0);
  if (K == 0 || S == 0) return out;
  const std::vector<sweep_impl::step_ref> order = sweep_impl::sweep_order(samples);
  const std::size_t N = order.size();
  out.steps_total = N * K;
  sweep_impl::sweep_state state(samples, qs);
  std::vector<double> per_sample(S);
  auto score_of = [&](std::size_t k) {
    for (std::size_t s = 0; s < S; ++s) per_sample[s] = state.sample_total(s, k);
    return score(per_sample);
  };
  auto advance = [&](std::size_t lo, std::size_t hi, std::span<const std::size_t> ks) {
    state.run(sweep_impl::step_runs_of(order, lo, hi), ks, pool);
    out.steps_scored += (hi - lo) * ks.size();
  };
  std::vector<std::size_t> alive(K);
  for (std::size_t k = 0; k < K; ++k) alive[k] = k;
  constexpr std::size_t rounds = 16;
  // Too few candidates to gain from the rounds, or too few steps to leave any after the first:
  // everything at once.
  if (K < 3 || N < 2 * S) {
    advance(0, N, alive);
    for (std::size_t k = 0; k < K; ++k) out.scores[k] = score_of(k);
    return out;
  }
  const std::size_t probe = std::max(S, N / rounds), window = (N - probe + rounds - 1) / rounds;
  advance(0, probe, alive);
  std::size_t leader = 0;
  double lead = score_of(0);
  for (std::size_t k = 1; k < K; ++k)
    if (const double v = score_of(k); v < lead) {
      lead = v;
      leader = k;
    }
  const std::size_t only_leader[1] = {leader};
  advance(probe, N, only_leader);
  const double bound = score_of(leader);
  alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(leader));
  // NaN scores never compare above the bound: such candidates run to the end.
  auto stop_beaten = [&] { std::erase_if(alive, [&](std::size_t k) { return score_of(k) > bound; }); };
  stop_beaten();
  for (std::size_t at = probe; at < N && !alive.empty(); at += window) {
    advance(at, std::min(N, at + window), alive);
    stop_beaten();
  }
  for (std::size_t k = 0; k < K; ++k) out.scores[k] = score_of(k);
  return out;
}

}  // namespace mixq::calibration::detail
