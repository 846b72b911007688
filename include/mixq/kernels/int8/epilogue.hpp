#pragma once
// Requantization of int32 accumulators to int8/uint8 as TPU-MLIR's integer ops do it (docs/
// lowering_spec.md §4.1, §5, §6): q = saturate(relu(apply_multiplier_and_rshift(acc + bias, m_c,
// r_c) + zp_out)), with per-channel (or per-tensor) multiplier, shift and bias, the relu clamping
// at zp_out. requant_value() is that formula element by element, built from mixq::quant; the
// row kernels below compute the same integers with AVX-512 or AVX2 for the modes the lowering
// emits (MultiplierShift on BM168x - bm1684x Conv/MatMul -, OnlyShift - bm1684 -, QDM/TFLite -
// cv18xx, a positive right shift -), and fall back to requant_value() for anything else.
//
// The vector kernels work in int64 like the scalar formula. A requantizer precomputes, per channel,
// whether the common case (HalfUp or Down rounding, a right shift) can run as one multiply-add and
// one arithmetic shift: RightShiftRound(v m, r, HalfUp) + zp = (acc m + C) >> r with C = b m +
// 2^(r-1) + zp 2^r, which is exact whenever acc m + C cannot leave int64 for any int32 acc (checked
// per channel in 128-bit arithmetic); the clamp then folds the relu (max(v, zp)) into its lower
// bound. Other channels take the general vector kernel: acc m and b m formed separately, the
// rounding as floor plus a comparison of the discarded bits (never x + half), as the scalar code.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mixq/core/error.hpp"
#include "mixq/kernels/int8/config.hpp"
#include "mixq/kernels/int8/gemm.hpp"
#include "mixq/quant/requant.hpp"

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

/// How a tile of int32 accumulators becomes int8/uint8. Each of multiplier, rshift and bias holds
/// one value per channel or a single value for all channels (bias: or none). The channel of an
/// element is its row (NCHW convolution output: one row per output channel) or its column
/// (MatMul: one column per output feature).
struct requant_spec {
  quant::requant_mode mode = quant::requant_mode::multiplier_shift;
  quant::round_mode round = quant::round_mode::half_up;
  quant::chip_family chip = quant::chip_family::bm168x;
  std::span<const std::int32_t> multiplier;  // unused by OnlyShift
  std::span<const std::int32_t> rshift;
  std::span<const std::int32_t> bias;
  bool channel_is_row = true;
  std::int32_t zero_point = 0;
  bool relu = false;  // max(v, zero_point) before saturation
  elem out_type = elem::s8;
};

namespace detail {
inline std::int32_t pick(std::span<const std::int32_t> v, index_t channel, std::int32_t otherwise) {
  if (v.empty()) return otherwise;
  return v[v.size() == 1 ? 0 : static_cast<std::size_t>(channel)];
}
}  // namespace detail

/// Checks that the spec's arrays fit `channels` channels (1 or `channels` values each).
inline void validate(const requant_spec& s, index_t channels) {
  const auto fits = [&](std::span<const std::int32_t> v, bool may_be_empty) {
    return (v.empty() && may_be_empty) || v.size() == 1 || static_cast<index_t>(v.size()) == channels;
  };
  if (s.mode == quant::requant_mode::only_scale) throw error("int8 requant: quant_mode OnlyScale has no integer form");
  const bool needs_multiplier = s.mode != quant::requant_mode::only_shift;
  if (!fits(s.multiplier, !needs_multiplier) || !fits(s.rshift, false) || !fits(s.bias, true))
    throw error("int8 requant: multiplier/rshift/bias must hold 1 or " + std::to_string(channels) + " values (got " +
                std::to_string(s.multiplier.size()) + ", " + std::to_string(s.rshift.size()) + ", " + std::to_string(s.bias.size()) + ")");
}

