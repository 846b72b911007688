#pragma once
// int8 GEMM: C_i32[M, N] = A[M, K] · B[K, N] (+ an int32 per row and/or per column), each operand
// s8 or u8, accumulated exactly in int32 (modulo 2^32 like the hardware when the true sum does not
// fit, which needs K > 65793 at full-scale values).
//
// The blocking and threading follow the float GEMM (include/mixq/kernels/simd/gemm.hpp): A in
// strips of gemm_mr rows, B in strips of gemm_nr columns, K blocked so a B block stays in L2, a
// constant operand (a weight) packed once into a packed_matrix, the other packed block by block
// by a callback (how convolution feeds im2col rows straight into B panels). What differs is the
// panel layout: k_group consecutive k values of one row/column are adjacent, because the int8
// dot-product instructions sum that many products into each int32 lane.
//
// AVX-512 VNNI (k_group 4, bytes): vpdpbusd multiplies an unsigned byte operand by a signed one.
// When the two operands are of different types they just take the matching slots. When both are
// s8, one of them (the one packed on the fly) is stored with its top bit flipped, i.e. as u8 =
// x + 128, and 128 * (sum over k of the other operand) is subtracted; both u8: one is stored as
// s8 = x - 128 and 128 * sum(other) is added. The sums of a packed weight are computed once, so
// for convolution and MatMul the correction is a constant vector merged with the bias.
//
// AVX2/SSE2 (k_group 2, int16): vpmaddwd on sign- or zero-extended int16 pairs. Every product
// fits in 16x16 -> 32 bits and the pair sum |a0 b0 + a1 b1| <= 2 * 255 * 128 = 65280 fits an
// int32 lane, so nothing saturates, for any mix of s8 and u8. vpmaddubsw (u8 x s8 pairs summed
// into a *saturating* int16) is not used: 255 * 127 * 2 = 64770 > 32767, so it is exact only
// with one operand restricted to 7 bits.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/core/thread_pool.hpp"
#include "mixq/kernels/int8/config.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
/// Panel element: a byte (flipped or not) for VNNI, the operand's value as int16 otherwise.
using packed_t = std::uint8_t;
inline constexpr index_t k_group = 4;
inline constexpr index_t lanes = 16;  // int32 accumulators per vector register
/// 32 registers: 8 x 3 accumulators + 3 B vectors + 1 broadcast.
inline constexpr index_t gemm_mr = 8;
inline constexpr index_t gemm_nv = 3;
inline constexpr bool flips_operands = true;
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
using packed_t = std::int16_t;
inline constexpr index_t k_group = 2;
inline constexpr index_t lanes = 8;
/// 16 registers: 4 x 3 accumulators + 3 B vectors + 1 broadcast.
inline constexpr index_t gemm_mr = 4;
inline constexpr index_t gemm_nv = 3;
inline constexpr bool flips_operands = false;
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_SSE2
using packed_t = std::int16_t;
inline constexpr index_t k_group = 2;
inline constexpr index_t lanes = 4;
inline constexpr index_t gemm_mr = 4;
inline constexpr index_t gemm_nv = 3;
inline constexpr bool flips_operands = false;
#else
using packed_t = std::int16_t;
inline constexpr index_t k_group = 2;
inline constexpr index_t lanes = 4;
inline constexpr index_t gemm_mr = 4;
inline constexpr index_t gemm_nv = 2;
inline constexpr bool flips_operands = false;
#endif

inline constexpr index_t gemm_nr = gemm_nv * lanes;
/// K block depth (in k values): a kc x nc block of B panels takes 384 KiB (bytes) or 192 KiB
/// (int16), one A strip 4 KiB or 2 KiB.
inline constexpr index_t gemm_kc = flips_operands ? 512 : 256;
inline constexpr index_t gemm_mc = 12 * gemm_mr;
inline constexpr index_t gemm_nc = 16 * gemm_nr;
/// How many k groups ahead the microkernel prefetches its B strip.
inline constexpr index_t gemm_prefetch_distance = 8;

inline constexpr index_t round_up(index_t v, index_t m) { return (v + m - 1) / m * m; }
/// Depth of the K blocks: equal blocks of at most gemm_kc, each a multiple of k_group (so block
/// starts line up in a packed matrix).
inline constexpr index_t k_block(index_t K) {
  const index_t k = std::max<index_t>(K, 1);
  const index_t blocks = (k + gemm_kc - 1) / gemm_kc;
  return round_up((k + blocks - 1) / blocks, k_group);
}

namespace detail {

/// A 64-byte aligned array (panel loads then never split cache lines).
template <class T>
class aligned_buffer {
 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t n) : size_(n) {
    if (n) data_.reset(static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t{64})));
  }
  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  struct deleter {
    void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<T, deleter> data_;
  std::size_t size_ = 0;
};

inline std::int32_t wrap_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

/// One operand byte as a panel element.
inline packed_t to_packed(std::uint8_t raw, elem type, bool flip) {
  if constexpr (flips_operands) {
    (void)type;
    return static_cast<packed_t>(flip ? raw ^ 0x80u : raw);
  } else {
    (void)flip;
    return static_cast<packed_t>(value_of(raw, type));
  }
}

}  // namespace detail

