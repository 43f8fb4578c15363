// optkern._core.optimize: the compiled entry points of cpp/include/optkern/optimize/minimize.hpp.
// Python (python/optkern/optimize/) has validated every argument; arrays arrive
// C-contiguous in the dtype the run uses.
//
// A Python objective is called once per evaluation with a fresh copy of the solver's trial
// point (ArgumentCopy), which it may keep or write into.
// Whatever it raises is carried through the C++ loop as py::error_already_set and
// re-raised unchanged when the call returns to Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <tuple>

#include "common/arrays.hpp"
#include "common/optimize_settings.hpp"
#include "common/signal_check.hpp"
#include "optkern/optimize/minimize.hpp"

namespace py = pybind11;

namespace optkern::bindings {
namespace {

namespace opt = optkern::optimize;

// What an objective is called with: a fresh, writable NumPy copy of the solver's trial
// point for each call. The objective may keep it past the run or write into it (SciPy also
// passes copies; users do write into x, SciPy gh-13740) without touching the solver's state;
// a view of the solver's buffer would dangle once the run returns.
template <class T>
class ArgumentCopy {
 public:
  explicit ArgumentCopy(std::vector<py::ssize_t> shape) : shape_(std::move(shape)) {}
  py::array of(const T* p) const {
    py::array_t<T> copy(shape_);
    std::memcpy(copy.mutable_data(), p, std::size_t(copy.size()) * sizeof(T));
    return std::move(copy);
  }

 private:
  std::vector<py::ssize_t> shape_;
};

// Copies a float array of the given shape into out; the fast path for the common case (an
// ndarray of the run's dtype and that exact shape, C-contiguous). Anything else goes
// through Python's `coerce(value)`, which converts it or raises ValueError naming the
// argument.
template <class T>
void copy_array(const py::handle& value, T* out, std::initializer_list<py::ssize_t> shape,
                const py::handle& coerce) {
  py::ssize_t count = 1;
  for (auto extent : shape) count *= extent;
  if (py::isinstance<py::array>(value)) {
    auto a = py::reinterpret_borrow<py::array>(value);
    bool same = a.dtype().is(py::dtype::of<T>()) && (a.flags() & py::array::c_style) &&
                a.ndim() == py::ssize_t(shape.size());
    py::ssize_t axis = 0;
    for (auto extent : shape) same = same && a.shape(axis++) == extent;
    if (same) {
      std::memcpy(out, a.data(), std::size_t(count) * sizeof(T));
      return;
    }
  }
  py::array a = coerce(value);
  std::memcpy(out, a.data(), std::size_t(count) * sizeof(T));
}

template <class T>
T scalar_value(const py::handle& value, const py::handle& coerce) {
  if (PyFloat_Check(value.ptr())) return T(PyFloat_AS_DOUBLE(value.ptr()));
  return T(coerce(value).cast<double>());
}

// Bounds, when the settings have them: arrays of the run's dtype, C-contiguous, one row of n
// per problem (`rows` problems; RunSettings keeps them alive during the call).
template <class T>
void bounds_from(const RunSettings& options, opt::Settings<T>& settings, py::ssize_t rows,
                 py::ssize_t n, bool batch) {
  if (options.lower.is_none() && options.upper.is_none()) return;
  auto bound = [&](const py::object& value, const char* name) {
    return batch ? data_of<T>(value, name, {rows, n}) : data_of<T>(value, name, {n});
  };
  settings.lower = bound(options.lower, "lower");
  settings.upper = bound(options.upper, "upper");
}

// Python's side of a run: the objective, and the helpers that coerce what it returns.
struct PythonObjective {
  py::object fun, jac, hess, callback;
  py::object coerce_value, coerce_gradient, coerce_hessian, coerce_pair;
};

template <class T>
py::tuple result_tuple(const opt::Summary<T>& r, const py::array& g,
                       const py::object& history = py::none()) {
  return py::make_tuple(int(r.status), double(r.fun), g, r.counters.nit, r.counters.nfev,
                        r.counters.nhev, history);
}

// The final inverse Hessian approximation, when options.history asks for it: a buffer
// for Settings::history, then (s, y) pairs (L-BFGS) or the n x n matrix (BFGS) for Python.
template <class T>
struct History {
  std::vector<T> buffer;
  bool wanted = false;

