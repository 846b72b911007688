#pragma once
// Byte-level copy engine for data-movement ops (Permute, Slice, Tile, Expand, Split...). Every
// dtype moves as elements of size_of(dtype) bytes, so one engine serves floats, token ids and masks.
//
// The model: a dense row-major destination over `shape`, whose element at multi-index i comes from
// `src + sum_d i[d] * strides[d]` (strides in elements; 0 broadcasts, negative reverses).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"

namespace mixq::detail {

/// Elements per parallel chunk: below this a copy stays on the calling thread.
inline constexpr std::int64_t copy_chunk_elements = 8 * 1024;

/// Calls f(std::integral_constant<std::size_t, N>{}) for an element size N of 1, 2, 4 or 8 bytes,
/// so that inner loops copy with a fixed-size memcpy (a single move instruction).
template <class F>
void with_element_size(std::size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(std::integral_constant<std::size_t, 1>{}); return;
    case 2: f(std::integral_constant<std::size_t, 2>{}); return;
    case 4: f(std::integral_constant<std::size_t, 4>{}); return;
    case 8: f(std::integral_constant<std::size_t, 8>{}); return;
    default: throw error("mixq: element size " + std::to_string(bytes) + " is not supported by the copy engine");
  }
}

struct strided_layout {
  shape_t shape;
  shape_t strides;
};

/// Drops size-1 dimensions and merges neighbours whose source strides chain, so that runs which
/// are contiguous in the source become one long inner dimension (one memcpy per row).
inline strided_layout simplify_layout(const shape_t& shape, const shape_t& strides) {
  strided_layout out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out.shape.empty() && out.strides.back() == strides[d] * shape[d]) {
      out.shape.back() *= shape[d];
      out.strides.back() = strides[d];
    } else {
      out.shape.push_back(shape[d]);
      out.strides.push_back(strides[d]);
    }
  }
  return out;
}

/// Batched 2-D block transpose: the source-contiguous dimension `q` is not the destination's
/// innermost one, so a row-by-row gather would stride through memory. Tiles keep both sides in cache.
template <std::size_t N>
void gather_transposed(std::byte* dst, const std::byte* src, const strided_layout& l, std::size_t q,
                       thread_pool& pool) {
  const std::size_t r = l.shape.size();
  const shape_t dst_strides = strides_of(l.shape);
  const std::int64_t rows = l.shape[q], cols = l.shape[r - 1];
  const std::int64_t dst_row = dst_strides[q], src_col = l.strides[r - 1];
  std::vector<std::size_t> batch_dims;
  std::int64_t batches = 1;
  for (std::size_t d = 0; d + 1 < r; ++d)
    if (d != q) batch_dims.push_back(d), batches *= l.shape[d];
  constexpr std::int64_t tile = N == 1 ? 32 : 16;
  const std::int64_t row_tiles = (rows + tile - 1) / tile;
  const std::int64_t units = batches * row_tiles;
  const std::int64_t grain = std::max<std::int64_t>(1, copy_chunk_elements / std::max<std::int64_t>(1, tile * cols));
  pool.parallel_for(units, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t u = begin; u < end; ++u) {
      std::int64_t b = u / row_tiles;
      const std::int64_t r0 = (u % row_tiles) * tile, r1 = std::min(rows, r0 + tile);
      std::int64_t src_base = 0, dst_base = 0;
      for (std::size_t k = batch_dims.size(); k-- > 0;) {
        const std::size_t d = batch_dims[k];
        const std::int64_t i = b % l.shape[d];
        b /= l.shape[d];
        src_base += i * l.strides[d];
        dst_base += i * dst_strides[d];
      }
      for (std::int64_t c0 = 0; c0 < cols; c0 += tile) {
        const std::int64_t c1 = std::min(cols, c0 + tile);
        for (std::int64_t i = r0; i < r1; ++i) {
          std::byte* out = dst + (dst_base + i * dst_row) * static_cast<std::int64_t>(N);
          const std::byte* in = src + (src_base + i) * static_cast<std::int64_t>(N);
          for (std::int64_t j = c0; j < c1; ++j)
            std::memcpy(out + j * static_cast<std::int64_t>(N), in + j * src_col * static_cast<std::int64_t>(N), N);
        }
      }
    }
  });
}

