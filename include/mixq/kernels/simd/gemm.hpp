#pragma once
// Packed single-precision GEMM: C = A·B (+bias, fused relu), the engine behind Conv, Deconv and MatMul.
//
// Both operands are copied into panels before the multiply so that the register-blocked microkernel
// reads them with unit stride: A in strips of `gemm_mr` rows, B in strips of `gemm_nr` columns
// (gemm_nv SIMD vectors), each strip laid out k-major. K is blocked by `gemm_kc` so a B block stays in
// L2 while A strips stream through L1. An operand that is a constant (a weight) can be packed once
// into a `packed_matrix` and reused; otherwise a packing callback fills the panels block by block,
// which is also how convolution feeds im2col columns straight into B panels without an im2col matrix.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "mixq/core/tensor.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/simd/compat.hpp"
#include "mixq/kernels/simd/partial.hpp"



namespace mixq::simd {

using index_t = std::int64_t;

/// Register tile: gemm_mr rows x gemm_nr columns (gemm_nv vectors) of C live in registers during
/// the K loop. 32 vector registers (AVX-512) hold 8x3 accumulators: per k step that is 3 vector
/// loads and 8 broadcasts for 24 FMAs, fewer loads per FMA than 12x2, and 8 rows divide the channel
/// counts of CNNs (64, 96, 160, 576...) where 12 left a slow remainder strip. 16 registers (SSE2,
/// AVX2) hold 4x3.
inline constexpr index_t gemm_nv = 3;
inline constexpr index_t gemm_nr = gemm_nv * static_cast<index_t>(width<float>);
inline constexpr index_t gemm_mr = width<float> >= 16 ? 8 : 4;
/// Cache blocking: a kc x nc block of B (<= 768 KiB) stays in L2 while one A strip (8 KiB) sits in L1.
inline constexpr index_t gemm_kc = 256;
inline constexpr index_t gemm_mc = 12 * gemm_mr;
inline constexpr index_t gemm_nc = 16 * gemm_nr;
/// How many k steps ahead the microkernel prefetches its B strip.
inline constexpr index_t gemm_prefetch_distance = 16;

inline constexpr index_t round_up(index_t v, index_t m) { return (v + m - 1) / m * m; }
/// Depth of the K blocks for a given K: equal blocks of at most gemm_kc, so that no short tail block
/// pays the C load/store of a full pass (K = 576 runs as 3 x 192, not 256 + 256 + 64).
inline constexpr index_t k_block(index_t K) {
  const index_t blocks = (std::max<index_t>(K, 1) + gemm_kc - 1) / gemm_kc;
  return (std::max<index_t>(K, 1) + blocks - 1) / blocks;
}

/// What happens to each finished C element: + bias (per row or per column), then relu (clipped at
/// relu_limit when it is positive), exactly like the `do_relu`/`relu_limit` attributes of TOP ops.
struct gemm_epilogue {
  const float* bias = nullptr;
  bool bias_per_row = true;
  bool relu = false;
  float relu_limit = -1.f;
};

/// Fills panels for rows [m0, m0+mc) x depth [k0, k0+kc) of A: strip after strip of gemm_mr rows,
/// element (r, k) of a strip at [k * gemm_mr + r]; rows past the matrix are zero.
using pack_a_fn = std::function<void(index_t m0, index_t mc, index_t k0, index_t kc, float* dst)>;
/// Fills panels for depth [k0, k0+kc) x columns [n0, n0+nc) of B: strip after strip of gemm_nr
/// columns, element (k, c) of a strip at [k * gemm_nr + c]; columns past the matrix are zero.
using pack_b_fn = std::function<void(index_t k0, index_t kc, index_t n0, index_t nc, float* dst)>;

/// A whole operand packed once. Block `k0` starts at k0 * padded (padded = rows of A or columns
/// of B rounded up to the strip size); strip s of that block starts s * strip * kc further.
struct packed_matrix {
  tensor data;
  index_t rows = 0, cols = 0, padded = 0;
  bool is_a = true;
  const float* block(index_t k0, index_t strip_index, index_t kc) const {
    const index_t strip = is_a ? gemm_mr : gemm_nr;
    return data.data<float>() + k0 * padded + strip_index * strip * kc;
  }
};

/// The A operand (M x K): a packed matrix, or a callback packing it on the fly.
struct gemm_a {
  const packed_matrix* packed = nullptr;
  pack_a_fn pack;
};
/// The B operand (K x N).
struct gemm_b {
  const packed_matrix* packed = nullptr;
  pack_b_fn pack;
};

namespace detail {

/// Strided A (element (i, k) at p[i*rs + k*cs]) into strips.
inline void pack_a_strided(const float* p, index_t rs, index_t cs, index_t M, index_t m0, index_t mc, index_t k0,
                           index_t kc, float* dst) {
  for (index_t s = 0; s < mc; s += gemm_mr, dst += gemm_mr * kc) {
    const index_t rows = std::min(gemm_mr, std::min(mc - s, M - m0 - s));
    if (rs == 1 && rows == gemm_mr) {  // the strip's rows are adjacent: one short copy per k (X^T of a 1x1 conv)
      const float* src = p + (m0 + s) + k0 * cs;
      for (index_t k = 0; k < kc; ++k) std::memcpy(dst + k * gemm_mr, src + k * cs, sizeof(float) * gemm_mr);
      continue;
    }
    for (index_t r = 0; r < gemm_mr; ++r) {
      if (r < rows) {
        const float* src = p + (m0 + s + r) * rs + k0 * cs;
        for (index_t k = 0; k < kc; ++k) dst[k * gemm_mr + r] = src[k * cs];
      } else {
        for (index_t k = 0; k < kc; ++k) dst[k * gemm_mr + r] = 0.f;
      }
    }
  }
}

/// Strided B (element (k, j) at p[k*rs + j*cs]) into strips. With unit column stride, each source
/// row is read once from left to right and dealt out to the strips, so the reads form one stream
/// per row that the hardware prefetcher follows (strip by strip would be kc interleaved streams).
inline void pack_b_strided(const float* p, index_t rs, index_t cs, index_t N, index_t k0, index_t kc, index_t n0,
                           index_t nc, float* dst) {
  const index_t avail = std::max<index_t>(0, std::min(nc, N - n0));  // real columns in this block
  const index_t strips = (nc + gemm_nr - 1) / gemm_nr;
  if (cs == 1) {
    const index_t full = avail / gemm_nr;
    for (index_t k = 0; k < kc; ++k) {
      const float* src = p + (k0 + k) * rs + n0;
      float* d = dst + k * gemm_nr;
      for (index_t s = 0; s < full; ++s) copy_run(d + s * gemm_nr * kc, src + s * gemm_nr, gemm_nr);
      for (index_t s = full; s < strips; ++s) {
        const index_t cols = std::max<index_t>(0, std::min(gemm_nr, avail - s * gemm_nr));
        copy_run(d + s * gemm_nr * kc, src + s * gemm_nr, cols);
        zero_run(d + s * gemm_nr * kc + cols, gemm_nr - cols);
      }
    }
    return;
  }
  for (index_t s = 0; s < strips; ++s, dst += gemm_nr * kc) {
    const index_t cols = std::max<index_t>(0, std::min(gemm_nr, avail - s * gemm_nr));
    const float* base = p + k0 * rs + (n0 + s * gemm_nr) * cs;
    for (index_t k = 0; k < kc; ++k) {
      float* d = dst + k * gemm_nr;
      const float* src = base + k * rs;
      index_t c = 0;
      for (; c < cols; ++c) d[c] = src[c * cs];
      for (; c < gemm_nr; ++c) d[c] = 0.f;
    }
  }
}

/// Applies bias and relu to one C value (used on tile edges).
inline float finish_scalar(float v, const gemm_epilogue& ep, index_t row, index_t col) {
  if (ep.bias) v += ep.bias[ep.bias_per_row ? row : col];
  if (ep.relu) {
    v = v > 0.f ? v : 0.f;
    if (ep.relu_limit > 0.f && v > ep.relu_limit) v = ep.relu_limit;
  }
  return v;
}

/// How the microkernel reads B: from packed strips (k-major, gemm_nr floats per k step) ...
struct packed_b_rows {
  const float* b;
  template <int NV>
  batch<float> load(index_t k, int v) const {
    return batch<float>::load_aligned(b + k * gemm_nr + v * static_cast<index_t>(width<float>));
  }
  void prefetch(index_t k, int v) const {
    __builtin_prefetch(b + (k + gemm_prefetch_distance) * gemm_nr + v * static_cast<index_t>(width<float>), 0, 3);
  }
};
/// ... or straight from the operand: row k of the strip starts at base + k_offset[k] (contiguous
/// columns), e.g. a convolution input or its padded, phase-split rows. The last vector reads only
/// its `tail` lanes, so nothing past the operand's columns is touched. k_offset must hold
/// gemm_prefetch_distance entries past the last k (rows fetched ahead).
struct direct_b_rows {
  const float* base;
  const index_t* k_offset;
  index_t tail;  // lanes of the last vector (1..W)
  template <int NV>
  batch<float> load(index_t k, int v) const {
    constexpr index_t W = static_cast<index_t>(width<float>);
    const float* p = base + k_offset[k] + v * W;
    return v + 1 == NV && tail < W ? load_first(p, tail) : batch<float>::load_unaligned(p);
  }
  void prefetch(index_t k, int v) const {
    __builtin_prefetch(base + k_offset[k + gemm_prefetch_distance] + v * static_cast<index_t>(width<float>), 0, 3);
  }
};

/// The register-blocked core: an MR x (NV vectors) tile of A·B over kc, then merged into C.
/// `accumulate`: add to what C holds (later K blocks); `last`: apply the epilogue.
/// MR and NV are the rows and vectors actually computed (fewer on the last strips of A and B, so
/// no work is spent on padding beyond vector granularity); `cols` <= NV * W may end mid-vector.
template <int MR, int NV, class BRows = packed_b_rows>
void micro_kernel(index_t kc, const float* a, const BRows& b, float* c, index_t ldc, index_t cols, index_t row0,
                  index_t col0, bool accumulate, bool last, const gemm_epilogue& ep) {
  using B = batch<float>;
  constexpr index_t W = static_cast<index_t>(width<float>);
  B acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = B(0.f);
  for (index_t k = 0; k < kc; ++k) {
    // B strips come from L2 (a block is reused by every A strip); fetching a few iterations
    // ahead hides that latency, worth 10-25% on conv-shaped problems
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b.prefetch(k, v);
    B bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = b.template load<NV>(k, v);
    const float* ak = a + k * gemm_mr;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const B av(ak[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
    }
  }
  const B zero(0.f);
  const bool clip = ep.relu && ep.relu_limit > 0.f;
  const B limit(ep.relu_limit);
  const index_t tail = cols - (NV - 1) * W;  // lanes of the last vector inside C
  B colbias[NV];
  const bool col_bias = last && ep.bias && !ep.bias_per_row;
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    colbias[v] = zero;
    if (col_bias) colbias[v] = v + 1 < NV || tail == W ? B::load_unaligned(ep.bias + col0 + v * W) : load_first(ep.bias + col0 + v * W, tail);
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const bool full = v + 1 < NV || tail == W;
      B x = acc[r][v];
      if (accumulate) x += full ? B::load_unaligned(cr + v * W) : load_first(cr + v * W, tail);
      if (last) {
        if (ep.bias) x += ep.bias_per_row ? B(ep.bias[row0 + r]) : colbias[v];
        if (ep.relu) {
          // select, not xsimd::max/min: GCC 12 flags the AVX-512 min/max intrinsics as maybe-uninitialized
          x = xsimd::select(x > zero, x, zero);
          if (clip) x = xsimd::select(x > limit, limit, x);
        }
      }
      if (full)
        x.store_unaligned(cr + v * W);
      else
        store_first(cr + v * W, x, tail);
    }
  }
}

template <int MR, int... V>
void dispatch_vectors(std::integer_sequence<int, V...>, index_t vectors, index_t kc, const float* a, const float* b,
                      float* c, index_t ldc, index_t cols, index_t row0, index_t col0, bool accumulate, bool last,
                      const gemm_epilogue& ep) {
  ((vectors == V + 1 ? (micro_kernel<MR, V + 1>(kc, a, packed_b_rows{b}, c, ldc, cols, row0, col0, accumulate, last, ep), 0) : 0),
   ...);
}

template <int... R>
void dispatch_rows(std::integer_sequence<int, R...>, index_t rows, index_t vectors, index_t kc, const float* a,
                   const float* b, float* c, index_t ldc, index_t cols, index_t row0, index_t col0, bool accumulate,
                   bool last, const gemm_epilogue& ep) {
  ((rows == R + 1 ? (dispatch_vectors<R + 1>(std::make_integer_sequence<int, static_cast<int>(gemm_nv)>{}, vectors, kc,
                                             a, b, c, ldc, cols, row0, col0, accumulate, last, ep),
                     0)
                  : 0),
   ...);
}

inline void run_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc, index_t rows,
                             index_t cols, index_t row0, index_t col0, bool accumulate, bool last,
                             const gemm_epilogue& ep) {
  constexpr index_t W = static_cast<index_t>(width<float>);
  const index_t vectors = (cols + W - 1) / W;
  if (rows == gemm_mr && vectors == gemm_nv)
    micro_kernel<static_cast<int>(gemm_mr), static_cast<int>(gemm_nv)>(kc, a, packed_b_rows{b}, c, ldc, cols, row0, col0,
                                                                        accumulate, last, ep);
  else
    dispatch_rows(std::make_integer_sequence<int, static_cast<int>(gemm_mr)>{}, rows, vectors, kc, a, b, c, ldc, cols,
                  row0, col0, accumulate, last, ep);
}

