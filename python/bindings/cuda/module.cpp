// optkern._cuda: the CUDA kernels. Arrays arrive as device pointers with shapes and strides
// (python/optkern/_gpu.py reads them from DLPack), so this module needs no CuPy or torch. One
// bind_<area>.cpp per area fills the submodule _cuda.<area>.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>

#include "common/areas.hpp"
#include "optkern/cuda/runtime.hpp"

namespace py = pybind11;

namespace {

cudaStream_t as_stream(std::uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

void* as_pointer(std::uintptr_t address) { return reinterpret_cast<void*>(address); }

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  namespace oc = optkern::cuda;
  m.doc() = "optkern's CUDA kernels (use the optkern package, not this module)";
  py::register_exception<oc::Error>(m, "CudaError", PyExc_RuntimeError);

  m.def("devices", [] {
    py::list out;
    for (const auto& d : oc::devices()) {
      py::dict info;
      info["index"] = d.index;
      info["name"] = d.name;
      info["compute_capability"] = py::make_tuple(d.major, d.minor);
      info["total_memory"] = d.total_memory;
      info["multiprocessors"] = d.multiprocessors;
      out.append(info);
    }
    return out;
  });
  m.def("driver_status", &oc::driver_status);
  m.def("runtime_version", &oc::runtime_version);

  m.def("malloc", [](std::size_t bytes) {
    return reinterpret_cast<std::uintptr_t>(oc::device_malloc(bytes));
  });
  m.def("free", [](std::uintptr_t ptr) { oc::device_free(as_pointer(ptr)); });
  m.def("copy_to_device", [](std::uintptr_t dst, const py::array& src, std::uintptr_t stream) {
    if (!(src.flags() & py::array::c_style)) throw py::value_error("src: must be C-contiguous");
    py::gil_scoped_release release;
    oc::copy_to_device(as_pointer(dst), src.data(), std::size_t(src.nbytes()), as_stream(stream));
  });
  m.def("copy_to_host", [](py::array& dst, std::uintptr_t src, std::uintptr_t stream) {
    if (!(dst.flags() & py::array::c_style) || !dst.writeable())
      throw py::value_error("dst: must be a writeable C-contiguous array");
    void* data = dst.mutable_data();
    const auto bytes = std::size_t(dst.nbytes());
    py::gil_scoped_release release;
    oc::copy_to_host(data, as_pointer(src), bytes, as_stream(stream));
  });
  m.def("stream_synchronize", [](std::uintptr_t stream) {
    py::gil_scoped_release release;
    oc::synchronize(as_stream(stream));
  });

  // One submodule per area, _cuda.<area>, as in _core; the device and stream functions above
  // concern the whole module and stay on it.
  namespace ob = optkern::bindings;
  ob::bind_areas(m, "GPU (CUDA)",
                 {ob::bind_cuda_linalg, ob::bind_cuda_givens, ob::bind_cuda_tv, ob::bind_cuda_ot,
                  ob::bind_cuda_optimize});
}
