// optkern._core: entropic optimal transport (python/optkern/ot.py owns the policy).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "array_cast.hpp"
#include "optkern/ot.hpp"
#include "ot_status.hpp"
#include "signal_check.hpp"

namespace optkern::bindings {
namespace {

// An operand stacked over the batch (leading extent `count`), or shared by it (extent 1).
index_t batch_stride(const py::array& x, index_t batch, index_t item_size, const char* name) {
  const index_t count = index_t(x.shape(0));
  if (count != 1 && count != batch)
    throw py::type_error(std::string(name) + ": internal, leading extent must be 1 or batch");
  if (!(x.flags() & py::array::c_style))
    throw py::type_error(std::string(name) + ": internal, must be C-contiguous");
  return count == 1 ? 0 : item_size;
}

template <class T>
py::tuple sinkhorn_array(const py::array& M, const py::array& a, const py::array& b,
                         const py::object& init_g, double reg, double tol, int max_iter,
                         int check_every, int method, int num_threads, py::array& plan,
                         py::array& f, py::array& g) {
  for (const auto& [x, name] : {std::pair{&M, "M"}, {&a, "a"}, {&b, "b"}, {&plan, "plan"},
                                {&f, "f"}, {&g, "g"}})
    require_dtype<T>(*x, name);
  const index_t batch = index_t(plan.shape(0)), m = index_t(plan.shape(1)),
                n = index_t(plan.shape(2));
  SinkhornProblem<T> p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.M = static_cast<const T*>(M.data());
  p.M_stride = batch_stride(M, batch, m * n, "M");
  p.a = static_cast<const T*>(a.data());
  p.a_stride = batch_stride(a, batch, m, "a");
  p.b = static_cast<const T*>(b.data());
  p.b_stride = batch_stride(b, batch, n, "b");
  py::array init;
  if (!init_g.is_none()) {
    init = init_g.cast<py::array>();
    require_dtype<T>(init, "init");
    p.init_g = static_cast<const T*>(init.data());
    p.init_g_stride = batch_stride(init, batch, n, "init");
  }
  const SinkhornOptions o =
      make_options(reg, tol, max_iter, check_every, method, num_threads);
  std::vector<SinkhornStatus> status(static_cast<std::size_t>(batch));
  SinkhornOutput<T> out;
  out.plan = static_cast<T*>(plan.mutable_data());
  out.f = static_cast<T*>(f.mutable_data());
  out.g = static_cast<T*>(g.mutable_data());
  out.status = status.data();
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn<T>(p, o, out, signals.get());
  }
  return status_arrays(status);
}

template <class T>
py::array_t<std::int8_t> sinkhorn_vjp_array(const py::array& P, const py::array& grad_P,
                                            double reg, int num_threads, py::array& grad_M,
                                            py::array& grad_a, py::array& grad_b) {
  for (const auto& [x, name] : {std::pair{&P, "P"}, {&grad_P, "grad_P"}, {&grad_M, "grad_M"},
                                {&grad_a, "grad_a"}, {&grad_b, "grad_b"}})
    require_dtype<T>(*x, name);
  const index_t batch = index_t(P.shape(0)), m = index_t(P.shape(1)), n = index_t(P.shape(2));
  std::vector<SinkhornVjpStatus> status(static_cast<std::size_t>(batch));
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_vjp<T>(batch, m, n, static_cast<const T*>(P.data()),
                    static_cast<const T*>(grad_P.data()), reg,
                    static_cast<T*>(grad_M.mutable_data()), static_cast<T*>(grad_a.mutable_data()),
                    static_cast<T*>(grad_b.mutable_data()), status.data(), num_threads,
                    signals.get());
  }
  py::array_t<std::int8_t> out(batch);
  for (index_t k = 0; k < batch; ++k) out.mutable_at(k) = std::int8_t(status[std::size_t(k)]);
  return out;
}

}  // namespace

void bind_ot_extra(py::module_& m);  // bind_ot_extra.cpp (issue 16's kernels)

void bind_ot(py::module_& m) {
  bind_ot_extra(m);
  // M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n), init_g: None or (1 or B, n); plan, f, g
  // preallocated (B, m, n), (B, m), (B, n), all C-contiguous of one dtype. method: 0 auto,
  // 1 plain, 2 log. Returns per-item arrays (n_iter, marginal_error, cost, value, converged,
  // method used).
  m.def("sinkhorn", [](const py::array& M, const py::array& a, const py::array& b,
                       const py::object& init_g, double reg, double tol, int max_iter,
                       int check_every, int method, int num_threads, py::array& plan,
                       py::array& f, py::array& g) {
    if (plan.dtype().is(py::dtype::of<double>()))
      return sinkhorn_array<double>(M, a, b, init_g, reg, tol, max_iter, check_every, method,
                                    num_threads, plan, f, g);
    return sinkhorn_array<float>(M, a, b, init_g, reg, tol, max_iter, check_every, method,
                                 num_threads, plan, f, g);
  });
  // P, grad_P, grad_M: (B, m, n); grad_a: (B, m); grad_b: (B, n); one dtype, C-contiguous.
  // Returns the status of each item (0 ok, 1 singular).
  m.def("sinkhorn_vjp", [](const py::array& P, const py::array& grad_P, double reg,
                           int num_threads, py::array& grad_M, py::array& grad_a,
                           py::array& grad_b) {
    if (P.dtype().is(py::dtype::of<double>()))
      return sinkhorn_vjp_array<double>(P, grad_P, reg, num_threads, grad_M, grad_a, grad_b);
    return sinkhorn_vjp_array<float>(P, grad_P, reg, num_threads, grad_M, grad_a, grad_b);
  });
}

}  // namespace optkern::bindings
