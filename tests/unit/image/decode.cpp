// read_image / decode_image against cv2.imread (and TPU-MLIR's rgba read) on every fixture: exact.
#include "image_test_util.hpp"

#include <algorithm>
#include <set>

using namespace mixq;
using namespace mixq::test;

namespace {

struct expectation {
  std::string file;
  image_read_mode mode;
  std::string key;
};

std::vector<expectation> decoded_expectations(const npz_file& npz) {
  std::vector<expectation> out;
  for (const auto& [key, t] : npz) {
    const auto parts = split_on(key, '|');
    REQUIRE(parts.size() == 2);
    const image_read_mode mode = parts[1] == "gray"   ? image_read_mode::grayscale
                                 : parts[1] == "rgba" ? image_read_mode::rgba
                                                      : image_read_mode::color;
    out.push_back({parts[0], mode, key});
  }
  return out;
}

void require_decodes_like_oracle(const std::string& prefix) {
  const npz_file npz = read_npz((image_data_dir() / "decoded.npz").string());
  int checked = 0;
  for (const auto& e : decoded_expectations(npz)) {
    if (e.file.rfind(prefix, 0) != 0) continue;
    INFO(e.key);
    const image ours = read_image(image_fixture(e.file), e.mode);
    const image oracle = to_image(npz.at(e.key));
    REQUIRE(max_abs_difference(ours, oracle) == 0);
    ++checked;
  }
  REQUIRE(checked > 0);
}

}  // namespace

TEST_CASE("JPEG fixtures decode exactly as cv2.imread (subsampling, gray, progressive, restarts, CMYK)", "[image][jpeg]") {
  require_decodes_like_oracle("jpeg_");
}

TEST_CASE("EXIF orientation is applied as cv2.imread applies it, quirks included", "[image][exif]") {
  // jpeg_exif1..8, a big-endian directory, an XMP segment first (ignored), a broken Make string.
  require_decodes_like_oracle("jpeg_exif");
  require_decodes_like_oracle("jpeg_gray_exif");
  require_decodes_like_oracle("jpeg_xmp");
  require_decodes_like_oracle("png_exif");
  require_decodes_like_oracle("png_gray_exif");
  const image upright = read_image(image_fixture("jpeg_exif1.jpg"));
  const image rotated = read_image(image_fixture("jpeg_exif6.jpg"));
  CHECK(rotated.width == upright.height);
  CHECK(rotated.height == upright.width);
  // rgba mode (IMREAD_UNCHANGED / PIL) leaves the stored orientation alone.
  CHECK(read_image(image_fixture("jpeg_exif6.jpg"), image_read_mode::rgba).width == upright.width);
}

TEST_CASE("PNG fixtures decode exactly as cv2.imread (all colour types and depths, tRNS, interlace, gAMA)", "[image][png]") {
  require_decodes_like_oracle("png_");
}

TEST_CASE("BMP fixtures decode exactly as cv2.imread (palettes, 16/24/32 bits, top-down, OS/2, V5, RLE)", "[image][bmp]") {
  require_decodes_like_oracle("bmp");
}

TEST_CASE("real photos decode exactly as cv2.imread", "[image]") { require_decodes_like_oracle("photo_"); }

TEST_CASE("rgba mode refuses the files TPU-MLIR would hand to PIL's differing decoders", "[image][rgba]") {
  const auto rejected = lines_of(image_data_dir() / "rgba_rejected.txt");
  REQUIRE(!rejected.empty());
  for (const auto& name : rejected) {
    INFO(name);
    CHECK_THROWS_WITH(read_image(image_fixture(name), image_read_mode::rgba),
                      Catch::Contains(name) && Catch::Contains("not supported with pixel_format rgba"));
    CHECK_NOTHROW(read_image(image_fixture(name), image_read_mode::color));
  }
}

TEST_CASE("every fixture is covered in all three read modes (or listed as an rgba refusal)", "[image]") {
  const npz_file npz = read_npz((image_data_dir() / "decoded.npz").string());
  const auto rejected = lines_of(image_data_dir() / "rgba_rejected.txt");
  std::set<std::string> keys;
  for (const auto& [k, t] : npz) keys.insert(k);
  for (const auto& entry : std::filesystem::directory_iterator(image_data_dir() / "files")) {
    const std::string name = entry.path().filename().string();
    if (name == "photo_wider.jpg") continue;  // too big for the npz; the preprocessing tests cover it
    INFO(name);
    CHECK(keys.count(name + "|color") == 1);
    CHECK(keys.count(name + "|gray") == 1);
    const bool refused = std::find(rejected.begin(), rejected.end(), name) != rejected.end();
    CHECK(keys.count(name + "|rgba") == (refused ? 0u : 1u));
  }
}

TEST_CASE("the format is judged by content, not by the file name", "[image]") {
  const auto png = file_bytes(image_fixture("png_rgb8.png"));
  CHECK(sniff_image_format(png) == image_format::png);
  CHECK(sniff_image_format(file_bytes(image_fixture("jpeg_420.jpg"))) == image_format::jpeg);
  CHECK(sniff_image_format(file_bytes(image_fixture("bmp24.bmp"))) == image_format::bmp);
  CHECK_FALSE(sniff_image_format(std::vector<std::uint8_t>{'G', 'I', 'F', '8', '9', 'a'}).has_value());
  CHECK(decode_image(png, image_read_mode::color, "named.jpg") == read_image(image_fixture("png_rgb8.png")));
}

TEST_CASE("unreadable or foreign files are errors naming the file and the problem", "[image]") {
  CHECK_THROWS_WITH(read_image(image_fixture("no_such_file.jpg")),
                    Catch::Contains("no_such_file.jpg") && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(read_image(image_data_dir() / "files"), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(read_image(image_data_dir() / "preprocess_cases.txt"),
                    Catch::Contains("preprocess_cases.txt") && Catch::Contains("not a JPEG, PNG or BMP"));
  const std::vector<std::uint8_t> gif{'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  CHECK_THROWS_WITH(decode_image(gif, image_read_mode::color, "cat.jpg"), Catch::Contains("cat.jpg") && Catch::Contains("(GIF)"));
  const std::vector<std::uint8_t> tiff{'I', 'I', '*', 0, 8, 0, 0, 0};
  CHECK_THROWS_WITH(decode_image(tiff, image_read_mode::color, "x"), Catch::Contains("(TIFF)"));
  CHECK_THROWS_WITH(decode_image(std::vector<std::uint8_t>{}, image_read_mode::color, "empty.png"),
                    Catch::Contains("empty.png") && Catch::Contains("an empty file"));
}
