#pragma once
// Convolution and transposed convolution.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/hana/adapt_struct.hpp>

#include "mixq/dialect/top/op_base.hpp"
#include "mixq/dialect/top/registry.hpp"
#include "mixq/kernels/simd/conv.hpp"
#include "mixq/kernels/simd/depthwise.hpp"
#include "mixq/kernels/simd/gemm.hpp"

namespace mixq::top {

namespace detail {

/// A convolution's geometry in up to three spatial dimensions; missing leading dimensions are 1,
/// so the scalar references treat 1-D, 2-D and 3-D alike as (d, h, w).
struct conv_geometry {
  std::int64_t n = 0, ic = 0, oc = 0, group = 1;
  std::size_t rank = 2;                                   // spatial rank of the op
  std::array<std::int64_t, 3> in{1, 1, 1}, out{1, 1, 1};  // input as given (before inserts), output
  std::array<std::int64_t, 3> kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  std::array<std::int64_t, 3> pad_begin{0, 0, 0}, pad_end{0, 0, 0}, insert{0, 0, 0}, output_padding{0, 0, 0};
  std::int64_t taps() const { return kernel[0] * kernel[1] * kernel[2]; }
  std::int64_t in_spatial() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_spatial() const { return out[0] * out[1] * out[2]; }
};

inline std::vector<std::int64_t> spatial_or(const std::optional<std::vector<std::int64_t>>& v, std::size_t rank,
                                            std::int64_t fill) {
  return v && !v->empty() ? *v : std::vector<std::int64_t>(rank, fill);
}

/// Fills the spatial arrays shared by Conv and Deconv, validating the attribute lengths.
/// Pads are [begins..., ends...] ([t, l, b, r] in 2-D); 1-D also accepts the 4-value 2-D spelling.
inline void fill_window(conv_geometry& g, const char* op, const shape_t& in, const std::vector<std::int64_t>& kernel,
                        const std::vector<std::int64_t>& strides, const std::vector<std::int64_t>& pads,
                        const std::vector<std::int64_t>& dilations) {
  const std::string who = std::string(op) + ": ";
  if (in.size() < 3 || in.size() > 5)
    throw error(who + "input of shape " + to_string(in) + " is not N x C x spatial with 1 to 3 spatial dimensions");
  const std::size_t r = in.size() - 2;
  g.rank = r;
  if (kernel.size() != r)
    throw error(who + "kernel_shape has " + std::to_string(kernel.size()) + " values for " + std::to_string(r) +
                " spatial dimensions");
  if (!strides.empty() && strides.size() != r) throw error(who + "strides must have one value per spatial dimension");
  if (dilations.size() != r) throw error(who + "dilations must have one value per spatial dimension");
  const bool one_d_as_2d = r == 1 && pads.size() == 4;
  if (!pads.empty() && pads.size() != 2 * r && !one_d_as_2d)
    throw error(who + "pads must have " + std::to_string(2 * r) + " values, found " + std::to_string(pads.size()));
  const std::size_t off = 3 - r;
  g.n = in[0];
  g.ic = in[1];
  for (std::size_t i = 0; i < r; ++i) {
    g.in[off + i] = in[2 + i];
    g.kernel[off + i] = kernel[i];
    g.stride[off + i] = strides.empty() ? 1 : strides[i];
    g.dilation[off + i] = dilations[i];
    g.pad_begin[off + i] = pads.empty() ? 0 : pads[i];
    g.pad_end[off + i] = pads.empty() ? 0 : (one_d_as_2d ? pads[2] : pads[r + i]);
    if (g.kernel[off + i] <= 0 || g.stride[off + i] <= 0 || g.dilation[off + i] <= 0)
      throw error(who + "kernel_shape, strides and dilations must be positive");
  }
}

inline shape_t output_shape(const conv_geometry& g) {
  shape_t s{g.n, g.oc};
  for (std::size_t i = 3 - g.rank; i < 3; ++i) s.push_back(g.out[i]);
  return s;
}

/// max(v, 0) clipped at limit when limit > 0: the fused relu of TOP ops.
inline float fused_relu(double v, bool do_relu, double limit) {
  if (do_relu) {
    v = v < 0 ? 0 : v;
    if (limit > 0 && v > limit) v = limit;
  }
  return static_cast<float>(v);
}

inline simd::gemm_epilogue relu_epilogue(bool do_relu, double limit) {
  simd::gemm_epilogue ep;
  ep.relu = do_relu;
  ep.relu_limit = static_cast<float>(limit);
  return ep;
}

inline simd::conv2d_geometry to_2d(const conv_geometry& g) {
  simd::conv2d_geometry c;
  c.ic = g.ic;
  c.ih = g.in[1];
  c.iw = g.in[2];
  c.oc = g.oc;
  c.oh = g.out[1];
  c.ow = g.out[2];
  c.kh = g.kernel[1];
  c.kw = g.kernel[2];
  c.sh = g.stride[1];
  c.sw = g.stride[2];
  c.dh = g.dilation[1];
  c.dw = g.dilation[2];
  c.pad_top = g.pad_begin[1];
  c.pad_left = g.pad_begin[2];
  c.group = g.group;
  return c;
}

}  // namespace detail

/// `top.Conv`: N-d cross-correlation, filter [oc, ic/group, k...], optional bias [oc], fused relu.
/// `inserts` puts that many zeros between neighbouring input elements (per spatial axis) first.
struct conv_op {
  static constexpr std::string_view mnemonic = "top.Conv";
  static constexpr std::array operands{top::input("input"), top::weight("filter"), top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> kernel_shape;
    required<std::vector<std::int64_t>> strides;
    required<std::vector<std::int64_t>> pads;
    std::int64_t group = 1;
    std::optional<std::vector<std::int64_t>> dilations;
    std::optional<std::vector<std::int64_t>> inserts;
    bool do_relu = false;
    double relu_limit = -1.0;
    bool dynweight_reorderd = false;
    std::int64_t weight_is_coeff = 1;
    std::optional<bool> do_winograd;
    std::optional<one_of<"SAME_UPPER", "SAME_LOWER", "NOTSET", "VALID">> auto_pad;
    std::optional<double> in_int4_scale;
    std::optional<double> in_int4_zp;
    std::optional<double> out_int8_scale;
    std::optional<double> out_int8_zp;
    std::optional<std::int64_t> weight_bits;
  };

