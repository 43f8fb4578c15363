// L-BFGS-B: L-BFGS with bound constraints l <= x <= u, for any C++ objective:
//
//   #include <optkern/optimize/lbfgsb.hpp>
//   auto fg = [](const Eigen::VectorXd& x, Eigen::VectorXd& g) { g = 2 * (x.array() - 2).matrix();
//                                                                return (x.array() - 2).square().sum(); };
//   Eigen::VectorXd x = Eigen::VectorXd::Zero(3), lo = -Eigen::VectorXd::Ones(3), hi = Eigen::VectorXd::Ones(3);
//   auto r = optkern::optimize::lbfgsb(fg, x, lo, hi);   // x is now (1, 1, 1)
//
// Bounds may be -Inf / +Inf (no bound). The algorithm is that of R. H. Byrd, P. Lu,
// J. Nocedal and C. Zhu, "A limited memory algorithm for bound constrained optimization",
// SIAM J. Sci. Comput. 16(5), 1995, with the projection step of J. L. Morales and
// J. Nocedal, "Remark on algorithm 778", ACM TOMS 38(1), 2011 (L-BFGS-B 3.0, as in SciPy):
//
//  1. The generalized Cauchy point x^c: the first local minimiser of the quadratic model
//     m(x) = f + g'(x - x_k) + (x - x_k)'B(x - x_k)/2 along the projected steepest descent
//     path P(x_k - t g), found segment by segment between the breakpoints (paper sec. 4),
//     with B in the compact form B = theta I - W M W', W = [Y, theta S] (sec. 3).
//  2. Subspace minimisation of m over the variables free at x^c (the direct primal method,
//     sec. 5.1), projected onto the box; if that gives no descent direction, the step is
//     truncated to the box instead (Morales-Nocedal).
//  3. The strong Wolfe search of line_search.hpp along d = xbar - x_k, its largest step the
//     one that keeps x in the box (step 1 on the first iteration of a bounded problem).
//  4. Stop when the projected gradient P(x - g) - x is at most gtol in max norm, or on
//     SciPy's relative decrease of f (ftol), or a limit.
//
// A pair with s'y <= eps y'y is skipped. A failed search ends as in search_fallback.hpp
// (best point with sufficient decrease; else the memory is dropped and the search retried;
// else stop).
//
// Cost per iteration (n variables, m pairs): a few passes over the n x 2m pairs and O(m^3)
// on m x m matrices. The middle matrix M (step 1) is never formed: its inverse is
// factorised by Cholesky of theta S'S + L D^{-1} L' (m x m). Step 2 solves with the 2m x 2m
// matrix M^{-1} - W'ZZ'W/theta (Sherman-Morrison-Woodbury on the reduced Hessian), again by
// two m x m Cholesky factorizations (BlockSolver), from Gram blocks over the free and active
// variables that are updated, not rebuilt: a new pair adds one row and column (O(n m)), and
// each variable entering or leaving the free set a rank-one term (O(m^2)). The pairs are a
// ring of columns (no shifting). Host code (Eigen); the loop allocates nothing.
// Per iteration at n = 1000, m = 10 it reads the n x 2m pairs three times: once to store
// the new pair and get both its products with the old ones and W'd for the next Cauchy
// point (pair_pass), once for the reduced gradient with the new pair's Gram blocks
// (deferred_pass), once over the free rows for the step; the O(n) work is four
// vectorised branch-free passes (accept, the Cauchy scan, the projection with its slope
// and largest step, the trial point) and one scalar one (the free set).
// lbfgsb_machine.hpp has the same algorithm for host and device over caller-owned buffers in
// any layout (the CUDA batch path runs it, one problem per thread).
#pragma once

#include <Eigen/Core>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/lbfgs.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/search_fallback.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

// The projected gradient's largest component: g_i clipped to what the box allows at x_i
// (SciPy's projgr). lower/upper may be null (no bounds).
template <class T>
T projected_gradient_norm(index_t n, const T* x, const T* g, const T* lower, const T* upper) {
  T worst = T(0);
  for (index_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (!is_finite(gi)) return std::numeric_limits<T>::infinity();
    if (lower != nullptr) {
      if (gi < T(0)) {
        gi = max_value(x[i] - upper[i], gi);
      } else {
        gi = min_value(x[i] - lower[i], gi);
      }
    }
    worst = max_value(worst, abs_value(gi));
  }
  return worst;
}

// z = K^{-1} v for a 2k x 2k matrix K = [[-F, E'], [E, C]] with F and the Schur complement
// C + E F^{-1} E' symmetric positive definite: the middle matrices of L-BFGS-B (the paper's
// eq. 3.4, and its reduced form of sec. 5.1). Factorised as F = LF LF' and
// C + G'G = LC LC' with G = LF^{-1} E', by two k x k Cholesky factorizations (no 2k x 2k LU).
// The caller writes F's and C's lower triangles into LF and LC and E into E, then calls
// factor(). Storage is m x m (column-major, leading dimension m) for every k <= m.
template <class T>
class BlockSolver {
 public:
  explicit BlockSolver(int m)
      : LF(std::size_t(m * m)), LC(std::size_t(m * m)), E(std::size_t(m * m)), m_(m),
        G_(std::size_t(m * m)), w_(std::size_t(m)) {}

  T& lf(int i, int j) { return LF[std::size_t(i + j * m_)]; }
  T& lc(int i, int j) { return LC[std::size_t(i + j * m_)]; }
  T& e(int i, int j) { return E[std::size_t(i + j * m_)]; }

