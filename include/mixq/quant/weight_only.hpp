#pragma once
// Weight-only quantization of a MatMul's constant weight (model_deploy's W8F16/W8BF16/W4F16/W4BF16,
// TPU-MLIR's A16MatMul): the weight, laid out as rows = output channels (N) and columns = the
// reduction dimension (K), is stored as 8- or 4-bit integers with one scale (and zero point) per
// row, or per group of `group_size` consecutive columns of a row. The activations stay in f16/bf16;
// the chip dequantizes w = (q - zp) * scale and multiplies in the float type.
//
// The arithmetic is TPU-MLIR's A16MatMulAdjust (computePerChannelParam, computePerGroupParam,
// weightQuantization), in the same float32 steps:
//   per row (group_size 0), 8 bits: signed = the whole weight's minimum <= 0; scale = absmax/127
//     (signed, int8 storage) or absmax/255 (uint8), zero point 0;
//   per row, 4 bits: asymmetric uint4, scale = max(max - min, 1e-5)/15, zp = clamp(-round(min/scale), 0, 15);
//   per group, asymmetric: scale = max(max - min, 1e-5)/qmax, zp = clamp(-round(min/scale), 0, qmax),
//     qmax = 15 (4 bits) or 255 (8 bits), uint storage;
//   per group, symmetric: scale = 2 absmax/qmax, zp = 8 (4 bits) or 128 (8 bits), uint storage;
//   q = saturate(round(w/scale) + zp), round half away from zero.
// 4-bit values are packed two per byte over the row-major [N, K] order: element 2j in the low
// nibble, element 2j+1 in the high nibble of byte j.
// One fix: an all-zero row or group (absmax 0) has scale 0, where TPU-MLIR divides by zero
// (NaN integers); mixq stores q = zp there, which dequantizes to 0 as it should.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/quant/requant.hpp"

namespace mixq::quant {

struct weight_only_spec {
  int bits = 8;                 // 8 or 4
  std::int64_t group_size = 0;  // 0: one scale per row (output channel)
  bool symmetric = false;       // per-group only: fixed zero point 2^(bits-1)
};

struct weight_only_weights {
  int bits = 8;
  std::int64_t rows = 0, cols = 0;  // N, K
  std::int64_t group_size = 0;
  bool sign = true;                 // TPU-MLIR's `sign`: the weight's minimum is <= 0
  bool signed_storage = false;      // int8 storage (8 bits, per row, sign); otherwise unsigned
  std::vector<std::uint8_t> data;   // rows*cols bytes (8 bits; int8 as two's complement) or rows*cols/2 (4 bits)
  std::vector<float> scale;         // rows * groups(), float32 (model_deploy stores them as f16/bf16)
  std::vector<std::uint8_t> zp;     // rows * groups()

