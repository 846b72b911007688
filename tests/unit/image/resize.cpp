// resize_linear against cv2.resize (INTER_LINEAR) on random 8-bit images, and against a plain
// per-pixel evaluation of the same fixed-point formula.
#include "image_test_util.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "mixq/io/image/resize.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

/// OpenCV's 8-bit bilinear resize written per output pixel, straight from its definition: no row
/// cache, no shortcuts except the 2x2 box average OpenCV substitutes for exact halving.
std::uint8_t reference_pixel(const image& src, int dw, int dh, int x, int y, int k) {
  const double sx = 1.0 / (double(dw) / src.width), sy = 1.0 / (double(dh) / src.height);
  auto is_half = [](double s) { return std::lrint(s) == 2 && std::abs(s - 2.0) < 2.220446049250313e-16; };
  if (is_half(sx) && is_half(sy)) {
    const int sum =
        src.at(2 * y, 2 * x, k) + src.at(2 * y, 2 * x + 1, k) + src.at(2 * y + 1, 2 * x, k) + src.at(2 * y + 1, 2 * x + 1, k);
    return static_cast<std::uint8_t>((sum + 2) >> 2);
  }
  auto coordinate = [](int d, double scale) {
    volatile double product = (d + 0.5) * scale;
    const float f = static_cast<float>(product - 0.5);
    const int i = static_cast<int>(std::floor(f));
    return std::pair<int, float>{i, f - static_cast<float>(i)};
  };
  auto [x0, fx] = coordinate(x, sx);
  if (x0 < 0) x0 = 0, fx = 0;
  if (x0 >= src.width - 1) x0 = src.width - 1, fx = 0;
  const int ax0 = int(std::lrint((1.f - fx) * 2048.f)), ax1 = int(std::lrint(fx * 2048.f));
  auto [y0, fy] = coordinate(y, sy);
  const int by0 = int(std::lrint((1.f - fy) * 2048.f)), by1 = int(std::lrint(fy * 2048.f));
  auto row_value = [&](int yy) {
    yy = std::clamp(yy, 0, src.height - 1);
    const int right = ax1 ? src.at(yy, x0 + 1, k) : 0;
    return src.at(yy, x0, k) * ax0 + right * ax1;
  };
  const int top = (((row_value(y0) >> 4) * by0) >> 16), bottom = (((row_value(y0 + 1) >> 4) * by1) >> 16);
  return static_cast<std::uint8_t>(std::clamp((top + bottom + 2) >> 2, 0, 255));
}

}  // namespace

TEST_CASE("resize_linear matches cv2.resize exactly (up, down, odd, exact halves, 1/3/4 channels)", "[image][resize]") {
  const npz_file npz = read_npz((image_data_dir() / "resized.npz").string());
  int checked = 0;
  for (const auto& [key, t] : npz) {
    const auto parts = split_on(key, '|');
    if (parts[0] != "dst") continue;
    const image src = to_image(npz.at("src|" + parts[1]));
    const int w = std::stoi(parts[2]), h = std::stoi(parts[3]);
    INFO(key << " from " << src.width << "x" << src.height << "x" << src.channels);
    const image expected = to_image(t);
    CHECK(max_abs_difference(resize_linear(src, w, h), expected) == 0);
    ++checked;
  }
  CHECK(checked > 150);
}

TEST_CASE("resize_linear equals the per-pixel reference formula", "[image][resize]") {
  std::mt19937 gen(5);
  for (int round = 0; round < 60; ++round) {
    const int sw = 1 + int(gen() % 40), sh = 1 + int(gen() % 40), c = 1 + int(gen() % 4);
    const int dw = round % 5 == 0 ? std::max(1, sw / 2) : 1 + int(gen() % 50);
    const int dh = round % 5 == 0 ? std::max(1, sh / 2) : 1 + int(gen() % 50);
    image src(sw, sh, c);
    for (auto& v : src.data) v = static_cast<std::uint8_t>(gen());
    const image fast = resize_linear(src, dw, dh);
    INFO(sw << "x" << sh << "x" << c << " -> " << dw << "x" << dh);
    REQUIRE(fast.width == dw);
    REQUIRE(fast.height == dh);
    if (dw == sw && dh == sh) {
      CHECK(fast == src);
      continue;
    }
    int mismatches = 0;
    for (int y = 0; y < dh; ++y)
      for (int x = 0; x < dw; ++x)
        for (int k = 0; k < c; ++k) mismatches += fast.at(y, x, k) != reference_pixel(src, dw, dh, x, y, k);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("resize_linear rejects empty sources and targets", "[image][resize]") {
  CHECK_THROWS_WITH(resize_linear(image{}, 3, 3), Catch::Contains("empty"));
  CHECK_THROWS_WITH(resize_linear(image(4, 4, 3), 0, 3), Catch::Contains("4x4") && Catch::Contains("0x3"));
}
