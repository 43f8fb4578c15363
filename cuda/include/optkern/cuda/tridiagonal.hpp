// Batched tridiagonal solves on a CUDA device: moved to the linalg area
// (optkern/cuda/linalg.hpp); this header stays so that code including it keeps building.
#pragma once

#include "optkern/cuda/linalg.hpp"
