#pragma once
// The shape of one int8 2-D convolution (NCHW), the same fields as the float kernels'
// simd::conv2d_geometry (kept separate so the int8 kernels do not depend on xsimd).
#include <string>

#include "mixq/core/error.hpp"
#include "mixq/kernels/int8/config.hpp"
#include "mixq/kernels/int8/epilogue.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

/// Sizes, kernel, strides, dilations and leading pads; trailing pads are whatever makes
/// (oh - 1) * sh + (kh - 1) * dh + 1 rows (and likewise columns) reach past the input.
struct conv2d_geometry {
  index_t ic = 0, ih = 0, iw = 0;
  index_t oc = 0, oh = 0, ow = 0;
  index_t kh = 1, kw = 1;
  index_t sh = 1, sw = 1;
  index_t dh = 1, dw = 1;
  index_t pad_top = 0, pad_left = 0;
  index_t group = 1;

  index_t icg() const { return ic / group; }
  index_t ocg() const { return oc / group; }
  index_t taps() const { return kh * kw; }
  /// Depth of each group's GEMM: input channels times taps.
  index_t k() const { return icg() * kh * kw; }
  index_t out_pixels() const { return oh * ow; }
  bool depthwise() const { return group == ic && group == oc && group > 1; }
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad_top == 0 && pad_left == 0 && oh == ih && ow == iw; }
};

/// Throws unless the geometry describes a convolution the kernels can run.
inline void validate(const conv2d_geometry& g) {
  const bool ok = g.ic > 0 && g.ih > 0 && g.iw > 0 && g.oc > 0 && g.oh > 0 && g.ow > 0 && g.kh > 0 && g.kw > 0 && g.sh > 0 &&
                  g.sw > 0 && g.dh > 0 && g.dw > 0 && g.pad_top >= 0 && g.pad_left >= 0 && g.group > 0 && g.ic % g.group == 0 &&
                  g.oc % g.group == 0;
  if (!ok)
    throw error("int8 conv: invalid geometry (ic " + std::to_string(g.ic) + ", oc " + std::to_string(g.oc) + ", group " +
                std::to_string(g.group) + ", output " + std::to_string(g.oh) + "x" + std::to_string(g.ow) + ")");
  // the first tap of the first output must not start left of/above the padding
  if (g.pad_top > (g.kh - 1) * g.dh + (g.oh - 1) * g.sh || g.pad_left > (g.kw - 1) * g.dw + (g.ow - 1) * g.sw)
    throw error("int8 conv: padding larger than the kernel's reach");
}

/// Where a convolution's results go ([batch, oc, oh, ow] each): the int32 accumulators (bias
/// included) and/or, with `requant`, the requantized bytes. The spec's channels are the output
/// channels (channel_is_row, or single values).
struct conv_output {
  std::int32_t* acc = nullptr;
  const requant_spec* requant = nullptr;
  void* q = nullptr;
};

inline void validate(const conv_output& out, const conv2d_geometry& g) {
  if (!out.acc && !(out.requant && out.q)) throw error("int8 conv: no output (neither accumulators nor a requantized result)");
  if (out.requant) {
    const requant_spec& s = *out.requant;
    if (!s.channel_is_row && (s.multiplier.size() > 1 || s.rshift.size() > 1 || s.bias.size() > 1))
      throw error("int8 conv: per-channel requant parameters must follow the output channels (channel_is_row)");
    validate(s, g.oc);
  }
}

/// The stored byte of a zero point (the padding value), checked against the element type.
inline std::uint8_t zero_point_byte(std::int32_t zp, elem type) {
  const bool ok = type == elem::s8 ? zp >= -128 && zp <= 127 : zp >= 0 && zp <= 255;
  if (!ok) throw error("int8 conv: input zero point " + std::to_string(zp) + " is outside the " + (type == elem::s8 ? "int8" : "uint8") + " range");
  return static_cast<std::uint8_t>(zp & 0xff);
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
