// The modified Newton direction of thesis section 1.1.2: p = -V max(L, floor)^{-1} V' g for
// the Hessian H = V L V', i.e. the Newton step of H with its spectrum cut off at a small
// positive number (thesis Figure 2 uses floor = 1e-6), and the floored inverse that starts
// BFGS (floor = 1e-3).
//
// Three ways to the same direction, cheapest first:
// * dense H with smallest eigenvalue above the floor: a Cholesky factorisation of H - floor I
//   succeeds exactly then, and the step is the plain Newton step (one more Cholesky);
// * tridiagonal H (checked in O(n^2), or given as such): only the k eigenpairs below the
//   floor are computed (tridiagonal_spectrum.hpp), and
//       p = -(T^{-1} P g + V_k V_k' g / floor),  P = I - V_k V_k',
//   in O(n k^2);
// * otherwise a full symmetric eigendecomposition (Eigen), O(n^3).
// Work is done in double whatever T is.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <cmath>
#include <limits>
#include <vector>

#include "optkern/optimize/tridiagonal_spectrum.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

class ModifiedNewtonStep {
 public:
  enum class Path { kCholesky, kTridiagonal, kEigen };

  // The factorisations are sized here, in place: Eigen's LLT(n) and
  // SelfAdjointEigenSolver(n) leave their info field uninitialised, so assigning such a
  // temporary would copy an indeterminate enum (undefined behaviour; UBSan stops on it).
  // compute() resizes them if n changes.
  explicit ModifiedNewtonStep(index_t n = 0) : llt_(n), eig_(n) { resize(n); }

  void resize(index_t n) {
    n_ = n;
    work_.resize(n, n);
    a_.resize(std::size_t(n));
    b_.resize(std::size_t(n));
    r_.resize(std::size_t(n));
    coef_.reserve(16);
    gd_.resize(n);
    coef_vec_.resize(n);
  }

  // H: n x n; its symmetric part (H + H') / 2 is used, so a slightly asymmetric Hessian
  // (finite differences) is fine and the storage order does not matter.
  template <class T>
  void dense(const T* h, const T* g, T* p, double floor) {
    const index_t n = n_;
    if (is_tridiagonal(h)) {
      for (index_t i = 0; i < n; ++i) a_[std::size_t(i)] = double(h[i * n + i]);
      for (index_t i = 0; i + 1 < n; ++i) {
        b_[std::size_t(i)] = 0.5 * (double(h[(i + 1) * n + i]) + double(h[i * n + i + 1]));
      }
      tridiagonal_impl(g, p, floor);
      return;
    }
    using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    symmetric_part(h);
    gd_ = Eigen::Map<const Vec>(g, n).template cast<double>();
    work_.diagonal().array() -= floor;
    llt_.compute(work_);
    work_.diagonal().array() += floor;
    if (llt_.info() == Eigen::Success) {  // every eigenvalue is above the floor
      llt_.compute(work_);
      if (llt_.info() == Eigen::Success) {
        path_ = Path::kCholesky;
        floored_ = 0;
        llt_.solveInPlace(gd_);
        Eigen::Map<Vec>(p, n) = (-gd_).template cast<T>();
        return;
      }
    }
    eig_.compute(work_);
    floored_ = index_t((eig_.eigenvalues().array() < floor).count());
    path_ = Path::kEigen;
    coef_vec_.noalias() = eig_.eigenvectors().transpose() * gd_;
    coef_vec_.array() /= eig_.eigenvalues().array().max(floor);
    gd_.noalias() = eig_.eigenvectors() * coef_vec_;
    Eigen::Map<Vec>(p, n) = (-gd_).template cast<T>();
  }

  // The tridiagonal H with diagonal d (n) and off-diagonal e (n - 1).
  template <class T>
  void tridiagonal(const T* d, const T* e, const T* g, T* p, double floor) {
    for (index_t i = 0; i < n_; ++i) a_[std::size_t(i)] = double(d[i]);
    for (index_t i = 0; i + 1 < n_; ++i) b_[std::size_t(i)] = double(e[i]);
    tridiagonal_impl(g, p, floor);
  }

  // inv = V max(L, floor)^{-1} V' for the dense row-major H (both n x n).
  template <class T>
  void floored_inverse(const T* h, T* inv, double floor) {
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    symmetric_part(h);
    eig_.compute(work_);
    const auto& v = eig_.eigenvectors();
    const Eigen::VectorXd w = eig_.eigenvalues().cwiseMax(floor).cwiseInverse();
    Eigen::Map<RowMajor>(inv, n_, n_) = (v * w.asDiagonal() * v.transpose()).template cast<T>();
  }

