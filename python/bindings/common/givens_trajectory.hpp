// The trajectory arrays of a Givens engine's run(), shared by the CPU and CUDA bindings:
// four 1-D NumPy arrays (i, j: int64, theta: the engine's dtype, score: float64) that receive
// up to max_steps factors from position `offset`.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "common/arrays.hpp"
#include "optkern/common.hpp"

namespace optkern::bindings {

namespace py = pybind11;

template <class T>
struct TrajectoryView {
  index_t* i;
  index_t* j;
  T* theta;
  double* score;
};

template <class T>
TrajectoryView<T> trajectory_view(py::array_t<std::int64_t, py::array::c_style>& i,
                                  py::array_t<std::int64_t, py::array::c_style>& j,
                                  py::array_t<T, py::array::c_style>& theta,
                                  py::array_t<double, py::array::c_style>& score, index_t max_steps,
                                  index_t offset) {
  static_assert(sizeof(std::int64_t) == sizeof(index_t));
  const index_t n = extents_of<1>(i, "i")[0];
  if (offset < 0 || max_steps < 0 || max_steps > n - offset)
    throw py::value_error("max_steps: expected at most " + std::to_string(n) +
                          " - offset factors from offset >= 0, got " + std::to_string(max_steps) +
                          " from " + std::to_string(offset));
  return {reinterpret_cast<index_t*>(checked_out(i, "i", {n})) + offset,
          reinterpret_cast<index_t*>(checked_out(j, "j", {n})) + offset,
          checked_out(theta, "theta", {n}) + offset, checked_out(score, "score", {n}) + offset};
}

}  // namespace optkern::bindings
