#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/arrays.hpp"
#include "common/device.hpp"
#include "optkern/cuda/linalg.hpp"

namespace optkern::bindings {
namespace {

// (device pointer, rows, cols, row stride, column stride, batch strides), strides in elements.
using MatrixDesc =
    std::tuple<std::uintptr_t, index_t, index_t, index_t, index_t, std::vector<index_t>>;

template <class T>
MatrixBatch<T> from_desc(const MatrixDesc& d, int ndim, const char* name) {
  MatrixBatch<T> m;
  m.data = reinterpret_cast<T*>(std::get<0>(d));
  m.rows = std::get<1>(d);
  m.cols = std::get<2>(d);
  m.row_stride = std::get<3>(d);
  m.col_stride = std::get<4>(d);
  const auto& strides = std::get<5>(d);
  if (int(strides.size()) != ndim)
    throw py::value_error(std::string(name) + ": batch strides do not match the batch shape");
  for (int i = 0; i < ndim; ++i) m.batch_stride[i] = strides[i];
  return m;
}

template <class T>
void bmm_desc(const std::vector<index_t>& extents, const MatrixDesc& a, const MatrixDesc& b,
              const MatrixDesc& c, std::uintptr_t stream) {
  const BatchShape batch = batch_shape(extents);
  const auto va = from_desc<const T>(a, batch.ndim, "a");
  const auto vb = from_desc<const T>(b, batch.ndim, "b");
  const auto vc = from_desc<T>(c, batch.ndim, "out");
  py::gil_scoped_release release;
  cuda::bmm<T>(batch, va, vb, vc, reinterpret_cast<cudaStream_t>(stream));
}

}  // namespace

void bind_cuda_linalg(py::module_& m) {
  m.def("bmm",
        [](const std::string& dtype, const std::vector<index_t>& extents, const MatrixDesc& a,
           const MatrixDesc& b, const MatrixDesc& c, std::uintptr_t stream) {
          dispatch_float(dtype, [&](auto t) { bmm_desc<decltype(t)>(extents, a, b, c, stream); });
        });
  m.def("tridiagonal_solve_scratch_bytes", [](const std::string& dtype, index_t batch, index_t n) {
    return dispatch_float(dtype, [&](auto t) {
      return cuda::tridiagonal_solve_scratch_bytes<decltype(t)>(batch, n);
    });
  });
  // operands: (pointer, batch stride) for lower, diag, upper, rhs; status: 2 index_t or 0.
  m.def("tridiagonal_solve", [](const std::string& dtype, index_t batch, index_t n,
                                const std::array<std::pair<Ptr, index_t>, 4>& operands, Ptr x,
                                Ptr status, Ptr scratch, std::size_t scratch_bytes, Ptr stream) {
    dispatch_float(dtype, [&](auto t) {
      using T = decltype(t);
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
      cuda::tridiagonal_solve<T>(s, as<T>(x), as<index_t>(status), as<void>(scratch), scratch_bytes,
                                 as_stream(stream));
    });
  });
}

}  // namespace optkern::bindings
