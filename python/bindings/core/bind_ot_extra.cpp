// optkern._core: the OT kernels of issue 16 (unbalanced Sinkhorn, point clouds). Policy and
// checks live in python/optkern/ot/_unbalanced.py and _points.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "array_cast.hpp"
#include "optkern/ot.hpp"
#include "signal_check.hpp"

namespace optkern::bindings {
namespace {

index_t stride_of(const py::array& x, index_t batch, index_t item_size, const char* name) {
  const index_t count = index_t(x.shape(0));
  if (count != 1 && count != batch)
    throw py::type_error(std::string(name) + ": internal, leading extent must be 1 or batch");
  if (!(x.flags() & py::array::c_style))
    throw py::type_error(std::string(name) + ": internal, must be C-contiguous");
  return count == 1 ? 0 : item_size;
}

template <class T>
py::tuple unbalanced_array(const py::array& M, const py::array& a, const py::array& b,
                           double reg, double rho_a, double rho_b, int reg_type, double tol,
                           int max_iter, int num_threads, py::array& plan, py::array& F,
                           py::array& G) {
  for (const auto& [x, name] : {std::pair{&M, "M"}, {&a, "a"}, {&b, "b"}, {&plan, "plan"}})
    require_dtype<T>(*x, name);
  require_dtype<double>(F, "F");
  require_dtype<double>(G, "G");
  const index_t batch = index_t(plan.shape(0)), m = index_t(plan.shape(1)),
                n = index_t(plan.shape(2));
  UnbalancedOptions o;
  o.reg = reg;
  o.rho_a = rho_a;
  o.rho_b = rho_b;
  o.reg_type = UnbalancedRegType(reg_type);
  o.tol = tol;
  o.max_iter = max_iter;
  o.num_threads = num_threads;
  std::vector<UnbalancedStatus> status(static_cast<std::size_t>(batch));
  const index_t Ms = stride_of(M, batch, m * n, "M"), as = stride_of(a, batch, m, "a"),
                bs = stride_of(b, batch, n, "b");
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_unbalanced<T>(batch, m, n, static_cast<const T*>(M.data()), Ms,
                           static_cast<const T*>(a.data()), as, static_cast<const T*>(b.data()),
                           bs, o, static_cast<T*>(plan.mutable_data()),
                           static_cast<double*>(F.mutable_data()),
                           static_cast<double*>(G.mutable_data()), status.data(), signals.get());
  }
  py::array_t<std::int64_t> n_iter(batch);
  py::array_t<double> step(batch);
  py::array_t<bool> converged(batch);
  for (index_t k = 0; k < batch; ++k) {
    n_iter.mutable_at(k) = status[std::size_t(k)].n_iter;
    step.mutable_at(k) = status[std::size_t(k)].step;
    converged.mutable_at(k) = status[std::size_t(k)].converged;
  }
  return py::make_tuple(n_iter, step, converged);
}

template <class T>
py::tuple points_array(const py::array& x, const py::array& y, const py::array& a,
                       const py::array& b, const py::object& init_g, double reg, int cost,
                       double tol, int max_iter, int num_threads, py::array& f, py::array& g) {
  for (const auto& [arr, name] : {std::pair{&x, "x"}, {&y, "y"}, {&a, "a"}, {&b, "b"}})
    require_dtype<T>(*arr, name);
  require_dtype<double>(f, "f");
  require_dtype<double>(g, "g");
  const index_t m = index_t(x.shape(0)), n = index_t(y.shape(0)), d = index_t(x.shape(1));
  if (index_t(y.shape(1)) != d || index_t(a.shape(0)) != m || index_t(b.shape(0)) != n ||
      index_t(f.shape(0)) != m || index_t(g.shape(0)) != n)
    throw py::type_error("sinkhorn_points: internal, inconsistent shapes");
  const double* g0 = nullptr;
  py::array init;
  if (!init_g.is_none()) {
    init = init_g.cast<py::array>();
    require_dtype<double>(init, "init");
    g0 = static_cast<const double*>(init.data());
  }
  PointsOptions o;
  o.reg = reg;
  o.cost = PointsCost(cost);
  o.tol = tol;
  o.max_iter = max_iter;
  o.num_threads = num_threads;
  PointsStatus st;
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_points<T>(m, n, d, static_cast<const T*>(x.data()), static_cast<const T*>(y.data()),
                       static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), g0, o,
                       static_cast<double*>(f.mutable_data()),
                       static_cast<double*>(g.mutable_data()), &st, signals.get());
  }
  return py::make_tuple(st.n_iter, st.marginal_error, st.cost, st.value, st.converged);
}

