// What every OpenMP parallel region in optkern needs besides its work:
//
// * RegionErrors: an exception must not leave a worker thread (std::terminate would abort
//   the whole process, Python included). Each worker runs its share inside guard(); the first
//   exception is kept, the others stop taking work, and the calling thread rethrows it after
//   the region (std::bad_alloc then reaches Python as MemoryError, from any worker).
// * region_threads: the team size a region may ask for. In the child of a fork() (Python's
//   multiprocessing, torch DataLoader workers) the OpenMP runtime's thread pool belongs to the
//   parent, and GNU libgomp waits forever for threads that do not exist; there every region
//   runs on the calling thread alone (the same fallback as OpenBLAS after fork).
#pragma once

#include <atomic>
#include <exception>
#include <utility>

#include "optkern/threads.hpp"

namespace optkern::detail {

class RegionErrors {
 public:
  // Runs f() unless a worker has already failed; keeps the first exception f() throws.
  template <class F>
  void guard(F&& f) noexcept {
    if (failed()) return;
    try {
      std::forward<F>(f)();
    } catch (...) {
      record(std::current_exception());
    }
  }

  // Keeps `error` unless an earlier one was kept, and stops the other workers.
  void record(std::exception_ptr error) noexcept {
    if (!claimed_.exchange(true, std::memory_order_acq_rel)) first_ = std::move(error);
    failed_.store(true, std::memory_order_release);
  }

  // True once a worker has thrown: workers poll it between items and stop.
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

  // After the region (its closing barrier orders first_'s write before this read).
  void rethrow_if_failed() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> claimed_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

// The threads a parallel region may use when `requested` are wanted (see the file comment).
inline int region_threads(int requested) noexcept {
  return optkern::in_forked_child() ? 1 : (requested < 1 ? 1 : requested);
}

}  // namespace optkern::detail