template <int MR, int... V>
void dispatch_direct_vectors(std::integer_sequence<int, V...>, index_t vectors, index_t kc, const float* a,
                             const direct_b_rows& b, float* c, index_t ldc, index_t cols, index_t row0, index_t col0,
                             bool accumulate, bool last, const gemm_epilogue& ep) {
  ((vectors == V + 1 ? (micro_kernel<MR, V + 1, direct_b_rows>(kc, a, b, c, ldc, cols, row0, col0, accumulate, last, ep), 0)
                     : 0),
   ...);
}

template <int... R>
void dispatch_direct_rows(std::integer_sequence<int, R...>, index_t rows, index_t vectors, index_t kc, const float* a,
                          const direct_b_rows& b, float* c, index_t ldc, index_t cols, index_t row0, index_t col0,
                          bool accumulate, bool last, const gemm_epilogue& ep) {
  ((rows == R + 1 ? (dispatch_direct_vectors<R + 1>(std::make_integer_sequence<int, static_cast<int>(gemm_nv)>{}, vectors,
                                                    kc, a, b, c, ldc, cols, row0, col0, accumulate, last, ep),
                     0)
                  : 0),
   ...);
}

/// run_micro_kernel for a B read in place (direct_b_rows): `cols` columns from base + k_offset[k].
inline void run_micro_kernel_direct(index_t kc, const float* a, const float* base, const index_t* k_offset, float* c,
                                    index_t ldc, index_t rows, index_t cols, index_t row0, index_t col0,
                                    bool accumulate, bool last, const gemm_epilogue& ep) {
  constexpr index_t W = static_cast<index_t>(width<float>);
  const index_t vectors = (cols + W - 1) / W;
  const direct_b_rows b{base, k_offset, cols - (vectors - 1) * W};
  if (rows == gemm_mr && vectors == gemm_nv)
    micro_kernel<static_cast<int>(gemm_mr), static_cast<int>(gemm_nv), direct_b_rows>(kc, a, b, c, ldc, cols, row0, col0,
                                                                                       accumulate, last, ep);
  else
    dispatch_direct_rows(std::make_integer_sequence<int, static_cast<int>(gemm_mr)>{}, rows, vectors, kc, a, b, c, ldc,
                         cols, row0, col0, accumulate, last, ep);
}

