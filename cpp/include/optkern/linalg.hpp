// The linalg area on the CPU: batched matrix multiplication, C[b] = A[b] @ B[b] over a
// (broadcast) batch, and batched tridiagonal solves (optkern/linalg/tridiagonal.hpp).
#pragma once

#include <Eigen/Core>

#include "optkern/common.hpp"
#include "optkern/linalg/tridiagonal.hpp"
#include "optkern/strided.hpp"

namespace optkern {

// C[b] = A[b] @ B[b] for every index b of `batch`. A is (m, k), B is (k, n), C is (m, n);
// any strides. C must not overlap A or B. Threaded over the batch and, when the batch is
// too small to keep every thread busy, within each product. num_threads = 0 means
// optkern::num_threads(). Throws std::invalid_argument on inconsistent sizes.
template <class T>
void bmm(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
         const MatrixBatch<T>& c, int num_threads = 0);

// The common case: `batch` contiguous row-major products (m, k) @ (k, n) -> (m, n).
template <class T>
void bmm(index_t batch, index_t m, index_t n, index_t k, const T* a, const T* b, T* c,
         int num_threads = 0);

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One product with Eigen types, through the same kernel: c = a * b.
template <class T>
void matmul(const Eigen::Ref<const RowMatrix<T>>& a, const Eigen::Ref<const RowMatrix<T>>& b,
            Eigen::Ref<RowMatrix<T>> c, int num_threads = 0);

}  // namespace optkern