template <std::size_t N>
void gather_rows(std::byte* dst, const std::byte* src, const strided_layout& l, thread_pool& pool) {
  const std::size_t r = l.shape.size();
  const std::int64_t inner = l.shape[r - 1], inner_stride = l.strides[r - 1];
  const std::int64_t rows = numel(l.shape) / inner;
  constexpr auto es = static_cast<std::int64_t>(N);
  const std::int64_t grain = std::max<std::int64_t>(1, copy_chunk_elements / inner);
  pool.parallel_for(rows, grain, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> idx(r - 1, 0);
    std::int64_t off = 0, rem = begin;
    for (std::size_t d = r - 1; d-- > 0;) {
      idx[d] = rem % l.shape[d];
      rem /= l.shape[d];
      off += idx[d] * l.strides[d];
    }
    for (std::int64_t row = begin; row < end; ++row) {
      std::byte* out = dst + row * inner * es;
      const std::byte* in = src + off * es;
      if (inner_stride == 1) {
        std::memcpy(out, in, static_cast<std::size_t>(inner * es));
      } else {
        for (std::int64_t j = 0; j < inner; ++j) std::memcpy(out + j * es, in + j * inner_stride * es, N);
      }
      for (std::size_t d = r - 1; d-- > 0;) {
        off += l.strides[d];
        if (++idx[d] < l.shape[d]) break;
        off -= idx[d] * l.strides[d];
        idx[d] = 0;
      }
    }
  });
}

/// Fills the dense destination `dst` (row-major over `shape`) from a strided source.
/// `src` points at the source element for multi-index 0.
inline void gather_strided(std::byte* dst, const std::byte* src, const shape_t& shape, const shape_t& strides,
                           std::size_t element_size, thread_pool& pool) {
  if (numel(shape) == 0) return;
  const strided_layout l = simplify_layout(shape, strides);
  if (l.shape.empty()) {
    std::memcpy(dst, src, element_size);
    return;
  }
  const std::size_t r = l.shape.size();
  std::size_t q = r;
  if (l.strides[r - 1] != 1 && l.shape[r - 1] >= 4)
    for (std::size_t d = 0; d + 1 < r; ++d)
      if (l.strides[d] == 1 && l.shape[d] >= 4) q = d;
  with_element_size(element_size, [&](auto n) {
    constexpr std::size_t N = decltype(n)::value;
    if (q < r) gather_transposed<N>(dst, src, l, q, pool);
    else gather_rows<N>(dst, src, l, pool);
  });
}

/// `out` (already allocated, dense) receives `in` read through `strides` from element `base`.
inline void gather_strided(const tensor& in, std::int64_t base, const shape_t& strides, tensor& out,
                           thread_pool& pool) {
  if (in.elem() != out.elem())
    throw error("mixq: copy from " + std::string(name(in.elem())) + " into " + std::string(name(out.elem())));
  const auto es = static_cast<std::int64_t>(size_of(in.elem()));
  gather_strided(out.raw(), in.raw() + base * es, out.shape(), strides, size_of(in.elem()), pool);
}

/// Plain scalar oracle for data-movement ops: out element i (as a multi-index over out's shape)
/// is copied from `in` at the flat index `source(index)`; a negative flat index leaves it untouched.
template <class Source>
void reference_gather(const tensor& in, tensor& out, Source&& source) {
  const std::size_t es = size_of(out.elem());
  const shape_t& shape = out.shape();
  shape_t idx(shape.size(), 0);
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::int64_t rem = i;
    for (std::size_t d = shape.size(); d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    const std::int64_t from = source(idx);
    if (from >= 0)
      std::memcpy(out.raw() + i * static_cast<std::int64_t>(es), in.raw() + from * static_cast<std::int64_t>(es), es);
  }
}

}  // namespace mixq::detail
