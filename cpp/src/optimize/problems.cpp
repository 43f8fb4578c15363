// The native problems of problems.hpp as compiled functions (Python's optkern.optimize.problems
// evaluates them through these), and the modified Newton direction for tests.
#include <omp.h>

#include <vector>

#include "common/parallel_guard.hpp"
#include "optkern/common.hpp"
#include "optkern/optimize/minimize.hpp"
#include "optkern/optimize/modified_newton.hpp"
#include "optkern/threads.hpp"

namespace optkern::optimize {

template <class T>
void problem_value_grad(const problems::ProblemSpec& problem, index_t rows, index_t n,
                        const T* x, T* f, T* g) {
  problems::check_problem(problem, n, "x");
  problems::with_problem<T>(problem, n, [&](auto p) {
    // threads only pay off once there is real work to split
    const int team =
        rows * n >= (index_t(1) << 15) ? optkern::detail::region_threads(num_threads()) : 1;
    optkern::detail::RegionErrors errors;
#pragma omp parallel for num_threads(team) schedule(static)
    for (index_t r = 0; r < rows; ++r) {
      if (errors.failed()) continue;
      errors.guard([&] { f[r] = p.value_grad(n, x + r * n, g + r * n, Contiguous{}); });
    }
    errors.rethrow_if_failed();
    return 0;
  });
}

template <class T>
void problem_hessian(const problems::ProblemSpec& problem, index_t n, const T* x, T* h) {
  problems::check_problem(problem, n, "x");
  std::vector<T> work(std::size_t(2 * n));
  problems::with_problem<T>(problem, n, [&](auto p) {
    problems::dense_hessian(p, n, x, h, work.data());
    return 0;
  });
}

template <class T>
void problem_start(const problems::ProblemSpec& problem, index_t n, T* x) {
  problems::check_problem(problem, n, "n");
  problems::standard_start(problem, n, x);
}

NewtonStepInfo modified_newton_direction(const double* h, const double* g, double* p, index_t n,
                                         double floor, bool tridiagonal) {
  require(n >= 1, "g", "must have at least one element");
  require(floor > 0, "floor", "must be > 0");
  ModifiedNewtonStep step(n);
  if (tridiagonal) {
    step.tridiagonal(h, h + n, g, p, floor);
  } else {
    step.dense(h, g, p, floor);
  }
  static const char* const paths[] = {"cholesky", "tridiagonal", "eigen"};
  return NewtonStepInfo{paths[int(step.last_path())], step.last_floored()};
}

#define OPTKERN_INSTANTIATE(T)                                                               \
  template void problem_value_grad<T>(const problems::ProblemSpec&, index_t, index_t, const T*, \
                                      T*, T*);                                               \
  template void problem_hessian<T>(const problems::ProblemSpec&, index_t, const T*, T*);     \
  template void problem_start<T>(const problems::ProblemSpec&, index_t, T*);
OPTKERN_INSTANTIATE(float)
OPTKERN_INSTANTIATE(double)
#undef OPTKERN_INSTANTIATE

}  // namespace optkern::optimize
