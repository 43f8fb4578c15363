// Approximating an orthogonal matrix by few Givens rotations (Frerix & Bruna, ICML 2019).
//
// A factorization of U is a sequence of factors (i_k, j_k, theta_k), i_k < j_k, with
// U ~ G(i_1, j_1, theta_1) ... G(i_N, j_N, theta_N) P for a signed permutation P, where
// G(i, j, theta) is the identity except G_ii = G_jj = cos, G_ij = sin, G_ji = -sin (paper eq. 1).
// Every method builds it greedily: step k replaces the working matrix V by G_k^T V.
//
// The methods are engines that advance in chunks of steps (so that a caller can stream the
// trajectory, report progress or stop early), each writing the factors of its steps:
//   L1Descent        Algorithm 1: the pair and angle with the largest decrease of ||V||_1
//                    (exact angle per pair by a sort-and-sweep, 2(d-2)+1 pairs re-scored per
//                    step, threaded over them, global argmax from per-row maxima);
//   FrobeniusGreedy  the greedy baseline: largest decrease of ||V - I||_F (closed-form angle);
//   Elimination      structured elimination in the paper's order (eq. 2), exact with
//                    d(d-1)/2 factors (diagonal made non-negative as it goes);
//   JacobiEigen      the truncated Jacobi eigenvalue method on a symmetric L (Le Magoarou et
//                    al. 2018): zero the largest off-diagonal entry by L <- G^T L G, so that
//                    L ~ (G_1 ... G_N) diag (G_1 ... G_N)^T.
// Ties are broken deterministically: the largest score wins, then the smallest i, then the
// smallest j; within a pair, the smallest L1 norm, then the smallest angle.
//
// run() polls `interrupt` (interrupt.hpp) once per step, when it is not null. When that stops
// it, the steps taken so far are in `out` and in the engine (steps() counts every step since
// construction), the engine stays usable, and run() throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optkern/common.hpp"
#include "optkern/givens/block_search.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/givens/pair_argmax.hpp"

namespace optkern::givens {

// Where an engine writes the factors of the steps it takes (each array has room for the
// requested number of steps). `score` is the decrease of the method's objective at that step
// (L1 norm, squared Frobenius distance to I, or the eliminated |off-diagonal| entry).
template <class T>
struct Trajectory {
  index_t* i = nullptr;
  index_t* j = nullptr;
  T* theta = nullptr;
  double* score = nullptr;

  // Step k: rows (i, j), angle theta, score.
  void put(index_t k, index_t step_i, index_t step_j, T step_theta, double step_score) const {
    i[k] = step_i;
    j[k] = step_j;
    theta[k] = step_theta;
    score[k] = step_score;
  }
};

// The best rotation of one 2 x d block with rows a and b: the largest decrease of its L1 norm
// (0 when none is above rounding noise) and tan(theta) of the angle, theta in (-pi/4, pi/4].
struct BlockRotation {
  double decrease = 0;
  double tangent = 0;
};

// Exact search over the d breakpoints in O(d) expected time (bucket sort by tangent, then one
// sweep; see givens/block_search.hpp). Throws std::invalid_argument for d < 1.
template <class T>
BlockRotation best_l1_rotation(const T* a, const T* b, index_t d);

// Algorithm 1 on a copy of the d x d row-major matrix u (d >= 2). The constructor scores all
// d(d-1)/2 pairs (O(d^3), polling `interrupt` once per row). num_threads = 0 means
// optkern::num_threads().
template <class T>
class L1Descent {
 public:
  L1Descent(const T* u, index_t d, int num_threads = 0, Interrupt* interrupt = nullptr);
  ~L1Descent();
  L1Descent(const L1Descent&) = delete;
  L1Descent& operator=(const L1Descent&) = delete;

  // Takes up to max_steps steps; returns how many were taken. Fewer means converged(): no pair
  // decreases the L1 norm by more than rounding noise.
  index_t run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt = nullptr);
  bool converged() const { return converged_; }
  index_t steps() const { return index_t(epoch_); }
  index_t dim() const { return d_; }
  int threads() const { return threads_; }
  const T* matrix() const;  // G_k^T ... G_1^T U so far (row-major copy, valid until next call)
  double l1_norm() const;
  // Layered choice: when the best pair would open a new layer (of disjoint pairs, each
  // rotation in the earliest layer after those of its rows), take instead the best pair that
  // fits in the layers so far if its decrease is at least kLayeredSlack of the best's.
  void set_layered(bool on) { layered_ = on; }
  index_t depth() const { return depth_; }  // layers of the steps taken so far
  static constexpr double kLayeredSlack = 0.8;

 private:
  struct Team;
  T* new_row();
  void score_chunk(index_t c, index_t i, index_t j, BlockSearch& search,
                   BlockRotation* out) const;
  bool commit(index_t c, std::uint64_t epoch, index_t i, index_t j, const BlockRotation* results);
  void claim_chunks(std::uint64_t epoch, int tid);
  void worker(int tid);
  void master_step(index_t i, index_t j, double tangent);
  void choose_layered(index_t& i, index_t& j, double& gain) const;

