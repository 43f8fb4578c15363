// The small part of the spectrum of a symmetric tridiagonal matrix, cheaply: eigenvalues
// below a threshold by Sturm-count bisection, their eigenvectors by inverse iteration, and
// solves with T - sigma I by LU with partial pivoting. This is what makes the modified
// Newton step of modified_newton.hpp O(n k^2) for k small eigenvalues instead of the O(n^3)
// of a full eigendecomposition (the averaged Rosenbrock Hessian is tridiagonal; a full
// decomposition at n = 1000 takes 0.4 s per Newton iteration).
//
// References: W. Kahan, "Accurate eigenvalues of a symmetric tri-diagonal matrix" (1966) for
// the Sturm count and its pivot guard; LAPACK's dstebz/dstein for bisection and inverse
// iteration with reorthogonalisation inside clusters; dgttrf/dgttrs for the pivoted LU.
// Everything works in double, whatever the caller's type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN
namespace detail {

// One unreduced block of a symmetric tridiagonal matrix: diag a[0..n), off-diagonal b[0..n-1).
struct TridiagonalBlock {
  const double* a;
  const double* b;
  index_t n;
};

// The number of eigenvalues of t smaller than x (Sylvester's inertia of T - x I from the
// pivots of its LDL' factorisation). A pivot smaller than pivmin in magnitude is replaced by
// -pivmin, which keeps the count monotone in x (Kahan).
inline index_t eigenvalues_below(const TridiagonalBlock& t, double x, double pivmin) {
  index_t count = 0;
  double q = t.a[0] - x;
  for (index_t i = 0;; ++i) {
    if (std::abs(q) < pivmin) q = -pivmin;
    count += q < 0;
    if (i + 1 == t.n) break;
    q = (t.a[i + 1] - x) - t.b[i] * t.b[i] / q;
  }
  return count;
}

// LU with partial pivoting of T - sigma I (LAPACK dgttrf), solving (T - sigma I) z = r.
// Pivots smaller than `tiny` are raised to it: the solve then stays finite when sigma is an
// eigenvalue, which is what inverse iteration wants.
class TridiagonalLU {
 public:
  void factor(const TridiagonalBlock& t, double sigma, double tiny) {
    const index_t n = t.n;
    d_.assign(t.a, t.a + n);
    for (auto& v : d_) v -= sigma;
    dl_.assign(t.b, t.b + (n - 1));
    du_.assign(t.b, t.b + (n - 1));
    du2_.assign(n > 2 ? n - 2 : 0, 0.0);
    swapped_.assign(n > 1 ? n - 1 : 0, 0);
    for (index_t i = 0; i + 1 < n; ++i) {
      if (std::abs(d_[i]) >= std::abs(dl_[i])) {  // no interchange
        const double m = d_[i] != 0 ? dl_[i] / d_[i] : 0.0;
        dl_[i] = m;
        d_[i + 1] -= m * du_[i];
      } else {  // interchange rows i and i + 1
        const double m = d_[i] / dl_[i];
        d_[i] = dl_[i];
        dl_[i] = m;
        const double upper = du_[i];
        du_[i] = d_[i + 1];
        d_[i + 1] = upper - m * d_[i + 1];
        if (i + 2 < n) {
          du2_[i] = du_[i + 1];
          du_[i + 1] = -m * du_[i + 1];
        }
        swapped_[i] = 1;
      }
    }
    for (auto& v : d_) {
      if (std::abs(v) < tiny) v = v < 0 ? -tiny : tiny;
    }
  }

  // r <- (T - sigma I)^{-1} r
  void solve(double* r) const {
    const index_t n = index_t(d_.size());
    for (index_t i = 0; i + 1 < n; ++i) {
      if (swapped_[i]) {
        const double top = r[i];
        r[i] = r[i + 1];
        r[i + 1] = top - dl_[i] * r[i];
      } else {
        r[i + 1] -= dl_[i] * r[i];
      }
    }
    r[n - 1] /= d_[n - 1];
    if (n > 1) r[n - 2] = (r[n - 2] - du_[n - 2] * r[n - 1]) / d_[n - 2];
    for (index_t i = n - 3; i >= 0; --i) {
      r[i] = (r[i] - du_[i] * r[i + 1] - du2_[i] * r[i + 2]) / d_[i];
    }
  }

