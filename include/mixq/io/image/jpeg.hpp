#pragma once
// JPEG decoding through libjpeg(-turbo) with the decompression parameters OpenCV 4.6 uses (the
// library defaults: islow IDCT, fancy upsampling), so the pixels are the ones cv2.imread returns
// when both link the same libjpeg. libjpeg reports errors by calling error_exit, which must not
// return: it longjmps back into the two functions below that own no C++ objects, so no destructor
// is ever skipped.
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <jpeglib.h>
#include <jerror.h>

#include "mixq/core/error.hpp"
#include "mixq/io/image/exif.hpp"
#include "mixq/io/image/pixels.hpp"

namespace mixq::detail::jpeg {

struct error_manager {
  jpeg_error_mgr pub;  // first member: libjpeg hands callbacks a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int lost_data_code;  // the first warning that means missing or garbled pixels, 0 if none
  char lost_data_message[JMSG_LENGTH_MAX];
};
static_assert(std::is_standard_layout_v<error_manager>);

inline error_manager& manager_of(j_common_ptr cinfo) { return *reinterpret_cast<error_manager*>(cinfo->err); }

inline void on_error_exit(j_common_ptr cinfo) {
  error_manager& err = manager_of(cinfo);
  (*cinfo->err->format_message)(cinfo, err.message);
  std::longjmp(err.jump, 1);
}

/// OpenCV keeps every image libjpeg manages to produce and only prints warnings; mixq refuses an
/// image whose warnings say coefficient data was missing or corrupt (it would otherwise calibrate on
/// the gray fill libjpeg puts there) and ignores the rest. "Premature end of JPEG file" alone is not
/// such a sign: libjpeg reads ahead and says it for a file that only lacks its EOI marker.
inline bool warning_loses_pixels(int code) noexcept {
  switch (code) {
    case JWRN_HIT_MARKER:  // the entropy-coded data ran out (truncation) or hit a stray marker
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
      return true;
    default:
      return false;
  }
}

inline void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  error_manager& err = manager_of(cinfo);
  ++cinfo->err->num_warnings;
  if (err.lost_data_code == 0 && warning_loses_pixels(cinfo->err->msg_code)) {
    err.lost_data_code = cinfo->err->msg_code;
    (*cinfo->err->format_message)(cinfo, err.lost_data_message);
  }
}

struct decompressor {
  jpeg_decompress_struct cinfo{};
  error_manager err{};
  decompressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_message;
  }
  decompressor(const decompressor&) = delete;
  decompressor& operator=(const decompressor&) = delete;
  ~decompressor() { jpeg_destroy_decompress(&cinfo); }  // safe in any state, even before creation
};

inline bool guarded_read_header(decompressor& d, std::span<const std::uint8_t> data) {
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  jpeg_mem_src(&d.cinfo, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 1, 0xffff);  // EXIF, for the orientation
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

inline bool guarded_read_pixels(decompressor& d, J_COLOR_SPACE out_space, std::uint8_t* pixels, std::size_t row_bytes) {
  if (setjmp(d.err.jump)) return false;
  d.cinfo.out_color_space = out_space;
  jpeg_start_decompress(&d.cinfo);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = pixels + static_cast<std::size_t>(d.cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  return true;
}

/// OpenCV has its image once the scanlines are read and ignores what jpeg_finish_decompress says
/// about the rest of the file (a missing EOI, trailing garbage).
inline void guarded_finish(decompressor& d) {
  if (setjmp(d.err.jump)) return;
  jpeg_finish_decompress(&d.cinfo);
}

/// OpenCV's CMYK conversions (imgcodecs utils.cpp), applied to what libjpeg returns for 4-component
/// files, which for the usual Adobe files are inverted CMYK values.
inline void cmyk_to_bgr(const std::uint8_t* cmyk, std::uint8_t* bgr, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, bgr += 3) {
    const int k = cmyk[3];
    bgr[2] = static_cast<std::uint8_t>(k - ((255 - cmyk[0]) * k >> 8));
    bgr[1] = static_cast<std::uint8_t>(k - ((255 - cmyk[1]) * k >> 8));
    bgr[0] = static_cast<std::uint8_t>(k - ((255 - cmyk[2]) * k >> 8));
  }
}

inline std::string failure(std::string_view name, const char* message) { return std::string(name) + ": JPEG: " + message; }

inline image decode(std::span<const std::uint8_t> data, image_read_mode mode, std::string_view name) {
  decompressor d;
  if (!guarded_read_header(d, data)) throw error(failure(name, d.err.message));
  const int components = d.cinfo.num_components;
  const bool cmyk = components == 4;
  if (cmyk && mode == image_read_mode::rgba)
    throw error(failure(name,
                        "CMYK images are not supported with pixel_format rgba (TPU-MLIR hands them to PIL, whose "
                        "CMYK conversion differs from OpenCV's)"));
  check_image_size(name, d.cinfo.image_width, d.cinfo.image_height);

  std::optional<int> orientation;
  for (jpeg_saved_marker_ptr m = d.cinfo.marker_list; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    if (m->data_length > 6) orientation = exif_orientation({m->data + 6, m->data_length - 6});
    break;  // OpenCV looks at the first APP1 only, Exif or not
  }

  J_COLOR_SPACE space = JCS_EXT_BGR;
  int decoded_channels = 3;
  if (cmyk) {
    space = JCS_CMYK;
    decoded_channels = 4;
  } else if (mode == image_read_mode::grayscale) {
    space = JCS_GRAYSCALE;  // for YCbCr files libjpeg then returns the Y plane as is
    decoded_channels = 1;
  } else if (mode == image_read_mode::rgba) {
    space = JCS_EXT_RGBA;  // PIL's RGB decode plus opaque alpha
    decoded_channels = 4;
  }
  image decoded(static_cast<int>(d.cinfo.image_width), static_cast<int>(d.cinfo.image_height), decoded_channels);
  if (!guarded_read_pixels(d, space, decoded.data.data(), decoded.row_bytes())) throw error(failure(name, d.err.message));
  if (d.err.lost_data_code != 0) throw error(failure(name, d.err.lost_data_message));
  guarded_finish(d);
  if (static_cast<int>(d.cinfo.output_width) != decoded.width || static_cast<int>(d.cinfo.output_height) != decoded.height ||
      d.cinfo.output_components != decoded_channels)
    throw error(failure(name, "libjpeg produced an unexpected output layout"));

  image out;
  if (cmyk) {
    image bgr(decoded.width, decoded.height, 3);
    for (int y = 0; y < decoded.height; ++y) cmyk_to_bgr(decoded.row(y), bgr.row(y), decoded.width);
    if (mode == image_read_mode::grayscale) {
      out = image(decoded.width, decoded.height, 1);
      for (std::size_t i = 0; i < out.data.size(); ++i)
        out.data[i] = codec_gray(bgr.data[3 * i], bgr.data[3 * i + 1], bgr.data[3 * i + 2]);
    } else {
      out = std::move(bgr);
    }
  } else {
    out = std::move(decoded);
  }
  // cv2.imread applies the orientation for IMREAD_COLOR and IMREAD_GRAYSCALE; TPU-MLIR's rgba path
  // (IMREAD_UNCHANGED, or PIL) does not.
  if (mode != image_read_mode::rgba && orientation) out = apply_exif_orientation(std::move(out), *orientation);
  return out;
}

}  // namespace mixq::detail::jpeg
