// preprocess_image / load_image_input against TPU-MLIR's preprocess (cv2 + numpy oracle) for every
// attribute combination in preprocess_cases.txt, and the configuration checks.
#include "image_test_util.hpp"

#include <cmath>

#include "mixq/io/preprocess.hpp"

using namespace mixq;
using namespace mixq::test;

namespace {

std::vector<double> numbers_of(const std::string& s) {
  std::vector<double> v;
  for (const auto& t : split_on(s, ',')) v.push_back(std::stod(t));
  return v;
}

struct oracle_case {
  std::string name;
  shape_t shape;
  top::input_op::attributes attrs;
};

std::vector<oracle_case> oracle_cases() {
  std::vector<oracle_case> out;
  for (const auto& line : lines_of(image_data_dir() / "preprocess_cases.txt")) {
    const auto f = split_on(line, '|');
    REQUIRE(f.size() == 11);
    oracle_case c;
    c.name = f[0];
    for (double d : numbers_of(f[1])) c.shape.push_back(static_cast<std::int64_t>(d));
    auto& a = c.attrs;
    a.do_preprocess = true;
    a.pixel_format = f[2];
    a.channel_format = f[3];
    std::vector<std::int64_t> dims;
    for (double d : numbers_of(f[4])) dims.push_back(static_cast<std::int64_t>(d));
    a.resize_dims = dims;
    a.keep_aspect_ratio = f[5] == "1";
    a.keep_ratio_mode = f[6];
    a.pad_value = std::stoll(f[7]);
    a.pad_type = f[8];
    a.mean = numbers_of(f[9]);
    a.scale = numbers_of(f[10]);
    out.push_back(c);
  }
  return out;
}

top::input_op::attributes bgr_attributes() {
  top::input_op::attributes a;
  a.do_preprocess = true;
  a.pixel_format = "bgr";
  a.channel_format = "nchw";
  a.mean = std::vector<double>{0, 0, 0};
  a.scale = std::vector<double>{1, 1, 1};
  return a;
}

}  // namespace

TEST_CASE("preprocessed tensors equal TPU-MLIR's for every mode (stretch, letterbox, short side, crop, gray, rgba, nhwc)",
          "[image][preprocess]") {
  const npz_file npz = read_npz((image_data_dir() / "preprocessed.npz").string());
  int checked = 0;
  for (const auto& c : oracle_cases()) {
    const preprocess_config cfg = make_preprocess_config("x", c.shape, c.attrs);
    for (const auto& [key, expected] : npz) {
      const auto parts = split_on(key, '|');
      if (parts[0] != c.name) continue;
      INFO(key);
      const tensor ours = preprocess_image(read_image(image_fixture(parts[1]), cfg.read_mode()), cfg);
      REQUIRE(ours.shape() == expected.shape());
      // Differences measured in grey levels, before the normalisation: |d| / |scale|.
      double worst_grey = 0;
      const float* p = ours.data<float>();
      const float* q = expected.data<float>();
      const std::size_t plane = static_cast<std::size_t>(cfg.net_height * cfg.net_width);
      for (std::int64_t i = 0; i < ours.numel(); ++i) {
        const std::size_t channel = cfg.channel_format == "nhwc"
                                        ? static_cast<std::size_t>(i) % static_cast<std::size_t>(cfg.channels())
                                        : static_cast<std::size_t>(i) / plane % static_cast<std::size_t>(cfg.channels());
        worst_grey = std::max(worst_grey, std::abs(double(p[i]) - double(q[i])) / std::abs(double(cfg.scale[channel])));
      }
      INFO("largest difference: " << worst_grey << " grey levels");
      CHECK(worst_grey == 0);
      ++checked;
    }
  }
  CHECK(checked >= 30);
}

TEST_CASE("one image fills the whole batch, several images fill it in order", "[image][preprocess]") {
  auto a = bgr_attributes();
  const preprocess_config cfg = make_preprocess_config("img", {3, 3, 16, 20}, a);
  const auto file_a = image_fixture("photo_ilsvrc.jpg"), file_b = image_fixture("png_rgb8.png");
  const tensor one = preprocess_image(read_image(file_a), cfg);
  const tensor repeated = load_image_input({file_a}, cfg);
  REQUIRE(repeated.shape() == shape_t{3, 3, 16, 20});
  const auto n = static_cast<std::size_t>(one.numel());
  for (std::size_t b = 0; b < 3; ++b) CHECK(std::equal(one.data<float>(), one.data<float>() + n, repeated.data<float>() + b * n));
  const tensor other = preprocess_image(read_image(file_b), cfg);
  const tensor mixed = load_image_input({file_a, file_b, file_a}, cfg);
  CHECK(std::equal(other.data<float>(), other.data<float>() + n, mixed.data<float>() + n));
  CHECK(std::equal(one.data<float>(), one.data<float>() + n, mixed.data<float>() + 2 * n));
  CHECK_THROWS_WITH(load_image_input({file_a, file_b}, cfg), Catch::Contains("2 images for a batch of 3"));
  CHECK_THROWS_WITH(load_image_input({image_fixture("missing.png")}, cfg), Catch::Contains("missing.png"));
}

