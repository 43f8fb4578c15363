// optkern._cuda.givens: the L1 descent engine with its loop on the device. The matrix
// arrives as a device pointer (python/optkern/givens/_cuda.py reads it from DLPack or
// uploads a NumPy array); the trajectory comes back into host NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "common/arrays.hpp"
#include "common/device.hpp"
#include "common/givens_trajectory.hpp"
#include "optkern/cuda/givens.hpp"
#include "optkern/cuda/givens_apply.hpp"

namespace optkern::bindings {
namespace {

namespace cg = optkern::cuda::givens;

template <class T>
index_t run_engine(cg::L1Descent<T>& engine, index_t max_steps, CArray<std::int64_t>& i,
                   CArray<std::int64_t>& j, CArray<T>& theta, CArray<double>& score,
                   index_t offset) {
  const TrajectoryView<T> v = trajectory_view(i, j, theta, score, max_steps, offset);
  py::gil_scoped_release release;
  return engine.run(max_steps, v.i, v.j, v.theta, v.score);
}

template <class T>
void bind_dtype(py::module_& m, const std::string& suffix) {
  using Engine = cg::L1Descent<T>;
  py::class_<Engine>(m, ("GivensL1DescentCuda" + suffix).c_str())
      .def(py::init([](std::uintptr_t u, index_t d, std::uintptr_t stream) {
             py::gil_scoped_release release;  // the first pass scores every pair
             return new Engine(reinterpret_cast<const T*>(u), d,
                               reinterpret_cast<cudaStream_t>(stream));
           }),
           py::arg("u"), py::arg("d"), py::arg("stream"))
      .def("run", &run_engine<T>, py::arg("max_steps"), py::arg("i").noconvert(),
           py::arg("j").noconvert(), py::arg("theta").noconvert(), py::arg("score").noconvert(),
           py::arg("offset"))
      .def_property_readonly("converged", &Engine::converged)
      .def("matrix", [](const Engine& e) {
        py::array_t<T> out({e.dim(), e.dim()});
        T* data = out.mutable_data();
        {
          py::gil_scoped_release release;
          e.matrix(data);
        }
        return out;
      });
}

}  // namespace

void bind_cuda_givens(py::module_& m) {
  each_float([&](auto t, const char* suffix) { bind_dtype<decltype(t)>(m, suffix); });
  m.attr("MAX_DIM") = cg::kMaxDim;
  // GivensSequence applied in place to x (batch, d, cols) on the device, layer by layer; the
  // factor arrays are device pointers in layer order, layer_start a host int64 array.
  m.def(
      "apply_layers",
      [](char dtype, std::uintptr_t i, std::uintptr_t j, std::uintptr_t cos, std::uintptr_t sin,
         const py::array_t<std::int64_t, py::array::c_style>& layer_start, std::uintptr_t x,
         index_t batch, index_t d, index_t cols, bool transpose, std::uintptr_t stream) {
        const index_t layers = extents_of<1>(layer_start, "layer_start")[0];
        if (layers < 1) throw py::value_error("layer_start: expected at least one offset, got 0");
        const index_t n_layers = layers - 1;
        const auto* starts = checked(layer_start, "layer_start", {layers});
        const auto* pi = reinterpret_cast<const std::int64_t*>(i);
        const auto* pj = reinterpret_cast<const std::int64_t*>(j);
        const auto s = reinterpret_cast<cudaStream_t>(stream);
        py::gil_scoped_release release;
        dispatch_float(dtype, [&](auto t) {
          using T = decltype(t);
          cg::apply_layers<T>(pi, pj, as<const T>(cos), as<const T>(sin), starts, n_layers,
                              as<T>(x), batch, d, cols, transpose, s);
        });
      },
      py::arg("dtype"), py::arg("i"), py::arg("j"), py::arg("cos"), py::arg("sin"),
      py::arg("layer_start").noconvert(), py::arg("x"), py::arg("batch"), py::arg("d"),
      py::arg("cols"), py::arg("transpose"), py::arg("stream"));
}

}  // namespace optkern::bindings