  static detail::conv_geometry geometry(const shape_t& in, const shape_t& filter, const attributes& a) {
    detail::conv_geometry g;
    const std::size_t r = in.size() >= 3 ? in.size() - 2 : 0;
    detail::fill_window(g, "top.Conv", in, a.kernel_shape, a.strides, a.pads, detail::spatial_or(a.dilations, r, 1));
    const auto ins = detail::spatial_or(a.inserts, r, 0);
    if (ins.size() != r) throw error("top.Conv: inserts must have one value per spatial dimension");
    g.group = a.group;
    if (g.group <= 0 || g.ic % g.group != 0)
      throw error("top.Conv: group " + std::to_string(g.group) + " does not divide " + std::to_string(g.ic) +
                  " input channels");
    if (filter.size() < 2) throw error("top.Conv: filter of shape " + to_string(filter) + " has no channel axes");
    g.oc = filter[0];
    if (g.oc % g.group != 0 || numel(filter) != g.oc * (g.ic / g.group) * numel(*a.kernel_shape))
      throw error("top.Conv: filter " + to_string(filter) + " does not match input " + to_string(in) + ", group " +
                  std::to_string(g.group) + " and kernel_shape " + to_string(*a.kernel_shape));
    const std::size_t off = 3 - r;
    for (std::size_t i = 0; i < r; ++i) {
      const std::size_t d = off + i;
      g.insert[d] = ins[i];
      const std::int64_t in_eff = (g.in[d] - 1) * (ins[i] + 1) + 1;
      const std::int64_t eff_k = g.dilation[d] * (g.kernel[d] - 1) + 1;
      const std::string mode = a.auto_pad ? a.auto_pad->value : std::string("NOTSET");
      if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
        const std::int64_t o = (in_eff + g.stride[d] - 1) / g.stride[d];
        const std::int64_t total = std::max<std::int64_t>(0, (o - 1) * g.stride[d] + eff_k - in_eff);
        g.pad_begin[d] = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
        g.pad_end[d] = total - g.pad_begin[d];
      } else if (mode == "VALID") {
        g.pad_begin[d] = g.pad_end[d] = 0;
      }
      const std::int64_t span = in_eff + g.pad_begin[d] + g.pad_end[d] - eff_k;
      if (span < 0)
        throw error("top.Conv: kernel " + to_string(*a.kernel_shape) + " does not fit padded input " + to_string(in));
      g.out[d] = span / g.stride[d] + 1;
    }
    return g;
  }

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const auto g = geometry(c.operand(0).shape, c.operand(1).shape, a);
    if (c.has(2) && c.operand(2).numel() != g.oc)
      throw error("top.Conv: bias has " + std::to_string(c.operand(2).numel()) + " values for " +
                  std::to_string(g.oc) + " output channels");
    return {tensor_type{c.operand(0).elem, detail::output_shape(g)}};
  }

  /// The oracle: direct summation in double over (d, h, w), one output element at a time.
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const tensor& w = k.in(1);
    const tensor* b = k.optional_in(2);
    const auto g = geometry(x.shape(), w.shape(), a);
    tensor& y = k.out();
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    float* yp = y.data<float>();
    const std::int64_t icg = g.ic / g.group, ocg = g.oc / g.group;
    const auto& I = g.in;
    std::int64_t at = 0;
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t o = 0; o < g.oc; ++o)
        for (std::int64_t od = 0; od < g.out[0]; ++od)
          for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
            for (std::int64_t ow = 0; ow < g.out[2]; ++ow) {
              double s = b ? b->data<float>()[o] : 0.0;
              const std::int64_t grp = o / ocg;
              for (std::int64_t i = 0; i < icg; ++i)
                for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd)
                  for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh)
                    for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                      // position in the zero-inserted, padded input; only every (insert+1)-th is real
                      const std::int64_t pos[3] = {od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0],
                                                   oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1],
                                                   ow * g.stride[2] + kw * g.dilation[2] - g.pad_begin[2]};
                      std::int64_t src[3];
                      bool real = true;
                      for (int d = 0; d < 3; ++d) {
                        const std::int64_t step = g.insert[static_cast<std::size_t>(d)] + 1;
                        real = real && pos[d] >= 0 && pos[d] % step == 0 && pos[d] / step < I[static_cast<std::size_t>(d)];
                        src[d] = pos[d] / step;
                      }
                      if (!real) continue;
                      const std::int64_t xi = (((n * g.ic + grp * icg + i) * I[0] + src[0]) * I[1] + src[1]) * I[2] + src[2];
                      const std::int64_t wi = (((o * icg + i) * g.kernel[0] + kd) * g.kernel[1] + kh) * g.kernel[2] + kw;
                      s += static_cast<double>(xp[xi]) * wp[wi];
                    }
              yp[at++] = detail::fused_relu(s, a.do_relu, a.relu_limit);
            }
  }

  /// Per-model state: the filter packed for the GEMM (when it is a constant and the GEMM path applies).
  struct prepared {
    bool packed_valid = false;
    simd::packed_conv_filter filter;
  };

  static bool is_depthwise(const detail::conv_geometry& g) { return g.group > 1 && g.group == g.ic && g.oc == g.ic; }
  static bool has_inserts(const detail::conv_geometry& g) {
    return g.insert[0] != 0 || g.insert[1] != 0 || g.insert[2] != 0;
  }

  static prepared prepare(const prepare_context& c, const attributes& a) {
    prepared p;
    const tensor* w = c.constant(1);
    if (!w || c.operands.empty() || !c.operands[0] || w->elem() != dtype::f32) return p;
    const auto g = geometry(c.operands[0]->shape, w->shape(), a);
    if (g.rank > 2 || is_depthwise(g)) return p;
    p.filter = simd::pack_conv_filter(detail::to_2d(g), w->data<float>());
    p.packed_valid = true;
    return p;
  }

  static void compute(kernel_context& k, const attributes& a, const prepared& p) {
    tensor x = k.in(0);
    auto g = geometry(x.shape(), k.in(1).shape(), a);
    if (g.rank > 2) return reference(k, a);
    if (has_inserts(g)) {  // materialise the zero-inserted input, then it is a plain convolution
      shape_t s{g.n, g.ic, g.in[1], g.in[2]};
      for (int d = 1; d < 3; ++d) s[static_cast<std::size_t>(d + 1)] = (g.in[static_cast<std::size_t>(d)] - 1) * (g.insert[static_cast<std::size_t>(d)] + 1) + 1;
      tensor grown = tensor::zeros(dtype::f32, s);
      const float* src = x.data<float>();
      float* dst = grown.data<float>();
      const std::int64_t planes = g.n * g.ic;
      for (std::int64_t pl = 0; pl < planes; ++pl)
        for (std::int64_t h = 0; h < g.in[1]; ++h)
          for (std::int64_t ww = 0; ww < g.in[2]; ++ww)
            dst[(pl * s[2] + h * (g.insert[1] + 1)) * s[3] + ww * (g.insert[2] + 1)] =
                src[(pl * g.in[1] + h) * g.in[2] + ww];
      x = grown;
      g.in[1] = s[2];
      g.in[2] = s[3];
      g.insert = {0, 0, 0};
    }
    run_2d(k, a, p, g, detail::to_2d(g), x);
  }

  /// Row bands (row_band) of a 2-D convolution without inserts: output rows [b, e) read the
  /// input rows from b*stride - pad_top to (e-1)*stride - pad_top + (kh-1)*dilation, clipped.
  static std::optional<std::pair<std::int64_t, std::int64_t>> band_input_rows(const attributes& a,
                                                                              std::span<const tensor_type* const> operands,
                                                                              std::int64_t b, std::int64_t e) {
    if (operands.size() < 2 || !operands[0] || !operands[1] || operands[0]->elem != dtype::f32) return std::nullopt;
    const auto g = geometry(operands[0]->shape, operands[1]->shape, a);
    if (g.rank != 2 || has_inserts(g) || b < 0 || e > g.out[1] || b >= e) return std::nullopt;
    const std::int64_t first = b * g.stride[1] - g.pad_begin[1];
    const std::int64_t last = (e - 1) * g.stride[1] - g.pad_begin[1] + (g.kernel[1] - 1) * g.dilation[1];
    const std::int64_t lo = std::clamp<std::int64_t>(first, 0, g.in[1]), hi = std::clamp<std::int64_t>(last + 1, 0, g.in[1]);
    if (lo >= hi) return std::nullopt;  // a band of padding only
    return std::pair{lo, hi};
  }

  /// The band's rows through the same kernels as compute: the band is a convolution of its own
  /// whose top padding is what of the window lies above the input, and whose bottom padding
  /// follows from its output height, so every output element is the same sum in the same order.
  static void compute_band(kernel_context& k, const attributes& a, const prepared& p, const row_band& band) {
    const tensor& x = k.in(0);
    const auto g = geometry(band.input_shape, k.in(1).shape(), a);
    if (g.rank != 2 || has_inserts(g)) throw error("top.Conv: this convolution cannot run in row bands");
    auto c2 = detail::to_2d(g);
    c2.ih = band.in_end - band.in_begin;
    c2.oh = band.out_end - band.out_begin;
    c2.pad_top = band.in_begin - (band.out_begin * c2.sh - c2.pad_top);
    if (x.numel() != g.n * g.ic * c2.ih * g.in[2]) throw error("top.Conv: the band input has the wrong size");
    if (k.out().numel() != g.n * g.oc * c2.oh * c2.ow) throw error("top.Conv: the band output has the wrong size");
    run_2d(k, a, p, g, c2, x);
  }

 private:
  /// The 2-D kernels on input x (no inserts) of geometry c2, into k.out(): compute and
  /// compute_band share them, so a band's rows are the same sums as the whole result's.
  static void run_2d(kernel_context& k, const attributes& a, const prepared& p, const detail::conv_geometry& g,
                     const simd::conv2d_geometry& c2, const tensor& x) {
    const tensor& w = k.in(1);
    const tensor* b = k.optional_in(2);
    tensor& y = k.out();
    const auto ep = detail::relu_epilogue(a.do_relu, a.relu_limit);
    const float* bias = b ? b->data<float>() : nullptr;
    if (is_depthwise(g)) {
      simd::depthwise_conv2d(c2, g.n, x.data<float>(), w.data<float>(), bias, y.data<float>(), ep, k.threads());
      return;
    }
    simd::conv2d_gemm(c2, g.n, x.data<float>(), w.data<float>(), p.packed_valid ? &p.filter : nullptr, bias, y.data<float>(), ep,
                      k.threads());
  }
};

