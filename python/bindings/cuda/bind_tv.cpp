// optkern._cuda.tv: 1-D total variation on a device (optkern/cuda/tv.hpp). Arrays arrive as
// device pointers (python/optkern/tv/_cuda.py reads them from DLPack and lays them out as
// contiguous rows); dtype is "f" or "d".
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

#include "common/arrays.hpp"
#include "common/device.hpp"
#include "optkern/cuda/tv.hpp"

namespace optkern::bindings {
void bind_cuda_tv(py::module_& m) {
  py::enum_<cuda::TvMapping>(m, "TvMapping")
      .value("auto", cuda::TvMapping::kAuto)
      .value("staged", cuda::TvMapping::kStaged)
      .value("direct", cuda::TvMapping::kDirect);
  m.def("denoise_scratch_bytes", &cuda::tv_denoise_scratch_bytes);
  m.def("denoise", [](const std::string& dtype, index_t batch, index_t n, Ptr x, Ptr lam,
                         index_t lam_stride, Ptr y, Ptr scratch, std::size_t scratch_bytes,
                         Ptr stream, cuda::TvMapping mapping, index_t condat_budget) {
    dispatch_float(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise<T>(batch, n, as<const T>(x), as<const double>(lam), lam_stride, as<T>(y),
                          as<void>(scratch), scratch_bytes, as_stream(stream), mapping,
                          condat_budget);
    });
  });
  m.def("denoise_irls_scratch_bytes", &cuda::tv_denoise_irls_scratch_bytes);
  m.def("denoise_irls", [](const std::string& dtype, index_t batch, index_t n, Ptr x, Ptr lam,
                              index_t lam_stride, double tol, index_t max_iter, Ptr y, Ptr nit,
                              Ptr change, Ptr scratch, std::size_t scratch_bytes, Ptr stream) {
    dispatch_float(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_irls<T>(batch, n, as<const T>(x), as<const double>(lam), lam_stride, tol,
                               max_iter, as<T>(y), as<index_t>(nit), as<double>(change),
                               as<void>(scratch), scratch_bytes, as_stream(stream));
    });
  });
  m.def("denoise_vjp", [](const std::string& dtype, index_t batch, index_t n, Ptr y, Ptr grad_y,
                             double rtol, Ptr grad_x, Ptr grad_lam, Ptr stream,
                             cuda::TvMapping mapping) {
    dispatch_float(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_vjp<T>(batch, n, as<const T>(y), as<const T>(grad_y), rtol, as<T>(grad_x),
                              as<double>(grad_lam), as_stream(stream), mapping);
    });
  });
  m.def("denoise_weighted_scratch_bytes", &cuda::tv_denoise_weighted_scratch_bytes);
  m.def("denoise_weighted", [](const std::string& dtype, index_t batch, index_t n, Ptr x, Ptr w,
                                  index_t w_stride, Ptr y, Ptr scratch, std::size_t scratch_bytes,
                                  Ptr stream) {
    dispatch_float(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_weighted<T>(batch, n, as<const T>(x), as<const double>(w), w_stride,
                                   as<T>(y), as<void>(scratch), scratch_bytes, as_stream(stream));
    });
  });
  m.def("denoise_vjp_weighted", [](const std::string& dtype, index_t batch, index_t n, Ptr y,
                                      Ptr grad_y, double rtol, Ptr grad_x, Ptr grad_w, Ptr stream) {
    dispatch_float(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_vjp_weighted<T>(batch, n, as<const T>(y), as<const T>(grad_y), rtol,
                                       as<T>(grad_x), as<double>(grad_w), as_stream(stream));
    });
  });
}

}  // namespace optkern::bindings
