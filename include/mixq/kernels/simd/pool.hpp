#pragma once
// 2-D max/average pooling of one NCHW plane. Window bounds are clipped once per output
// row/column; with unit horizontal stride, columns whose window lies inside the input are
// computed a vector of outputs at a time.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "mixq/kernels/simd/compat.hpp"

namespace mixq::simd {

struct pool2d_params {
  std::int64_t ih, iw, oh, ow;
  std::int64_t kh, kw, sh, sw;
  std::int64_t pad_top, pad_left, pad_bottom, pad_right;
  bool is_max = true;
  bool count_include_pad = false;
};

namespace detail {
struct pool_span {
  std::int64_t begin, end, padded;  // clipped [begin, end) inside the input; window length inside the padded input
};
inline std::vector<pool_span> pool_spans(std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t s,
                                         std::int64_t pad_begin, std::int64_t pad_end) {
  std::vector<pool_span> spans(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t start = o * s - pad_begin;
    const std::int64_t stop = std::min(start + k, in + pad_end);
    spans[static_cast<std::size_t>(o)] = {std::max<std::int64_t>(start, 0), std::min(stop, in), stop - start};
  }
  return spans;
}
}  // namespace detail

inline void pool2d_plane(const float* in, float* out, const pool2d_params& p) {
  using B = batch<float>;
  constexpr std::int64_t W = static_cast<std::int64_t>(B::size);
  const auto rows = detail::pool_spans(p.oh, p.ih, p.kh, p.sh, p.pad_top, p.pad_bottom);
  const auto cols = detail::pool_spans(p.ow, p.iw, p.kw, p.sw, p.pad_left, p.pad_right);
  // Columns [full_lo, full_hi) have their whole window inside the input (unit stride only).
  std::int64_t full_lo = p.ow, full_hi = p.ow;
  if (p.sw == 1) {
    full_lo = std::min<std::int64_t>(p.pad_left, p.ow);
    full_hi = std::max<std::int64_t>(full_lo, std::min<std::int64_t>(p.ow, p.iw - p.kw + p.pad_left + 1));
  }
  const float lowest = -std::numeric_limits<float>::infinity();
  for (std::int64_t oy = 0; oy < p.oh; ++oy) {
    const auto& r = rows[static_cast<std::size_t>(oy)];
    float* orow = out + oy * p.ow;
    auto scalar_column = [&](std::int64_t ox) {
      const auto& c = cols[static_cast<std::size_t>(ox)];
      if (r.end <= r.begin || c.end <= c.begin) {
        orow[ox] = 0.f;
        return;
      }
      if (p.is_max) {
        float m = lowest;
        for (std::int64_t y = r.begin; y < r.end; ++y)
          for (std::int64_t x = c.begin; x < c.end; ++x) m = std::max(m, in[y * p.iw + x]);
        orow[ox] = m;
      } else {
        float s = 0.f;
        for (std::int64_t y = r.begin; y < r.end; ++y)
          for (std::int64_t x = c.begin; x < c.end; ++x) s += in[y * p.iw + x];
        const std::int64_t n = p.count_include_pad ? r.padded * c.padded : (r.end - r.begin) * (c.end - c.begin);
        orow[ox] = s / static_cast<float>(n);
      }
    };
    std::int64_t ox = 0;
    for (; ox < full_lo; ++ox) scalar_column(ox);
    if (r.end > r.begin) {
      const float inv = 1.f / static_cast<float>((p.count_include_pad ? r.padded : r.end - r.begin) * p.kw);
      for (; ox + W <= full_hi; ox += W) {
        const float* base = in + (ox - p.pad_left);
        B acc = p.is_max ? B(lowest) : B(0.f);
        for (std::int64_t y = r.begin; y < r.end; ++y)
          for (std::int64_t kx = 0; kx < p.kw; ++kx) {
            const B v = B::load_unaligned(base + y * p.iw + kx);
            acc = p.is_max ? xsimd::max(acc, v) : acc + v;
          }
        if (!p.is_max) acc *= B(inv);
        acc.store_unaligned(orow + ox);
      }
    }
    for (; ox < p.ow; ++ox) scalar_column(ox);
  }
}

}  // namespace mixq::simd
