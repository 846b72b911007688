#include "test_support.hpp"

#include <optional>

#include "mixq/kernels/simd/conv.hpp"
#include "mixq/kernels/simd/depthwise.hpp"
#include "mixq/kernels/simd/partial.hpp"

using namespace mixq;
using simd::index_t;

namespace {
// Direct NCHW convolution in double: the oracle for the SIMD kernels.
std::vector<float> naive_conv(const simd::conv2d_geometry& g, index_t batch, const float* in, const float* w,
                              const float* bias, const simd::gemm_epilogue& ep) {
  const index_t icg = g.ic / g.group, ocg = g.oc / g.group;
  std::vector<float> out(static_cast<std::size_t>(batch * g.oc * g.oh * g.ow));
  std::size_t at = 0;
  for (index_t n = 0; n < batch; ++n)
    for (index_t o = 0; o < g.oc; ++o)
      for (index_t oy = 0; oy < g.oh; ++oy)
        for (index_t ox = 0; ox < g.ow; ++ox) {
          double s = bias ? bias[o] : 0.0;
          for (index_t i = 0; i < icg; ++i)
            for (index_t ky = 0; ky < g.kh; ++ky)
              for (index_t kx = 0; kx < g.kw; ++kx) {
                const index_t y = oy * g.sh + ky * g.dh - g.pad_top, x = ox * g.sw + kx * g.dw - g.pad_left;
                if (y < 0 || y >= g.ih || x < 0 || x >= g.iw) continue;
                s += static_cast<double>(in[((n * g.ic + o / ocg * icg + i) * g.ih + y) * g.iw + x]) *
                     w[((o * icg + i) * g.kh + ky) * g.kw + kx];
              }
          out[at++] = simd::detail::finish_scalar(static_cast<float>(s), {nullptr, true, ep.relu, ep.relu_limit}, 0, 0);
        }
  return out;
}

// Output size along one axis for the given input, kernel, stride, dilation and pads.
index_t out_size(index_t in, index_t k, index_t s, index_t d, index_t pad_begin, index_t pad_end) {
  return (in + pad_begin + pad_end - d * (k - 1) - 1) / s + 1;
}

struct conv_shape {
  index_t batch, ic, ih, iw, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

simd::conv2d_geometry geometry_of(const conv_shape& c) {
  simd::conv2d_geometry g;
  g.ic = c.ic;
  g.ih = c.ih;
  g.iw = c.iw;
  g.oc = c.oc;
  g.kh = c.kh;
  g.kw = c.kw;
  g.sh = c.sh;
  g.sw = c.sw;
  g.dh = c.dh;
  g.dw = c.dw;
  g.pad_top = c.pt;
  g.pad_left = c.pl;
  g.group = c.group;
  g.oh = out_size(c.ih, c.kh, c.sh, c.dh, c.pt, c.pb);
  g.ow = out_size(c.iw, c.kw, c.sw, c.dw, c.pl, c.pr);
  return g;
}

// `transposed`: pack the filter for that GEMM orientation instead of the one the cost model picks.
void check_conv_kernel(const conv_shape& c, bool relu, thread_pool& pool, std::optional<bool> transposed = {}) {
  const auto g = geometry_of(c);
  INFO("batch " << c.batch << " ic " << c.ic << " " << c.ih << "x" << c.iw << " oc " << c.oc << " kernel " << c.kh
                << "x" << c.kw << " stride " << c.sh << "," << c.sw << " dilation " << c.dh << "," << c.dw
                << " pads " << c.pt << "," << c.pl << "," << c.pb << "," << c.pr << " group " << c.group
                << " threads " << pool.size());
  const tensor x = test::random_tensor({c.batch, c.ic, c.ih, c.iw});
  const tensor w = test::random_tensor({c.oc, c.ic / c.group, c.kh, c.kw});
  const tensor b = test::random_tensor({c.oc});
  simd::gemm_epilogue ep;
  ep.relu = relu;
  ep.relu_limit = relu ? 0.8f : -1.f;
  tensor y = tensor::empty(dtype::f32, {c.batch, c.oc, g.oh, g.ow});
  if (c.group == c.ic && c.oc == c.ic && c.group > 1)
    simd::depthwise_conv2d(g, c.batch, x.data<float>(), w.data<float>(), b.data<float>(), y.data<float>(), ep, pool);
  else if (transposed) {
    const auto packed = simd::pack_conv_filter(g, w.data<float>(), *transposed);
    simd::conv2d_gemm(g, c.batch, x.data<float>(), w.data<float>(), &packed, b.data<float>(), y.data<float>(), ep, pool);
  } else
    simd::conv2d_gemm(g, c.batch, x.data<float>(), w.data<float>(), nullptr, b.data<float>(), y.data<float>(), ep, pool);
  const auto want = naive_conv(g, c.batch, x.data<float>(), w.data<float>(), b.data<float>(), ep);
  test::require_close(y, tensor::from_vector<float>({c.batch, c.oc, g.oh, g.ow}, want), 1e-4, 1e-4);
}
}  // namespace

TEST_CASE("partial vector loads and stores touch only the first n lanes", "[simd]") {
  constexpr index_t W = static_cast<index_t>(simd::width<float>);
  std::vector<float> src(static_cast<std::size_t>(2 * W)), dst(static_cast<std::size_t>(2 * W));
  for (index_t n = 0; n <= W; ++n) {
    for (index_t i = 0; i < 2 * W; ++i) {
      src[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
      dst[static_cast<std::size_t>(i)] = -1.f;
    }
    simd::store_first(dst.data(), simd::load_first(src.data(), n), n);
    for (index_t i = 0; i < 2 * W; ++i) CHECK(dst[static_cast<std::size_t>(i)] == (i < n ? static_cast<float>(i + 1) : -1.f));
  }
  for (index_t n : {0, 1, 5, 16, 17, 37}) {
    std::vector<float> a(64, 2.f), z(64, 3.f);
    simd::copy_run(z.data(), a.data(), n);
    simd::zero_run(a.data(), n);
    for (index_t i = 0; i < 64; ++i) {
      CHECK(z[static_cast<std::size_t>(i)] == (i < n ? 2.f : 3.f));
      CHECK(a[static_cast<std::size_t>(i)] == (i < n ? 0.f : 2.f));
    }
  }
}

TEST_CASE("depthwise kernel matches a direct convolution: strides, dilations, pads, ragged rows", "[depthwise]") {
  thread_pool one(1), three(3);
  const std::vector<conv_shape> shapes{
      {1, 5, 56, 56, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},   // mobilenet-like, 56 = 3 vectors + 8
      {1, 6, 29, 31, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6},   // stride 2, odd sizes
      {2, 3, 7, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},     // rows shorter than a vector
      {1, 4, 20, 50, 4, 3, 5, 3, 3, 1, 2, 0, 4, 2, 1, 4},   // stride 3, dilation, asymmetric pads
      {1, 2, 9, 9, 2, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4, 2},     // pads wider than the kernel reach
      {1, 3, 15, 40, 3, 7, 7, 2, 1, 2, 1, 6, 3, 6, 3, 3},   // 7x7 generic path, dilated rows
      {1, 2, 12, 33, 2, 2, 4, 1, 2, 3, 1, 0, 0, 1, 2, 2},   // even kernel, pad only at the end
      {2, 3, 12, 50, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 3},   // 5x5 (registers), 50 = 3 vectors + 2
      {1, 4, 24, 96, 4, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 4},   // 5x5 stride 2
  };
  for (const auto& s : shapes) {
    check_conv_kernel(s, false, one);
    check_conv_kernel(s, true, three);
  }
}

TEST_CASE("im2col convolution kernel matches a direct convolution across cache blocks", "[conv]") {
  thread_pool one(1), three(3);
  const std::vector<conv_shape> shapes{
      {1, 40, 30, 29, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   // K = 360: two K blocks; N = 870: two N blocks
      {1, 16, 28, 28, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   // stride 2, rows of 14 cut across strips
      {2, 6, 13, 70, 9, 3, 2, 3, 2, 2, 3, 2, 1, 0, 4, 1},     // stride 3, dilation 2x3, ragged pads
      {1, 12, 9, 9, 12, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 3},     // strided 1x1, groups
      {1, 8, 5, 3, 10, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 2},      // output rows of 3 columns
      {1, 64, 7, 7, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},     // pointwise, N = 49: a one-vector strip
  };
  for (const auto& s : shapes) {
    check_conv_kernel(s, false, one);
    check_conv_kernel(s, true, three);
  }
}

TEST_CASE("small feature maps run the transposed GEMM and match a direct convolution", "[conv]") {
  thread_pool one(1), three(3);
  const std::vector<conv_shape> shapes{
      {1, 48, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // resnet layer4-like: 49 pixels, 64 channels
      {2, 40, 7, 7, 96, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},     // pointwise at 7x7, batch 2
      {1, 24, 14, 14, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   // stride 2 to 7x7
      {1, 300, 5, 3, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},    // K = 1350 over several K blocks, groups, 3-wide rows
      {1, 16, 9, 9, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},     // strided 1x1 (im2col path) on 25 pixels
  };
  for (const auto& s : shapes) {
    INFO("oc " << s.oc << " at " << s.ih << "x" << s.iw);
    if constexpr (simd::width<float> == 16)  // the cost model's choice depends on the tile size
      REQUIRE(simd::conv_prefers_transposed(geometry_of(s)));
    check_conv_kernel(s, false, one, true);
    check_conv_kernel(s, true, three, true);
    check_conv_kernel(s, true, three, false);  // the same shapes as C = W · X
  }
  // Large maps keep C = W · X.
  REQUIRE_FALSE(simd::conv_prefers_transposed(geometry_of({1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1})));
}

TEST_CASE("each GEMM form of convolution matches a direct convolution", "[conv]") {
  // C = W · X with X packed (many channels), with X read in place (few channels), and C^T.
  thread_pool one(1), three(3);
  const conv_shape packed_3x3{1, 8, 30, 31, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const conv_shape packed_1x1{2, 16, 20, 20, 80, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1};
  const conv_shape direct_3x3{1, 96, 20, 70, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};  // K = 864 over sub-blocks
  const conv_shape direct_1x1{1, 200, 10, 40, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1};
  for (const auto& s : {packed_3x3, packed_1x1}) REQUIRE_FALSE(simd::conv_reads_input_directly(geometry_of(s)));
  for (const auto& s : {direct_3x3, direct_1x1}) REQUIRE(simd::conv_reads_input_directly(geometry_of(s)));
  for (const auto& s : {packed_3x3, packed_1x1, direct_3x3, direct_1x1}) {
    check_conv_kernel(s, false, one, false);
    check_conv_kernel(s, true, three, false);
  }
}
