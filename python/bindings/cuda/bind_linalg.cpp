#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "optkern/cuda/linalg.hpp"

namespace py = pybind11;

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
    throw py::type_error(std::string(name) + ": batch strides do not match the batch shape");
  for (int i = 0; i < ndim; ++i) m.batch_stride[i] = strides[i];
  return m;
}

template <class T>
void bmm_desc(const std::vector<index_t>& extents, const MatrixDesc& a, const MatrixDesc& b,
              const MatrixDesc& c, std::uintptr_t stream) {
  if (extents.size() > std::size_t(kMaxBatchDims))
    throw py::value_error("batch: at most " + std::to_string(kMaxBatchDims) + " dimensions");
  BatchShape batch;
  batch.ndim = int(extents.size());
  for (int i = 0; i < batch.ndim; ++i) batch.extent[i] = extents[i];
  const auto va = from_desc<const T>(a, batch.ndim, "a");
  const auto vb = from_desc<const T>(b, batch.ndim, "b");
  const auto vc = from_desc<T>(c, batch.ndim, "out");
  py::gil_scoped_release release;
  cuda::bmm<T>(batch, va, vb, vc, reinterpret_cast<cudaStream_t>(stream));
}

}  // namespace

void bind_cuda_linalg(py::module_& m) {
  m.def("bmm", [](const std::string& dtype, const std::vector<index_t>& extents,
                  const MatrixDesc& a, const MatrixDesc& b, const MatrixDesc& c,
                  std::uintptr_t stream) {
    if (dtype == "d") {
      bmm_desc<double>(extents, a, b, c, stream);
    } else if (dtype == "f") {
      bmm_desc<float>(extents, a, b, c, stream);
    } else {
      throw py::type_error("bmm: internal dtype must be 'f' or 'd'");
    }
  });
}

}  // namespace optkern::bindings