  std::int64_t groups() const { return group_size > 0 ? cols / group_size : 1; }
  std::int64_t param_index(std::int64_t r, std::int64_t c) const { return r * groups() + (group_size > 0 ? c / group_size : 0); }
  /// The stored integer of element (r, c) (the unpacked nibble for 4 bits).
  int stored(std::int64_t r, std::int64_t c) const {
    const std::int64_t i = r * cols + c;
    if (bits == 4) return (data[static_cast<std::size_t>(i / 2)] >> ((i % 2) * 4)) & 0x0F;
    return signed_storage ? static_cast<int>(static_cast<std::int8_t>(data[static_cast<std::size_t>(i)])) : data[static_cast<std::size_t>(i)];
  }
  /// (q - zp) * scale with the given scales (e.g. the f16-rounded ones the chip uses).
  float dequantized(std::int64_t r, std::int64_t c, std::span<const float> scales) const {
    const std::int64_t p = param_index(r, c);
    return static_cast<float>(stored(r, c) - static_cast<int>(zp[static_cast<std::size_t>(p)])) * scales[static_cast<std::size_t>(p)];
  }
};

/// Quantizes `w` ([rows, cols] row-major, rows = output channels). Errors name what is wrong
/// (bits, a group size that does not divide the row, an odd element count for 4 bits).
inline weight_only_weights quantize_weight_only(std::span<const float> w, std::int64_t rows, std::int64_t cols, const weight_only_spec& spec) {
  if (spec.bits != 8 && spec.bits != 4) throw error("weight-only quantization: " + std::to_string(spec.bits) + " bits (8 or 4)");
  if (rows <= 0 || cols <= 0 || static_cast<std::int64_t>(w.size()) != rows * cols)
    throw error("weight-only quantization: " + std::to_string(w.size()) + " values for a " + std::to_string(rows) + "x" +
                std::to_string(cols) + " weight");
  if (spec.group_size < 0) throw error("weight-only quantization: negative group size " + std::to_string(spec.group_size));
  if (spec.group_size > 0 && cols % spec.group_size != 0)
    throw error("weight-only quantization: the reduction size " + std::to_string(cols) + " is not a multiple of the group size " +
                std::to_string(spec.group_size));
  if (spec.bits == 4 && cols % 2 != 0)
    throw error("weight-only quantization: 4-bit packing needs an even reduction size, got " + std::to_string(cols));
  weight_only_weights q;
  q.bits = spec.bits;
  q.rows = rows;
  q.cols = cols;
  q.group_size = spec.group_size;
  float gmin = w[0];
  for (float v : w) gmin = std::min(gmin, v);
  q.sign = !(gmin > 0);
  q.signed_storage = spec.bits == 8 && spec.group_size == 0 && q.sign;
  const std::int64_t groups = q.groups(), span_len = spec.group_size > 0 ? spec.group_size : cols;
  q.scale.assign(static_cast<std::size_t>(rows * groups), 0.f);
  const bool fixed_zp = spec.group_size > 0 && spec.symmetric;
  q.zp.assign(static_cast<std::size_t>(rows * groups), fixed_zp ? static_cast<std::uint8_t>(spec.bits == 4 ? 8 : 128) : 0);
  const int qmax = spec.bits == 4 ? 15 : 255;
  for (std::int64_t p = 0; p < rows * groups; ++p) {
    const float* s = w.data() + p * span_len;  // rows are contiguous, so group p starts at p * span_len
    float mn = s[0], mx = s[0], amax = 0.f;
    for (std::int64_t k = 0; k < span_len; ++k) mn = std::min(mn, s[k]), mx = std::max(mx, s[k]), amax = std::max(amax, std::fabs(s[k]));
    const auto pi = static_cast<std::size_t>(p);
    if (spec.group_size == 0 && spec.bits == 8) {
      q.scale[pi] = amax / static_cast<float>(q.sign ? 127 : 255);
    } else if (fixed_zp) {
      q.scale[pi] = 2.f * amax / static_cast<float>(qmax);
    } else {
      q.scale[pi] = std::max(mx - mn, 1e-5f) / static_cast<float>(qmax);
      q.zp[pi] = static_cast<std::uint8_t>(std::clamp(-static_cast<int>(std::round(mn / q.scale[pi])), 0, qmax));
    }
  }
  q.data.assign(static_cast<std::size_t>(spec.bits == 4 ? rows * cols / 2 : rows * cols), 0);
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    const std::int64_t p = q.param_index(i / cols, i % cols);
    const float sc = q.scale[static_cast<std::size_t>(p)];
    const int zp = q.zp[static_cast<std::size_t>(p)];
    const double t = sc == 0.f ? 0.0 : static_cast<double>(std::round(w[static_cast<std::size_t>(i)] / sc));
    const std::int64_t v = static_cast<std::int64_t>(t) + zp;
    if (spec.bits == 4) {
      const auto nib = static_cast<std::uint8_t>(std::clamp<std::int64_t>(v, 0, 15));
      q.data[static_cast<std::size_t>(i / 2)] |= static_cast<std::uint8_t>(nib << ((i % 2) * 4));
    } else if (q.signed_storage) {
      q.data[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(saturate<std::int8_t>(v));
    } else {
      q.data[static_cast<std::size_t>(i)] = saturate<std::uint8_t>(v);
    }
  }
  return q;
}

}  // namespace mixq::quant
