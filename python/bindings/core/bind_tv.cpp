// optkern._core: 1-D total variation (optkern/tv.hpp) and batched tridiagonal solves
// (optkern/tridiagonal.hpp). python/optkern/tv.py and _tridiagonal.py have already checked the
// arguments and laid every array out as C-contiguous (batch, n) rows of one dtype.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "array_cast.hpp"
#include "signal_check.hpp"
#include "optkern/tridiagonal.hpp"
#include "optkern/tv.hpp"

namespace optkern::bindings {
namespace {

// The data of a C-contiguous array of T with exactly this shape (a mismatch is a bug in
// optkern's Python side, not the caller's).
template <class T>
const T* data_of(const py::array& a, const char* name, std::initializer_list<index_t> shape) {
  require_dtype<T>(a, name);
  bool ok = (a.flags() & py::array::c_style) && a.ndim() == py::ssize_t(shape.size());
  int axis = 0;
  for (index_t extent : shape) ok = ok && a.shape(axis++) == extent;
  if (!ok) throw py::type_error(std::string(name) + ": internal, unexpected layout");
  return static_cast<const T*>(a.data());
}

template <class T>
T* mutable_data_of(py::array& a, const char* name, std::initializer_list<index_t> shape) {
  if (!a.writeable()) throw py::type_error(std::string(name) + ": internal, not writeable");
  return const_cast<T*>(data_of<T>(a, name, shape));
}

// One lam for all signals (stride 0) or one per signal (stride 1).
std::pair<const double*, index_t> lambdas(const py::array& lam, index_t batch) {
  const index_t count = lam.ndim() == 1 && lam.shape(0) == 1 ? 1 : batch;
  return {data_of<double>(lam, "lam", {count}), count == 1 ? 0 : 1};
}

template <class T>
void denoise(const py::array& x, const py::array& lam, py::array& y) {
  const index_t batch = x.shape(0), n = x.shape(1);
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  const auto [pl, stride] = lambdas(lam, batch);
  py::gil_scoped_release release;
  tv_denoise<T>(batch, n, px, pl, stride, py_);
}

template <class T>
void denoise_irls(const py::array& x, const py::array& lam, double tol, index_t max_iter,
                  py::array& y, py::array& nit, py::array& change) {
  const index_t batch = x.shape(0), n = x.shape(1);
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  auto* pn = mutable_data_of<index_t>(nit, "nit", {batch});
  auto* pc = mutable_data_of<double>(change, "change", {batch});
  const auto [pl, stride] = lambdas(lam, batch);
  SignalCheck signals;
  py::gil_scoped_release release;
  tv_denoise_irls<T>(batch, n, px, pl, stride, tol, max_iter, py_, pn, pc, 0, signals.get());
}

template <class T>
void denoise_vjp(const py::array& y, const py::array& grad_y, double rtol, py::array& grad_x,
                 py::array& grad_lam) {
  const index_t batch = y.shape(0), n = y.shape(1);
  const T* py_ = data_of<T>(y, "y", {batch, n});
  const T* pg = data_of<T>(grad_y, "grad_y", {batch, n});
  T* pgx = mutable_data_of<T>(grad_x, "grad_x", {batch, n});
  auto* pgl = mutable_data_of<double>(grad_lam, "grad_lam", {batch});
  py::gil_scoped_release release;
  tv_denoise_vjp<T>(batch, n, py_, pg, rtol, pgx, pgl);
}

// One set of n - 1 edge weights for all signals (a (1, n - 1) array, stride 0) or one per
// signal ((batch, n - 1), stride n - 1).
std::pair<const double*, index_t> edge_weights(const py::array& w, index_t batch, index_t n) {
  const index_t rows = w.ndim() == 2 && w.shape(0) == 1 ? 1 : batch;
  const index_t edges = n > 0 ? n - 1 : 0;
  return {data_of<double>(w, "lam", {rows, edges}), rows == 1 ? 0 : edges};
}

template <class T>
void denoise_weighted(const py::array& x, const py::array& w, py::array& y) {
  const index_t batch = x.shape(0), n = x.shape(1);
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  const auto [pw, stride] = edge_weights(w, batch, n);
  py::gil_scoped_release release;
  tv_denoise_weighted<T>(batch, n, px, pw, stride, py_);
}

template <class T>
void denoise_irls_weighted(const py::array& x, const py::array& w, double tol,
                           index_t max_iter, py::array& y, py::array& nit, py::array& change) {
  const index_t batch = x.shape(0), n = x.shape(1);
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  auto* pn = mutable_data_of<index_t>(nit, "nit", {batch});
  auto* pc = mutable_data_of<double>(change, "change", {batch});
  const auto [pw, stride] = edge_weights(w, batch, n);
  SignalCheck signals;
  py::gil_scoped_release release;
  tv_denoise_irls_weighted<T>(batch, n, px, pw, stride, tol, max_iter, py_, pn, pc, 0,
                              signals.get());
}

template <class T>
void denoise_vjp_weighted(const py::array& y, const py::array& grad_y, double rtol,
                          py::array& grad_x, py::array& grad_w) {
  const index_t batch = y.shape(0), n = y.shape(1);
  const T* py_ = data_of<T>(y, "y", {batch, n});
  const T* pg = data_of<T>(grad_y, "grad_y", {batch, n});
  T* pgx = mutable_data_of<T>(grad_x, "grad_x", {batch, n});
  auto* pgw = mutable_data_of<double>(grad_w, "grad_lam", {batch, n > 0 ? n - 1 : 0});
  py::gil_scoped_release release;
  tv_denoise_vjp_weighted<T>(batch, n, py_, pg, rtol, pgx, pgw);
}

// Images: x, y, grad_* (batch, h, w); lam, nit, gap, grad_lam per image.
template <class T>
void denoise_2d(const py::array& x, const py::array& lam, bool isotropic, double tol,
                index_t max_iter, py::array& y, py::array& nit, py::array& gap) {
  const index_t batch = x.shape(0), h = x.shape(1), w = x.shape(2);
  const T* px = data_of<T>(x, "img", {batch, h, w});
  T* py_ = mutable_data_of<T>(y, "y", {batch, h, w});
  auto* pn = mutable_data_of<index_t>(nit, "nit", {batch});
  auto* pg = mutable_data_of<double>(gap, "gap", {batch});
  const auto [pl, stride] = lambdas(lam, batch);
  SignalCheck signals;
  py::gil_scoped_release release;
  tv_denoise_2d<T>(batch, h, w, px, pl, stride, isotropic, tol, max_iter, py_, pn, pg, 0,
                   signals.get());
}

template <class T>
void denoise_2d_vjp(const py::array& y, const py::array& grad_y, double rtol, py::array& grad_x,
                    py::array& grad_lam) {
  const index_t batch = y.shape(0), h = y.shape(1), w = y.shape(2);
  const T* py_ = data_of<T>(y, "y", {batch, h, w});
  const T* pg = data_of<T>(grad_y, "grad_y", {batch, h, w});
  T* pgx = mutable_data_of<T>(grad_x, "grad_x", {batch, h, w});
  auto* pgl = mutable_data_of<double>(grad_lam, "grad_lam", {batch});
  py::gil_scoped_release release;
  tv_denoise_2d_vjp<T>(batch, h, w, py_, pg, rtol, pgx, pgl);
}

// Each operand is (1, n) (shared by every system) or (batch, n). Returns (number of singular
// systems, index of the first one or -1).
template <class T>
std::pair<index_t, index_t> solve(const py::array& lower, const py::array& diag,
                                  const py::array& upper, const py::array& rhs, py::array& x) {
  TridiagonalSystems<T> s;
  s.batch = x.shape(0);
  s.n = x.shape(1);
  auto operand = [&](const py::array& a, const char* name, index_t& stride) {
    const index_t rows = a.ndim() == 2 && a.shape(0) == 1 ? 1 : s.batch;
    stride = rows == 1 ? 0 : s.n;
    return data_of<T>(a, name, {rows, s.n});
  };
  s.lower = operand(lower, "lower", s.lower_stride);
  s.diag = operand(diag, "diag", s.diag_stride);
  s.upper = operand(upper, "upper", s.upper_stride);
  s.rhs = operand(rhs, "rhs", s.rhs_stride);
  T* px = mutable_data_of<T>(x, "x", {s.batch, s.n});
  py::gil_scoped_release release;
  index_t first = -1;
  const index_t count = tridiagonal_solve<T>(s, px, 0, &first);
  return {count, first};
}

bool is_double(const py::array& a) { return has_dtype<double>(a); }

}  // namespace

void bind_tv(py::module_& m) {
  m.def("tv_denoise", [](const py::array& x, const py::array& lam, py::array& y) {
    is_double(x) ? denoise<double>(x, lam, y) : denoise<float>(x, lam, y);
  });
  m.def("tv_denoise_irls", [](const py::array& x, const py::array& lam, double tol,
                              index_t max_iter, py::array& y, py::array& nit, py::array& change) {
    is_double(x) ? denoise_irls<double>(x, lam, tol, max_iter, y, nit, change)
                 : denoise_irls<float>(x, lam, tol, max_iter, y, nit, change);
  });
  m.def("tv_denoise_vjp", [](const py::array& y, const py::array& grad_y, double rtol,
                             py::array& grad_x, py::array& grad_lam) {
    is_double(y) ? denoise_vjp<double>(y, grad_y, rtol, grad_x, grad_lam)
                 : denoise_vjp<float>(y, grad_y, rtol, grad_x, grad_lam);
  });
  m.def("tv_denoise_weighted", [](const py::array& x, const py::array& w, py::array& y) {
    is_double(x) ? denoise_weighted<double>(x, w, y) : denoise_weighted<float>(x, w, y);
  });
  m.def("tv_denoise_irls_weighted",
        [](const py::array& x, const py::array& w, double tol, index_t max_iter, py::array& y,
           py::array& nit, py::array& change) {
          is_double(x) ? denoise_irls_weighted<double>(x, w, tol, max_iter, y, nit, change)
                       : denoise_irls_weighted<float>(x, w, tol, max_iter, y, nit, change);
        });
  m.def("tv_denoise_vjp_weighted", [](const py::array& y, const py::array& grad_y, double rtol,
                                      py::array& grad_x, py::array& grad_w) {
    is_double(y) ? denoise_vjp_weighted<double>(y, grad_y, rtol, grad_x, grad_w)
                 : denoise_vjp_weighted<float>(y, grad_y, rtol, grad_x, grad_w);
  });
  m.def("tv_denoise_2d", [](const py::array& x, const py::array& lam, bool isotropic, double tol,
                            index_t max_iter, py::array& y, py::array& nit, py::array& gap) {
    is_double(x) ? denoise_2d<double>(x, lam, isotropic, tol, max_iter, y, nit, gap)
                 : denoise_2d<float>(x, lam, isotropic, tol, max_iter, y, nit, gap);
  });
  m.def("tv_denoise_2d_vjp", [](const py::array& y, const py::array& grad_y, double rtol,
                                py::array& grad_x, py::array& grad_lam) {
    is_double(y) ? denoise_2d_vjp<double>(y, grad_y, rtol, grad_x, grad_lam)
                 : denoise_2d_vjp<float>(y, grad_y, rtol, grad_x, grad_lam);
  });
  m.def("tridiagonal_solve", [](const py::array& lower, const py::array& diag,
                                const py::array& upper, const py::array& rhs, py::array& x) {
    return is_double(x) ? solve<double>(lower, diag, upper, rhs, x)
                        : solve<float>(lower, diag, upper, rhs, x);
  });
}

}  // namespace optkern::bindings
