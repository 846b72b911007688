#pragma once
// The decoded-image type shared by the decoders, the resize and the preprocessing, plus the few
// pixel conversions OpenCV's codecs apply themselves (so they live here, not in a codec).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"

namespace mixq {

/// The three ways TPU-MLIR's preprocessing reads an image file (python/utils/preprocess.py).
enum class image_read_mode {
  color,      ///< cv2.IMREAD_COLOR: 3 channels B,G,R (gray sources replicated), EXIF orientation applied
  grayscale,  ///< cv2.IMREAD_GRAYSCALE: 1 channel, EXIF orientation applied
  rgba,       ///< pixel_format rgba: 4 channels in R,G,B,A order; sources without alpha get alpha 255; no EXIF orientation
};

inline std::string_view to_string(image_read_mode m) noexcept {
  switch (m) {
    case image_read_mode::color: return "color";
    case image_read_mode::grayscale: return "grayscale";
    case image_read_mode::rgba: return "rgba";
  }
  return "?";
}

/// 8-bit pixels, interleaved (height x width x channels), rows top to bottom, no row padding.
struct image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> data;

  image() = default;
  image(int w, int h, int c, std::uint8_t fill = 0) : width(w), height(h), channels(c), data(pixel_bytes(w, h, c), fill) {}

  std::size_t row_bytes() const noexcept { return static_cast<std::size_t>(width) * static_cast<std::size_t>(channels); }
  std::uint8_t* row(int y) noexcept { return data.data() + static_cast<std::size_t>(y) * row_bytes(); }
  const std::uint8_t* row(int y) const noexcept { return data.data() + static_cast<std::size_t>(y) * row_bytes(); }
  std::uint8_t& at(int y, int x, int c) noexcept { return row(y)[offset(x, c)]; }
  std::uint8_t at(int y, int x, int c) const noexcept { return row(y)[offset(x, c)]; }
  bool empty() const noexcept { return data.empty(); }
  friend bool operator==(const image&, const image&) = default;

 private:
  static std::size_t pixel_bytes(int w, int h, int c) noexcept {
    return static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * static_cast<std::size_t>(c);
  }
  std::size_t offset(int x, int c) const noexcept {
    return static_cast<std::size_t>(x) * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c);
  }
};

namespace detail {

/// OpenCV refuses larger images (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS) before allocating them, which
/// also keeps a corrupt header from asking for terabytes.
inline void check_image_size(std::string_view name, long long width, long long height) {
  constexpr long long max_side = 1LL << 20, max_pixels = 1LL << 30;
  if (width <= 0 || height <= 0)
    throw error(std::string(name) + ": the image header gives a size of " + std::to_string(width) + "x" + std::to_string(height));
  if (width > max_side || height > max_side || width * height > max_pixels)
    throw error(std::string(name) + ": the image is " + std::to_string(width) + "x" + std::to_string(height) +
                ", larger than the 2^20 per side / 2^30 pixels OpenCV accepts");
}

/// OpenCV's codec-level gray conversion (imgcodecs utils.cpp): BT.601 weights in 14-bit fixed point,
/// rounded. cv::cvtColor uses different rounding, so this is not cvtColor's gray.
inline std::uint8_t codec_gray(int b, int g, int r) noexcept {
  constexpr int shift = 14;
  constexpr int cr = static_cast<int>(0.299 * (1 << shift) + 0.5), cg = static_cast<int>(0.587 * (1 << shift) + 0.5);
  constexpr int cb = (1 << shift) - cr - cg;
  return static_cast<std::uint8_t>((b * cb + g * cg + r * cr + (1 << (shift - 1))) >> shift);
}

/// B,G,R -> R,G,B,A with opaque alpha: what PIL's convert('RGBA') gives for an image without alpha.
inline image bgr_to_opaque_rgba(const image& bgr) {
  image out(bgr.width, bgr.height, 4);
  const std::size_t n = static_cast<std::size_t>(bgr.width) * static_cast<std::size_t>(bgr.height);
  for (std::size_t i = 0; i < n; ++i) {
    out.data[4 * i + 0] = bgr.data[3 * i + 2];
    out.data[4 * i + 1] = bgr.data[3 * i + 1];
    out.data[4 * i + 2] = bgr.data[3 * i + 0];
    out.data[4 * i + 3] = 255;
  }
  return out;
}

/// EXIF orientation (1..8) applied the way OpenCV's imread does after decoding: flips and
/// transposes so the result is upright. Other values leave the image unchanged.
inline image apply_exif_orientation(image src, int orientation) {
  if (orientation < 2 || orientation > 8) return src;
  const int w = src.width, h = src.height, c = src.channels;
  const bool swaps_axes = orientation >= 5;
  image out(swaps_axes ? h : w, swaps_axes ? w : h, c);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sy = y, sx = x;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                      // mirrored
        case 3: sy = h - 1 - y; sx = w - 1 - x; break;      // upside down
        case 4: sy = h - 1 - y; break;                      // mirrored upside down
        case 5: sy = x; sx = y; break;                      // transposed
        case 6: sy = h - 1 - x; sx = y; break;              // rotated 90 degrees clockwise
        case 7: sy = h - 1 - x; sx = w - 1 - y; break;      // transverse
        case 8: sy = x; sx = w - 1 - y; break;              // rotated 90 degrees counter-clockwise
        default: break;
      }
      const std::uint8_t* s = src.row(sy) + static_cast<std::size_t>(sx) * static_cast<std::size_t>(c);
      std::uint8_t* d = out.row(y) + static_cast<std::size_t>(x) * static_cast<std::size_t>(c);
      for (int k = 0; k < c; ++k) d[k] = s[k];
    }
  return out;
}

}  // namespace detail
}  // namespace mixq
