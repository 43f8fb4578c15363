// Entropic optimal transport on a CUDA device: batched Sinkhorn with the CPU's semantics
// (optkern/ot.hpp), the iteration loop kept on the device.
#pragma once

#include <cuda_runtime_api.h>

#include "optkern/ot.hpp"

namespace optkern::cuda {

// All pointers of `problem` and of out.plan, out.f, out.g are device pointers; out.status is a
// host array of problem.batch entries, filled when the call returns (it waits for `stream`).
// Small problems run one thread block each, the whole solve in one launch; a problem too large
// for a block runs alone on a cooperative grid (grid-wide barriers between the phases of an
// iteration). Every iteration reads K (or M) from device memory once, as on the CPU.
// Throws std::invalid_argument for bad options or marginals and optkern::cuda::Error on CUDA
// errors.
template <class T>
void sinkhorn(const SinkhornProblem<T>& problem, const SinkhornOptions& options,
              const SinkhornOutput<T>& out, cudaStream_t stream);

// What the device's unbalanced solve reports per problem besides UnbalancedStatus: <M, P> and
// the objective <M, P> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b) (POT's
// total_cost), both in double from the plan as rounded to T.
struct UnbalancedValues {
  double cost = 0;
  double value = 0;
};

// Unbalanced Sinkhorn (optkern/ot/unbalanced.hpp) with the CPU's semantics: item k reads
// M + k * M_stride, a + k * a_stride, b + k * b_stride (a stride of 0 shares an operand) and
// writes plan (batch x m x n), f = reg F and g = reg G (batch x m, batch x n; 0 at zero
// weights) contiguously, all device pointers; status and values are host arrays of `batch`
// entries, filled when the call returns (it waits for `stream`). The iteration is always the
// log domain's (status.method is SinkhornMethod::log whatever options.method asks): the same
// iterates as the CPU's kernel domain, which cannot overflow. One thread block per problem,
// the whole solve in one launch. The weights are not checked here (finite, >= 0, positive
// sums: the caller's job). Throws std::invalid_argument for bad options and
// optkern::cuda::Error on CUDA errors.
template <class T>
void sinkhorn_unbalanced(index_t batch, index_t m, index_t n, const T* M, index_t M_stride,
                         const T* a, index_t a_stride, const T* b, index_t b_stride,
                         const UnbalancedOptions& options, T* plan, T* f, T* g,
                         UnbalancedStatus* status, UnbalancedValues* values, cudaStream_t stream);

// Sinkhorn between point clouds with the cost computed on the fly (optkern/ot/points.hpp),
// batched: item k reads x + k * x_stride (m x d), y + k * y_stride (n x d), a, b and init_g
// (float64, may be null) likewise, and writes f (batch x m) and g (batch x n) in float64; all
// device pointers. status is a host array of `batch` entries, filled when the call returns.
// Each problem's weights are scaled by a power of two to a mass in (0.5, 1] (exactly), as the
// Python CPU path does, and the results scaled back. A soft-min pass runs one thread block
// per tile of rows, each thread one row with an online log-sum-exp over tiles of the other
// cloud staged in shared memory (as KeOps does): O((m + n) d) memory, never m x n. The
// iteration runs in launches queued ahead, each skipping a problem that has stopped; the host
// reads the stopping flags every few iterations. Throws std::invalid_argument for bad options
// and optkern::cuda::Error on CUDA errors.
template <class T>
void sinkhorn_points(index_t batch, index_t m, index_t n, index_t d, const T* x, index_t x_stride,
                     const T* y, index_t y_stride, const T* a, index_t a_stride, const T* b,
                     index_t b_stride, const double* init_g, index_t init_g_stride,
                     const PointsOptions& options, double* f, double* g, PointsStatus* status,
                     cudaStream_t stream);

}  // namespace optkern::cuda
