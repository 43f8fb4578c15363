// How many threads optkern's CPU kernels use.
#pragma once

namespace optkern {

// The number of threads a kernel uses when the caller does not say: OMP_NUM_THREADS or the
// number of cores unless set_num_threads() changed it. This is the one process-wide setting
// in optkern; it is atomic, so reading it from several threads at once is safe.
int num_threads();

// Sets the default thread count; n < 1 restores the OpenMP default. Returns the old value.
int set_num_threads(int n);

}  // namespace optkern
