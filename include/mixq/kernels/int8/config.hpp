#pragma once
// Which instruction set the int8 kernels (namespace mixq::int8) are compiled for. As with the
// float kernels, the choice is the including translation unit's ISA, made by the preprocessor:
//
//   avx512_vnni  AVX-512 F/BW/VL + VNNI: vpdpbusd, 64 u8 x s8 products per instruction
//   avx2         vpmaddwd on int16 (no int8 dot product before VNNI; see gemm.hpp for why not
//                vpmaddubsw)
//   sse2         pmaddwd on int16, 128-bit
//   scalar       plain C++ (non-x86)
//
// MIXQ_INT8_MAX_ISA (0 scalar, 1 sse2, 2 avx2, 3 avx512_vnni), defined before the first include,
// caps the choice below what the TU could use. Everything ISA-dependent lives in an inline
// namespace named after the ISA (mixq::int8::avx2::...), so translation units built for
// different ISAs link together without violating the one-definition rule: mixq's tests build
// every path into one program this way.
#include <cstdint>

#define MIXQ_INT8_ISA_SCALAR 0
#define MIXQ_INT8_ISA_SSE2 1
#define MIXQ_INT8_ISA_AVX2 2
#define MIXQ_INT8_ISA_AVX512_VNNI 3

#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512F__)
#define MIXQ_INT8_ISA_AVAILABLE MIXQ_INT8_ISA_AVX512_VNNI
#elif defined(__AVX2__)
#define MIXQ_INT8_ISA_AVAILABLE MIXQ_INT8_ISA_AVX2
#elif defined(__SSE2__)
#define MIXQ_INT8_ISA_AVAILABLE MIXQ_INT8_ISA_SSE2
#else
#define MIXQ_INT8_ISA_AVAILABLE MIXQ_INT8_ISA_SCALAR
#endif

#if defined(MIXQ_INT8_MAX_ISA) && MIXQ_INT8_MAX_ISA < MIXQ_INT8_ISA_AVAILABLE
#define MIXQ_INT8_ISA MIXQ_INT8_MAX_ISA
#else
#define MIXQ_INT8_ISA MIXQ_INT8_ISA_AVAILABLE
#endif

#if MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX512_VNNI
#define MIXQ_INT8_ISA_NAMESPACE avx512_vnni
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_AVX2
#define MIXQ_INT8_ISA_NAMESPACE avx2
#elif MIXQ_INT8_ISA == MIXQ_INT8_ISA_SSE2
#define MIXQ_INT8_ISA_NAMESPACE sse2
#else
#define MIXQ_INT8_ISA_NAMESPACE scalar
#endif

#if MIXQ_INT8_ISA >= MIXQ_INT8_ISA_SSE2
// GCC 12 reports -W(maybe-)uninitialized inside its own AVX-512 intrinsic headers (their
// deliberately undefined vectors); the state that counts is the one where they are parsed.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

namespace mixq::int8 {
inline namespace MIXQ_INT8_ISA_NAMESPACE {

using index_t = std::int64_t;

/// The element type of an int8 operand: TPU-MLIR stores activations as si8 or ui8 (a non-negative
/// calibrated range), weights as si8 (ui8 for an all-non-negative filter without bias).
enum class elem : std::uint8_t { s8, u8 };

/// The ISA this translation unit's int8 kernels use.
enum class isa : std::uint8_t { scalar, sse2, avx2, avx512_vnni };
inline constexpr isa compiled_isa = static_cast<isa>(MIXQ_INT8_ISA);

inline constexpr const char* isa_name() {
  switch (compiled_isa) {
    case isa::avx512_vnni: return "avx512_vnni";
    case isa::avx2: return "avx2";
    case isa::sse2: return "sse2";
    case isa::scalar: break;
  }
  return "scalar";
}

/// An operand element as the integer it stands for.
inline constexpr std::int32_t value_of(std::uint8_t byte, elem type) {
  return type == elem::s8 ? static_cast<std::int32_t>(static_cast<std::int8_t>(byte)) : static_cast<std::int32_t>(byte);
}

}  // namespace MIXQ_INT8_ISA_NAMESPACE
}  // namespace mixq::int8
