#include "optkern/threads.hpp"

#include <omp.h>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include <atomic>

namespace optkern {
namespace {
std::atomic<int> configured_threads{0};  // 0: follow OpenMP's default
std::atomic<bool> forked_child{false};

void after_fork_in_child() {
  forked_child.store(true, std::memory_order_relaxed);
  // Eigen and any other OpenMP user on this thread: one thread from here on.
  omp_set_num_threads(1);
}

#if defined(__unix__) || defined(__APPLE__)
// Registered when the library is loaded, before any fork that could matter.
[[maybe_unused]] const int fork_handler_registered =
    pthread_atfork(nullptr, nullptr, &after_fork_in_child);
#endif
}  // namespace

bool in_forked_child() { return forked_child.load(std::memory_order_relaxed); }

int num_threads() {
  if (in_forked_child()) return 1;
  const int n = configured_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

int set_num_threads(int n) {
  const int old = num_threads();
  configured_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
  return old;
}

}  // namespace optkern
