// Turning NumPy arrays into the core's strided descriptors. Python has already chosen the
// dtype and the shapes (python/optkern/), so a mismatch here is a bug in optkern and raises
// TypeError instead of being converted silently.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "optkern/linalg.hpp"

namespace optkern::bindings {

namespace py = pybind11;

// Whether x holds T. Equal dtypes need not be one object (arrays that were unpickled or
// made by another extension carry their own dtype instances), so identity is only the fast path.
template <class T>
bool has_dtype(const py::array& x) {
  const auto expected = py::dtype::of<T>();
  return x.dtype().is(expected) || x.dtype().equal(expected);
}

template <class T>
void require_dtype(const py::array& x, const char* name) {
  if (!has_dtype<T>(x)) throw py::type_error(std::string(name) + ": internal dtype mismatch");
}

// Element strides of a NumPy array (NumPy counts bytes).
inline index_t element_stride(const py::array& x, int axis, const char* name) {
  const auto bytes = x.strides(axis);
  if (bytes % x.itemsize() != 0)
    throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
  return index_t(bytes / x.itemsize());
}

inline BatchShape batch_shape(const std::vector<index_t>& extents) {
  if (extents.size() > std::size_t(kMaxBatchDims))
    throw py::value_error("batch: at most " + std::to_string(kMaxBatchDims) + " dimensions");
  BatchShape batch;
  batch.ndim = int(extents.size());
  for (int d = 0; d < batch.ndim; ++d) batch.extent[d] = extents[d];
  return batch;
}

// Views the last two dimensions of an array as the matrices of a MatrixBatch whose batch
// strides (in elements) are given apart.
template <class T, class Elem = T>
MatrixBatch<Elem> matrix_view(const py::array& x, const char* name,
                              const std::vector<index_t>& batch_strides, int batch_ndim) {
  require_dtype<T>(x, name);
  const int nd = int(x.ndim());
  if (nd < 2) throw py::type_error(std::string(name) + ": internal, expected a matrix");
  if (int(batch_strides.size()) != batch_ndim)
    throw py::type_error(std::string(name) + ": internal, batch strides do not match");
  MatrixBatch<Elem> m;
  m.data = static_cast<Elem*>(const_cast<void*>(x.data()));
  m.rows = x.shape(nd - 2);
  m.cols = x.shape(nd - 1);
  m.row_stride = element_stride(x, nd - 2, name);
  m.col_stride = element_stride(x, nd - 1, name);
  for (int d = 0; d < batch_ndim; ++d) m.batch_stride[d] = batch_strides[std::size_t(d)];
  return m;
}

}  // namespace optkern::bindings
