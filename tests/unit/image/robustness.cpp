// Damaged files: truncated and bit-flipped copies of every fixture either decode or fail with a
// mixq::error naming the file, never crash or read out of bounds (the sanitizer stage runs these).
#include "image_test_util.hpp"

#include <random>

using namespace mixq;
using namespace mixq::test;

namespace {

std::vector<std::filesystem::path> all_fixtures() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(image_data_dir() / "files"))
    if (e.path().filename() != "photo_wider.jpg") out.push_back(e.path());  // the big photo only slows this down
  std::sort(out.begin(), out.end());
  return out;
}

/// Decodes in every mode; returns how many decodes failed (always with a mixq::error naming `name`).
int decode_or_fail_cleanly(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  int failures = 0;
  for (auto mode : {image_read_mode::color, image_read_mode::grayscale, image_read_mode::rgba}) {
    try {
      const image im = decode_image(bytes, mode, name);
      REQUIRE(im.data.size() == im.row_bytes() * static_cast<std::size_t>(im.height));
      REQUIRE(im.channels == (mode == image_read_mode::grayscale ? 1 : mode == image_read_mode::rgba ? 4 : 3));
    } catch (const error& e) {
      REQUIRE(std::string(e.what()).find(name) != std::string::npos);
      ++failures;
    }
  }
  return failures;
}

std::vector<std::uint8_t> prefix(const std::vector<std::uint8_t>& b, std::size_t n) {
  return {b.begin(), b.begin() + static_cast<long>(n)};
}

}  // namespace

TEST_CASE("truncated copies of every fixture decode or fail with an error naming the file", "[image][robustness]") {
  int failures = 0;
  for (const auto& path : all_fixtures()) {
    const auto bytes = file_bytes(path);
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{20}, bytes.size() / 4, bytes.size() / 2,
                            bytes.size() - 10, bytes.size() - 1}) {
      if (cut >= bytes.size()) continue;
      INFO(path.filename().string() << " cut at " << cut);
      failures += decode_or_fail_cleanly(prefix(bytes, cut), "damaged-" + path.filename().string());
    }
  }
  CHECK(failures > 0);
}

TEST_CASE("bit-flipped copies of every fixture decode or fail with an error naming the file", "[image][robustness]") {
  std::mt19937 gen(77);
  int failures = 0;
  for (const auto& path : all_fixtures()) {
    const auto bytes = file_bytes(path);
    for (int round = 0; round < 12; ++round) {
      auto damaged = bytes;
      const int flips = 1 + round % 4;
      for (int f = 0; f < flips; ++f) {
        // Half the rounds hit the headers, where the sizes and offsets live.
        const std::size_t span = round % 2 ? std::min<std::size_t>(damaged.size(), 200) : damaged.size();
        const std::size_t at = std::uniform_int_distribution<std::size_t>(0, span - 1)(gen);
        damaged[at] ^= static_cast<std::uint8_t>(1u << std::uniform_int_distribution<int>(0, 7)(gen));
      }
      INFO(path.filename().string() << " round " << round);
      failures += decode_or_fail_cleanly(damaged, "damaged-" + path.filename().string());
    }
  }
  CHECK(failures > 0);
}

TEST_CASE("a JPEG cut inside its entropy-coded data is refused, not padded with gray as OpenCV does", "[image][jpeg]") {
  const auto bytes = file_bytes(image_fixture("photo_ilsvrc.jpg"));
  CHECK_THROWS_WITH(
      decode_image(prefix(bytes, bytes.size() * 2 / 3), image_read_mode::color, "cut.jpg"),
      Catch::Contains("cut.jpg: JPEG: ") && (Catch::Contains("Premature end") || Catch::Contains("Corrupt JPEG data")));
  const auto progressive = file_bytes(image_fixture("jpeg_progressive.jpg"));
  CHECK_THROWS_WITH(decode_image(prefix(progressive, progressive.size() / 2), image_read_mode::color, "p.jpg"),
                    Catch::Contains("p.jpg: JPEG: "));
  CHECK_THROWS_WITH(decode_image(prefix(bytes, 100), image_read_mode::color, "header.jpg"),
                    Catch::Contains("header.jpg: JPEG: "));
}

