#pragma once
// Windows BMP decoding with OpenCV 4.6's semantics (imgcodecs grfmt_bmp.cpp): which headers and bit
// depths are accepted, palette and 5-bit channel expansion, RLE escapes (and their quirks), and the
// codec's own gray conversion. OpenCV has its own BMP decoder too, so nothing is linked for this.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/io/image/pixels.hpp"

namespace mixq::detail::bmp {

class byte_reader {
 public:
  byte_reader(std::span<const std::uint8_t> data, std::string_view name) : d_(data), name_(name) {}
  std::uint8_t u8() {
    need(1);
    return d_[pos_++];
  }
  std::uint32_t u16() {
    need(2);
    const std::uint32_t v = std::uint32_t(d_[pos_]) | std::uint32_t(d_[pos_ + 1]) << 8;
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    need(4);
    const std::uint32_t v = std::uint32_t(d_[pos_]) | std::uint32_t(d_[pos_ + 1]) << 8 | std::uint32_t(d_[pos_ + 2]) << 16 |
                            std::uint32_t(d_[pos_ + 3]) << 24;
    pos_ += 4;
    return v;
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  void skip(std::size_t n) { pos_ += n; }  // past the end only fails at the next read, as in OpenCV
  void seek(std::size_t at) { pos_ = at; }
  const std::uint8_t* bytes(std::size_t n) {
    need(n);
    const std::uint8_t* p = d_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  void need(std::size_t n) const {
    if (pos_ > d_.size() || d_.size() - pos_ < n)
      throw error(std::string(name_) + ": BMP: the file is truncated (needs " + std::to_string(n) + " byte(s) at offset " +
                  std::to_string(pos_) + ", the file has " + std::to_string(d_.size()) + ")");
  }
  std::span<const std::uint8_t> d_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

struct palette_entry {
  std::uint8_t b = 0, g = 0, r = 0, a = 0;
};

enum compression : std::uint32_t { rgb = 0, rle8 = 1, rle4 = 2, bitfields = 3 };

struct header {
  int width = 0, height = 0;  // height > 0 in the file means rows are stored bottom-up
  int bpp = 0;                // 15 stands for 16-bit 5-5-5
  std::uint32_t compression = rgb;
  std::size_t pixel_offset = 0;
  std::array<palette_entry, 256> palette{};  // entries past the stored ones are black, as in OpenCV
  int palette_entries = 0;                   // how many the file stores
  bool color = false;                        // OpenCV's "iscolor": false for gray palettes and for OS/2 headers
  bool bottom_up = true;
};

inline std::string header_problem(std::string_view name, const std::string& what) { return std::string(name) + ": BMP: " + what; }

inline header read_header(byte_reader& r, std::string_view name) {
  header h;
  r.skip(2 + 8);
  const std::int32_t offset = r.i32();
  const std::int32_t size = r.i32();
  if (size <= 0) throw error(header_problem(name, "the info header size " + std::to_string(size) + " is not positive"));
  bool valid = false;
  if (size >= 36) {
    h.width = r.i32();
    h.height = r.i32();
    h.bpp = static_cast<int>(r.u32() >> 16);
    h.compression = r.u32();
    r.skip(12);
    const std::int32_t colors_used = r.i32();
    r.skip(static_cast<std::size_t>(size) - 36);
    const int bpp = h.bpp;
    const std::uint32_t c = h.compression;
    valid = h.width > 0 && h.height != 0 &&
            (((bpp == 1 || bpp == 4 || bpp == 8 || bpp == 24 || bpp == 32) && c == rgb) ||
             ((bpp == 16 || bpp == 32) && (c == rgb || c == bitfields)) || (bpp == 4 && c == rle4) || (bpp == 8 && c == rle8));
    if (valid) {
      h.color = true;
      if (bpp <= 8) {
        if (colors_used < 0 || colors_used > 256)
          throw error(header_problem(name, "the palette size " + std::to_string(colors_used) + " is outside 0..256"));
        const int entries = colors_used == 0 ? 1 << bpp : colors_used;
        h.palette_entries = entries;
        const std::uint8_t* p = r.bytes(static_cast<std::size_t>(entries) * 4);
        for (int i = 0; i < entries; ++i)
          h.palette[static_cast<std::size_t>(i)] = {p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]};
        h.color = std::any_of(h.palette.begin(), h.palette.begin() + (1 << bpp),
                              [](const palette_entry& e) { return e.b != e.g || e.b != e.r; });
      } else if (bpp == 16 && c == bitfields) {
        // OpenCV reads the masks after the info header whatever its size, and knows two layouts.
        const std::uint32_t red = r.u32(), green = r.u32(), blue = r.u32();
        if (blue == 0x1f && green == 0x3e0 && red == 0x7c00)
          h.bpp = 15;
        else if (!(blue == 0x1f && green == 0x7e0 && red == 0xf800))
          throw error(header_problem(name, "16-bit bit fields other than 5-5-5 and 5-6-5 are not supported"));
      } else if (bpp == 16 && c == rgb) {
        h.bpp = 15;
      }
    }
  } else if (size == 12) {  // OS/2 BITMAPCOREHEADER
    h.width = static_cast<int>(r.u16());
    h.height = static_cast<int>(r.u16());
    h.bpp = static_cast<int>(r.u32() >> 16);
    h.compression = rgb;
    valid = h.width > 0 && h.height != 0 && (h.bpp == 1 || h.bpp == 4 || h.bpp == 8 || h.bpp == 24 || h.bpp == 32);
    if (valid && h.bpp <= 8) {
      const int entries = 1 << h.bpp;
      h.palette_entries = entries;
      const std::uint8_t* p = r.bytes(static_cast<std::size_t>(entries) * 3);
      for (int i = 0; i < entries; ++i) h.palette[static_cast<std::size_t>(i)] = {p[3 * i], p[3 * i + 1], p[3 * i + 2], 0};
    }
  } else {
    throw error(
        header_problem(name, "unsupported info header size " + std::to_string(size) + " (OpenCV reads 12 and 36 or more)"));
  }
  if (!valid)
    throw error(header_problem(name, "unsupported image: " + std::to_string(h.width) + "x" + std::to_string(h.height) + ", " +
                                         std::to_string(h.bpp) + " bits per pixel, compression " +
                                         std::to_string(h.compression)));
  if (offset < 0) throw error(header_problem(name, "the pixel data offset " + std::to_string(offset) + " is negative"));
  h.pixel_offset = static_cast<std::size_t>(offset);
  h.bottom_up = h.height > 0;
  h.height = h.height > 0 ? h.height : -h.height;
  check_image_size(name, h.width, h.height);
  return h;
}

/// Rows in file order; `put(row, x, index)` receives palette indices.
template <class Put>
void read_rle8(byte_reader& r, const header& h, std::string_view name, Put put) {
  const int w = h.width, ht = h.height;
  int x = 0, y = 0;
  bool line_just_ended = false;
  // Pixels an escape skips take palette entry 0; OpenCV fills them through line ends.
  auto skip_pixels = [&](long long count) {
    do {
      const long long n = std::min<long long>(count, w - x);
      for (long long i = 0; i < n; ++i) put(y, x + static_cast<int>(i), 0);
      x += static_cast<int>(n);
      count -= n;
      if (x >= w) {
        x = 0;
        if (++y >= ht) break;
      }
    } while (count > 0);
  };
  for (;;) {
    const std::uint32_t word = r.u16();
    const int run = static_cast<int>(word & 255), value = static_cast<int>(word >> 8);
    if (run != 0) {
      if (x + run > w) throw error(header_problem(name, "an RLE8 run goes past the end of row " + std::to_string(y)));
      const int y_before = y;
      for (int i = 0; i < run; ++i) put(y, x + i, value);
      x += run;
      if (x >= w) {
        x = 0;
        ++y;
      }
      line_just_ended = y != y_before;
      if (y >= ht) break;
    } else if (value > 2) {
      if (x + value > w) throw error(header_problem(name, "an RLE8 literal run goes past the end of row " + std::to_string(y)));
      const std::uint8_t* p = r.bytes(static_cast<std::size_t>((value + 1) & ~1));
      for (int i = 0; i < value; ++i) put(y, x + i, p[i]);
      x += value;
      line_just_ended = false;
    } else {
      long long dx = w - x, dy = ht - y;
      // An end-of-line right after a run that filled the row exactly does not skip another row.
      if (value != 0 || !line_just_ended || dx < w) {
        if (value == 2) {
          dx = r.u8();
          dy = r.u8();
        }
        if (value != 0) dx += dy * w;
        if (y >= ht) break;
        skip_pixels(dx);
        if (y >= ht) break;
      }
      line_just_ended = false;
      if (y >= ht) break;
    }
  }
}

template <class Put>
void read_rle4(byte_reader& r, const header& h, std::string_view name, Put put) {
  const int w = h.width, ht = h.height;
  int x = 0, y = 0;
  for (;;) {
    const std::uint32_t word = r.u16();
    const int run = static_cast<int>(word & 255), value = static_cast<int>(word >> 8);
    if (run != 0) {
      if (x + run > w) throw error(header_problem(name, "an RLE4 run goes past the end of row " + std::to_string(y)));
      for (int i = 0; i < run; ++i) put(y, x + i, (i & 1) ? value & 15 : value >> 4);
      x += run;  // unlike RLE8, a full row waits for an explicit end-of-line
    } else if (value > 2) {
      if (x + value > w) throw error(header_problem(name, "an RLE4 literal run goes past the end of row " + std::to_string(y)));
      const std::uint8_t* p = r.bytes(static_cast<std::size_t>((((value + 1) >> 1) + 1) & ~1));
      for (int i = 0; i < value; ++i) put(y, x + i, (i & 1) ? p[i / 2] & 15 : p[i / 2] >> 4);
      x += value;
    } else {
      // OpenCV's RLE4 escapes only ever skip within and past the current row: a delta's row count
      // is read and ignored, and end-of-bitmap acts as end-of-line (decoding then goes on).
      long long dx = w - x;
      if (value == 2) {
        dx = r.u8();
        (void)r.u8();
      }
      do {
        const long long n = std::min<long long>(dx, w - x);
        for (long long i = 0; i < n; ++i) put(y, x + static_cast<int>(i), 0);
        x += static_cast<int>(n);
        dx -= n;
        if (x >= w) {
          x = 0;
          if (++y >= ht) break;
        }
      } while (dx > 0);
      if (y >= ht) break;
    }
  }
}

inline image decode(std::span<const std::uint8_t> data, image_read_mode mode, std::string_view name) {
  byte_reader r(data, name);
  header h = read_header(r, name);
  // OpenCV 4.6 keeps a fourth channel (IMREAD_UNCHANGED) only for 32-bit bit-field files.
  const bool has_alpha = h.bpp == 32 && h.compression == bitfields && h.color;
  if (mode == image_read_mode::rgba) {
    // Other files take TPU-MLIR's PIL path there; refuse where PIL decodes differently from OpenCV.
    if (h.bpp == 15 || h.bpp == 16)
      throw error(header_problem(name,
                                 "16-bit images are not supported with pixel_format rgba (TPU-MLIR hands them to PIL, "
                                 "which expands 5-bit channels differently from OpenCV)"));
    if (h.compression == rle4 || h.compression == rle8)
      throw error(header_problem(name,
                                 "RLE-compressed images are not supported with pixel_format rgba (TPU-MLIR hands them "
                                 "to PIL, whose RLE decoder places escapes differently from OpenCV)"));
    // PIL's palettes start as a gray ramp, so indices past the stored entries are gray, not black.
    for (int i = h.palette_entries; i < 256; ++i) {
      const auto v = static_cast<std::uint8_t>(i);
      h.palette[static_cast<std::size_t>(i)] = {v, v, v, 0};
    }
  }
  const int w = h.width, ht = h.height;
  const int out_channels = mode == image_read_mode::grayscale ? 1 : (mode == image_read_mode::rgba && has_alpha ? 4 : 3);
  image out(w, ht, out_channels);
  auto out_row = [&](int file_row) { return out.row(h.bottom_up ? ht - 1 - file_row : file_row); };
  const int stored_bpp = h.bpp == 15 ? 16 : h.bpp;
  const std::size_t pitch = ((static_cast<std::size_t>(w) * static_cast<std::size_t>(stored_bpp) + 7) / 8 + 3) & ~std::size_t{3};
  r.seek(h.pixel_offset);

  if (h.bpp <= 8) {
    std::array<std::uint8_t, 256> gray_palette{};
    for (std::size_t i = 0; i < 256; ++i) gray_palette[i] = codec_gray(h.palette[i].b, h.palette[i].g, h.palette[i].r);
    auto put = [&](int file_row, int x, int index) {
      std::uint8_t* p = out_row(file_row);
      const palette_entry& e = h.palette[static_cast<std::size_t>(index)];
      if (out_channels == 1) {
        p[x] = gray_palette[static_cast<std::size_t>(index)];
      } else {
        p[3 * x] = e.b;
        p[3 * x + 1] = e.g;
        p[3 * x + 2] = e.r;
      }
    };
    if (h.compression == rle8) {
      read_rle8(r, h, name, put);
    } else if (h.compression == rle4) {
      read_rle4(r, h, name, put);
    } else {
      for (int y = 0; y < ht; ++y) {
        const std::uint8_t* src = r.bytes(pitch);
        for (int x = 0; x < w; ++x) {
          int index = 0;
          if (h.bpp == 8)
            index = src[x];
          else if (h.bpp == 4)
            index = (x & 1) ? src[x / 2] & 15 : src[x / 2] >> 4;
          else
            index = (src[x / 8] >> (7 - (x & 7))) & 1;
          put(y, x, index);
        }
      }
    }
  } else {
    for (int y = 0; y < ht; ++y) {
      const std::uint8_t* src = r.bytes(pitch);
      std::uint8_t* dst = out_row(y);
      for (int x = 0; x < w; ++x) {
        std::uint8_t b, g, rr, a = 255;
        if (h.bpp == 24 || h.bpp == 32) {
          const std::uint8_t* p = src + static_cast<std::size_t>(x) * static_cast<std::size_t>(h.bpp / 8);
          b = p[0];
          g = p[1];
          rr = p[2];
          if (h.bpp == 32) a = p[3];
        } else {
          const unsigned t = unsigned(src[2 * x]) | unsigned(src[2 * x + 1]) << 8;
          b = static_cast<std::uint8_t>((t << 3) & 0xf8);
          if (h.bpp == 15) {
            g = static_cast<std::uint8_t>((t >> 2) & 0xf8);
            rr = static_cast<std::uint8_t>((t >> 7) & 0xf8);
          } else {
            g = static_cast<std::uint8_t>((t >> 3) & 0xfc);
            rr = static_cast<std::uint8_t>((t >> 8) & 0xf8);
          }
        }
        if (out_channels == 1) {
          dst[x] = codec_gray(b, g, rr);
        } else if (out_channels == 4) {  // rgba mode, stored B,G,R,A
          dst[4 * x] = rr;
          dst[4 * x + 1] = g;
          dst[4 * x + 2] = b;
          dst[4 * x + 3] = a;
        } else {
          dst[3 * x] = b;
          dst[3 * x + 1] = g;
          dst[3 * x + 2] = rr;
        }
      }
    }
  }
  // Without stored alpha TPU-MLIR's rgba path asks PIL for RGBA: the colours plus opaque alpha.
  if (mode == image_read_mode::rgba && out_channels == 3) return bgr_to_opaque_rgba(out);
  return out;
}

}  // namespace mixq::detail::bmp
