// Test problems with value, gradient and Hessian, evaluated without Python: the chained and
// averaged Rosenbrock functions (thesis eq. 15), an ill-conditioned quadratic, and problems
// from J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
// software", ACM TOMS 7(1), 1981 (MGH numbers below). Indices are 0-based here.
//
// value_grad(n, x, g, layout) runs on the CPU and, one problem per thread, on a CUDA device
// (layout as in types.hpp); the Hessians are host-only, dense n x n row-major, and also
// tridiagonal (diagonal n, off-diagonal n - 1) where kTridiagonal says so.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include "optkern/optimize/types.hpp"

namespace optkern::optimize::problems {
OPTKERN_OPTIMIZE_ISA_BEGIN

OPTKERN_HD inline double cosine(double v) {
#if defined(__CUDA_ARCH__)
  return ::cos(v);
#else
  return std::cos(v);
#endif
}
OPTKERN_HD inline float cosine(float v) {
#if defined(__CUDA_ARCH__)
  return ::cosf(v);
#else
  return std::cos(v);
#endif
}
OPTKERN_HD inline double sine(double v) {
#if defined(__CUDA_ARCH__)
  return ::sin(v);
#else
  return std::sin(v);
#endif
}
OPTKERN_HD inline float sine(float v) {
#if defined(__CUDA_ARCH__)
  return ::sinf(v);
#else
  return std::sin(v);
#endif
}

// Dense Hessian helpers (host).
template <class T>
void fill_zero(index_t n, T* h) {
  for (index_t i = 0; i < n * n; ++i) h[i] = T(0);
}

template <class T>
void dense_from_tridiagonal(index_t n, const T* d, const T* e, T* h) {
  fill_zero(n, h);
  for (index_t i = 0; i < n; ++i) h[i * n + i] = d[i];
  for (index_t i = 0; i + 1 < n; ++i) h[i * n + i + 1] = h[(i + 1) * n + i] = e[i];
}

// h += w * (row' row) for a residual row with nonzeros vals[k] at columns cols[k] (k < 3,
// cols < 0 skipped): the Gauss-Newton part of a sum of squares.
template <class T>
void add_row_outer(index_t n, T* h, const index_t (&cols)[3], const T (&vals)[3], T w) {
  for (int a = 0; a < 3; ++a) {
    if (cols[a] < 0 || cols[a] >= n) continue;
    for (int b = 0; b < 3; ++b) {
      if (cols[b] < 0 || cols[b] >= n) continue;
      h[cols[a] * n + cols[b]] += w * vals[a] * vals[b];
    }
  }
}

// Chained Rosenbrock, sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, times `scale`: 1 gives
// scipy.optimize.rosen, 1/(n-1) the thesis' averaged Rosenbrock (eq. 15). Minimum 0 at ones.
template <class T>
struct Rosenbrock {
  T scale = T(1);
  static constexpr bool kTridiagonal = true;

  // g_i = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) + 200 (x_i - x_{i-1}^2), the first and
  // last terms only where they exist.
  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    if (n < 2) {
      if (n == 1) g[0] = T(0);
      return T(0);
    }
    T f = T(0);
    OPTKERN_SIMD_SUM(f)
    for (index_t i = 1; i < n - 1; ++i) {
      const T xp = x[(i - 1) * s], xi = x[i * s], xn = x[(i + 1) * s];
      const T t = xn - xi * xi, u = T(1) - xi;
      f += T(100) * t * t + u * u;
      g[i * s] = scale * (T(-400) * xi * t - T(2) * u + T(200) * (xi - xp * xp));
    }
    const T x0 = x[0], x1 = x[s], t0 = x1 - x0 * x0, u0 = T(1) - x0;
    f += T(100) * t0 * t0 + u0 * u0;
    g[0] = scale * (T(-400) * x0 * t0 - T(2) * u0);
    const T xl = x[(n - 1) * s], xb = x[(n - 2) * s];
    g[(n - 1) * s] = scale * T(200) * (xl - xb * xb);
    return scale * f;
  }

