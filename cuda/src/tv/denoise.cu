// The exact 1-D TV prox on a CUDA device (optkern/cuda/tv.hpp).
//
// One thread per signal runs Condat's direct algorithm (detail/tv_condat.hpp), which needs no
// memory besides its signal: in the staged mapping a block of 32 threads loads its 32
// signals into shared memory with coalesced reads, each thread solves its row in place, and
// the block writes them back coalesced; in the direct mapping each thread walks its signal in
// global memory. Condat's algorithm is quadratic in the worst case, so each thread has a budget
// of rescanned samples (detail/tv_condat.hpp counts them); signals that exhaust it are queued for a second kernel that runs the taut string
// method (detail/tv_taut_string.hpp, linear in the worst case) in per-thread slots of scratch
// memory. Both compute in double.
#include <cfloat>

#include "common.cuh"
#include "optkern/cuda/tv.hpp"
#include "optkern/detail/tv_condat.hpp"
#include "optkern/detail/tv_lambda.hpp"
#include "optkern/detail/tv_taut_string.hpp"

namespace optkern::cuda {
namespace {

using namespace tv_kernels;
using Segment = detail::TautSegment<double>;

// A budget in rescanned samples (the CPU's is 256 + 3 per decided sample; this one is looser,
// since the fallback costs a second launch): Condat's rescans stay below a few per sample at
// small lam and grow with it; past this budget the taut string is cheaper.
inline index_t default_budget(index_t n) { return 32 * n + 1024; }

// Solves one signal in place in `row` (already holding x); false if it must be queued.
template <class T>
__device__ bool solve_row(index_t n, T* row, double lam, index_t budget) {
  if (!valid_lambda(lam)) {
    fill_nan(row, n);
    return true;
  }
  lam = detail::useful_lambda(n, row, lam);  // as the CPU solver: exact, and keeps accuracy
  if (lam == 0 || n == 1) return true;
  return detail::condat_denoise<double>(n, row, lam, row, budget);
}

template <class T>
__global__ void condat_staged(index_t batch, index_t n, const T* __restrict__ x,
                              const double* __restrict__ lam, index_t lam_stride,
                              T* __restrict__ y, index_t budget, FallbackQueue<Segment> queue) {
  extern __shared__ unsigned char shared_bytes[];
  T* rows = reinterpret_cast<T*>(shared_bytes);
  const int row_len = int(staged_row(n)), len = int(n);
  const index_t first = index_t(blockIdx.x) * kStagedSignals;
  const int count = int(batch - first < kStagedSignals ? batch - first : kStagedSignals);
  const int total = count * len;  // the block's signals are one contiguous stretch
  for (int e = threadIdx.x; e < total; e += blockDim.x)
    rows[(e / len) * row_len + e % len] = x[first * n + e];
  __syncthreads();
  if (int(threadIdx.x) < count) {
    const index_t b = first + threadIdx.x;
    if (!solve_row(n, rows + threadIdx.x * row_len, lam[b * lam_stride], budget)) queue.push(b);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < total; e += blockDim.x)
    y[first * n + e] = rows[(e / len) * row_len + e % len];
}

template <class T>
__global__ void condat_direct(index_t batch, index_t n, const T* __restrict__ x,
                              const double* __restrict__ lam, index_t lam_stride,
                              T* __restrict__ y, index_t budget, FallbackQueue<Segment> queue) {
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const T* xb = x + b * n;
  T* yb = y + b * n;
  const double given = lam[b * lam_stride];
  const double l = valid_lambda(given) ? detail::useful_lambda(n, xb, given) : given;
  if (!valid_lambda(l)) {
    fill_nan(yb, n);
  } else if (l == 0 || n == 1) {
    for (index_t k = 0; k < n; ++k) yb[k] = xb[k];
  } else if (!detail::condat_denoise<double>(n, xb, l, yb, budget)) {
    queue.push(b);
  }
}

// The queued signals, by the taut string, in slot `slot` of the queue's memory.
template <class T>
__global__ void taut_string_queued(index_t n, const T* __restrict__ x,
                                   const double* __restrict__ lam, index_t lam_stride,
                                   T* __restrict__ y, FallbackQueue<Segment> queue) {
  const index_t slot = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= queue.slots) return;
  const index_t count = index_t(*queue.count);
  Segment* upper = queue.slot_memory + slot * queue.slot_elements;
  Segment* lower = upper + n;
  for (index_t i = slot; i < count; i += queue.slots) {
    const index_t b = queue.items[i];
    const double l = detail::useful_lambda(n, x + b * n, lam[b * lam_stride]);  // queued: valid
    double scale = 1, unscale = 1, lam_scaled = l;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto no_growth = [](detail::TautChain<double>&) { return false; };  // n always fit
      const auto status = detail::taut_string_denoise(
          n, x + b * n, detail::ConstantWidth<double>{lam_scaled}, scale, unscale, y + b * n,
          detail::TautChain<double>{upper, upper + n}, detail::TautChain<double>{lower, lower + n},
          no_growth);
      if (status != detail::TautStatus::kOverflow) break;
      double largest = l;  // rescale by a power of two, exactly, as the CPU does
      for (index_t k = 0; k < n; ++k) largest = fmax(largest, fabs(double(x[b * n + k])));
      const int e = ilogb(largest) - 1;  // |x| * 2^-e < 4, and 2^e stays finite
      scale = ldexp(1.0, -e);
      unscale = ldexp(1.0, e);
      lam_scaled = ldexp(l, -e);
    }
  }
}

}  // namespace

std::size_t tv_denoise_scratch_bytes(index_t batch, index_t n) {
  ScratchCarver carver;
  carve_queue<Segment>(carver, batch, 2 * n);
  return carver.used();
}

template <class T>
void tv_denoise(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride, T* y,
                void* scratch, std::size_t scratch_bytes, cudaStream_t stream,
                TvMapping mapping, index_t condat_budget) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  if (batch == 0 || n == 0) return;
  require(x && y && lam && scratch, "x", "null pointer");
  check_scratch(scratch_bytes, tv_denoise_scratch_bytes(batch, n));
  ScratchCarver carver(scratch);
  const auto queue = carve_queue<Segment>(carver, batch, 2 * n);
  reset_queue(queue, stream);
  const index_t budget = condat_budget < 0 ? default_budget(n) : condat_budget;

  std::size_t shared = 0;
  if (use_staged(mapping, n, 1, sizeof(T), condat_staged<T>, &shared)) {
    condat_staged<T><<<blocks_for(batch, kStagedSignals), kStagedSignals, shared, stream>>>(
        batch, n, x, lam, lam_stride, y, budget, queue);
  } else {
    condat_direct<T><<<blocks_for(batch), kThreads, 0, stream>>>(batch, n, x, lam, lam_stride, y,
                                                                 budget, queue);
  }
  check(cudaGetLastError(), "tv_denoise kernel launch");
  taut_string_queued<T><<<blocks_for(queue.slots), kThreads, 0, stream>>>(n, x, lam, lam_stride,
                                                                          y, queue);
  check(cudaGetLastError(), "tv_denoise fallback launch");
}

template void tv_denoise<float>(index_t, index_t, const float*, const double*, index_t, float*,
                                void*, std::size_t, cudaStream_t, TvMapping, index_t);
template void tv_denoise<double>(index_t, index_t, const double*, const double*, index_t, double*,
                                 void*, std::size_t, cudaStream_t, TvMapping, index_t);

}  // namespace optkern::cuda