/// Fills the panels of rows (A) or columns (B) [i0, i0 + count) x depth [k0, k0 + kc): strip
/// after strip (gemm_mr rows / gemm_nr columns each, zero past the operand), each strip holding
/// round_up(kc, k_group) / k_group groups of strip x k_group elements, element (i, k) of a strip
/// at ((k / k_group) * strip + i) * k_group + k % k_group. `flip`: store bytes with the top bit
/// flipped (VNNI only; ignored by the other ISAs).
using pack_fn = std::function<void(index_t i0, index_t count, index_t k0, index_t kc, bool flip, packed_t* dst)>;
/// Sums over all of K of an operand's values per row (A) or column (B), into sums[0, M or N).
using sums_fn = std::function<void(std::int32_t* sums)>;

/// An operand packed once (a weight). Block k0 starts at k0 * padded (padded = rows of A or
/// columns of B rounded up to the strip); strip s of that block starts s * strip * round_up(kc,
/// k_group) further.
struct packed_matrix {
  detail::aligned_buffer<packed_t> data;
  index_t rows = 0, cols = 0, padded = 0;  // logical M x K (A) or K x N (B)
  bool is_a = true;
  elem type = elem::s8;
  bool flipped = false;
  std::vector<std::int32_t> sums;  // over K, per row (A) / column (B), of the original values

  const packed_t* block(index_t k0, index_t strip_index, index_t kc) const {
    const index_t strip = is_a ? gemm_mr : gemm_nr;
    return data.data() + k0 * padded + strip_index * strip * round_up(kc, k_group);
  }
};

/// An operand of gemm(): packed once, or packed on the fly by `pack` (with `sums` when VNNI may
/// need them: only when the other operand is packed on the fly too and has the same type).
struct gemm_operand {
  const packed_matrix* packed = nullptr;
  elem type = elem::s8;
  pack_fn pack;
  sums_fn sums;
};

/// Where C goes. `c` (row stride ldc) receives the int32 result; `finish`, when set, is called
/// once per finished tile (every K block summed, the adds applied) with the tile's values at
/// tile[i * ld + j] for rows [r0, r0 + rows) x columns [c0, c0 + cols), right after it was
/// computed, while it is in L1 (e.g. to requantize it). With `finish`, `c` may be null: tiles
/// then live in a small scratch buffer (a full internal C is allocated only when K needs more
/// than one block). Calls for disjoint tiles may run concurrently.
using finish_fn = std::function<void(const std::int32_t* tile, index_t ld, index_t r0, index_t rows, index_t c0, index_t cols)>;
struct gemm_output {
  std::int32_t* c = nullptr;
  index_t ldc = 0;
  const std::int32_t* row_add = nullptr;  // + row_add[i] on row i (a bias per row)
  const std::int32_t* col_add = nullptr;  // + col_add[j] on column j
  finish_fn finish;
};

namespace detail {

/// Generic packing of a strided operand: element (i, k) at p[i * is + k * ks] (A: i = row; B:
/// i = column). Correct for every layout; the hot layouts have faster paths below.
inline void pack_strided_generic(const std::uint8_t* p, index_t is, index_t ks, index_t extent, elem type, bool flip,
                                 index_t strip, index_t i0, index_t count, index_t k0, index_t kc, packed_t* dst) {
  const index_t kcp = round_up(kc, k_group);
  const index_t strips = (count + strip - 1) / strip;
  for (index_t s = 0; s < strips; ++s) {
    packed_t* d = dst + s * strip * kcp;
    for (index_t kg = 0; kg < kcp / k_group; ++kg)
      for (index_t i = 0; i < strip; ++i) {
        const index_t ii = i0 + s * strip + i;
        for (index_t t = 0; t < k_group; ++t) {
          const index_t k = kg * k_group + t;
          packed_t v = 0;
          if (ii < extent && ii < i0 + count && k < kc) v = to_packed(p[ii * is + (k0 + k) * ks], type, flip);
          d[(kg * strip + i) * k_group + t] = v;
        }
      }
  }
}

/// One k group of B panels from k_group contiguous source rows (rows[t] points at column 0 of
/// the group's row t, null for a row past K): columns [0, avail) from the rows, then zeros up to
/// strips * gemm_nr. dst is the group's place in strip 0; strip s is strip_stride further.
inline void pack_b_group(const std::uint8_t* const* rows, index_t avail, index_t strips, elem type, bool flip, packed_t* dst,
                         index_t strip_stride) {
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
  (void)type;
  // 16 columns x 4 rows -> 64 bytes, column-major within the group: two rounds of unpacking
  const __m128i flip_bits = _mm_set1_epi8(flip ? static_cast<char>(0x80) : 0);
  alignas(16) std::uint8_t tail[4][16];
  for (index_t s = 0; s < strips; ++s)
    for (index_t v = 0; v < gemm_nv; ++v) {
      const index_t c0 = s * gemm_nr + v * 16;
      __m128i r[4];
      for (int t = 0; t < 4; ++t) {
        if (!rows[t] || c0 >= avail) {
          r[t] = _mm_setzero_si128();
        } else if (c0 + 16 <= avail) {
          r[t] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[t] + c0)), flip_bits);
        } else {
          std::memset(tail[t], flip ? 0x80 : 0, 16);  // flipped back to 0 below
          std::memcpy(tail[t], rows[t] + c0, static_cast<std::size_t>(avail - c0));
          r[t] = _mm_xor_si128(_mm_load_si128(reinterpret_cast<const __m128i*>(tail[t])), flip_bits);
        }
      }
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
      auto* d = reinterpret_cast<__m128i*>(dst + s * strip_stride + v * 64);
      _mm_storeu_si128(d + 0, _mm_unpacklo_epi16(t0, t2));
      _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(t0, t2));
      _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(t1, t3));
      _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(t1, t3));
    }