/// One thread's share: rows [m_begin, m_end) x columns [n_begin, n_end) of C (global indices;
/// m_begin a multiple of gemm_mr and n_begin of gemm_nr so prepacked strips line up).
inline void gemm_block(index_t m_begin, index_t m_end, index_t n_begin, index_t n_end, index_t K, const gemm_a& A,
                       const gemm_b& B, float* C, index_t ldc, const gemm_epilogue& ep) {
  if (m_end <= m_begin || n_end <= n_begin) return;
  const index_t nc_max = std::min(gemm_nc, round_up(n_end - n_begin, gemm_nr));
  const index_t mc_max = std::min(gemm_mc, round_up(m_end - m_begin, gemm_mr));
  const index_t kc_max = k_block(K);
  tensor b_buf, a_buf;
  if (!B.packed) b_buf = tensor::empty(dtype::f32, {kc_max * nc_max});
  if (!A.packed) a_buf = tensor::empty(dtype::f32, {kc_max * mc_max});
  if (K == 0) {  // an empty sum: C is the epilogue of zero
    for (index_t i = m_begin; i < m_end; ++i)
      for (index_t j = n_begin; j < n_end; ++j) C[i * ldc + j] = finish_scalar(0.f, ep, i, j);
    return;
  }
  for (index_t jc = n_begin; jc < n_end; jc += gemm_nc) {
    const index_t nc = std::min(gemm_nc, n_end - jc);
    for (index_t pc = 0; pc < K; pc += kc_max) {
      const index_t kc = std::min(kc_max, K - pc);
      const bool first = pc == 0, last = pc + kc == K;
      const float* bp = nullptr;
      if (B.packed) {
        bp = B.packed->block(pc, jc / gemm_nr, kc);
      } else {
        B.pack(pc, kc, jc, nc, b_buf.data<float>());
        bp = b_buf.data<float>();
      }
      for (index_t ic = m_begin; ic < m_end; ic += gemm_mc) {
        const index_t mc = std::min(gemm_mc, m_end - ic);
        const float* ap = nullptr;
        if (A.packed) {
          ap = A.packed->block(pc, ic / gemm_mr, kc);
        } else {
          A.pack(ic, mc, pc, kc, a_buf.data<float>());
          ap = a_buf.data<float>();
        }
        for (index_t ir = 0; ir < mc; ir += gemm_mr) {
          const index_t rows = std::min(gemm_mr, mc - ir);
          for (index_t jr = 0; jr < nc; jr += gemm_nr) {
            const index_t cols = std::min(gemm_nr, nc - jr);
            const float* bstrip = bp + (jr / gemm_nr) * gemm_nr * kc;
            run_micro_kernel(kc, ap + (ir / gemm_mr) * gemm_mr * kc, bstrip, C + (ic + ir) * ldc + jc + jr, ldc, rows,
                             cols, ic + ir, jc + jr, !first, last, ep);
          }
        }
      }
    }
  }
}

}  // namespace detail

