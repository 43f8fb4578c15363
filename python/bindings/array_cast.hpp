// Turning NumPy arrays into the core's strided descriptors. Python has already chosen the
// dtype and the shapes (python/optkern/), so a mismatch here is a bug in optkern and raises
// TypeError instead of being converted silently.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "optkern/linalg.hpp"

namespace optkern::bindings {

namespace py = pybind11;

template <class T>
void require_dtype(const py::array& x, const char* name) {
  if (!x.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": internal dtype mismatch");
}

// Element strides of a NumPy array (NumPy counts bytes).
inline index_t element_stride(const py::array& x, int axis, const char* name) {
  const auto bytes = x.strides(axis);
  if (bytes % x.itemsize() != 0)
    throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
  return index_t(bytes / x.itemsize());
}

// Views an array of shape (*batch, rows, cols) as a MatrixBatch; `batch` receives the leading
// dimensions (the caller checks that every operand has the same ones).
template <class T, class Elem = T>
MatrixBatch<Elem> matrix_batch(const py::array& x, const char* name, BatchShape* batch) {
  require_dtype<T>(x, name);
  const int nd = int(x.ndim());
  if (nd < 2 || nd - 2 > kMaxBatchDims)
    throw py::value_error(std::string(name) + ": expected 2 to " +
                          std::to_string(kMaxBatchDims + 2) + " dimensions");
  MatrixBatch<Elem> m;
  m.data = static_cast<Elem*>(const_cast<void*>(x.data()));
  m.rows = x.shape(nd - 2);
  m.cols = x.shape(nd - 1);
  m.row_stride = element_stride(x, nd - 2, name);
  m.col_stride = element_stride(x, nd - 1, name);
  batch->ndim = nd - 2;
  for (int d = 0; d < nd - 2; ++d) {
    batch->extent[d] = x.shape(d);
    m.batch_stride[d] = element_stride(x, d, name);
  }
  return m;
}

}  // namespace optkern::bindings