  void hessian_tridiagonal(index_t n, const T* x, T* d, T* e) const {
    for (index_t i = 0; i < n; ++i) {
      T di = i > 0 ? T(200) : T(0);
      if (i + 1 < n) {
        di += T(1200) * x[i] * x[i] - T(400) * x[i + 1] + T(2);
        e[i] = scale * T(-400) * x[i];
      }
      d[i] = scale * di;
    }
  }
};

// MGH 21, extended Rosenbrock: independent pairs 100 (x_{2j+1} - x_{2j}^2)^2 + (1 - x_{2j})^2;
// n even. Minimum 0 at ones.
template <class T>
struct ExtendedRosenbrock {
  static constexpr bool kTridiagonal = true;

  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    T f = T(0);
    OPTKERN_SIMD_SUM(f)
    for (index_t j = 0; j < n / 2; ++j) {
      const T x0 = x[2 * j * s], x1 = x[(2 * j + 1) * s];
      const T t = x1 - x0 * x0, u = T(1) - x0;
      f += T(100) * t * t + u * u;
      g[2 * j * s] = T(-400) * x0 * t - T(2) * u;
      g[(2 * j + 1) * s] = T(200) * t;
    }
    return f;
  }

  void hessian_tridiagonal(index_t n, const T* x, T* d, T* e) const {
    for (index_t j = 0; j < n / 2; ++j) {
      const T x0 = x[2 * j], x1 = x[2 * j + 1];
      d[2 * j] = T(1200) * x0 * x0 - T(400) * x1 + T(2);
      d[2 * j + 1] = T(200);
      e[2 * j] = T(-400) * x0;
      if (2 * j + 1 < n - 1) e[2 * j + 1] = T(0);
    }
  }
};

// MGH 22, extended Powell singular: blocks of four,
// (x1 + 10 x2)^2 + 5 (x3 - x4)^2 + (x2 - 2 x3)^4 + 10 (x1 - x4)^4; n a multiple of 4.
// Minimum 0 at zero, where the Hessian is singular.
template <class T>
struct ExtendedPowell {
  static constexpr bool kTridiagonal = false;

  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    T f = T(0);
    for (index_t j = 0; j < n / 4; ++j) {
      const index_t i = 4 * j;
      const T x1 = x[i * s], x2 = x[(i + 1) * s], x3 = x[(i + 2) * s], x4 = x[(i + 3) * s];
      const T a = x1 + T(10) * x2, b = x3 - x4, c = x2 - T(2) * x3, e = x1 - x4;
      const T c2 = c * c, e2 = e * e;
      f += a * a + T(5) * b * b + c2 * c2 + T(10) * e2 * e2;
      g[i * s] = T(2) * a + T(40) * e2 * e;
      g[(i + 1) * s] = T(20) * a + T(4) * c2 * c;
      g[(i + 2) * s] = T(10) * b - T(8) * c2 * c;
      g[(i + 3) * s] = T(-10) * b - T(40) * e2 * e;
    }
    return f;
  }

  void hessian(index_t n, const T* x, T* h) const {
    fill_zero(n, h);
    for (index_t j = 0; j < n / 4; ++j) {
      const index_t i = 4 * j;
      const T c = x[i + 1] - T(2) * x[i + 2], e = x[i] - x[i + 3];
      const T block[4][4] = {
          {T(2) + T(120) * e * e, T(20), T(0), T(-120) * e * e},
          {T(20), T(200) + T(12) * c * c, T(-24) * c * c, T(0)},
          {T(0), T(-24) * c * c, T(10) + T(48) * c * c, T(-10)},
          {T(-120) * e * e, T(0), T(-10), T(10) + T(120) * e * e}};
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 4; ++q) h[(i + r) * n + i + q] = block[r][q];
    }
  }
};