/// One element: the scalar definition every kernel here matches bit for bit.
inline std::int32_t requant_value(std::int32_t acc, index_t channel, const requant_spec& s) {
  const std::int64_t v = quant::apply_multiplier_and_rshift(static_cast<std::int64_t>(acc) + detail::pick(s.bias, channel, 0),
                                                            detail::pick(s.multiplier, channel, 1), detail::pick(s.rshift, channel, 0),
                                                            s.mode, s.round, s.chip) +
                         s.zero_point;
  const std::int64_t r = s.relu ? std::max<std::int64_t>(v, s.zero_point) : v;
  return s.out_type == elem::s8 ? quant::saturate<std::int8_t>(r) : quant::saturate<std::uint8_t>(r);
}

namespace detail {

/// The parameters of one row segment whose shift is the same for every element.
struct row_params {
  enum kind_t { multiplier_shift, only_shift, qdm } kind;
  quant::round_mode round;
  int shift;                   // multiplier_shift/only_shift: right shift; qdm: MultiplyByQuantizedMultiplier's shift
  const std::int32_t* m_lane;  // per-lane multiplier (else m_all)
  std::int32_t m_all;
  const std::int32_t* b_lane;  // per-lane bias (else b_all)
  std::int32_t b_all;
  std::int32_t zp, lo, hi;
  bool relu;
};

/// Whether the vector kernels compute `s` (else the scalar formula does).
inline bool vector_kind(const requant_spec& s, row_params::kind_t& kind) {
  using quant::requant_mode;
  using quant::round_mode;
  const bool rounds = s.round == round_mode::half_up || s.round == round_mode::half_away_from_zero || s.round == round_mode::down;
  switch (s.mode) {
    case requant_mode::multiplier_shift:
      kind = row_params::multiplier_shift;
      return rounds && s.chip == quant::chip_family::bm168x;
    case requant_mode::only_shift: kind = row_params::only_shift; return rounds;
    case requant_mode::qdm:
    case requant_mode::tflite:
    case requant_mode::tflite_lshift: kind = row_params::qdm; return rounds;
    case requant_mode::only_scale: break;
  }
  return false;
}

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI

struct i64_pair {
  __m512i even, odd;  // int64 values of lanes 0, 2, 4... and 1, 3, 5...
};

/// 16 result bytes; masked only for a tail (a masked vpmovdb to memory is slow on some cores).
inline void store_bytes16(std::uint8_t* out, __m128i bytes, index_t n, __mmask16 mask) {
  if (n >= 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
  else _mm_mask_storeu_epi8(out, mask, bytes);
}

inline i64_pair mul_lanes(__m512i a, __m512i m) {
  return {_mm512_mul_epi32(a, m), _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(m, 32))};
}

/// RightShiftRound on int64 lanes with one shift n (any sign) and mode half_up/half_away/down.
inline __m512i shift_round(__m512i x, int n, quant::round_mode mode) {
  if (n == 0) return x;
  if (n < 0) return _mm512_sll_epi64(x, _mm_cvtsi32_si128(-n));
  n = std::min(n, 63);
  const __m512i val = _mm512_sra_epi64(x, _mm_cvtsi32_si128(n));
  if (mode == quant::round_mode::down) return val;
  const __m512i mant = _mm512_and_si512(x, _mm512_set1_epi64(static_cast<long long>((std::uint64_t{1} << n) - 1)));
  const __m512i half = _mm512_set1_epi64(static_cast<long long>(std::uint64_t{1} << (n - 1)));
  __mmask8 up = _mm512_cmpge_epi64_mask(mant, half);
  if (mode == quant::round_mode::half_away_from_zero)
    up = _mm512_cmpgt_epi64_mask(mant, half) | (_mm512_cmpeq_epi64_mask(mant, half) & _mm512_cmpge_epi64_mask(x, _mm512_setzero_si512()));
  return _mm512_mask_add_epi64(val, up, val, _mm512_set1_epi64(1));
}

inline __m512i clamp64(__m512i x, std::int64_t lo, std::int64_t hi) {
  return _mm512_min_epi64(_mm512_max_epi64(x, _mm512_set1_epi64(lo)), _mm512_set1_epi64(hi));
}

/// 16 accumulators (lanes past `n` masked off) -> 16 output bytes.
inline void requant16(const std::int32_t* acc, std::uint8_t* out, index_t n, const row_params& p) {
  const auto mask = static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << static_cast<unsigned>(n)) - 1u);
  const __m512i a = _mm512_maskz_loadu_epi32(mask, acc);
  const __m512i m = p.m_lane ? _mm512_maskz_loadu_epi32(mask, p.m_lane) : _mm512_set1_epi32(p.m_all);
  const __m512i b = p.b_lane ? _mm512_maskz_loadu_epi32(mask, p.b_lane) : _mm512_set1_epi32(p.b_all);
  i64_pair x;
  if (p.kind == row_params::multiplier_shift) {
    const i64_pair am = mul_lanes(a, m), bm = mul_lanes(b, m);
    x = {shift_round(_mm512_add_epi64(am.even, bm.even), p.shift, p.round), shift_round(_mm512_add_epi64(am.odd, bm.odd), p.shift, p.round)};
  } else if (p.kind == row_params::only_shift) {
    const __m512i one = _mm512_set1_epi32(1);
    const i64_pair a64 = mul_lanes(a, one), b64 = mul_lanes(b, one);
    x = {shift_round(_mm512_add_epi64(a64.even, b64.even), p.shift, p.round), shift_round(_mm512_add_epi64(a64.odd, b64.odd), p.shift, p.round)};
  } else {
    // MultiplyByQuantizedMultiplier: int32 (acc + bias), left shift in int32, Q31 HalfUp, clamp, shift
    __m512i v = _mm512_add_epi32(a, b);
    if (p.shift > 0) v = _mm512_sll_epi32(v, _mm_cvtsi32_si128(p.shift));
    const i64_pair q = mul_lanes(v, m);
    const auto q31 = [&](__m512i t) {
      return shift_round(clamp64(shift_round(t, 31, quant::round_mode::half_up), INT32_MIN, INT32_MAX), p.shift < 0 ? -p.shift : 0, p.round);
    };
    x = {q31(q.even), q31(q.odd)};
  }
  const auto finish = [&](__m512i t) {
    t = _mm512_add_epi64(t, _mm512_set1_epi64(p.zp));
    if (p.relu) t = _mm512_max_epi64(t, _mm512_set1_epi64(p.zp));
    return clamp64(t, p.lo, p.hi);
  };
  const __m512i even = finish(x.even), odd = finish(x.odd);
  const __m512i packed = _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi64(0xFFFFFFFFll)), _mm512_slli_epi64(odd, 32));
  store_bytes16(out, _mm512_cvtepi32_epi8(packed), n, mask);
}

