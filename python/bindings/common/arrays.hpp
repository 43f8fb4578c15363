// How every binding takes its arrays and picks its dtype (python/bindings/core and cuda).
//
// One dtype dispatch: dispatch_float(dtype, f) calls f(float{}) or f(double{}) for a NumPy
// dtype or its character code ('f', 'd'), and raises TypeError for anything else.
//
// One checked view: an array argument is a CArray<T> (py::array_t<T, c_style>), taken without
// any conversion: either bound as such with py::arg().noconvert(), or, where T is the dtype of
// the call, cast with c_array<T>(arg, name) inside the dispatch, which applies pybind11's own
// noconvert check. A wrong dtype or a non-contiguous array is a TypeError, never a silent copy
// (an output written into a copy would be lost). checked() / checked_out() then compare its
// shape with the one the kernel will read and raise ValueError naming the argument, with the
// expected and the actual shape.
//
// Python (python/optkern/) has already chosen dtypes and shapes, so these errors are bugs in
// optkern or direct calls of the compiled modules; they keep such calls from reading or
// writing outside an array.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <initializer_list>
#include <string>
#include <vector>

#include "optkern/common.hpp"
#include "optkern/strided.hpp"

namespace optkern::bindings {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// f(float{}) or f(double{}) for the dtype's character code.
template <class F>
decltype(auto) dispatch_float(char code, F&& f) {
  if (code == 'd') return f(double{});
  if (code == 'f') return f(float{});
  throw py::type_error(std::string("dtype: expected float32 ('f') or float64 ('d'), got '") + code +
                       "'");
}

template <class F>
decltype(auto) dispatch_float(const std::string& code, F&& f) {
  if (code.size() != 1)
    throw py::type_error("dtype: expected float32 ('f') or float64 ('d'), got '" + code + "'");
  return dispatch_float(code[0], std::forward<F>(f));
}

template <class F>
decltype(auto) dispatch_float(const py::dtype& dtype, F&& f) {
  if (dtype.equal(py::dtype::of<double>())) return f(double{});
  if (dtype.equal(py::dtype::of<float>())) return f(float{});
  throw py::type_error("dtype: expected float32 or float64, got " +
                       py::str(py::object(dtype)).cast<std::string>());
}

// Registers a per-dtype binding for float and then double (pybind11 overloads, or classes
// with a "32"/"64" suffix): f(float{}, "32"), f(double{}, "64").
template <class F>
void each_float(F&& f) {
  f(float{}, "32");
  f(double{}, "64");
}

namespace detail {

inline std::string shape_string(const py::ssize_t* dims, py::ssize_t ndim) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < ndim; ++d) {
    if (d) s += ", ";
    s += std::to_string(dims[d]);
  }
  return s + (ndim == 1 ? ",)" : ")");
}

inline std::string dtype_name(const py::handle& x) {
  if (!py::isinstance<py::array>(x)) return py::str(py::type::handle_of(x)).cast<std::string>();
  return py::str(py::reinterpret_borrow<py::array>(x).dtype()).cast<std::string>();
}

inline void check_shape(const py::array& a, const char* name,
                        std::initializer_list<py::ssize_t> shape) {
  bool ok = a.ndim() == py::ssize_t(shape.size());
  py::ssize_t axis = 0;
  for (py::ssize_t extent : shape) ok = ok && a.shape(axis++) == extent;
  if (!ok)
    throw py::value_error(std::string(name) + ": expected shape " +
                          shape_string(shape.begin(), py::ssize_t(shape.size())) + ", got " +
                          shape_string(a.shape(), a.ndim()));
}

}  // namespace detail

namespace detail {

// x as an array_t<T, Flags> without conversion (pybind11's noconvert check), or TypeError.
template <class T, int Flags>
py::array_t<T, Flags> array_of(const py::handle& x, const char* name) {
  py::detail::make_caster<py::array_t<T, Flags>> caster;
  if (caster.load(x, /*convert=*/false))
    return py::detail::cast_op<py::array_t<T, Flags>>(std::move(caster));
  const bool is_array = py::isinstance<py::array>(x);
  const bool contiguous =
      !is_array || (py::reinterpret_borrow<py::array>(x).flags() & py::array::c_style);
  throw py::type_error(std::string(name) + ": expected a" +
                       ((Flags & py::array::c_style) ? " C-contiguous" : "n") + " array of " +
                       py::str(py::dtype::of<T>()).cast<std::string>() + ", got " +
                       (is_array ? "an array of " : "") + dtype_name(x) +
                       (contiguous || !(Flags & py::array::c_style) ? "" : " (not C-contiguous)"));
}

}  // namespace detail

