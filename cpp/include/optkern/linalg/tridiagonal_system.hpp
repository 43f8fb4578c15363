// One tridiagonal system A x = b, solved in O(n): the per-system kernels that the batched CPU
// solver (cpp/src/linalg/tridiagonal.cpp) and the CUDA kernels (cuda/src/linalg/, cuda/src/tv/)
// share.
//
// Row i of A reads lower[i] (column i-1), diag[i] (column i) and upper[i] (column i+1);
// lower[0] and upper[n-1] lie outside the matrix and are never read. Arguments are anything
// with operator[] (pointers, or Strided for interleaved scratch on a GPU); arithmetic is in
// Acc, which may be wider than the storage type.
#pragma once

#include <cmath>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

// Element i at p[i * stride]: scratch laid out so that neighbouring GPU threads, each solving
// its own system, touch neighbouring addresses.
template <class T>
struct Strided {
  T* p;
  index_t stride;
  OPTKERN_HD T& operator[](index_t i) const { return p[i * stride]; }
};

// Thomas' algorithm may multiply a row by l_i * c_{i-1} before subtracting it; when that term is
// no larger than a few times the row's own entries, |L||U| stays within a constant of |A| and
// the elimination is as backward stable as with pivoting (Higham, Accuracy and Stability of
// Numerical Algorithms, 2nd ed., section 9.5). Diagonally dominant rows give |c| <= 1 and SPD
// matrices give l_i c_{i-1} < d_i, so both pass this test; other matrices go to gepp_solve.
inline constexpr double kThomasGrowthLimit = 4.0;

// Thomas' algorithm (LU without pivoting): forward elimination into cprime (the scaled upper
// diagonal) and rprime (the scaled right-hand side), then back substitution. Returns false,
// with x unspecified, when a pivot vanishes, the growth test fails or x is not finite.
template <class Acc, class L, class D, class U, class B, class X, class W>
OPTKERN_HD bool thomas_solve(index_t n, const L& lower, const D& diag, const U& upper, const B& rhs,
                             const X& x, const W& cprime, const W& rprime) {
  if (n <= 0) return true;
  Acc pivot = Acc(diag[0]);
  Acc inv = Acc(1) / pivot;
  // a subnormal pivot makes inv infinite and 0 * inv NaN: those systems go to gepp_solve,
  // which divides
  if (!(pivot != Acc(0)) || !std::isfinite(pivot) || !std::isfinite(inv)) return false;
  Acc c = n > 1 ? Acc(upper[0]) * inv : Acc(0);
  Acc r = Acc(rhs[0]) * inv;
  cprime[0] = c;
  rprime[0] = r;
  for (index_t i = 1; i < n; ++i) {
    const Acc l = Acc(lower[i]), d = Acc(diag[i]);
    const Acc u = i + 1 < n ? Acc(upper[i]) : Acc(0);
    const Acc lc = l * c;
    if (!(std::fabs(lc) <= Acc(kThomasGrowthLimit) * (std::fabs(d) + std::fabs(l) + std::fabs(u))))
      return false;
    pivot = d - lc;
    inv = Acc(1) / pivot;
    if (!(pivot != Acc(0)) || !std::isfinite(inv)) return false;
    c = u * inv;
    r = (Acc(rhs[i]) - l * r) * inv;
    cprime[i] = c;
    rprime[i] = r;
  }
  Acc next = r;
  x[n - 1] = next;
  // Bounded multipliers do not bound the eliminated right-hand sides of a badly scaled
  // matrix (rows of 1e299 next to rows of 1): an overflow there sends the system to
  // gepp_solve, whose pivoting keeps it finite, instead of returning Inf and NaN.
  bool finite = std::isfinite(next);
  for (index_t i = n - 2; i >= 0; --i) {
    next = rprime[i] - cprime[i] * next;
    x[i] = next;
    finite = finite && std::isfinite(next);
  }
  return finite;
}

// Gaussian elimination with partial pivoting for a tridiagonal matrix, as LAPACK's xGTSV:
// at step i rows i and i+1 swap when |a_{i+1,i}| > |a_{i,i}|, which fills in one entry of a
// second superdiagonal (du2). Scratch: four arrays of n. Returns false when A is singular
// (a zero pivot after pivoting, or NaN in x: singular to working precision); x is then
// unspecified.
template <class Acc, class L, class D, class U, class B, class X, class W>
OPTKERN_HD bool gepp_solve(index_t n, const L& lower, const D& diag, const U& upper, const B& rhs,
                           const X& x, const W& d_, const W& du_, const W& du2_, const W& b_) {
  if (n <= 0) return true;
  for (index_t i = 0; i < n; ++i) {
    d_[i] = Acc(diag[i]);
    du_[i] = i + 1 < n ? Acc(upper[i]) : Acc(0);
    du2_[i] = Acc(0);
    b_[i] = Acc(rhs[i]);
  }
  for (index_t i = 0; i + 1 < n; ++i) {
    const Acc sub = Acc(lower[i + 1]);  // a_{i+1,i}: row i+1 is still the original row
    const Acc di = d_[i];
    if (std::fabs(di) >= std::fabs(sub)) {
      if (di == Acc(0)) return false;  // column i is zero on and below the diagonal
      const Acc f = sub / di;
      d_[i + 1] = d_[i + 1] - f * du_[i];
      b_[i + 1] = b_[i + 1] - f * b_[i];
    } else {
      // Row i+1 moves up; the old row i, minus f times it, becomes row i+1.
      const Acc f = di / sub;
      const Acc old_du = du_[i], next_d = d_[i + 1], next_du = du_[i + 1];
      const Acc old_b = b_[i], next_b = b_[i + 1];
      d_[i] = sub;
      du_[i] = next_d;
      du2_[i] = next_du;
      d_[i + 1] = old_du - f * next_d;
      du_[i + 1] = -f * next_du;
      b_[i] = next_b;
      b_[i + 1] = old_b - f * next_b;
    }
  }
  if (d_[n - 1] == Acc(0)) return false;
  Acc x1 = b_[n - 1] / d_[n - 1], x2 = Acc(0);  // x_{i+1}, x_{i+2}
  x[n - 1] = x1;
  // A solution that overflows comes back as +-Inf, but Inf - Inf in the substitution would
  // make NaN: such a system is singular to working precision, and reported as singular.
  bool no_nan = !std::isnan(x1);
  for (index_t i = n - 2; i >= 0; --i) {
    const Acc xi = (b_[i] - du_[i] * x1 - du2_[i] * x2) / d_[i];
    x[i] = xi;
    no_nan = no_nan && !std::isnan(xi);
    x2 = x1;
    x1 = xi;
  }
  return no_nan;
}

}  // namespace optkern::detail
