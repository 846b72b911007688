#pragma once
// Drivers for element-wise kernels: unary maps, and binary/ternary maps with numpy
// broadcasting. Shapes are first coalesced (adjacent dimensions that every operand walks the
// same way are merged), so per-channel [1,C,1,1] and last-dim broadcasts become long rows
// whose inner stride is 0 (a scalar) or 1 (contiguous). float rows run on simd::batch<float>
// when the functor accepts batches; other element types run the scalar overload.
// Large tensors are split over the thread pool by rows.
#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/simd/compat.hpp"

namespace mixq::simd {

/// Elements per parallel task: below this a tensor is processed by one thread (8192 floats take
/// about a microsecond, the cost of handing a chunk to a spinning worker).
inline constexpr std::int64_t elementwise_grain = 1 << 13;

namespace detail {

/// Row-major strides of `in` broadcast to `out` (0 along broadcast and missing dimensions).
inline shape_t broadcast_strides_to(const shape_t& in, const shape_t& out) {
  if (in.size() > out.size()) throw error("mixq: cannot broadcast shape " + to_string(in) + " to " + to_string(out));
  shape_t st(out.size(), 0);
  const std::size_t off = out.size() - in.size();
  std::int64_t s = 1;
  for (std::size_t i = in.size(); i-- > 0;) {
    if (in[i] != out[off + i] && in[i] != 1)
      throw error("mixq: cannot broadcast shape " + to_string(in) + " to " + to_string(out));
    st[off + i] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  return st;
}

}  // namespace detail

/// The output shape and each operand's strides after coalescing; never empty (scalars are [1]).
template <std::size_t N>
struct broadcast_plan {
  shape_t shape;
  std::array<shape_t, N> strides;

