// Compiled entry points of optkern::core (cpp/src/optimize/): every method behind one call,
// for objectives known only at run time (the Python bindings), for the native problems of
// problems.hpp with nothing but C++ in the loop, and for batches of independent problems.
// C++ callers with their own objective use the header-only lbfgs.hpp & co. instead.
//
// Only plain data crosses these functions (no Eigen objects): the core is compiled for the
// build machine's CPU, and Eigen's allocation alignment depends on such flags.
//
// Every entry point that runs iterations takes an optional `interrupt` (optkern/interrupt.hpp),
// polled once per iteration (per evaluation round for minimize_batch): when it stops the run,
// the call throws; x then holds each problem's last iterate.
#pragma once

#include <cstdint>

#include "optkern/interrupt.hpp"

#include "optkern/optimize/problems.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {

enum class Method : int { kLbfgs = 0, kBfgs = 1, kNewton = 2, kGradientDescent = 3 };

// The options of every method in one place; each method reads the ones it uses.
template <class T>
struct Settings {
  Method method = Method::kLbfgs;
  StopOptions<T> stop{};
  int m = 10;          // L-BFGS history
  T c1 = T(1e-4);      // sufficient decrease (all methods)
  T c2 = T(0.9);       // curvature (L-BFGS, BFGS)
  int max_ls = 20;     // evaluations per strong Wolfe search
  T alpha0 = T(1);     // first trial step of gradient descent and Newton
  T tau = T(0.5);      // backtracking factor of gradient descent and Newton
  T eig_floor = T(0);  // Newton 1e-6 and BFGS 1e-3 when 0
  bool bfgs_hessian_start = false;  // BFGS: start from the floored inverse Hessian at x0
  // When set, receives the final inverse Hessian approximation: for L-BFGS the kept pairs,
  // oldest first, s in rows 0..m-1 and y in rows m..2m-1 (2m x n, Summary::pairs rows of
  // each used); for BFGS the n x n matrix. Not used by the batch entry points.
  T* history = nullptr;
  // Bounds lower <= x <= upper (kLbfgs only, which then runs L-BFGS-B, lbfgsb.hpp): n
  // elements each, B x n for the batch entry points (row b for problem b); -Inf / +Inf for
  // no bound. Null: no bounds.
  const T* lower = nullptr;
  const T* upper = nullptr;

  LbfgsOptions<T> lbfgs() const;
  GradientDescentOptions<T> gradient_descent() const;
  NewtonOptions<T> newton() const;
  BfgsOptions<T> bfgs() const;
  void check() const;  // std::invalid_argument naming the bad option
  // check(), and the bounds of `rows` problems of n variables.
  void check(index_t rows, index_t n) const;
  // These settings for problem b of a batch (its row of the bounds).
  Settings for_problem(index_t b, index_t n) const;

 private:
  template <class Options>
  Options shared_options() const;
};

// f = fg(x, g): f at x, gradient into g (n elements each).
template <class T>
using ObjectiveRef = FunctionRef<T(const T* x, T* g)>;
// hess(x, h): the n x n Hessian at x into h (row-major, symmetric).
template <class T>
using HessianRef = FunctionRef<void(const T* x, T* h)>;
// callback(iterate) -> true to stop.
template <class T>
using CallbackRef = FunctionRef<bool(const IterateView<T>&)>;
// fg(X, F, G): f and the gradient of every row of X (B x n) into F (B) and G (B x n).
template <class T>
using BatchObjectiveRef = FunctionRef<void(const T* x, T* f, T* g)>;

// How a run ended (x and the gradient at x are written into the caller's buffers).
template <class T>
struct Summary {
  Status status = Status::kRunning;
  T fun = T(0);
  Counters counters{};
  int pairs = 0;  // L-BFGS pairs written to Settings::history
  bool success() const { return converged(status); }
};

// Minimises fg from x (n elements, overwritten by the result; the gradient there goes into
// grad). hess is required by kNewton and used by kBfgs when settings.bfgs_hessian_start;
// callback may be empty. Exceptions thrown by fg, hess or callback propagate unchanged.
template <class T>
Summary<T> minimize(ObjectiveRef<T> fg, HessianRef<T> hess, CallbackRef<T> callback, T* x,
                    T* grad, index_t n, const Settings<T>& settings,
                    Interrupt* interrupt = nullptr);

// The same for a native problem: the objective and its Hessian run in C++.
template <class T>
Summary<T> minimize_problem(const problems::ProblemSpec& problem, T* x, T* grad, index_t n,
                            const Settings<T>& settings, CallbackRef<T> callback = {},
                            Interrupt* interrupt = nullptr);

// Per-problem results of a batch: arrays of B entries (g: B x n), owned by the caller.
template <class T>
struct BatchOutput {
  T* f;
  T* g;
  std::int64_t *nit, *nfev, *nhev;
  std::int32_t* status;
};

// B independent runs of a native problem from the rows of x (B x n, overwritten by the
// results), on `threads` threads (0: optkern::num_threads()).
template <class T>
void minimize_problem_batch(const problems::ProblemSpec& problem, T* x, index_t batch,
                            index_t n, const Settings<T>& settings, const BatchOutput<T>& out,
                            int threads = 0, Interrupt* interrupt = nullptr);

// B problems in lock step for a batched objective: each problem keeps its own history, line
// search and stopping state, and fg evaluates all B rows at once (rows of finished problems
// hold their final x). kLbfgs, kBfgs (identity start) and kGradientDescent. The machines
// advance on `threads` threads between calls of fg; fg itself is called from the calling
// thread.
template <class T>
void minimize_batch(BatchObjectiveRef<T> fg, T* x, index_t batch, index_t n,
                    const Settings<T>& settings, const BatchOutput<T>& out, int threads = 0,
                    Interrupt* interrupt = nullptr);

// Values and gradients of a native problem at the rows of x (rows x n) into f and g, threaded
// over the rows; its dense Hessian (n x n, row-major) at one x; its standard start.
template <class T>
void problem_value_grad(const problems::ProblemSpec& problem, index_t rows, index_t n,
                        const T* x, T* f, T* g);
template <class T>
void problem_hessian(const problems::ProblemSpec& problem, index_t n, const T* x, T* h);
template <class T>
void problem_start(const problems::ProblemSpec& problem, index_t n, T* x);

// The modified Newton direction of modified_newton.hpp for a dense h (n x n), or for a
// tridiagonal one (h = diagonal then off-diagonal): p, and how it was computed.
struct NewtonStepInfo {
  const char* path;  // "cholesky", "tridiagonal" or "eigen"
  index_t floored;   // eigenvalues raised to the floor
};
NewtonStepInfo modified_newton_direction(const double* h, const double* g, double* p, index_t n,
                                         double floor, bool tridiagonal);

}  // namespace optkern::optimize