// x as a C-contiguous array of T, without conversion.
template <class T>
CArray<T> c_array(const py::handle& x, const char* name) {
  return detail::array_of<T, py::array::c_style>(x, name);
}

// x as an array of T with any strides, without conversion.
template <class T>
py::array_t<T> strided_array(const py::handle& x, const char* name) {
  return detail::array_of<T, py::array::forcecast>(x, name);
}

// The data of an input array of exactly this shape.
template <class T>
const T* checked(const CArray<T>& a, const char* name, std::initializer_list<py::ssize_t> shape) {
  detail::check_shape(a, name, shape);
  return a.data();
}

// The data of an output array of exactly this shape; it must be writeable.
template <class T>
T* checked_out(CArray<T>& a, const char* name, std::initializer_list<py::ssize_t> shape) {
  detail::check_shape(a, name, shape);
  if (!a.writeable()) throw py::value_error(std::string(name) + ": must be writeable");
  return a.mutable_data();
}

// The same for an argument taken as a py::array (its dtype picked by dispatch_float): the
// data of x as a C-contiguous array of T of exactly this shape. The pointer stays valid while
// the argument lives.
template <class T>
const T* data_of(const py::handle& x, const char* name, std::initializer_list<py::ssize_t> shape) {
  return checked(c_array<T>(x, name), name, shape);
}

template <class T>
T* mutable_data_of(const py::handle& x, const char* name,
                   std::initializer_list<py::ssize_t> shape) {
  auto a = c_array<T>(x, name);
  return checked_out(a, name, shape);
}

// The extents of an array of N dimensions (ValueError naming the argument otherwise).
template <int N>
std::array<index_t, N> extents_of(const py::array& x, const char* name) {
  if (x.ndim() != N)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(N) +
                          " dimensions, got " + std::to_string(x.ndim()));
  std::array<index_t, N> out;
  for (int d = 0; d < N; ++d) out[std::size_t(d)] = index_t(x.shape(d));
  return out;
}

// --- strided operands (linalg.bmm reads any element strides) -------------------------------

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
  for (int d = 0; d < batch.ndim; ++d) {
    if (extents[std::size_t(d)] < 0) throw py::value_error("batch: extents must be >= 0");
    batch.extent[d] = extents[std::size_t(d)];
  }
  return batch;
}

// Views the last two dimensions of x (an array of T with any strides) as the matrices of a
// MatrixBatch whose batch strides (in elements) are given apart. Every element that the
// batch and the matrix strides reach must lie inside x's own memory (ValueError otherwise),
// so given strides cannot send the kernel outside the array.
template <class T, class Elem>
MatrixBatch<Elem> matrix_view(const py::array_t<T>& x, const char* name, const BatchShape& batch,
                              const std::vector<index_t>& batch_strides) {
  const int nd = int(x.ndim());
  if (nd < 2) throw py::value_error(std::string(name) + ": expected a matrix or a stack of them");
  if (int(batch_strides.size()) != batch.ndim)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(batch.ndim) +
                          " batch strides, got " + std::to_string(batch_strides.size()));
  MatrixBatch<Elem> m;
  m.data = const_cast<T*>(x.data());
  m.rows = x.shape(nd - 2);
  m.cols = x.shape(nd - 1);
  m.row_stride = element_stride(x, nd - 2, name);
  m.col_stride = element_stride(x, nd - 1, name);
  for (int d = 0; d < batch.ndim; ++d) m.batch_stride[d] = batch_strides[std::size_t(d)];
  // Nothing to check where the kernel reads nothing; otherwise the range of element offsets
  // it reads must lie within the one the array covers.
  bool reads = m.rows > 0 && m.cols > 0;
  for (int d = 0; d < batch.ndim; ++d) reads = reads && batch.extent[d] > 0;
  if (!reads) return m;
  index_t own_lo = 0, own_hi = 0, read_lo = 0, read_hi = 0;
  auto extend = [](index_t& lo, index_t& hi, index_t extent, index_t stride) {
    (stride < 0 ? lo : hi) += (extent - 1) * stride;
  };
  for (int d = 0; d < nd; ++d) extend(own_lo, own_hi, x.shape(d), element_stride(x, d, name));
  extend(read_lo, read_hi, m.rows, m.row_stride);
  extend(read_lo, read_hi, m.cols, m.col_stride);
  for (int d = 0; d < batch.ndim; ++d) extend(read_lo, read_hi, batch.extent[d], m.batch_stride[d]);
  if (x.size() == 0 || read_lo < own_lo || read_hi > own_hi)
    throw py::value_error(std::string(name) +
                          ": the batch extents and strides reach outside the array");
  return m;
}

}  // namespace optkern::bindings