// An ill-conditioned quadratic: 1/2 sum_i h_i x_i^2 with h_i = cond^(i/(n-1)), so that the
// condition number is cond (1e4 by default). Minimum 0 at zero.
template <class T>
struct Quadratic {
  T cond = T(1e4);
  static constexpr bool kTridiagonal = true;

  // h_i = r^i with r = cond^(1/(n-1)), by chunks of 8 powers so that the loop vectorises
  // (relative error about (n/8) eps).
  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    const double r = n > 1 ? pow_(double(cond), 1.0 / double(n - 1)) : 1.0;
    T powers[8];
    double p = 1.0;
    for (int k = 0; k < 8; ++k, p *= r) powers[k] = T(p);
    const double r8 = p;
    T f = T(0);
    double base = 1.0;
    for (index_t start = 0; start < n; start += 8, base *= r8) {
      const index_t stop = n - start < 8 ? n - start : 8;
      const T b = T(base);
      OPTKERN_SIMD_SUM(f)
      for (index_t k = 0; k < stop; ++k) {
        const index_t i = (start + k) * s;
        const T hx = b * powers[k] * x[i];
        g[i] = hx;
        f += hx * x[i];
      }
    }
    return T(0.5) * f;
  }

  void hessian_tridiagonal(index_t n, const T*, T* d, T* e) const {
    for (index_t i = 0; i < n; ++i) {
      d[i] = T(n > 1 ? pow_(double(cond), double(i) / double(n - 1)) : 1.0);
    }
    for (index_t i = 0; i + 1 < n; ++i) e[i] = T(0);
  }

 private:
  OPTKERN_HD static double pow_(double a, double b) {
#if defined(__CUDA_ARCH__)
    return ::pow(a, b);
#else
    return std::pow(a, b);
#endif
  }
};

// MGH 26, trigonometric: residuals r_i = n - sum_j cos x_j + (i+1)(1 - cos x_i) - sin x_i.
// f = sum r_i^2, minimum 0. O(n) gradient: g_j = 2 sin x_j R + 2 r_j ((j+1) sin x_j - cos x_j)
// with R = sum_i r_i.
template <class T>
struct Trigonometric {
  static constexpr bool kTridiagonal = false;

  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    T cos_sum = T(0);
    for (index_t j = 0; j < n; ++j) cos_sum += cosine(x[j * s]);
    T f = T(0), r_sum = T(0);
    for (index_t i = 0; i < n; ++i) {  // g holds r for a moment
      const T c = cosine(x[i * s]), sn = sine(x[i * s]);
      const T r = T(n) - cos_sum + T(i + 1) * (T(1) - c) - sn;
      g[i * s] = r;
      f += r * r;
      r_sum += r;
    }
    for (index_t j = 0; j < n; ++j) {
      const T c = cosine(x[j * s]), sn = sine(x[j * s]);
      g[j * s] = T(2) * sn * r_sum + T(2) * g[j * s] * (T(j + 1) * sn - c);
    }
    return f;
  }

  // H = 2 [n s s' + c s' + s c' + diag(c^2) + diag(R cos x + r ((j+1) cos x + sin x))] with
  // s = sin x, c_j = (j+1) sin x_j - cos x_j: J = 1 s' + diag(c) (rows i, columns j).
  void hessian(index_t n, const T* x, T* h) const {
    T cos_sum = T(0);
    for (index_t j = 0; j < n; ++j) cos_sum += std::cos(x[j]);
    T r_sum = T(0);
    for (index_t i = 0; i < n; ++i) {
      r_sum += T(n) - cos_sum + T(i + 1) * (T(1) - std::cos(x[i])) - std::sin(x[i]);
    }
    for (index_t j = 0; j < n; ++j) {
      const T sj = std::sin(x[j]), cj = T(j + 1) * sj - std::cos(x[j]);
      for (index_t k = 0; k < n; ++k) {
        const T sk = std::sin(x[k]), ck = T(k + 1) * sk - std::cos(x[k]);
        h[j * n + k] = T(2) * (T(n) * sj * sk + cj * sk + ck * sj);
      }
      const T rj = T(n) - cos_sum + T(j + 1) * (T(1) - std::cos(x[j])) - sj;
      h[j * n + j] += T(2) * (cj * cj + r_sum * std::cos(x[j]) +
                              rj * (T(j + 1) * std::cos(x[j]) + sj));
    }
  }
};

