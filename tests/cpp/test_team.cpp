// The thread teams that solve one problem together (cpp/src/ot/team.hpp): a member that throws
// between two barriers must not leave its partners waiting at the next one. The whole region
// returns, the first exception reaches the caller, and the barrier works again afterwards.
// (A hang here is a failure: ctest's timeout for this test ends it.)
#include <omp.h>

#include <cstdio>
#include <new>
#include <stdexcept>

#include "check.hpp"
#include "common/parallel_guard.hpp"
#include "ot/team.hpp"

namespace od = optkern::detail;

namespace {

// A team of `threads` meets at `rounds` barriers; member `thrower` throws `error` before
// barrier `at`. Returns the rounds that member 0 completed, and rethrows the kept failure.
template <class Error>
int run_team(int threads, int rounds, int thrower, int at, const Error& error) {
  od::SpinBarrier barrier;
  od::RegionErrors errors;
  int completed = 0;
#pragma omp parallel num_threads(threads)
  {
    od::Team team = od::omp_team(&barrier);
    od::run_in_team(errors, barrier, [&] {
      for (int r = 0; r < rounds; ++r) {
        if (team.rank == thrower && r == at) throw error;
        team.sync();
        if (team.rank == 0) completed = r + 1;
      }
    });
  }
  errors.rethrow_if_failed();
  return completed;
}

template <class Error>
bool fails_with(int threads, int thrower, int at, const Error& error) {
  try {
    run_team(threads, 1000, thrower, at, error);
  } catch (const Error&) {
    return true;
  }
  return false;
}

}  // namespace

int main() {
  // More threads than cores on purpose: the members are descheduled while others wait.
  for (int threads : {2, 3, 8}) {
    for (int thrower : {0, threads - 1}) {
      for (int at : {0, 1, 999}) {
        CHECK(fails_with(threads, thrower, at, std::bad_alloc()));
        CHECK(fails_with(threads, thrower, at, std::runtime_error("member failed")));
      }
    }
    // No failure: every round is met, and the barrier is reusable after a broken run.
    CHECK(run_team(threads, 1000, -1, 0, std::bad_alloc()) == 1000);
  }
  // A team of one has no barrier to wait at, and still reports its failure.
  CHECK(fails_with(1, 0, 5, std::bad_alloc()));
  // The first failure is the one kept: the partners' TeamBroken is never seen.
  try {
    run_team(4, 100, 2, 10, std::out_of_range("first"));
    CHECK(false);
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()) == "first");
  } catch (...) {
    CHECK(false);
  }
  if (optkern_test::failures() == 0) std::printf("test_team: all checks passed\n");
  return optkern_test::failures();
}
