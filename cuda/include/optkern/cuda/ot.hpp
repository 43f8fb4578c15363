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

}  // namespace optkern::cuda
