// The greedy Frobenius baseline of Frerix & Bruna (ICML 2019), section 7: each step takes the
// Givens factor that most decreases ||V - I||_F.
//
// ||G^T V - I||_F^2 = 2d - 2 tr(G^T V), and rotating rows (i, j) by theta changes the trace to
// cos(theta) S + sin(theta) D with S = v_ii + v_jj, D = v_ij - v_ji, so the best angle is
// atan2(D, S) and the trace grows by hypot(S, D) - S. The score of a pair reads four entries of
// rows i and j, so a step re-scores the 2(d-2) + 1 pairs touching them in O(1) each.
#include <cmath>

#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"
#include "shared.hpp"

namespace optkern::givens {

template <class T>
FrobeniusGreedy<T>::FrobeniusGreedy(const T* u, index_t d) : DenseEngine<T>(u, d), best_(d) {
  for (index_t p = 0; p < d; ++p)
    for (index_t q = p + 1; q < d; ++q) score_pair(p, q);
  best_.rescan_all();
}

template <class T>
void FrobeniusGreedy<T>::score_pair(index_t p, index_t q) {
  const index_t d = d_;
  const double S = double(v_[std::size_t(p * d + p)]) + double(v_[std::size_t(q * d + q)]);
  const double D = double(v_[std::size_t(p * d + q)]) - double(v_[std::size_t(q * d + p)]);
  const double h = std::hypot(S, D);
  // h - S without cancellation when S > 0: (h - S)(h + S) = D^2.
  double gain = S > 0 ? D * D / (h + S) : h - S;
  // D is only known to a few ulps of h: below that, the "gain" is rounding noise.
  const double noise = 8.0 * machine_epsilon<T>() * h;
  if (!(gain > noise * noise / (h + std::fabs(S)))) gain = 0;
  best_.scores()[p * d + q] = gain;
}

template <class T>
index_t FrobeniusGreedy<T>::run(index_t max_steps, const Trajectory<T>& out,
                                Interrupt* interrupt) {
  const index_t d = d_;
  auto done = [&] { return converged_; };
  return this->run_steps(max_steps, interrupt, done, [&](index_t taken) {
    index_t i, j;
    double gain;
    if (!best_.argmax_above(0.0, i, j, gain)) {
      converged_ = true;
      return false;
    }
    T* ui = v_.data() + i * d;
    T* uj = v_.data() + j * d;
    const double S = double(ui[i]) + double(uj[j]);
    const double D = double(ui[j]) - double(uj[i]);
    const double h = std::hypot(S, D);
    const double c = S / h, s = D / h;
    for (index_t k = 0; k < d; ++k) rotate_column(c, s, ui[k], uj[k]);
    out.put(taken, i, j, T(std::atan2(D, S)), 2.0 * gain);  // decrease of ||V - I||_F^2
    detail::for_each_touched_pair(i, j, d, [&](index_t, index_t, index_t lo, index_t hi) {
      score_pair(lo, hi);
    });
    score_pair(i, j);
    best_.rows_changed(i, j);
    return true;
  });
}

template class FrobeniusGreedy<float>;
template class FrobeniusGreedy<double>;

}  // namespace optkern::givens