  History(const RunSettings& options, opt::Settings<T>& settings, py::ssize_t n) {
    wanted = options.history;
    if (!wanted) return;
    if (settings.method == opt::Method::kLbfgs) {
      buffer.resize(std::size_t(2 * settings.m * n));
    } else if (settings.method == opt::Method::kBfgs) {
      buffer.resize(std::size_t(n * n));
    } else {
      return;
    }
    settings.history = buffer.data();
  }

  py::object result(const opt::Settings<T>& settings, const opt::Summary<T>& r,
                    py::ssize_t n) const {
    if (!wanted || buffer.empty()) return py::none();
    if (settings.method == opt::Method::kBfgs) {
      py::array_t<T> h({n, n});
      std::memcpy(h.mutable_data(), buffer.data(), buffer.size() * sizeof(T));
      return std::move(h);
    }
    const py::ssize_t pairs = r.pairs;
    py::array_t<T> s({pairs, n}), y({pairs, n});
    const T* y_rows = buffer.data() + std::size_t(settings.m * n);
    std::memcpy(s.mutable_data(), buffer.data(), std::size_t(pairs * n) * sizeof(T));
    std::memcpy(y.mutable_data(), y_rows, std::size_t(pairs * n) * sizeof(T));
    return py::make_tuple(s, y);
  }
};

// The callback hook: hook(x, f, g, nit, nfev, nhev) -> bool, with copies of x and g.
template <class T>
bool call_hook(const py::object& hook, const opt::IterateView<T>& v) {
  py::array_t<T> x(v.n), g(v.n);
  std::memcpy(x.mutable_data(), v.x, std::size_t(v.n) * sizeof(T));
  std::memcpy(g.mutable_data(), v.g, std::size_t(v.n) * sizeof(T));
  return hook(x, double(v.f), g, v.nit, v.nfev, v.nhev).template cast<bool>();
}

template <class T>
py::tuple minimize_callable(const PythonObjective& p, const py::array& x_arg,
                            const RunSettings& options) {
  const py::ssize_t n = extents_of<1>(x_arg, "x")[0];
  T* data = mutable_data_of<T>(x_arg, "x", {n});
  opt::Settings<T> settings = settings_from<T>(options);
  bounds_from(options, settings, 1, n, false);
  const History<T> history(options, settings, n);
  ArgumentCopy<T> trial({n}), iterate({n});
  const bool pair = p.jac.is_none();  // fun returns (f, g)
  auto fg = [&](const T* xt, T* gt) -> T {
    const py::array view = trial.of(xt);
    if (pair) {
      py::object r = p.fun(view);
      if (!PyTuple_Check(r.ptr()) || PyTuple_GET_SIZE(r.ptr()) != 2) r = p.coerce_pair(r);
      const T f = scalar_value<T>(PyTuple_GET_ITEM(r.ptr(), 0), p.coerce_value);
      copy_array<T>(PyTuple_GET_ITEM(r.ptr(), 1), gt, {n}, p.coerce_gradient);
      return f;
    }
    const T f = scalar_value<T>(p.fun(view), p.coerce_value);
    copy_array<T>(p.jac(view), gt, {n}, p.coerce_gradient);
    return f;
  };
  auto hess = [&](const T* at, T* h) {
    copy_array<T>(p.hess(iterate.of(at)), h, {n, n}, p.coerce_hessian);
  };
  auto hook = [&](const opt::IterateView<T>& v) { return call_hook(p.callback, v); };
  opt::HessianRef<T> hess_ref;
  if (!p.hess.is_none()) hess_ref = hess;
  opt::CallbackRef<T> hook_ref;
  if (!p.callback.is_none()) hook_ref = hook;
  py::array_t<T> g(n);
  // The GIL stays held (fun runs Python), so Ctrl-C reaches fun itself; the check also
  // covers long stretches of C++ between its calls.
  SignalCheck signals;
  const opt::Summary<T> r =
      opt::minimize<T>(fg, hess_ref, hook_ref, data, g.mutable_data(), n, settings, signals.get());
  return result_tuple(r, g, history.result(settings, r, n));
}

template <class T>
py::tuple minimize_problem(int kind, double parameter, const py::array& x,
                           const RunSettings& options, const py::object& callback) {
  const py::ssize_t n = extents_of<1>(x, "x")[0];
  T* data = mutable_data_of<T>(x, "x", {n});
  opt::Settings<T> settings = settings_from<T>(options);
  bounds_from(options, settings, 1, n, false);
  const auto spec = problem_from(kind, parameter);
  const History<T> history(options, settings, n);
  py::array_t<T> g(n);
  T* grad = g.mutable_data();
  opt::Summary<T> r;
  SignalCheck signals;
  if (callback.is_none()) {
    py::gil_scoped_release release;
    r = opt::minimize_problem<T>(spec, data, grad, n, settings, {}, signals.get());
  } else {
    auto hook = [&](const opt::IterateView<T>& v) {
      py::gil_scoped_acquire acquire;
      return call_hook(callback, v);
    };
    py::gil_scoped_release release;
    r = opt::minimize_problem<T>(spec, data, grad, n, settings, hook, signals.get());
  }
  return result_tuple(r, g, history.result(settings, r, n));
}

// Per-problem outputs of a batch, as NumPy arrays.
template <class T>
struct BatchArrays {
  py::array_t<T> f, g;
  py::array_t<std::int64_t> nit, nfev, nhev;
  py::array_t<std::int32_t> status;

