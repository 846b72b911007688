#pragma once
// Shared by the observer tests: running a case through histogram_observer and comparing it with
// torch's results as torch_observe.py records them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mixq/calibration/histogram_observer.hpp"
#include "mixq/io/npz.hpp"

namespace mixq::test {

/// The results of one observer run, under torch_observe.py's names.
struct observer_result {
  calibration::observer_qparams q;
  double threshold = 0;
  std::vector<float> hist;
};

inline observer_result run_observer(int bins, const std::vector<tensor>& batches) {
  calibration::histogram_observer obs(bins);
  for (const tensor& b : batches) obs.observe(b.values<float>());
  observer_result r;
  r.q = obs.qparams();
  r.threshold = calibration::histogram_observer::threshold_of(r.q);
  r.hist.assign(obs.histogram().begin(), obs.histogram().end());
  return r;
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || a == b; }

/// Relative threshold difference; every other result must be bit-identical to torch's.
/// `key(name)` gives the array torch_observe.py stored under `name`.
template <class Key>
inline double compare_with_torch(const observer_result& r, const npz_file& f, const Key& key) {
  const float scale = f.at(key("scale")).template values<float>()[0];
  const std::int32_t zero_point = f.at(key("zero_point")).template values<std::int32_t>()[0];
  const double threshold = f.at(key("threshold")).template values<double>()[0];
  const auto hist = f.at(key("hist")).template values<float>();
  INFO("scale " << r.q.scale << " vs torch " << scale << ", zero point " << r.q.zero_point << " vs " << zero_point
                << ", clip range [" << r.q.clip_min << ", " << r.q.clip_max << "] vs ["
                << f.at(key("clip_min")).template values<float>()[0] << ", "
                << f.at(key("clip_max")).template values<float>()[0] << "]");
  CHECK(same_bits(r.q.min, f.at(key("min")).template values<float>()[0]));
  CHECK(same_bits(r.q.max, f.at(key("max")).template values<float>()[0]));
  REQUIRE(r.hist.size() == hist.size());
  std::size_t differing = 0, first = hist.size();
  for (std::size_t b = 0; b < hist.size(); ++b)
    if (!same_bits(r.hist[b], hist[b])) {
      ++differing;
      first = std::min(first, b);
    }
  INFO(differing << " histogram bins differ from torch's, the first is bin " << first);
  CHECK(differing == 0);
  CHECK(same_bits(r.q.clip_min, f.at(key("clip_min")).template values<float>()[0]));
  CHECK(same_bits(r.q.clip_max, f.at(key("clip_max")).template values<float>()[0]));
  CHECK(same_bits(r.q.scale, scale));
  CHECK(r.q.zero_point == zero_point);
  const double rel = std::abs(r.threshold - threshold) / threshold;
  CHECK(rel <= 1e-5);
  return rel;
}

}  // namespace mixq::test
