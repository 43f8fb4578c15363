// The host+device L-BFGS-B machine (lbfgsb_machine.hpp) on the CPU, in the contiguous layout
// and in the interleaved layout of the CUDA batch kernel (several problems in one block,
// element i of problem b at i * B + b), against the host L-BFGS-B of lbfgsb.hpp: the same
// solutions (f to a tight tolerance, the same active bounds) with about the same number of
// evaluations, on the bounded problems of test_lbfgsb.cpp and on the native problems of
// problems.hpp in boxes (finite, one-sided and infinite bounds, starts outside the box).
#include <Eigen/Core>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <vector>

#include "check.hpp"
#include "optkern/optimize/lbfgsb.hpp"
#include "optkern/optimize/lbfgsb_machine.hpp"
#include "optkern/optimize/problems.hpp"

namespace opt = optkern::optimize;

constexpr double kInf = std::numeric_limits<double>::infinity();

template <class T>
struct Outcome {
  std::vector<T> x, g;
  T f = T(0);
  long nit = 0, nfev = 0;
  opt::Status status = opt::Status::kRunning;
};

// Runs the portable machine on `copies` interleaved copies of one problem (stride = copies;
// copies == 1 is the contiguous layout) and returns copy `which`'s outcome, after checking
// that every copy gave bit for bit the same run. fg(x, g) is contiguous: the trial point is
// gathered from its layout and the gradient scattered back. stop_after > 0 asks proceed() to
// stop at that iteration (a callback's stop).
template <class T, class Objective>
Outcome<T> run_portable(Objective& fg, const std::vector<T>& x0, const std::vector<T>& lo,
                        const std::vector<T>& hi, const opt::LbfgsOptions<T>& o, int copies,
                        long stop_after = 0) {
  const auto n = opt::index_t(x0.size());
  const opt::index_t B = copies;
  // The block between two guard zones that must stay untouched: the machine writes only
  // inside lbfgsb_buffer_size(n, m) elements per problem. NaN everywhere else: an element
  // read before it is written would show in the results.
  const opt::index_t guard = 64, size = opt::lbfgsb_buffer_size(n, o.m) * B;
  std::vector<T> storage(std::size_t(size + 2 * guard), std::numeric_limits<T>::quiet_NaN());
  for (opt::index_t i = 0; i < guard; ++i) {
    storage[std::size_t(i)] = storage[std::size_t(size + guard + i)] = T(12345);
  }
  T* const block_start = storage.data() + guard;
  std::vector<T> lower(std::size_t(n * B)), upper(std::size_t(n * B));
  for (opt::index_t i = 0; i < n; ++i) {
    for (opt::index_t b = 0; b < B; ++b) {
      lower[std::size_t(i * B + b)] = lo[std::size_t(i)];
      upper[std::size_t(i * B + b)] = hi[std::size_t(i)];
    }
  }
  std::vector<Outcome<T>> outs(static_cast<std::size_t>(B));
  std::vector<T> xt(static_cast<std::size_t>(n)), gt(static_cast<std::size_t>(n));
  for (opt::index_t b = 0; b < B; ++b) {
    const auto buffers = opt::lbfgsb_buffers(block_start + b, n, o.m, B);
    for (opt::index_t i = 0; i < n; ++i) buffers.v.x[i * B] = x0[std::size_t(i)];
    auto drive = [&](auto& machine) {
      opt::Request r = machine.start();
      while (r != opt::Request::kDone) {
        if (r == opt::Request::kEvaluate) {
          for (opt::index_t i = 0; i < n; ++i) xt[std::size_t(i)] = buffers.v.xt[i * B];
          const T f = fg(xt.data(), gt.data());
          for (opt::index_t i = 0; i < n; ++i) buffers.v.gt[i * B] = gt[std::size_t(i)];
          r = machine.tell(f);
        } else {
          CHECK(r == opt::Request::kIterate);
          r = machine.proceed(stop_after > 0 && machine.counters().nit >= stop_after);
        }
      }
      Outcome<T>& out = outs[std::size_t(b)];
      for (opt::index_t i = 0; i < n; ++i) {
        out.x.push_back(buffers.v.x[i * B]);
        out.g.push_back(buffers.v.g[i * B]);
      }
      out.f = machine.f();
      out.nit = machine.counters().nit;
      out.nfev = machine.counters().nfev;
      out.status = machine.status();
    };
    if (B == 1) {
      opt::LbfgsbPortableMachine<T> machine(n, o, buffers, lower.data(), upper.data());
      drive(machine);
    } else {
      opt::LbfgsbPortableMachine<T, opt::Interleaved> machine(
          n, o, buffers, lower.data() + b, upper.data() + b, opt::Interleaved{B});
      drive(machine);
    }
  }
  for (opt::index_t i = 0; i < guard; ++i) {
    CHECK(storage[std::size_t(i)] == T(12345) &&
          storage[std::size_t(size + guard + i)] == T(12345));
  }
  for (opt::index_t b = 1; b < B; ++b) {
    CHECK(outs[std::size_t(b)].x == outs[0].x && outs[std::size_t(b)].nfev == outs[0].nfev);
  }
  return outs[std::size_t(B / 2)];
}