#elif MIXQ_INT8_ISA >= MIXQ_INT8_ISA_SSE2
  (void)flip;
  // 8 columns x 2 rows -> 16 int16 (32 bytes): widen each row's 8 bytes, interleave
  const __m128i zero = _mm_setzero_si128();
  const bool is_signed = type == elem::s8;
  const auto widen = [&](__m128i x) { return is_signed ? _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8) : _mm_unpacklo_epi8(x, zero); };
  const auto load8 = [&](const std::uint8_t* row, index_t c0) {
    if (!row || c0 >= avail) return zero;
    if (c0 + 8 <= avail) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + c0));
    std::uint64_t word = 0;
    std::memcpy(&word, row + c0, static_cast<std::size_t>(avail - c0));
    return _mm_cvtsi64_si128(static_cast<long long>(word));
  };
  static_assert(gemm_nr % 4 == 0, "int16 B strips are packed 4 columns at a time");
  for (index_t s = 0; s < strips; ++s) {
    packed_t* d = dst + s * strip_stride;
    index_t c = 0;
    for (; c + 8 <= gemm_nr; c += 8) {
      const __m128i w0 = widen(load8(rows[0], s * gemm_nr + c)), w1 = widen(load8(rows[1], s * gemm_nr + c));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + c * 2), _mm_unpacklo_epi16(w0, w1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + c * 2 + 8), _mm_unpackhi_epi16(w0, w1));
    }
    if (c < gemm_nr) {  // a strip of 4 x 3 columns (SSE2) ends with 4 of them
      const __m128i w0 = widen(load8(rows[0], s * gemm_nr + c)), w1 = widen(load8(rows[1], s * gemm_nr + c));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + c * 2), _mm_unpacklo_epi16(w0, w1));
    }
  }
#else
  for (index_t s = 0; s < strips; ++s)
    for (index_t c = 0; c < gemm_nr; ++c) {
      const index_t col = s * gemm_nr + c;
      for (index_t t = 0; t < k_group; ++t)
        dst[s * strip_stride + c * k_group + t] = rows[t] && col < avail ? to_packed(rows[t][col], type, flip) : packed_t{0};
    }
#endif
}

/// B panels of a strided B whose rows are contiguous (element (k, j) at p[k * rs + j]).
inline void pack_b_rows(const std::uint8_t* p, index_t rs, index_t N, elem type, bool flip, index_t k0, index_t kc, index_t n0,
                        index_t nc, packed_t* dst) {
  const index_t kcp = round_up(kc, k_group);
  const index_t avail = std::max<index_t>(0, std::min(nc, N - n0));
  const index_t strips = (nc + gemm_nr - 1) / gemm_nr;
  const std::uint8_t* rows[k_group];
  for (index_t kg = 0; kg < kcp / k_group; ++kg) {
    for (index_t t = 0; t < k_group; ++t) {
      const index_t k = kg * k_group + t;
      rows[t] = k < kc ? p + (k0 + k) * rs + n0 : nullptr;
    }
    pack_b_group(rows, avail, strips, type, flip, dst + kg * gemm_nr * k_group, gemm_nr * kcp);
  }
}

/// A panels of an A whose rows are contiguous in k (element (i, k) at p[i * rs + k]): each
/// strip row contributes k_group adjacent source elements per group.
inline void pack_a_rows(const std::uint8_t* p, index_t rs, index_t M, elem type, bool flip, index_t m0, index_t mc, index_t k0,
                        index_t kc, packed_t* dst) {
  const index_t kcp = round_up(kc, k_group), full = kc / k_group;
  const index_t strips = (mc + gemm_mr - 1) / gemm_mr;
  for (index_t s = 0; s < strips; ++s) {
    packed_t* d = dst + s * gemm_mr * kcp;
    for (index_t r = 0; r < gemm_mr; ++r) {
      const index_t row = m0 + s * gemm_mr + r;
      const bool real = row < M && s * gemm_mr + r < mc;
      const std::uint8_t* src = real ? p + row * rs + k0 : nullptr;
      for (index_t kg = 0; kg < kcp / k_group; ++kg) {
        packed_t* e = d + (kg * gemm_mr + r) * k_group;
        if constexpr (flips_operands) {
          if (real && kg < full) {
            std::uint32_t w;
            std::memcpy(&w, src + kg * 4, 4);
            if (flip) w ^= 0x80808080u;
            std::memcpy(e, &w, 4);
            continue;
          }
        }
        for (index_t t = 0; t < k_group; ++t) {
          const index_t k = kg * k_group + t;
          e[t] = real && k < kc ? to_packed(src[k], type, flip) : packed_t{0};
        }
      }
    }
  }
}

