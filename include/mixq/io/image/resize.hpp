#pragma once
// cv2.resize(img, (w, h)) with the default INTER_LINEAR on 8-bit images, bit for bit as OpenCV 4.6
// computes it on x86-64: 11-bit fixed-point tap weights rounded from float coordinates, an int32
// horizontal pass, and the vertical pass of its SIMD kernel (which Debian's SSE2 build runs on every
// pixel, and whose rounding differs from OpenCV's scalar formula). An exact 2x reduction takes
// OpenCV's INTER_AREA shortcut: the rounded mean of each 2x2 block.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/io/image/pixels.hpp"

namespace mixq {
namespace detail {

/// Rounds to double before the caller's next operation: OpenCV's SSE2 build computes
/// `(d + 0.5) * scale - 0.5` with two roundings, and a compiler targeting FMA would fuse them.
inline double rounded(double v) noexcept {
  volatile double r = v;
  return r;
}

struct linear_tap {
  int first = 0;        // first source index (before clamping, for rows)
  std::int32_t w0 = 0;  // weight of `first`, in 1/2048
  std::int32_t w1 = 0;  // weight of `first + 1`
};

/// OpenCV's per-coordinate taps. Columns are clamped into the image (weight moved onto the edge
/// pixel); rows keep their weights and clamp the row index instead, as OpenCV does.
inline std::vector<linear_tap> linear_taps(int dst, int src, bool clamp_to_edge) {
  constexpr float one = 2048.f;  // INTER_RESIZE_COEF_SCALE
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  std::vector<linear_tap> taps(static_cast<std::size_t>(dst));
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>(rounded((d + 0.5) * scale) - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_to_edge) {
      if (s < 0) f = 0.f, s = 0;
      if (s >= src - 1) f = 0.f, s = src - 1;
    }
    auto& t = taps[static_cast<std::size_t>(d)];
    t.first = s;
    t.w0 = static_cast<std::int32_t>(std::lrint((1.f - f) * one));
    t.w1 = static_cast<std::int32_t>(std::lrint(f * one));
  }
  return taps;
}

inline int clamp_row(int y, int rows) noexcept { return y < 0 ? 0 : (y < rows ? y : rows - 1); }

/// OpenCV's VResizeLinearVec_32s8u: each horizontal sum drops 4 bits, is multiplied by its 11-bit
/// weight keeping the high 16 bits, and the sum is rounded away by 2 more bits.
inline std::uint8_t vertical_blend(std::int32_t top, std::int32_t bottom, std::int32_t w_top, std::int32_t w_bottom) noexcept {
  const std::int32_t a = ((top >> 4) * w_top) >> 16;
  const std::int32_t b = ((bottom >> 4) * w_bottom) >> 16;
  const std::int32_t v = (a + b + 2) >> 2;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

inline bool is_exact_half(int dst, int src) noexcept {
  const double scale = 1.0 / (static_cast<double>(dst) / static_cast<double>(src));
  const int integral = static_cast<int>(std::lrint(scale));
  return integral == 2 && std::abs(scale - integral) < DBL_EPSILON;
}

inline image halve(const image& src, int width, int height) {
  image out(width, height, src.channels);
  const int c = src.channels;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* r0 = src.row(2 * y);
    const std::uint8_t* r1 = src.row(2 * y + 1);
    std::uint8_t* d = out.row(y);
    for (int x = 0; x < width; ++x)
      for (int k = 0; k < c; ++k) {
        const std::size_t i = static_cast<std::size_t>(2 * x * c + k);
        const int sum = r0[i] + r0[i + static_cast<std::size_t>(c)] + r1[i] + r1[i + static_cast<std::size_t>(c)];
        d[static_cast<std::size_t>(x * c + k)] = static_cast<std::uint8_t>((sum + 2) >> 2);
      }
  }
  return out;
}

}  // namespace detail

/// `cv2.resize(src, (width, height))` (INTER_LINEAR) for 8-bit images with any channel count.
inline image resize_linear(const image& src, int width, int height) {
  if (src.empty() || src.width <= 0 || src.height <= 0 || src.channels <= 0)
    throw error("resize_linear: the source image is empty");
  if (width <= 0 || height <= 0)
    throw error("resize_linear: cannot resize a " + std::to_string(src.width) + "x" + std::to_string(src.height) + " image to " +
                std::to_string(width) + "x" + std::to_string(height));
  if (width == src.width && height == src.height) return src;
  if (detail::is_exact_half(width, src.width) && detail::is_exact_half(height, src.height))
    return detail::halve(src, width, height);

  const int c = src.channels;
  const auto xt = detail::linear_taps(width, src.width, true);
  const auto yt = detail::linear_taps(height, src.height, false);
  const std::size_t row_elems = static_cast<std::size_t>(width) * static_cast<std::size_t>(c);
  // Horizontal passes of two source rows; consecutive output rows mostly reuse them.
  std::vector<std::int32_t> rows[2] = {std::vector<std::int32_t>(row_elems), std::vector<std::int32_t>(row_elems)};
  int cached[2] = {-1, -1};
  auto horizontal = [&](int sy, int keep_slot) -> int {
    for (int i = 0; i < 2; ++i)
      if (cached[i] == sy) return i;
    const int slot = keep_slot == 0 ? 1 : (keep_slot == 1 ? 0 : (cached[0] <= cached[1] ? 0 : 1));
    const std::uint8_t* s = src.row(sy);
    std::int32_t* d = rows[slot].data();
    for (int x = 0; x < width; ++x) {
      const auto& t = xt[static_cast<std::size_t>(x)];
      const std::uint8_t* p = s + static_cast<std::size_t>(t.first) * static_cast<std::size_t>(c);
      // Edge taps carry weight 0 on `first + 1`, which may lie outside the row.
      const std::size_t next = t.w1 != 0 ? static_cast<std::size_t>(c) : 0;
      for (int k = 0; k < c; ++k) d[x * c + k] = p[k] * t.w0 + p[static_cast<std::size_t>(k) + next] * t.w1;
    }
    cached[slot] = sy;
    return slot;
  };

  image out(width, height, c);
  for (int y = 0; y < height; ++y) {
    const auto& t = yt[static_cast<std::size_t>(y)];
    const int top = horizontal(detail::clamp_row(t.first, src.height), -1);
    const int bottom = horizontal(detail::clamp_row(t.first + 1, src.height), top);
    const std::int32_t* r0 = rows[top].data();
    const std::int32_t* r1 = rows[bottom].data();
    std::uint8_t* d = out.row(y);
    for (std::size_t i = 0; i < row_elems; ++i) d[i] = detail::vertical_blend(r0[i], r1[i], t.w0, t.w1);
  }
  return out;
}

}  // namespace mixq
