#pragma once
// PNG decoding through libpng with the transformation sequence OpenCV 4.6 sets up (imgcodecs
// grfmt_png.cpp): 16-bit samples keep their high byte, palettes and low-bit gray expand to 8 bits,
// gray from color uses libpng's rgb_to_gray with 0.299/0.587. Same library, same calls, same
// pixels. libpng reports errors by longjmp-ing back into the guarded functions below, which own no
// C++ objects.
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <png.h>

#include "mixq/core/error.hpp"
#include "mixq/io/image/exif.hpp"
#include "mixq/io/image/pixels.hpp"

namespace mixq::detail::png {

struct source {
  std::span<const std::uint8_t> data;
  std::size_t pos = 0;
  char message[256] = {};
};

inline void on_error(png_structp png, png_const_charp message) {
  auto* s = static_cast<source*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", message ? message : "unknown libpng error");
  png_longjmp(png, 1);
}
inline void on_warning(png_structp, png_const_charp) {}  // OpenCV lets libpng print them; nothing depends on them

inline void read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<source*>(png_get_io_ptr(png));
  if (n > s->data.size() - s->pos) png_error(png, "the file is truncated");
  std::memcpy(out, s->data.data() + s->pos, n);
  s->pos += n;
}

struct reader {
  source src;
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end_info = nullptr;
  explicit reader(std::span<const std::uint8_t> data) {
    src.data = data;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (png) {
      info = png_create_info_struct(png);
      end_info = png_create_info_struct(png);
    }
  }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  ~reader() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, end_info ? &end_info : nullptr);
  }
};

inline bool guarded_read_info(reader& r) {
  if (setjmp(png_jmpbuf(r.png))) return false;
  png_set_read_fn(r.png, &r.src, read_from_memory);
  png_read_info(r.png, r.info);
  return true;
}

/// Which libpng transformations to request, in OpenCV's order.
struct transforms {
  bool strip_16 = false, strip_alpha = false, trns_to_alpha = false, palette_to_rgb = false, expand_gray = false;
  bool bgr = false, gray_to_rgb = false, rgb_to_gray = false, add_opaque_alpha = false;
};

enum class read_result { ok, failed, unexpected_layout };

inline read_result guarded_read_image(reader& r, const transforms& t, png_bytepp rows, std::size_t row_bytes) {
  if (setjmp(png_jmpbuf(r.png))) return read_result::failed;
  if (t.strip_16) png_set_strip_16(r.png);
  if (t.strip_alpha) png_set_strip_alpha(r.png);
  if (t.trns_to_alpha) png_set_tRNS_to_alpha(r.png);
  if (t.palette_to_rgb) png_set_palette_to_rgb(r.png);
  if (t.expand_gray) png_set_expand_gray_1_2_4_to_8(r.png);
  if (t.bgr) png_set_bgr(r.png);
  if (t.gray_to_rgb) png_set_gray_to_rgb(r.png);
  if (t.rgb_to_gray) png_set_rgb_to_gray(r.png, 1, 0.299, 0.587);
  if (t.add_opaque_alpha) png_set_add_alpha(r.png, 0xff, PNG_FILLER_AFTER);
  png_set_interlace_handling(r.png);
  png_read_update_info(r.png, r.info);
  if (png_get_rowbytes(r.png, r.info) != row_bytes) return read_result::unexpected_layout;
  png_read_image(r.png, rows);
  png_read_end(r.png, r.end_info);
  return read_result::ok;
}

inline std::string failure(std::string_view name, const std::string& message) { return std::string(name) + ": PNG: " + message; }

inline image decode(std::span<const std::uint8_t> data, image_read_mode mode, std::string_view name) {
  reader r(data);
  if (!r.png || !r.info || !r.end_info) throw error(failure(name, "libpng could not allocate a decoder"));
  if (!guarded_read_info(r)) throw error(failure(name, r.src.message));
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(r.png, r.info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  check_image_size(name, width, height);
  const bool has_trns = png_get_valid(r.png, r.info, PNG_INFO_tRNS) != 0;
  const bool is_color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
  // OpenCV's notion of a 4-channel PNG (what IMREAD_UNCHANGED returns with alpha).
  const bool four_channels = color_type == PNG_COLOR_TYPE_GRAY_ALPHA || color_type == PNG_COLOR_TYPE_RGB_ALPHA ||
                             ((color_type == PNG_COLOR_TYPE_RGB || color_type == PNG_COLOR_TYPE_PALETTE) && has_trns);

  transforms t;
  int channels = 3;
  if (mode == image_read_mode::rgba) {
    if (bit_depth == 16)
      throw error(failure(name,
                          "16-bit images are not supported with pixel_format rgba (TPU-MLIR would feed them "
                          "unscaled, 0..65535, or through PIL's lossy 16-bit gray conversion)"));
    channels = 4;
    t.palette_to_rgb = color_type == PNG_COLOR_TYPE_PALETTE;
    t.expand_gray = !is_color && bit_depth < 8;
    t.gray_to_rgb = !is_color;
    if (four_channels || (!is_color && has_trns))
      t.trns_to_alpha = true;  // PIL honours a gray tRNS too
    else
      t.add_opaque_alpha = true;
  } else {
    const bool color = mode == image_read_mode::color;
    channels = color ? 3 : 1;
    t.strip_16 = bit_depth == 16;
    t.strip_alpha = true;
    t.palette_to_rgb = color_type == PNG_COLOR_TYPE_PALETTE;
    t.expand_gray = !is_color && bit_depth < 8;
    if (is_color && color)
      t.bgr = true;
    else if (color)
      t.gray_to_rgb = true;
    else
      t.rgb_to_gray = true;
  }

  image out(static_cast<int>(width), static_cast<int>(height), channels);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.row(static_cast<int>(y));
  switch (guarded_read_image(r, t, rows.data(), out.row_bytes())) {
    case read_result::ok:
      break;
    case read_result::failed:
      throw error(failure(name, r.src.message));
    case read_result::unexpected_layout:
      throw error(failure(name, "libpng produced an unexpected row layout"));
  }

  if (mode == image_read_mode::rgba) return out;  // IMREAD_UNCHANGED and PIL ignore the orientation
  std::optional<int> orientation;
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_valid(r.png, r.info, PNG_INFO_eXIf))
    png_get_eXIf_1(r.png, r.info, &exif_size, &exif);
  else if (png_get_valid(r.png, r.end_info, PNG_INFO_eXIf))
    png_get_eXIf_1(r.png, r.end_info, &exif_size, &exif);
  if (exif && exif_size > 0) orientation = exif_orientation({exif, exif_size});
#endif
  if (orientation) out = apply_exif_orientation(std::move(out), *orientation);
  return out;
}

}  // namespace mixq::detail::png
