// optkern._core._testing: hooks into the core's internals for optkern's own tests, not part of
// its API (python/optkern never calls them). Built into every _core: the Python tests that use
// them run in CI from a plain `pip install`, which does not set OPTKERN_TESTS.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "common/arrays.hpp"
#include "optkern/givens.hpp"
#include "optkern/optimize/minimize.hpp"

namespace optkern::bindings {
namespace {

// The modified Newton direction, the path it took and how many eigenvalues it floored; h is
// dense (n, n), or tridiagonal (the diagonal then the off-diagonal, 2n - 1 values).
py::tuple modified_newton_step(const CArray<double>& h, const CArray<double>& g, double floor,
                               bool tridiagonal) {
  const py::ssize_t n = extents_of<1>(g, "g")[0];
  const double* ph =
      tridiagonal ? checked(h, "h", {n > 0 ? 2 * n - 1 : 0}) : checked(h, "h", {n, n});
  py::array_t<double> p(n);
  const optimize::NewtonStepInfo info = optimize::modified_newton_direction(
      ph, checked(g, "g", {n}), p.mutable_data(), n, floor, tridiagonal);
  return py::make_tuple(p, info.path, info.floored);
}

}  // namespace

void bind_testing(py::module_& m) {
  py::module_ t = m.def_submodule("_testing", "test hooks into the core (not optkern's API)");
  t.def("optimize_modified_newton_step", &modified_newton_step, py::arg().noconvert(),
        py::arg().noconvert(), py::arg(), py::arg());
  // The best rotation of two rows in the L1 norm (the Givens block search's sweep).
  each_float([&](auto zero, const char*) {
    using T = decltype(zero);
    t.def(
        "givens_best_l1_rotation",
        [](const CArray<T>& a, const CArray<T>& b) {
          const index_t n = extents_of<1>(a, "a")[0];
          const givens::BlockRotation r =
              givens::best_l1_rotation(checked(a, "a", {n}), checked(b, "b", {n}), n);
          return py::make_tuple(r.decrease, r.tangent);
        },
        py::arg("a").noconvert(), py::arg("b").noconvert());
  });
}

}  // namespace optkern::bindings