/// A as a strided view: element (i, k) at p[i*rs + k*cs].
inline gemm_a strided_a(const float* p, index_t M, index_t rs, index_t cs) {
  return {nullptr, [=](index_t m0, index_t mc, index_t k0, index_t kc, float* dst) {
            detail::pack_a_strided(p, rs, cs, M, m0, mc, k0, kc, dst);
          }};
}
/// B as a strided view: element (k, j) at p[k*rs + j*cs].
inline gemm_b strided_b(const float* p, index_t N, index_t rs, index_t cs) {
  return {nullptr, [=](index_t k0, index_t kc, index_t n0, index_t nc, float* dst) {
            detail::pack_b_strided(p, rs, cs, N, k0, kc, n0, nc, dst);
          }};
}

/// Packs all of A (M x K) once, from any packing callback.
inline packed_matrix pack_a_once(index_t M, index_t K, const pack_a_fn& pack) {
  packed_matrix pm;
  pm.is_a = true;
  pm.rows = M;
  pm.cols = K;
  pm.padded = round_up(std::max<index_t>(M, 1), gemm_mr);
  pm.data = tensor::empty(dtype::f32, {std::max<index_t>(pm.padded * K, 1)});
  for (index_t pc = 0, step = k_block(K); pc < K; pc += step) {
    const index_t kc = std::min(step, K - pc);
    pack(0, pm.padded, pc, kc, pm.data.data<float>() + pc * pm.padded);
  }
  return pm;
}
inline packed_matrix pack_a_once(const float* p, index_t M, index_t K, index_t rs, index_t cs) {
  return pack_a_once(M, K, strided_a(p, M, rs, cs).pack);
}
/// Packs all of B (K x N) once.
inline packed_matrix pack_b_once(index_t K, index_t N, const pack_b_fn& pack) {
  packed_matrix pm;
  pm.is_a = false;
  pm.rows = K;
  pm.cols = N;
  pm.padded = round_up(std::max<index_t>(N, 1), gemm_nr);
  pm.data = tensor::empty(dtype::f32, {std::max<index_t>(pm.padded * K, 1)});
  for (index_t pc = 0, step = k_block(K); pc < K; pc += step) {
    const index_t kc = std::min(step, K - pc);
    pack(pc, kc, 0, pm.padded, pm.data.data<float>() + pc * pm.padded);
  }
  return pm;
}
inline packed_matrix pack_b_once(const float* p, index_t K, index_t N, index_t rs, index_t cs) {
  return pack_b_once(K, N, strided_b(p, N, rs, cs).pack);
}

