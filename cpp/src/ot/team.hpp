// A team of threads working on one problem inside an OpenMP parallel region: its size, this
// thread's rank, contiguous shares of a range, and barriers that vanish for a team of one
// (a problem solved by a single thread while the other threads of the region solve others).
//
// A member that throws between two barriers would leave its partners waiting forever at the
// next one. So a team's work runs inside run_in_team(): the first failure is kept and breaks
// the barrier, and every partner waiting there (or arriving later) unwinds with TeamBroken,
// which is dropped; the region then ends normally and the caller rethrows the failure.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "common/parallel_guard.hpp"
#include "optkern/common.hpp"

namespace optkern::detail {

// Thrown by SpinBarrier::wait() in the partners of a member that failed (see above).
struct TeamBroken {};

// A reusable barrier that spins briefly and then yields the CPU. OpenMP's barrier spins for
// a long time before it sleeps (GOMP_SPINCOUNT, 300000 rounds): when the machine runs other
// work and one thread of the team is descheduled, its partners burn their time slices
// spinning and an iteration that should take microseconds takes milliseconds. Yielding after
// a short spin keeps barriers cheap on an idle machine and harmless on a busy one.
class SpinBarrier {
 public:
  explicit SpinBarrier(int size = 1) : size_(size) {}

  // Only while no thread waits.
  void reset(int size) {
    size_ = size;
    arrived_.store(0, std::memory_order_relaxed);
    broken_.store(false, std::memory_order_relaxed);
  }

  // Waits for the whole team; throws TeamBroken once a member has called break_team().
  void wait() {
    const unsigned gen = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // publishes every thread's writes
      return;
    }
    for (int spin = 0; generation_.load(std::memory_order_acquire) == gen; ++spin) {
      if (broken_.load(std::memory_order_acquire)) throw TeamBroken{};
      if (spin < kSpins) {
        pause();
      } else {
        std::this_thread::yield();
      }
    }
  }

  // A member failed and will not arrive again: release the waiting partners (until reset).
  void break_team() noexcept { broken_.store(true, std::memory_order_release); }

 private:
  static constexpr int kSpins = 2000;  // a few microseconds
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  int size_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> generation_{0};
  std::atomic<bool> broken_{false};
};

struct Team {
  int size = 1;
  int rank = 0;
  SpinBarrier* barrier = nullptr;  // shared by the team (needed when size > 1)
  // Per-thread copies of state that every thread of the team advances in step (so no thread
  // writes what another reads): reductions done so far, and which of two double-buffered
  // vectors holds the current iterate.
  int round = 0;
  int current = 0;

  // Every thread of the team must call this at the same point (or none, for a team of one).
  void sync() const {
    if (size > 1) barrier->wait();
  }

  // This thread's share [begin, end) of 0..count, in contiguous blocks of nearly equal size.
  std::pair<index_t, index_t> share(index_t count) const {
    const index_t base = count / size, extra = count % size;
    const index_t begin = rank * base + std::min<index_t>(rank, extra);
    return {begin, begin + base + (rank < extra ? 1 : 0)};
  }
};

// The Team of the calling thread inside `#pragma omp parallel`: every thread of the region
// calls this; the shared `barrier` is sized to the threads the region really got.
inline Team omp_team(SpinBarrier* barrier) {
  Team team;
  team.size = omp_get_num_threads();
  team.rank = omp_get_thread_num();
  team.barrier = barrier;
#pragma omp single
  barrier->reset(team.size);  // the end of `single` is an OpenMP barrier
  return team;
}

// Runs a team member's work f() (see the file comment): the first exception of any member
// is kept in `errors` and breaks `barrier`, so that no partner waits for it forever.
template <class F>
void run_in_team(RegionErrors& errors, SpinBarrier& barrier, F&& f) noexcept {
  try {
    std::forward<F>(f)();
  } catch (const TeamBroken&) {
    // a partner failed first: its exception is the one kept
  } catch (...) {
    errors.record(std::current_exception());  // before break_team(), so it is the first
    barrier.break_team();
  }
}

}  // namespace optkern::detail