/// The fast form: x = acc * m + add (or acc + add for OnlyShift), v = x >> shift, clamp, for 16
/// lanes; m and add per row (broadcast) or per lane.
inline void requant16_fast(const std::int32_t* acc, std::uint8_t* out, index_t n, bool only_shift, __m512i m, __m512i add_even,
                           __m512i add_odd, int shift, __m512i lo, __m512i hi) {
  const auto mask = static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << static_cast<unsigned>(n)) - 1u);
  const __m512i a = _mm512_maskz_loadu_epi32(mask, acc);
  __m512i even, odd;
  if (only_shift) {
    even = _mm512_srai_epi64(_mm512_slli_epi64(a, 32), 32);
    odd = _mm512_srai_epi64(a, 32);
  } else {
    even = _mm512_mul_epi32(a, m);
    odd = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(m, 32));
  }
  const __m128i count = _mm_cvtsi32_si128(shift);
  even = _mm512_min_epi64(_mm512_max_epi64(_mm512_sra_epi64(_mm512_add_epi64(even, add_even), count), lo), hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(_mm512_sra_epi64(_mm512_add_epi64(odd, add_odd), count), lo), hi);
  const __m512i packed = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, _mm512_slli_epi64(odd, 32));
  store_bytes16(out, _mm512_cvtepi32_epi8(packed), n, mask);
}

