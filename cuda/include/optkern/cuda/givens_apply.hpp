// Applying a GivensSequence on the GPU, layer by layer (see GivensSequence.layers): the
// factors of one layer touch disjoint rows, so every (pair, column) of a layer is independent
// and the layers run one after the other.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "optkern/common.hpp"

namespace optkern::cuda::givens {

// x <- G_1 ... G_n x (transpose = false) or x <- G_n^T ... G_1^T x (transpose = true), in place,
// for `batch` row-major (d, cols) matrices one after the other in device memory. The factors
// (device arrays of n entries) are in layer order: layer l holds factors
// layer_start[l] .. layer_start[l+1]-1 (a host array of n_layers + 1 offsets), with disjoint
// rows i[k] < j[k] < d inside a layer. When a column's d entries fit in shared memory, one
// kernel runs every layer on a tile of columns (a barrier between layers); otherwise one
// kernel per layer works in global memory. Queued on `stream`; throws optkern::cuda::Error.
template <class T>
void apply_layers(const std::int64_t* i, const std::int64_t* j, const T* cos, const T* sin,
                  const std::int64_t* layer_start, index_t n_layers, T* x, index_t batch,
                  index_t d, index_t cols, bool transpose, cudaStream_t stream);

}  // namespace optkern::cuda::givens
