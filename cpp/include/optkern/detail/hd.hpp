// OPTKERN_HD marks the header-only per-system kernels that the CPU sources and the CUDA kernels
// share: __host__ __device__ under nvcc, nothing in a plain C++ build (no CUDA headers needed).
#pragma once

#if defined(__CUDACC__)
#define OPTKERN_HD __host__ __device__
#else
#define OPTKERN_HD
#endif
