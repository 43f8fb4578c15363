#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "array_cast.hpp"
#include "optkern/linalg.hpp"

namespace optkern::bindings {

template <class T>
void bmm_array(const py::array& a, const py::array& b, py::array& out) {
  BatchShape batch_a, batch_b, batch_c;
  const auto va = matrix_batch<T, const T>(a, "a", &batch_a);
  const auto vb = matrix_batch<T, const T>(b, "b", &batch_b);
  const auto vc = matrix_batch<T>(out, "out", &batch_c);
  if (!out.writeable()) throw py::value_error("out: must be writeable");
  for (const BatchShape* batch : {&batch_a, &batch_b}) {
    bool same = batch->ndim == batch_c.ndim;
    for (int d = 0; same && d < batch_c.ndim; ++d) same = batch->extent[d] == batch_c.extent[d];
    if (!same) throw py::type_error("bmm: operands must be broadcast to one batch shape first");
  }
  py::gil_scoped_release release;
  bmm<T>(batch_c, va, vb, vc);
}

void bind_linalg(py::module_& m) {
  // a: (*batch, m, k), b: (*batch, k, n), out: (*batch, m, n), one dtype, any strides; the
  // batch dimensions already broadcast (stride 0 where an operand repeats).
  m.def("bmm", [](const py::array& a, const py::array& b, py::array& out) {
    if (out.dtype().is(py::dtype::of<double>())) {
      bmm_array<double>(a, b, out);
    } else {
      bmm_array<float>(a, b, out);
    }
  }, py::arg("a"), py::arg("b"), py::arg("out"));
}

}  // namespace optkern::bindings
