// Beam search over Algorithm 1 (Frerix & Bruna, ICML 2019, the improvement they suggest):
// keep the k best partial sequences by the L1 objective instead of one.
//
// Each beam is a working matrix V = G_m^T ... G_1^T U with its per-pair best decreases and
// angles, kept up to date incrementally as in L1Descent (a step re-scores only the 2(d-2)+1
// pairs that touch its rows). A step expands every beam by its k best pairs, ranks the
// children by ||V||_1 after the step (ties: the better parent, then the smaller i, then the
// smaller j), drops children equal to a better one (disjoint rotations commute exactly, so two
// orders reach the same matrix bit for bit: a hash of the rows detects it) and keeps the k
// best. With k = 1 the choice is L1Descent's, step for step.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"

namespace optkern::givens {

template <class T>
class BeamL1 {
 public:
  // u: d x d row-major (d >= 2); width >= 1 beams. num_threads = 0: optkern::num_threads().
  BeamL1(const T* u, index_t d, index_t width, int num_threads = 0,
         Interrupt* interrupt = nullptr);
  ~BeamL1();
  BeamL1(const BeamL1&) = delete;
  BeamL1& operator=(const BeamL1&) = delete;

  // Up to max_steps steps; returns how many. Fewer means converged(): no beam has a pair
  // whose decrease is above rounding noise.
  index_t advance(index_t max_steps, Interrupt* interrupt = nullptr);
  bool converged() const { return converged_; }
  index_t steps() const { return steps_; }
  index_t dim() const { return d_; }
  index_t width() const { return width_; }

  // The best beam's sequence so far (steps() factors) into arrays of that length.
  void best_path(index_t* i, index_t* j, T* theta, double* score) const;
  // The best beam's working matrix (row-major copy, valid until the next call) and L1 norm.
  const T* best_matrix() const;
  double best_objective() const;

 private:
  struct State;
  struct Node {
    std::int64_t parent;
    index_t i, j;
    T theta;
    double score;
  };
  index_t d_, width_;
  int threads_;
  index_t steps_ = 0;
  bool converged_ = false;
  std::vector<std::unique_ptr<State>> beams_;  // best first
  std::vector<Node> nodes_;                    // the search tree of every kept step
};

}  // namespace optkern::givens
