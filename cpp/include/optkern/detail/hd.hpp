// OPTKERN_HD marks the header-only per-system kernels that the CPU sources and the CUDA kernels
// share: __host__ __device__ under nvcc, nothing in a plain C++ build (no CUDA headers needed).
#pragma once

#if defined(__CUDACC__)
#define OPTKERN_HD __host__ __device__
// The large steps of a device state machine: kept as separate functions on the device, where
// inlining them all into one kernel made ptxas take minutes per architecture.
#define OPTKERN_HD_NOINLINE __host__ __device__ __noinline__
#else
#define OPTKERN_HD
#define OPTKERN_HD_NOINLINE
#endif

namespace optkern::detail {

// max and min without std::fmax's NaN rules, which GCC compiles to a libm call per use
// (a quarter of the IRLS sweep's time); the kernels see finite values only.
template <class T>
OPTKERN_HD inline T max_of(T a, T b) {
  return a > b ? a : b;
}

template <class T>
OPTKERN_HD inline T min_of(T a, T b) {
  return a < b ? a : b;
}

}  // namespace optkern::detail