long total_nfev = 0, total_nfev_ref = 0;  // over the double comparisons

template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

template <class T>
Vec<T> as_vec(const std::vector<T>& v) {
  return Eigen::Map<const Vec<T>>(v.data(), Eigen::Index(v.size()));
}

// Indices at their lower bound (-1 - i) or upper bound (i + 1).
template <class T>
std::vector<long> active_set(const std::vector<T>& x, const std::vector<T>& lo,
                             const std::vector<T>& hi) {
  std::vector<long> active;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == lo[i]) active.push_back(-1 - long(i));
    if (x[i] == hi[i]) active.push_back(long(i) + 1);
  }
  return active;
}

// Runs lbfgs.hpp's host L-BFGS-B and the portable machine in both layouts; checks that they
// agree: f within ftol_rel (relative to max(1, |f|)), the same active bounds, and (in double)
// the same kind of ending and evaluation counts within 15% (+3).
template <class T, class Objective>
void compare(const char* name, Objective fg, std::vector<T> x0, const std::vector<T>& lo,
             const std::vector<T>& hi, const opt::LbfgsOptions<T>& o, double ftol_rel) {
  Vec<T> x_ref = as_vec(x0);
  auto eigen_fg = [&](const Vec<T>& x, Vec<T>& g) { return fg(x.data(), g.data()); };
  const auto ref = opt::lbfgsb(eigen_fg, Eigen::Ref<Vec<T>>(x_ref), as_vec(lo), as_vec(hi), o);
  std::vector<T> xr(x_ref.data(), x_ref.data() + x_ref.size());
  const bool exact_path = std::is_same_v<T, double>;
  for (int copies : {1, 3}) {
    const Outcome<T> out = run_portable(fg, x0, lo, hi, o, copies);
    const double scale = std::max(1.0, std::abs(double(ref.fun)));
    const bool f_ok = std::abs(double(out.f) - double(ref.fun)) <= ftol_rel * scale;
    const bool active_ok = active_set(out.x, lo, hi) == active_set(xr, lo, hi);
    // In double both runs take the same path to rounding: the same kind of ending and about
    // the same evaluations. In float the last searches end in the rounding noise of f,
    // where the order of a sum decides whether a step still counts as a decrease: there
    // only a limit reached (or no solution) would be wrong.
    const bool limit =
        out.status == opt::Status::kMaxIterations || out.status == opt::Status::kMaxEvaluations;
    const bool count_ok = exact_path ? std::abs(out.nfev - ref.nfev) <= 3 + ref.nfev * 15 / 100
                                     : out.nfev <= 3 * ref.nfev + 10;
    const bool status_ok =
        exact_path ? opt::converged(out.status) == opt::converged(ref.status) : !limit;
    bool feasible = true;
    for (std::size_t i = 0; i < x0.size(); ++i) {
      feasible = feasible && out.x[i] >= lo[i] && out.x[i] <= hi[i];
    }
    CHECK(f_ok && active_ok && count_ok && status_ok && feasible);
    if (exact_path && copies == 1) {
      total_nfev += out.nfev;
      total_nfev_ref += ref.nfev;
    }
    if (!(f_ok && active_ok && count_ok && status_ok && feasible)) {
      std::printf(
          "  %s (copies %d): f %.17g vs %.17g, nfev %ld vs %ld, status %d vs %d"
          " (f %d active %d count %d status %d feasible %d)\n",
          name, copies, double(out.f), double(ref.fun), out.nfev, ref.nfev, int(out.status),
          int(ref.status), f_ok, active_ok, count_ok, status_ok, feasible);
    }
  }
}

