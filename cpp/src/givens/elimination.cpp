// Structured elimination (Frerix & Bruna, ICML 2019, section 3 and eq. 2): Givens QR of an
// orthogonal matrix. Column c from left to right, rows r from the bottom up to c + 1; step
// (c, r) rotates rows c and r so that V_rc becomes 0 and V_cc = hypot(V_cc, V_rc) >= 0.
//
// Choosing the non-negative pivot is the paper's sign fix done as we go: when column c is done,
// V_cc = 1 and the rest of row and column c are 0, so after d(d-1)/2 steps
// V = diag(1, ..., 1, det U) and U = G_1 ... G_N exactly for U in SO(d) (up to the sign of
// the last column otherwise), with no extra rotations by pi.
#include <cmath>

#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"

namespace optkern::givens {

template <class T>
Elimination<T>::Elimination(const T* u, index_t d) : DenseEngine<T>(u, d), row_(d - 1) {}

template <class T>
index_t Elimination<T>::run(index_t max_steps, const Trajectory<T>& out,
                            Interrupt* interrupt) {
  const index_t d = d_;
  auto done = [&] { return col_ >= d - 1; };
  return this->run_steps(max_steps, interrupt, done, [&](index_t taken) {
    const index_t c = col_, r = row_;
    T* uc = v_.data() + c * d;
    T* ur = v_.data() + r * d;
    const double pivot = uc[c], target = ur[c];
    const double h = std::hypot(pivot, target);
    const double cs = h > 0 ? pivot / h : 1.0, sn = h > 0 ? -target / h : 0.0;
    for (index_t k = 0; k < d; ++k) rotate_column(cs, sn, uc[k], ur[k]);
    uc[c] = T(h);  // exactly what the rotation computes up to rounding
    ur[c] = T(0);
    out.put(taken, c, r, T(std::atan2(sn, cs)), std::fabs(target));
    if (--row_ == c) {
      ++col_;
      row_ = d - 1;
    }
    return true;
  });
}

template class Elimination<float>;
template class Elimination<double>;

}  // namespace optkern::givens
