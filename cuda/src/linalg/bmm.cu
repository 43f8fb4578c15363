// Batched matmul kernels: shared-memory tiles with register blocking, one thread block per
// (batch item, tile of C), every operand read through its own strides.
//
// A block of NT threads computes a BM x BN tile of C. Each step stages a BM x BK slice of A
// and a BK x BN slice of B in shared memory (loads coalesced along whichever stride of the
// operand is 1), then every thread accumulates a TM x TN sub-tile in registers. Thread (ty, tx)
// owns rows ty + i*(BM/TM) and columns tx + j*(BN/TN): neighbouring threads read neighbouring
// shared-memory words (no bank conflicts) and write neighbouring elements of C.
//
// Products of at most 64 outputs (n = 4, 8) use one thread per output element instead, reading
// A and B through the L1 cache: a tile would leave most of its threads idle.
#include <algorithm>
#include <string>

#include "optkern/cuda/linalg.hpp"
#include "optkern/cuda/runtime.hpp"

namespace optkern::cuda {
namespace {

struct Offsets {
  index_t a, b, c;
};

template <class T>
struct BmmArgs {
  BatchShape batch;
  MatrixBatch<const T> a, b;
  MatrixBatch<T> c;
};

template <class T>
__device__ Offsets batch_offsets(index_t item, const BmmArgs<T>& p) {
  Offsets off{0, 0, 0};
  for (int d = p.batch.ndim - 1; d >= 0; --d) {
    const index_t i = item % p.batch.extent[d];
    item /= p.batch.extent[d];
    off.a += i * p.a.batch_stride[d];
    off.b += i * p.b.batch_stride[d];
    off.c += i * p.c.batch_stride[d];
  }
  return off;
}

template <class T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN))
    bmm_tiled(const BmmArgs<T> p, index_t tiles_m, index_t tiles_n) {
  constexpr int NT = (BM / TM) * (BN / TN);
  constexpr int TX = BN / TN;  // threads along a row of the tile
  // +1 column of padding: the transposed stores of a row-major A slice hit distinct banks.
  __shared__ T As[BK][BM + 1];
  __shared__ T Bs[BK][BN + 1];

  index_t block = blockIdx.x;
  const index_t tile_n = block % tiles_n;
  block /= tiles_n;
  const index_t tile_m = block % tiles_m;
  const index_t item = block / tiles_m;
  const Offsets off = batch_offsets(item, p);

  const index_t m = p.c.rows, n = p.c.cols, k = p.a.cols;
  const index_t row0 = tile_m * BM, col0 = tile_n * BN;
  const T* __restrict__ A = p.a.data + off.a;
  const T* __restrict__ B = p.b.data + off.b;
  const index_t a_rs = p.a.row_stride, a_cs = p.a.col_stride;
  const index_t b_rs = p.b.row_stride, b_cs = p.b.col_stride;
  const bool a_k_fastest = a_cs == 1;  // walk memory in order for coalesced loads
  const bool b_n_fastest = b_cs == 1 || b_rs != 1;

  const int tid = threadIdx.x;
  const int tx = tid % TX, ty = tid / TX;
  T acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

  for (index_t k0 = 0; k0 < k; k0 += BK) {
    for (int e = tid; e < BM * BK; e += NT) {
      const int i = a_k_fastest ? e / BK : e % BM;
      const int q = a_k_fastest ? e % BK : e / BM;
      const index_t gi = row0 + i, gq = k0 + q;
      As[q][i] = (gi < m && gq < k) ? A[gi * a_rs + gq * a_cs] : T(0);
    }
    for (int e = tid; e < BK * BN; e += NT) {
      const int j = b_n_fastest ? e % BN : e / BK;
      const int q = b_n_fastest ? e / BN : e % BK;
      const index_t gj = col0 + j, gq = k0 + q;
      Bs[q][j] = (gj < n && gq < k) ? B[gq * b_rs + gj * b_cs] : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int q = 0; q < BK; ++q) {
      T ar[TM], br[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) ar[i] = As[q][ty + i * (BM / TM)];
#pragma unroll
      for (int j = 0; j < TN; ++j) br[j] = Bs[q][tx + j * TX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += ar[i] * br[j];
    }
    __syncthreads();
  }

  T* __restrict__ C = p.c.data + off.c;
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const index_t gi = row0 + ty + i * (BM / TM);
    if (gi >= m) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const index_t gj = col0 + tx + j * TX;
      if (gj < n) C[gi * p.c.row_stride + gj * p.c.col_stride] = acc[i][j];
    }
  }
}

