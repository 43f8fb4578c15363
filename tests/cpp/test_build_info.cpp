// The process-wide entry points: build_info() and the default thread count.
#include <omp.h>

#include <cstdio>
#include <string>

#include "check.hpp"
#include "optkern/build_info.hpp"
#include "optkern/config.hpp"
#include "optkern/threads.hpp"

int main() {
  const optkern::BuildInfo info = optkern::build_info();
  CHECK(info.version == OPTKERN_VERSION_STRING);
  CHECK(!info.compiler.empty() && !info.eigen_version.empty());
  CHECK(info.simd_bytes >= 16 && info.openmp_version == _OPENMP);

  // set_num_threads returns the previous count; n < 1 restores OpenMP's default.
  const int initial = optkern::num_threads();
  CHECK(initial == omp_get_max_threads());
  CHECK(optkern::set_num_threads(3) == initial);
  CHECK(optkern::num_threads() == 3);
  CHECK(optkern::set_num_threads(0) == 3);
  CHECK(optkern::num_threads() == initial);
  if (optkern_test::failures() == 0) std::printf("test_build_info: all checks passed\n");
  return optkern_test::failures();
}
