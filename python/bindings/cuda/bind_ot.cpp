// optkern._cuda.ot: Sinkhorn on a CUDA device (balanced, unbalanced, between point clouds).
// Operands arrive as device pointers with their batch strides (python/optkern/ot/_cuda.py reads
// them from DLPack); the call waits for the stream and returns the per-problem statistics as
// NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/arrays.hpp"
#include "common/ot_status.hpp"
#include "optkern/cuda/ot.hpp"

namespace optkern::bindings {
namespace {

template <class T>
py::tuple sinkhorn_device(index_t batch, index_t m, index_t n, std::uintptr_t M, index_t M_stride,
                          std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
                          std::uintptr_t init_g, index_t init_stride, double reg, double tol,
                          int max_iter, int check_every, SinkhornMethod method, std::uintptr_t plan,
                          std::uintptr_t f, std::uintptr_t g, std::uintptr_t stream) {
  SinkhornProblem<T> p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.M = reinterpret_cast<const T*>(M);
  p.M_stride = M_stride;
  p.a = reinterpret_cast<const T*>(a);
  p.a_stride = a_stride;
  p.b = reinterpret_cast<const T*>(b);
  p.b_stride = b_stride;
  p.init_g = reinterpret_cast<const T*>(init_g);
  p.init_g_stride = init_stride;
  const SinkhornOptions o = make_options(reg, tol, max_iter, check_every, method);
  std::vector<SinkhornStatus> status(static_cast<std::size_t>(batch));
  SinkhornOutput<T> out;
  out.plan = reinterpret_cast<T*>(plan);
  out.f = reinterpret_cast<T*>(f);
  out.g = reinterpret_cast<T*>(g);
  out.status = status.data();
  {
    py::gil_scoped_release release;
    cuda::sinkhorn<T>(p, o, out, reinterpret_cast<cudaStream_t>(stream));
  }
  return status_arrays(status);
}

template <class T>
py::tuple unbalanced_device(index_t batch, index_t m, index_t n, std::uintptr_t M, index_t M_stride,
                            std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
                            double reg, double rho_a, double rho_b, UnbalancedRegType reg_type,
                            SinkhornMethod method, double tol, int max_iter, std::uintptr_t plan,
                            std::uintptr_t f, std::uintptr_t g, std::uintptr_t stream) {
  UnbalancedOptions o;
  o.reg = reg;
  o.rho_a = rho_a;
  o.rho_b = rho_b;
  o.reg_type = reg_type;
  o.tol = tol;
  o.max_iter = max_iter;
  o.method = method;
  std::vector<UnbalancedStatus> status(static_cast<std::size_t>(batch));
  std::vector<cuda::UnbalancedValues> values(static_cast<std::size_t>(batch));
  {
    py::gil_scoped_release release;
    cuda::sinkhorn_unbalanced<T>(
        batch, m, n, reinterpret_cast<const T*>(M), M_stride, reinterpret_cast<const T*>(a),
        a_stride, reinterpret_cast<const T*>(b), b_stride, o, reinterpret_cast<T*>(plan),
        reinterpret_cast<T*>(f), reinterpret_cast<T*>(g), status.data(), values.data(),
        reinterpret_cast<cudaStream_t>(stream));
  }
  const auto count = py::ssize_t(batch);
  py::array_t<std::int64_t> n_iter(count);
  py::array_t<double> step(count), cost(count), value(count);
  py::array_t<bool> converged(count);
  py::array_t<std::int32_t> ran(count);
  for (py::ssize_t k = 0; k < count; ++k) {
    const UnbalancedStatus& s = status[std::size_t(k)];
    n_iter.mutable_at(k) = s.n_iter;
    step.mutable_at(k) = s.step;
    converged.mutable_at(k) = s.converged;
    ran.mutable_at(k) = std::int32_t(s.method);
    cost.mutable_at(k) = values[std::size_t(k)].cost;
    value.mutable_at(k) = values[std::size_t(k)].value;
  }
  return py::make_tuple(n_iter, step, converged, ran, cost, value);
}

template <class T>
py::tuple points_device(index_t batch, index_t m, index_t n, index_t d, std::uintptr_t x,
                        index_t x_stride, std::uintptr_t y, index_t y_stride, std::uintptr_t a,
                        index_t a_stride, std::uintptr_t b, index_t b_stride, std::uintptr_t init_g,
                        index_t init_stride, double reg, PointsCost cost, double tol, int max_iter,
                        std::uintptr_t f, std::uintptr_t g, std::uintptr_t stream) {
  PointsOptions o;
  o.reg = reg;
  o.cost = cost;
  o.tol = tol;
  o.max_iter = max_iter;
  std::vector<PointsStatus> status(static_cast<std::size_t>(batch));
  {
    py::gil_scoped_release release;
    cuda::sinkhorn_points<T>(
        batch, m, n, d, reinterpret_cast<const T*>(x), x_stride, reinterpret_cast<const T*>(y),
        y_stride, reinterpret_cast<const T*>(a), a_stride, reinterpret_cast<const T*>(b), b_stride,
        reinterpret_cast<const double*>(init_g), init_stride, o, reinterpret_cast<double*>(f),
        reinterpret_cast<double*>(g), status.data(), reinterpret_cast<cudaStream_t>(stream));
  }
  const auto count = py::ssize_t(batch);
  py::array_t<std::int64_t> n_iter(count);
  py::array_t<double> error(count), cost_out(count), value(count);
  py::array_t<bool> converged(count);
  for (py::ssize_t k = 0; k < count; ++k) {
    const PointsStatus& s = status[std::size_t(k)];
    n_iter.mutable_at(k) = s.n_iter;
    error.mutable_at(k) = s.marginal_error;
    cost_out.mutable_at(k) = s.cost;
    value.mutable_at(k) = s.value;
    converged.mutable_at(k) = s.converged;
  }
  return py::make_tuple(n_iter, error, cost_out, value, converged);
}

}  // namespace

void bind_cuda_ot(py::module_& m) {
  // dtype 'f' or 'd'; pointers are device addresses (init_g may be 0); strides in elements
  // (0 shares an operand across the batch); method: a _core.ot.SinkhornMethod.
  m.def("sinkhorn",
        [](const std::string& dtype, index_t batch, index_t rows, index_t cols, std::uintptr_t M,
           index_t M_stride, std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
           std::uintptr_t init_g, index_t init_stride, double reg, double tol, int max_iter,
           int check_every, SinkhornMethod method, std::uintptr_t plan, std::uintptr_t f,
           std::uintptr_t g, std::uintptr_t stream) {
          return dispatch_float(dtype, [&](auto t) {
            return sinkhorn_device<decltype(t)>(batch, rows, cols, M, M_stride, a, a_stride, b,
                                                b_stride, init_g, init_stride, reg, tol, max_iter,
                                                check_every, method, plan, f, g, stream);
          });
        });
  // Unbalanced Sinkhorn (log domain): dtype 'f' or 'd'; M, a, b device pointers with batch
  // strides in elements (0 shares); plan (batch, m, n), f (batch, m), g (batch, n) of that
  // dtype. Returns (n_iter, step, converged, method that ran, cost, value) per problem.
  m.def("sinkhorn_unbalanced",
        [](const std::string& dtype, index_t batch, index_t rows, index_t cols, std::uintptr_t M,
           index_t M_stride, std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
           double reg, double rho_a, double rho_b, UnbalancedRegType reg_type,
           SinkhornMethod method, double tol, int max_iter, std::uintptr_t plan, std::uintptr_t f,
           std::uintptr_t g, std::uintptr_t stream) {
          return dispatch_float(dtype, [&](auto t) {
            return unbalanced_device<decltype(t)>(batch, rows, cols, M, M_stride, a, a_stride, b,
                                                  b_stride, reg, rho_a, rho_b, reg_type, method,
                                                  tol, max_iter, plan, f, g, stream);
          });
        });
  // Sinkhorn between point clouds: dtype 'f' or 'd' (of x, y, a, b); init_g (may be 0), f
  // (batch, m) and g (batch, n) float64. Strides in elements, 0 shares.
  // Returns (n_iter, marginal_error, cost, value, converged) per problem.
  m.def("sinkhorn_points",
        [](const std::string& dtype, index_t batch, index_t rows, index_t cols, index_t dim,
           std::uintptr_t x, index_t x_stride, std::uintptr_t y, index_t y_stride, std::uintptr_t a,
           index_t a_stride, std::uintptr_t b, index_t b_stride, std::uintptr_t init_g,
           index_t init_stride, double reg, PointsCost cost, double tol, int max_iter,
           std::uintptr_t f, std::uintptr_t g, std::uintptr_t stream) {
          return dispatch_float(dtype, [&](auto t) {
            return points_device<decltype(t)>(batch, rows, cols, dim, x, x_stride, y, y_stride, a,
                                              a_stride, b, b_stride, init_g, init_stride, reg, cost,
                                              tol, max_iter, f, g, stream);
          });
        });
}

}  // namespace optkern::bindings