/// `top.Deconv`: transposed convolution. The filter is stored as TPU-MLIR's importer writes weights:
/// data in [group, oc/group, ic/group, k...] order, declared [oc/group, ic, k...]; a filter in ONNX
/// ConvTranspose layout [ic, oc/group, k...] is accepted when it is an activation (not a constant and
/// not `dynweight_reorderd`) or when its shape can only be read that way.
struct deconv_op {
  static constexpr std::string_view mnemonic = "top.Deconv";
  static constexpr std::array operands{top::input("input"), top::weight("filter"), top::optional_bias("bias")};
  static constexpr int num_results = 1;
  static constexpr std::uint32_t traits = trait::weight_bearing | trait::quantizable;
  struct attributes {
    required<std::vector<std::int64_t>> kernel_shape;
    required<std::vector<std::int64_t>> strides;
    required<std::vector<std::int64_t>> pads;
    std::int64_t group = 1;
    std::optional<std::vector<std::int64_t>> dilations;
    std::optional<std::vector<std::int64_t>> output_padding;
    bool dynweight_reorderd = false;
    bool do_relu = false;
    double relu_limit = -1.0;
  };

  /// `onnx_layout`: the filter is [ic, oc/group, k...].
  static detail::conv_geometry geometry(const shape_t& in, const shape_t& filter, const attributes& a,
                                        bool onnx_layout) {
    detail::conv_geometry g;
    const std::size_t r = in.size() >= 3 ? in.size() - 2 : 0;
    detail::fill_window(g, "top.Deconv", in, a.kernel_shape, a.strides, a.pads, detail::spatial_or(a.dilations, r, 1));
    const auto op = detail::spatial_or(a.output_padding, r, 0);
    if (op.size() != r) throw error("top.Deconv: output_padding must have one value per spatial dimension");
    g.group = a.group;
    if (g.group <= 0 || g.ic % g.group != 0)
      throw error("top.Deconv: group " + std::to_string(g.group) + " does not divide " + std::to_string(g.ic) +
                  " input channels");
    if (filter.size() < 2) throw error("top.Deconv: filter of shape " + to_string(filter) + " has no channel axes");
    g.oc = (onnx_layout ? filter[1] : filter[0]) * g.group;
    if (numel(filter) != g.oc / g.group * g.ic * numel(*a.kernel_shape))
      throw error("top.Deconv: filter " + to_string(filter) + " does not match input " + to_string(in) + ", group " +
                  std::to_string(g.group) + " and kernel_shape " + to_string(*a.kernel_shape));
    const std::size_t off = 3 - r;
    for (std::size_t i = 0; i < r; ++i) {
      const std::size_t d = off + i;
      g.output_padding[d] = op[i];
      g.out[d] = (g.in[d] - 1) * g.stride[d] - g.pad_begin[d] - g.pad_end[d] + g.dilation[d] * (g.kernel[d] - 1) +
                 op[i] + 1;
      if (g.out[d] <= 0) throw error("top.Deconv: output size along a spatial axis is not positive");
    }
    return g;
  }

