// Batched tridiagonal solves: moved to the linalg area (optkern/linalg.hpp); this header stays
// so that code including <optkern/tridiagonal.hpp> keeps building.
#pragma once

#include "optkern/linalg/tridiagonal.hpp"
