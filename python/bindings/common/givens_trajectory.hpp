// The trajectory arrays of a Givens engine's run(), shared by the CPU and CUDA bindings:
// four 1-D NumPy arrays (i, j: int64, theta: the engine's dtype, score: float64) that receive
// up to max_steps factors from position `offset`.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

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
                                  py::array_t<double, py::array::c_style>& score,
                                  index_t max_steps, index_t offset) {
  static_assert(sizeof(std::int64_t) == sizeof(index_t));
  const index_t n = i.shape(0);
  if (offset < 0 || max_steps < 0 || max_steps > n - offset || j.shape(0) != n ||
      theta.shape(0) != n || score.shape(0) != n)
    throw py::type_error("run: internal, trajectory arrays too small");
  return {reinterpret_cast<index_t*>(i.mutable_data()) + offset,
          reinterpret_cast<index_t*>(j.mutable_data()) + offset, theta.mutable_data() + offset,
          score.mutable_data() + offset};
}

}  // namespace optkern::bindings