TEST_CASE("the configuration comes from a graph's top.Input with TPU-MLIR's defaults", "[image][preprocess]") {
  graph g;
  const int arg = g.add_argument({dtype::f32, {1, 3, 32, 48}});
  top::input_op::attributes a;
  a.do_preprocess = true;
  a.pixel_format = "rgb";
  a.channel_format = "nchw";
  const int node = g.add<top::input_op>({arg}, {{dtype::f32, {1, 3, 32, 48}}}, {"images"}, a);
  const preprocess_config c = preprocess_config_for(g, node);
  CHECK(c.input_name == "images");
  CHECK(c.net_height == 32);
  CHECK(c.net_width == 48);
  CHECK(c.resize_height == 32);  // no resize_dims: the input's own size
  CHECK(c.resize_width == 48);
  CHECK(c.keep_ratio_mode == "letterbox");
  CHECK(c.pad_type == "center");
  CHECK(c.mean == std::vector<float>{0, 0, 0});
  CHECK(c.scale == std::vector<float>{1, 1, 1});
  CHECK(c.read_mode() == image_read_mode::color);
  const int plain_arg = g.add_argument({dtype::f32, {1, 10}});
  const int plain = g.add<top::input_op>({plain_arg}, {{dtype::f32, {1, 10}}}, {"lengths"});
  CHECK_THROWS_WITH(preprocess_config_for(g, plain), Catch::Contains("\"lengths\"") && Catch::Contains("cannot take images"));
}

TEST_CASE("attributes TPU-MLIR would misapply are errors naming the input", "[image][preprocess]") {
  auto a = bgr_attributes();
  CHECK_NOTHROW(make_preprocess_config("x", {1, 3, 8, 8}, a));
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 1, 8, 8}, a),
                    Catch::Contains("\"x\" has 1 channel(s)") && Catch::Contains("makes 3"));
  auto bayer = a;
  bayer.pixel_format = "rggb";
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 3, 8, 8}, bayer), Catch::Contains("Bayer"));
  auto crop = a;
  crop.resize_dims = std::vector<std::int64_t>{6, 10};
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 3, 8, 8}, crop), Catch::Contains("smaller than the input's 8x8"));
  auto pad = a;
  pad.pad_value = 300;
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 3, 8, 8}, pad), Catch::Contains("pad_value 300"));
  auto mean = a;
  mean.mean = std::vector<double>{1, 2};
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 3, 8, 8}, mean), Catch::Contains("2 mean values for 3 channels"));
  auto rgba = a;
  rgba.pixel_format = "rgba";
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 4, 8, 8}, rgba), Catch::Contains("3 mean values for 4 channels"));
  rgba.mean = std::vector<double>{5};
  rgba.scale = std::vector<double>{2};
  CHECK(make_preprocess_config("x", {1, 4, 8, 8}, rgba).mean == std::vector<float>{5, 5, 5, 5});
  auto mode = a;
  mode.keep_ratio_mode = "fit";
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 3, 8, 8}, mode), Catch::Contains("keep_ratio_mode \"fit\""));
  CHECK_THROWS_WITH(make_preprocess_config("x", {3, 8, 8}, a), Catch::Contains("3-D N,H,W inputs with pixel_format gray"));
  auto gray = a;
  gray.pixel_format = "gray";
  CHECK(make_preprocess_config("x", {2, 8, 8}, gray).batch_size == 2);
  CHECK_THROWS_WITH(make_preprocess_config("x", {1, 2, 3, 4, 5}, a), Catch::Contains("1x2x3x4x5"));
}

TEST_CASE("an image whose letterbox size rounds to zero is an error naming the file", "[image][preprocess]") {
  auto a = bgr_attributes();
  a.keep_aspect_ratio = true;
  const preprocess_config cfg = make_preprocess_config("x", {1, 3, 2, 2}, a);
  image thin(300, 1, 3);
  CHECK_THROWS_WITH(preprocess_image(thin, cfg), Catch::Contains("300x1") && Catch::Contains("shrinks to nothing"));
  CHECK_THROWS_WITH(preprocess_image(image(5, 5, 1), cfg), Catch::Contains("1 channel(s)") && Catch::Contains("needs 3"));
}

TEST_CASE("letterboxing a 4-channel image pads every channel (TPU-MLIR raises there)", "[image][preprocess]") {
  auto a = bgr_attributes();
  a.pixel_format = "rgba";
  a.mean = std::vector<double>{0};
  a.scale = std::vector<double>{1};
  a.keep_aspect_ratio = true;
  a.pad_value = 9;
  const preprocess_config cfg = make_preprocess_config("x", {1, 4, 6, 6}, a);
  image wide(12, 6, 4, 200);
  const tensor t = preprocess_image(wide, cfg);  // 12x6 -> 6x3, centred: rows 1..3 image, 0 and 4..5 pad
  for (int k = 0; k < 4; ++k)
    for (int y = 0; y < 6; ++y) {
      const float expected = (y >= 1 && y <= 3) ? 200.f : 9.f;
      CHECK(t.data<float>()[(k * 6 + y) * 6 + 2] == expected);
    }
}
