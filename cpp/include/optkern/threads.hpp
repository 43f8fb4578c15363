// How many threads optkern's CPU kernels use.
#pragma once

namespace optkern {

// The number of threads a kernel uses when the caller does not say: OMP_NUM_THREADS or the
// number of cores unless set_num_threads() changed it. This is the one process-wide setting
// in optkern; it is atomic, so reading it from several threads at once is safe.
int num_threads();

// Sets the default thread count; n < 1 restores the OpenMP default. Returns the old value.
int set_num_threads(int n);

// True in the child of a fork() made after optkern was loaded. The OpenMP thread pool does
// not survive fork (GNU libgomp hangs in the child's next threaded region), so there every
// kernel runs on one thread: num_threads() returns 1 and set_num_threads() cannot raise it.
bool in_forked_child();

}  // namespace optkern