// MGH 30, Broyden tridiagonal: r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1 (x_{-1} =
// x_n = 0), f = sum r_i^2, minimum 0.
template <class T>
struct BroydenTridiagonal {
  static constexpr bool kTridiagonal = false;

  template <class L>
  OPTKERN_HD static T residual(index_t n, const T* x, index_t i, L layout) {
    const index_t s = layout.stride();
    if (i < 0 || i >= n) return T(0);
    const T xi = x[i * s];
    const T left = i > 0 ? x[(i - 1) * s] : T(0), right = i + 1 < n ? x[(i + 1) * s] : T(0);
    return (T(3) - T(2) * xi) * xi - left - T(2) * right + T(1);
  }

  // g_j = 2 [r_j (3 - 4 x_j) - 2 r_{j-1} - r_{j+1}]
  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    T f = T(0);
    T r_prev = T(0), r = residual(n, x, 0, layout);
    for (index_t j = 0; j < n; ++j) {
      const T r_next = residual(n, x, j + 1, layout);
      f += r * r;
      g[j * s] = T(2) * (r * (T(3) - T(4) * x[j * s]) - T(2) * r_prev - r_next);
      r_prev = r;
      r = r_next;
    }
    return f;
  }

  // H = 2 J'J - 8 diag(r)
  void hessian(index_t n, const T* x, T* h) const {
    fill_zero(n, h);
    for (index_t i = 0; i < n; ++i) {
      const index_t cols[3] = {i - 1, i, i + 1};
      const T vals[3] = {T(-1), T(3) - T(4) * x[i], T(-2)};
      add_row_outer(n, h, cols, vals, T(2));
      h[i * n + i] -= T(8) * residual(n, x, i, Contiguous{});
    }
  }
};

// MGH 28, discrete boundary value: h = 1/(n+1), t_i = (i+1) h,
// r_i = 2 x_i - x_{i-1} - x_{i+1} + h^2 (x_i + t_i + 1)^3 / 2 (x_{-1} = x_n = 0), f = sum r_i^2,
// minimum 0. Ill-conditioned for large n (its Hessian is close to a squared Laplacian).
template <class T>
struct DiscreteBoundaryValue {
  static constexpr bool kTridiagonal = false;

  template <class L>
  OPTKERN_HD static T residual(index_t n, const T* x, index_t i, L layout) {
    const index_t s = layout.stride();
    if (i < 0 || i >= n) return T(0);
    const T h = T(1) / T(n + 1), xi = x[i * s], u = xi + T(i + 1) * h + T(1);
    const T left = i > 0 ? x[(i - 1) * s] : T(0), right = i + 1 < n ? x[(i + 1) * s] : T(0);
    return T(2) * xi - left - right + h * h * u * u * u / T(2);
  }

  // g_j = 2 [r_j (2 + 3/2 h^2 u_j^2) - r_{j-1} - r_{j+1}]
  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t s = layout.stride();
    const T h = T(1) / T(n + 1);
    T f = T(0);
    T r_prev = T(0), r = residual(n, x, 0, layout);
    for (index_t j = 0; j < n; ++j) {
      const T r_next = residual(n, x, j + 1, layout);
      const T u = x[j * s] + T(j + 1) * h + T(1);
      f += r * r;
      g[j * s] = T(2) * (r * (T(2) + T(1.5) * h * h * u * u) - r_prev - r_next);
      r_prev = r;
      r = r_next;
    }
    return f;
  }

  // H = 2 J'J + 2 diag(r_i 3 h^2 u_i)
  void hessian(index_t n, const T* x, T* hess) const {
    fill_zero(n, hess);
    const T h = T(1) / T(n + 1);
    for (index_t i = 0; i < n; ++i) {
      const T u = x[i] + T(i + 1) * h + T(1);
      const index_t cols[3] = {i - 1, i, i + 1};
      const T vals[3] = {T(-1), T(2) + T(1.5) * h * h * u * u, T(-1)};
      add_row_outer(n, hess, cols, vals, T(2));
      hess[i * n + i] += T(2) * residual(n, x, i, Contiguous{}) * T(3) * h * h * u;
    }
  }
};

