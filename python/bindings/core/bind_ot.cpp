// optkern._core.ot: entropic optimal transport (python/optkern/ot/ owns the policy).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <initializer_list>
#include <tuple>
#include <utility>
#include <vector>

#include "common/arrays.hpp"
#include "common/ot_status.hpp"
#include "common/signal_check.hpp"
#include "optkern/ot.hpp"
#include "optkern/ot/sinkhorn_step.hpp"

namespace optkern::bindings {
namespace {

// An operand stacked over the batch (leading extent batch) or shared by it (extent 1), each
// item of `item` elements: its data, and its batch stride in elements (0 when shared).
template <class T>
std::pair<const T*, index_t> operand(const py::array& x, const char* name, index_t batch,
                                     std::initializer_list<py::ssize_t> item) {
  const auto a = c_array<T>(x, name);
  const index_t count = a.ndim() >= 1 && a.shape(0) == 1 ? 1 : batch;
  index_t size = 1;
  for (auto extent : item) size *= extent;
  if (item.size() == 1) return {checked(a, name, {count, *item.begin()}), count == 1 ? 0 : size};
  return {checked(a, name, {count, item.begin()[0], item.begin()[1]}), count == 1 ? 0 : size};
}

template <class T>
py::tuple sinkhorn_array(const py::array& M, const py::array& a, const py::array& b,
                         const py::object& init_g, double reg, double tol, int max_iter,
                         int check_every, SinkhornMethod method, int num_threads,
                         const py::array& plan, const py::array& f, const py::array& g) {
  const auto [batch, m, n] = extents_of<3>(plan, "plan");
  SinkhornProblem<T> p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  std::tie(p.M, p.M_stride) = operand<T>(M, "M", batch, {m, n});
  std::tie(p.a, p.a_stride) = operand<T>(a, "a", batch, {m});
  std::tie(p.b, p.b_stride) = operand<T>(b, "b", batch, {n});
  if (!init_g.is_none())
    std::tie(p.init_g, p.init_g_stride) = operand<T>(init_g.cast<py::array>(), "init", batch, {n});
  const SinkhornOptions o = make_options(reg, tol, max_iter, check_every, method, num_threads);
  std::vector<SinkhornStatus> status(static_cast<std::size_t>(batch));
  SinkhornOutput<T> out;
  out.plan = mutable_data_of<T>(plan, "plan", {batch, m, n});
  out.f = mutable_data_of<T>(f, "f", {batch, m});
  out.g = mutable_data_of<T>(g, "g", {batch, n});
  out.status = status.data();
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn<T>(p, o, out, signals.get());
  }
  return status_arrays(status);
}

template <class T>
py::array_t<std::int8_t> sinkhorn_vjp_array(const py::array& P, const py::array& grad_P, double reg,
                                            int num_threads, const py::array& grad_M,
                                            const py::array& grad_a, const py::array& grad_b) {
  const auto [batch, m, n] = extents_of<3>(P, "P");
  const T* pP = data_of<T>(P, "P", {batch, m, n});
  const T* pG = data_of<T>(grad_P, "grad_P", {batch, m, n});
  T* gM = mutable_data_of<T>(grad_M, "grad_M", {batch, m, n});
  T* ga = mutable_data_of<T>(grad_a, "grad_a", {batch, m});
  T* gb = mutable_data_of<T>(grad_b, "grad_b", {batch, n});
  std::vector<SinkhornVjpStatus> status(static_cast<std::size_t>(batch));
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    sinkhorn_vjp<T>(batch, m, n, pP, pG, reg, gM, ga, gb, status.data(), num_threads,
                    signals.get());
  }
  py::array_t<std::int8_t> out(batch);
  for (index_t k = 0; k < batch; ++k) out.mutable_at(k) = std::int8_t(status[std::size_t(k)]);
  return out;
}

}  // namespace

void bind_ot_extra(py::module_& m);  // bind_ot_extra.cpp (issue 16's kernels)

void bind_ot(py::module_& m) {
  // The constants Python's checks and the torch backward share with the kernels.
  namespace step = optkern::detail::sinkhorn_step;
  m.attr("MASS_RTOL") = step::kMassRtol;
  m.attr("MAX_COST_OVER_REG") = step::kMaxCostOverReg;
  m.attr("PIVOT_RTOL") = step::kPivotRtol;
  py::enum_<SinkhornMethod>(m, "SinkhornMethod")
      .value("auto", SinkhornMethod::automatic)
      .value("plain", SinkhornMethod::plain)
      .value("log", SinkhornMethod::log);
  bind_ot_extra(m);
  // M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n), init_g: None or (1 or B, n); plan, f, g
  // preallocated (B, m, n), (B, m), (B, n), all C-contiguous of one dtype. method: a
  // SinkhornMethod. Returns per-item arrays (n_iter, marginal_error, cost, value, converged,
  // method used, as the SinkhornMethod's value).
  m.def("sinkhorn",
        [](const py::array& M, const py::array& a, const py::array& b, const py::object& init_g,
           double reg, double tol, int max_iter, int check_every, SinkhornMethod method,
           int num_threads, const py::array& plan, const py::array& f, const py::array& g) {
          return dispatch_float(plan.dtype(), [&](auto t) {
            return sinkhorn_array<decltype(t)>(M, a, b, init_g, reg, tol, max_iter, check_every,
                                               method, num_threads, plan, f, g);
          });
        });
  // P, grad_P, grad_M: (B, m, n); grad_a: (B, m); grad_b: (B, n); one dtype, C-contiguous.
  // Returns the status of each item (0 ok, 1 singular).
  m.def("sinkhorn_vjp", [](const py::array& P, const py::array& grad_P, double reg, int num_threads,
                           const py::array& grad_M, const py::array& grad_a,
                           const py::array& grad_b) {
    return dispatch_float(P.dtype(), [&](auto t) {
      return sinkhorn_vjp_array<decltype(t)>(P, grad_P, reg, num_threads, grad_M, grad_a, grad_b);
    });
  });
}

}  // namespace optkern::bindings
