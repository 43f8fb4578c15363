// The options dict that python/optkern/optimize/_options.py builds, as the core's Settings
// (shared by the CPU and CUDA bindings of optkern.optimize).
#pragma once

#include <pybind11/pybind11.h>

#include "optkern/optimize/minimize.hpp"

namespace optkern::bindings {

template <class T>
optimize::Settings<T> settings_from(const pybind11::dict& d) {
  optimize::Settings<T> s;
  s.method = optimize::Method(d["method"].cast<int>());
  s.stop.gtol = T(d["gtol"].cast<double>());
  s.stop.ftol = T(d["ftol"].cast<double>());
  s.stop.max_iter = d["max_iter"].cast<long>();
  s.stop.max_fev = d["max_fev"].cast<long>();
  s.m = d["m"].cast<int>();
  s.c1 = T(d["c1"].cast<double>());
  s.c2 = T(d["c2"].cast<double>());
  s.max_ls = d["max_ls"].cast<int>();
  s.alpha0 = T(d["alpha0"].cast<double>());
  s.tau = T(d["tau"].cast<double>());
  s.eig_floor = T(d["eig_floor"].cast<double>());
  s.bfgs_hessian_start = d["bfgs_hessian_start"].cast<bool>();
  return s;
}

inline optimize::problems::ProblemSpec problem_from(int kind, double parameter) {
  optimize::problems::ProblemSpec spec;
  spec.kind = optimize::problems::ProblemKind(kind);
  spec.parameter = parameter;
  return spec;
}

}  // namespace optkern::bindings
