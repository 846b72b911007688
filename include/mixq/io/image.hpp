#pragma once
// Reading image files as OpenCV 4.6's cv2.imread does (TPU-MLIR decodes calibration and test images
// with it): JPEG through libjpeg-turbo and PNG through libpng with OpenCV's settings, BMP with
// OpenCV's own rules. Part of the optional `mixq::image` component (link JPEG and PNG); the umbrella
// mixq.hpp does not include it.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/io/image/bmp.hpp"
#include "mixq/io/image/jpeg.hpp"
#include "mixq/io/image/pixels.hpp"
#include "mixq/io/image/png.hpp"

namespace mixq {

enum class image_format { jpeg, png, bmp };

inline std::string_view to_string(image_format f) noexcept {
  switch (f) {
    case image_format::jpeg:
      return "JPEG";
    case image_format::png:
      return "PNG";
    case image_format::bmp:
      return "BMP";
  }
  return "?";
}

/// The format by its signature, as OpenCV picks a decoder: the file name plays no part.
inline std::optional<image_format> sniff_image_format(std::span<const std::uint8_t> bytes) noexcept {
  auto starts = [&](std::string_view magic) {
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
  };
  if (starts("\xFF\xD8\xFF")) return image_format::jpeg;
  if (starts("\x89PNG\r\n\x1A\n")) return image_format::png;
  if (starts("BM")) return image_format::bmp;
  return std::nullopt;
}

namespace detail {
/// Names the formats cv2.imread would read but mixq does not, so the error says what the file is.
inline std::string unsupported_format_message(std::span<const std::uint8_t> b) {
  auto starts = [&](std::string_view magic) {
    return b.size() >= magic.size() && std::memcmp(b.data(), magic.data(), magic.size()) == 0;
  };
  std::string what = "an unknown format";
  if (b.empty())
    what = "an empty file";
  else if (starts("GIF8"))
    what = "GIF";
  else if (starts("II*") || starts("MM\0*"))
    what = "TIFF";
  else if (b.size() >= 12 && starts("RIFF") && std::memcmp(b.data() + 8, "WEBP", 4) == 0)
    what = "WebP";
  else if (starts("\0\0\0\x0CjP  ") || starts("\xFF\x4F\xFF\x51"))
    what = "JPEG 2000";
  else if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7')
    what = "PNM/PAM";
  else if (starts("\x76\x2F\x31\x01"))
    what = "OpenEXR";
  else if (starts("#?RADIANCE") || starts("#?RGBE"))
    what = "Radiance HDR";
  return "not a JPEG, PNG or BMP image (" + what + "); mixq reads those three formats, judged by content";
}
}  // namespace detail

/// Decodes an image held in memory; `name` is what error messages call it.
inline image decode_image(std::span<const std::uint8_t> bytes, image_read_mode mode = image_read_mode::color,
                          std::string_view name = "<memory>") {
  const auto format = sniff_image_format(bytes);
  if (!format) throw error(std::string(name) + ": " + detail::unsupported_format_message(bytes));
  switch (*format) {
    case image_format::jpeg:
      return detail::jpeg::decode(bytes, mode, name);
    case image_format::png:
      return detail::png::decode(bytes, mode, name);
    case image_format::bmp:
      return detail::bmp::decode(bytes, mode, name);
  }
  throw error(std::string(name) + ": unreachable image format");
}

namespace detail {
struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

inline std::vector<std::uint8_t> read_whole_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw error(file.string() + ": is a directory, not an image file");
  std::unique_ptr<std::FILE, file_closer> f(std::fopen(file.c_str(), "rb"));
  if (!f) {
    const int code = errno;
    throw error(file.string() + ": cannot open the image (" + std::generic_category().message(code) + ")");
  }
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  if (std::ferror(f.get())) {
    const int code = errno;
    throw error(file.string() + ": cannot read the image (" + std::generic_category().message(code) + ")");
  }
  return bytes;
}
}  // namespace detail

/// Reads and decodes an image file; errors (missing file, unknown format, truncated or corrupt data)
/// are mixq::error naming the file.
inline image read_image(const std::filesystem::path& file, image_read_mode mode = image_read_mode::color) {
  const std::vector<std::uint8_t> bytes = detail::read_whole_file(file);
  return decode_image(bytes, mode, file.string());
}

}  // namespace mixq
