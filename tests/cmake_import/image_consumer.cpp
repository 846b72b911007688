// A user of the optional mixq::image component: decodes a 2x1 BMP held in memory and resizes it.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "mixq/io/image.hpp"
#include "mixq/io/image/resize.hpp"

int main() {
  // BITMAPFILEHEADER + BITMAPINFOHEADER, 24 bits, one row: a blue and a red pixel, padded to 8 bytes.
  const std::vector<std::uint8_t> bmp{'B', 'M', 62, 0, 0, 0, 0, 0,  0, 0, 54, 0, 0,   0, 40, 0, 0, 0,   2, 0, 0,
                                      0,   1,   0,  0, 0, 1, 0, 24, 0, 0, 0,  0, 0,   8, 0,  0, 0, 0,   0, 0, 0,
                                      0,   0,   0,  0, 0, 0, 0, 0,  0, 0, 0,  0, 255, 0, 0,  0, 0, 255, 0, 0};
  const mixq::image im = mixq::resize_linear(mixq::decode_image(bmp), 4, 2);
  std::printf("image ok: %dx%d, first pixel %d,%d,%d\n", im.width, im.height, im.data[0], im.data[1], im.data[2]);
  return im.width == 4 && im.data[0] == 255 ? 0 : 1;
}
