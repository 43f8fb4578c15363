// L-BFGS as a reverse-communication state machine over caller-owned buffers (no allocation,
// no Eigen), so that the same code runs a C++ callable, a Python objective, a batch of
// problems in lock step, and one problem per CUDA thread. Protocol: descent_core.hpp.
//
// Direction: the two-loop recursion (Nocedal & Wright Alg. 7.4) over the m most recent pairs
// s = x_{k+1} - x_k, y = g_{k+1} - g_k, kept in a ring buffer, with H0 = (s'y / y'y) I from
// the newest pair (thesis eq. 16). Step: the strong Wolfe search of line_search.hpp, first
// trial 1, or 1/||p||_2 when there is no pair yet (as SciPy's L-BFGS-B). A pair with
// s'y <= eps y'y is skipped (the curvature condition fails in floating point).
//
// When a search cannot finish (max_ls evaluations, a collapsed bracket, a step pinned at its
// largest value), the run never loses what the search found (search_fallback.hpp): it moves
// to the best trial point with sufficient decrease, as MINPACK-2's dcsrch does, and goes on.
// Without one, the history is dropped and the search is retried along -g; if that fails too,
// the run moves to the lowest point the search saw (if it is below f) and stops with
// kLineSearchFailed. x is never worse than the best point evaluated by an accepted search.
#pragma once

#include <limits>

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/search_fallback.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

// The buffers of one L-BFGS run, in the machine's layout: the iterate, trial point and
// direction (DescentBuffers), then s and y: m + 1 vectors of n elements each (one spare slot,
// so that a new pair never overwrites one still in use), vector k at s + k * n * stride;
// rho and alpha: m + 1 scalars, scalar k at rho[k * stride].
template <class T>
struct LbfgsBuffers {
  DescentBuffers<T> v;
  T *s, *y, *rho, *alpha;
};

// Elements of one block holding LbfgsBuffers for history m in n dimensions.
OPTKERN_HD inline index_t lbfgs_buffer_size(index_t n, int m) {
  return descent_buffer_size(n) + 2 * (index_t(m) + 1) * (n + 1);
}

// Carves LbfgsBuffers out of a block of lbfgs_buffer_size(n, m) elements `stride` apart:
// stride 1 for one problem, B for problem b of B interleaved ones (block + b).
template <class T>
OPTKERN_HD LbfgsBuffers<T> lbfgs_buffers(T* block, index_t n, int m, index_t stride = 1) {
  const index_t pairs = (index_t(m) + 1) * n * stride;
  LbfgsBuffers<T> b;
  b.v = descent_buffers(block, n, stride);
  b.s = block + descent_buffer_size(n) * stride;
  b.y = b.s + pairs;
  b.rho = b.y + pairs;
  b.alpha = b.rho + (index_t(m) + 1) * stride;
  return b;
}

template <class T, class L = Contiguous>
class LbfgsMachine {
 public:
  OPTKERN_HD LbfgsMachine(index_t n, const LbfgsOptions<T>& options, const LbfgsBuffers<T>& b,
                          L layout = L{})
      : core_(n, options, b.v, layout),
        m_(options.m),
        s_(b.s),
        y_(b.y),
        rho_(b.rho),
        alpha_(b.alpha),
        search_(options.c1, options.c2, options.max_ls) {}

  OPTKERN_HD Request start() { return core_.start(); }

  // After kEvaluate: f at xt (gt holds the gradient).
  OPTKERN_HD Request tell(T f_trial) {
    if (!core_.started()) return core_.take_start(f_trial) ? begin_search() : Request::kDone;
    return fallback_.tell(
        core_, search_, pairs_ > 0, f_trial, [&] { return accept(f_trial); },
        [&] {
          pairs_ = 0;  // restart along the steepest descent direction, as L-BFGS-B does
          return begin_search();
        });
  }

  OPTKERN_HD Request tell_hessian() { return core_.finish(Status::kRunning); }  // unused

  // After kIterate: continue, or stop because the caller's callback asked for it.
  OPTKERN_HD Request proceed(bool stop = false) {
    return fallback_.proceed(core_, stop, [&] { return begin_search(); });
  }

  OPTKERN_HD T f() const { return core_.f(); }
  OPTKERN_HD T gradient_norm() const { return core_.gradient_norm(); }
  OPTKERN_HD Status status() const { return core_.status(); }
  OPTKERN_HD const Counters& counters() const { return core_.counters(); }
  OPTKERN_HD int pairs() const { return pairs_; }

  // Copies the kept pairs, oldest first, into s_out and y_out (pairs() rows of n elements
  // each, contiguous); returns pairs().
  OPTKERN_HD int copy_pairs(T* s_out, T* y_out) const {
    const index_t n = core_.n(), st = stride();
    int k = newest_;
    for (int j = 1; j < pairs_; ++j) k = older(k);
    for (int j = 0; j < pairs_; ++j, k = newer(k)) {
      for (index_t i = 0; i < n; ++i) {
        s_out[j * n + i] = s_vec(k)[i * st];
        y_out[j * n + i] = y_vec(k)[i * st];
      }
    }
    return pairs_;
  }

