// Plain types shared by every optimiser: status codes, options, vector layouts and the few
// vector operations the algorithms need. No Eigen and no allocation here, so that the same
// algorithm code compiles for the CPU and, one problem per thread, for a CUDA device.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>

#include "optkern/detail/hd.hpp"  // OPTKERN_HD

// Vectorised reductions on the CPU (GCC and Clang honour `omp simd` with -fopenmp);
// nothing on the device, where one thread walks its own problem.
#define OPTKERN_PRAGMA(text) _Pragma(#text)
#if defined(_OPENMP) && !defined(__CUDA_ARCH__)
#define OPTKERN_SIMD_SUM(var) OPTKERN_PRAGMA(omp simd reduction(+ : var))
#define OPTKERN_SIMD_SUM2(a, b) OPTKERN_PRAGMA(omp simd reduction(+ : a, b))
#define OPTKERN_SIMD_MAX(m) OPTKERN_PRAGMA(omp simd reduction(max : m))
#define OPTKERN_SIMD OPTKERN_PRAGMA(omp simd)
#define OPTKERN_SIMD_REDUCE(clauses) OPTKERN_PRAGMA(omp simd clauses)
#else
#define OPTKERN_SIMD_SUM(var)
#define OPTKERN_SIMD_SUM2(a, b)
#define OPTKERN_SIMD_MAX(m)
#define OPTKERN_SIMD
#define OPTKERN_SIMD_REDUCE(clauses)
#endif

// The templates of this area are compiled into optkern::core for the build machine's CPU
// (-march=native) and, being header-only, also into code built for any CPU. Each
// instruction-set level gets its own inline namespace, so that the linker never merges an
// instantiation built for one with the same one built for another.
#if defined(__AVX512F__)
#define OPTKERN_OPTIMIZE_ISA isa_avx512
#elif defined(__AVX2__)
#define OPTKERN_OPTIMIZE_ISA isa_avx2
#elif defined(__AVX__)
#define OPTKERN_OPTIMIZE_ISA isa_avx
#else
#define OPTKERN_OPTIMIZE_ISA isa_base
#endif
#define OPTKERN_OPTIMIZE_ISA_BEGIN inline namespace OPTKERN_OPTIMIZE_ISA {
#define OPTKERN_OPTIMIZE_ISA_END }