// MGH 25, variably dimensioned: with s = sum_j (j+1)(x_j - 1),
// f = sum_j (x_j - 1)^2 + s^2 + s^4, minimum 0 at ones.
template <class T>
struct VariablyDimensioned {
  static constexpr bool kTridiagonal = false;

  template <class L>
  OPTKERN_HD T value_grad(index_t n, const T* x, T* g, L layout) const {
    const index_t st = layout.stride();
    T s = T(0), sq = T(0);
    OPTKERN_SIMD_SUM2(s, sq)
    for (index_t j = 0; j < n; ++j) {
      const T d = x[j * st] - T(1);
      s += T(j + 1) * d;
      sq += d * d;
    }
    const T w = T(2) * s + T(4) * s * s * s;
    OPTKERN_SIMD
    for (index_t j = 0; j < n; ++j) g[j * st] = T(2) * (x[j * st] - T(1)) + T(j + 1) * w;
    return sq + s * s + s * s * s * s;
  }

  // H = 2 I + (2 + 12 s^2) w w', w_j = j + 1
  void hessian(index_t n, const T* x, T* h) const {
    T s = T(0);
    for (index_t j = 0; j < n; ++j) s += T(j + 1) * (x[j] - T(1));
    const T c = T(2) + T(12) * s * s;
    for (index_t j = 0; j < n; ++j)
      for (index_t k = 0; k < n; ++k) h[j * n + k] = c * T(j + 1) * T(k + 1) + (j == k ? T(2) : T(0));
  }
};

// The dense Hessian of a problem with a tridiagonal one.
template <class T, class P>
void dense_hessian(const P& problem, index_t n, const T* x, T* h, T* work) {
  if constexpr (P::kTridiagonal) {
    problem.hessian_tridiagonal(n, x, work, work + n);
    dense_from_tridiagonal(n, work, work + n, h);
  } else {
    (void)work;
    problem.hessian(n, x, h);
  }
}

OPTKERN_OPTIMIZE_ISA_END

// --- The problems by name, at run time -------------------------------------------------

enum class ProblemKind : int {
  kRosenbrock = 0,
  kRosenbrockAveraged = 1,
  kExtendedRosenbrock = 2,
  kExtendedPowell = 3,
  kQuadratic = 4,
  kTrigonometric = 5,
  kBroydenTridiagonal = 6,
  kDiscreteBoundaryValue = 7,
  kVariablyDimensioned = 8,
};
inline constexpr int kProblemKinds = 9;

// A problem of the set: its kind and, for kQuadratic, the condition number.
struct ProblemSpec {
  ProblemKind kind = ProblemKind::kRosenbrock;
  double parameter = 1e4;
};

OPTKERN_OPTIMIZE_ISA_BEGIN
// Calls f(problem) with the problem object for `spec` in n variables; every f(...) must
// return the same type. (The pragma lets host code pass host-only callables.)
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class T, class F>
OPTKERN_HD auto with_problem(const ProblemSpec& spec, index_t n, F&& f) {
  switch (spec.kind) {
    case ProblemKind::kRosenbrockAveraged:
      return f(Rosenbrock<T>{T(1) / T(n > 1 ? n - 1 : 1)});
    case ProblemKind::kExtendedRosenbrock:
      return f(ExtendedRosenbrock<T>{});
    case ProblemKind::kExtendedPowell:
      return f(ExtendedPowell<T>{});
    case ProblemKind::kQuadratic:
      return f(Quadratic<T>{T(spec.parameter)});
    case ProblemKind::kTrigonometric:
      return f(Trigonometric<T>{});
    case ProblemKind::kBroydenTridiagonal:
      return f(BroydenTridiagonal<T>{});
    case ProblemKind::kDiscreteBoundaryValue:
      return f(DiscreteBoundaryValue<T>{});
    case ProblemKind::kVariablyDimensioned:
      return f(VariablyDimensioned<T>{});
    case ProblemKind::kRosenbrock:
    default:
      return f(Rosenbrock<T>{T(1)});
  }
}

