// Batched matmul: picks a register tile for the product's width, then spreads the batch (and,
// for a few large products, each product) over the threads.
#include <omp.h>

#include <algorithm>
#include <memory>
#include <new>

#include "common/parallel_guard.hpp"
#include "linalg/gemm_kernel.hpp"
#include "optkern/linalg.hpp"
#include "optkern/threads.hpp"

namespace optkern {
namespace {

using detail::GemmKernel;
using detail::kSimdBytes;
using detail::kSimdRegisters;

// Offsets of batch item `index` in each operand (row-major order over the batch shape).
struct BatchOffsets {
  index_t a = 0, b = 0, c = 0;
};

template <class T>
BatchOffsets batch_offsets(index_t index, const BatchShape& batch, const MatrixBatch<const T>& a,
                           const MatrixBatch<const T>& b, const MatrixBatch<T>& c) {
  BatchOffsets off;
  for (int d = batch.ndim - 1; d >= 0; --d) {
    const index_t i = index % batch.extent[d];
    index /= batch.extent[d];
    off.a += i * a.batch_stride[d];
    off.b += i * b.batch_stride[d];
    off.c += i * c.batch_stride[d];
  }
  return off;
}

struct AlignedFree {
  void operator()(void* p) const { ::operator delete[](p, std::align_val_t(64)); }
};

template <class T>
std::unique_ptr<T[], AlignedFree> aligned_buffer(index_t n) {
  return std::unique_ptr<T[], AlignedFree>(
      static_cast<T*>(::operator new[](sizeof(T) * std::size_t(std::max<index_t>(n, 1)),
                                       std::align_val_t(64))));
}

template <class Kernel, class T>
void bmm_with(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
              const MatrixBatch<T>& c, int threads) {
  const index_t m = c.rows, n = c.cols, k = a.cols;
  const index_t count = batch.size();
  if (count == 0 || m == 0 || n == 0) return;

  // Threads only pay when there is enough work: about 32k multiply-adds per thread.
  const double work = double(count) * double(m) * double(n) * double(std::max<index_t>(k, 1));
  threads = detail::region_threads(
      int(std::max<double>(1.0, std::min<double>(threads, work / 32768.0))));

  // When the batch alone cannot keep the threads evenly busy, the whole team computes one
  // large product after the other, sharing each packed B panel and splitting C's rows.
  const bool team = threads > 1 && count % threads != 0 && count < 4 * index_t(threads) &&
                    m >= index_t(Kernel::MR) * threads &&
                    double(m) * double(n) * double(k) >= 64.0 * 64.0 * 64.0;
  if (team) {
    auto shared_b = aligned_buffer<T>(Kernel::b_buffer_size(k, n));
    detail::RegionErrors errors;
#pragma omp parallel num_threads(threads)
    {
      // run_team meets the team at barriers: every thread allocates first, and the team
      // starts only when all have their buffers (a thread that failed would miss a barrier).
      std::unique_ptr<T[], AlignedFree> a_buffer;
      errors.guard([&] { a_buffer = aligned_buffer<T>(Kernel::a_buffer_size(k)); });
#pragma omp barrier
      const int thread = omp_get_thread_num(), team_size = omp_get_num_threads();
      for (index_t item = 0; item < count && !errors.failed(); ++item) {
        const BatchOffsets off = batch_offsets(item, batch, a, b, c);
        Kernel::run_team(thread, team_size, m, n, k, a.data + off.a, a.row_stride, a.col_stride,
                         b.data + off.b, b.row_stride, b.col_stride, c.data + off.c,
                         c.row_stride, c.col_stride, shared_b.get(), a_buffer.get());
      }
    }
    errors.rethrow_if_failed();
    return;
  }

  detail::RegionErrors errors;
#pragma omp parallel num_threads(threads)
  {
    errors.guard([&] {
      auto b_buffer = aligned_buffer<T>(Kernel::b_buffer_size(k, n));
      auto a_buffer = aligned_buffer<T>(Kernel::a_buffer_size(k));
      // Items in static blocks, as `omp for schedule(static)` would, without its barrier.
      const index_t team_size = omp_get_num_threads(), thread = omp_get_thread_num();
      const index_t base = count / team_size, extra = count % team_size;
      const index_t begin = thread * base + std::min(thread, extra);
      const index_t end = begin + base + (thread < extra ? 1 : 0);
      for (index_t item = begin; item < end && !errors.failed(); ++item) {
        const BatchOffsets off = batch_offsets(item, batch, a, b, c);
        Kernel::run(m, n, k, a.data + off.a, a.row_stride, a.col_stride, b.data + off.b,
                    b.row_stride, b.col_stride, c.data + off.c, c.row_stride, c.col_stride,
                    b_buffer.get(), a_buffer.get());
      }
    });
  }
  errors.rethrow_if_failed();
}

template <class T>
void check_operands(const BatchShape& batch, const MatrixBatch<const T>& a,
                    const MatrixBatch<const T>& b, const MatrixBatch<T>& c) {
  require(batch.ndim >= 0 && batch.ndim <= kMaxBatchDims, "batch",
          "must have between 0 and " + std::to_string(kMaxBatchDims) + " dimensions");
  for (int d = 0; d < batch.ndim; ++d)
    require(batch.extent[d] >= 0, "batch", "extents must be non-negative");
  require(a.rows >= 0 && a.cols >= 0, "a", "sizes must be non-negative");
  require(b.rows >= 0 && b.cols >= 0, "b", "sizes must be non-negative");
  require(a.cols == b.rows, "b",
          "rows (" + std::to_string(b.rows) + ") must equal the columns of a (" +
              std::to_string(a.cols) + ")");
  require(c.rows == a.rows && c.cols == b.cols, "c",
          "must be " + std::to_string(a.rows) + " x " + std::to_string(b.cols));
  const bool empty = batch.size() == 0;
  require(empty || a.rows * a.cols == 0 || a.data != nullptr, "a", "data is null");
  require(empty || b.rows * b.cols == 0 || b.data != nullptr, "b", "data is null");
  require(empty || c.rows * c.cols == 0 || c.data != nullptr, "c", "data is null");
}

}  // namespace

template <class T>
void bmm(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
         const MatrixBatch<T>& c, int threads) {
  check_operands(batch, a, b, c);
  if (threads <= 0) threads = num_threads();

  // The register tile follows the width of C: a full tile of two vectors per row where C is
  // wide, one vector (or half of one) for narrow products, so that n = 4 wastes no lanes.
  constexpr int W = kSimdBytes / int(sizeof(T));
  constexpr int kWideRows = (kSimdRegisters - 4) / 2;  // 6 with 16 registers, 14 with 32
  constexpr int kNarrowRows = kSimdRegisters / 2;      // 8 with 16 registers, 16 with 32
  const index_t n = b.cols;
  if constexpr (kSimdBytes >= 32) {  // a half-width tile only where half a vector is 16 bytes
    if (n <= W / 2) {
      bmm_with<GemmKernel<T, kSimdBytes / 2, kNarrowRows, 1>>(batch, a, b, c, threads);
      return;
    }
  }
  if (n <= W) {
    bmm_with<GemmKernel<T, kSimdBytes, kNarrowRows, 1>>(batch, a, b, c, threads);
  } else {
    bmm_with<GemmKernel<T, kSimdBytes, kWideRows, 2>>(batch, a, b, c, threads);
  }
}

template <class T>
void bmm(index_t batch, index_t m, index_t n, index_t k, const T* a, const T* b, T* c,
         int threads) {
  require(batch >= 0, "batch", "must be non-negative");
  BatchShape shape;
  shape.ndim = 1;
  shape.extent[0] = batch;
  MatrixBatch<const T> va{a, m, k, k, 1, {m * k}};
  MatrixBatch<const T> vb{b, k, n, n, 1, {k * n}};
  MatrixBatch<T> vc{c, m, n, n, 1, {m * n}};
  bmm(shape, va, vb, vc, threads);
}

template <class T>
void matmul(const Eigen::Ref<const RowMatrix<T>>& a, const Eigen::Ref<const RowMatrix<T>>& b,
            Eigen::Ref<RowMatrix<T>> c, int threads) {
  BatchShape shape;  // zero batch dimensions: one product
  MatrixBatch<const T> va{a.data(), a.rows(), a.cols(), a.outerStride(), 1, {}};
  MatrixBatch<const T> vb{b.data(), b.rows(), b.cols(), b.outerStride(), 1, {}};
  MatrixBatch<T> vc{c.data(), c.rows(), c.cols(), c.outerStride(), 1, {}};
  bmm(shape, va, vb, vc, threads);
}

#define OPTKERN_INSTANTIATE_BMM(T)                                                          \
  template void bmm<T>(const BatchShape&, const MatrixBatch<const T>&,                      \
                       const MatrixBatch<const T>&, const MatrixBatch<T>&, int);            \
  template void bmm<T>(index_t, index_t, index_t, index_t, const T*, const T*, T*, int);    \
  template void matmul<T>(const Eigen::Ref<const RowMatrix<T>>&,                            \
                          const Eigen::Ref<const RowMatrix<T>>&, Eigen::Ref<RowMatrix<T>>, int);
OPTKERN_INSTANTIATE_BMM(float)
OPTKERN_INSTANTIATE_BMM(double)

}  // namespace optkern
