// optkern._cuda.optimize: batches of native problems, one per GPU thread.
// Arrays arrive as device pointers (python/optkern/optimize/_cuda.py reads them from
// DLPack or stages NumPy inputs).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

#include "common/arrays.hpp"
#include "common/optimize_settings.hpp"
#include "optkern/cuda/optimize.hpp"

namespace optkern::bindings {
namespace {

template <class T>
T* device(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

template <class T>
void run(int kind, double parameter, const RunSettings& options, std::uintptr_t x0,
         std::uintptr_t lower, std::uintptr_t upper, std::uintptr_t x, std::uintptr_t f,
         std::uintptr_t g, std::uintptr_t nit, std::uintptr_t nfev, std::uintptr_t status,
         index_t batch, index_t n, std::uintptr_t stream) {
  auto settings = settings_from<T>(options);
  if (lower != 0 || upper != 0) {  // L-BFGS-B: rows of bounds on the device, as x0
    settings.lower = device<const T>(lower);
    settings.upper = device<const T>(upper);
  }
  const auto spec = problem_from(kind, parameter);
  py::gil_scoped_release release;
  cuda::minimize_problem_batch<T>(spec, settings, device<const T>(x0), device<T>(x), device<T>(f),
                                  device<T>(g), device<std::int64_t>(nit),
                                  device<std::int64_t>(nfev), device<std::int32_t>(status), batch,
                                  n, reinterpret_cast<cudaStream_t>(stream));
}

}  // namespace

void bind_cuda_optimize(py::module_& m) {
  m.def("minimize_problem_batch",
        [](const std::string& dtype, int kind, double parameter, const RunSettings& options,
           std::uintptr_t x0, std::uintptr_t lower, std::uintptr_t upper, std::uintptr_t x,
           std::uintptr_t f, std::uintptr_t g, std::uintptr_t nit, std::uintptr_t nfev,
           std::uintptr_t status, index_t batch, index_t n, std::uintptr_t stream) {
          dispatch_float(dtype, [&](auto t) {
            run<decltype(t)>(kind, parameter, options, x0, lower, upper, x, f, g, nit, nfev, status,
                             batch, n, stream);
          });
        });
}

}  // namespace optkern::bindings
