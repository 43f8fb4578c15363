// optkern._core: the CPU kernels. One bind_<area>.cpp per area registers its functions, enums and
// classes in the submodule _core.<area>; what concerns the whole module (build_info, threads)
// stays on _core itself.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common/areas.hpp"
#include "optkern/build_info.hpp"
#include "optkern/simd.hpp"
#include "optkern/threads.hpp"

namespace py = pybind11;

namespace optkern::bindings {
void bind_testing(py::module_& m);
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "optkern's compiled CPU kernels (use the optkern package, not this module)";

  // OPTKERN_SIMD asked for a level this build or this CPU cannot run, or the CPU lacks the
  // baseline: refuse to import, rather than run something else than asked or crash later.
  const std::string simd_error = optkern::simd_error();
  if (!simd_error.empty()) throw py::import_error("optkern: " + simd_error);

  m.def("build_info", [] {
    const auto info = optkern::build_info();
    py::dict d;
    d["version"] = info.version;
    d["compiler"] = info.compiler;
    d["eigen_version"] = info.eigen_version;
    d["simd"] = info.simd;
    d["simd_compiled"] = info.simd_compiled;
    d["simd_flags"] = info.simd_flags;
    d["simd_bytes"] = info.simd_bytes;
    d["openmp"] = info.openmp_version;
    return d;
  });
  m.def("num_threads", &optkern::num_threads);
  m.def("set_num_threads", &optkern::set_num_threads, py::arg("n"));

  namespace ob = optkern::bindings;
  ob::bind_areas(m, "CPU",
                 {ob::bind_linalg, ob::bind_givens, ob::bind_tv, ob::bind_ot, ob::bind_optimize});
  ob::bind_testing(m);
}