template <class T>
T rosenbrock(const T* x, T* g, opt::index_t n) {
  return opt::problems::Rosenbrock<T>{}.value_grad(n, x, g, opt::Contiguous{});
}

void separable_quadratic() {
  const std::vector<double> c{3, -3, 0.5, 10, -0.25, 2, -7};
  const std::vector<double> lo{-1, -1, -1, -kInf, -1, 2.5, -kInf};
  const std::vector<double> hi{1, 1, 1, 1, kInf, kInf, kInf};
  auto fg = [&](const double* x, double* g) {
    double f = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      g[i] = 2 * (x[i] - c[i]);
      f += (x[i] - c[i]) * (x[i] - c[i]);
    }
    return f;
  };
  compare("separable quadratic", fg, std::vector<double>(7, 0.0), lo, hi, {}, 1e-12);
  const Outcome<double> out = run_portable(fg, std::vector<double>(7, 0.0), lo, hi, {}, 1);
  for (std::size_t i = 0; i < c.size(); ++i) {
    CHECK(std::abs(out.x[i] - std::min(std::max(c[i], lo[i]), hi[i])) < 1e-8);
  }
}

// Ends of runs in the rounding noise of f (gtol far below what f's rounding lets a line
// search see) depend on the order of sums: the comparisons with lbfgsb.hpp stop above it,
// and the runs to the noise check the solution itself.
bool at_limit(opt::Status s) {
  return s == opt::Status::kMaxIterations || s == opt::Status::kMaxEvaluations;
}

void bounded_rosenbrock() {
  const int n = 10;
  std::vector<double> lo(n, -kInf), hi(n, kInf);
  for (int i = 0; i < n; i += 2) hi[std::size_t(i)] = 0.5;
  lo[1] = 1.5;
  auto fg = [&](const double* x, double* g) { return rosenbrock(x, g, n); };
  compare("bounded rosenbrock", fg, std::vector<double>(n, 0.0), lo, hi, {}, 1e-10);
  opt::LbfgsOptions<double> o;
  o.gtol = 1e-8;
  o.ftol = 0;
  const Outcome<double> out = run_portable(fg, std::vector<double>(n, 0.0), lo, hi, o, 3);
  CHECK(!at_limit(out.status));
  CHECK(out.x[0] == 0.5 && out.x[1] == 1.5);  // both bounds active
  CHECK(opt::projected_gradient_norm(n, out.x.data(), out.g.data(), lo.data(), hi.data(),
                                     opt::Contiguous{}) <= 1e-6);
}

void no_bounds() {
  for (int n : {2, 20}) {
    const auto size = static_cast<std::size_t>(n);
    std::vector<double> x0(size), lo(size, -kInf), hi(size, kInf);
    for (int i = 0; i < n; ++i) x0[std::size_t(i)] = i % 2 == 0 ? -1.2 : 1.0;
    auto fg = [&](const double* x, double* g) { return rosenbrock(x, g, n); };
    compare("rosenbrock without bounds", fg, x0, lo, hi, {}, 1e-8);
  }
}

void single_precision_and_start_outside() {
  const int n = 6;
  std::vector<float> lo(n, -2.0f), hi(n, 0.8f);
  lo[3] = -std::numeric_limits<float>::infinity();  // one-sided
  opt::LbfgsOptions<float> o;
  o.gtol = 1e-3f;
  auto fg = [&](const float* x, float* g) { return rosenbrock(x, g, n); };
  compare("float rosenbrock", fg, std::vector<float>(n, -1.0f), lo, hi, o, 1e-5);
  compare("float rosenbrock from outside", fg, std::vector<float>(n, 3.0f), lo, hi, o, 1e-5);
}

void callback_stop_and_start_outside() {
  const int n = 4;
  const std::vector<double> lo(n, -1.0), hi(n, 2.0);
  auto fg = [&](const double* x, double* g) { return rosenbrock(x, g, n); };
  const Outcome<double> out = run_portable(fg, std::vector<double>(n, 5.0), lo, hi, {}, 2, 3);
  CHECK(out.status == opt::Status::kCallbackStop && out.nit == 3);
  for (double v : out.x) CHECK(v >= -1 && v <= 2);
  compare("rosenbrock from outside", fg, std::vector<double>(n, 5.0), lo, hi, {}, 1e-8);
}