  index_t d_;
  int threads_;
  bool converged_ = false;
  bool layered_ = false;
  index_t depth_ = 0;
  std::vector<index_t> row_layer_;  // layer of the last step on each row (0: none)
  std::uint64_t epoch_ = 0;  // steps taken so far
  std::vector<std::atomic<T*>> rows_;                   // row r's current buffer
  std::vector<std::unique_ptr<T[]>> storage_;           // every row buffer
  std::deque<std::pair<T*, std::uint64_t>> retired_;    // buffers left at step (epoch)
  mutable std::vector<T> dense_;                        // matrix() copy
  std::vector<double> tangent_;  // best tan(theta) per pair (p < q) at p*d + q
  PairArgmax best_;              // best L1 decrease per pair
  std::vector<BlockSearch> searches_;        // one per thread
  std::vector<BlockRotation> chunk_scores_;  // one chunk's results per thread
  index_t chunks_ = 0;
  std::unique_ptr<Team> team_;
};

// What the dense engines below share: their working copy V of a d x d matrix (d >= 2) and
// the count of steps taken.
template <class T>
class DenseEngine {
 public:
  index_t steps() const { return steps_; }
  index_t dim() const { return d_; }
  const T* matrix() const { return v_.data(); }

 protected:
  DenseEngine(const T* m, index_t d) : d_(d) {
    require(d >= 2, "d", "expected a matrix of size at least 2, got " + std::to_string(d));
    v_.assign(m, m + d * d);
  }
  // run(): while fewer than max_steps, not done() and not interrupted, step(k) takes the
  // call's k-th step and returns true (false: none taken, the engine has converged).
  template <class Done, class Step>
  index_t run_steps(index_t max_steps, Interrupt* interrupt, Done&& done, Step&& step) {
    require(max_steps >= 0, "max_steps", "expected a non-negative count");
    index_t taken = 0;
    while (taken < max_steps && !done() && !optkern::detail::poll(interrupt) && step(taken)) {
      ++taken;
      ++steps_;
    }
    optkern::detail::throw_if_stopped(interrupt);
    return taken;
  }
  index_t d_;
  index_t steps_ = 0;
  std::vector<T> v_;
};

// The greedy baseline on a copy of u: each step takes the pair and angle that most decrease
// ||V - I||_F^2 = 2d - 2 tr V, i.e. theta = atan2(v_ij - v_ji, v_ii + v_jj) in (-pi, pi].
// O(d) per step (O(1) per re-scored pair).
template <class T>
class FrobeniusGreedy : public DenseEngine<T> {
 public:
  FrobeniusGreedy(const T* u, index_t d);
  index_t run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt = nullptr);
  bool converged() const { return converged_; }

 private:
  using DenseEngine<T>::d_;
  using DenseEngine<T>::v_;
  void score_pair(index_t p, index_t q);
  bool converged_ = false;
  PairArgmax best_;  // gain of tr V per pair
};

// Structured elimination on a copy of u: column c = 0, 1, ... from left to right, rows
// r = d-1 down to c+1 (paper eq. 2), each step zeroes V_rc by rotating rows (c, r) with the
// angle that makes V_cc non-negative. After d(d-1)/2 steps V = diag(1, ..., 1, det U).
template <class T>
class Elimination : public DenseEngine<T> {
 public:
  Elimination(const T* u, index_t d);
  index_t run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt = nullptr);
  bool converged() const { return col_ >= d_ - 1; }

 private:
  using DenseEngine<T>::d_;
  using DenseEngine<T>::v_;
  index_t col_ = 0, row_;
};

// Truncated Jacobi on a copy of the symmetric d x d matrix l: each step zeroes the largest
// |L_pq| (p < q) by L <- G^T L G with |theta| <= pi/4. converged() once every off-diagonal
// entry is at most eps * ||L||_F. O(d) per step. matrix() is G_k^T ... G_1^T L G_1 ... G_k so
// far.
template <class T>
class JacobiEigen : public DenseEngine<T> {
 public:
  JacobiEigen(const T* l, index_t d);
  index_t run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt = nullptr);
  bool converged() const { return converged_; }

 private:
  using DenseEngine<T>::d_;
  using DenseEngine<T>::v_;
  bool converged_ = false;
  double floor_;
  PairArgmax best_;  // |L_pq| per pair
};

// x <- G_1 ... G_n x (transpose = false) or x <- G_n^T ... G_1^T x (transpose = true) for each
// of `batch` row-major (d, cols) matrices stored one after the other. Factor k is given by
// its rows i[k] < j[k] < d and its cos[k], sin[k]. O(n cols) per matrix, threaded over
// matrices and column blocks. Throws std::invalid_argument on out-of-range rows.
template <class T>
void apply_sequence(index_t n, const index_t* i, const index_t* j, const T* cos, const T* sin,
                    T* x, index_t batch, index_t d, index_t cols, bool transpose,
                    int num_threads = 0);

// dst <- G_1 ... G_n P src (transpose = false) or dst <- (G_1 ... G_n P)^T src, out of place
// (src and dst must not overlap), with P the signed permutation P[perm[b], b] = signs[b]
// (perm = nullptr: P = I). One pass over src and dst; blocks and threads as apply_sequence.
// Throws std::invalid_argument on out-of-range rows or a perm that is not a permutation.
template <class T>
void apply_sequence_signed(index_t n, const index_t* i, const index_t* j, const T* cos,
                           const T* sin, const index_t* perm, const std::int8_t* signs,
                           const T* src, T* dst, index_t batch, index_t d, index_t cols,
                           bool transpose, int num_threads = 0);

}  // namespace optkern::givens
