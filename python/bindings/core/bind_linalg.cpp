#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "array_cast.hpp"
#include "optkern/linalg.hpp"

namespace optkern::bindings {

template <class T>
void bmm_array(const py::array& a, const py::array& b, py::array& out, const BatchShape& batch,
               const std::vector<index_t>& a_batch, const std::vector<index_t>& b_batch,
               const std::vector<index_t>& c_batch) {
  if (!out.writeable()) throw py::value_error("out: must be writeable");
  const auto va = matrix_view<T, const T>(a, "a", a_batch, batch.ndim);
  const auto vb = matrix_view<T, const T>(b, "b", b_batch, batch.ndim);
  const auto vc = matrix_view<T, T>(out, "out", c_batch, batch.ndim);
  py::gil_scoped_release release;
  bmm<T>(batch, va, vb, vc);
}

// The common case: a, b and out share one batch shape (no broadcasting); strides are read
// from the arrays themselves.
template <class T>
void bmm_same_batch(const py::array& a, const py::array& b, py::array& out) {
  const int nd = int(out.ndim());
  if (a.ndim() != nd || b.ndim() != nd || nd < 2 || nd - 2 > kMaxBatchDims)
    throw py::type_error("bmm: internal, operands must share one batch shape");
  BatchShape batch;
  batch.ndim = nd - 2;
  std::vector<index_t> strides[3];
  const py::array* arrays[3] = {&a, &b, &out};
  for (int d = 0; d < batch.ndim; ++d) {
    batch.extent[d] = out.shape(d);
    for (int i = 0; i < 3; ++i) {
      if (arrays[i]->shape(d) != batch.extent[d])
        throw py::type_error("bmm: internal, operands must share one batch shape");
      strides[i].push_back(element_stride(*arrays[i], d, "a"));
    }
  }
  bmm_array<T>(a, b, out, batch, strides[0], strides[1], strides[2]);
}

void bind_linalg(py::module_& m) {
  m.def("bmm_same_batch", [](const py::array& a, const py::array& b, py::array& out) {
    if (has_dtype<double>(out)) {
      bmm_same_batch<double>(a, b, out);
    } else {
      bmm_same_batch<float>(a, b, out);
    }
  });
  // a: (..., m, k), b: (..., k, n), out: (..., m, n), one dtype, any element strides. The
  // batch is described apart: its extents and each operand's batch strides (0 where the
  // operand repeats), as python/optkern/linalg.py computes them.
  m.def("bmm", [](const py::array& a, const py::array& b, py::array& out,
                  const std::vector<index_t>& extents, const std::vector<index_t>& a_batch,
                  const std::vector<index_t>& b_batch, const std::vector<index_t>& c_batch) {
    const BatchShape batch = batch_shape(extents);
    if (has_dtype<double>(out)) {
      bmm_array<double>(a, b, out, batch, a_batch, b_batch, c_batch);
    } else {
      bmm_array<float>(a, b, out, batch, a_batch, b_batch, c_batch);
    }
  });
}

}  // namespace optkern::bindings