/// Sums over k of a strided operand's values, per row i (element (i, k) at p[i * is + k * ks]).
inline void strided_sums(const std::uint8_t* p, index_t is, index_t ks, index_t extent, index_t K, elem type, std::int32_t* sums) {
  for (index_t i = 0; i < extent; ++i) {
    std::int64_t s = 0;
    for (index_t k = 0; k < K; ++k) s += value_of(p[i * is + k * ks], type);
    sums[i] = static_cast<std::int32_t>(s);
  }
}

}  // namespace detail

/// A as a strided view of bytes: element (i, k) at p[i * rs + k * cs].
inline gemm_operand strided_a(const void* data, elem type, index_t M, index_t K, index_t rs, index_t cs) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  gemm_operand op;
  op.type = type;
  op.pack = [=](index_t m0, index_t mc, index_t k0, index_t kc, bool flip, packed_t* dst) {
    if (cs == 1)
      detail::pack_a_rows(p, rs, M, type, flip, m0, mc, k0, kc, dst);
    else
      detail::pack_strided_generic(p, rs, cs, M, type, flip, gemm_mr, m0, mc, k0, kc, dst);
  };
  op.sums = [=](std::int32_t* sums) { detail::strided_sums(p, rs, cs, M, K, type, sums); };
  return op;
}

/// B as a strided view of bytes: element (k, j) at p[k * rs + j * cs].
inline gemm_operand strided_b(const void* data, elem type, index_t K, index_t N, index_t rs, index_t cs) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  gemm_operand op;
  op.type = type;
  op.pack = [=](index_t n0, index_t nc, index_t k0, index_t kc, bool flip, packed_t* dst) {
    if (cs == 1)
      detail::pack_b_rows(p, rs, N, type, flip, k0, kc, n0, nc, dst);
    else
      detail::pack_strided_generic(p, cs, rs, N, type, flip, gemm_nr, n0, nc, k0, kc, dst);
  };
  op.sums = [=](std::int32_t* sums) { detail::strided_sums(p, cs, rs, N, K, type, sums); };
  return op;
}

/// Packs all of A (M x K) once, from any packing callback; `sums` fills packed.sums.
inline packed_matrix pack_a_once(index_t M, index_t K, elem type, const pack_fn& pack, const sums_fn& sums, bool flip = false) {
  packed_matrix pm;
  pm.is_a = true;
  pm.rows = M;
  pm.cols = K;
  pm.type = type;
  pm.flipped = flip && flips_operands;
  pm.padded = round_up(std::max<index_t>(M, 1), gemm_mr);
  pm.data = detail::aligned_buffer<packed_t>(static_cast<std::size_t>(std::max<index_t>(pm.padded * round_up(K, k_group), 1)));
  for (index_t pc = 0, step = k_block(K); pc < K; pc += step) {
    const index_t kc = std::min(step, K - pc);
    pack(0, pm.padded, pc, kc, pm.flipped, pm.data.data() + pc * pm.padded);
  }
  pm.sums.assign(static_cast<std::size_t>(M), 0);
  if (sums && M > 0) sums(pm.sums.data());
  return pm;
}
/// Packs a strided A (element (i, k) at p[i * rs + k * cs]) once.
inline packed_matrix pack_a_once(const void* p, elem type, index_t M, index_t K, index_t rs, index_t cs, bool flip = false) {
  const gemm_operand op = strided_a(p, type, M, K, rs, cs);
  return pack_a_once(M, K, type, op.pack, op.sums, flip);
}

/// Packs all of B (K x N) once.
inline packed_matrix pack_b_once(index_t K, index_t N, elem type, const pack_fn& pack, const sums_fn& sums, bool flip = false) {
  packed_matrix pm;
  pm.is_a = false;
  pm.rows = K;
  pm.cols = N;
  pm.type = type;
  pm.flipped = flip && flips_operands;
  pm.padded = round_up(std::max<index_t>(N, 1), gemm_nr);
  pm.data = detail::aligned_buffer<packed_t>(static_cast<std::size_t>(std::max<index_t>(pm.padded * round_up(K, k_group), 1)));
  for (index_t pc = 0, step = k_block(K); pc < K; pc += step) {
    const index_t kc = std::min(step, K - pc);
    pack(0, pm.padded, pc, kc, pm.flipped, pm.data.data() + pc * pm.padded);
  }
  pm.sums.assign(static_cast<std::size_t>(N), 0);
  if (sums && N > 0) sums(pm.sums.data());
  return pm;
}
/// Packs a strided B (element (k, j) at p[k * rs + j * cs]) once.
inline packed_matrix pack_b_once(const void* p, elem type, index_t K, index_t N, index_t rs, index_t cs, bool flip = false) {
  const gemm_operand op = strided_b(p, type, K, N, rs, cs);
  return pack_b_once(K, N, type, op.pack, op.sums, flip);
}

