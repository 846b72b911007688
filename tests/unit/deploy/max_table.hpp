#pragma once
// A cali table from the max method over a few samples: what the deploy tests calibrate with.
#include <cstdint>
#include <vector>

#include "mixq/calibration/collector.hpp"
#include "mixq/io/cali_table.hpp"

namespace deploy_test {

inline mixq::cali_table max_cali_table(const mixq::graph& g, const std::vector<mixq::named_tensors>& samples) {
  using namespace mixq;
  calibration::collect_options o;
  o.methods = {calibration::method::max};
  o.batches = static_cast<std::int64_t>(samples.size());
  calibration::statistics_collector col(g, o);
  interpreter interp(g);
  for (const auto& b : samples) col.add_batch(interp, b);
  const auto r = col.thresholds(calibration::method::max);
  cali_table t;
  for (std::size_t k = 0; k < col.layout().rows.size(); ++k) t.rows.push_back({col.layout().rows[k].name, r.rows[k].threshold, r.rows[k].min, r.rows[k].max});
  return t;
}

}  // namespace deploy_test