  std::int64_t inner() const { return shape.back(); }
  std::int64_t rows() const { return inner() == 0 ? 0 : numel(shape) / inner(); }
};

template <std::size_t N>
broadcast_plan<N> make_broadcast_plan(const shape_t& out, const std::array<const shape_t*, N>& ins) {
  std::array<shape_t, N> full;
  for (std::size_t k = 0; k < N; ++k) full[k] = detail::broadcast_strides_to(*ins[k], out);
  broadcast_plan<N> p;
  // Dimensions of size 1 carry nothing; drop them, then merge a dimension into the next one
  // when every operand's stride continues across the boundary (both 0, or contiguous).
  for (std::size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    if (!p.shape.empty()) {
      bool mergeable = true;
      for (std::size_t k = 0; k < N; ++k) mergeable &= p.strides[k].back() == full[k][d] * out[d];
      if (mergeable) {
        p.shape.back() *= out[d];
        for (std::size_t k = 0; k < N; ++k) p.strides[k].back() = full[k][d];
        continue;
      }
    }
    p.shape.push_back(out[d]);
    for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(full[k][d]);
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

/// Calls row(out_offset, in_offsets, count) for every inner row of the plan, rows split over
/// the pool. The inner stride of operand k is plan.strides[k].back() (0 or 1).
template <std::size_t N, class Row>
void for_each_row(const broadcast_plan<N>& plan, thread_pool& pool, Row&& row) {
  const std::int64_t inner = plan.inner(), rows = plan.rows();
  if (rows == 0) return;
  const std::size_t outer_rank = plan.shape.size() - 1;
  const std::int64_t grain = std::max<std::int64_t>(1, elementwise_grain / std::max<std::int64_t>(inner, 1));
  pool.parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<std::int64_t> idx(outer_rank, 0);
    std::array<std::int64_t, N> off{};
    std::int64_t rem = r0;
    for (std::size_t d = outer_rank; d-- > 0;) {
      idx[d] = rem % plan.shape[d];
      rem /= plan.shape[d];
      for (std::size_t k = 0; k < N; ++k) off[k] += idx[d] * plan.strides[k][d];
    }
    for (std::int64_t r = r0; r < r1; ++r) {
      row(r * inner, off, inner);
      for (std::size_t d = outer_rank; d-- > 0;) {
        for (std::size_t k = 0; k < N; ++k) off[k] += plan.strides[k][d];
        if (++idx[d] < plan.shape[d]) break;
        for (std::size_t k = 0; k < N; ++k) off[k] -= idx[d] * plan.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

namespace detail {

template <class F>
inline constexpr bool takes_batch1 = std::is_invocable_r_v<batch<float>, const F&, batch<float>>;
template <class F>
inline constexpr bool takes_batch2 = std::is_invocable_r_v<batch<float>, const F&, batch<float>, batch<float>>;

/// y[i] = f(x[i]) over n contiguous floats, vector body and a vector tail through a scratch block
/// (so every element goes through the same batch formula).
template <class F>
void unary_row(const float* x, float* y, std::int64_t n, const F& f) {
  constexpr auto W = static_cast<std::int64_t>(width<float>);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) f(batch<float>::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < n) {
    alignas(64) float tmp[W] = {};
    std::copy(x + i, x + n, tmp);
    f(batch<float>::load_aligned(tmp)).store_aligned(tmp);
    std::copy(tmp, tmp + (n - i), y + i);
  }
}

/// o[j] = f(a[j*sa], b[j*sb]) for j < n, with sa, sb in {0, 1}.
template <class F>
void binary_row(const float* a, std::int64_t sa, const float* b, std::int64_t sb, float* o, std::int64_t n, const F& f) {
  constexpr auto W = static_cast<std::int64_t>(width<float>);
  const auto load = [](const float* p, std::int64_t s, std::int64_t i) {
    return s ? batch<float>::load_unaligned(p + i) : batch<float>(p[0]);
  };
  std::int64_t i = 0;
  for (; i + W <= n; i += W) f(load(a, sa, i), load(b, sb, i)).store_unaligned(o + i);
  if (i < n) {
    alignas(64) float ta[W] = {}, tb[W] = {};
    for (std::int64_t j = i; j < n; ++j) ta[j - i] = a[j * sa], tb[j - i] = b[j * sb];
    f(batch<float>::load_aligned(ta), batch<float>::load_aligned(tb)).store_aligned(ta);
    std::copy(ta, ta + (n - i), o + i);
  }
}

}  // namespace detail

/// y = f(x) element-wise over n contiguous elements. For float with a batch-callable f the
/// loop is vectorized; otherwise f is called per element.
template <class T, class F>
void map_unary(const T* x, T* y, std::int64_t n, thread_pool& pool, const F& f) {
  constexpr auto W = static_cast<std::int64_t>(width<float>);
  const std::int64_t blocks = (n + W - 1) / W;
  pool.parallel_for(blocks, std::max<std::int64_t>(1, elementwise_grain / W), [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t i0 = b0 * W, i1 = std::min(n, b1 * W);
    if constexpr (std::is_same_v<T, float> && detail::takes_batch1<F>) {
      detail::unary_row(x + i0, y + i0, i1 - i0, f);
    } else {
      for (std::int64_t i = i0; i < i1; ++i) y[i] = f(x[i]);
    }
  });
}

/// out = f(a, b) with numpy broadcasting of a's and b's shapes to `out_shape`. `out` may alias
/// `a` or `b` when that operand already has the output shape.
template <class T, class F>
void map_binary(const T* a, const shape_t& a_shape, const T* b, const shape_t& b_shape, T* out, const shape_t& out_shape,
                thread_pool& pool, const F& f) {
  const auto plan = make_broadcast_plan<2>(out_shape, {&a_shape, &b_shape});
  const std::int64_t sa = plan.strides[0].back(), sb = plan.strides[1].back();
  for_each_row(plan, pool, [&](std::int64_t o, const std::array<std::int64_t, 2>& in, std::int64_t n) {
    if constexpr (std::is_same_v<T, float> && detail::takes_batch2<F>) {
      detail::binary_row(a + in[0], sa, b + in[1], sb, out + o, n, f);
    } else {
      for (std::int64_t j = 0; j < n; ++j) out[o + j] = f(a[in[0] + j * sa], b[in[1] + j * sb]);
    }
  });
}

/// out = f(a, b, c) with numpy broadcasting (scalar per element; used for selects).
template <class TA, class TB, class TC, class TO, class F>
void map_ternary(const TA* a, const shape_t& a_shape, const TB* b, const shape_t& b_shape, const TC* c,
                 const shape_t& c_shape, TO* out, const shape_t& out_shape, thread_pool& pool, const F& f) {
  const auto plan = make_broadcast_plan<3>(out_shape, {&a_shape, &b_shape, &c_shape});
  const std::int64_t sa = plan.strides[0].back(), sb = plan.strides[1].back(), sc = plan.strides[2].back();
  for_each_row(plan, pool, [&](std::int64_t o, const std::array<std::int64_t, 3>& in, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) out[o + j] = f(a[in[0] + j * sa], b[in[1] + j * sb], c[in[2] + j * sc]);
  });
}

}  // namespace mixq::simd