namespace detail {

/// What the microkernel adds to a finished tile: row_add[r] and col_add[c] (either null).
struct tile_adds {
  const std::int32_t* row = nullptr;
  const std::int32_t* col = nullptr;
};

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI

inline std::int32_t load_i32(const void* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/// MR x NV vectors of C over `groups` k groups: B vectors from the packed strip, A's 4 bytes per
/// row broadcast; `a_unsigned` says which operand takes vpdpbusd's unsigned slot.
template <int MR, int NV, bool AUnsigned>
void micro_kernel(index_t groups, const packed_t* a, const packed_t* b, std::int32_t* c, index_t ldc, index_t cols, bool accumulate,
                  bool last, const tile_adds& adds) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (index_t g = 0; g < groups; ++g) {
    const packed_t* bg = b + g * gemm_nr * 4;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm_prefetch(reinterpret_cast<const char*>(bg + gemm_prefetch_distance * gemm_nr * 4 + v * 64), _MM_HINT_T0);
    __m512i bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_si512(bg + v * 64);
    const packed_t* ag = a + g * gemm_mr * 4;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512i av = _mm512_set1_epi32(load_i32(ag + r * 4));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if constexpr (AUnsigned) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
        else acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], av);
      }
    }
  }
  // The accumulators leave registers through one fully unrolled store: GCC keeps an array of
  // vectors in registers only while every access has a constant index, and the masked
  // epilogue below would otherwise send all of them to the stack inside the K loop.
  alignas(64) std::int32_t done[MR][NV * 16];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_store_si512(done[r] + v * 16, acc[r][v]);
  const index_t tail = cols - (NV - 1) * 16;
  const auto tail_mask = static_cast<__mmask16>((1u << static_cast<unsigned>(tail)) - 1u);
  const __m512i zero = _mm512_setzero_si512();
  for (int r = 0; r < MR; ++r) {
    std::int32_t* cr = c + r * ldc;
    const __m512i rowv = last && adds.row ? _mm512_set1_epi32(adds.row[r]) : zero;
    for (int v = 0; v < NV; ++v) {
      // masked moves only for a ragged last vector
      const bool full = v + 1 < NV || tail == 16;
      __m512i x = _mm512_load_si512(done[r] + v * 16);
      if (accumulate) x = _mm512_add_epi32(x, full ? _mm512_loadu_si512(cr + v * 16) : _mm512_maskz_loadu_epi32(tail_mask, cr + v * 16));
      if (last) {
        x = _mm512_add_epi32(x, rowv);
        if (adds.col)
          x = _mm512_add_epi32(x, full ? _mm512_loadu_si512(adds.col + v * 16) : _mm512_maskz_loadu_epi32(tail_mask, adds.col + v * 16));
      }
      if (full) _mm512_storeu_si512(cr + v * 16, x);
      else _mm512_mask_storeu_epi32(cr + v * 16, tail_mask, x);
    }
  }
}

