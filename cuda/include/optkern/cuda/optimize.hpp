// Batches of native optimisation problems on a CUDA device: one problem per thread, the
// whole run (iterations, line searches, objective) inside one kernel, with the same
// algorithm code as the CPU (cpp/include/optkern/optimize/lbfgs_machine.hpp; with bounds the
// L-BFGS-B of lbfgsb_machine.hpp, which agrees with the CPU's lbfgsb.hpp). This pays for
// many small problems (thousands of problems of tens of variables); a large single problem
// belongs on the CPU.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "optkern/common.hpp"
#include "optkern/optimize/minimize.hpp"

namespace optkern::cuda {

// Runs L-BFGS (settings.method must be kLbfgs) on `problem` in n variables from each
// row of x0 (batch x n, row-major, on the device); L-BFGS-B when settings.lower and
// settings.upper are set: then they are device pointers to batch x n bounds laid out as x0
// (row b for problem b, -Inf / +Inf for no bound), which the caller has checked (no NaN,
// lower <= upper, lower < +Inf, upper > -Inf); rows of x0 are moved into their boxes.
// Writes the solutions into x (batch x n),
// f and g at them (batch, batch x n), and per problem nit, nfev and the status
// (optimize::Status). All pointers are device pointers; work space is allocated and freed in
// stream order. The work is queued on `stream` and not waited for.
// Throws std::invalid_argument for bad settings or problem sizes, optkern::cuda::Error on
// CUDA errors.
template <class T>
void minimize_problem_batch(const optimize::problems::ProblemSpec& problem,
                            const optimize::Settings<T>& settings, const T* x0, T* x, T* f, T* g,
                            std::int64_t* nit, std::int64_t* nfev, std::int32_t* status,
                            index_t batch, index_t n, cudaStream_t stream);

}  // namespace optkern::cuda
