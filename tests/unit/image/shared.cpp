// Real photos from ../shared/datasets decode (and resize) to the same bytes as cv2, checked through
// CRC-32s the fixture script recorded. Skips when the shared folder is absent (a fresh clone).
#include "image_test_util.hpp"

#include <zlib.h>

#include "mixq/io/image/resize.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("sampled shared dataset images decode and resize exactly as cv2 (CRC-32 of the pixels)", "[image][shared]") {
  const std::filesystem::path shared(MIXQ_SHARED_DIR);
  if (!std::filesystem::exists(shared / "datasets")) {
    WARN("no shared datasets at " << shared.string() << ": skipped");
    return;
  }
  int checked = 0;
  for (const auto& line : lines_of(image_data_dir() / "shared_checksums.txt")) {
    const auto f = split_on(line, '|');
    REQUIRE(f.size() == 6);
    INFO(line);
    const auto path = shared / f[0];
    if (!std::filesystem::exists(path)) FAIL("listed shared image is missing: " << path.string());
    image im = read_image(path, f[1] == "gray" ? image_read_mode::grayscale : image_read_mode::color);
    if (f[1] == "resize224") im = resize_linear(im, 224, 224);
    CHECK(im.height == std::stoi(f[2]));
    CHECK(im.width == std::stoi(f[3]));
    CHECK(im.channels == std::stoi(f[4]));
    const auto crc = crc32(0L, im.data.data(), static_cast<uInt>(im.data.size()));
    CHECK(crc == std::stoul(f[5]));
    ++checked;
  }
  CHECK(checked >= 60);
}