/// Lanes [0, 16) of an int64 array as the even and odd lanes of two vectors.
inline void load_split64(const std::int64_t* p, index_t n, __m512i& even, __m512i& odd) {
  const auto m0 = static_cast<__mmask8>(n >= 8 ? 0xFF : (1u << static_cast<unsigned>(std::max<index_t>(n, 0))) - 1u);
  const auto m1 = static_cast<__mmask8>(n >= 16 ? 0xFF : n <= 8 ? 0 : (1u << static_cast<unsigned>(n - 8)) - 1u);
  const __m512i v0 = _mm512_maskz_loadu_epi64(m0, p), v1 = _mm512_maskz_loadu_epi64(m1, p + 8);
  even = _mm512_permutex2var_epi64(v0, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), v1);
  odd = _mm512_permutex2var_epi64(v0, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), v1);
}

inline constexpr index_t requant_width = 16;

#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2

struct i64_pair {
  __m256i even, odd;
};

inline i64_pair mul_lanes(__m256i a, __m256i m) {
  return {_mm256_mul_epi32(a, m), _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(m, 32))};
}

/// floor(x / 2^n) for 0 < n < 64 without an arithmetic 64-bit shift: shift the one's complement
/// of negative values logically.
inline __m256i sra64(__m256i x, int n) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
  return _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(x, sign), _mm_cvtsi32_si128(n)), sign);
}

inline __m256i shift_round(__m256i x, int n, quant::round_mode mode) {
  if (n == 0) return x;
  if (n < 0) return _mm256_sll_epi64(x, _mm_cvtsi32_si128(-n));
  n = std::min(n, 63);
  const __m256i val = sra64(x, n);
  if (mode == quant::round_mode::down) return val;
  const __m256i mant = _mm256_and_si256(x, _mm256_set1_epi64x(static_cast<long long>((std::uint64_t{1} << n) - 1)));
  const __m256i half = _mm256_set1_epi64x(static_cast<long long>(std::uint64_t{1} << (n - 1)));
  __m256i up = _mm256_cmpgt_epi64(mant, _mm256_sub_epi64(half, _mm256_set1_epi64x(1)));  // mant >= half
  if (mode == quant::round_mode::half_away_from_zero) {
    const __m256i above = _mm256_cmpgt_epi64(mant, half), tie = _mm256_cmpeq_epi64(mant, half);
    const __m256i nonneg = _mm256_cmpgt_epi64(x, _mm256_set1_epi64x(-1));
    up = _mm256_or_si256(above, _mm256_and_si256(tie, nonneg));
  }
  return _mm256_sub_epi64(val, up);  // up is -1 where the result rounds up
}

inline __m256i max64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(b, a)); }
inline __m256i min64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }
inline __m256i clamp64(__m256i x, std::int64_t lo, std::int64_t hi) {
  return min64(max64(x, _mm256_set1_epi64x(lo)), _mm256_set1_epi64x(hi));
}
inline __m256i clamp64v(__m256i x, __m256i lo, __m256i hi) { return min64(max64(x, lo), hi); }

