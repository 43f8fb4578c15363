// L-BFGS-B as a reverse-communication state machine over caller-owned buffers: the algorithm
// of lbfgsb.hpp (Byrd, Lu, Nocedal and Zhu 1995, with the projection step of Morales and
// Nocedal 2011, as in SciPy), written like lbfgs_machine.hpp so that it also runs one problem
// per CUDA thread: host+device functions (OPTKERN_HD), vectors in any layout (Contiguous on
// the CPU, Interleaved on the GPU), all work space in one block the caller provides
// (lbfgsb_buffer_size(n, m) elements), no Eigen, no allocation, no exceptions, no recursion.
// Protocol: descent_core.hpp.
//
// Each iteration, as in lbfgsb.hpp:
//  1. the generalized Cauchy point along the projected steepest descent path P(x - t g),
//     segment by segment between the breakpoints (paper sec. 4), B = theta I - W M W' in
//     compact form (sec. 3), W = [Y, theta S];
//  2. subspace minimisation over the variables free at the Cauchy point (direct primal
//     method, sec. 5.1) by Sherman-Morrison-Woodbury, then the projection of L-BFGS-B 3.0
//     (or, if that is no descent direction, the step truncated to the box);
//  3. the strong Wolfe search of line_search.hpp along d = xbar - x, its largest step the
//     one that keeps x in the box (step 1 on the first iteration of a fully boxed problem);
//  4. stop on the projected gradient (max norm <= gtol), SciPy's relative decrease of f, or
//     a limit. A pair with s'y <= eps y'y is skipped; a failed search ends as in
//     search_fallback.hpp.
// The 2k x 2k middle matrices are solved by two k x k Cholesky factorizations written out
// here (SmallBlockSolver, the same arithmetic as lbfgsb.hpp's BlockSolver), with Gaussian
// elimination with partial pivoting on the whole 2k x 2k matrix where rounding makes one of
// them fail. The Gram blocks over the free and active sets are updated as the free set
// changes (rank-one terms), as in lbfgsb.hpp.
//
// Breakpoint order in the Cauchy search: repeated selection (a linear scan for the smallest
// breakpoint not yet passed), not a heap. A heap needs an array of variable indices, which a
// work block of T cannot hold exactly in float beyond 2^24 variables and which a GPU thread
// would fill with scattered writes; the scan needs no storage (a passed breakpoint is marked
// by zeroing its direction component), reads the vectors in the layout's order, breaks ties
// by the lowest index, and the search usually stops before the first breakpoint or after a
// few (each costs O(m^2) for the middle-matrix solve anyway), so O(n) per breakpoint is
// cheap for the small problems of a batch. The worst case, every breakpoint passed, is
// O(n^2) per iteration; lbfgsb.hpp (a heap) remains the host code for large single problems.
//
// Results agree with lbfgsb.hpp's to rounding: the arithmetic is the same, only the order of
// some sums differs.
#pragma once

#include <limits>

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/search_fallback.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

// The projected gradient's largest component in layout L: g_i clipped to what the box
// allows at x_i (SciPy's projgr); +Inf if some g_i is NaN or Inf.
template <class T, class L>
OPTKERN_HD T projected_gradient_norm(index_t n, const T* x, const T* g, const T* lower,
                                     const T* upper, L layout) {
  const index_t s = layout.stride();
  T worst = T(0);
  for (index_t i = 0; i < n; ++i) {
    const index_t at = i * s;
    T gi = g[at];
    if (!is_finite(gi)) return std::numeric_limits<T>::infinity();
    gi = gi < T(0) ? max_value(x[at] - upper[at], gi) : min_value(x[at] - lower[at], gi);
    worst = max_value(worst, abs_value(gi));
  }
  return worst;
}

// A short array inside a work block: element k at p[k * s].
template <class T>
struct Strided {
  T* p;
  index_t s;
  OPTKERN_HD T& operator[](index_t k) const { return p[k * s]; }
  OPTKERN_HD Strided at(index_t k) const { return Strided{p + k * s, s}; }
};

// Solves A z = b in place (b in z) for the size x size matrix A (column-major, leading
// dimension ld, overwritten) by Gaussian elimination with partial pivoting. A zero pivot
// leaves Inf or NaN in z.
template <class T>
OPTKERN_HD_NOINLINE void pivoted_solve(Strided<T> a, index_t ld, int size, Strided<T> z) {
  const auto at = [&](int i, int j) -> T& { return a[i + j * ld]; };
  for (int col = 0; col < size; ++col) {
    int pivot = col;
    for (int i = col + 1; i < size; ++i) {
      if (abs_value(at(i, col)) > abs_value(at(pivot, col))) pivot = i;
    }
    if (pivot != col) {
      for (int j = col; j < size; ++j) {
        const T tmp = at(col, j);
        at(col, j) = at(pivot, j);
        at(pivot, j) = tmp;
      }
      const T tmp = z[col];
      z[col] = z[pivot];
      z[pivot] = tmp;
    }
    const T diagonal = at(col, col);
    for (int i = col + 1; i < size; ++i) {
      const T factor = at(i, col) / diagonal;
      for (int j = col + 1; j < size; ++j) at(i, j) -= factor * at(col, j);
      z[i] -= factor * z[col];
    }
  }
  for (int i = size - 1; i >= 0; --i) {
    T sum = z[i];
    for (int j = i + 1; j < size; ++j) sum -= at(i, j) * z[j];
    z[i] = sum / at(i, i);
  }
}

