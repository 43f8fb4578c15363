// Batched tridiagonal solves on a CUDA device (optkern/cuda/linalg.hpp).
//
// Many systems: one thread per system runs Thomas' algorithm with the CPU's growth guard
// (linalg/tridiagonal_system.hpp), its two working arrays interleaved across systems so that a
// warp's accesses coalesce. Systems the guard rejects are queued for a second kernel that runs
// Gaussian elimination with partial pivoting in per-thread slots of scratch memory.
// Few long systems: one block per system runs the partition method (partition.cuh), and its
// first thread falls back to pivoting if an elimination is unstable.
// Singular systems come out as NaN and are counted in `status`.
#include <cstdint>

#include "../tv/common.cuh"
#include "optkern/cuda/linalg.hpp"
#include "../tv/partition.cuh"
#include "optkern/linalg/tridiagonal_system.hpp"

namespace optkern::cuda {
namespace {

using namespace tv_kernels;

template <class T>
struct Operands {
  TridiagonalSystems<T> s;
  __device__ const T* lower(index_t b) const { return s.lower + b * s.lower_stride; }
  __device__ const T* diag(index_t b) const { return s.diag + b * s.diag_stride; }
  __device__ const T* upper(index_t b) const { return s.upper + b * s.upper_stride; }
  __device__ const T* rhs(index_t b) const { return s.rhs + b * s.rhs_stride; }
};

__device__ void record_singular(index_t* status, index_t b) {
  if (!status) return;
  atomicAdd(reinterpret_cast<unsigned long long*>(status), 1ull);
  atomicMin(reinterpret_cast<long long*>(status + 1), static_cast<long long>(b));
}

template <class T>
__global__ void init_status(index_t* status) {
  status[0] = 0;
  status[1] = INT64_MAX;
}

template <class T>
__global__ void finish_status(index_t* status) {
  if (status[1] == INT64_MAX) status[1] = -1;
}

template <class T>
__global__ void thomas_per_system(Operands<T> ops, T* __restrict__ x, T* work,
                                  FallbackQueue<T> queue) {
  const index_t batch = ops.s.batch, n = ops.s.n;
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const detail::Strided<T> cprime{work + b, batch}, rprime{work + n * batch + b, batch};
  if (!detail::thomas_solve<T>(n, ops.lower(b), ops.diag(b), ops.upper(b), ops.rhs(b), x + b * n,
                               cprime, rprime))
    queue.push(b);
}

template <class T>
__global__ void gepp_queued(Operands<T> ops, T* __restrict__ x, index_t* status,
                            FallbackQueue<T> queue) {
  const index_t slot = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= queue.slots) return;
  const index_t n = ops.s.n, count = index_t(*queue.count);
  T* w = queue.slot_memory + slot * queue.slot_elements;
  for (index_t i = slot; i < count; i += queue.slots) {
    const index_t b = queue.items[i];
    if (!detail::gepp_solve<T>(n, ops.lower(b), ops.diag(b), ops.upper(b), ops.rhs(b), x + b * n,
                               w, w + n, w + 2 * n, w + 3 * n)) {
      fill_nan(x + b * n, n);
      record_singular(status, b);
    }
  }
}

// One block per system; work holds 4n per system (the partition's arrays, or pivoting's).
template <class T>
__global__ void partition_per_block(Operands<T> ops, T* __restrict__ x, T* work,
                                    index_t* status) {
  extern __shared__ unsigned char shared_bytes[];
  const index_t n = ops.s.n, b = blockIdx.x;
  T* w = work + b * 4 * n;
  T* xb = x + b * n;
  if (block_partition_solve<T>(n, ops.lower(b), ops.diag(b), ops.upper(b), ops.rhs(b), xb, w,
                               reinterpret_cast<T*>(shared_bytes)))
    return;
  if (threadIdx.x == 0 && !detail::gepp_solve<T>(n, ops.lower(b), ops.diag(b), ops.upper(b),
                                                  ops.rhs(b), xb, w, w + n, w + 2 * n, w + 3 * n)) {
    fill_nan(xb, n);
    record_singular(status, b);
  }
}

// The scratch of the one-thread-per-system path: two interleaved arrays and the queue.
template <class T>
FallbackQueue<T> carve(ScratchCarver& carver, index_t batch, index_t n, T** work) {
  if (prefer_partition(batch, n)) {
    *work = carver.take<T>(4 * batch * n);
    return FallbackQueue<T>{};
  }
  *work = carver.take<T>(2 * batch * n);
  return carve_queue<T>(carver, batch, 4 * n);
}

}  // namespace

template <class T>
std::size_t tridiagonal_solve_scratch_bytes(index_t batch, index_t n) {
  ScratchCarver carver;
  T* work;
  carve<T>(carver, batch, n, &work);
  return carver.used();
}

template <class T>
void tridiagonal_solve(const TridiagonalSystems<T>& s, T* x, index_t* status, void* scratch,
                       std::size_t scratch_bytes, cudaStream_t stream) {
  require(s.batch >= 0 && s.n >= 0, "n", "sizes must be non-negative");
  const index_t strides[] = {s.lower_stride, s.diag_stride, s.upper_stride, s.rhs_stride};
  for (index_t stride : strides)
    require(stride == 0 || stride == s.n, "stride", "must be 0 (shared) or n");
  if (status) {
    init_status<T><<<1, 1, 0, stream>>>(status);
    check(cudaGetLastError(), "tridiagonal_solve status");
  }
  if (s.batch > 0 && s.n > 0) {
    require(s.lower && s.diag && s.upper && s.rhs && x && scratch, "x", "null pointer");
    check_scratch(scratch_bytes, tridiagonal_solve_scratch_bytes<T>(s.batch, s.n));
    ScratchCarver carver(scratch);
    T* work;
    const auto queue = carve<T>(carver, s.batch, s.n, &work);
    const Operands<T> ops{s};
    if (prefer_partition(s.batch, s.n)) {
      const int workers = partition_workers(s.n);
      partition_per_block<T><<<unsigned(s.batch), workers, partition_shared_bytes<T>(workers),
                               stream>>>(ops, x, work, status);
      check(cudaGetLastError(), "tridiagonal_solve kernel launch");
    } else {
      reset_queue(queue, stream);
      thomas_per_system<T><<<blocks_for(s.batch), kThreads, 0, stream>>>(ops, x, work, queue);
      check(cudaGetLastError(), "tridiagonal_solve kernel launch");
      gepp_queued<T><<<blocks_for(queue.slots), kThreads, 0, stream>>>(ops, x, status, queue);
      check(cudaGetLastError(), "tridiagonal_solve fallback launch");
    }
  }
  if (status) {
    finish_status<T><<<1, 1, 0, stream>>>(status);
    check(cudaGetLastError(), "tridiagonal_solve status");
  }
}

template std::size_t tridiagonal_solve_scratch_bytes<float>(index_t, index_t);
template std::size_t tridiagonal_solve_scratch_bytes<double>(index_t, index_t);
template void tridiagonal_solve<float>(const TridiagonalSystems<float>&, float*, index_t*, void*,
                                       std::size_t, cudaStream_t);
template void tridiagonal_solve<double>(const TridiagonalSystems<double>&, double*, index_t*,
                                        void*, std::size_t, cudaStream_t);

}  // namespace optkern::cuda