OPTKERN_OPTIMIZE_ISA_END

inline const char* problem_name(ProblemKind kind) {
  static const char* const names[kProblemKinds] = {
      "rosenbrock", "rosenbrock_averaged", "extended_rosenbrock",
      "extended_powell", "quadratic", "trigonometric",
      "broyden_tridiagonal", "discrete_boundary_value", "variably_dimensioned"};
  const int k = int(kind);
  return k >= 0 && k < kProblemKinds ? names[k] : "unknown";
}

// Throws std::invalid_argument("<name>: ...") unless `spec` in n variables is well defined.
inline void check_problem(const ProblemSpec& spec, index_t n, const char* name = "x0") {
  const int k = int(spec.kind);
  if (k < 0 || k >= kProblemKinds) {
    throw std::invalid_argument("problem: unknown problem kind " + std::to_string(k));
  }
  const std::string what = std::string(name) + ": " + problem_name(spec.kind) + " needs ";
  switch (spec.kind) {
    case ProblemKind::kRosenbrock:
    case ProblemKind::kRosenbrockAveraged:
      if (n < 2) throw std::invalid_argument(what + "at least 2 variables, got " + std::to_string(n));
      break;
    case ProblemKind::kExtendedRosenbrock:
      if (n < 2 || n % 2 != 0) {
        throw std::invalid_argument(what + "an even number of variables, got " + std::to_string(n));
      }
      break;
    case ProblemKind::kExtendedPowell:
      if (n < 4 || n % 4 != 0) {
        throw std::invalid_argument(what + "a multiple of 4 variables, got " + std::to_string(n));
      }
      break;
    case ProblemKind::kQuadratic:
      if (!(spec.parameter >= 1.0) || !std::isfinite(spec.parameter)) {
        throw std::invalid_argument("cond: must be a finite number >= 1");
      }
      [[fallthrough]];
    default:
      if (n < 1) throw std::invalid_argument(what + "at least 1 variable, got " + std::to_string(n));
  }
}

// The standard starting point of each problem (MGH's x0; (-1.2, 1, -1.2, 1, ...) for the
// Rosenbrock functions; ones for the quadratic).
template <class T>
void standard_start(const ProblemSpec& spec, index_t n, T* x) {
  for (index_t i = 0; i < n; ++i) {
    double v = 0;
    switch (spec.kind) {
      case ProblemKind::kRosenbrock:
      case ProblemKind::kRosenbrockAveraged:
      case ProblemKind::kExtendedRosenbrock:
        v = i % 2 == 0 ? -1.2 : 1.0;
        break;
      case ProblemKind::kExtendedPowell: {
        const double block[4] = {3.0, -1.0, 0.0, 1.0};
        v = block[i % 4];
        break;
      }
      case ProblemKind::kQuadratic:
        v = 1.0;
        break;
      case ProblemKind::kTrigonometric:
        v = 1.0 / double(n);
        break;
      case ProblemKind::kBroydenTridiagonal:
        v = -1.0;
        break;
      case ProblemKind::kDiscreteBoundaryValue: {
        const double t = double(i + 1) / double(n + 1);
        v = t * (t - 1.0);
        break;
      }
      case ProblemKind::kVariablyDimensioned:
        v = 1.0 - double(i + 1) / double(n);
        break;
    }
    x[i] = T(v);
  }
}

}  // namespace optkern::optimize::problems