void never_loses_progress() {
  double best = kInf;
  auto fg = [&](const double* x, double* g) {
    const double f = -std::exp(-x[0]);
    g[0] = std::exp(-x[0]);
    best = std::min(best, f);
    return f;
  };
  const std::vector<double> x0{0.0}, lo{-50.0}, hi{kInf};
  const Outcome<double> out = run_portable(fg, x0, lo, hi, {}, 1);
  CHECK(out.x[0] == -50.0 && out.f == best && opt::converged(out.status));
  compare("-exp(-x)", fg, x0, lo, hi, {}, 1e-12);
}

// The tridiagonal quadratic of test_lbfgsb.cpp with half its bounds active: every memory
// size (the ring of pairs wrapped many times, the Gram blocks updated as the free set moves).
void memory_sizes_and_changing_free_sets() {
  const int n = 40;
  std::vector<double> b(n), lo(n, -0.3), hi(n, 0.5), x0(n);
  for (int i = 0; i < n; ++i) {
    b[std::size_t(i)] = 3 * std::sin(1.7 * i);
    x0[std::size_t(i)] = i % 2 == 0 ? 0.5 : -0.3;
  }
  auto fg = [&](const double* v, double* g) {
    double f = 0;
    for (int i = 0; i < n; ++i) {
      g[i] = 4 * v[i] - (i > 0 ? v[i - 1] : 0.0) - (i + 1 < n ? v[i + 1] : 0.0) - b[std::size_t(i)];
      f += 0.5 * v[i] * (g[i] - b[std::size_t(i)]);
    }
    return f;
  };
  // The reference: projected Gauss-Seidel (A is diagonally dominant).
  std::vector<double> ref(n, 0.0);
  for (int sweep = 0; sweep < 2000; ++sweep) {
    for (int i = 0; i < n; ++i) {
      const double r = b[std::size_t(i)] + (i > 0 ? ref[std::size_t(i - 1)] : 0.0) +
                       (i + 1 < n ? ref[std::size_t(i + 1)] : 0.0);
      ref[std::size_t(i)] = std::min(std::max(r / 4, lo[std::size_t(i)]), hi[std::size_t(i)]);
    }
  }
  for (int m : {1, 2, 3, 5, 60}) {
    opt::LbfgsOptions<double> o;
    o.m = m;
    o.gtol = 1e-6;
    o.ftol = 0;
    o.max_iter = 5000;
    compare("tridiagonal quadratic", fg, x0, lo, hi, o, 1e-12);
    o.gtol = 1e-10;
    const Outcome<double> out = run_portable(fg, x0, lo, hi, o, 2);
    CHECK(!at_limit(out.status));
    for (int i = 0; i < n; ++i) CHECK(std::abs(out.x[std::size_t(i)] - ref[std::size_t(i)]) < 1e-8);
  }
}

// The native problems of problems.hpp in boxes around their standard starts that cut off
// the minimiser on some variables: finite, one-sided and infinite bounds.
template <class T>
void native_problems(double ftol_rel) {
  const int sizes[opt::problems::kProblemKinds] = {10, 10, 10, 12, 10, 10, 10, 10, 10};
  for (int kind = 0; kind < opt::problems::kProblemKinds; ++kind) {
    const opt::problems::ProblemSpec spec{opt::problems::ProblemKind(kind), 100.0};
    const int n = sizes[kind];
    const auto size = static_cast<std::size_t>(n);
    std::vector<T> x0(size), lo(size), hi(size);
    opt::problems::standard_start(spec, n, x0.data());
    const T inf = std::numeric_limits<T>::infinity();
    for (int i = 0; i < n; ++i) {
      const T v = x0[std::size_t(i)];
      switch (i % 4) {
        case 0:
          lo[std::size_t(i)] = v - T(0.25);
          hi[std::size_t(i)] = v + T(0.25);
          break;
        case 1:
          lo[std::size_t(i)] = -inf;
          hi[std::size_t(i)] = v + T(0.1);
          break;
        case 2:
          lo[std::size_t(i)] = v - T(0.1);
          hi[std::size_t(i)] = inf;
          break;
        default:
          lo[std::size_t(i)] = -inf;
          hi[std::size_t(i)] = inf;
      }
    }
    auto fg = [&](const T* x, T* g) {
      return opt::problems::with_problem<T>(
          spec, n, [&](const auto& p) { return p.value_grad(n, x, g, opt::Contiguous{}); });
    };
    opt::LbfgsOptions<T> o;
    o.m = 5;
    compare(opt::problems::problem_name(spec.kind), fg, x0, lo, hi, o, ftol_rel);
    for (int i = 0; i < n; ++i) x0[std::size_t(i)] += T(i % 2 == 0 ? 2 : -2);  // outside
    compare(opt::problems::problem_name(spec.kind), fg, x0, lo, hi, o, ftol_rel);
  }
}

