// The truncated Jacobi eigenvalue method (Jacobi 1846; truncated as in Le Magoarou, Gribonval
// and Tremblay, IEEE TSIPN 2018), the graph-Fourier baseline of Frerix & Bruna section 7.2.
//
// Each step zeroes the largest off-diagonal |L_pq| by L <- G^T L G with G = G(p, q, theta). The
// off-diagonal entry of the rotated 2 x 2 block is sin(2 theta)(L_pp - L_qq)/2 +
// L_pq cos(2 theta), so tan(2 theta) = 1/tau with tau = (L_qq - L_pp) / (2 L_pq); the smaller
// root t = sign(tau) / (|tau| + sqrt(1 + tau^2)) gives |theta| <= pi/4 (Golub & Van Loan,
// Algorithm 8.5.1). Only rows and columns p and q change, so a step costs O(d) plus the
// per-row maxima of |L_pq|.
#include <cmath>

#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"
#include "shared.hpp"

namespace optkern::givens {

template <class T>
JacobiEigen<T>::JacobiEigen(const T* l, index_t d) : DenseEngine<T>(l, d), best_(d) {
  double frobenius = 0;
  for (const T v : v_) frobenius += double(v) * double(v);
  floor_ = machine_epsilon<T>() * std::sqrt(frobenius);
  double* score = best_.scores();
  for (index_t p = 0; p < d; ++p)
    for (index_t q = p + 1; q < d; ++q) score[p * d + q] = std::fabs(double(v_[std::size_t(p * d + q)]));
  best_.rescan_all();
}

template <class T>
index_t JacobiEigen<T>::run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt) {
  const index_t d = d_;
  double* score = best_.scores();
  auto done = [&] { return converged_; };
  return this->run_steps(max_steps, interrupt, done, [&](index_t taken) {
    index_t p, q;
    double off;
    if (!best_.argmax_above(floor_, p, q, off)) {
      converged_ = true;
      return false;
    }
    T* L = v_.data();
    const double app = L[p * d + p], aqq = L[q * d + q], apq = L[p * d + q];
    const double tau = (aqq - app) / (2.0 * apq);
    const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::hypot(1.0, tau));
    double c, s;
    rotation_from_tangent(t, c, s);
    // G^T L: rows p and q; then L G: columns p and q.
    for (index_t k = 0; k < d; ++k) rotate_column(c, s, L[p * d + k], L[q * d + k]);
    for (index_t k = 0; k < d; ++k) rotate_column(c, s, L[k * d + p], L[k * d + q]);
    // The rotated block is diag(app - t apq, aqq + t apq) in exact arithmetic.
    L[p * d + q] = L[q * d + p] = T(0);
    L[p * d + p] = T(app - t * apq);
    L[q * d + q] = T(aqq + t * apq);
    out.put(taken, p, q, T(std::atan(t)), off);
    detail::for_each_touched_pair(p, q, d, [&](index_t r, index_t s, index_t lo, index_t hi) {
      score[lo * d + hi] = std::fabs(double(L[r * d + s]));
    });
    score[p * d + q] = 0;
    best_.rows_changed(p, q);
    return true;
  });
}

template class JacobiEigen<float>;
template class JacobiEigen<double>;

}  // namespace optkern::givens