#else  // int16 pairs: vpmaddwd / pmaddwd, or plain C++

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
struct int16_ops {
  using vec = __m256i;
  static vec zero() { return _mm256_setzero_si256(); }
  static vec load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static vec broadcast_pair(const packed_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static vec madd_add(vec acc, vec a, vec b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
  static vec add(vec a, vec b) { return _mm256_add_epi32(a, b); }
  static vec set1(std::int32_t v) { return _mm256_set1_epi32(v); }
  static vec load_first(const std::int32_t* p, index_t n) {
    return n >= 8 ? load(p) : _mm256_maskload_epi32(reinterpret_cast<const int*>(p), mask(n));
  }
  static void store_first(std::int32_t* p, vec v, index_t n) {
    if (n >= 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    else _mm256_maskstore_epi32(reinterpret_cast<int*>(p), mask(n), v);
  }
  static __m256i mask(index_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_SSE2
struct int16_ops {
  using vec = __m128i;
  static vec zero() { return _mm_setzero_si128(); }
  static vec load(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
  static vec broadcast_pair(const packed_t* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm_set1_epi32(v);
  }
  static vec madd_add(vec acc, vec a, vec b) { return _mm_add_epi32(acc, _mm_madd_epi16(a, b)); }
  static vec add(vec a, vec b) { return _mm_add_epi32(a, b); }
  static vec set1(std::int32_t v) { return _mm_set1_epi32(v); }
  static vec load_first(const std::int32_t* p, index_t n) {
    if (n >= 4) return load(p);
    if (n == 3) return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_cvtsi32_si128(p[2]));
    if (n == 2) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm_cvtsi32_si128(p[0]);
  }
  static void store_first(std::int32_t* p, vec v, index_t n) {
    if (n >= 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      return;
    }
    if (n >= 2) _mm_storel_epi64(reinterpret_cast<__m128i*>(p), v);
    if (n == 3) p[2] = _mm_cvtsi128_si32(_mm_srli_si128(v, 8));
    if (n == 1) p[0] = _mm_cvtsi128_si32(v);
  }
};
#else
/// Four int32 lanes in plain C++, with wrapping (unsigned) arithmetic like the vector ISAs.
struct int16_ops {
  struct vec {
    std::uint32_t v[4];
  };
  static vec zero() { return {{0, 0, 0, 0}}; }
  static vec load(const void* p) {
    vec r;
    std::memcpy(r.v, p, 16);
    return r;
  }
  static vec broadcast_pair(const packed_t* p) {
    vec r;
    for (auto& x : r.v) std::memcpy(&x, p, 4);
    return r;
  }
  static vec madd_add(vec acc, vec a, vec b) {
    for (int i = 0; i < 4; ++i) {
      std::int16_t a2[2], b2[2];
      std::memcpy(a2, &a.v[i], 4);
      std::memcpy(b2, &b.v[i], 4);
      const std::int32_t pair = a2[0] * b2[0] + a2[1] * b2[1];  // |pair| <= 2 * 255 * 128
      acc.v[i] += static_cast<std::uint32_t>(pair);
    }
    return acc;
  }
  static vec add(vec a, vec b) {
    for (int i = 0; i < 4; ++i) a.v[i] += b.v[i];
    return a;
  }
  static vec set1(std::int32_t x) {
    const auto u = static_cast<std::uint32_t>(x);
    return {{u, u, u, u}};
  }
  static vec load_first(const std::int32_t* p, index_t n) {
    vec r = zero();
    for (index_t i = 0; i < 4 && i < n; ++i) r.v[i] = static_cast<std::uint32_t>(p[i]);
    return r;
  }
  static void store_first(std::int32_t* p, vec v, index_t n) {
    for (index_t i = 0; i < 4 && i < n; ++i) p[i] = static_cast<std::int32_t>(v.v[i]);
  }
};
#endif

template <int MR, int NV, bool AUnsigned>
void micro_kernel(index_t groups, const packed_t* a, const packed_t* b, std::int32_t* c, index_t ldc, index_t cols, bool accumulate,
                  bool last, const tile_adds& adds) {
  using ops = int16_ops;
  using vec = ops::vec;
  vec acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = ops::zero();
  for (index_t g = 0; g < groups; ++g) {
    const packed_t* bg = b + g * gemm_nr * 2;
    vec bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = ops::load(bg + v * lanes * 2);
    const packed_t* ag = a + g * gemm_mr * 2;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const vec av = ops::broadcast_pair(ag + r * 2);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = ops::madd_add(acc[r][v], av, bv[v]);
    }
  }
  // see the VNNI kernel: one fully unrolled store keeps the accumulators in registers
  vec done[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) done[r][v] = acc[r][v];
  for (int r = 0; r < MR; ++r) {
    std::int32_t* cr = c + r * ldc;
    const vec rowv = ops::set1(last && adds.row ? adds.row[r] : 0);
    for (int v = 0; v < NV; ++v) {
      const index_t n = std::min<index_t>(lanes, cols - v * lanes);
      vec x = done[r][v];
      if (accumulate) x = ops::add(x, ops::load_first(cr + v * lanes, n));
      if (last) {
        x = ops::add(x, rowv);
        if (adds.col) x = ops::add(x, ops::load_first(adds.col + v * lanes, n));
      }
      ops::store_first(cr + v * lanes, x, n);
    }
  }
}

#endif

template <bool AU, int MR, int... V>
void dispatch_vectors(std::integer_sequence<int, V...>, index_t vectors, index_t groups, const packed_t* a, const packed_t* b,
                      std::int32_t* c, index_t ldc, index_t cols, bool accumulate, bool last, const tile_adds& adds) {
  ((vectors == V + 1 ? (micro_kernel<MR, V + 1, AU>(groups, a, b, c, ldc, cols, accumulate, last, adds), 0) : 0), ...);
}

template <bool AU, int... R>
void dispatch_rows(std::integer_sequence<int, R...>, index_t rows, index_t vectors, index_t groups, const packed_t* a,
                   const packed_t* b, std::int32_t* c, index_t ldc, index_t cols, bool accumulate, bool last, const tile_adds& adds) {
  ((rows == R + 1 ? (dispatch_vectors<AU, R + 1>(std::make_integer_sequence<int, static_cast<int>(gemm_nv)>{}, vectors, groups, a, b,
                                                 c, ldc, cols, accumulate, last, adds),
                     0)
                  : 0),
   ...);
}

/// One tile: rows x cols of C (rows <= gemm_mr, cols <= gemm_nr) over `groups` k groups.
inline void run_micro_kernel(bool a_unsigned, index_t groups, const packed_t* a, const packed_t* b, std::int32_t* c, index_t ldc,
                             index_t rows, index_t cols, bool accumulate, bool last, const tile_adds& adds) {
  const index_t vectors = (cols + lanes - 1) / lanes;
  constexpr auto MR = static_cast<int>(gemm_mr), NV = static_cast<int>(gemm_nv);
  if (rows == gemm_mr && vectors == gemm_nv) {
    if (a_unsigned)
      micro_kernel<MR, NV, true>(groups, a, b, c, ldc, cols, accumulate, last, adds);
    else
      micro_kernel<MR, NV, false>(groups, a, b, c, ldc, cols, accumulate, last, adds);
    return;
  }
  if (a_unsigned)
    dispatch_rows<true>(std::make_integer_sequence<int, MR>{}, rows, vectors, groups, a, b, c, ldc, cols, accumulate, last, adds);
  else
    dispatch_rows<false>(std::make_integer_sequence<int, MR>{}, rows, vectors, groups, a, b, c, ldc, cols, accumulate, last, adds);
}

/// The operands of one gemm() call with the flips decided and the corrections merged into the adds.
struct gemm_plan {
  const gemm_operand* a = nullptr;
  const gemm_operand* b = nullptr;
  bool flip_a = false, flip_b = false;  // for operands packed on the fly
  bool a_unsigned = false;              // VNNI: A in vpdpbusd's unsigned slot
  const std::int32_t* row_add = nullptr;
  const std::int32_t* col_add = nullptr;
};

/// One thread's share: rows [m_begin, m_end) x columns [n_begin, n_end) of C (m_begin a multiple
/// of gemm_mr and n_begin of gemm_nr so prepacked strips line up).
inline void gemm_block(index_t m_begin, index_t m_end, index_t n_begin, index_t n_end, index_t K, const gemm_plan& plan,
                       const gemm_output& out, std::int32_t* C, index_t ldc) {
  if (m_end <= m_begin || n_end <= n_begin) return;
  const gemm_operand& A = *plan.a;
  const gemm_operand& B = *plan.b;
  const index_t nc_max = std::min(gemm_nc, round_up(n_end - n_begin, gemm_nr));
  const index_t mc_max = std::min(gemm_mc, round_up(m_end - m_begin, gemm_mr));
  const index_t kc_max = k_block(K);
  aligned_buffer<packed_t> b_buf, a_buf;
  if (!B.packed) b_buf = aligned_buffer<packed_t>(static_cast<std::size_t>(kc_max * nc_max));
  if (!A.packed) a_buf = aligned_buffer<packed_t>(static_cast<std::size_t>(kc_max * mc_max));
  // Without a C to accumulate into (a single K block), tiles go through a scratch tile.
  aligned_buffer<std::int32_t> scratch;
  if (!C) scratch = aligned_buffer<std::int32_t>(static_cast<std::size_t>(gemm_mr * gemm_nr));
  const auto tile_target = [&](index_t row, index_t col, index_t& ld) {
    if (C) {
      ld = ldc;
      return C + row * ldc + col;
    }
    ld = gemm_nr;
    return scratch.data();
  };
  if (K == 0) {  // an empty sum: C is the adds
    for (index_t i = m_begin; i < m_end; i += gemm_mr)
      for (index_t j = n_begin; j < n_end; j += gemm_nr) {
        const index_t rows = std::min(gemm_mr, m_end - i), cols = std::min(gemm_nr, n_end - j);
        index_t ld = 0;
        std::int32_t* t = tile_target(i, j, ld);
        for (index_t r = 0; r < rows; ++r)
          for (index_t cc = 0; cc < cols; ++cc)
            t[r * ld + cc] = wrap_add(plan.row_add ? plan.row_add[i + r] : 0, plan.col_add ? plan.col_add[j + cc] : 0);
        if (out.finish) out.finish(t, ld, i, rows, j, cols);
      }
    return;
  }
  for (index_t jc = n_begin; jc < n_end; jc += gemm_nc) {
    const index_t nc = std::min(gemm_nc, n_end - jc);
    for (index_t pc = 0; pc < K; pc += kc_max) {
      const index_t kc = std::min(kc_max, K - pc), kcp = round_up(kc, k_group);
      const bool first = pc == 0, last = pc + kc == K;
      const packed_t* bp = nullptr;
      if (B.packed) {
        bp = B.packed->block(pc, jc / gemm_nr, kc);
      } else {
        B.pack(jc, nc, pc, kc, plan.flip_b, b_buf.data());
        bp = b_buf.data();
      }
      for (index_t ic = m_begin; ic < m_end; ic += gemm_mc) {
        const index_t mc = std::min(gemm_mc, m_end - ic);
        const packed_t* ap = nullptr;
        if (A.packed) {
          ap = A.packed->block(pc, ic / gemm_mr, kc);
        } else {
          A.pack(ic, mc, pc, kc, plan.flip_a, a_buf.data());
          ap = a_buf.data();
        }
        for (index_t ir = 0; ir < mc; ir += gemm_mr) {
          const index_t rows = std::min(gemm_mr, mc - ir), row = ic + ir;
          for (index_t jr = 0; jr < nc; jr += gemm_nr) {
            const index_t cols = std::min(gemm_nr, nc - jr), col = jc + jr;
            index_t ld = 0;
            std::int32_t* t = tile_target(row, col, ld);
            const tile_adds adds{plan.row_add ? plan.row_add + row : nullptr, plan.col_add ? plan.col_add + col : nullptr};
            run_micro_kernel(plan.a_unsigned, kcp / k_group, ap + (ir / gemm_mr) * gemm_mr * kcp, bp + (jr / gemm_nr) * gemm_nr * kcp,
                             t, ld, rows, cols, !first, last, adds);
            if (last && out.finish) out.finish(t, ld, row, rows, col, cols);
          }
        }
      }
    }
  }
}

}  // namespace detail

/// C = A · B (M x N, over K) with the adds of `out` applied, split over the pool's threads along
/// N (each thread packs its own B columns) or, when N is narrow, along M.
inline void gemm(index_t M, index_t N, index_t K, const gemm_operand& A, const gemm_operand& B, const gemm_output& out,
                 thread_pool* pool = nullptr) {
  if (M < 0 || N < 0 || K < 0) throw error("int8 gemm: negative size " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
  if (M == 0 || N == 0) return;
  if (!out.c && !out.finish) throw error("int8 gemm: the output has neither a C matrix nor a finish callback");
  if ((!A.packed && !A.pack) || (!B.packed && !B.pack)) throw error("int8 gemm: an operand has neither packed data nor a packer");
  if (A.packed && (!A.packed->is_a || A.packed->rows != M || A.packed->cols != K))
    throw error("int8 gemm: the packed A is not " + std::to_string(M) + "x" + std::to_string(K));
  if (B.packed && (B.packed->is_a || B.packed->rows != K || B.packed->cols != N))
    throw error("int8 gemm: the packed B is not " + std::to_string(K) + "x" + std::to_string(N));

  detail::gemm_plan plan;
  plan.a = &A;
  plan.b = &B;
  plan.row_add = out.row_add;
  plan.col_add = out.col_add;
  std::vector<std::int32_t> row_add, col_add;
  if constexpr (flips_operands) {
    // Decide which operand (if any) is stored flipped so that exactly one is unsigned.
    const auto effective = [](elem t, bool flipped) { return flipped ? (t == elem::s8 ? elem::u8 : elem::s8) : t; };
    bool flip_a = A.packed ? A.packed->flipped : false, flip_b = B.packed ? B.packed->flipped : false;
    if (effective(A.type, flip_a) == effective(B.type, flip_b)) {
      if (!B.packed) flip_b = !flip_b;
      else if (!A.packed) flip_a = !flip_a;
      else throw error("int8 gemm: both operands are packed with the same signedness; pack one of them with flip = true");
    }
    if (flip_a && flip_b) throw error("int8 gemm: both operands are stored flipped");
    plan.flip_a = flip_a;
    plan.flip_b = flip_b;
    plan.a_unsigned = effective(A.type, flip_a) == elem::u8;
    if (flip_a || flip_b) {
      // x stored as x + 128 (an s8 operand) -> subtract 128 * sum(other); as x - 128 -> add it
      const gemm_operand& flipped = flip_a ? A : B;
      const gemm_operand& other = flip_a ? B : A;
      const index_t extent = flip_a ? N : M;
      std::vector<std::int32_t> sums(static_cast<std::size_t>(extent), 0);
      if (other.packed) sums = other.packed->sums;
      else if (other.sums) other.sums(sums.data());
      else throw error("int8 gemm: operands of the same signedness need the sums of the non-flipped one");
      const std::int32_t sign = flipped.type == elem::s8 ? -128 : 128;
      std::vector<std::int32_t>& add = flip_a ? col_add : row_add;
      const std::int32_t* base = flip_a ? out.col_add : out.row_add;
      add.resize(static_cast<std::size_t>(extent));
      for (index_t i = 0; i < extent; ++i)
        add[static_cast<std::size_t>(i)] = detail::wrap_add(base ? base[i] : 0, static_cast<std::int32_t>(static_cast<std::uint32_t>(sign) * static_cast<std::uint32_t>(sums[static_cast<std::size_t>(i)])));
      (flip_a ? plan.col_add : plan.row_add) = add.data();
    }
  }

  // Tiles need a C to accumulate into when K takes several blocks.
  std::int32_t* C = out.c;
  index_t ldc = out.ldc;
  detail::aligned_buffer<std::int32_t> internal_c;
  if (!C && K > k_block(K)) {
    internal_c = detail::aligned_buffer<std::int32_t>(static_cast<std::size_t>(M * N));
    C = internal_c.data();
    ldc = N;
  }

  const index_t threads = pool ? static_cast<index_t>(pool->size()) : 1;
  const double ops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const index_t n_strips = (N + gemm_nr - 1) / gemm_nr, m_strips = (M + gemm_mr - 1) / gemm_mr;
  if (threads <= 1 || ops < 1e6 || (n_strips < 2 && m_strips < 2)) {
    detail::gemm_block(0, M, 0, N, K, plan, out, C, ldc);
    return;
  }
  if (n_strips >= 2 * threads || n_strips >= m_strips) {
    const index_t chunks = std::min(threads, n_strips);
    pool->parallel_for(chunks, 1, [&](index_t b, index_t e) {
      for (index_t t = b; t < e; ++t) {
        const index_t s0 = n_strips * t / chunks, s1 = n_strips * (t + 1) / chunks;
        detail::gemm_block(0, M, s0 * gemm_nr, std::min(N, s1 * gemm_nr), K, plan, out, C, ldc);
      }
    });
  } else {
    const index_t chunks = std::min(threads, m_strips);
    pool->parallel_for(chunks, 1, [&](index_t b, index_t e) {
      for (index_t t = b; t < e; ++t) {
        const index_t s0 = m_strips * t / chunks, s1 = m_strips * (t + 1) / chunks;
        detail::gemm_block(s0 * gemm_mr, std::min(M, s1 * gemm_mr), 0, N, K, plan, out, C, ldc);
      }
    });
  }
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
