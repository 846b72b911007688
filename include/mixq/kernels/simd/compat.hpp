#pragma once
// The only place that knows which xsimd version is installed (Debian bookworm: 8.1.0).
// Kernels use `mixq::simd::arch` (the best ISA the translation unit is compiled for) and the
// wrappers below instead of version-specific xsimd names.
#include <array>  // xsimd 8.1's AVX-512BW header uses std::array without including it

// GCC 12 reports -W(maybe-)uninitialized inside its own AVX-512 intrinsic headers (the
// deliberately undefined vectors of _mm512_undefined_*) once xsimd's exp/log are instantiated;
// the diagnostic state that counts is the one in effect where those headers are parsed.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace mixq::simd {

using arch = xsimd::default_arch;
template <class T> using batch = xsimd::batch<T, arch>;
template <class T> inline constexpr std::size_t width = batch<T>::size;

/// Horizontal sum (xsimd 8: hadd; 9+: reduce_add).
template <class T, class A>
inline T reduce_add(const xsimd::batch<T, A>& b) {
#if XSIMD_VERSION_MAJOR < 9
  return xsimd::hadd(b);
#else
  return xsimd::reduce_add(b);
#endif
}

/// Horizontal max/min without reduce_max (absent in 8.1).
template <class T, class A>
inline T reduce_max(const xsimd::batch<T, A>& b) {
  alignas(64) T tmp[xsimd::batch<T, A>::size];
  b.store_aligned(tmp);
  T m = tmp[0];
  for (std::size_t i = 1; i < xsimd::batch<T, A>::size; ++i) m = tmp[i] > m ? tmp[i] : m;
  return m;
}
template <class T, class A>
inline T reduce_min(const xsimd::batch<T, A>& b) {
  alignas(64) T tmp[xsimd::batch<T, A>::size];
  b.store_aligned(tmp);
  T m = tmp[0];
  for (std::size_t i = 1; i < xsimd::batch<T, A>::size; ++i) m = tmp[i] < m ? tmp[i] : m;
  return m;
}

/// Reinterprets the bits of a batch as another element type of the same width.
template <class To, class From, class A>
inline xsimd::batch<To, A> bit_cast(const xsimd::batch<From, A>& b) {
#if XSIMD_VERSION_MAJOR < 11
  return xsimd::bitwise_cast<xsimd::batch<To, A>>(b);
#else
  return xsimd::bitwise_cast<To>(b);
#endif
}

/// Name of the instruction set the kernels were compiled for ("avx512bw", "avx2", "sse2"...).
inline const char* arch_name() { return arch::name(); }

}  // namespace mixq::simd