  /// Which layout a filter tensor has, from shapes alone (the kernels see no "is constant" flag).
  static bool filter_is_onnx(const shape_t& in, const shape_t& filter, const shape_t& out, std::int64_t group) {
    if (in.size() < 2 || filter.size() < 2 || out.size() < 2) return false;
    const bool tpu = filter[0] * group == out[1] && filter[1] == in[1];
    const bool onnx = filter[0] == in[1] && filter[1] * group == out[1];
    return onnx && !tpu;
  }

  static std::vector<tensor_type> infer(const infer_context& c, const attributes& a) {
    const bool onnx = !c.constant(1) && !a.dynweight_reorderd;
    const auto g = geometry(c.operand(0).shape, c.operand(1).shape, a, onnx);
    if (c.has(2) && c.operand(2).numel() != g.oc)
      throw error("top.Deconv: bias has " + std::to_string(c.operand(2).numel()) + " values for " +
                  std::to_string(g.oc) + " output channels");
    return {tensor_type{c.operand(0).elem, detail::output_shape(g)}};
  }

  /// Index of filter element (group, o within group, i within group, tap).
  static std::int64_t filter_index(const detail::conv_geometry& g, bool onnx, std::int64_t grp, std::int64_t o,
                                   std::int64_t i, std::int64_t tap) {
    const std::int64_t icg = g.ic / g.group, ocg = g.oc / g.group;
    return onnx ? ((grp * icg + i) * ocg + o) * g.taps() + tap : ((grp * ocg + o) * icg + i) * g.taps() + tap;
  }