/// 8 accumulators -> 8 output bytes.
inline void requant8(const std::int32_t* acc, std::uint8_t* out, const row_params& p, bool is_unsigned) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc));
  const __m256i m = p.m_lane ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.m_lane)) : _mm256_set1_epi32(p.m_all);
  const __m256i b = p.b_lane ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.b_lane)) : _mm256_set1_epi32(p.b_all);
  i64_pair x;
  if (p.kind == row_params::multiplier_shift) {
    const i64_pair am = mul_lanes(a, m), bm = mul_lanes(b, m);
    x = {shift_round(_mm256_add_epi64(am.even, bm.even), p.shift, p.round), shift_round(_mm256_add_epi64(am.odd, bm.odd), p.shift, p.round)};
  } else if (p.kind == row_params::only_shift) {
    const __m256i one = _mm256_set1_epi32(1);
    const i64_pair a64 = mul_lanes(a, one), b64 = mul_lanes(b, one);
    x = {shift_round(_mm256_add_epi64(a64.even, b64.even), p.shift, p.round), shift_round(_mm256_add_epi64(a64.odd, b64.odd), p.shift, p.round)};
  } else {
    __m256i v = _mm256_add_epi32(a, b);
    if (p.shift > 0) v = _mm256_sll_epi32(v, _mm_cvtsi32_si128(p.shift));
    const i64_pair q = mul_lanes(v, m);
    const auto q31 = [&](__m256i t) {
      return shift_round(clamp64(shift_round(t, 31, quant::round_mode::half_up), INT32_MIN, INT32_MAX), p.shift < 0 ? -p.shift : 0, p.round);
    };
    x = {q31(q.even), q31(q.odd)};
  }
  const auto finish = [&](__m256i t) {
    t = _mm256_add_epi64(t, _mm256_set1_epi64x(p.zp));
    if (p.relu) t = max64(t, _mm256_set1_epi64x(p.zp));
    return clamp64(t, p.lo, p.hi);
  };
  const __m256i even = finish(x.even), odd = finish(x.odd);
  const __m256i v32 = _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi64x(0xFFFFFFFFll)), _mm256_slli_epi64(odd, 32));
  const __m256i v16 = _mm256_packs_epi32(v32, v32);  // exact: values are in [-128, 255]
  const __m256i v8 = is_unsigned ? _mm256_packus_epi16(v16, v16) : _mm256_packs_epi16(v16, v16);
  const __m128i bytes = _mm_unpacklo_epi32(_mm256_castsi256_si128(v8), _mm256_extracti128_si256(v8, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
}

/// The fast form for 8 lanes. Without a 64-bit arithmetic shift, x is offset by 2^62 (the
/// requantizer checked that x + 2^62 stays positive and below 2^63), shifted logically, and the
/// offset 2^(62 - shift) is folded into the clamp bounds.
inline void requant8_fast(const std::int32_t* acc, std::uint8_t* out, bool only_shift, __m256i m, __m256i add_even, __m256i add_odd,
                          int shift, __m256i lo, __m256i hi, __m256i offset, bool is_unsigned) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc));
  const __m256i one = _mm256_set1_epi32(1);
  __m256i even = _mm256_mul_epi32(a, only_shift ? one : m);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), only_shift ? one : _mm256_srli_epi64(m, 32));
  const __m128i count = _mm_cvtsi32_si128(shift);
  even = clamp64v(_mm256_srl_epi64(_mm256_add_epi64(even, add_even), count), lo, hi);
  odd = clamp64v(_mm256_srl_epi64(_mm256_add_epi64(odd, add_odd), count), lo, hi);
  even = _mm256_sub_epi64(even, offset);
  odd = _mm256_sub_epi64(odd, offset);
  const __m256i v32 = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  const __m256i v16 = _mm256_packs_epi32(v32, v32);
  const __m256i v8 = is_unsigned ? _mm256_packus_epi16(v16, v16) : _mm256_packs_epi16(v16, v16);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi32(_mm256_castsi256_si128(v8), _mm256_extracti128_si256(v8, 1)));
}

/// Lanes [0, 8) of an int64 array as the even and odd lanes of two vectors.
inline void load_split64(const std::int64_t* p, __m256i& even, __m256i& odd) {
  const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4));
  even = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(v0, v1), 0xD8);
  odd = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(v0, v1), 0xD8);
}

inline constexpr index_t requant_width = 8;

#else

inline constexpr index_t requant_width = 0;  // no vector kernel: the scalar formula everywhere

#endif

}  // namespace detail

