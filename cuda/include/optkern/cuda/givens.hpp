// Algorithm 1 of Frerix & Bruna (ICML 2019) on a CUDA device, with the step loop on the device.
//
// The same decisions as optkern::givens::L1Descent (same formulas, rotation_math.hpp; same
// ties), so the CPU and the GPU produce the same trajectory up to rounding in the sums.
// A step is two kernels: one block picks the best pair from per-row maxima (after folding in
// the previous step's re-scored pairs), records the factor and rotates the two rows; then one
// block per touched pair re-scores it (sort the d breakpoints in shared memory, scan, take
// the minimum). Steps are captured once into a CUDA graph and replayed; kernels turn into
// no-ops once the engine stops, and the host only synchronises once per chunk of steps to
// copy the trajectory out.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "optkern/common.hpp"

namespace optkern::cuda::givens {

// Largest d the shared-memory sort supports.
inline constexpr index_t kMaxDim = 4096;

template <class T>
class L1Descent {
 public:
  // u: device pointer to a d x d row-major matrix, read on `stream` (the engine then works on
  // a stream of its own). Scores all pairs before returning. Throws std::invalid_argument for
  // d < 2 or d > kMaxDim, optkern::cuda::Error on CUDA errors.
  L1Descent(const T* u, index_t d, cudaStream_t stream);
  ~L1Descent();
  L1Descent(const L1Descent&) = delete;
  L1Descent& operator=(const L1Descent&) = delete;

  // Takes up to max_steps steps and writes their factors to the host arrays; returns how many
  // were taken (fewer means converged()).
  index_t run(index_t max_steps, index_t* i, index_t* j, T* theta, double* score);
  bool converged() const { return converged_; }
  index_t dim() const { return d_; }
  void matrix(T* host) const;  // the working matrix G_k^T ... G_1^T U, copied to the host

 private:
  struct Device;
  void launch_steps(int steps);
  index_t d_;
  bool converged_ = false;
  Device* dev_ = nullptr;
};

}  // namespace optkern::cuda::givens