template <class T>
void points_apply_array(const py::array& x, const py::array& y, const py::array& f,
                        const py::array& g, double reg, int cost, const py::array& v,
                        py::array& out, int num_threads) {
  require_dtype<T>(x, "x");
  require_dtype<T>(y, "y");
  for (const auto& [arr, name] : {std::pair{&f, "f"}, {&g, "g"}, {&v, "v"}, {&out, "out"}})
    require_dtype<double>(*arr, name);
  const index_t m = index_t(x.shape(0)), n = index_t(y.shape(0)), d = index_t(x.shape(1));
  if (index_t(y.shape(1)) != d || index_t(f.shape(0)) != m || index_t(g.shape(0)) != n ||
      index_t(v.shape(0)) != n || index_t(out.shape(0)) != m)
    throw py::type_error("sinkhorn_points_apply: internal, inconsistent shapes");
  py::gil_scoped_release release;
  sinkhorn_points_apply<T>(m, n, d, static_cast<const T*>(x.data()),
                           static_cast<const T*>(y.data()), static_cast<const double*>(f.data()),
                           static_cast<const double*>(g.data()), reg, PointsCost(cost),
                           static_cast<const double*>(v.data()),
                           static_cast<double*>(out.mutable_data()), num_threads);
}

}  // namespace

void bind_ot_extra(py::module_& m) {
  // x (m, d), y (n, d), a (m), b (n) of one dtype, C-contiguous; init_g None or (n,) float64;
  // f (m), g (n) float64 preallocated. cost: 0 sqeuclidean, 1 euclidean.
  // Returns (n_iter, marginal_error, cost, value, converged).
  m.def("sinkhorn_points", [](const py::array& x, const py::array& y, const py::array& a,
                              const py::array& b, const py::object& init_g, double reg,
                              int cost, double tol, int max_iter, int num_threads,
                              py::array& f, py::array& g) {
    if (x.dtype().is(py::dtype::of<double>()))
      return points_array<double>(x, y, a, b, init_g, reg, cost, tol, max_iter, num_threads,
                                  f, g);
    return points_array<float>(x, y, a, b, init_g, reg, cost, tol, max_iter, num_threads, f,
                               g);
  });
  // out (m,) = P v for v (n,), all float64 but x, y; P^T u: swap (x, f) with (y, g).
  m.def("sinkhorn_points_apply", [](const py::array& x, const py::array& y, const py::array& f,
                                    const py::array& g, double reg, int cost,
                                    const py::array& v, py::array& out, int num_threads) {
    if (x.dtype().is(py::dtype::of<double>()))
      points_apply_array<double>(x, y, f, g, reg, cost, v, out, num_threads);
    else
      points_apply_array<float>(x, y, f, g, reg, cost, v, out, num_threads);
  });
  // M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n) of one dtype; plan (B, m, n) of that
  // dtype, F (B, m) and G (B, n) float64, preallocated. reg_type: 0 kl, 1 entropy.
  // Returns (n_iter, step, converged) per item.
  m.def("sinkhorn_unbalanced", [](const py::array& M, const py::array& a, const py::array& b,
                                  double reg, double rho_a, double rho_b, int reg_type,
                                  double tol, int max_iter, int num_threads, py::array& plan,
                                  py::array& F, py::array& G) {
    if (plan.dtype().is(py::dtype::of<double>()))
      return unbalanced_array<double>(M, a, b, reg, rho_a, rho_b, reg_type, tol, max_iter,
                                      num_threads, plan, F, G);
    return unbalanced_array<float>(M, a, b, reg, rho_a, rho_b, reg_type, tol, max_iter,
                                   num_threads, plan, F, G);
  });
}

}  // namespace optkern::bindings
