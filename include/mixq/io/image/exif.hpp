#pragma once
// The EXIF orientation tag, read the way OpenCV 4.6's ExifReader reads it, quirks included, so that
// an image OpenCV turns upright is turned the same way here and one it leaves alone stays alone.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace mixq::detail {

class exif_orientation_reader {
 public:
  /// `tiff` starts at the TIFF header ("II*\0" or "MM\0*"): the eXIf chunk of a PNG, or a JPEG APP1
  /// segment after its 6-byte "Exif\0\0" prefix (which OpenCV skips without checking).
  explicit exif_orientation_reader(std::span<const std::uint8_t> tiff) : d_(tiff) {
    // OpenCV reads both bytes as little-endian only for "II"; anything else (even garbage) as big-endian.
    little_endian_ = !d_.empty() && d_[0] == 'I' && (d_.size() == 1 || d_[1] == 'I');
  }

  /// The orientation value (normally 1..8), or nothing when the tag is absent or the directory
  /// cannot be read up to it.
  std::optional<int> orientation() const {
    constexpr std::uint16_t tiff_magic = 0x002A, orientation_tag = 0x0112;
    constexpr std::size_t entry_size = 12;
    auto magic = u16(2);
    if (!magic || *magic != tiff_magic) return std::nullopt;
    auto ifd = u32(4);
    if (!ifd) return std::nullopt;
    auto count = u16(*ifd);
    if (!count) return std::nullopt;
    std::optional<int> found;
    std::size_t at = std::size_t{*ifd} + 2;
    for (std::size_t i = 0; i < *count; ++i, at += entry_size) {
      auto tag = u16(at);
      if (!tag) return found;
      if (*tag == orientation_tag) {
        auto v = u16(at + 8);
        if (!v) return found;
        if (!found) found = static_cast<int>(*v);  // OpenCV keeps the first of duplicates (std::map::insert)
        continue;
      }
      // OpenCV decodes a dozen other IFD0 tags on the way and abandons the whole directory when
      // one of them points outside the data; entries read before that one are kept.
      if (!other_tag_readable(*tag, at)) return found;
    }
    return found;
  }

 private:
  std::optional<std::uint32_t> u16(std::size_t at) const {
    if (at + 1 >= d_.size()) return std::nullopt;
    return little_endian_ ? std::uint32_t(d_[at]) | std::uint32_t(d_[at + 1]) << 8
                          : std::uint32_t(d_[at]) << 8 | std::uint32_t(d_[at + 1]);
  }
  std::optional<std::uint32_t> u32(std::size_t at) const {
    if (at + 3 >= d_.size()) return std::nullopt;
    const std::uint32_t b0 = d_[at], b1 = d_[at + 1], b2 = d_[at + 2], b3 = d_[at + 3];
    return little_endian_ ? b0 | b1 << 8 | b2 << 16 | b3 << 24 : b0 << 24 | b1 << 16 | b2 << 8 | b3;
  }
  /// `rationals` unsigned rationals at the offset stored in the entry's value field.
  bool rationals_readable(std::size_t entry, std::size_t rationals) const {
    auto where = u32(entry + 8);
    if (!where) return false;
    for (std::size_t i = 0; i < rationals; ++i)
      if (!u32(*where + 8 * i) || !u32(*where + 8 * i + 4)) return false;
    return true;
  }
  bool other_tag_readable(std::uint32_t tag, std::size_t entry) const {
    switch (tag) {
      case 0x010E:
      case 0x010F:
      case 0x0110:
      case 0x0131:
      case 0x0132:
      case 0x8298: {  // strings
        auto size = u32(entry + 4);
        if (!size) return false;
        std::size_t data = 8;  // OpenCV's (absolute!) offset for strings of up to 4 bytes
        if (*size > 4) {
          auto where = u32(entry + 8);
          if (!where) return false;
          data = *where;
        }
        return data <= d_.size() && data + *size <= d_.size();
      }
      case 0x011A:
      case 0x011B:
        return rationals_readable(entry, 1);  // X/Y resolution
      case 0x013E:
        return rationals_readable(entry, 2);  // white point
      case 0x013F:
        return rationals_readable(entry, 6);  // primary chromaticities
      case 0x0211:
        return rationals_readable(entry, 3);  // YCbCr coefficients
      case 0x0214:
        return rationals_readable(entry, 6);  // reference black/white
      case 0x0128:
      case 0x0213:
        return u16(entry + 8).has_value();  // resolution unit, YCbCr positioning
      default:
        return true;  // ignored by OpenCV
    }
  }

  std::span<const std::uint8_t> d_;
  bool little_endian_ = false;
};

inline std::optional<int> exif_orientation(std::span<const std::uint8_t> tiff) {
  return exif_orientation_reader(tiff).orientation();
}

}  // namespace mixq::detail
