// Batched tridiagonal solves on the CPU: x = A^{-1} rhs for many systems at once, O(n) each.
// Part of optkern/linalg.hpp; kept free of Eigen so that the CUDA headers can include it.
#pragma once

#include "optkern/common.hpp"

namespace optkern {

// `batch` systems of size n. Row i of system b reads lower[i] (the entry in column i-1),
// diag[i] and upper[i] (column i+1) of that system's operand rows; lower[0] and upper[n-1]
// lie outside the matrix and are never read. Each operand is `batch` contiguous rows of n
// separated by its stride, which is n, or 0 for an operand shared by every system.
template <class T>
struct TridiagonalSystems {
  index_t batch = 0, n = 0;
  const T* lower = nullptr;
  const T* diag = nullptr;
  const T* upper = nullptr;
  const T* rhs = nullptr;
  index_t lower_stride = 0, diag_stride = 0, upper_stride = 0, rhs_stride = 0;
};

// Solves every system into x (batch rows of n, contiguous; it may alias rhs when rhs_stride
// is n). Thomas' algorithm (one forward, one backward sweep) wherever its multipliers stay
// bounded, which covers diagonally dominant and symmetric positive definite matrices;
// elsewhere Gaussian elimination with partial pivoting as LAPACK's xGTSV. float systems are
// solved in double. Threaded over the batch with num_threads (0: optkern::num_threads()).
// Returns the number of singular systems (a zero pivot even with pivoting): their rows of x
// are set to NaN, and *first_singular (when not null) receives the lowest such index.
template <class T>
index_t tridiagonal_solve(const TridiagonalSystems<T>& systems, T* x, int num_threads = 0,
                          index_t* first_singular = nullptr);

}  // namespace optkern
