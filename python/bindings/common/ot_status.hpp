// What the CPU and the CUDA Sinkhorn bindings share: the options from their arguments, and the
// per-problem statistics as NumPy arrays. (SinkhornMethod is bound in _core, bind_ot.cpp.)
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "optkern/ot.hpp"

namespace optkern::bindings {

namespace py = pybind11;

inline SinkhornOptions make_options(double reg, double tol, int max_iter, int check_every,
                                    SinkhornMethod method, int num_threads = 0) {
  // Every field, in declaration order (a field added to SinkhornOptions fails here).
  return SinkhornOptions{reg, tol, max_iter, check_every, method, num_threads};
}

// (n_iter, marginal_error, cost, value, converged, method), one entry per problem.
inline py::tuple status_arrays(const std::vector<SinkhornStatus>& status) {
  const auto batch = py::ssize_t(status.size());
  py::array_t<std::int64_t> n_iter(batch), method(batch);
  py::array_t<double> error(batch), cost(batch), value(batch);
  py::array_t<bool> converged(batch);
  for (py::ssize_t k = 0; k < batch; ++k) {
    const SinkhornStatus& s = status[std::size_t(k)];
    n_iter.mutable_at(k) = s.n_iter;
    method.mutable_at(k) = std::int64_t(s.method);
    error.mutable_at(k) = s.marginal_error;
    cost.mutable_at(k) = s.cost;
    value.mutable_at(k) = s.value;
    converged.mutable_at(k) = s.converged;
  }
  return py::make_tuple(n_iter, error, cost, value, converged, method);
}

}  // namespace optkern::bindings
