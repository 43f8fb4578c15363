// The five areas each compiled module (_core for the CPU, _cuda for CUDA) has a submodule for,
// named once: bind_areas(m, device, {bind_linalg, ...}) creates _core.linalg, ... and hands
// each to its area's bind function (bind_<area>.cpp).
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <utility>

namespace optkern::bindings {

namespace py = pybind11;

using AreaBinder = void (*)(py::module_&);

// Each area's bind function: core/bind_<area>.cpp (the CPU module) and cuda/bind_<area>.cpp.
void bind_linalg(py::module_& m);
void bind_givens(py::module_& m);
void bind_tv(py::module_& m);
void bind_ot(py::module_& m);
void bind_optimize(py::module_& m);
void bind_cuda_linalg(py::module_& m);
void bind_cuda_givens(py::module_& m);
void bind_cuda_tv(py::module_& m);
void bind_cuda_ot(py::module_& m);
void bind_cuda_optimize(py::module_& m);

// One bind function per area, in the order of the submodules.
struct AreaBinders {
  AreaBinder linalg, givens, tv, ot, optimize;
};

// def_submodule registers each submodule in sys.modules as <module>.<area>, so that the enums'
// and classes' __module__ can be imported (pickle finds them there).
inline void bind_areas(py::module_& m, const char* device, const AreaBinders& binders) {
  const std::pair<const char*, AreaBinder> areas[] = {{"linalg", binders.linalg},
                                                      {"givens", binders.givens},
                                                      {"tv", binders.tv},
                                                      {"ot", binders.ot},
                                                      {"optimize", binders.optimize}};
  for (const auto& [name, bind] : areas) {
    const std::string doc = std::string("optkern.") + name + "'s kernels on the " + device;
    py::module_ area = m.def_submodule(name, doc.c_str());
    bind(area);
  }
}

}  // namespace optkern::bindings
