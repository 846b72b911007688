// histogram_observer's behaviour at the edges: empty and invalid input, defaults, limits.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "mixq/calibration/histogram_observer.hpp"

using mixq::calibration::histogram_observer;
using mixq::calibration::observer_qparams;

TEST_CASE("an observer that saw nothing gives torch's default qparams, scale 1 and zero point 0") {
  histogram_observer obs;
  obs.observe(std::vector<float>{});  // an empty batch is skipped, as torch skips it
  REQUIRE_FALSE(obs.initialized());
  const observer_qparams q = obs.qparams();
  REQUIRE(q.scale == 1.f);
  REQUIRE(q.zero_point == 0);
  REQUIRE(std::isinf(q.min));
  REQUIRE(obs.threshold() == 128.0);  // TPU-MLIR's formula on those defaults
}

TEST_CASE("an empty batch leaves an observer unchanged") {
  histogram_observer obs(128);
  obs.observe(std::vector<float>{-1.f, 0.5f, 2.f});
  const std::vector<float> before(obs.histogram().begin(), obs.histogram().end());
  const double th = obs.threshold();
  obs.observe(std::vector<float>{});
  REQUIRE(std::vector<float>(obs.histogram().begin(), obs.histogram().end()) == before);
  REQUIRE(obs.threshold() == th);
}

TEST_CASE("NaN or infinity in a batch is an error and leaves the observer as it was") {
  histogram_observer obs(64);
  obs.observe(std::vector<float>{0.f, 1.f});
  const float min = obs.min(), max = obs.max();
  REQUIRE_THROWS_WITH(obs.observe(std::vector<float>{1.f, std::nanf(""), 2.f}),
                      Catch::Contains("element 1 of the 3") && Catch::Contains("NaN"));
  REQUIRE_THROWS_WITH(obs.observe(std::vector<float>(40, std::numeric_limits<float>::infinity())),
                      Catch::Contains("element 0 of the 40") && Catch::Contains("infinite"));
  REQUIRE(obs.min() == min);
  REQUIRE(obs.max() == max);
}

TEST_CASE("the bin count must be positive and at most 2^24") {
  REQUIRE_THROWS_WITH(histogram_observer(0), Catch::Contains("bin count") && Catch::Contains("got 0"));
  REQUIRE_THROWS_WITH(histogram_observer((1 << 24) + 1), Catch::Contains("bin count"));
  REQUIRE(histogram_observer(1).bins() == 1);
}

TEST_CASE("memory_bytes counts the histogram") {
  REQUIRE(histogram_observer(2048).memory_bytes() >= 2048 * sizeof(float));
  REQUIRE(histogram_observer(2048).memory_bytes() < 2048 * sizeof(float) + 256);
  REQUIRE(histogram_observer(128).memory_bytes() < histogram_observer(2048).memory_bytes());
}

TEST_CASE("TPU-MLIR's threshold is scale * max(128 + zp, 127 - zp), at least 1e-5") {
  observer_qparams q;
  q.scale = 0.05f;
  q.zero_point = -10;
  REQUIRE(histogram_observer::threshold_of(q) == static_cast<double>(0.05f * 137.f));
  q.zero_point = 20;
  REQUIRE(histogram_observer::threshold_of(q) == static_cast<double>(0.05f * 148.f));
  q.scale = 1e-8f;  // below what torch's eps allows, but the clamp is TPU-MLIR's
  REQUIRE(histogram_observer::threshold_of(q) == 1e-5);
}

TEST_CASE("a batch whose range is one value starts the histogram over, as torch does") {
  histogram_observer obs(16);
  obs.observe(std::vector<float>{3.f, 3.f});
  REQUIRE(obs.min() == 3.f);
  REQUIRE(obs.max() == 3.f);
  obs.observe(std::vector<float>{-1.f, -0.5f, 0.5f});  // the earlier 3s are forgotten
  REQUIRE(obs.min() == -1.f);
  REQUIRE(obs.max() == 0.5f);
  float total = 0;
  for (float h : obs.histogram()) total += h;
  REQUIRE(total == 2.f);  // histc's range is int(-1)..int(0.5) = [-1, 0]: 0.5 falls outside
}

TEST_CASE("a range that grows beyond what torch can combine is an error naming both ranges") {
  histogram_observer obs(2048);
  obs.observe(std::vector<float>{0.f, 1e-30f});
  REQUIRE_THROWS_WITH(obs.observe(std::vector<float>{-1e30f, 1e30f}),
                      Catch::Contains("grew from [0, 1e-30]") && Catch::Contains("too far"));
}