  // False if F or the Schur complement is not numerically positive definite. With
  // diagonal_lower, F is diagonal and E strictly lower triangular (the middle matrix of
  // eq. 3.4), which saves most of the work.
  bool factor(int k, bool diagonal_lower = false) {
    k_ = k;
    diagonal_ = diagonal_lower;
    if (diagonal_) {
      for (int j = 0; j < k; ++j) {
        const T d = lf(j, j);
        if (!(d > T(0)) || !is_finite(d)) return false;
        lf(j, j) = square_root(d);
      }
      for (int j = 0; j < k; ++j) {  // G(:, j) = LF^{-1} E(j, :)', zero from row j on
        T* gj = G_.data() + j * m_;
        for (int i = 0; i < j; ++i) gj[i] = E[std::size_t(j + i * m_)] / lf(i, i);
        for (int i = j; i < k; ++i) gj[i] = T(0);
      }
    } else {
      if (!cholesky(LF.data(), k)) return false;
      for (int j = 0; j < k; ++j) {  // G(:, j) = LF^{-1} E(j, :)'
        T* gj = G_.data() + j * m_;
        for (int i = 0; i < k; ++i) gj[i] = E[std::size_t(j + i * m_)];
        forward(LF.data(), gj);
      }
    }
    for (int j = 0; j < k; ++j) {  // LC += G'G (lower triangle)
      const T* gj = G_.data() + j * m_;
      const int rows = diagonal_ ? j : k;  // G(p, j) = 0 for p >= j when diagonal_
      for (int i = j; i < k; ++i) {
        const T* gi = G_.data() + i * m_;
        T sum = T(0);
        for (int p = 0; p < rows; ++p) sum += gi[p] * gj[p];
        LC[std::size_t(i + j * m_)] += sum;
      }
    }
    return cholesky(LC.data(), k);
  }

  // z = K^{-1} v (2k elements each; z may not alias v).
  void solve(const T* v, T* z) {
    const int k = k_;
    T* w = w_.data();
    for (int i = 0; i < k; ++i) w[i] = v[i];
    forward(LF.data(), w);  // w = LF^{-1} v1
    T* z2 = z + k;
    for (int j = 0; j < k; ++j) {  // z2 = v2 + G'w
      const T* gj = G_.data() + j * m_;
      T sum = v[k + j];
      for (int p = 0; p < k; ++p) sum += gj[p] * w[p];
      z2[j] = sum;
    }
    forward(LC.data(), z2);
    backward(LC.data(), z2);  // z2 = (C + G'G)^{-1} (v2 + E F^{-1} v1)
    for (int i = 0; i < k; ++i) z[i] = -w[i];
    for (int j = 0; j < k; ++j) {  // z1 = LF^{-T} (G z2 - w) = F^{-1} (E' z2 - v1)
      const T* gj = G_.data() + j * m_;
      const T zj = z2[j];
      for (int i = 0; i < k; ++i) z[i] += gj[i] * zj;
    }
    backward(LF.data(), z);
  }

  std::vector<T> LF, LC, E;

 private:
  // In place A = L L' on the k x k leading block (lower triangle).
  bool cholesky(T* a, int k) const {
    for (int j = 0; j < k; ++j) {
      T* aj = a + j * m_;
      T d = aj[j];
      for (int p = 0; p < j; ++p) d -= a[j + p * m_] * a[j + p * m_];
      if (!(d > T(0)) || !is_finite(d)) return false;
      d = square_root(d);
      aj[j] = d;
      for (int i = j + 1; i < k; ++i) {
        T sum = aj[i];
        for (int p = 0; p < j; ++p) sum -= a[i + p * m_] * a[j + p * m_];
        aj[i] = sum / d;
      }
    }
    return true;
  }
  void forward(const T* l, T* x) const {  // x = L^{-1} x
    if (diagonal_ && l == LF.data()) {
      for (int j = 0; j < k_; ++j) x[j] /= l[j + j * m_];
      return;
    }
    for (int j = 0; j < k_; ++j) {
      const T* lj = l + j * m_;
      const T xj = x[j] / lj[j];
      x[j] = xj;
      for (int i = j + 1; i < k_; ++i) x[i] -= lj[i] * xj;
    }
  }
  void backward(const T* l, T* x) const {  // x = L'^{-1} x
    if (diagonal_ && l == LF.data()) {
      for (int j = 0; j < k_; ++j) x[j] /= l[j + j * m_];
      return;
    }
    for (int i = k_ - 1; i >= 0; --i) {
      const T* li = l + i * m_;
      T sum = x[i];
      for (int p = i + 1; p < k_; ++p) sum -= li[p] * x[p];
      x[i] = sum / li[i];
    }
  }

  int m_;
  int k_ = 0;
  bool diagonal_ = false;
  std::vector<T> G_, w_;
};

// Reverse-communication L-BFGS-B (protocol: descent_core.hpp); host only. lower and upper
// (n elements each, -Inf / +Inf for no bound) must outlive the machine.
template <class T>
class LbfgsbMachine {
 public:
  using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  LbfgsbMachine(index_t n, const LbfgsOptions<T>& options, const DescentBuffers<T>& b,
                const T* lower, const T* upper)
      : core_(n, options, b, Contiguous{}),
        o_(options),
        lower_(lower),
        upper_(upper),
        search_(options.c1, options.c2, options.max_ls),
        W_(RowMat::Zero(n, 2 * options.m)),
        SS_(options.m, options.m),
        SY_(options.m, options.m),
        YZY_(options.m, options.m),
        SZY_(options.m, options.m),
        SAS_(options.m, options.m),
        middle_(options.m),
        reduced_(options.m),
        xcp_(n),
        t_(n),
        d_(n),
        r_(n),
        projected_(n),
        s_(n),
        y_(n),
        p2_(2 * options.m),
        c_(2 * options.m),
        Mw_(2 * options.m),
        wb_(2 * options.m),
        v2_(2 * options.m),
        z2_(2 * options.m),
        ws_(2 * options.m),
        wd_(2 * options.m),
        acc_(2 * options.m, 3),
        ordered_(std::size_t(n)),
        free_now_(std::size_t(n), 0),
        free_blocks_(std::size_t(n), 0) {
    free_.reserve(std::size_t(n));
    boxed_ = true;
    for (index_t i = 0; i < n; ++i) {
      boxed_ = boxed_ && is_finite(lower[i]) && is_finite(upper[i]);
    }
  }

  Request start() {
    T* x = core_.buffers().x;
    for (index_t i = 0; i < core_.n(); ++i) x[i] = clamp(i, x[i]);  // x0 into the box
    scan_ready_ = false;
    return core_.start();
  }

