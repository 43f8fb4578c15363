// optkern._core.ot: the OT kernels of issue 16 (unbalanced Sinkhorn, point clouds). Policy and
// checks live in python/optkern/ot/_unbalanced.py and _points.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "common/arrays.hpp"
#include "common/signal_check.hpp"
#include "optkern/ot.hpp"

namespace optkern::bindings {
namespace {

// An operand stacked over the batch (leading extent batch) or shared by it (extent 1): its
// data, and its batch stride in elements (0 when shared).
template <class T>
std::pair<const T*, index_t> operand(const py::array& x, const char* name, index_t batch,
                                     index_t rows, index_t cols = -1) {
  const auto a = c_array<T>(x, name);
  const index_t count = a.ndim() >= 1 && a.shape(0) == 1 ? 1 : batch;
  if (cols < 0) return {checked(a, name, {count, rows}), count == 1 ? 0 : rows};
  return {checked(a, name, {count, rows, cols}), count == 1 ? 0 : rows * cols};
}

template <class T>
py::tuple unbalanced_array(const py::array& M, const py::array& a, const py::array& b, double reg,
                           double rho_a, double rho_b, UnbalancedRegType reg_type,
                           SinkhornMethod method, double tol, int max_iter, int num_threads,
                           const py::array& plan, const py::array& F, const py::array& G) {
  const auto [batch, m, n] = extents_of<3>(plan, "plan");
  const UnbalancedOptions o{reg, rho_a, rho_b, reg_type, tol, max_iter, num_threads, method};
  std::vector<UnbalancedStatus> status(static_cast<std::size_t>(batch));
  const auto [pM, Ms] = operand<T>(M, "M", batch, m, n);
  const auto [pa, as] = operand<T>(a, "a", batch, m);
  const auto [pb, bs] = operand<T>(b, "b", batch, n);
  T* pplan = mutable_data_of<T>(plan, "plan", {batch, m, n});
  double* pF = mutable_data_of<double>(F, "F", {batch, m});
  double* pG = mutable_data_of<double>(G, "G", {batch, n});
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_unbalanced<T>(batch, m, n, pM, Ms, pa, as, pb, bs, o, pplan, pF, pG, status.data(),
                           signals.get());
  }
  py::array_t<std::int64_t> n_iter(batch);
  py::array_t<double> step(batch);
  py::array_t<bool> converged(batch);
  py::array_t<std::int32_t> ran(batch);
  for (index_t k = 0; k < batch; ++k) {
    n_iter.mutable_at(k) = status[std::size_t(k)].n_iter;
    step.mutable_at(k) = status[std::size_t(k)].step;
    converged.mutable_at(k) = status[std::size_t(k)].converged;
    ran.mutable_at(k) = std::int32_t(status[std::size_t(k)].method);
  }
  return py::make_tuple(n_iter, step, converged, ran);
}

template <class T>
py::tuple points_array(const py::array& x, const py::array& y, const py::array& a,
                       const py::array& b, const py::object& init_g, double reg, PointsCost cost,
                       double tol, int max_iter, int num_threads, const py::array& f,
                       const py::array& g) {
  const auto [m, d] = extents_of<2>(x, "x");
  const index_t n = extents_of<2>(y, "y")[0];
  const T* px = data_of<T>(x, "x", {m, d});
  const T* py_ = data_of<T>(y, "y", {n, d});
  const T* pa = data_of<T>(a, "a", {m});
  const T* pb = data_of<T>(b, "b", {n});
  double* pf = mutable_data_of<double>(f, "f", {m});
  double* pg = mutable_data_of<double>(g, "g", {n});
  const double* g0 = init_g.is_none() ? nullptr : data_of<double>(init_g, "init", {n});
  const PointsOptions o{reg, cost, tol, max_iter, num_threads};
  PointsStatus st;
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_points<T>(m, n, d, px, py_, pa, pb, g0, o, pf, pg, &st, signals.get());
  }
  return py::make_tuple(st.n_iter, st.marginal_error, st.cost, st.value, st.converged);
}

template <class T>
void points_apply_array(const py::array& x, const py::array& y, const py::array& f,
                        const py::array& g, double reg, PointsCost cost, const py::array& v,
                        const py::array& out, int num_threads) {
  const auto [m, d] = extents_of<2>(x, "x");
  const index_t n = extents_of<2>(y, "y")[0];
  const T* px = data_of<T>(x, "x", {m, d});
  const T* py_ = data_of<T>(y, "y", {n, d});
  const double* pf = data_of<double>(f, "f", {m});
  const double* pg = data_of<double>(g, "g", {n});
  const double* pv = data_of<double>(v, "v", {n});
  double* pout = mutable_data_of<double>(out, "out", {m});
  py::gil_scoped_release release;
  sinkhorn_points_apply<T>(m, n, d, px, py_, pf, pg, reg, cost, pv, pout, num_threads);
}

}  // namespace

void bind_ot_extra(py::module_& m) {
  py::enum_<PointsCost>(m, "PointsCost")
      .value("sqeuclidean", PointsCost::sqeuclidean)
      .value("euclidean", PointsCost::euclidean);
  py::enum_<UnbalancedRegType>(m, "UnbalancedRegType")
      .value("kl", UnbalancedRegType::kl)
      .value("entropy", UnbalancedRegType::entropy);
  // x (m, d), y (n, d), a (m), b (n) of one dtype, C-contiguous; init_g None or (n,) float64;
  // f (m), g (n) float64 preallocated. cost: a PointsCost.
  // Returns (n_iter, marginal_error, cost, value, converged).
  m.def("sinkhorn_points",
        [](const py::array& x, const py::array& y, const py::array& a, const py::array& b,
           const py::object& init_g, double reg, PointsCost cost, double tol, int max_iter,
           int num_threads, const py::array& f, const py::array& g) {
          return dispatch_float(x.dtype(), [&](auto t) {
            return points_array<decltype(t)>(x, y, a, b, init_g, reg, cost, tol, max_iter,
                                             num_threads, f, g);
          });
        });
  // out (m,) = P v for v (n,), all float64 but x, y; P^T u: swap (x, f) with (y, g).
  m.def("sinkhorn_points_apply",
        [](const py::array& x, const py::array& y, const py::array& f, const py::array& g,
           double reg, PointsCost cost, const py::array& v, const py::array& out, int num_threads) {
          dispatch_float(x.dtype(), [&](auto t) {
            points_apply_array<decltype(t)>(x, y, f, g, reg, cost, v, out, num_threads);
          });
        });
  // M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n) of one dtype; plan (B, m, n) of that
  // dtype, F (B, m) and G (B, n) float64, preallocated. reg_type: an UnbalancedRegType.
  // Returns (n_iter, step, converged, method that ran as a SinkhornMethod value) per item.
  m.def("sinkhorn_unbalanced",
        [](const py::array& M, const py::array& a, const py::array& b, double reg, double rho_a,
           double rho_b, UnbalancedRegType reg_type, SinkhornMethod method, double tol,
           int max_iter, int num_threads, const py::array& plan, const py::array& F,
           const py::array& G) {
          return dispatch_float(plan.dtype(), [&](auto t) {
            return unbalanced_array<decltype(t)>(M, a, b, reg, rho_a, rho_b, reg_type, method,
                                                 tol, max_iter, num_threads, plan, F, G);
          });
        });
}

}  // namespace optkern::bindings
