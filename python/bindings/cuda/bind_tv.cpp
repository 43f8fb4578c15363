// optkern._cuda: 1-D total variation and batched tridiagonal solves on a device
// (optkern/cuda/tv.hpp, optkern/cuda/tridiagonal.hpp). Arrays arrive as device pointers
// (python/optkern/_tv_cuda.py reads them from DLPack and lays them out as contiguous rows);
// dtype is "f" or "d".
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>

#include "optkern/cuda/tridiagonal.hpp"
#include "optkern/cuda/tv.hpp"

namespace py = pybind11;

namespace optkern::bindings {
namespace {

using Ptr = std::uintptr_t;

template <class T>
T* as(Ptr p) {
  return reinterpret_cast<T*>(p);
}

cudaStream_t as_stream(Ptr handle) { return reinterpret_cast<cudaStream_t>(handle); }

// Calls f(float{}) or f(double{}) for the dtype character.
template <class F>
auto dispatch(const std::string& dtype, F&& f) {
  if (dtype == "d") return f(double{});
  if (dtype == "f") return f(float{});
  throw py::type_error("dtype: internal, must be 'f' or 'd'");
}

cuda::TvMapping as_mapping(int mapping) {
  if (mapping < 0 || mapping > 2) throw py::value_error("mapping: must be 0, 1 or 2");
  return static_cast<cuda::TvMapping>(mapping);
}

}  // namespace

void bind_cuda_tv(py::module_& m) {
  m.def("tv_denoise_scratch_bytes", &cuda::tv_denoise_scratch_bytes);
  m.def("tv_denoise", [](const std::string& dtype, index_t batch, index_t n, Ptr x, Ptr lam,
                         index_t lam_stride, Ptr y, Ptr scratch, std::size_t scratch_bytes,
                         Ptr stream, int mapping, index_t condat_budget) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise<T>(batch, n, as<const T>(x), as<const double>(lam), lam_stride, as<T>(y),
                          as<void>(scratch), scratch_bytes, as_stream(stream),
                          as_mapping(mapping), condat_budget);
    });
  });
  m.def("tv_denoise_irls_scratch_bytes", &cuda::tv_denoise_irls_scratch_bytes);
  m.def("tv_denoise_irls", [](const std::string& dtype, index_t batch, index_t n, Ptr x, Ptr lam,
                              index_t lam_stride, double tol, index_t max_iter, Ptr y, Ptr nit,
                              Ptr change, Ptr scratch, std::size_t scratch_bytes, Ptr stream) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_irls<T>(batch, n, as<const T>(x), as<const double>(lam), lam_stride, tol,
                               max_iter, as<T>(y), as<index_t>(nit), as<double>(change),
                               as<void>(scratch), scratch_bytes, as_stream(stream));
    });
  });
  m.def("tv_denoise_vjp", [](const std::string& dtype, index_t batch, index_t n, Ptr y,
                             Ptr grad_y, double rtol, Ptr grad_x, Ptr grad_lam, Ptr stream,
                             int mapping) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_vjp<T>(batch, n, as<const T>(y), as<const T>(grad_y), rtol, as<T>(grad_x),
                              as<double>(grad_lam), as_stream(stream), as_mapping(mapping));
    });
  });
  m.def("tv_denoise_weighted_scratch_bytes", &cuda::tv_denoise_weighted_scratch_bytes);
  m.def("tv_denoise_weighted", [](const std::string& dtype, index_t batch, index_t n, Ptr x,
                                  Ptr w, index_t w_stride, Ptr y, Ptr scratch,
                                  std::size_t scratch_bytes, Ptr stream) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_weighted<T>(batch, n, as<const T>(x), as<const double>(w), w_stride,
                                   as<T>(y), as<void>(scratch), scratch_bytes,
                                   as_stream(stream));
    });
  });
  m.def("tv_denoise_vjp_weighted", [](const std::string& dtype, index_t batch, index_t n, Ptr y,
                                      Ptr grad_y, double rtol, Ptr grad_x, Ptr grad_w,
                                      Ptr stream) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      py::gil_scoped_release release;
      cuda::tv_denoise_vjp_weighted<T>(batch, n, as<const T>(y), as<const T>(grad_y), rtol,
                                       as<T>(grad_x), as<double>(grad_w), as_stream(stream));
    });
  });
  m.def("tridiagonal_solve_scratch_bytes", [](const std::string& dtype, index_t batch, index_t n) {
    return dispatch(dtype, [&](auto zero) {
      return cuda::tridiagonal_solve_scratch_bytes<decltype(zero)>(batch, n);
    });
  });
  // operands: (pointer, batch stride) for lower, diag, upper, rhs; status: 2 index_t or 0.
  m.def("tridiagonal_solve", [](const std::string& dtype, index_t batch, index_t n,
                                const std::array<std::pair<Ptr, index_t>, 4>& operands, Ptr x,
                                Ptr status, Ptr scratch, std::size_t scratch_bytes, Ptr stream) {
    dispatch(dtype, [&](auto zero) {
      using T = decltype(zero);
      TridiagonalSystems<T> s;
      s.batch = batch;
      s.n = n;
      s.lower = as<const T>(operands[0].first);
      s.diag = as<const T>(operands[1].first);
      s.upper = as<const T>(operands[2].first);
      s.rhs = as<const T>(operands[3].first);
      s.lower_stride = operands[0].second;
      s.diag_stride = operands[1].second;
      s.upper_stride = operands[2].second;
      s.rhs_stride = operands[3].second;
      py::gil_scoped_release release;
      cuda::tridiagonal_solve<T>(s, as<T>(x), as<index_t>(status), as<void>(scratch),
                                 scratch_bytes, as_stream(stream));
    });
  });
}

}  // namespace optkern::bindings