// Elements of SmallBlockSolver's storage for history m: LF, LC, E, G (m x m each) and w (m).
OPTKERN_HD inline index_t small_block_solver_size(int m) { return 4 * index_t(m) * m + m; }

// z = K^{-1} v for K = [[-F, E'], [E, C]] (2k x 2k, k <= m) with F and C + E F^{-1} E'
// symmetric positive definite, by two k x k Cholesky factorizations: lbfgsb.hpp's
// BlockSolver on strided storage (the same operations in the same order).
template <class T>
class SmallBlockSolver {
 public:
  SmallBlockSolver() = default;
  OPTKERN_HD SmallBlockSolver(Strided<T> storage, int m) : a_(storage), m_(m) {}

  OPTKERN_HD T& lf(int i, int j) const { return cell(0, i, j); }
  OPTKERN_HD T& lc(int i, int j) const { return cell(1, i, j); }
  OPTKERN_HD T& e(int i, int j) const { return cell(2, i, j); }

  // False if F or the Schur complement is not numerically positive definite. With
  // diagonal_lower, F is diagonal and E strictly lower triangular (eq. 3.4).
  OPTKERN_HD_NOINLINE bool factor(int k, bool diagonal_lower = false) {
    k_ = k;
    diagonal_ = diagonal_lower;
    if (diagonal_) {
      for (int j = 0; j < k; ++j) {
        const T d = lf(j, j);
        if (!(d > T(0)) || !is_finite(d)) return false;
        lf(j, j) = square_root(d);
      }
      for (int j = 0; j < k; ++j) {  // G(:, j) = LF^{-1} E(j, :)', zero from row j on
        for (int i = 0; i < j; ++i) g(i, j) = e(j, i) / lf(i, i);
        for (int i = j; i < k; ++i) g(i, j) = T(0);
      }
    } else {
      if (!cholesky(0, k)) return false;
      for (int j = 0; j < k; ++j) {  // G(:, j) = LF^{-1} E(j, :)'
        for (int i = 0; i < k; ++i) g(i, j) = e(j, i);
        forward(0, column(3, j));
      }
    }
    for (int j = 0; j < k; ++j) {  // LC += G'G (lower triangle)
      const int rows = diagonal_ ? j : k;
      for (int i = j; i < k; ++i) {
        T sum = T(0);
        for (int p = 0; p < rows; ++p) sum += g(p, i) * g(p, j);
        lc(i, j) += sum;
      }
    }
    return cholesky(1, k);
  }

  // z = K^{-1} v (2k elements each; z may not alias v).
  OPTKERN_HD void solve(Strided<T> v, Strided<T> z) const {
    const int k = k_;
    const Strided<T> w = a_.at(4 * index_t(m_) * m_);
    for (int i = 0; i < k; ++i) w[i] = v[i];
    forward(0, w);  // w = LF^{-1} v1
    const Strided<T> z2 = z.at(k);
    for (int j = 0; j < k; ++j) {  // z2 = v2 + G'w
      T sum = v[k + j];
      for (int p = 0; p < k; ++p) sum += g(p, j) * w[p];
      z2[j] = sum;
    }
    forward(1, z2);
    backward(1, z2);
    for (int i = 0; i < k; ++i) z[i] = -w[i];
    for (int j = 0; j < k; ++j) {  // z1 = LF^{-T} (G z2 - w)
      const T zj = z2[j];
      for (int i = 0; i < k; ++i) z[i] += g(i, j) * zj;
    }
    backward(0, z);
  }

 private:
  // Matrix `which` (0 LF, 1 LC, 2 E, 3 G), column-major with leading dimension m.
  OPTKERN_HD T& cell(int which, int i, int j) const {
    return a_[index_t(which) * m_ * m_ + i + index_t(j) * m_];
  }
  OPTKERN_HD T& g(int i, int j) const { return cell(3, i, j); }
  OPTKERN_HD Strided<T> column(int which, int j) const {
    return a_.at(index_t(which) * m_ * m_ + index_t(j) * m_);
  }

