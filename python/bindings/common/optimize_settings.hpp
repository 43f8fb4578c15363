// The settings of an optkern.optimize run as they cross from Python: OptimizeSettings, a class
// with one named field per option (python/optkern/optimize/_checks.py fills it from the checked
// options), and OptimizeMethod, the core's Method. Shared by the CPU and CUDA bindings; bound
// once, in _core (bind_optimize_settings), and used by _cuda through pybind11's shared types.
#pragma once

#include <pybind11/pybind11.h>

#include "optkern/optimize/minimize.hpp"

namespace optkern::bindings {

namespace py = pybind11;

struct RunSettings {
  optimize::Settings<double> settings;
  bool history = false;  // return the final inverse Hessian approximation (L-BFGS, BFGS)
  // Bounds (arrays of the run's dtype, one row of n per problem) or None; held here, and so
  // alive, for the whole call.
  py::object lower = py::none(), upper = py::none();
};

template <class T>
optimize::Settings<T> settings_from(const RunSettings& r) {
  const optimize::Settings<double>& d = r.settings;
  optimize::Settings<T> s;
  s.method = d.method;
  s.stop.gtol = T(d.stop.gtol);
  s.stop.ftol = T(d.stop.ftol);
  s.stop.max_iter = d.stop.max_iter;
  s.stop.max_fev = d.stop.max_fev;
  s.m = d.m;
  s.c1 = T(d.c1);
  s.c2 = T(d.c2);
  s.max_ls = d.max_ls;
  s.alpha0 = T(d.alpha0);
  s.tau = T(d.tau);
  s.eig_floor = T(d.eig_floor);
  s.bfgs_hessian_start = d.bfgs_hessian_start;
  return s;
}

inline optimize::problems::ProblemSpec problem_from(int kind, double parameter) {
  optimize::problems::ProblemSpec spec;
  spec.kind = optimize::problems::ProblemKind(kind);
  spec.parameter = parameter;
  return spec;
}

// A read-write property for a field of RunSettings::settings.
template <class Field, class Get>
void settings_field(py::class_<RunSettings>& cls, const char* name, Get get) {
  cls.def_property(
      name, [get](const RunSettings& r) { return Field(get(const_cast<RunSettings&>(r))); },
      [get](RunSettings& r, Field value) { get(r) = value; });
}

inline void bind_optimize_settings(py::module_& m) {
  namespace opt = optkern::optimize;
  py::enum_<opt::Method>(m, "OptimizeMethod")
      .value("lbfgs", opt::Method::kLbfgs)
      .value("bfgs", opt::Method::kBfgs)
      .value("newton", opt::Method::kNewton)
      .value("gd", opt::Method::kGradientDescent);
  py::class_<RunSettings> cls(m, "OptimizeSettings");
  cls.def(py::init<>());
  settings_field<opt::Method>(cls, "method",
                              [](RunSettings& r) -> auto& { return r.settings.method; });
  settings_field<double>(cls, "gtol", [](RunSettings& r) -> auto& { return r.settings.stop.gtol; });
  settings_field<double>(cls, "ftol", [](RunSettings& r) -> auto& { return r.settings.stop.ftol; });
  settings_field<long>(cls, "max_iter",
                       [](RunSettings& r) -> auto& { return r.settings.stop.max_iter; });
  settings_field<long>(cls, "max_fev",
                       [](RunSettings& r) -> auto& { return r.settings.stop.max_fev; });
  settings_field<int>(cls, "m", [](RunSettings& r) -> auto& { return r.settings.m; });
  settings_field<double>(cls, "c1", [](RunSettings& r) -> auto& { return r.settings.c1; });
  settings_field<double>(cls, "c2", [](RunSettings& r) -> auto& { return r.settings.c2; });
  settings_field<int>(cls, "max_ls", [](RunSettings& r) -> auto& { return r.settings.max_ls; });
  settings_field<double>(cls, "alpha0", [](RunSettings& r) -> auto& { return r.settings.alpha0; });
  settings_field<double>(cls, "tau", [](RunSettings& r) -> auto& { return r.settings.tau; });
  settings_field<double>(cls, "eig_floor",
                         [](RunSettings& r) -> auto& { return r.settings.eig_floor; });
  settings_field<bool>(cls, "bfgs_hessian_start",
                       [](RunSettings& r) -> auto& { return r.settings.bfgs_hessian_start; });
  cls.def_readwrite("history", &RunSettings::history)
      .def_readwrite("lower", &RunSettings::lower)
      .def_readwrite("upper", &RunSettings::upper);
}

}  // namespace optkern::bindings
