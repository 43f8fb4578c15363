// Portable SIMD vectors (GCC/Clang vector extensions) for the CPU kernels.
// The compiler maps them onto the widest registers of the level being compiled (the kernels are
// built once per level, see optkern/simd.hpp): AVX-512, AVX2/FMA, SSE or NEON, so one kernel
// source serves every CPU.
#pragma once

#include <cstring>

namespace optkern::detail {

#if defined(__AVX512F__)
inline constexpr int kSimdBytes = 64;
#elif defined(__AVX__)
inline constexpr int kSimdBytes = 32;
#else
inline constexpr int kSimdBytes = 16;
#endif

// Registers the micro-kernels may fill with accumulators (the rest hold B rows and one
// broadcast): x86-64 has 32 vector registers with AVX-512 and 16 before it.
#if defined(__AVX512F__) || defined(__aarch64__)
inline constexpr int kSimdRegisters = 32;
#else
inline constexpr int kSimdRegisters = 16;
#endif

// SimdVec<T, Bytes>::type is a vector of Bytes / sizeof(T) lanes. load_vec/store_vec move it
// from and to any address aligned for T (memcpy compiles to one unaligned vector move).
template <class T, int Bytes>
struct SimdVec;

#define OPTKERN_SIMD_VEC(T, BYTES)                                                        \
  template <>                                                                             \
  struct SimdVec<T, BYTES> {                                                              \
    typedef T type __attribute__((vector_size(BYTES)));                                  \
  };
// 8 bytes: the half-width vectors of the 16-byte (SSE, NEON) path.
OPTKERN_SIMD_VEC(float, 8)
OPTKERN_SIMD_VEC(float, 16)
OPTKERN_SIMD_VEC(float, 32)
OPTKERN_SIMD_VEC(float, 64)
OPTKERN_SIMD_VEC(double, 8)
OPTKERN_SIMD_VEC(double, 16)
OPTKERN_SIMD_VEC(double, 32)
OPTKERN_SIMD_VEC(double, 64)
#undef OPTKERN_SIMD_VEC

template <class V, class T>
inline V load_vec(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <class V, class T>
inline void store_vec(T* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

}  // namespace optkern::detail