 private:
  OPTKERN_HD index_t stride() const { return core_.layout().stride(); }
  OPTKERN_HD T* s_vec(int k) const { return s_ + index_t(k) * core_.n() * stride(); }
  OPTKERN_HD T* y_vec(int k) const { return y_ + index_t(k) * core_.n() * stride(); }
  OPTKERN_HD T& rho(int k) const { return rho_[index_t(k) * stride()]; }
  OPTKERN_HD T& alpha(int k) const { return alpha_[index_t(k) * stride()]; }

  // The ring-buffer slot before / after slot k (no integer division: this runs per pair).
  OPTKERN_HD int older(int k) const { return k == 0 ? m_ : k - 1; }
  OPTKERN_HD int newer(int k) const { return k == m_ ? 0 : k + 1; }

  // p = -H g by the two-loop recursion over the stored pairs, newest first. The recursion is
  // linear in q, so it runs on q = -g directly. Each update of q is fused with the dot
  // product the next step needs: 2 pairs + 1 passes over q instead of 4 pairs + 1.
  OPTKERN_HD void two_loop_direction() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const L layout = core_.layout();
    T* q = b.p;
    scale_copy(n, T(-1), b.g, q, layout);
    int k = newest_;
    T a = rho(k) * dot(n, s_vec(k), q, layout);
    for (int j = 0; j + 1 < pairs_; ++j, k = older(k)) {  // q -= a_k y_k, newest to oldest
      alpha(k) = a;
      a = rho(older(k)) * axpy_dot(n, -a, y_vec(k), q, s_vec(older(k)), layout);
    }
    alpha(k) = a;  // k is the oldest pair now
    // last update, scaling by H0 = gamma I, and the first dot of the second loop
    const T gamma = T(1) / (rho(newest_) * yy_newest_);  // s'y / y'y of the newest pair
    const T* y_old = y_vec(k);
    T beta = rho(k) * sum_terms<T>(n, layout, [=](index_t at) {
      const T v = gamma * (q[at] - a * y_old[at]);
      q[at] = v;
      return y_old[at] * v;
    });
    for (; k != newest_; k = newer(k)) {  // q += (a_k - beta_k) s_k, oldest to newest
      beta = rho(newer(k)) * axpy_dot(n, alpha(k) - beta, s_vec(k), q, y_vec(newer(k)), layout);
    }
    axpy(n, alpha(newest_) - beta, s_vec(newest_), q, layout);
  }

  OPTKERN_HD Request begin_search() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const L layout = core_.layout();
    if (pairs_ > 0) two_loop_direction();
    T slope = pairs_ > 0 ? dot(n, b.g, b.p, layout) : T(0);
    if (!(slope < T(0))) {  // no history, or rounding spoilt the direction: use -g
      pairs_ = 0;
      scale_copy(n, T(-1), b.g, b.p, layout);
      slope = dot(n, b.g, b.p, layout);
    }
    const T p_norm = square_root(pairs_ > 0 ? dot(n, b.p, b.p, layout) : -slope);
    const T first = pairs_ > 0 ? T(1) : T(1) / p_norm;  // 1/||p||_2 without pairs
    search_.set_step_max(unit_step_max(p_norm));
    if (search_.start(core_.f(), slope, first) != SearchState::kEvaluate) {
      return core_.finish(Status::kLineSearchFailed);
    }
    return core_.trial(search_.step());
  }

  // The trial point satisfies the strong Wolfe conditions: store the pair, move to it.
  OPTKERN_HD Request accept(T f_trial) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const int k = newer(newest_);  // the spare slot
    T* s = s_vec(k);
    T* y = y_vec(k);
    const T sy = sum_terms<T>(n, core_.layout(), [=](index_t at) {
      const T sa = b.xt[at] - b.x[at], ya = b.gt[at] - b.g[at];
      s[at] = sa;
      y[at] = ya;
      b.x[at] = b.xt[at];
      b.g[at] = b.gt[at];
      return sa * ya;
    });
    const T yy = dot(n, y, y, core_.layout());
    if (sy > std::numeric_limits<T>::epsilon() * yy && is_finite(sy) && is_finite(yy)) {
      rho(k) = T(1) / sy;
      newest_ = k;
      yy_newest_ = yy;
      if (pairs_ < m_) ++pairs_;
    }
    return core_.moved(f_trial);
  }

  DescentCore<T, L> core_;
  int m_;
  T *s_, *y_, *rho_, *alpha_;
  StrongWolfeSearch<T> search_;
  SearchFallback<T> fallback_;
  int pairs_ = 0, newest_ = 0;
  T yy_newest_ = T(1);
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