// The CUDA kernel's run (cuda/src/optimize/batch.cu, lbfgsb_batch) emulated on the CPU: B
// problems of a native problem with their own starts and boxes, interleaved in one work
// block with their bounds after it, each evaluated in place in the interleaved layout; every
// problem ends where lbfgsb.hpp's run of it ends.
template <class T>
void kernel_emulation(double ftol_rel) {
  const opt::problems::ProblemSpec spec{opt::problems::ProblemKind::kRosenbrock, 0.0};
  const opt::index_t n = 6, batch = 37;
  opt::LbfgsOptions<T> o;
  o.m = 4;
  std::vector<T> x0(std::size_t(batch * n)), lower_rows(x0.size()), upper_rows(x0.size());
  std::srand(11);
  const T inf = std::numeric_limits<T>::infinity();
  for (std::size_t k = 0; k < x0.size(); ++k) {
    const double u = double(std::rand()) / RAND_MAX, w = double(std::rand()) / RAND_MAX;
    x0[k] = T(3 * u - 1.5);
    lower_rows[k] = k % 3 == 0 ? -inf : T(-1 + w);  // some one-sided and infinite bounds
    upper_rows[k] = k % 5 == 0 ? inf : T(0.2 + w);
  }
  const opt::index_t size = opt::lbfgsb_buffer_size(n, o.m);
  std::vector<T> work(std::size_t((size + 2 * n) * batch), std::numeric_limits<T>::quiet_NaN());
  long total = 0, total_ref = 0;
  for (opt::index_t b = 0; b < batch; ++b) {
    const opt::Interleaved layout{batch};
    const auto buffers = opt::lbfgsb_buffers(work.data() + b, n, o.m, batch);
    T* lower = work.data() + size * batch + b;
    T* upper = lower + n * batch;
    for (opt::index_t i = 0; i < n; ++i) {
      buffers.v.x[i * batch] = x0[std::size_t(b * n + i)];
      lower[i * batch] = lower_rows[std::size_t(b * n + i)];
      upper[i * batch] = upper_rows[std::size_t(b * n + i)];
    }
    opt::LbfgsbPortableMachine<T, opt::Interleaved> machine(n, o, buffers, lower, upper, layout);
    opt::Request r = machine.start();
    while (r != opt::Request::kDone) {
      if (r == opt::Request::kEvaluate) {
        const T f = opt::problems::with_problem<T>(spec, n, [&](const auto& p) {
          return p.value_grad(n, buffers.v.xt, buffers.v.gt, layout);
        });
        r = machine.tell(f);
      } else {
        r = machine.proceed(false);
      }
    }
    Vec<T> x = Eigen::Map<const Vec<T>>(x0.data() + b * n, n);
    const Vec<T> lo = Eigen::Map<const Vec<T>>(lower_rows.data() + b * n, n);
    const Vec<T> hi = Eigen::Map<const Vec<T>>(upper_rows.data() + b * n, n);
    const auto ref =
        opt::lbfgsb([&](const Vec<T>& v, Vec<T>& g) { return rosenbrock(v.data(), g.data(), n); },
                    Eigen::Ref<Vec<T>>(x), lo, hi, o);
    const double scale = std::max(1.0, std::abs(double(ref.fun)));
    CHECK(std::abs(double(machine.f()) - double(ref.fun)) <= ftol_rel * scale);
    for (opt::index_t i = 0; i < n; ++i) {
      const T xi = buffers.v.x[i * batch];
      CHECK(xi >= lo[i] && xi <= hi[i]);
      CHECK((xi == lo[i]) == (x[i] == lo[i]) && (xi == hi[i]) == (x[i] == hi[i]));
    }
    total += machine.counters().nfev;
    total_ref += ref.nfev;
  }
  CHECK(std::abs(total - total_ref) * 10 <= total_ref);
}

