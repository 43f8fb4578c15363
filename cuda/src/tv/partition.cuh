// One long tridiagonal system per CUDA block: the partition method of
// optkern/linalg/tridiagonal_partition.hpp with the block's threads as its workers. Used where there
// are too few systems to keep the device busy with one thread per system.
#pragma once

#include <cuda_runtime_api.h>

#include "common.cuh"
#include "optkern/linalg/tridiagonal_partition.hpp"
#include "optkern/linalg/tridiagonal_system.hpp"

namespace optkern::cuda::tv_kernels {

// Workers for a system of n rows: about 64 rows each, a multiple of 32, at most 512, and
// never more than (n + 1) / 2 (every chunk needs a row).
inline int partition_workers(index_t n) {
  index_t p = (n / 64) / 32 * 32;
  p = p < 32 ? 32 : (p > 512 ? 512 : p);
  while (p > 1 && 2 * p - 1 > n) p /= 2;
  return int(p);
}

// Whether `batch` systems of n rows are better solved one per block: long systems, and not
// enough of them to give every SM a few.
inline bool prefer_partition(index_t batch, index_t n) {
  if (n < 2048) return false;
  int device = 0, sms = 1;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count");
  return batch <= 4 * index_t(sms);
}

// Shared memory of block_partition_solve: the reduced system and its solve, 7 arrays.
template <class Acc>
std::size_t partition_shared_bytes(int workers) {
  return 7 * std::size_t(workers) * sizeof(Acc);
}

// Solves A x = rhs (n >= 2 * blockDim.x - 1 rows) with the calling block. work: 4n of global
// memory for this system; shared: partition_shared_bytes. Every thread must call it; it
// returns the same answer in all of them: false if an elimination was not stable (x is then
// unspecified and the caller solves another way).
template <class Acc, class L, class D, class U, class B, class X>
__device__ bool block_partition_solve(index_t n, const L& lower, const D& diag, const U& upper,
                                      const B& rhs, const X& x, Acc* work, Acc* shared) {
  __shared__ int failed;
  const index_t workers = blockDim.x, c = threadIdx.x;
  Acc *cprime = work, *g = work + n, *e = g + n, *f = e + n;
  Acc *red_lower = shared, *red_diag = red_lower + workers, *red_upper = red_diag + workers;
  Acc *red_rhs = red_upper + workers, *separators = red_rhs + workers;
  Acc *red_cprime = separators + workers, *red_rprime = red_cprime + workers;
  if (c == 0) failed = 0;
  __syncthreads();
  if (!detail::partition_chunk<Acc>(c, workers, n, lower, diag, upper, rhs, cprime, g, e, f))
    failed = 1;
  __syncthreads();
  if (failed) return false;
  if (c >= 1)
    detail::partition_reduced_row<Acc>(c, workers, n, lower, diag, upper, rhs, g, e, f,
                                       red_lower, red_diag, red_upper, red_rhs);
  __syncthreads();
  if (c == 0 && !detail::thomas_solve<Acc>(workers - 1, red_lower, red_diag, red_upper, red_rhs,
                                           separators, red_cprime, red_rprime))
    failed = 1;
  __syncthreads();
  if (failed) return false;
  detail::partition_finish<Acc>(c, workers, n, g, e, f, separators, x);
  __syncthreads();
  return true;
}

}  // namespace optkern::cuda::tv_kernels
