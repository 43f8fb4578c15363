// optkern._core.tv: 1-D and 2-D total variation (optkern/tv.hpp). python/optkern/tv/ has already
// checked the arguments and laid every array out as C-contiguous (batch, n) rows of one dtype.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <utility>

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

}  // namespace

void bind_tv(py::module_& m) {
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