 private:
  std::vector<double> d_, dl_, du_, du2_;
  std::vector<char> swapped_;
};

// The eigenpairs of an unreduced tridiagonal block with eigenvalue below `threshold`:
// values ascending in `values`, unit vectors in `vectors` (column j at vectors[j * n]).
class SmallEigenpairs {
 public:
  void compute(const TridiagonalBlock& t, double threshold) {
    const index_t n = t.n;
    const double eps = std::numeric_limits<double>::epsilon();
    double norm = 0, low = std::numeric_limits<double>::infinity(), bmax = 0;
    for (index_t i = 0; i < n; ++i) {
      const double off = (i > 0 ? std::abs(t.b[i - 1]) : 0) + (i + 1 < n ? std::abs(t.b[i]) : 0);
      norm = std::max(norm, std::abs(t.a[i]) + off);
      low = std::min(low, t.a[i] - off);  // Gershgorin
      if (i + 1 < n) bmax = std::max(bmax, t.b[i] * t.b[i]);
    }
    const double pivmin = std::numeric_limits<double>::min() * std::max(1.0, bmax);
    const double abstol = 2 * eps * std::max(norm, std::numeric_limits<double>::min());
    const index_t k = eigenvalues_below(t, threshold, pivmin);
    values.assign(std::size_t(k), 0.0);
    vectors.assign(std::size_t(k * n), 0.0);
    if (k == 0) return;

    // Bisection for eigenvalue j: count(lo) <= j < count(hi).
    low -= abstol;
    for (index_t j = 0; j < k; ++j) {
      double lo = j > 0 ? values[std::size_t(j - 1)] - abstol : low, hi = threshold;
      while (hi - lo > abstol + 2 * eps * std::max(std::abs(lo), std::abs(hi))) {
        const double mid = lo + 0.5 * (hi - lo);
        if (eigenvalues_below(t, mid, pivmin) > j) {
          hi = mid;
        } else {
          lo = mid;
        }
      }
      values[std::size_t(j)] = lo + 0.5 * (hi - lo);
    }

    // Inverse iteration; vectors of eigenvalues closer than 1e-3 ||T|| (a cluster, as in
    // dstein) are reorthogonalised against each other; equal shifts are separated slightly.
    const double cluster_gap = 1e-3 * norm;
    const double tiny = eps * std::max(norm, std::numeric_limits<double>::min());
    index_t cluster_start = 0;
    double shift_before = 0;
    for (index_t j = 0; j < k; ++j) {
      double shift = values[std::size_t(j)];
      if (j > 0) {
        if (shift - values[std::size_t(j - 1)] > cluster_gap) cluster_start = j;
        const double separation = 10 * eps * std::max(std::abs(shift), norm);
        if (shift - shift_before < separation) shift = shift_before + separation;
      }
      shift_before = shift;
      lu_.factor(t, shift, tiny);
      double* v = &vectors[std::size_t(j * n)];
      std::uint64_t seed = 0x9E3779B97F4A7C15ull * std::uint64_t(j + 1);
      for (index_t i = 0; i < n; ++i) {  // a fixed pseudo-random start (LCG)
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = double(seed >> 11) * 0x1.0p-53 - 0.5;
      }
      for (int it = 0; it < 3; ++it) {
        lu_.solve(v);
        for (index_t c = cluster_start; c < j; ++c) {  // modified Gram-Schmidt
          const double* u = &vectors[std::size_t(c * n)];
          double proj = 0;
          for (index_t i = 0; i < n; ++i) proj += u[i] * v[i];
          for (index_t i = 0; i < n; ++i) v[i] -= proj * u[i];
        }
        double size = 0;
        for (index_t i = 0; i < n; ++i) size += v[i] * v[i];
        size = std::sqrt(size);
        for (index_t i = 0; i < n; ++i) v[i] /= size;
      }
    }
  }

  std::vector<double> values, vectors;

 private:
  TridiagonalLU lu_;
};

}  // namespace detail
OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