// One thread per element of C, for products too small to fill a tile.
template <class T>
__global__ void bmm_per_element(const BmmArgs<T> p, index_t total) {
  const index_t idx = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const index_t m = p.c.rows, n = p.c.cols, k = p.a.cols;
  const index_t j = idx % n;
  const index_t i = (idx / n) % m;
  const Offsets off = batch_offsets(idx / (m * n), p);
  const T* A = p.a.data + off.a + i * p.a.row_stride;
  const T* B = p.b.data + off.b + j * p.b.col_stride;
  T sum = T(0);
  for (index_t q = 0; q < k; ++q) sum += A[q * p.a.col_stride] * B[q * p.b.row_stride];
  p.c.data[off.c + i * p.c.row_stride + j * p.c.col_stride] = sum;
}

template <class T, int BM, int BN, int BK, int TM, int TN>
void launch_tiled(const BmmArgs<T>& p, index_t count, cudaStream_t stream) {
  const index_t tiles_m = (p.c.rows + BM - 1) / BM;
  const index_t tiles_n = (p.c.cols + BN - 1) / BN;
  const index_t blocks = count * tiles_m * tiles_n;
  require(blocks <= 0x7fffffff, "batch", "too many matrices for one launch");
  constexpr int threads = (BM / TM) * (BN / TN);
  bmm_tiled<T, BM, BN, BK, TM, TN>
      <<<unsigned(blocks), threads, 0, stream>>>(p, tiles_m, tiles_n);
}

}  // namespace

template <class T>
void bmm(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
         const MatrixBatch<T>& c, cudaStream_t stream) {
  require(batch.ndim >= 0 && batch.ndim <= kMaxBatchDims, "batch",
          "must have between 0 and " + std::to_string(kMaxBatchDims) + " dimensions");
  require(a.cols == b.rows, "b", "rows must equal the columns of a");
  require(c.rows == a.rows && c.cols == b.cols, "c", "must be a.rows x b.cols");
  const index_t count = batch.size();
  if (count == 0 || c.rows == 0 || c.cols == 0) return;

  const BmmArgs<T> p{batch, a, b, c};
  const index_t m = c.rows, n = c.cols, k = a.cols;
  if (m * n <= 64 && k <= 64) {
    const index_t total = count * m * n;
    const int threads = 256;
    const index_t blocks = (total + threads - 1) / threads;
    require(blocks <= 0x7fffffff, "batch", "too many matrices for one launch");
    bmm_per_element<T><<<unsigned(blocks), threads, 0, stream>>>(p, total);
  } else if (std::max(m, n) <= 16) {
    launch_tiled<T, 16, 16, 16, 1, 1>(p, count, stream);
  } else if (std::max(m, n) <= 32) {
    launch_tiled<T, 32, 32, 16, 2, 2>(p, count, stream);
  } else if (sizeof(T) == 8 || std::max(m, n) <= 64) {
    launch_tiled<T, 64, 64, 16, 4, 4>(p, count, stream);
  } else {
    launch_tiled<T, 128, 128, 8, 8, 8>(p, count, stream);
  }
  check(cudaGetLastError(), "bmm kernel launch");
}

template void bmm<float>(const BatchShape&, const MatrixBatch<const float>&,
                         const MatrixBatch<const float>&, const MatrixBatch<float>&, cudaStream_t);
template void bmm<double>(const BatchShape&, const MatrixBatch<const double>&,
                          const MatrixBatch<const double>&, const MatrixBatch<double>&,
                          cudaStream_t);

}  // namespace optkern::cuda
