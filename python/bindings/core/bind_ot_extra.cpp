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

}  // namespace

void bind_ot_extra(py::module_& m) {
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