namespace optkern::optimize {

using index_t = std::ptrdiff_t;

// Why a run stopped. The numbers are what Python's result.status reports; 0 and 1 are
// SciPy L-BFGS-B's "converged" and "limit reached", 99 is SciPy's "callback stopped".
enum class Status : int {
  kGradientConverged = 0,    // ||g||_inf <= gtol
  kMaxIterations = 1,        // max_iter iterations done
  kMaxEvaluations = 2,       // the next evaluation would exceed max_fev
  kFunctionConverged = 3,    // (f_old - f) <= ftol * max(|f_old|, |f|, 1)
  kLineSearchFailed = 4,     // no acceptable step along the direction, even after a restart
  kNonFiniteStart = 5,       // f or g is NaN or Inf at x0
  kRunning = 98,             // (internal: not finished)
  kCallbackStop = 99,        // the callback asked to stop
};

OPTKERN_HD inline bool converged(Status s) {
  return s == Status::kGradientConverged || s == Status::kFunctionConverged;
}

inline const char* status_message(Status s) {
  switch (s) {
    case Status::kGradientConverged:
      return "converged: the largest gradient component is at most gtol";
    case Status::kMaxIterations:
      return "stopped: max_iter iterations reached";
    case Status::kMaxEvaluations:
      return "stopped: max_fev objective evaluations reached";
    case Status::kFunctionConverged:
      return "converged: the relative reduction of f is at most ftol";
    case Status::kLineSearchFailed:
      return "stopped: the line search found no acceptable step, even along the steepest "
             "descent direction (rounding errors near a minimum, an objective that is not "
             "smooth, a wrong gradient, or f unbounded below); x is the best iterate";
    case Status::kNonFiniteStart:
      return "stopped: f or its gradient is NaN or Inf at x0";
    case Status::kRunning:
      return "running";
    case Status::kCallbackStop:
      return "stopped: the callback asked to stop";
  }
  return "unknown status";
}

// Stopping rules shared by every method.
template <class T>
struct StopOptions {
  T gtol = T(1e-5);                    // stop when ||g||_inf <= gtol
  T ftol = T(2.220446049250313e-09);   // stop when the relative decrease of f is <= ftol
  long max_iter = 15000;               // iterations (accepted steps)
  long max_fev = 15000;                // objective (f and g) evaluations
};

// Strong Wolfe line search (More-Thuente): sufficient decrease c1, curvature c2.
template <class T>
struct WolfeOptions {
  T c1 = T(1e-4);
  T c2 = T(0.9);
  int max_ls = 20;  // evaluations per line search
};

template <class T>
struct LbfgsOptions : StopOptions<T>, WolfeOptions<T> {
  int m = 10;  // history: the m most recent (s, y) pairs
};

// Backtracking (Armijo) line search: sufficient decrease c1, step shrunk by tau from alpha0.
template <class T>
struct BacktrackingOptions {
  T c1 = T(1e-4);     // Armijo constant (thesis Algorithm 1)
  T tau = T(0.5);     // backtracking factor
  T alpha0 = T(1);    // first trial step of every iteration (the thesis' Figure 2 uses 0.1)
};

template <class T>
struct GradientDescentOptions : StopOptions<T>, BacktrackingOptions<T> {};

template <class T>
struct NewtonOptions : StopOptions<T>, BacktrackingOptions<T> {
  T eig_floor = T(1e-6);  // Hessian eigenvalues below this are raised to it
};

template <class T>
struct BfgsOptions : StopOptions<T>, WolfeOptions<T> {
  // With a Hessian, the first inverse approximation is the inverse of the Hessian at x0 with
  // its eigenvalues floored here (thesis: 1e-3); without one, a scaled identity.
  T eig_floor = T(1e-3);
};

// Counters every method keeps.
struct Counters {
  long nit = 0;   // iterations (accepted steps)
  long nfev = 0;  // objective evaluations (each gives f and g)
  long nhev = 0;  // Hessian evaluations (Newton, and BFGS's initial matrix)
};

// What a method asks its driver to do next (reverse communication: the algorithm never calls
// the objective itself, so one code serves a C++ callable, Python, batches and the GPU).
enum class Request : int {
  kEvaluate,  // evaluate f and g at the trial point xt, write g into gt, then call tell(f)
  kHessian,   // evaluate the Hessian at x (Newton), then call tell_hessian()
  kIterate,   // a step was accepted: x, f, g are the new iterate; call proceed()
  kDone,      // finished: see status()
};

// Where the elements of one vector live. Element i of a vector starting at p is
// p[i * stride()]. On the CPU vectors are contiguous; on the GPU the problems of a batch are
// interleaved (element i of problem b at base[i * B + b]) so that neighbouring threads read
// neighbouring addresses.
struct Contiguous {
  OPTKERN_HD static constexpr index_t stride() { return 1; }
};

struct Interleaved {
  index_t step = 1;
  OPTKERN_HD index_t stride() const { return step; }
};

// The current iterate, handed to a callback after every accepted step.
template <class T>
struct IterateView {
  const T* x;
  const T* g;
  index_t n;
  T f;
  long nit, nfev, nhev;
};

// A callable reference that owns nothing (the referenced callable must outlive it).
template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  FunctionRef() = default;

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  explicit operator bool() const { return call_ != nullptr; }
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_ = nullptr;
  R (*call_)(void*, Args...) = nullptr;
};

OPTKERN_OPTIMIZE_ISA_BEGIN

template <class T>
OPTKERN_HD inline T abs_value(T v) {
  return v < T(0) ? -v : v;
}

template <class T>
OPTKERN_HD inline T max_value(T a, T b) {
  return a < b ? b : a;
}

template <class T>
OPTKERN_HD inline T min_value(T a, T b) {
  return b < a ? b : a;
}

// True for finite v (no NaN, no Inf), without <cmath>, so it behaves the same on the device.
template <class T>
OPTKERN_HD inline bool is_finite(T v) {
  return v - v == T(0);
}

OPTKERN_HD inline double square_root(double v) {
#if defined(__CUDA_ARCH__)
  return ::sqrt(v);
#else
  return __builtin_sqrt(v);
#endif
}

OPTKERN_HD inline float square_root(float v) {
#if defined(__CUDA_ARCH__)
  return ::sqrtf(v);
#else
  return __builtin_sqrtf(v);
#endif
}

// Vector operations over n elements in layout L.
//
// Reductions keep kLanes independent partial sums: one vector accumulator would make every
// addition wait for the previous one (4 cycles), while 16 chains fill the pipeline, with no
// reassociation by the compiler (the summation order is fixed, so results are
// reproducible). On the device one thread walks its own problem and a plain loop is best.
inline constexpr int kLanes = 16;