  Path last_path() const { return path_; }
  index_t last_floored() const { return floored_; }  // eigenvalues raised by the last step

 private:
  template <class T>
  bool is_tridiagonal(const T* h) const {
    for (index_t i = 0; i < n_; ++i) {
      const T* row = h + i * n_;
      for (index_t j = 0; j + 1 < i; ++j) {
        if (row[j] != T(0)) return false;
      }
      for (index_t j = i + 2; j < n_; ++j) {
        if (row[j] != T(0)) return false;
      }
    }
    return true;
  }

  // work_ = (H + H') / 2 in double.
  template <class T>
  void symmetric_part(const T* h) {
    for (index_t j = 0; j < n_; ++j) {
      for (index_t i = j; i < n_; ++i) {
        const double v = 0.5 * (double(h[i * n_ + j]) + double(h[j * n_ + i]));
        work_(i, j) = v;
        work_(j, i) = v;
      }
    }
  }

  template <class T>
  void tridiagonal_impl(const T* g, T* p, double floor) {
    path_ = Path::kTridiagonal;
    floored_ = 0;
    const double eps = std::numeric_limits<double>::epsilon();
    // Split into unreduced blocks where an off-diagonal entry is negligible (as LAPACK does):
    // their eigenvectors live on one block each.
    index_t start = 0;
    for (index_t i = 0; i < n_; ++i) {
      const bool last = i + 1 == n_;
      if (!last) {
        const double bound = eps * std::sqrt(std::abs(a_[std::size_t(i)] * a_[std::size_t(i + 1)]));
        if (std::abs(b_[std::size_t(i)]) > bound) continue;
      }
      block_direction(start, i + 1 - start, g, p, floor);
      start = i + 1;
    }
  }

  template <class T>
  void block_direction(index_t start, index_t m, const T* g, T* p, double floor) {
    if (m == 1) {
      const double lambda = a_[std::size_t(start)];
      floored_ += lambda < floor;
      p[start] = T(-double(g[start]) / std::max(lambda, floor));
      return;
    }
    const detail::TridiagonalBlock block{&a_[std::size_t(start)], &b_[std::size_t(start)], m};
    pairs_.compute(block, floor);
    const index_t k = index_t(pairs_.values.size());
    const double eps = std::numeric_limits<double>::epsilon();
    floored_ += k;
    double* r = &r_[std::size_t(start)];
    for (index_t i = 0; i < m; ++i) r[i] = double(g[start + i]);
    // r = P g, and the coefficients of g on the floored eigenvectors
    coef_.assign(std::size_t(k), 0.0);
    for (index_t j = 0; j < k; ++j) {
      const double* v = &pairs_.vectors[std::size_t(j * m)];
      double c = 0;
      for (index_t i = 0; i < m; ++i) c += v[i] * r[i];
      for (index_t i = 0; i < m; ++i) r[i] -= c * v[i];
      coef_[std::size_t(j)] = c;
    }
    double norm = 0;
    for (index_t i = 0; i < m; ++i) {
      norm = std::max(norm, std::abs(a_[std::size_t(start + i)]) +
                                (i + 1 < m ? std::abs(b_[std::size_t(start + i)]) : 0.0) +
                                (i > 0 ? std::abs(b_[std::size_t(start + i - 1)]) : 0.0));
    }
    lu_.factor(block, 0.0, eps * std::max(norm, std::numeric_limits<double>::min()));
    lu_.solve(r);  // T^{-1} P g: P g has no component along an eigenvalue below the floor,
    for (int pass = 0; pass < 2; ++pass) {  // up to rounding, which T^{-1} amplifies: remove
      for (index_t j = 0; j < k; ++j) {
        const double* v = &pairs_.vectors[std::size_t(j * m)];
        double c = 0;
        for (index_t i = 0; i < m; ++i) c += v[i] * r[i];
        for (index_t i = 0; i < m; ++i) r[i] -= c * v[i];
      }
    }
    for (index_t j = 0; j < k; ++j) {
      const double* v = &pairs_.vectors[std::size_t(j * m)];
      const double c = coef_[std::size_t(j)] / floor;
      for (index_t i = 0; i < m; ++i) r[i] += c * v[i];
    }
    for (index_t i = 0; i < m; ++i) p[start + i] = T(-r[i]);
  }

  index_t n_ = 0;
  Eigen::MatrixXd work_;
  Eigen::VectorXd gd_, coef_vec_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig_;
  std::vector<double> a_, b_, r_, coef_;
  detail::SmallEigenpairs pairs_;
  detail::TridiagonalLU lu_;
  Path path_ = Path::kCholesky;
  index_t floored_ = 0;
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