/// A requant_spec made ready for many calls: validated, its per-channel constants and the choice
/// of kernel computed once. The spec's arrays must outlive it.
class requantizer {
 public:
  explicit requantizer(const requant_spec& spec) : s_(spec) {
    channels_ = static_cast<index_t>(std::max({spec.multiplier.size(), spec.rshift.size(), spec.bias.size(), std::size_t{1}}));
    validate(spec, channels_);
    lo_ = spec.out_type == elem::s8 ? -128 : 0;
    hi_ = spec.out_type == elem::s8 ? 127 : 255;
    relu_lo_ = spec.relu ? std::max(lo_, spec.zero_point) : lo_;
    exact_vector_ = detail::vector_kind(spec, kind_) && detail::requant_width > 0;
    const bool fast_mode = (kind_ == detail::row_params::multiplier_shift || kind_ == detail::row_params::only_shift) &&
                           (spec.round == quant::round_mode::half_up || spec.round == quant::round_mode::down);
    channel_.resize(static_cast<std::size_t>(channels_));
    lane_add_.resize(static_cast<std::size_t>(channels_));
    all_fast_ = exact_vector_ && fast_mode;
    for (index_t c = 0; c < channels_; ++c) {
      channel_info& ch = channel_[static_cast<std::size_t>(c)];
      ch.m = kind_ == detail::row_params::only_shift ? 1 : detail::pick(spec.multiplier, c, 1);
      ch.b = detail::pick(spec.bias, c, 0);
      ch.shift = detail::pick(spec.rshift, c, 0);
      if (kind_ == detail::row_params::qdm && spec.chip == quant::chip_family::cv18xx) ch.shift = -ch.shift;
      ch.fast = exact_vector_ && fast_mode && fast_constant(ch, spec, ch.add);
      lane_add_[static_cast<std::size_t>(c)] = ch.add;
      all_fast_ = all_fast_ && ch.fast && ch.shift == channel_[0].shift;
    }
  }

  const requant_spec& spec() const { return s_; }
  index_t channels() const { return channels_; }

  /// acc[r * ld_acc + c] -> out[r * ld_out + c] for rows [row0, row0 + rows) x columns [col0,
  /// col0 + cols) of the full matrix (they pick the channels).
  void run(const std::int32_t* acc, index_t ld_acc, index_t rows, index_t cols, index_t row0, index_t col0, void* out,
           index_t ld_out) const {
    const index_t last_channel = s_.channel_is_row ? row0 + rows : col0 + cols;
    if (channels_ > 1 && last_channel > channels_)
      throw error("int8 requant: channel " + std::to_string(last_channel - 1) + " of " + std::to_string(channels_));
    auto* o = static_cast<std::uint8_t*>(out);
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
    // per-row channels (a convolution tile): the fast form with its constants hoisted
    if (exact_vector_ && (s_.channel_is_row || channels_ == 1)) {
      const bool only_shift = kind_ == detail::row_params::only_shift;
      const __m512i lo = _mm512_set1_epi64(relu_lo_), hi = _mm512_set1_epi64(hi_);
      for (index_t r = 0; r < rows; ++r) {
        const channel_info& ch = channel_[static_cast<std::size_t>(channels_ == 1 ? 0 : row0 + r)];
        if (!ch.fast) {
          row(acc + r * ld_acc, o + r * ld_out, cols, row0 + r, col0);
          continue;
        }
        const __m512i m = _mm512_set1_epi32(static_cast<std::int32_t>(ch.m)), add = _mm512_set1_epi64(ch.add);
        const std::int32_t* a = acc + r * ld_acc;
        std::uint8_t* d = o + r * ld_out;
        for (index_t j = 0; j < cols; j += 16) detail::requant16_fast(a + j, d + j, cols - j, only_shift, m, add, add, ch.shift, lo, hi);
      }
      return;
    }
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
    if (exact_vector_ && (s_.channel_is_row || channels_ == 1)) {
      const bool only_shift = kind_ == detail::row_params::only_shift, is_unsigned = s_.out_type == elem::u8;
      for (index_t r = 0; r < rows; ++r) {
        const channel_info& ch = channel_[static_cast<std::size_t>(channels_ == 1 ? 0 : row0 + r)];
        if (!ch.fast || cols < 8) {
          row(acc + r * ld_acc, o + r * ld_out, cols, row0 + r, col0);
          continue;
        }
        const std::int64_t offset = std::int64_t{1} << (62 - ch.shift);
        const __m256i lo = _mm256_set1_epi64x(relu_lo_ + offset), hi = _mm256_set1_epi64x(hi_ + offset), off = _mm256_set1_epi64x(offset);
        const __m256i m = _mm256_set1_epi32(static_cast<std::int32_t>(ch.m)), add = _mm256_set1_epi64x(ch.add);
        const std::int32_t* a = acc + r * ld_acc;
        std::uint8_t* d = o + r * ld_out;
        index_t j = 0;
        for (; j + 8 <= cols; j += 8) detail::requant8_fast(a + j, d + j, only_shift, m, add, add, ch.shift, lo, hi, off, is_unsigned);
        for (; j < cols; ++j) d[j] = static_cast<std::uint8_t>(requant_value(a[j], row0 + r, s_));
      }
      return;
    }
#endif
    for (index_t r = 0; r < rows; ++r) row(acc + r * ld_acc, o + r * ld_out, cols, row0 + r, col0);
  }

