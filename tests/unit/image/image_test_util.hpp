#pragma once
// Helpers for the image tests: fixture paths, fixture arrays as images, file bytes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "mixq/core/tensor.hpp"
#include "mixq/io/image.hpp"
#include "mixq/io/npz.hpp"

namespace mixq::test {

inline std::filesystem::path image_data_dir() { return std::filesystem::path(MIXQ_TEST_DATA_DIR) / "image"; }
inline std::filesystem::path image_fixture(const std::string& name) { return image_data_dir() / "files" / name; }

inline std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A uint8 H x W (gray) or H x W x C array as an image.
inline image to_image(const tensor& t) {
  REQUIRE(t.elem() == dtype::u8);
  const auto& s = t.shape();
  REQUIRE((s.size() == 2 || s.size() == 3));
  image im(static_cast<int>(s[1]), static_cast<int>(s[0]), s.size() == 3 ? static_cast<int>(s[2]) : 1);
  const auto* p = t.data<std::uint8_t>();
  im.data.assign(p, p + t.numel());
  return im;
}

/// Largest |a - b| over two images of the same shape (the shape is checked first).
inline int max_abs_difference(const image& a, const image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  REQUIRE(a.channels == b.channels);
  int worst = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::abs(int(a.data[i]) - int(b.data[i])));
  return worst;
}

inline std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE(in.good());
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

inline std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace mixq::test
