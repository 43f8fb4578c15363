// optkern._core.linalg: batched matmul (optkern/linalg.hpp) and batched tridiagonal
// solves (optkern/linalg/tridiagonal.hpp). python/optkern/linalg/ has checked the arguments.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <utility>
#include <vector>

#include "common/arrays.hpp"
#include "optkern/linalg.hpp"

namespace optkern::bindings {
namespace {

template <class T>
void bmm_array(const py::array& a_arg, const py::array& b_arg, const py::array& out_arg,
               const BatchShape& batch, const std::vector<index_t>& a_batch,
               const std::vector<index_t>& b_batch, const std::vector<index_t>& c_batch) {
  const auto a = strided_array<T>(a_arg, "a"), b = strided_array<T>(b_arg, "b");
  auto out = strided_array<T>(out_arg, "out");
  if (!out.writeable()) throw py::value_error("out: must be writeable");
  const auto va = matrix_view<T, const T>(a, "a", batch, a_batch);
  const auto vb = matrix_view<T, const T>(b, "b", batch, b_batch);
  const auto vc = matrix_view<T, T>(out, "out", batch, c_batch);
  py::gil_scoped_release release;
  bmm<T>(batch, va, vb, vc);
}

// The common case: a, b and out share one batch shape (no broadcasting); strides are read
// from the arrays themselves.
template <class T>
void bmm_same_batch(const py::array& a, const py::array& b, const py::array& out) {
  const int nd = int(out.ndim());
  if (a.ndim() != nd || b.ndim() != nd || nd < 2 || nd - 2 > kMaxBatchDims)
    throw py::value_error("bmm: a, b and out must share one batch shape");
  BatchShape batch;
  batch.ndim = nd - 2;
  std::vector<index_t> strides[3];
  const py::array* arrays[3] = {&a, &b, &out};
  const char* names[3] = {"a", "b", "out"};
  for (int d = 0; d < batch.ndim; ++d) {
    batch.extent[d] = out.shape(d);
    for (int i = 0; i < 3; ++i) {
      if (arrays[i]->shape(d) != batch.extent[d])
        throw py::value_error("bmm: a, b and out must share one batch shape");
      strides[i].push_back(element_stride(*arrays[i], d, names[i]));
    }
  }
  bmm_array<T>(a, b, out, batch, strides[0], strides[1], strides[2]);
}

// Each operand is (1, n) (shared by every system) or (batch, n); x is (batch, n). Returns
// (number of singular systems, index of the first one or -1).
template <class T>
std::pair<index_t, index_t> tridiagonal_solve_array(const py::array& lower, const py::array& diag,
                                                    const py::array& upper, const py::array& rhs,
                                                    const py::array& x_arg) {
  auto x = c_array<T>(x_arg, "x");
  if (x.ndim() != 2) throw py::value_error("x: expected a (batch, n) array");
  TridiagonalSystems<T> s;
  s.batch = x.shape(0);
  s.n = x.shape(1);
  CArray<T> keep[4];
  auto operand = [&](int k, const py::array& a, const char* name, index_t& stride) {
    keep[k] = c_array<T>(a, name);
    const index_t rows = keep[k].ndim() == 2 && keep[k].shape(0) == 1 ? 1 : s.batch;
    stride = rows == 1 ? 0 : s.n;
    return checked(keep[k], name, {rows, s.n});
  };
  s.lower = operand(0, lower, "lower", s.lower_stride);
  s.diag = operand(1, diag, "diag", s.diag_stride);
  s.upper = operand(2, upper, "upper", s.upper_stride);
  s.rhs = operand(3, rhs, "rhs", s.rhs_stride);
  T* px = checked_out(x, "x", {s.batch, s.n});
  py::gil_scoped_release release;
  index_t first = -1;
  const index_t count = tridiagonal_solve<T>(s, px, 0, &first);
  return {count, first};
}

}  // namespace

void bind_linalg(py::module_& m) {
  m.def("bmm_same_batch", [](const py::array& a, const py::array& b, const py::array& out) {
    dispatch_float(out.dtype(), [&](auto t) { bmm_same_batch<decltype(t)>(a, b, out); });
  });
  // a: (..., m, k), b: (..., k, n), out: (..., m, n), one dtype, any element strides. The
  // batch is described apart: its extents and each operand's batch strides (0 where the
  // operand repeats), as python/optkern/linalg/_cpu.py computes them.
  m.def("bmm", [](const py::array& a, const py::array& b, const py::array& out,
                  const std::vector<index_t>& extents, const std::vector<index_t>& a_batch,
                  const std::vector<index_t>& b_batch, const std::vector<index_t>& c_batch) {
    const BatchShape batch = batch_shape(extents);
    dispatch_float(out.dtype(), [&](auto t) {
      bmm_array<decltype(t)>(a, b, out, batch, a_batch, b_batch, c_batch);
    });
  });
  m.def("tridiagonal_solve", [](const py::array& lower, const py::array& diag,
                                const py::array& upper, const py::array& rhs, const py::array& x) {
    return dispatch_float(x.dtype(), [&](auto t) {
      return tridiagonal_solve_array<decltype(t)>(lower, diag, upper, rhs, x);
    });
  });
}

}  // namespace optkern::bindings
