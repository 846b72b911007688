#pragma once
// Image -> model input tensor, as TPU-MLIR's python/utils/preprocess.py does it from a `top.Input`'s
// preprocessing attributes (facts §9.4, §10.4): read (BGR / gray / RGBA), resize (stretch,
// letterbox, or short-side scale with a centre crop), centre crop to the net size when resize_dims
// is larger, then float32 (x - mean) * scale per channel, in NCHW or NHWC. The pixels stay uint8 up
// to the normalisation, with OpenCV's exact resize, so the tensors match TPU-MLIR's bit for bit.
// Part of the optional `mixq::image` component.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/dialect/top/source.hpp"
#include "mixq/graph/graph.hpp"
#include "mixq/io/image.hpp"
#include "mixq/io/image/resize.hpp"

namespace mixq {

/// How one model input turns an image into its tensor (TPU-MLIR's `preprocess.load_config`).
struct preprocess_config {
  std::string input_name;
  shape_t input_shape;                      // the top.Input's type: N,C,H,W / N,H,W,C, or N,H,W (gray)
  std::string pixel_format = "bgr";         // rgb, bgr, gray, rgba
  std::string channel_format = "nchw";      // nchw, nhwc
  int net_height = 0, net_width = 0;        // the input's own h, w
  int resize_height = 0, resize_width = 0;  // what the image is resized to before the centre crop
  bool keep_aspect_ratio = false;
  std::string keep_ratio_mode = "letterbox";  // letterbox, short_side_scale
  int pad_value = 0;                          // letterbox fill, in grey levels
  std::string pad_type = "center";            // center, normal (top-left)
  std::vector<float> mean, scale;             // one entry per channel, in the tensor's channel order
  int batch_size = 1;

