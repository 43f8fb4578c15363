// optkern._core.givens: the factorization engines, the block search and apply_sequence.
// Python (python/optkern/givens/) has checked shapes, dtypes and values; arrays arrive
// C-contiguous in the dtype of the engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "common/arrays.hpp"
#include "common/givens_trajectory.hpp"
#include "common/signal_check.hpp"
#include "optkern/givens.hpp"
#include "optkern/givens/beam.hpp"

namespace optkern::bindings {
namespace {

namespace og = optkern::givens;

template <class T>
const T* square_matrix(const CArray<T>& u, index_t& d, const char* name = "u") {
  d = u.ndim() == 2 ? u.shape(0) : 0;
  return checked(u, name, {d, d});
}

// Writes up to max_steps factors into the arrays, from position `offset`.
template <class T, class Engine>
index_t run_engine(Engine& engine, index_t max_steps, CArray<std::int64_t>& i,
                   CArray<std::int64_t>& j, CArray<T>& theta, CArray<double>& score,
                   index_t offset) {
  const TrajectoryView<T> v = trajectory_view(i, j, theta, score, max_steps, offset);
  SignalCheck signals;
  py::gil_scoped_release release;
  return engine.run(max_steps, og::Trajectory<T>{v.i, v.j, v.theta, v.score}, signals.get());
}

template <class T>
py::array_t<T> matrix_copy(const T* data, index_t d) {
  py::array_t<T> out({d, d});
  std::copy(data, data + d * d, out.mutable_data());
  return out;
}

template <class Engine, class T>
py::class_<Engine> bind_engine(py::module_& m, const std::string& name) {
  py::class_<Engine> cls(m, name.c_str());
  cls.def("run", &run_engine<T, Engine>, py::arg("max_steps"), py::arg("i").noconvert(),
          py::arg("j").noconvert(), py::arg("theta").noconvert(), py::arg("score").noconvert(),
          py::arg("offset"))
      .def_property_readonly("converged", &Engine::converged)
      .def("matrix", [](const Engine& e) { return matrix_copy(e.matrix(), e.dim()); });
  return cls;
}

// An engine built from one square matrix (`arg`: u, or l for Jacobi), set up without the GIL
// (the set-up reads, and scores, all d^2 entries).
template <class Engine, class T>
void bind_square_engine(py::module_& m, const std::string& name, const char* arg) {
  bind_engine<Engine, T>(m, name).def(py::init([arg](const CArray<T>& u) {
                                        index_t d;
                                        const T* data = square_matrix(u, d, arg);
                                        py::gil_scoped_release release;
                                        return new Engine(data, d);
                                      }),
                                      py::arg(arg).noconvert());
}

// The factors (i, j, cos, sin) of a sequence, each of shape (n,).
template <class T>
struct Factors {
  index_t n;
  const index_t* i;
  const index_t* j;
  const T* cos;
  const T* sin;
};

template <class T>
Factors<T> factors_of(const CArray<std::int64_t>& i, const CArray<std::int64_t>& j,
                      const CArray<T>& cos, const CArray<T>& sin) {
  const index_t n = extents_of<1>(i, "i")[0];
  return {n, reinterpret_cast<const index_t*>(checked(i, "i", {n})),
          reinterpret_cast<const index_t*>(checked(j, "j", {n})), checked(cos, "cos", {n}),
          checked(sin, "sin", {n})};
}

template <class T>
void bind_dtype(py::module_& m, const std::string& suffix) {
  using L1 = og::L1Descent<T>;
  bind_engine<L1, T>(m, "GivensL1Descent" + suffix)
      .def(py::init([](const CArray<T>& u, int threads) {
             index_t d;
             const T* data = square_matrix(u, d);
             SignalCheck signals;
             py::gil_scoped_release release;  // the first pass scores d(d-1)/2 pairs
             return new L1(data, d, threads, signals.get());
           }),
           py::arg("u").noconvert(), py::arg("threads"))
      .def_property_readonly("threads", &L1::threads)
      .def("l1_norm", &L1::l1_norm)
      .def("set_layered", &L1::set_layered, py::arg("on"))
      .def_property_readonly("depth", &L1::depth);

  using Beam = og::BeamL1<T>;
  py::class_<Beam>(m, ("GivensBeamL1" + suffix).c_str())
      .def(py::init([](const CArray<T>& u, index_t width, int threads) {
             index_t d;
             const T* data = square_matrix(u, d);
             SignalCheck signals;
             py::gil_scoped_release release;  // the first pass scores d(d-1)/2 pairs
             return new Beam(data, d, width, threads, signals.get());
           }),
           py::arg("u").noconvert(), py::arg("width"), py::arg("threads"))
      .def(
          "advance",
          [](Beam& b, index_t max_steps) {
            SignalCheck signals;
            py::gil_scoped_release release;
            return b.advance(max_steps, signals.get());
          },
          py::arg("max_steps"))
      .def_property_readonly("converged", &Beam::converged)
      .def_property_readonly("steps", &Beam::steps)
      .def("best_objective", &Beam::best_objective)
      .def("matrix", [](const Beam& b) { return matrix_copy(b.best_matrix(), b.dim()); })
      .def("best_path", [](const Beam& b) {
        const index_t n = b.steps();
        py::array_t<std::int64_t> i(n), j(n);
        py::array_t<T> theta(n);
        py::array_t<double> score(n);
        b.best_path(reinterpret_cast<index_t*>(i.mutable_data()),
                    reinterpret_cast<index_t*>(j.mutable_data()), theta.mutable_data(),
                    score.mutable_data());
        return py::make_tuple(i, j, theta, score);
      });

  bind_square_engine<og::FrobeniusGreedy<T>, T>(m, "GivensFrobeniusGreedy" + suffix, "u");
  bind_square_engine<og::Elimination<T>, T>(m, "GivensElimination" + suffix, "u");
  bind_square_engine<og::JacobiEigen<T>, T>(m, "GivensJacobi" + suffix, "l");

  // x: (batch, d, cols) C-contiguous, rotated in place.
  m.def(
      "apply",
      [](const CArray<std::int64_t>& i, const CArray<std::int64_t>& j, const CArray<T>& cos,
         const CArray<T>& sin, CArray<T>& x, bool transpose, int threads) {
        extents_of<1>(i, "i");  // its dimensions checked first, as ever
        const auto [batch, d, cols] = extents_of<3>(x, "x");
        const Factors<T> f = factors_of(i, j, cos, sin);
        T* px = checked_out(x, "x", {batch, d, cols});
        py::gil_scoped_release release;
        og::apply_sequence<T>(f.n, f.i, f.j, f.cos, f.sin, px, batch, d, cols, transpose, threads);
      },
      py::arg("i").noconvert(), py::arg("j").noconvert(), py::arg("cos").noconvert(),
      py::arg("sin").noconvert(), py::arg("x").noconvert(), py::arg("transpose"),
      py::arg("threads"));
}

}  // namespace

namespace {
// dst <- (G P) src or (G P)^T src, both (batch, d, cols) C-contiguous; perm and signs empty
// for P = I.
template <class T>
void bind_apply_signed(py::module_& m) {
  m.def(
      "apply_signed",
      [](const CArray<std::int64_t>& i, const CArray<std::int64_t>& j, const CArray<T>& cos,
         const CArray<T>& sin, const CArray<std::int64_t>& perm, const CArray<std::int8_t>& signs,
         const CArray<T>& src, CArray<T>& dst, bool transpose, int threads) {
        extents_of<1>(i, "i");  // its dimensions checked first, as ever
        const auto [batch, d, cols] = extents_of<3>(src, "src");
        const Factors<T> f = factors_of(i, j, cos, sin);
        const index_t p = extents_of<1>(perm, "perm")[0] ? d : 0;  // empty: P = I
        const auto* pp = reinterpret_cast<const index_t*>(checked(perm, "perm", {p}));
        const std::int8_t* ps = checked(signs, "signs", {p});
        const T* in = checked(src, "src", {batch, d, cols});
        T* out = checked_out(dst, "dst", {batch, d, cols});
        py::gil_scoped_release release;
        og::apply_sequence_signed<T>(f.n, f.i, f.j, f.cos, f.sin, p ? pp : nullptr,
                                     p ? ps : nullptr, in, out, batch, d, cols, transpose,
                                     threads);
      },
      py::arg("i").noconvert(), py::arg("j").noconvert(), py::arg("cos").noconvert(),
      py::arg("sin").noconvert(), py::arg("perm").noconvert(), py::arg("signs").noconvert(),
      py::arg("src").noconvert(), py::arg("dst").noconvert(), py::arg("transpose"),
      py::arg("threads"));
}
}  // namespace

void bind_givens(py::module_& m) {
  each_float([&](auto t, const char*) { bind_apply_signed<decltype(t)>(m); });
  each_float([&](auto t, const char* suffix) { bind_dtype<decltype(t)>(m, suffix); });
}

}  // namespace optkern::bindings