 private:
  struct channel_info {
    std::int64_t m = 1, add = 0;
    std::int32_t b = 0, shift = 0;
    bool fast = false;
  };

  /// add = b m + 2^(shift-1) [HalfUp] + zp 2^shift, when acc m + add stays inside int64 for every
  /// int32 acc and shift is a right shift of 1..62 (AVX2 also needs x + 2^62 to stay below 2^63).
  static bool fast_constant(const channel_info& ch, const requant_spec& s, std::int64_t& add) {
#if defined(__SIZEOF_INT128__)
    if (ch.shift < 1 || ch.shift > 62) return false;
    using wide = __int128;
    const wide half = s.round == quant::round_mode::half_up ? wide{1} << (ch.shift - 1) : 0;
    const wide c = wide{ch.b} * ch.m + half + (wide{s.zero_point} << ch.shift);
    const wide offset = detail::requant_width == 8 ? wide{1} << 62 : 0;
    const wide limit = (wide{1} << 63) - 1;
    for (const wide a : {wide{INT32_MIN}, wide{INT32_MAX}}) {
      const wide x = a * ch.m + c + offset;
      if (x > limit || x < -limit || (offset != 0 && x < 0)) return false;
    }
    add = static_cast<std::int64_t>(c + offset);
    return true;
#else
    (void)ch;
    (void)s;
    (void)add;
    return false;
#endif
  }