  BatchArrays(py::ssize_t batch, py::ssize_t n)
      : f(batch), g({batch, n}), nit(batch), nfev(batch), nhev(batch), status(batch) {}

  opt::BatchOutput<T> output() {
    return opt::BatchOutput<T>{f.mutable_data(),    g.mutable_data(),    nit.mutable_data(),
                               nfev.mutable_data(), nhev.mutable_data(), status.mutable_data()};
  }
  py::tuple tuple() const { return py::make_tuple(status, f, g, nit, nfev, nhev); }
};

// Runs `solve(x, batch, n, output, interrupt)` without the GIL and returns the per-problem
// arrays.
template <class T, class Solve>
py::tuple run_batch(const py::array& x, Solve&& solve) {
  const auto extents = extents_of<2>(x, "x");
  const py::ssize_t batch = extents[0], n = extents[1];
  BatchArrays<T> out(batch, n);
  T* data = mutable_data_of<T>(x, "x", {batch, n});
  const opt::BatchOutput<T> o = out.output();
  SignalCheck signals;
  {
    py::gil_scoped_release release;
    solve(data, batch, n, o, signals.get());
  }
  return out.tuple();
}

template <class T>
py::tuple minimize_problem_batch(int kind, double parameter, const py::array& x,
                                 const RunSettings& options, int threads) {
  const auto extents = extents_of<2>(x, "x");
  const py::ssize_t batch = extents[0], n = extents[1];
  opt::Settings<T> settings = settings_from<T>(options);
  bounds_from(options, settings, batch, n, true);
  const auto spec = problem_from(kind, parameter);
  return run_batch<T>(
      x, [&](T* data, py::ssize_t batch, py::ssize_t n, const auto& o, Interrupt* interrupt) {
        opt::minimize_problem_batch<T>(spec, data, batch, n, settings, o, threads, interrupt);
      });
}

template <class T>
py::tuple minimize_batch(const py::object& fun, const py::object& coerce, const py::array& x,
                         const RunSettings& options, int threads) {
  const auto extents = extents_of<2>(x, "x");
  const py::ssize_t batch = extents[0], n = extents[1];
  opt::Settings<T> settings = settings_from<T>(options);
  bounds_from(options, settings, batch, n, true);
  ArgumentCopy<T> trial({batch, n});
  auto fg = [&](const T* xt, T* f, T* g) {
    py::gil_scoped_acquire acquire;
    py::object r = fun(trial.of(xt));
    if (!PyTuple_Check(r.ptr()) || PyTuple_GET_SIZE(r.ptr()) != 2) r = coerce.attr("pair")(r);
    copy_array<T>(PyTuple_GET_ITEM(r.ptr(), 0), f, {batch}, coerce.attr("value"));
    copy_array<T>(PyTuple_GET_ITEM(r.ptr(), 1), g, {batch, n}, coerce.attr("gradient"));
  };
  return run_batch<T>(x,
                      [&](T* data, py::ssize_t, py::ssize_t, const auto& o, Interrupt* interrupt) {
                        opt::minimize_batch<T>(fg, data, batch, n, settings, o, threads, interrupt);
                      });
}

// f and g of a native problem at each row of x (..., n).
template <class T>
py::tuple problem_value_grad(int kind, double parameter, const py::array& x_arg) {
  const auto x = c_array<T>(x_arg, "x");
  if (x.ndim() < 1) throw py::value_error("x: expected at least one dimension, got 0");
  const py::ssize_t n = x.shape(x.ndim() - 1), rows = n > 0 ? x.size() / n : 0;
  std::vector<py::ssize_t> batch_shape(x.shape(), x.shape() + x.ndim() - 1);
  py::array_t<T> f(batch_shape);
  py::array_t<T> g(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const T* xd = x.data();
  T* gd = g.mutable_data();
  T* fd = f.mutable_data();
  {
    py::gil_scoped_release release;
    opt::problem_value_grad<T>(problem_from(kind, parameter), rows, n, xd, fd, gd);
  }
  return py::make_tuple(f, g);
}

template <class T>
py::array problem_hessian(int kind, double parameter, const py::array& x) {
  const py::ssize_t n = extents_of<1>(x, "x")[0];
  const T* xd = data_of<T>(x, "x", {n});
  py::array_t<T> h({n, n});
  opt::problem_hessian<T>(problem_from(kind, parameter), n, xd, h.mutable_data());
  return h;
}

}  // namespace

void bind_optimize(py::module_& m) {
  bind_optimize_settings(m);
  m.def("minimize",
        [](py::object fun, py::object jac, py::object hess, py::object callback, py::array x,
           const RunSettings& options, py::object coerce) {
          PythonObjective p{fun,
                            jac,
                            hess,
                            callback,
                            coerce.attr("value"),
                            coerce.attr("gradient"),
                            coerce.attr("hessian"),
                            coerce.attr("pair")};
          return dispatch_float(
              x.dtype(), [&](auto t) { return minimize_callable<decltype(t)>(p, x, options); });
        });
  m.def("minimize_problem", [](int kind, double parameter, py::array x,
                                        const RunSettings& options, py::object callback) {
    return dispatch_float(x.dtype(), [&](auto t) {
      return minimize_problem<decltype(t)>(kind, parameter, x, options, callback);
    });
  });
  m.def("minimize_problem_batch",
        [](int kind, double parameter, py::array x, const RunSettings& options, int threads) {
          return dispatch_float(x.dtype(), [&](auto t) {
            return minimize_problem_batch<decltype(t)>(kind, parameter, x, options, threads);
          });
        });
  m.def("minimize_batch", [](py::object fun, py::object coerce, py::array x,
                                      const RunSettings& options, int threads) {
    return dispatch_float(x.dtype(), [&](auto t) {
      return minimize_batch<decltype(t)>(fun, coerce, x, options, threads);
    });
  });
  m.def("status_message",
        [](int status) { return std::string(opt::status_message(opt::Status(status))); });
  m.def("problem_value_grad", [](int kind, double parameter, py::array x) {
    return dispatch_float(
        x.dtype(), [&](auto t) { return problem_value_grad<decltype(t)>(kind, parameter, x); });
  });
  m.def("problem_hessian", [](int kind, double parameter, py::array x) {
    return dispatch_float(x.dtype(),
                          [&](auto t) { return problem_hessian<decltype(t)>(kind, parameter, x); });
  });
  m.def("problem_start", [](int kind, double parameter, py::ssize_t n) {
    py::array_t<double> x(n);
    opt::problem_start<double>(problem_from(kind, parameter), n, x.mutable_data());
    return x;
  });
}

}  // namespace optkern::bindings