// The small solvers on strided storage against Eigen's LU: SmallBlockSolver for
// K = [[-F, E'], [E, C]] (general F, and diagonal F with strictly lower E, the middle matrix
// of eq. 3.4), and pivoted_solve for a general matrix (the fallback when a factor fails).
void small_solvers() {
  std::srand(7);
  const int m = 6;
  const opt::index_t stride = 3;
  for (int k : {1, 4, 6}) {
    for (bool diagonal : {false, true}) {
      const Eigen::MatrixXd a = Eigen::MatrixXd::Random(k, k), c0 = Eigen::MatrixXd::Random(k, k);
      Eigen::MatrixXd F = a * a.transpose() + Eigen::MatrixXd::Identity(k, k);
      Eigen::MatrixXd E = Eigen::MatrixXd::Random(k, k);
      const Eigen::MatrixXd C = c0 * c0.transpose() + Eigen::MatrixXd::Identity(k, k);
      if (diagonal) {
        F = Eigen::MatrixXd(F.diagonal().asDiagonal());
        E = E.triangularView<Eigen::StrictlyLower>();
      }
      Eigen::MatrixXd K(2 * k, 2 * k);
      K << -F, E.transpose(), E, C;
      std::vector<double> storage(std::size_t(opt::small_block_solver_size(m) * stride), kInf);
      opt::SmallBlockSolver<double> solver(opt::Strided<double>{storage.data() + 1, stride}, m);
      for (int j = 0; j < k; ++j) {
        for (int i = 0; i < k; ++i) {
          if (i >= j) solver.lf(i, j) = F(i, j);
          if (i >= j) solver.lc(i, j) = C(i, j);
          solver.e(i, j) = E(i, j);
        }
      }
      CHECK(solver.factor(k, diagonal));
      const Eigen::VectorXd v = Eigen::VectorXd::Random(2 * k);
      std::vector<double> vs(std::size_t(2 * k * stride)), zs(std::size_t(2 * k * stride));
      for (int i = 0; i < 2 * k; ++i) vs[std::size_t(i * stride)] = v[i];
      solver.solve(opt::Strided<double>{vs.data(), stride},
                   opt::Strided<double>{zs.data(), stride});
      const Eigen::VectorXd expected = K.partialPivLu().solve(v);
      for (int i = 0; i < 2 * k; ++i)
        CHECK(std::abs(zs[std::size_t(i * stride)] - expected[i]) < 1e-10);
      // pivoted_solve on the same matrix, stored with a leading dimension above its size
      const opt::index_t ld = 2 * m;
      std::vector<double> full(std::size_t(ld * 2 * k * stride));
      for (int j = 0; j < 2 * k; ++j) {
        for (int i = 0; i < 2 * k; ++i) full[std::size_t((i + j * ld) * stride)] = K(i, j);
      }
      zs = vs;
      opt::pivoted_solve(opt::Strided<double>{full.data(), stride}, ld, 2 * k,
                         opt::Strided<double>{zs.data(), stride});
      for (int i = 0; i < 2 * k; ++i)
        CHECK(std::abs(zs[std::size_t(i * stride)] - expected[i]) < 1e-10);
    }
  }
  // An indefinite F: the factorization reports it (the machine then takes pivoted_solve)
  std::vector<double> storage(std::size_t(opt::small_block_solver_size(2)));
  opt::SmallBlockSolver<double> solver(opt::Strided<double>{storage.data(), 1}, 2);
  solver.lf(0, 0) = 1;
  solver.lf(1, 0) = 2;
  solver.lf(1, 1) = 1;
  CHECK(!solver.factor(2));
}

int main() {
  small_solvers();
  kernel_emulation<double>(1e-10);
  kernel_emulation<float>(1e-5);
  separable_quadratic();
  bounded_rosenbrock();
  no_bounds();
  single_precision_and_start_outside();
  callback_stop_and_start_outside();
  never_loses_progress();
  memory_sizes_and_changing_free_sets();
  native_problems<double>(1e-10);
  native_problems<float>(1e-5);
  // In all, the same work as lbfgsb.hpp (within 5%).
  std::printf("evaluations in double: %ld (lbfgsb.hpp: %ld)\n", total_nfev, total_nfev_ref);
  CHECK(std::abs(total_nfev - total_nfev_ref) * 20 <= total_nfev_ref);
  return optkern_test::failures();
}