  void row(const std::int32_t* acc, std::uint8_t* out, index_t n, index_t r, index_t col0) const {
    index_t done = 0;
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI || MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
    constexpr index_t W = detail::requant_width;
    const bool per_lane = !s_.channel_is_row && channels_ > 1;
    const channel_info& ch = channel_[static_cast<std::size_t>(channels_ == 1 ? 0 : per_lane ? col0 : r)];
    const bool only_shift = kind_ == detail::row_params::only_shift;
    if ((per_lane ? all_fast_ : ch.fast) && n >= (W == 8 ? 8 : 1)) {
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
      const __m512i lo = _mm512_set1_epi64(relu_lo_), hi = _mm512_set1_epi64(hi_);
      if (!per_lane) {
        const __m512i m = _mm512_set1_epi32(static_cast<std::int32_t>(ch.m)), add = _mm512_set1_epi64(ch.add);
        for (; done < n; done += W) detail::requant16_fast(acc + done, out + done, n - done, only_shift, m, add, add, ch.shift, lo, hi);
      } else {
        for (; done < n; done += W) {
          const index_t k = std::min(W, n - done);
          const index_t c0 = col0 + done;
          __m512i m = _mm512_set1_epi32(1);
          if (!only_shift)
            m = s_.multiplier.size() > 1
                    ? _mm512_maskz_loadu_epi32(static_cast<__mmask16>(k >= 16 ? 0xFFFFu : (1u << static_cast<unsigned>(k)) - 1u),
                                               s_.multiplier.data() + c0)
                    : _mm512_set1_epi32(static_cast<std::int32_t>(channel_[0].m));
          __m512i add_even, add_odd;
          detail::load_split64(lane_add_.data() + c0, k, add_even, add_odd);
          detail::requant16_fast(acc + done, out + done, k, only_shift, m, add_even, add_odd, channel_[0].shift, lo, hi);
        }
      }
      return;
#else
      const std::int64_t offset = std::int64_t{1} << (62 - ch.shift);
      const __m256i lo = _mm256_set1_epi64x(relu_lo_ + offset), hi = _mm256_set1_epi64x(hi_ + offset);
      const __m256i off = _mm256_set1_epi64x(offset);
      const bool is_unsigned = s_.out_type == elem::u8;
      if (!per_lane) {
        const __m256i m = _mm256_set1_epi32(static_cast<std::int32_t>(ch.m)), add = _mm256_set1_epi64x(ch.add);
        for (; done + W <= n; done += W) detail::requant8_fast(acc + done, out + done, only_shift, m, add, add, ch.shift, lo, hi, off, is_unsigned);
      } else {
        for (; done + W <= n; done += W) {
          const index_t c0 = col0 + done;
          const __m256i m = s_.multiplier.size() > 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s_.multiplier.data() + c0))
                                                     : _mm256_set1_epi32(static_cast<std::int32_t>(channel_[0].m));
          __m256i add_even, add_odd;
          detail::load_split64(lane_add_.data() + c0, add_even, add_odd);
          detail::requant8_fast(acc + done, out + done, only_shift, m, add_even, add_odd, channel_[0].shift, lo, hi, off, is_unsigned);
        }
      }
#endif
    } else if (exact_vector_ && (!per_lane || s_.rshift.size() == 1) && n >= W &&
               (kind_ == detail::row_params::qdm ? ch.shift <= 31 && ch.shift >= -63 : ch.shift >= -63)) {
      detail::row_params p{};
      p.kind = kind_;
      p.round = s_.round;
      p.shift = ch.shift;
      p.m_lane = per_lane && s_.multiplier.size() > 1 ? s_.multiplier.data() + col0 : nullptr;
      p.m_all = static_cast<std::int32_t>(ch.m);
      p.b_lane = per_lane && s_.bias.size() > 1 ? s_.bias.data() + col0 : nullptr;
      p.b_all = ch.b;
      p.zp = s_.zero_point;
      p.lo = lo_;
      p.hi = hi_;
      p.relu = s_.relu;
      for (; done + W <= n; done += W) {
        detail::row_params q = p;
        if (q.m_lane) q.m_lane += done;
        if (q.b_lane) q.b_lane += done;
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
        detail::requant16(acc + done, out + done, W, q);
#else
        detail::requant8(acc + done, out + done, q, s_.out_type == elem::u8);
#endif
      }
#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
      if (done < n) {  // masked tail
        detail::row_params q = p;
        if (q.m_lane) q.m_lane += done;
        if (q.b_lane) q.b_lane += done;
        detail::requant16(acc + done, out + done, n - done, q);
        done = n;
      }
#endif
    }
#else
    (void)r;
#endif
    for (index_t j = done; j < n; ++j)
      out[j] = static_cast<std::uint8_t>(requant_value(acc[j], s_.channel_is_row ? r : col0 + j, s_));
  }

  requant_spec s_;
  index_t channels_ = 1;
  detail::row_params::kind_t kind_{};
  bool exact_vector_ = false, all_fast_ = false;
  std::int32_t lo_ = -128, hi_ = 127, relu_lo_ = -128;
  std::vector<channel_info> channel_;
  std::vector<std::int64_t> lane_add_;
};

/// Requantizes rows [row0, row0 + rows) x columns [col0, col0 + cols) of an accumulator matrix:
/// acc[r * ld_acc + c] -> out[r * ld_out + c] (int8 or uint8 bytes per s.out_type). row0/col0 are
/// the block's position in the full matrix (they pick the channels). For repeated calls build a
/// requantizer once.
inline void requantize(const std::int32_t* acc, index_t ld_acc, index_t rows, index_t cols, index_t row0, index_t col0,
                       const requant_spec& s, void* out, index_t ld_out) {
  requantizer(s).run(acc, ld_acc, rows, cols, row0, col0, out, ld_out);
}

/// A gemm_output::finish that requantizes each finished tile into out (row stride ld_out); `rq`
/// must outlive the gemm call.
inline finish_fn requant_finish(const requantizer& rq, void* out, index_t ld_out) {
  return [&rq, out, ld_out](const std::int32_t* tile, index_t ld, index_t r0, index_t rows, index_t c0, index_t cols) {
    rq.run(tile, ld, rows, cols, r0, c0, static_cast<std::uint8_t*>(out) + r0 * ld_out + c0, ld_out);
  };
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
