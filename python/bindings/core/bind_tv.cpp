// optkern._core.tv: 1-D and 2-D total variation (optkern/tv.hpp). python/optkern/tv/ has already
// checked the arguments and laid every array out as C-contiguous (batch, n) rows of one dtype.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <limits>
#include <utility>
#include <vector>

#include "common/arrays.hpp"
#include "common/signal_check.hpp"
#include "optkern/tv.hpp"

namespace optkern::bindings {
namespace {

// One lam for all signals (stride 0) or one per signal (stride 1).
std::pair<const double*, index_t> lambdas(const py::array& lam, index_t batch, index_t = 0) {
  const index_t count = lam.ndim() == 1 && lam.shape(0) == 1 ? 1 : batch;
  return {data_of<double>(lam, "lam", {count}), count == 1 ? 0 : 1};
}

// One set of n - 1 edge weights for all signals (a (1, n - 1) array, stride 0) or one per
// signal ((batch, n - 1), stride n - 1).
std::pair<const double*, index_t> edge_weights(const py::array& w, index_t batch, index_t n) {
  const index_t rows = w.ndim() == 2 && w.shape(0) == 1 ? 1 : batch;
  const index_t edges = n > 0 ? n - 1 : 0;
  return {data_of<double>(w, "lam", {rows, edges}), rows == 1 ? 0 : edges};
}

// The 1-D prox and its IRLS iteration, for either penalty: lambdas (tv_denoise,
// tv_denoise_irls) or edge_weights (the _weighted variants).
using Penalty = std::pair<const double*, index_t> (*)(const py::array&, index_t, index_t);

template <class T, class Solve>
void denoise(Solve solve, Penalty penalty, const py::array& x, const py::array& weights,
             const py::array& y) {
  const auto [batch, n] = extents_of<2>(x, "x");
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  const auto [pw, stride] = penalty(weights, batch, n);
  py::gil_scoped_release release;
  solve(batch, n, px, pw, stride, py_, 0);
}

template <class T, class Solve>
void denoise_irls(Solve solve, Penalty penalty, const py::array& x, const py::array& weights,
                  double tol, index_t max_iter, const py::array& y, const py::array& nit,
                  const py::array& change) {
  const auto [batch, n] = extents_of<2>(x, "x");
  const T* px = data_of<T>(x, "x", {batch, n});
  T* py_ = mutable_data_of<T>(y, "y", {batch, n});
  auto* pn = mutable_data_of<index_t>(nit, "nit", {batch});
  auto* pc = mutable_data_of<double>(change, "change", {batch});
  const auto [pw, stride] = penalty(weights, batch, n);
  SignalCheck signals;
  py::gil_scoped_release release;
  solve(batch, n, px, pw, stride, tol, max_iter, py_, pn, pc, 0, signals.get());
}

template <class T>
void denoise_vjp(const py::array& y, const py::array& grad_y, double rtol, const py::array& grad_x,
                 const py::array& grad_lam) {
  const auto [batch, n] = extents_of<2>(y, "y");
  const T* py_ = data_of<T>(y, "y", {batch, n});
  const T* pg = data_of<T>(grad_y, "grad_y", {batch, n});
  T* pgx = mutable_data_of<T>(grad_x, "grad_x", {batch, n});
  auto* pgl = mutable_data_of<double>(grad_lam, "grad_lam", {batch});
  py::gil_scoped_release release;
  tv_denoise_vjp<T>(batch, n, py_, pg, rtol, pgx, pgl);
}

template <class T>
void denoise_vjp_weighted(const py::array& y, const py::array& grad_y, double rtol,
                          const py::array& grad_x, const py::array& grad_w) {
  const auto [batch, n] = extents_of<2>(y, "y");
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
                index_t max_iter, const py::array& y, const py::array& nit, const py::array& gap) {
  const auto [batch, h, w] = extents_of<3>(x, "img");
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
void denoise_2d_vjp(const py::array& y, const py::array& grad_y, double rtol,
                    const py::array& grad_x, const py::array& grad_lam) {
  const auto [batch, h, w] = extents_of<3>(y, "y");
  const T* py_ = data_of<T>(y, "y", {batch, h, w});
  const T* pg = data_of<T>(grad_y, "grad_y", {batch, h, w});
  T* pgx = mutable_data_of<T>(grad_x, "grad_x", {batch, h, w});
  auto* pgl = mutable_data_of<double>(grad_lam, "grad_lam", {batch});
  py::gil_scoped_release release;
  tv_denoise_2d_vjp<T>(batch, h, w, py_, pg, rtol, pgx, pgl);
}

// optkern.tv.denoise's common call, which it tries first: x an ndarray (its exact type checked by
// the caller) of float32 or float64 in native byte order, C-contiguous, aligned and not empty, and
// lam a Python float or int in [0, DBL_MAX]. Returns the new array (x's shape and dtype), or None
// for any other call, which the general path then handles: no conversion here, no error raised
// but the kernel's own (NaN or Inf in x).
py::object denoise_common(py::handle x, py::handle lam) {
  double value;
  if (PyFloat_CheckExact(lam.ptr())) {
    value = PyFloat_AS_DOUBLE(lam.ptr());
  } else if (PyLong_CheckExact(lam.ptr())) {
    value = PyLong_AsDouble(lam.ptr());
    if (value == -1.0 && PyErr_Occurred()) {  // too large for a double
      PyErr_Clear();
      return py::none();
    }
  } else {
    return py::none();
  }
  if (!(value >= 0 && value <= std::numeric_limits<double>::max())) return py::none();
  using api = py::detail::npy_api;
  if (Py_TYPE(x.ptr()) != api::get().PyArray_Type_) return py::none();
  const auto* array = reinterpret_cast<const py::detail::PyArray_Proxy*>(x.ptr());
  const auto* descr = reinterpret_cast<const py::detail::PyArrayDescr_Proxy*>(array->descr);
  constexpr int kNeeded = api::NPY_ARRAY_C_CONTIGUOUS_ | api::NPY_ARRAY_ALIGNED_;
  const int type = descr->type_num;
  // (NumPy writes native byte order as '=')
  if (array->nd < 1 || (array->flags & kNeeded) != kNeeded ||
      (type != api::NPY_FLOAT_ && type != api::NPY_DOUBLE_) || descr->byteorder != '=')
    return py::none();
  const int nd = array->nd;
  const index_t n = array->dimensions[nd - 1];
  index_t batch = 1;
  for (int d = 0; d < nd - 1; ++d) batch *= array->dimensions[d];
  if (n == 0 || batch == 0) return py::none();
  auto source = py::reinterpret_borrow<py::array>(x);
  py::array y(source.dtype(), std::vector<py::ssize_t>(array->dimensions, array->dimensions + nd));
  const void* px = array->data;
  void* py_ = y.mutable_data();
  {
    py::gil_scoped_release release;
    if (type == api::NPY_FLOAT_)
      tv_denoise<float>(batch, n, static_cast<const float*>(px), &value, 0,
                        static_cast<float*>(py_), 0);
    else
      tv_denoise<double>(batch, n, static_cast<const double*>(px), &value, 0,
                         static_cast<double*>(py_), 0);
  }
  return std::move(y);
}

}  // namespace

void bind_tv(py::module_& m) {
  m.def("denoise_common", &denoise_common);
  m.def("denoise", [](const py::array& x, const py::array& lam, const py::array& y) {
    dispatch_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      denoise<T>(tv_denoise<T>, lambdas, x, lam, y);
    });
  });
  m.def("denoise_irls",
        [](const py::array& x, const py::array& lam, double tol, index_t max_iter,
           const py::array& y, const py::array& nit, const py::array& change) {
          dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            denoise_irls<T>(tv_denoise_irls<T>, lambdas, x, lam, tol, max_iter, y, nit, change);
          });
        });
  m.def("denoise_vjp", [](const py::array& y, const py::array& grad_y, double rtol,
                             const py::array& grad_x, const py::array& grad_lam) {
    dispatch_float(y.dtype(),
                   [&](auto t) { denoise_vjp<decltype(t)>(y, grad_y, rtol, grad_x, grad_lam); });
  });
  m.def("denoise_weighted", [](const py::array& x, const py::array& w, const py::array& y) {
    dispatch_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      denoise<T>(tv_denoise_weighted<T>, edge_weights, x, w, y);
    });
  });
  m.def("denoise_irls_weighted",
        [](const py::array& x, const py::array& w, double tol, index_t max_iter, const py::array& y,
           const py::array& nit, const py::array& change) {
          dispatch_float(x.dtype(), [&](auto t) {
            using T = decltype(t);
            denoise_irls<T>(tv_denoise_irls_weighted<T>, edge_weights, x, w, tol, max_iter, y, nit,
                            change);
          });
        });
  m.def("denoise_vjp_weighted", [](const py::array& y, const py::array& grad_y, double rtol,
                                      const py::array& grad_x, const py::array& grad_w) {
    dispatch_float(y.dtype(), [&](auto t) {
      denoise_vjp_weighted<decltype(t)>(y, grad_y, rtol, grad_x, grad_w);
    });
  });
  m.def("denoise_2d",
        [](const py::array& x, const py::array& lam, bool isotropic, double tol, index_t max_iter,
           const py::array& y, const py::array& nit, const py::array& gap) {
          dispatch_float(x.dtype(), [&](auto t) {
            denoise_2d<decltype(t)>(x, lam, isotropic, tol, max_iter, y, nit, gap);
          });
        });
  m.def("denoise_2d_vjp", [](const py::array& y, const py::array& grad_y, double rtol,
                                const py::array& grad_x, const py::array& grad_lam) {
    dispatch_float(y.dtype(),
                   [&](auto t) { denoise_2d_vjp<decltype(t)>(y, grad_y, rtol, grad_x, grad_lam); });
  });
}

}  // namespace optkern::bindings
