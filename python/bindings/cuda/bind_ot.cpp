// optkern._cuda.ot: Sinkhorn on a CUDA device. Operands arrive as device pointers with their batch
// strides (python/optkern/ot/_cuda.py reads them from DLPack); the call waits for the
// stream and returns the per-problem statistics as NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/arrays.hpp"
#include "common/ot_status.hpp"
#include "optkern/cuda/ot.hpp"

namespace optkern::bindings {
namespace {

template <class T>
py::tuple sinkhorn_device(index_t batch, index_t m, index_t n, std::uintptr_t M, index_t M_stride,
                          std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
                          std::uintptr_t init_g, index_t init_stride, double reg, double tol,
                          int max_iter, int check_every, SinkhornMethod method, std::uintptr_t plan,
                          std::uintptr_t f, std::uintptr_t g, std::uintptr_t stream) {
  SinkhornProblem<T> p;
  p.batch = batch;
  p.m = m;
  p.n = n;
  p.M = reinterpret_cast<const T*>(M);
  p.M_stride = M_stride;
  p.a = reinterpret_cast<const T*>(a);
  p.a_stride = a_stride;
  p.b = reinterpret_cast<const T*>(b);
  p.b_stride = b_stride;
  p.init_g = reinterpret_cast<const T*>(init_g);
  p.init_g_stride = init_stride;
  const SinkhornOptions o = make_options(reg, tol, max_iter, check_every, method);
  std::vector<SinkhornStatus> status(static_cast<std::size_t>(batch));
  SinkhornOutput<T> out;
  out.plan = reinterpret_cast<T*>(plan);
  out.f = reinterpret_cast<T*>(f);
  out.g = reinterpret_cast<T*>(g);
  out.status = status.data();
  {
    py::gil_scoped_release release;
    cuda::sinkhorn<T>(p, o, out, reinterpret_cast<cudaStream_t>(stream));
  }
  return status_arrays(status);
}

}  // namespace

void bind_cuda_ot(py::module_& m) {
  // dtype 'f' or 'd'; pointers are device addresses (init_g may be 0); strides in elements
  // (0 shares an operand across the batch); method: a _core.ot.SinkhornMethod.
  m.def("sinkhorn",
        [](const std::string& dtype, index_t batch, index_t rows, index_t cols, std::uintptr_t M,
           index_t M_stride, std::uintptr_t a, index_t a_stride, std::uintptr_t b, index_t b_stride,
           std::uintptr_t init_g, index_t init_stride, double reg, double tol, int max_iter,
           int check_every, SinkhornMethod method, std::uintptr_t plan, std::uintptr_t f,
           std::uintptr_t g, std::uintptr_t stream) {
          return dispatch_float(dtype, [&](auto t) {
            return sinkhorn_device<decltype(t)>(batch, rows, cols, M, M_stride, a, a_stride, b,
                                                b_stride, init_g, init_stride, reg, tol, max_iter,
                                                check_every, method, plan, f, g, stream);
          });
        });
}

}  // namespace optkern::bindings