  int channels() const noexcept { return pixel_format == "gray" ? 1 : (pixel_format == "rgba" ? 4 : 3); }
  image_read_mode read_mode() const noexcept {
    return pixel_format == "gray" ? image_read_mode::grayscale
                                  : (pixel_format == "rgba" ? image_read_mode::rgba : image_read_mode::color);
  }
  /// The tensor for one image: the input shape with batch 1.
  shape_t sample_shape() const {
    shape_t s = input_shape;
    s[0] = 1;
    return s;
  }
};

namespace detail {
inline int positive_dim(const std::string& input, std::int64_t d) {
  if (d <= 0 || d > (1 << 20))
    throw error("input \"" + input + "\": dimension " + std::to_string(d) + " cannot be an image size");
  return static_cast<int>(d);
}

/// TPU-MLIR broadcasts one mean/scale value over the channels and uses the first for gray.
inline std::vector<float> per_channel(const std::string& input, const char* what, const std::optional<std::vector<double>>& given,
                                      double fallback, int channels, bool gray) {
  std::vector<double> v = given ? *given : std::vector<double>(static_cast<std::size_t>(channels), fallback);
  if (v.empty()) throw error("input \"" + input + "\": the " + what + " attribute is empty");
  if (gray || v.size() == 1) v = std::vector<double>(static_cast<std::size_t>(channels), v.front());
  if (v.size() != static_cast<std::size_t>(channels))
    throw error("input \"" + input + "\": " + std::to_string(v.size()) + " " + what + " values for " + std::to_string(channels) +
                " channels");
  std::vector<float> out;
  for (double d : v) out.push_back(static_cast<float>(d));  // TPU-MLIR casts the F64 attribute to float32
  return out;
}
}  // namespace detail

/// The configuration for an input of the given type and `top.Input` attributes. Inputs that
/// model_transform gave no preprocessing attributes (not 4-D with <= 4 channels, not 3-D) cannot
/// take images: that, and attributes TPU-MLIR would misapply, is a mixq::error naming the input.
inline preprocess_config make_preprocess_config(const std::string& input_name, const shape_t& shape,
                                                const top::input_op::attributes& a) {
  const std::string who = "input \"" + input_name + "\"";
  if (!a.pixel_format)
    throw error(
        who + " (shape " + to_string(shape) +
        ") has no preprocessing attributes, so it cannot take images "
        "(model_transform attaches them to 4-D inputs with at most 4 channels and to 3-D inputs); give it .npz or .npy data");
  preprocess_config c;
  c.input_name = input_name;
  c.input_shape = shape;
  c.pixel_format = a.pixel_format->value;
  if (c.pixel_format != "rgb" && c.pixel_format != "bgr" && c.pixel_format != "gray" && c.pixel_format != "rgba")
    throw error(who + ": pixel_format \"" + c.pixel_format + "\" (raw Bayer data) cannot be made from an image file");
  if (a.channel_format) c.channel_format = a.channel_format->value;
  const bool nhwc = c.channel_format == "nhwc";
  int channel_dim = 0;
  if (shape.size() == 4) {
    c.batch_size = detail::positive_dim(input_name, shape[0]);
    channel_dim = detail::positive_dim(input_name, nhwc ? shape[3] : shape[1]);
    c.net_height = detail::positive_dim(input_name, nhwc ? shape[1] : shape[2]);
    c.net_width = detail::positive_dim(input_name, nhwc ? shape[2] : shape[3]);
  } else if (shape.size() == 3 && !nhwc && c.pixel_format == "gray") {
    c.batch_size = detail::positive_dim(input_name, shape[0]);
    channel_dim = 1;
    c.net_height = detail::positive_dim(input_name, shape[1]);
    c.net_width = detail::positive_dim(input_name, shape[2]);
  } else {
    throw error(who + " has shape " + to_string(shape) + " (" + c.channel_format + ", " + c.pixel_format +
                "): images fit 4-D inputs, or 3-D N,H,W inputs with pixel_format gray");
  }
  if (channel_dim != c.channels())
    throw error(who + " has " + std::to_string(channel_dim) + " channel(s) (shape " + to_string(shape) + ", " + c.channel_format +
                ") but pixel_format " + c.pixel_format + " makes " + std::to_string(c.channels()));

  c.resize_height = c.net_height;
  c.resize_width = c.net_width;
  if (a.resize_dims && !a.resize_dims->empty()) {
    if (a.resize_dims->size() != 2)
      throw error(who + ": resize_dims must be [h, w], got " + std::to_string(a.resize_dims->size()) + " values");
    c.resize_height = detail::positive_dim(input_name, (*a.resize_dims)[0]);
    c.resize_width = detail::positive_dim(input_name, (*a.resize_dims)[1]);
  }
  if ((c.resize_height != c.net_height || c.resize_width != c.net_width) &&
      (c.resize_height < c.net_height || c.resize_width < c.net_width))
    throw error(who + ": resize_dims " + std::to_string(c.resize_height) + "x" + std::to_string(c.resize_width) +
                " is smaller than the input's " + std::to_string(c.net_height) + "x" + std::to_string(c.net_width) +
                "; the centre crop needs resize_dims >= the input size");
  c.keep_aspect_ratio = a.keep_aspect_ratio.value_or(false);
  if (a.keep_ratio_mode) c.keep_ratio_mode = *a.keep_ratio_mode;
  if (c.keep_ratio_mode != "letterbox" && c.keep_ratio_mode != "short_side_scale")
    throw error(who + ": keep_ratio_mode \"" + c.keep_ratio_mode + "\" is neither letterbox nor short_side_scale");
  if (a.pad_type) c.pad_type = a.pad_type->value;
  const std::int64_t pad = a.pad_value.value_or(0);
  if (pad < 0 || pad > 255) throw error(who + ": pad_value " + std::to_string(pad) + " is not a grey level (0..255)");
  c.pad_value = static_cast<int>(pad);
  const bool gray = c.pixel_format == "gray";
  c.mean = detail::per_channel(input_name, "mean", a.mean, 0.0, c.channels(), gray);
  c.scale = detail::per_channel(input_name, "scale", a.scale, 1.0, c.channels(), gray);
  return c;
}

/// The configuration of the graph's `top.Input` node `input_node` (a node index).
inline preprocess_config preprocess_config_for(const graph& g, int input_node) {
  const node& n = g.nodes.at(static_cast<std::size_t>(input_node));
  if (!n.is<top::input_op>()) throw error("node " + std::to_string(input_node) + " is not a top.Input");
  const shape_t& shape = g.values.at(static_cast<std::size_t>(n.results.at(0))).type.shape;
  return make_preprocess_config(g.node_name(input_node), shape, n.attributes<top::input_op>());
}

/// Step 2: the decoded image resized (and, for short_side_scale, cropped) to resize_dims, still uint8.
inline image resize_for_input(const image& src, const preprocess_config& c) {
  const int h = c.resize_height, w = c.resize_width;
  if (!c.keep_aspect_ratio) return resize_linear(src, w, h);
  const double iw = src.width, ih = src.height;
  if (c.keep_ratio_mode == "letterbox") {
    const double s = std::min(static_cast<double>(w) / iw, static_cast<double>(h) / ih);
    const int rw = static_cast<int>(iw * s), rh = static_cast<int>(ih * s);
    if (rw <= 0 || rh <= 0)
      throw error("a " + std::to_string(src.width) + "x" + std::to_string(src.height) +
                  " image shrinks to nothing when letterboxed into " + std::to_string(w) + "x" + std::to_string(h));
    const image resized = resize_linear(src, rw, rh);
    image canvas(w, h, src.channels, static_cast<std::uint8_t>(c.pad_value));
    const int x0 = c.pad_type == "center" ? (w - rw) / 2 : 0, y0 = c.pad_type == "center" ? (h - rh) / 2 : 0;
    for (int y = 0; y < rh; ++y)
      std::copy(resized.row(y), resized.row(y) + resized.row_bytes(),
                canvas.row(y0 + y) + static_cast<std::size_t>(x0) * static_cast<std::size_t>(src.channels));
    return canvas;
  }
  const double s = std::max(static_cast<double>(w) / iw, static_cast<double>(h) / ih);
  const int rw = iw * s >= w ? static_cast<int>(iw * s) : w;
  const int rh = ih * s >= h ? static_cast<int>(ih * s) : h;
  const image resized = resize_linear(src, rw, rh);
  const int x0 = rw > w ? (rw - w) / 2 : 0, y0 = rh > h ? (rh - h) / 2 : 0;
  image out(w, h, src.channels);
  for (int y = 0; y < h; ++y)
    std::copy_n(resized.row(y0 + y) + static_cast<std::size_t>(x0) * static_cast<std::size_t>(src.channels), out.row_bytes(),
                out.row(y));
  return out;
}

/// Steps 2-7 for one decoded image: the float32 tensor of one sample (batch 1).
inline tensor preprocess_image(const image& decoded, const preprocess_config& c) {
  if (decoded.channels != c.channels())
    throw error("input \"" + c.input_name + "\": the image has " + std::to_string(decoded.channels) +
                " channel(s), pixel_format " + c.pixel_format + " needs " + std::to_string(c.channels()) +
                " (decode it with read mode " + std::string(to_string(c.read_mode())) + ")");
  const image resized = resize_for_input(decoded, c);
  // Centre crop from resize_dims to the net size; TPU-MLIR's offsets are h//2 - crop_h//2.
  const int y0 = resized.height / 2 - c.net_height / 2, x0 = resized.width / 2 - c.net_width / 2;
  const int ch = c.channels();
  const bool rgb = c.pixel_format == "rgb", nhwc = c.channel_format == "nhwc";
  tensor t = tensor::empty(dtype::f32, c.sample_shape());
  float* out = t.data<float>();
  const std::size_t plane = static_cast<std::size_t>(c.net_height) * static_cast<std::size_t>(c.net_width);
  for (int y = 0; y < c.net_height; ++y) {
    const std::uint8_t* row = resized.row(y0 + y) + static_cast<std::size_t>(x0) * static_cast<std::size_t>(ch);
    for (int x = 0; x < c.net_width; ++x)
      for (int k = 0; k < ch; ++k) {
        const int source_channel = rgb ? 2 - k : k;  // decoded as B,G,R; rgb wants R,G,B
        const float v = (static_cast<float>(row[x * ch + source_channel]) - c.mean[static_cast<std::size_t>(k)]) *
                        c.scale[static_cast<std::size_t>(k)];
        const std::size_t pixel =
            static_cast<std::size_t>(y) * static_cast<std::size_t>(c.net_width) + static_cast<std::size_t>(x);
        out[nhwc ? pixel * static_cast<std::size_t>(ch) + static_cast<std::size_t>(k)
                 : static_cast<std::size_t>(k) * plane + pixel] = v;
      }
  }
  return t;
}

/// The input tensor for image files: one file is repeated over the batch (as TPU-MLIR does),
/// otherwise there must be one file per batch entry.
inline tensor load_image_input(const std::vector<std::filesystem::path>& files, const preprocess_config& c) {
  if (files.empty()) throw error("input \"" + c.input_name + "\": no image files");
  if (files.size() != 1 && files.size() != static_cast<std::size_t>(c.batch_size))
    throw error("input \"" + c.input_name + "\": " + std::to_string(files.size()) + " images for a batch of " +
                std::to_string(c.batch_size));
  tensor batch = tensor::empty(dtype::f32, c.input_shape);
  const std::size_t sample = static_cast<std::size_t>(numel(c.sample_shape()));
  float* dst = batch.data<float>();
  for (std::size_t i = 0; i < files.size(); ++i) {
    const image decoded = read_image(files[i], c.read_mode());  // its errors name the file already
    tensor one;
    try {
      one = preprocess_image(decoded, c);
    } catch (const error& e) {
      throw error(files[i].string() + ": " + e.what());
    }
    std::copy_n(one.data<float>(), sample, dst + i * sample);
  }
  for (std::size_t b = files.size(); b < static_cast<std::size_t>(c.batch_size); ++b) std::copy_n(dst, sample, dst + b * sample);
  return batch;
}

}  // namespace mixq