TEST_CASE("a JPEG missing only its EOI marker, or followed by garbage, decodes fully as in OpenCV", "[image][jpeg]") {
  const auto bytes = file_bytes(image_fixture("photo_ilsvrc.jpg"));
  REQUIRE(bytes[bytes.size() - 2] == 0xFF);
  REQUIRE(bytes[bytes.size() - 1] == 0xD9);
  const image whole = decode_image(bytes, image_read_mode::color, "whole.jpg");
  CHECK(decode_image(prefix(bytes, bytes.size() - 2), image_read_mode::color, "no-eoi.jpg") == whole);
  auto trailing = bytes;
  for (int i = 0; i < 64; ++i) trailing.push_back(static_cast<std::uint8_t>(i * 37));
  CHECK(decode_image(trailing, image_read_mode::color, "trailing.jpg") == whole);
}

TEST_CASE("a truncated or CRC-damaged PNG is an error naming the file and libpng's complaint", "[image][png]") {
  const auto bytes = file_bytes(image_fixture("png_rgb8.png"));
  CHECK_THROWS_WITH(decode_image(prefix(bytes, bytes.size() - 12), image_read_mode::color, "cut.png"),
                    Catch::Contains("cut.png: PNG: ") && Catch::Contains("truncated"));
  auto bad_crc = bytes;
  bad_crc[bad_crc.size() - 12 - 5] ^= 0x40;  // the last byte of IDAT's data: its CRC no longer matches
  CHECK_THROWS_WITH(decode_image(bad_crc, image_read_mode::color, "crc.png"), Catch::Contains("crc.png: PNG: "));
}

TEST_CASE("BMP headers that are truncated, absurd or unsupported are errors naming the problem", "[image][bmp]") {
  const auto bytes = file_bytes(image_fixture("bmp24.bmp"));
  CHECK_THROWS_WITH(decode_image(prefix(bytes, bytes.size() - 1), image_read_mode::color, "cut.bmp"),
                    Catch::Contains("cut.bmp: BMP: the file is truncated"));
  auto write_i32 = [](std::vector<std::uint8_t>& b, std::size_t at, std::int32_t v) {
    for (int i = 0; i < 4; ++i)
      b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(v) >> (8 * i));
  };
  auto huge = bytes;
  write_i32(huge, 18, 2000000);  // width
  CHECK_THROWS_WITH(decode_image(huge, image_read_mode::color, "huge.bmp"),
                    Catch::Contains("huge.bmp") && Catch::Contains("larger than"));
  auto zero = bytes;
  write_i32(zero, 18, 0);
  CHECK_THROWS_WITH(decode_image(zero, image_read_mode::color, "zero.bmp"),
                    Catch::Contains("zero.bmp: BMP: unsupported image: 0x"));
  auto bits = bytes;
  bits[28] = 12;  // 12 bits per pixel
  CHECK_THROWS_WITH(decode_image(bits, image_read_mode::color, "bits.bmp"), Catch::Contains("12 bits per pixel"));
  auto header = bytes;
  write_i32(header, 14, 20);
  CHECK_THROWS_WITH(decode_image(header, image_read_mode::color, "hdr.bmp"), Catch::Contains("info header size 20"));
  auto palette = file_bytes(image_fixture("bmp8_color.bmp"));
  write_i32(palette, 46, 300);
  CHECK_THROWS_WITH(decode_image(palette, image_read_mode::color, "pal.bmp"), Catch::Contains("palette size 300"));
  auto offset = bytes;
  write_i32(offset, 10, 1 << 30);
  CHECK_THROWS_WITH(decode_image(offset, image_read_mode::color, "off.bmp"),
                    Catch::Contains("off.bmp: BMP: the file is truncated"));
}

TEST_CASE("an RLE8 run past the end of its row is an error, as OpenCV refuses it", "[image][bmp]") {
  auto bytes = file_bytes(image_fixture("bmp8_rle.bmp"));
  const std::uint32_t offset = bytes[10] | bytes[11] << 8 | bytes[12] << 16 | std::uint32_t(bytes[13]) << 24;
  bytes[offset] = 200;  // the first code becomes a 200-pixel run in a 13-pixel row
  CHECK_THROWS_WITH(decode_image(bytes, image_read_mode::color, "rle.bmp"),
                    Catch::Contains("rle.bmp: BMP: an RLE8 run goes past"));
}
