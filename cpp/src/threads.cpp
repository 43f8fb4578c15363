#include "optkern/threads.hpp"

#include <omp.h>

#include <atomic>

namespace optkern {
namespace {
std::atomic<int> configured_threads{0};  // 0: follow OpenMP's default
}

int num_threads() {
  const int n = configured_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

int set_num_threads(int n) {
  const int old = num_threads();
  configured_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
  return old;
}

}  // namespace optkern