  Request tell(T f_trial) {
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

  Request tell_hessian() { return core_.finish(Status::kRunning); }  // unused

  Request proceed(bool stop = false) {
    return fallback_.proceed(core_, stop, [&] { return begin_search(); });
  }

  T f() const { return core_.f(); }
  T gradient_norm() const { return core_.gradient_norm(); }
  Status status() const { return core_.status(); }
  const Counters& counters() const { return core_.counters(); }
  int pairs() const { return pairs_; }

  // Copies the kept pairs, oldest first, into s_out and y_out (pairs() rows of n each).
  int copy_pairs(T* s_out, T* y_out) const {
    const index_t n = core_.n();
    for (int j = 0; j < pairs_; ++j) {
      for (index_t i = 0; i < n; ++i) {
        s_out[j * n + i] = s_at(i, slot(j));
        y_out[j * n + i] = y_at(i, slot(j));
      }
    }
    return pairs_;
  }

 private:
  T clamp(index_t i, T v) const { return min_value(max_value(v, lower_[i]), upper_[i]); }

  void clamp_trial() {
    T* xt = core_.buffers().xt;
    for (index_t i = 0; i < core_.n(); ++i) xt[i] = clamp(i, xt[i]);
  }

  void update_gradient_norm() {
    const auto& b = core_.buffers();
    core_.set_gradient_norm(projected_gradient_norm(core_.n(), b.x, b.g, lower_, upper_));
  }

  // The pairs live in W_ (n x 2m, row-major: row i holds component i of every y, then of
  // every s), as a ring: pair j (0 = the oldest) in column slot(j) of Y = W_.leftCols(m) and
  // of S = W_.rightCols(m). Slots that hold no kept pair hold zeros or an old pair (finite);
  // products over all 2m columns ignore them or give them zero weight.
  int slot(int j) const { return (head_ + j) % o_.m; }
  T y_at(index_t i, int sl) const { return W_(i, sl); }
  T s_at(index_t i, int sl) const { return W_(i, o_.m + sl); }

  void drop_memory() {
    pairs_ = 0;
    head_ = 0;
    blocks_ = 0;
  }

  // ws_ = the coefficients of W u = Y u1 + theta S u2 by slot (u: 2k elements in pair order).
  void w_coefficients(const T* u) {
    const int k = pairs_, m = o_.m;
    ws_.setZero();
    for (int j = 0; j < k; ++j) {
      ws_[slot(j)] = u[j];
      ws_[m + slot(j)] = theta_ * u[k + j];
    }
  }

  // Factorises K = M^{-1} = [[-D, L'], [L, theta S'S]] (paper eq. 3.4): F = D, E = L,
  // C = theta S'S, so the Schur complement is theta S'S + L D^{-1} L' (SciPy's formt).
  bool factor_middle() {
    const int k = pairs_;
    BlockSolver<T>& b = middle_;
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        b.lf(i, j) = i == j ? SY_(i, i) : T(0);
        b.e(i, j) = i > j ? SY_(i, j) : T(0);
        if (i >= j) b.lc(i, j) = theta_ * SS_(i, j);
      }
    }
    return b.factor(k, true);
  }

  // Row i of W = [Y, theta S] (2k elements, pair order) into w.
  void w_row(index_t i, Vec& w) const {
    const int k = pairs_;
    for (int j = 0; j < k; ++j) {
      w[j] = y_at(i, slot(j));
      w[k + j] = theta_ * s_at(i, slot(j));
    }
  }

  // Variable i's part of the Cauchy point's first scan (paper Algorithm CP): its breakpoint
  // t_i, where x_i - t g_i reaches the bound that -g_i points to (<= 0 if x_i is there
  // already; +Inf, -Inf or NaN if never: an infinite bound or g_i = 0), d_i = -g_i, or 0 for
  // a variable held at its bound, and xcp_i = x_i; lowers t_first to t_i if that is a
  // breakpoint (0 < t_i < Inf). Branch-free and vectorised (the signs and the bounds that
  // matter change from one variable to the next). Written so that no arithmetic depends on
  // a condition: GCC, under its default -ftrapping-math, keeps such arithmetic behind a
  // branch and then vectorises nothing. d'd is summed by the caller's next loop.
  // room = x_i - (that bound): bound_room().
  static void scan_variable(index_t i, T xi, T gi, T room, T* t, T* d, T* xc, T& t_first) {
    const T ti = room / gi;
    t[i] = ti;
    d[i] = ti <= T(0) ? T(0) : -gi;
    xc[i] = xi;
    t_first = min_value(t_first, ti > T(0) ? ti : std::numeric_limits<T>::infinity());
  }

  // d'd, for f' = -d'd.
  T squared_direction() const {
    const T* d = d_.data();
    T dd = T(0);
    OPTKERN_SIMD_SUM(dd)
    for (index_t i = 0; i < core_.n(); ++i) dd += d[i] * d[i];
    return dd;
  }

  // x_i minus the bound that -g_i points to (the upper one for g_i < 0), +-Inf if none.
  static T bound_room(index_t i, T xi, T gi, const T* lo, const T* hi) {
    const T h = hi[i], l = lo[i];
    return xi - (gi < T(0) ? h : l);
  }

  // What the scan leaves for the breakpoint search: f' = -d'd and the smallest breakpoint.
  struct CauchyScan {
    T fp, t_first;
  };

  // The breakpoints 0 < t_i < Inf into ordered_ (branch-free: they may alternate); returns
  // how many. Needed only when the Cauchy search reaches the first of them.
  index_t collect_breakpoints() {
    const T inf = std::numeric_limits<T>::infinity();
    index_t* ordered = ordered_.data();
    const T* t = t_.data();
    index_t count = 0;
    for (index_t i = 0; i < core_.n(); ++i) {
      ordered[count] = i;
      count += t[i] > T(0) && t[i] < inf;
    }
    return count;
  }

  // The scan at the current x and g, and wd_ = W'd (slot order), unless accept() did both
  // already in its own passes (ready_scan_).
  CauchyScan cauchy_scan() {
    if (scan_ready_) {
      scan_ready_ = false;
      return ready_scan_;
    }
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    const T* lo = lower_;
    const T* hi = upper_;
    T* t = t_.data();
    T* d = d_.data();
    T* xc = xcp_.data();
    T t_first = std::numeric_limits<T>::infinity();
    OPTKERN_SIMD_REDUCE(reduction(min : t_first))
    for (index_t i = 0; i < n; ++i) {
      scan_variable(i, x[i], g[i], bound_room(i, x[i], g[i], lo, hi), t, d, xc, t_first);
    }
    if (pairs_ > 0) wd_.noalias() = W_.transpose() * d_;
    return CauchyScan{-squared_direction(), t_first};
  }

  // The generalized Cauchy point (paper Algorithm CP): the step t along the projected path
  // where its first local minimiser lies, with the variables whose breakpoints come before t
  // fixed at their bounds in xcp_ (d_ zero there); c = W'(xcp - x) into c_. Returns t; the
  // other variables' xcp_i = clamp(x_i + t d_i) is left to free_variables().
  T cauchy_point() {
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    const int k = pairs_;
    const int k2 = 2 * k;
    const T inf = std::numeric_limits<T>::infinity();
    const CauchyScan scan = cauchy_scan();
    index_t count = 0;
    T fp = scan.fp;
    auto p = p2_.head(k2);
    auto c = c_.head(k2);
    auto Mw = Mw_.head(k2);
    c.setZero();
    T fpp = -theta_ * fp;
    if (k > 0) {
      for (int j = 0; j < k; ++j) {  // p = W'd = [Y'd; theta S'd] in pair order
        p[j] = wd_[slot(j)];
        p[k + j] = theta_ * wd_[o_.m + slot(j)];
      }
      middle_.solve(p.data(), Mw.data());
      fpp -= p.dot(Mw);
    }
    // The breakpoints in a heap, smallest first: the search usually stops after a few of
    // them, so a full sort would waste O(n log n) per iteration (SciPy uses a heap too).
    // Most often it stops before the first one: then no heap is built.
    const auto later = [&](index_t a, index_t c2) { return t_[a] > t_[c2]; };
    const auto first = ordered_.begin();
    const T tiny = std::numeric_limits<T>::epsilon();
    T dt_min = fpp > tiny * abs_value(fp) ? -fp / fpp : inf;
    if (!(dt_min < scan.t_first)) {  // else no breakpoint is reached (count stays 0)
      count = collect_breakpoints();
      std::make_heap(first, first + count, later);
    }
    index_t heap_end = count;
    T t_old = T(0);
    index_t next = 0;
    while (next < count) {
      const index_t bi = ordered_[0];  // the smallest breakpoint left
      const T dt = t_[bi] - t_old;
      if (dt_min < dt) break;
      std::pop_heap(first, first + heap_end, later);  // bi moves to ordered_[heap_end - 1]
      --heap_end;
      // The variable reaches its bound: fix it there and update f' and f'' (paper eq. 4.9).
      const T xb = d_[bi] > T(0) ? upper_[bi] : lower_[bi];
      const T zb = xb - x[bi];
      xcp_[bi] = xb;
      const T gb = g[bi];
      if (k > 0) {
        auto wb = wb_.head(k2);
        w_row(bi, wb_);
        c += dt * p;
        middle_.solve(wb.data(), Mw.data());
        fp += dt * fpp + gb * gb + theta_ * gb * zb - gb * Mw.dot(c);
        fpp += -theta_ * gb * gb - T(2) * gb * Mw.dot(p) - gb * gb * Mw.dot(wb);
        p += gb * wb;
      } else {
        fp += dt * fpp + gb * gb + theta_ * gb * zb;
        fpp -= theta_ * gb * gb;
      }
      d_[bi] = T(0);
      dt_min = fpp > tiny * abs_value(fp) ? -fp / fpp : (fp < T(0) ? inf : T(0));
      t_old = t_[bi];
      ++next;
    }
    if (!is_finite(dt_min)) dt_min = T(0);  // only when no free direction is left
    dt_min = max_value(dt_min, T(0));
    c += dt_min * p;
    return t_old + dt_min;
  }

  // Completes xcp_ for the step t of cauchy_point() (the variables not fixed at a bound on
  // the way), finds the variables free there (strictly inside their bounds) into free_ and
  // free_now_, and sets p = xcp - x. One branch-free pass; returns how many variables
  // changed between free and active since the Gram blocks were last brought up to date.
  index_t free_variables(T t) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const T* x = b.x;
    T* p = b.p;
    const T* d = d_.data();
    const T* lo = lower_;
    const T* hi = upper_;
    T* xc = xcp_.data();
    unsigned char* now = free_now_.data();
    const unsigned char* before = free_blocks_.data();
    free_.resize(std::size_t(n));  // within the capacity reserved: no allocation
    index_t* list = free_.data();
    index_t count = 0, changed = 0;
    for (index_t i = 0; i < n; ++i) {
      const T di = d[i];
      // d_i = 0: held at a bound from the start, fixed on the way (xcp_i set), or g_i = 0
      const T xci = di != T(0) ? min_value(max_value(x[i] + t * di, lo[i]), hi[i]) : xc[i];
      xc[i] = xci;
      p[i] = xci - x[i];
      const bool is_free = (xci > lo[i]) & (xci < hi[i]);
      now[i] = is_free;
      changed += is_free != bool(before[i]);
      list[count] = i;
      count += is_free;
    }
    free_.resize(std::size_t(count));
    return changed;
  }

  // Brings the Gram blocks over the free set (Y'ZZ'Y, S'ZZ'Y) and over the active set
  // (S'AA'S) up to date for the free set in free_now_: the variables that entered or left
  // the free set since the last call change the old pairs' entries by rank-one terms
  // (O(m^2) each, as SciPy's formk), and the pairs added since get a new row and column
  // (O(n m) each). When more than half the variables changed, or the memory was reset,
  // everything is recomputed.
  // changed: how many variables differ between free_now_ and free_blocks_. With
  // defer_last, a single new pair's row and column is left to the caller (blocks_ ends one
  // short); returns whether it was.
  bool update_free_blocks(bool defer_last, index_t changed) {
    const index_t n = core_.n();
    const int k = pairs_;
    int kept = blocks_;
    if (kept > 0) {
      if (2 * changed > n) {
        kept = 0;
      } else if (changed > 0) {
        T* ya = ws_.data();
        T* sa = ws_.data() + o_.m;
        for (index_t i = 0; i < n; ++i) {
          const unsigned char now = free_now_[std::size_t(i)];
          if (now == free_blocks_[std::size_t(i)]) continue;
          const T sign = now ? T(1) : T(-1);  // entered the free set: + in Z, - in A
          for (int a = 0; a < kept; ++a) {
            ya[a] = y_at(i, slot(a));
            sa[a] = s_at(i, slot(a));
          }
          for (int bcol = 0; bcol < kept; ++bcol) {
            const T yb = sign * ya[bcol], sb = sign * sa[bcol];
            for (int a = 0; a < kept; ++a) {
              YZY_(a, bcol) += ya[a] * yb;
              SZY_(a, bcol) += sa[a] * yb;
              SAS_(a, bcol) -= sa[a] * sb;
            }
          }
        }
      }
    }
    for (index_t i = 0; i < n; ++i) free_blocks_[std::size_t(i)] = free_now_[std::size_t(i)];
    if (defer_last && kept == k - 1) {
      blocks_ = kept;
      return true;
    }
    const int m = o_.m, m2 = 2 * m;
    for (int c = kept; c < k; ++c) {  // pair c's row and column: one pass over W_
      const int sc = slot(c);
      acc_.setZero();
      T* zy = acc_.col(1).data();  // W'ZZ'y_c
      T* zs = acc_.col(2).data();  // [Y'ZZ's_c; S'AA's_c]
      for (index_t i = 0; i < n; ++i) {
        const T* row = W_.data() + i * m2;
        if (free_now_[std::size_t(i)] != 0) {
          const T yi = row[sc], si = row[m + sc];
          for (int j = 0; j < m2; ++j) zy[j] += yi * row[j];
          for (int j = 0; j < m; ++j) zs[j] += si * row[j];
        } else {
          const T si = row[m + sc];
          for (int j = m; j < m2; ++j) zs[j] += si * row[j];
        }
      }
      store_pair_column(c, zy, zs);
    }
    blocks_ = k;
    return false;
  }

  // Pair c's row and column of the blocks from zy = W'ZZ'y_c and zs = [Y'ZZ's_c; S'AA's_c]
  // (slot order).
  void store_pair_column(int c, const T* zy, const T* zs) {
    const int m = o_.m;
    for (int a = 0; a <= c; ++a) {
      const int sl = slot(a);
      YZY_(a, c) = YZY_(c, a) = zy[sl];
      SZY_(c, a) = zs[sl];      // s_c' Z Z' y_a
      SZY_(a, c) = zy[m + sl];  // s_a' Z Z' y_c
      SAS_(a, c) = SAS_(c, a) = zs[m + sl];
    }
  }

  // One pass over the rows of W_ for subspace_direction() when the newest pair's blocks
  // are deferred: r over the free rows, v = W'Z r into acc_.col(0), and the pair's row and
  // column of the blocks (W'ZZ'y_c, Y'ZZ's_c, S'AA's_c). M is o_.m when known at compile time
  // (the sums are then fixed-size locals, kept in registers as far as they go, and the loops
  // have fixed lengths), else 0.
  template <int M>
  void deferred_pass(const T* g, const T* x) {
    const index_t n = core_.n();
    const int m = M > 0 ? M : o_.m, m2 = 2 * m, sc = slot(pairs_ - 1);
    constexpr int kLocal = M > 0 ? 2 * M : 1;
    constexpr int kRow = M > 0 ? 2 * M : Eigen::Dynamic;
    using Row = Eigen::Map<const Eigen::Matrix<T, kRow, 1>>;
    T wr_local[kLocal] = {}, zy_local[kLocal] = {}, zs_local[kLocal] = {};
    acc_.setZero();
    T* wr = M > 0 ? wr_local : acc_.col(0).data();  // W'Z r
    T* zy = M > 0 ? zy_local : acc_.col(1).data();  // W'ZZ'y_c
    T* zs = M > 0 ? zs_local : acc_.col(2).data();  // [Y'ZZ's_c; S'AA's_c]
    const T* coef = ws_.data();
    const T* w = W_.data();
    const unsigned char* is_free = free_now_.data();
    T* r = r_.data();
    const T theta = theta_;
    for (index_t i = 0; i < n; ++i) {
      const T* at = w + i * m2;
      const T yc = at[sc], sc_i = at[m + sc];
      if (is_free[i] != 0) {
        const T ri = g[i] + theta * (xcp_[i] - x[i]) - Row(at, m2).dot(Row(coef, m2));
        r[i] = ri;
        for (int j = 0; j < m2; ++j) {
          wr[j] += ri * at[j];
          zy[j] += yc * at[j];
        }
        for (int j = 0; j < m; ++j) zs[j] += sc_i * at[j];
      } else {
        for (int j = m; j < m2; ++j) zs[j] += sc_i * at[j];
      }
    }
    if (M > 0) {
      for (int j = 0; j < m2; ++j) {
        acc_(j, 0) = wr[j];
        acc_(j, 1) = zy[j];
        acc_(j, 2) = zs[j];
      }
    }
    store_pair_column(pairs_ - 1, acc_.col(1).data(), acc_.col(2).data());
  }

  // The search direction's slope g'p, its largest step in the box and its length.
  struct Direction {
    T slope, step_max, norm;
  };

  // xbar into p (as the direction xbar - x): subspace minimisation over the variables free
  // at the Cauchy point t (paper sec. 5.1), then the projection of L-BFGS-B 3.0.
  Direction subspace_direction(T t) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const Eigen::Map<const Vec> x(b.x, n), g(b.g, n);
    Eigen::Map<Vec> p(b.p, n);
    const int k = pairs_;
    const int k2 = 2 * k;
    const index_t changed = free_variables(t);  // and p = xcp - x
    if (free_.empty() || k == 0) {
      // B = theta I: the model's minimiser over the free variables is xcp - r / theta.
      if (k == 0 && !free_.empty()) {
        for (index_t i : free_) p[i] -= (g[i] + theta_ * (xcp_[i] - x[i])) / theta_;
        return project_or_truncate();
      }
      return direction_of(p);
    }
    const bool deferred = update_free_blocks(true, changed);
    // The reduced gradient r = Z'(g + theta (xcp - x) - W M c), zero outside the free set.
    // One pass over the free rows of W gives r and v = W'Z r (slot order, into acc_).
    middle_.solve(c_.data(), Mw_.data());
    w_coefficients(Mw_.data());
    auto wz_r = acc_.col(0);
    if (deferred) {
      // The same pass also gives the new pair's row and column of the blocks.
      if (o_.m == 10) {  // the default history: sizes known to the compiler
        deferred_pass<10>(g.data(), x.data());
      } else {
        deferred_pass<0>(g.data(), x.data());
      }
      blocks_ = k;
    } else {
      wz_r.setZero();
      for (index_t i : free_) {
        const auto row = W_.row(i);
        const T ri = g[i] + theta_ * (xcp_[i] - x[i]) - row.dot(ws_.transpose());
        r_[i] = ri;
        wz_r.noalias() += ri * row.transpose();
      }
    }
    // The reduced model's Hessian is theta I - Z'W M W'Z; by the Sherman-Morrison-Woodbury
    // formula du = -r/theta - Z'W Khat^{-1} W'Z r / theta^2 with
    // Khat = M^{-1} - W'ZZ'W/theta = [[-(D + Y'ZZ'Y/theta), L' - Y'ZZ'S],
    //                                 [L - S'ZZ'Y, theta S'AA'S]]:
    // F = D + Y'ZZ'Y/theta, E = L - S'ZZ'Y, C = theta S'AA'S.
    BlockSolver<T>& rb = reduced_;
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        if (i >= j) {
          rb.lf(i, j) = YZY_(i, j) / theta_ + (i == j ? SY_(i, i) : T(0));
          rb.lc(i, j) = theta_ * SAS_(i, j);
        }
        rb.e(i, j) = (i > j ? SY_(i, j) : T(0)) - SZY_(i, j);
      }
    }
    auto v = v2_.head(k2);
    auto z = z2_.head(k2);
    for (int j = 0; j < k; ++j) {
      v[j] = wz_r[slot(j)];
      v[k + j] = theta_ * wz_r[o_.m + slot(j)];
    }
    if (rb.factor(k)) {
      rb.solve(v.data(), z.data());
    } else {
      reduced_by_lu(v, z);
    }
    z /= theta_ * theta_;
    w_coefficients(z.data());  // du = -r/theta - Z'W z / theta^2
    if (o_.m == 10) {
      subspace_step<10>();
    } else {
      subspace_step<0>();
    }
    return project_or_truncate();
  }

  // p_i -= r_i / theta + (W ws_)_i over the free variables (ws_: W's coefficients of the
  // step, by slot). M as for deferred_pass.
  template <int M>
  void subspace_step() {
    constexpr int kRow = M > 0 ? 2 * M : Eigen::Dynamic;
    using Row = Eigen::Map<const Eigen::Matrix<T, kRow, 1>>;
    const int m2 = 2 * o_.m;
    const Row coef(ws_.data(), m2);
    T* p = core_.buffers().p;
    const T* w = W_.data();
    for (index_t i : free_) p[i] -= r_[i] / theta_ + Row(w + i * m2, m2).dot(coef);
  }

  // Khat z = v by an LU factorization of the whole 2k x 2k matrix, where rounding made one
  // of the Cholesky factorizations of BlockSolver fail (rare; allocates).
  template <class V, class Z>
  void reduced_by_lu(const V& v, Z& z) {
    const int k = pairs_;
    Mat K(2 * k, 2 * k);
    for (int j = 0; j < k; ++j) {
      for (int i = 0; i < k; ++i) {
        K(i, j) = -YZY_(i, j) / theta_ - (i == j ? SY_(i, i) : T(0));
        const T e = (i > j ? SY_(i, j) : T(0)) - SZY_(i, j);
        K(k + i, j) = e;
        K(j, k + i) = e;
        K(k + i, k + j) = theta_ * SAS_(i, j);
      }
    }
    z = Eigen::PartialPivLU<Mat>(K).solve(Vec(v));
  }

  // p = xbar - x with xbar = xcp + du: project xbar onto the box; if that is no descent
  // direction, take the largest step along du from xcp that stays in the box instead.
  // The projection, its slope, length and largest step (SciPy's lnsrlb: the projected
  // direction keeps x + p in the box, so that step is at least 1) come from one
  // branch-free pass; the unprojected p waits in projected_ for the rare other cases.
  Direction project_or_truncate() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    T* p = b.p;
    T* kept = projected_.data();
    const T* lo = lower_;
    const T* hi = upper_;
    const T inf = std::numeric_limits<T>::infinity();
    T slope = T(0), length = T(0), finite = T(0), step = inf;
    OPTKERN_SIMD_REDUCE(reduction(+ : slope, length, finite) reduction(min : step))
    for (index_t i = 0; i < n; ++i) {
      const T pi = p[i], xi = x[i];
      finite += pi - pi;  // 0 unless p_i is NaN or Inf
      kept[i] = pi;
      const T di = min_value(max_value(xi + pi, lo[i]), hi[i]) - xi;
      p[i] = di;
      slope += di * g[i];
      length += di * di;
      // +Inf or NaN (ignored by the min) where d_i = 0 (+0: the difference of equal numbers)
      step = min_value(step, ((di < T(0) ? lo[i] : hi[i]) - xi) / di);
    }
    Eigen::Map<Vec> pv(p, n);
    if (!(finite == T(0))) {  // a singular middle matrix: fall back to the Cauchy point
      pv = xcp_ - Eigen::Map<const Vec>(x, n);
      return direction_of(pv);
    }
    if (slope < T(0)) return Direction{slope, step, square_root(length)};
    pv = projected_;
    T alpha = T(1);
    for (index_t i : free_) {
      const T du = p[i] - (xcp_[i] - x[i]);
      if (du > T(0)) {
        alpha = min_value(alpha, (upper_[i] - xcp_[i]) / du);
      } else if (du < T(0)) {
        alpha = min_value(alpha, (lower_[i] - xcp_[i]) / du);
      }
    }
    alpha = max_value(alpha, T(0));
    for (index_t i : free_) {
      const T du = p[i] - (xcp_[i] - x[i]);
      p[i] = clamp(i, xcp_[i] + alpha * du) - x[i];
    }
    return direction_of(pv);
  }

  template <class P>
  Direction direction_of(const P& p) const {
    const index_t n = core_.n();
    const T* g = core_.buffers().g;
    return Direction{dot(n, g, p.data(), Contiguous{}), largest_step(),
                     square_root(dot(n, p.data(), p.data(), Contiguous{}))};
  }

  // The largest step along p that keeps x in the box (SciPy's lnsrlb); +Inf if none.
  T largest_step() const {
    const auto& b = core_.buffers();
    T step = std::numeric_limits<T>::infinity();
    for (index_t i = 0; i < core_.n(); ++i) {
      const T di = b.p[i];
      if (di < T(0) && lower_[i] > -std::numeric_limits<T>::infinity()) {
        const T room = lower_[i] - b.x[i];
        if (room >= T(0)) return T(0);
        if (di * step < room) step = room / di;
      } else if (di > T(0) && upper_[i] < std::numeric_limits<T>::infinity()) {
        const T room = upper_[i] - b.x[i];
        if (room <= T(0)) return T(0);
        if (di * step > room) step = room / di;
      }
    }
    return step;
  }

  Request begin_search() {
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
      const Direction dir = subspace_direction(cauchy_point());
      const T slope = dir.slope;
      T step_max = dir.step_max;
      if (slope < T(0) && step_max > T(0) && is_finite(slope)) {
        const bool first = core_.counters().nit == 0 || pairs_ == 0;
        if (first && boxed_) step_max = min_value(step_max, T(1));
        T step = T(1);
        const T cap = unit_step_max(dir.norm);
        if (first && !boxed_) step = min_value(T(1) / dir.norm, step_max);
        search_.set_step_max(min_value(step_max, cap), step_max < cap);
        if (search_.start(core_.f(), slope, step) == SearchState::kEvaluate) {
          // xt = x + step p in the box, in one pass (core_.trial() and clamp_trial()).
          const T a = search_.step();
          T* xt = b.xt;
          for (index_t i = 0; i < n; ++i) xt[i] = clamp(i, b.x[i] + a * b.p[i]);
          return core_.evaluation();
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

  // The trial point becomes the iterate. One pass over the vectors gives the pair
  // (s, y) = (xt - x, gt - g), the projected gradient's norm and the next Cauchy point's
  // scan; one pass over W_ stores the pair and gives both the new row of S'S and S'Y and
  // W'd for that Cauchy point (cauchy_scan() finds them ready).
  Request accept(T f_trial) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    T* x = b.x;
    T* g = b.g;
    const T* xt = b.xt;
    const T* gt = b.gt;
    T* s = s_.data();
    T* y = y_.data();
    const T* lo = lower_;
    const T* hi = upper_;
    T* t = t_.data();
    T* d = d_.data();
    T* xc = xcp_.data();
    T sy = T(0), yy = T(0), ss = T(0), gg = T(0), worst = T(0);
    T t_first = std::numeric_limits<T>::infinity();
    OPTKERN_SIMD_REDUCE(reduction(+ : sy, yy, ss, gg) reduction(max : worst)
                            reduction(min : t_first))
    for (index_t i = 0; i < n; ++i) {
      const T xi = xt[i], gi = gt[i];
      const T si = xi - x[i], yi = gi - g[i];
      s[i] = si;
      y[i] = yi;
      x[i] = xi;
      g[i] = gi;
      sy += si * yi;
      yy += yi * yi;
      ss += si * si;
      gg += gi * gi;
      // |g_i clipped to what the box allows at x_i| (projected_gradient_norm), without a
      // select on a sign (std::abs, not abs_value: GCC would not vectorise the loop)
      const T room = bound_room(i, xi, gi, lo, hi);
      worst = max_value(worst, min_value(std::abs(room), std::abs(gi)));
      scan_variable(i, xi, gi, room, t, d, xc, t_first);
    }
    if (!is_finite(gg)) {  // a NaN or Inf in g (max skips NaN), or squares that overflow
      worst = projected_gradient_norm(n, x, g, lower_, upper_);
    }
    ready_scan_ = CauchyScan{-squared_direction(), t_first};
    scan_ready_ = true;
    if (sy > std::numeric_limits<T>::epsilon() * yy && is_finite(sy) && is_finite(yy)) {
      add_pair(sy, yy, ss);
    } else if (pairs_ > 0) {
      wd_.noalias() = W_.transpose() * d_;
    }
    const Request r = core_.moved(f_trial, VectorNorms<T>{worst, gg});
    core_.set_gradient_norm(worst);
    return r;
  }

  // Moves the pair-ordered blocks one pair up and left (the oldest pair leaves).
  static void shift_block(Mat& a, int m) {
    for (int j = 0; j + 1 < m; ++j) {
      for (int i = 0; i + 1 < m; ++i) a(i, j) = a(i + 1, j + 1);
    }
  }

  // Stores the pair (s_, y_) and the new row and column of S'S and of S'Y's lower triangle,
  // and W'd into wd_ (d_ as scanned by accept()).
  void add_pair(T sy, T yy, T ss) {
    const int m = o_.m;
    if (pairs_ == m) {  // drop the oldest pair: its column is the new pair's
      head_ = (head_ + 1) % m;
      --pairs_;
      shift_block(SS_, m);
      shift_block(SY_, m);
      shift_block(YZY_, m);
      shift_block(SZY_, m);
      shift_block(SAS_, m);
      blocks_ = max_value(blocks_ - 1, 0);
    }
    const int k = pairs_;
    if (m == 10) {  // the default history: sizes known to the compiler
      pair_pass<10>(slot(k));
    } else {
      pair_pass<0>(slot(k));
    }
    for (int j = 0; j < k; ++j) {
      SY_(k, j) = ws_[slot(j)];  // s_k' y_j
      SS_(k, j) = SS_(j, k) = ws_[m + slot(j)];
    }
    SS_(k, k) = ss;
    SY_(k, k) = sy;
    theta_ = yy / sy;
    ++pairs_;
  }

  // One pass over the rows of W_: the new pair into slot sk, ws_ = W's and wd_ = W'd (slot
  // order; the other slots keep their pairs). M as for deferred_pass: for M > 0 the 4m sums
  // are fixed-size locals that the compiler keeps in registers, each row's elements being
  // read by the multiply-adds straight from memory.
  template <int M>
  void pair_pass(int sk) {
    const index_t n = core_.n();
    const int m = M > 0 ? M : o_.m, m2 = 2 * m;
    constexpr int kLocal = M > 0 ? 2 * M : 1;
    T ws_local[kLocal] = {}, wd_local[kLocal] = {};
    T* ws = M > 0 ? ws_local : ws_.data();
    T* wd = M > 0 ? wd_local : wd_.data();
    if (M == 0) {
      ws_.setZero();
      wd_.setZero();
    }
    const T* s = s_.data();
    const T* y = y_.data();
    const T* d = d_.data();
    T* w = W_.data();
    T dy = T(0), ds = T(0);
    for (index_t i = 0; i < n; ++i) {
      // The row is read before slot sk is written (a vector load over a scalar store just
      // made would stall its forwarding); slot sk's products are corrected below.
      T* at = w + i * m2;
      const T si = s[i], di = d[i];
      for (int j = 0; j < m2; ++j) {
        ws[j] += si * at[j];
        wd[j] += di * at[j];
      }
      dy += di * y[i];
      ds += di * si;
      at[sk] = y[i];
      at[m + sk] = si;
    }
    wd[sk] = dy;
    wd[m + sk] = ds;  // ws_'s slot sk is not read
    if (M > 0) {
      for (int j = 0; j < m2; ++j) {
        ws_[j] = ws[j];
        wd_[j] = wd[j];
      }
    }
  }

  DescentCore<T> core_;
  LbfgsOptions<T> o_;
  const T* lower_;
  const T* upper_;
  StrongWolfeSearch<T> search_;
  SearchFallback<T> fallback_;
  // The pairs (a ring of columns) and, in pair order, S'S, S'Y (lower triangle), and the
  // Gram blocks over the free / active sets of free_blocks_ for the first blocks_ pairs.
  RowMat W_;
  Mat SS_, SY_, YZY_, SZY_, SAS_;
  BlockSolver<T> middle_, reduced_;
  Vec xcp_, t_, d_, r_, projected_, s_, y_;
  // Work space, allocated once: the loop allocates nothing.
  Vec p2_, c_, Mw_, wb_, v2_, z2_, ws_, wd_;
  Mat acc_;
  std::vector<index_t> ordered_, free_;
  std::vector<unsigned char> free_now_, free_blocks_;
  // The next Cauchy point's scan and wd_, when accept() has done them.
  CauchyScan ready_scan_{};
  bool scan_ready_ = false;
  int pairs_ = 0;
  int head_ = 0;
  int blocks_ = 0;
  T theta_ = T(1);
  bool boxed_ = true;
};

namespace detail {

template <class T>
void check_bounds(const T* lower, const T* upper, index_t n) {
  for (index_t i = 0; i < n; ++i) {
    require(!(lower[i] != lower[i]) && !(upper[i] != upper[i]), "bounds", "must not be NaN");
    require(lower[i] <= upper[i], "bounds", "must satisfy lower <= upper");
    require(lower[i] < std::numeric_limits<T>::infinity() &&
                upper[i] > -std::numeric_limits<T>::infinity(),
            "bounds", "lower must be < +Inf and upper > -Inf");
  }
}

template <class T, class Objective, class Callback>
Result<T> lbfgsb_run(Objective&& fg, T* x, const T* lower, const T* upper, index_t n,
                     const LbfgsOptions<T>& options, Callback&& callback) {
  require_start(x, n);
  check_lbfgs_options(options);
  check_bounds(lower, upper, n);
  const auto make = [&](const DescentBuffers<T>& b) {
    return LbfgsbMachine<T>(n, options, b, lower, upper);
  };
  return run_descent(x, n, make, fg, NoHessian{}, callback);
}

// The double and float entry points below differ only in their scalar type.
template <class T, class Objective, class Callback>
Result<T> lbfgsb_ref(Objective& fg, Eigen::Ref<Vector<T>> x,
                     const Eigen::Ref<const Vector<T>>& lower,
                     const Eigen::Ref<const Vector<T>>& upper, const LbfgsOptions<T>& options,
                     Callback& callback) {
  require(lower.size() == x.size() && upper.size() == x.size(), "bounds",
          "must have one lower and one upper bound per variable");
  return lbfgsb_run<T>(fg, x.data(), lower.data(), upper.data(), x.size(), options, callback);
}

}  // namespace detail

// Minimises fg over lower <= x <= upper from x (moved into the box, then updated in place
// to the result). Bounds may be -Inf / +Inf. callback as for lbfgs(). Throws
// std::invalid_argument for bad options, bounds or a non-finite x.
template <class Objective, class Callback = NoCallback>
Result<double> lbfgsb(Objective&& fg, Eigen::Ref<Eigen::VectorXd> x,
                      const Eigen::Ref<const Eigen::VectorXd>& lower,
                      const Eigen::Ref<const Eigen::VectorXd>& upper,
                      const LbfgsOptions<double>& options = {}, Callback&& callback = {}) {
  return detail::lbfgsb_ref<double>(fg, x, lower, upper, options, callback);
}

template <class Objective, class Callback = NoCallback>
Result<float> lbfgsb(Objective&& fg, Eigen::Ref<Eigen::VectorXf> x,
                     const Eigen::Ref<const Eigen::VectorXf>& lower,
                     const Eigen::Ref<const Eigen::VectorXf>& upper,
                     const LbfgsOptions<float>& options = {}, Callback&& callback = {}) {
  return detail::lbfgsb_ref<float>(fg, x, lower, upper, options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