  // In place A = L L' on the k x k leading block of matrix `which` (lower triangle).
  OPTKERN_HD bool cholesky(int which, int k) const {
    for (int j = 0; j < k; ++j) {
      T d = cell(which, j, j);
      for (int p = 0; p < j; ++p) d -= cell(which, j, p) * cell(which, j, p);
      if (!(d > T(0)) || !is_finite(d)) return false;
      d = square_root(d);
      cell(which, j, j) = d;
      for (int i = j + 1; i < k; ++i) {
        T sum = cell(which, i, j);
        for (int p = 0; p < j; ++p) sum -= cell(which, i, p) * cell(which, j, p);
        cell(which, i, j) = sum / d;
      }
    }
    return true;
  }
  OPTKERN_HD void forward(int which, Strided<T> x) const {  // x = L^{-1} x
    if (diagonal_ && which == 0) {
      for (int j = 0; j < k_; ++j) x[j] /= cell(0, j, j);
      return;
    }
    for (int j = 0; j < k_; ++j) {
      const T xj = x[j] / cell(which, j, j);
      x[j] = xj;
      for (int i = j + 1; i < k_; ++i) x[i] -= cell(which, i, j) * xj;
    }
  }
  OPTKERN_HD void backward(int which, Strided<T> x) const {  // x = L'^{-1} x
    if (diagonal_ && which == 0) {
      for (int j = 0; j < k_; ++j) x[j] /= cell(0, j, j);
      return;
    }
    for (int i = k_ - 1; i >= 0; --i) {
      T sum = x[i];
      for (int p = i + 1; p < k_; ++p) sum -= cell(which, p, i) * x[p];
      x[i] = sum / cell(which, i, i);
    }
  }

  Strided<T> a_{nullptr, 1};
  int m_ = 0;
  int k_ = 0;
  bool diagonal_ = false;
};

// The buffers of one L-BFGS-B run, in the machine's layout: the iterate, trial point and
// direction (DescentBuffers); the pairs (m vectors s, then m vectors y, of n elements each);
// six work vectors of n elements (Cauchy point, breakpoints, Cauchy direction, reduced
// gradient, and the free set now and as of the Gram blocks); and the small matrices and
// vectors (lbfgsb_small_size(m) scalars).
template <class T>
struct LbfgsbBuffers {
  DescentBuffers<T> v;
  T *pairs, *vectors, *small;
};

// Scalars of the small part: S'S, S'Y, Y'ZZ'Y, S'ZZ'Y, S'AA'S (m x m each), two
// SmallBlockSolvers (the second also holds the 2m x 2m matrix of the pivoted fallback, which
// replaces its factors when they fail), and seven vectors of 2m.
OPTKERN_HD inline index_t lbfgsb_small_size(int m) {
  const index_t mm = index_t(m) * m;
  return 5 * mm + 2 * small_block_solver_size(m) + 7 * 2 * index_t(m);
}

// Elements of one block holding LbfgsbBuffers for history m in n dimensions.
OPTKERN_HD inline index_t lbfgsb_buffer_size(index_t n, int m) {
  return descent_buffer_size(n) + (2 * index_t(m) + 6) * n + lbfgsb_small_size(m);
}

// Carves LbfgsbBuffers out of a block of lbfgsb_buffer_size(n, m) elements `stride` apart:
// stride 1 for one problem, B for problem b of B interleaved ones (block + b).
template <class T>
OPTKERN_HD LbfgsbBuffers<T> lbfgsb_buffers(T* block, index_t n, int m, index_t stride = 1) {
  LbfgsbBuffers<T> b;
  b.v = descent_buffers(block, n, stride);
  b.pairs = block + descent_buffer_size(n) * stride;
  b.vectors = b.pairs + 2 * index_t(m) * n * stride;
  b.small = b.vectors + 6 * n * stride;
  return b;
}

// Reverse-communication L-BFGS-B for host and device. lower and upper (n elements each in
// the layout, -Inf / +Inf for no bound, lower <= upper, lower < +Inf, upper > -Inf: the
// caller checks) must outlive the machine; start() moves x into the box.
template <class T, class L = Contiguous>
class LbfgsbPortableMachine {
 public:
  OPTKERN_HD LbfgsbPortableMachine(index_t n, const LbfgsOptions<T>& options,
                                   const LbfgsbBuffers<T>& b, const T* lower, const T* upper,
                                   L layout = L{})
      : core_(n, options, b.v, layout),
        o_(options),
        pairs_base_(b.pairs),
        vectors_(b.vectors),
        small_{b.small, layout.stride()},
        lower_(lower),
        upper_(upper),
        search_(options.c1, options.c2, options.max_ls) {
    const index_t mm = index_t(o_.m) * o_.m;
    middle_ = SmallBlockSolver<T>(small_.at(5 * mm), o_.m);
    reduced_ = SmallBlockSolver<T>(small_.at(5 * mm + small_block_solver_size(o_.m)), o_.m);
    const index_t s = layout.stride();
    for (index_t i = 0; i < n; ++i) {
      boxed_ = boxed_ && is_finite(lower[i * s]) && is_finite(upper[i * s]);
    }
  }

