// Batched tridiagonal solves on the CPU (optkern/linalg/tridiagonal.hpp): one system per task,
// the batch split over OpenMP threads, scratch allocated once per thread.
#include "optkern/linalg/tridiagonal.hpp"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "common/parallel_guard.hpp"
#include "optkern/linalg/tridiagonal_system.hpp"
#include "optkern/threads.hpp"

namespace optkern {

template <class T>
index_t tridiagonal_solve(const TridiagonalSystems<T>& s, T* x, int num_threads,
                          index_t* first_singular) {
  require(s.batch >= 0 && s.n >= 0, "n", "sizes must be non-negative");
  require(s.batch == 0 || s.n == 0 || (s.lower && s.diag && s.upper && s.rhs && x), "x",
          "null pointer");
  for (index_t stride : {s.lower_stride, s.diag_stride, s.upper_stride, s.rhs_stride})
    require(stride == 0 || stride == s.n, "stride", "must be 0 (shared) or n");
  if (first_singular) *first_singular = -1;
  if (s.batch == 0 || s.n == 0) return 0;

  const index_t n = s.n;
  const int threads = detail::region_threads(int(std::min<index_t>(
      num_threads > 0 ? num_threads : optkern::num_threads(), s.batch)));
  index_t singular = 0, first = std::numeric_limits<index_t>::max();
  detail::RegionErrors errors;
#pragma omp parallel num_threads(threads) reduction(+ : singular) reduction(min : first)
  {
    std::vector<double> work;
    errors.guard([&] { work.resize(4 * std::size_t(n)); });
    double* w = work.data();
#pragma omp for schedule(dynamic, 16)
    for (index_t b = 0; b < s.batch; ++b) {
      if (errors.failed()) continue;  // a thread had no scratch memory: the call fails
      const T* lower = s.lower + b * s.lower_stride;
      const T* diag = s.diag + b * s.diag_stride;
      const T* upper = s.upper + b * s.upper_stride;
      const T* rhs = s.rhs + b * s.rhs_stride;
      T* xb = x + b * n;
      if (detail::thomas_solve<double>(n, lower, diag, upper, rhs, xb, w, w + n)) continue;
      if (detail::gepp_solve<double>(n, lower, diag, upper, rhs, xb, w, w + n, w + 2 * n,
                                     w + 3 * n))
        continue;
      std::fill(xb, xb + n, std::numeric_limits<T>::quiet_NaN());
      ++singular;
      first = std::min(first, b);
    }
  }
  errors.rethrow_if_failed();
  if (first_singular && singular > 0) *first_singular = first;
  return singular;
}

template index_t tridiagonal_solve<float>(const TridiagonalSystems<float>&, float*, int,
                                          index_t*);
template index_t tridiagonal_solve<double>(const TridiagonalSystems<double>&, double*, int,
                                           index_t*);

}  // namespace optkern