/// C (M x N, row stride ldc, overwritten) = A·B with the epilogue applied. Splits C over the pool's
/// threads along N (each thread packs its own B columns) or, when N is narrow, along M.
inline void gemm(index_t M, index_t N, index_t K, const gemm_a& A, const gemm_b& B, float* C, index_t ldc,
                 const gemm_epilogue& ep = {}, thread_pool* pool = nullptr) {
  if (M <= 0 || N <= 0) return;
  const index_t threads = pool ? static_cast<index_t>(pool->size()) : 1;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const index_t n_strips = (N + gemm_nr - 1) / gemm_nr, m_strips = (M + gemm_mr - 1) / gemm_mr;
  if (threads <= 1 || flops < 5e5 || (n_strips < 2 && m_strips < 2)) {
    detail::gemm_block(0, M, 0, N, K, A, B, C, ldc, ep);
    return;
  }
  if (n_strips >= 2 * threads || n_strips >= m_strips) {
    const index_t chunks = std::min(threads, n_strips);
    pool->parallel_for(chunks, 1, [&](index_t b, index_t e) {
      for (index_t t = b; t < e; ++t) {
        const index_t s0 = n_strips * t / chunks, s1 = n_strips * (t + 1) / chunks;
        detail::gemm_block(0, M, s0 * gemm_nr, std::min(N, s1 * gemm_nr), K, A, B, C, ldc, ep);
      }
    });
  } else {
    const index_t chunks = std::min(threads, m_strips);
    pool->parallel_for(chunks, 1, [&](index_t b, index_t e) {
      for (index_t t = b; t < e; ++t) {
        const index_t s0 = m_strips * t / chunks, s1 = m_strips * (t + 1) / chunks;
        detail::gemm_block(s0 * gemm_mr, std::min(M, s1 * gemm_mr), 0, N, K, A, B, C, ldc, ep);
      }
    });
  }
}

}  // namespace mixq::simd