  /// The oracle: every input element scatters into the outputs its taps reach, summed in double.
  static void reference(kernel_context& k, const attributes& a) {
    const tensor& x = k.in(0);
    const tensor& w = k.in(1);
    const tensor* b = k.optional_in(2);
    const bool onnx = filter_is_onnx(x.shape(), w.shape(), k.out_type().shape, a.group);
    const auto g = geometry(x.shape(), w.shape(), a, onnx);
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    const std::int64_t icg = g.ic / g.group, ocg = g.oc / g.group, O = g.out_spatial();
    std::vector<double> acc(static_cast<std::size_t>(g.n * g.oc * O), 0.0);
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t c = 0; c < g.ic; ++c) {
        const std::int64_t grp = c / icg, i = c % icg;
        for (std::int64_t id = 0; id < g.in[0]; ++id)
          for (std::int64_t ih = 0; ih < g.in[1]; ++ih)
            for (std::int64_t iw = 0; iw < g.in[2]; ++iw) {
              const double v = xp[(((n * g.ic + c) * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw];
              for (std::int64_t o = 0; o < ocg; ++o)
                for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd)
                  for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh)
                    for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                      const std::int64_t od = id * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
                      const std::int64_t oh = ih * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
                      const std::int64_t ow = iw * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
                      if (od < 0 || od >= g.out[0] || oh < 0 || oh >= g.out[1] || ow < 0 || ow >= g.out[2]) continue;
                      const std::int64_t tap = (kd * g.kernel[1] + kh) * g.kernel[2] + kw;
                      acc[static_cast<std::size_t>(((n * g.oc + grp * ocg + o) * g.out[0] + od) * g.out[1] * g.out[2] +
                                                   oh * g.out[2] + ow)] += v * wp[filter_index(g, onnx, grp, o, i, tap)];
                    }
            }
      }
    float* yp = k.out().data<float>();
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t o = 0; o < g.oc; ++o)
        for (std::int64_t s = 0; s < O; ++s) {
          const std::size_t at = static_cast<std::size_t>((n * g.oc + o) * O + s);
          yp[at] = detail::fused_relu(acc[at] + (b ? b->data<float>()[o] : 0.f), a.do_relu, a.relu_limit);
        }
  }

  /// Per group, the filter as the GEMM's A operand: rows (o, tap), columns i.
  struct prepared {
    std::vector<simd::packed_matrix> groups;
  };

  static std::vector<simd::packed_matrix> pack_filter(const detail::conv_geometry& g, bool onnx, const float* w) {
    const std::int64_t icg = g.ic / g.group, ocg = g.oc / g.group, taps = g.taps();
    std::vector<simd::packed_matrix> out;
    for (std::int64_t grp = 0; grp < g.group; ++grp) {
      out.push_back(simd::pack_a_once(ocg * taps, icg, [&](std::int64_t m0, std::int64_t mc, std::int64_t k0,
                                                          std::int64_t kc, float* dst) {
        for (std::int64_t s = 0; s < mc; s += simd::gemm_mr, dst += simd::gemm_mr * kc)
          for (std::int64_t r = 0; r < simd::gemm_mr; ++r) {
            const std::int64_t m = m0 + s + r;
            for (std::int64_t kk = 0; kk < kc; ++kk)
              dst[kk * simd::gemm_mr + r] =
                  s + r < mc && m < ocg * taps ? w[filter_index(g, onnx, grp, m / taps, k0 + kk, m % taps)] : 0.f;
          }
      }));
    }
    return out;
  }

  static prepared prepare(const prepare_context& c, const attributes& a) {
    prepared p;
    const tensor* w = c.constant(1);
    if (!w || c.operands.empty() || !c.operands[0] || w->elem() != dtype::f32) return p;
    const auto g = geometry(c.operands[0]->shape, w->shape(), a, false);
    if (g.rank > 2) return p;
    p.groups = pack_filter(g, false, w->data<float>());
    return p;
  }

  /// Per image and group: columns = W_g^T · X_g (a GEMM over input channels) for a slab of input
  /// pixels at a time, then each column is added into the output pixels its taps reach.
  static void compute(kernel_context& k, const attributes& a, const prepared& p) {
    const tensor& x = k.in(0);
    const tensor& w = k.in(1);
    const tensor* b = k.optional_in(2);
    const bool onnx = filter_is_onnx(x.shape(), w.shape(), k.out_type().shape, a.group);
    const auto g = geometry(x.shape(), w.shape(), a, onnx);
    if (g.rank > 2) return reference(k, a);
    std::vector<simd::packed_matrix> local;
    const std::vector<simd::packed_matrix>* filt = &p.groups;
    if (p.groups.empty() || onnx) {
      local = pack_filter(g, onnx, w.data<float>());
      filt = &local;
    }
    tensor& y = k.out();
    float* yp = y.data<float>();
    const std::int64_t icg = g.ic / g.group, ocg = g.oc / g.group, taps = g.taps();
    const std::int64_t IN = g.in_spatial(), O = g.out_spatial(), M = ocg * taps;
    const std::int64_t KH = g.kernel[1], KW = g.kernel[2], IW = g.in[2], OH = g.out[1], OW = g.out[2];
    for (std::int64_t i = 0; i < g.n * g.oc; ++i) std::fill(yp + i * O, yp + (i + 1) * O, b ? b->data<float>()[i % g.oc] : 0.f);
    // a slab of input pixels bounds the column buffer to ~1 MiB, so the scatter reads it from L2
    // (16 MiB slabs went through memory: PP-OCR det's 24->24 2x2 deconv took 7.9 ms)
    const std::int64_t slab = std::max<std::int64_t>(simd::gemm_nr, (std::int64_t{1} << 18) / std::max<std::int64_t>(M, 1));
    const std::int64_t chunk = std::min(IN, simd::round_up(slab, simd::gemm_nr));
    tensor cols = tensor::empty(dtype::f32, {M * chunk});
    float* cp = cols.data<float>();
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t grp = 0; grp < g.group; ++grp) {
        const float* xg = x.data<float>() + (n * g.ic + grp * icg) * IN;
        float* yg = yp + (n * g.oc + grp * ocg) * O;
        for (std::int64_t c0 = 0; c0 < IN; c0 += chunk) {
          const std::int64_t nc = std::min(chunk, IN - c0);
          simd::gemm(M, nc, icg, simd::gemm_a{&(*filt)[static_cast<std::size_t>(grp)], {}},
                     simd::strided_b(xg + c0, nc, IN, 1), cp, nc, {}, &k.threads());
          // Walked by input row: within a row, tap (ky, kx) adds a run of columns into one output
          // row at stride sx, clipped once per run (a division per element cost more than the GEMM).
          const std::int64_t sy = g.stride[1], sx = g.stride[2];
          k.threads().parallel_for(ocg, 1, [&](std::int64_t ob, std::int64_t oe) {
            for (std::int64_t o = ob; o < oe; ++o)
              for (std::int64_t t = 0; t < taps; ++t) {
                const std::int64_t ky = t / KW % KH, kx = t % KW;
                const float* col = cp + (o * taps + t) * nc;
                float* yo = yg + o * O;
                for (std::int64_t j = 0; j < nc;) {
                  const std::int64_t pix = c0 + j, iy = pix / IW, ix = pix % IW;
                  const std::int64_t run = std::min(IW - ix, nc - j);
                  const std::int64_t oy = iy * sy - g.pad_begin[1] + ky * g.dilation[1];
                  if (oy >= 0 && oy < OH) {
                    const std::int64_t ox0 = ix * sx - g.pad_begin[2] + kx * g.dilation[2];
                    const std::int64_t r_lo = ox0 >= 0 ? 0 : (-ox0 + sx - 1) / sx;
                    const std::int64_t r_hi = ox0 > OW - 1 ? 0 : std::min(run, (OW - 1 - ox0) / sx + 1);
                    float* dst = yo + oy * OW + ox0;
                    const float* src = col + j;
                    for (std::int64_t r = r_lo; r < r_hi; ++r) dst[r * sx] += src[r];
                  }
                  j += run;
                }
              }
          });
        }
      }
    if (a.do_relu)
      for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = detail::fused_relu(yp[i], true, a.relu_limit);
  }
};

using conv_ops = op_list<conv_op, deconv_op>;

}  // namespace mixq::top

BOOST_HANA_ADAPT_STRUCT(mixq::top::conv_op::attributes, kernel_shape, strides, pads, group, dilations, inserts, do_relu,
                        relu_limit, dynweight_reorderd, weight_is_coeff, do_winograd, auto_pad, in_int4_scale,
                        in_int4_zp, out_int8_scale, out_int8_zp, weight_bits);
BOOST_HANA_ADAPT_STRUCT(mixq::top::deconv_op::attributes, kernel_shape, strides, pads, group, dilations, output_padding,
                        dynweight_reorderd, do_relu, relu_limit);