  OPTKERN_HD Request start() {
    T* x = core_.buffers().x;
    const index_t s = stride();
    for (index_t i = 0; i < core_.n(); ++i) x[i * s] = clamp(i * s, x[i * s]);
    return core_.start();
  }

  OPTKERN_HD Request tell(T f_trial) {
    if (!core_.started()) {
      if (!core_.take_start(f_trial)) return Request::kDone;
      update_gradient_norm();
      if (core_.gradient_norm() <= o_.gtol) return core_.finish(Status::kGradientConverged);
      return begin_search();
    }
    const Request r = fallback_.tell(
        core_, search_, pairs_ > 0, f_trial, [&] { return accept(f_trial); },
        [&] {
          drop_memory();  // search along the projected gradient path
          return begin_search();
        });
    if (r == Request::kEvaluate) clamp_trial();
    return r;
  }

  OPTKERN_HD Request tell_hessian() { return core_.finish(Status::kRunning); }  // unused

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
    const index_t n = core_.n(), s = stride();
    for (int j = 0; j < pairs_; ++j) {
      for (index_t i = 0; i < n; ++i) {
        s_out[j * n + i] = s_vec(slot(j))[i * s];
        y_out[j * n + i] = y_vec(slot(j))[i * s];
      }
    }
    return pairs_;
  }

 private:
  // The work vectors of n elements.
  enum Work : int {
    kCauchy = 0,
    kBreak = 1,
    kCauchyDir = 2,
    kReduced = 3,
    kFree = 4,
    kFreeBlocks = 5
  };
  // The small matrices (m x m, pair order, column-major) and vectors of 2m.
  enum Matrix : int { kSS = 0, kSY = 1, kYZY = 2, kSZY = 3, kSAS = 4 };
  enum Small : int { kP = 0, kC = 1, kMw = 2, kWb = 3, kV = 4, kZ = 5, kRow = 6 };

  OPTKERN_HD index_t stride() const { return core_.layout().stride(); }
  OPTKERN_HD T clamp(index_t at, T v) const {
    return min_value(max_value(v, lower_[at]), upper_[at]);
  }
  OPTKERN_HD T* vec(Work which) const { return vectors_ + index_t(which) * core_.n() * stride(); }
  // The pairs: a ring of m slots, pair j (0 = the oldest) in slot(j).
  OPTKERN_HD int slot(int j) const { return (head_ + j) % o_.m; }
  OPTKERN_HD int next_slot(int sl) const { return sl + 1 == o_.m ? 0 : sl + 1; }
  OPTKERN_HD T* s_vec(int sl) const { return pairs_base_ + index_t(sl) * core_.n() * stride(); }
  OPTKERN_HD T* y_vec(int sl) const {
    return pairs_base_ + (index_t(o_.m) + sl) * core_.n() * stride();
  }
  OPTKERN_HD T& mat(Matrix which, int i, int j) const {
    return small_[(index_t(which) * o_.m + j) * o_.m + i];
  }
  OPTKERN_HD Strided<T> small_vec(Small which) const {
    const index_t mm = index_t(o_.m) * o_.m;
    return small_.at(5 * mm + 2 * small_block_solver_size(o_.m) + index_t(which) * 2 * o_.m);
  }
  // The 2k x 2k matrix of the pivoted fallback (leading dimension 2m), in the storage of the
  // reduced solver, whose factorization it replaces.
  OPTKERN_HD T& full(int i, int j) const {
    const index_t mm = index_t(o_.m) * o_.m;
    return small_[5 * mm + small_block_solver_size(o_.m) + i + index_t(j) * 2 * o_.m];
  }

  OPTKERN_HD void clamp_trial() {
    T* xt = core_.buffers().xt;
    const index_t s = stride();
    for (index_t i = 0; i < core_.n(); ++i) xt[i * s] = clamp(i * s, xt[i * s]);
  }

  OPTKERN_HD void update_gradient_norm() {
    const auto& b = core_.buffers();
    core_.set_gradient_norm(
        projected_gradient_norm(core_.n(), b.x, b.g, lower_, upper_, core_.layout()));
  }

  OPTKERN_HD void drop_memory() {
    pairs_ = 0;
    head_ = 0;
    blocks_ = 0;
  }

  // out = [Y'd; theta S'd] in pair order (2k elements).
  OPTKERN_HD void w_transpose_times(const T* d, Strided<T> out) const {
    const index_t n = core_.n();
    const int k = pairs_;
    for (int j = 0; j < k; ++j) {
      out[j] = dot(n, y_vec(slot(j)), d, core_.layout());
      out[k + j] = theta_ * dot(n, s_vec(slot(j)), d, core_.layout());
    }
  }

  // Row `at` of W = [Y, theta S] times u (2k elements, pair order).
  OPTKERN_HD T w_row_dot(index_t at, Strided<T> u) const {
    const int k = pairs_;
    T sum = T(0);
    for (int j = 0, sl = head_; j < k; ++j, sl = next_slot(sl)) {
      sum += y_vec(sl)[at] * u[j] + theta_ * s_vec(sl)[at] * u[k + j];
    }
    return sum;
  }

  // Factorises K = M^{-1} = [[-D, L'], [L, theta S'S]] (paper eq. 3.4).
  OPTKERN_HD bool factor_middle() {
    const int k = pairs_;
    SmallBlockSolver<T>& b = middle_;
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        b.lf(i, j) = i == j ? mat(kSY, i, i) : T(0);
        b.e(i, j) = i > j ? mat(kSY, i, j) : T(0);
        if (i >= j) b.lc(i, j) = theta_ * mat(kSS, i, j);
      }
    }
    return b.factor(k, true);
  }

  // The breakpoint not passed yet (direction component nonzero) with the smallest finite t,
  // the lowest index among equal ones; -1 if none is left.
  OPTKERN_HD index_t next_breakpoint() const {
    const index_t n = core_.n(), s = stride();
    const T* t = vec(kBreak);
    const T* d = vec(kCauchyDir);
    T best = std::numeric_limits<T>::infinity();
    index_t found = -1;
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      if (d[at] != T(0) && t[at] < best) {
        best = t[at];
        found = i;
      }
    }
    return found;
  }

  // The generalized Cauchy point into kCauchy; c = W'(xcp - x) into kC (Algorithm CP).
  OPTKERN_HD_NOINLINE void cauchy_point() {
    const index_t n = core_.n(), s = stride();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    T* xcp = vec(kCauchy);
    T* t = vec(kBreak);
    T* d = vec(kCauchyDir);
    const int k = pairs_;
    const int k2 = 2 * k;
    const T inf = std::numeric_limits<T>::infinity();
    T fp = T(0);
    T t_first = inf;  // the smallest breakpoint, at variable `first`
    index_t first = -1;
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      T ti = inf;
      if (g[at] < T(0)) {
        if (upper_[at] < inf) ti = (x[at] - upper_[at]) / g[at];
      } else if (g[at] > T(0)) {
        if (lower_[at] > -inf) ti = (x[at] - lower_[at]) / g[at];
      }
      t[at] = ti;
      const T di = ti <= T(0) ? T(0) : -g[at];
      d[at] = di;
      fp -= di * di;
      if (ti > T(0) && ti < t_first) {
        t_first = ti;
        first = i;
      }
      xcp[at] = x[at];
    }
    const Strided<T> p = small_vec(kP), c = small_vec(kC), Mw = small_vec(kMw);
    const Strided<T> wb = small_vec(kWb);
    for (int j = 0; j < k2; ++j) c[j] = T(0);
    T fpp = -theta_ * fp;
    if (k > 0) {
      w_transpose_times(d, p);
      middle_.solve(p, Mw);
      fpp -= small_dot(p, Mw, k2);
    }
    const T tiny = std::numeric_limits<T>::epsilon();
    T dt_min = fpp > tiny * abs_value(fp) ? -fp / fpp : inf;
    T t_old = T(0);
    for (index_t bi = first; bi >= 0; bi = next_breakpoint()) {
      const index_t at = bi * s;
      const T dt = t[at] - t_old;
      if (dt_min < dt) break;
      // The variable reaches its bound: fix it there and update f' and f'' (eq. 4.9).
      const T xb = d[at] > T(0) ? upper_[at] : lower_[at];
      const T zb = xb - x[at];
      xcp[at] = xb;
      const T gb = g[at];
      if (k > 0) {
        for (int j = 0, sl = head_; j < k; ++j, sl = next_slot(sl)) {
          wb[j] = y_vec(sl)[at];
          wb[k + j] = theta_ * s_vec(sl)[at];
        }
        for (int j = 0; j < k2; ++j) c[j] += dt * p[j];
        middle_.solve(wb, Mw);
        fp += dt * fpp + gb * gb + theta_ * gb * zb - gb * small_dot(Mw, c, k2);
        fpp +=
            -theta_ * gb * gb - T(2) * gb * small_dot(Mw, p, k2) - gb * gb * small_dot(Mw, wb, k2);
        for (int j = 0; j < k2; ++j) p[j] += gb * wb[j];
      } else {
        fp += dt * fpp + gb * gb + theta_ * gb * zb;
        fpp -= theta_ * gb * gb;
      }
      d[at] = T(0);  // passed: next_breakpoint() skips it
      dt_min = fpp > tiny * abs_value(fp) ? -fp / fpp : (fp < T(0) ? inf : T(0));
      t_old = t[at];
    }
    if (!is_finite(dt_min)) dt_min = T(0);  // only when no free direction is left
    dt_min = max_value(dt_min, T(0));
    t_old += dt_min;
    for (index_t i = 0; i < n; ++i) {  // the variables that have not reached a bound
      const index_t at = i * s;
      if (d[at] != T(0)) xcp[at] = clamp(at, x[at] + t_old * d[at]);
    }
    for (int j = 0; j < k2; ++j) c[j] += dt_min * p[j];
  }

  OPTKERN_HD static T small_dot(Strided<T> a, Strided<T> b, int count) {
    T sum = T(0);
    for (int j = 0; j < count; ++j) sum += a[j] * b[j];
    return sum;
  }

  // Brings Y'ZZ'Y, S'ZZ'Y (over the free set) and S'AA'S (over the active set) up to date for
  // the free set in kFree: the variables that entered or left it since the last call change
  // the kept pairs' entries by rank-one terms (O(m^2) each, as SciPy's formk), and the pairs
  // added since get a row and column (O(n m) each). When more than half the variables
  // changed, or the memory was reset, everything is recomputed.
  OPTKERN_HD_NOINLINE void update_free_blocks() {
    const index_t n = core_.n(), s = stride();
    const int k = pairs_;
    int kept = blocks_;
    T* now = vec(kFree);
    T* before = vec(kFreeBlocks);
    if (kept > 0) {
      index_t changed = 0;
      for (index_t i = 0; i < n; ++i) changed += now[i * s] != before[i * s];
      if (2 * changed > n) {
        kept = 0;
      } else if (changed > 0) {
        const Strided<T> ya = small_vec(kRow), sa = ya.at(o_.m);
        for (index_t i = 0; i < n; ++i) {
          const index_t at = i * s;
          if (now[at] == before[at]) continue;
          const T sign = now[at] != T(0) ? T(1) : T(-1);  // entered the free set: + in Z
          for (int a = 0; a < kept; ++a) {
            ya[a] = y_vec(slot(a))[at];
            sa[a] = s_vec(slot(a))[at];
          }
          for (int bcol = 0; bcol < kept; ++bcol) {
            const T yb = sign * ya[bcol], sb = sign * sa[bcol];
            for (int a = 0; a < kept; ++a) {
              mat(kYZY, a, bcol) += ya[a] * yb;
              mat(kSZY, a, bcol) += sa[a] * yb;
              mat(kSAS, a, bcol) -= sa[a] * sb;
            }
          }
        }
      }
    }
    for (index_t i = 0; i < n; ++i) before[i * s] = now[i * s];
    for (int c = kept; c < k; ++c) {  // pair c's row and column: one pass per older pair
      const T* yc = y_vec(slot(c));
      const T* sc = s_vec(slot(c));
      for (int a = 0; a <= c; ++a) {
        const T* ya = y_vec(slot(a));
        const T* sa = s_vec(slot(a));
        T yzy = T(0), szy_a = T(0), szy_c = T(0), sas = T(0);
        for (index_t i = 0; i < n; ++i) {
          const index_t at = i * s;
          if (now[at] != T(0)) {
            yzy += ya[at] * yc[at];
            szy_a += sa[at] * yc[at];  // s_a' Z Z' y_c
            szy_c += sc[at] * ya[at];  // s_c' Z Z' y_a
          } else {
            sas += sc[at] * sa[at];
          }
        }
        mat(kYZY, a, c) = mat(kYZY, c, a) = yzy;
        mat(kSZY, c, a) = szy_c;
        mat(kSZY, a, c) = szy_a;
        mat(kSAS, a, c) = mat(kSAS, c, a) = sas;
      }
    }
    blocks_ = k;
  }

  // xbar - x into p: subspace minimisation over the variables free at the Cauchy point
  // (sec. 5.1), then the projection of L-BFGS-B 3.0.
  OPTKERN_HD_NOINLINE void subspace_direction() {
    const index_t n = core_.n(), s = stride();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    T* p = b.p;
    const T* xcp = vec(kCauchy);
    T* r = vec(kReduced);
    T* is_free = vec(kFree);
    const int k = pairs_;
    const int k2 = 2 * k;
    index_t count = 0;
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      const bool free_now = xcp[at] > lower_[at] && xcp[at] < upper_[at];
      is_free[at] = free_now ? T(1) : T(0);
      count += free_now;
      p[at] = xcp[at] - x[at];
    }
    if (count == 0 || k == 0) {
      // B = theta I: the model's minimiser over the free variables is xcp - r / theta.
      if (k == 0) {
        for (index_t i = 0; i < n; ++i) {
          const index_t at = i * s;
          if (is_free[at] != T(0)) p[at] -= (g[at] + theta_ * (xcp[at] - x[at])) / theta_;
        }
        project_or_truncate();
      }
      return;
    }
    update_free_blocks();
    // The reduced gradient r = Z'(g + theta (xcp - x) - W M c), zero outside the free set,
    // and v = [Y'Z r; theta S'Z r].
    const Strided<T> Mw = small_vec(kMw), v = small_vec(kV), z = small_vec(kZ);
    middle_.solve(small_vec(kC), Mw);
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      r[at] = is_free[at] != T(0) ? g[at] + theta_ * (xcp[at] - x[at]) - w_row_dot(at, Mw) : T(0);
    }
    for (int j = 0; j < k; ++j) {
      v[j] = dot(n, r, y_vec(slot(j)), core_.layout());
      v[k + j] = theta_ * dot(n, r, s_vec(slot(j)), core_.layout());
    }
    // du = -r/theta - Z'W Khat^{-1} W'Z r / theta^2 with
    // Khat = M^{-1} - W'ZZ'W/theta = [[-(D + Y'ZZ'Y/theta), L' - Y'ZZ'S],
    //                                 [L - S'ZZ'Y, theta S'AA'S]].
    SmallBlockSolver<T>& rb = reduced_;
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        if (i >= j) {
          rb.lf(i, j) = mat(kYZY, i, j) / theta_ + (i == j ? mat(kSY, i, i) : T(0));
          rb.lc(i, j) = theta_ * mat(kSAS, i, j);
        }
        rb.e(i, j) = (i > j ? mat(kSY, i, j) : T(0)) - mat(kSZY, i, j);
      }
    }
    if (rb.factor(k)) {
      rb.solve(v, z);
    } else {
      reduced_by_elimination(v, z);
    }
    const T scale = T(1) / (theta_ * theta_);
    for (int j = 0; j < k2; ++j) z[j] *= scale;
    bool finite = true;
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      if (is_free[at] != T(0)) p[at] -= r[at] / theta_ + w_row_dot(at, z);
      finite = finite && is_finite(p[at]);
    }
    if (!finite) {  // a singular middle matrix: fall back to the Cauchy point
      for (index_t i = 0; i < n; ++i) p[i * s] = xcp[i * s] - x[i * s];
      return;
    }
    project_or_truncate();
  }

  // Khat z = v by Gaussian elimination with partial pivoting on the whole 2k x 2k matrix,
  // where rounding made a Cholesky factorization of SmallBlockSolver fail (rare). A zero
  // pivot leaves Inf or NaN in z, which the caller catches.
  OPTKERN_HD_NOINLINE void reduced_by_elimination(Strided<T> v, Strided<T> z) {
    const int k = pairs_, k2 = 2 * k;
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        full(i, j) = -mat(kYZY, i, j) / theta_ - (i == j ? mat(kSY, i, i) : T(0));
        const T e = (i > j ? mat(kSY, i, j) : T(0)) - mat(kSZY, i, j);
        full(k + i, j) = e;
        full(j, k + i) = e;
        full(k + i, k + j) = theta_ * mat(kSAS, i, j);
      }
    }
    for (int i = 0; i < k2; ++i) z[i] = v[i];
    const index_t mm = index_t(o_.m) * o_.m;
    pivoted_solve(small_.at(5 * mm + small_block_solver_size(o_.m)), 2 * o_.m, k2, z);
  }

  // p = xbar - x: project xbar onto the box; if that is no descent direction, take the
  // largest step along du from xcp that stays in the box instead.
  OPTKERN_HD_NOINLINE void project_or_truncate() {
    const index_t n = core_.n(), s = stride();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    T* p = b.p;
    const T* xcp = vec(kCauchy);
    const T* is_free = vec(kFree);
    const T* lower = lower_;
    const T* upper = upper_;
    const T slope = sum_terms<T>(n, core_.layout(), [=](index_t at) {
      return (min_value(max_value(x[at] + p[at], lower[at]), upper[at]) - x[at]) * g[at];
    });
    if (slope < T(0)) {
      for (index_t i = 0; i < n; ++i) {
        const index_t at = i * s;
        p[at] = clamp(at, x[at] + p[at]) - x[at];
      }
      return;
    }
    T alpha = T(1);
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      if (is_free[at] == T(0)) continue;
      const T du = p[at] - (xcp[at] - x[at]);
      if (du > T(0)) {
        alpha = min_value(alpha, (upper_[at] - xcp[at]) / du);
      } else if (du < T(0)) {
        alpha = min_value(alpha, (lower_[at] - xcp[at]) / du);
      }
    }
    alpha = max_value(alpha, T(0));
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      if (is_free[at] == T(0)) continue;
      const T du = p[at] - (xcp[at] - x[at]);
      p[at] = clamp(at, xcp[at] + alpha * du) - x[at];
    }
  }

  // The largest step along p that keeps x in the box (SciPy's lnsrlb); +Inf if none.
  OPTKERN_HD T largest_step() const {
    const index_t n = core_.n(), s = stride();
    const auto& b = core_.buffers();
    const T inf = std::numeric_limits<T>::infinity();
    T step = inf;
    for (index_t i = 0; i < n; ++i) {
      const index_t at = i * s;
      const T di = b.p[at];
      if (di < T(0) && lower_[at] > -inf) {
        const T room = lower_[at] - b.x[at];
        if (room >= T(0)) return T(0);
        if (di * step < room) step = room / di;
      } else if (di > T(0) && upper_[at] < inf) {
        const T room = upper_[at] - b.x[at];
        if (room <= T(0)) return T(0);
        if (di * step > room) step = room / di;
      }
    }
    return step;
  }

  OPTKERN_HD_NOINLINE Request begin_search() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    if (core_.gradient_norm() <= o_.gtol) return core_.finish(Status::kGradientConverged);
    for (;;) {
      if (pairs_ == 0) theta_ = T(1);
      if (pairs_ > 0 && !factor_middle()) {
        // theta S'S + L D^{-1} L' lost its definiteness to rounding: restart from theta I
        drop_memory();
        continue;
      }
      cauchy_point();
      subspace_direction();
      const T slope = dot(n, b.g, b.p, core_.layout());
      T step_max = largest_step();
      if (slope < T(0) && step_max > T(0) && is_finite(slope)) {
        const bool first = core_.counters().nit == 0 || pairs_ == 0;
        if (first && boxed_) step_max = min_value(step_max, T(1));
        T step = T(1);
        const T p_norm = square_root(dot(n, b.p, b.p, core_.layout()));
        const T cap = unit_step_max(p_norm);
        if (first && !boxed_) step = min_value(T(1) / p_norm, step_max);
        search_.set_step_max(min_value(step_max, cap), step_max < cap);
        if (search_.start(core_.f(), slope, step) == SearchState::kEvaluate) {
          const Request r = core_.trial(search_.step());
          if (r == Request::kEvaluate) clamp_trial();
          return r;
        }
      }
      if (pairs_ == 0) {
        // No descent direction even along the projected gradient path: x is stationary to
        // rounding (or the gradient is wrong).
        return core_.finish(Status::kLineSearchFailed);
      }
      drop_memory();  // rounding spoilt the quasi-Newton direction: start again from theta I
    }
  }

  OPTKERN_HD_NOINLINE Request accept(T f_trial) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    T* s = vec(kBreak);  // free between iterations: s and y until add_pair() stores them
    T* y = vec(kReduced);
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
      add_pair(s, y, sy, yy);
    }
    const Request r = core_.moved(f_trial);
    update_gradient_norm();
    return r;
  }

  // Moves a pair-ordered block one pair up and left (the oldest pair leaves).
  OPTKERN_HD void shift_block(Matrix which) {
    const int m = o_.m;
    for (int j = 0; j + 1 < m; ++j) {
      for (int i = 0; i + 1 < m; ++i) mat(which, i, j) = mat(which, i + 1, j + 1);
    }
  }

  // Stores the pair and the new row and column of S'S and of S'Y's lower triangle.
  OPTKERN_HD_NOINLINE void add_pair(const T* s, const T* y, T sy, T yy) {
    const index_t n = core_.n(), st = stride();
    const int m = o_.m;
    if (pairs_ == m) {  // drop the oldest pair: its slot is the new pair's
      head_ = (head_ + 1) % m;
      --pairs_;
      shift_block(kSS);
      shift_block(kSY);
      shift_block(kYZY);
      shift_block(kSZY);
      shift_block(kSAS);
      blocks_ = max_value(blocks_ - 1, 0);
    }
    const int k = pairs_;
    for (int j = 0; j < k; ++j) {
      mat(kSY, k, j) = dot(n, s, y_vec(slot(j)), core_.layout());  // s_k' y_j
      mat(kSS, k, j) = mat(kSS, j, k) = dot(n, s, s_vec(slot(j)), core_.layout());
    }
    T* s_new = s_vec(slot(k));
    T* y_new = y_vec(slot(k));
    for (index_t i = 0; i < n; ++i) {
      s_new[i * st] = s[i * st];
      y_new[i * st] = y[i * st];
    }
    mat(kSS, k, k) = dot(n, s, s, core_.layout());
    mat(kSY, k, k) = sy;
    theta_ = yy / sy;
    ++pairs_;
  }

  DescentCore<T, L> core_;
  LbfgsOptions<T> o_;
  T* pairs_base_;
  T* vectors_;
  Strided<T> small_;
  const T* lower_;
  const T* upper_;
  StrongWolfeSearch<T> search_;
  SearchFallback<T> fallback_;
  SmallBlockSolver<T> middle_, reduced_;
  int pairs_ = 0;
  int head_ = 0;
  int blocks_ = 0;
  T theta_ = T(1);
  bool boxed_ = true;
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