// sum_i term(i * stride); `term` may also write (fused updates).
template <class T, class L, class Term>
OPTKERN_HD T sum_terms(index_t n, L layout, Term term) {  // by value: a local copy keeps
  // the captured scalars in registers (through a reference the stores might alias them)
  const index_t s = layout.stride();
#if defined(__CUDA_ARCH__)
  T sum = T(0);
  for (index_t i = 0; i < n; ++i) sum += term(i * s);
  return sum;
#else
  if (n < 2 * kLanes) {  // short vectors: the partial sums would cost more than they save
    T sum = T(0);
    for (index_t i = 0; i < n; ++i) sum += term(i * s);
    return sum;
  }
  T part[kLanes];
  OPTKERN_SIMD
  for (int k = 0; k < kLanes; ++k) part[k] = term(k * s);
  index_t i = kLanes;
  for (; i + kLanes <= n; i += kLanes) {
    OPTKERN_SIMD
    for (int k = 0; k < kLanes; ++k) part[k] += term((i + k) * s);
  }
  T tail = T(0);
  for (; i < n; ++i) tail += term(i * s);
  for (int width = kLanes / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) part[k] += part[k + width];
  }
  return part[0] + tail;
#endif
}

template <class T, class L>
OPTKERN_HD T dot(index_t n, const T* a, const T* b, L layout) {
  return sum_terms<T>(n, layout, [=](index_t at) { return a[at] * b[at]; });
}

// y += a x, and returns z'y for the updated y (one pass instead of two).
template <class T, class L>
OPTKERN_HD T axpy_dot(index_t n, T a, const T* x, T* y, const T* z, L layout) {
  return sum_terms<T>(n, layout, [=](index_t at) {
    const T v = y[at] + a * x[at];
    y[at] = v;
    return z[at] * v;
  });
}

// The largest magnitude and the sum of squares of a vector in one pass (max_abs is +Inf
// when an element is NaN or Inf).
template <class T>
struct VectorNorms {
  T max_abs, sum_sq;
};

template <class T, class L>
OPTKERN_HD VectorNorms<T> norms(index_t n, const T* a, L layout) {
  const index_t s = layout.stride();
  T worst = T(0);
  OPTKERN_SIMD_MAX(worst)
  for (index_t i = 0; i < n; ++i) worst = max_value(worst, abs_value(a[i * s]));
  const T sum_sq = sum_terms<T>(n, layout, [=](index_t at) { return a[at] * a[at]; });
  // max() skips NaN; a finite sum of squares rules NaN and Inf out, and when it is not
  // finite (a NaN or Inf element, or squares that overflow) each element is looked at.
  bool finite = is_finite(sum_sq);
  if (!finite) {
    finite = true;
    for (index_t i = 0; i < n; ++i) finite = finite && is_finite(a[i * s]);
  }
  return VectorNorms<T>{finite ? worst : std::numeric_limits<T>::infinity(), sum_sq};
}

// max_i |a_i|, or +Inf if some a_i is NaN or Inf.
template <class T, class L>
OPTKERN_HD T norm_inf(index_t n, const T* a, L layout) {
  return norms(n, a, layout).max_abs;
}

// y = a * x + y
template <class T, class L>
OPTKERN_HD void axpy(index_t n, T a, const T* x, T* y, L layout) {
  const index_t s = layout.stride();
  OPTKERN_SIMD
  for (index_t i = 0; i < n; ++i) y[i * s] += a * x[i * s];
}

// z = x + a * y
template <class T, class L>
OPTKERN_HD void add_scaled(index_t n, const T* x, T a, const T* y, T* z, L layout) {
  const index_t s = layout.stride();
  OPTKERN_SIMD
  for (index_t i = 0; i < n; ++i) z[i * s] = x[i * s] + a * y[i * s];
}

// y = a * x
template <class T, class L>
OPTKERN_HD void scale_copy(index_t n, T a, const T* x, T* y, L layout) {
  const index_t s = layout.stride();
  OPTKERN_SIMD
  for (index_t i = 0; i < n; ++i) y[i * s] = a * x[i * s];
}

template <class T, class L>
OPTKERN_HD void copy(index_t n, const T* x, T* y, L layout) {
  const index_t s = layout.stride();
  for (index_t i = 0; i < n; ++i) y[i * s] = x[i * s];
}

// The relative-decrease test of SciPy's L-BFGS-B: (f_old - f) <= ftol * max(|f_old|, |f|, 1).
template <class T>
OPTKERN_HD bool small_decrease(T f_old, T f, T ftol) {
  const T scale = max_value(max_value(abs_value(f_old), abs_value(f)), T(1));
  return f_old - f <= ftol * scale;
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
