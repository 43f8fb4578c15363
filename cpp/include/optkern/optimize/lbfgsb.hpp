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
// else stop). Host code (Eigen); the loop allocates only when the free set changes size.
#pragma once

#include <Eigen/Core>
#include <Eigen/LU>
#include <algorithm>
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

// Reverse-communication L-BFGS-B (protocol: descent_core.hpp); host only. lower and upper
// (n elements each, -Inf / +Inf for no bound) must outlive the machine.
template <class T>
class LbfgsbMachine {
 public:
  using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  LbfgsbMachine(index_t n, const LbfgsOptions<T>& options, const DescentBuffers<T>& b,
                const T* lower, const T* upper)
      : core_(n, options, b, Contiguous{}),
        o_(options),
        lower_(lower),
        upper_(upper),
        search_(options.c1, options.c2, options.max_ls),
        S_(n, options.m),
        Y_(n, options.m),
        SS_(options.m, options.m),
        SY_(options.m, options.m),
        YY_(options.m, options.m),
        xcp_(n),
        t_(n),
        d_(n),
        ordered_(std::size_t(n)) {
    boxed_ = true;
    for (index_t i = 0; i < n; ++i) {
      boxed_ = boxed_ && is_finite(lower[i]) && is_finite(upper[i]);
    }
  }

  Request start() {
    T* x = core_.buffers().x;
    for (index_t i = 0; i < core_.n(); ++i) x[i] = clamp(i, x[i]);  // x0 into the box
    return core_.start();
  }

  Request tell(T f_trial) {
    if (!core_.started()) {
      if (!core_.take_start(f_trial)) return Request::kDone;
      update_gradient_norm();
      if (core_.gradient_norm() <= o_.gtol) return core_.finish(Status::kGradientConverged);
      return begin_search();
    }
    Request r;
    if (fallback_.refetching()) {
      r = fallback_.refetched(core_, f_trial, [&] { return accept(f_trial); });
    } else {
      r = core_.search_step(
          search_, f_trial, core_.trial_slope(), [&] { return accept(f_trial); },
          [&] {
            return fallback_.failed(
                core_, search_, pairs_ > 0, f_trial, [&] { return accept(f_trial); },
                [&] {
                  pairs_ = 0;  // drop the memory, search along the projected gradient path
                  return begin_search();
                });
          });
    }
    if (r == Request::kEvaluate) clamp_trial();
    return r;
  }

  Request tell_hessian() { return core_.finish(Status::kRunning); }  // unused

  Request proceed(bool stop = false) {
    if (fallback_.stop_pending()) return fallback_.stop(core_, stop);
    return core_.stops(stop) ? Request::kDone : begin_search();
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
        s_out[j * n + i] = S_(i, j);
        y_out[j * n + i] = Y_(i, j);
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

  // M = [[-D, L'], [L, theta S'S]]^{-1} for the k kept pairs (paper eq. 3.4).
  void form_middle() {
    const int k = pairs_;
    Mat& K = K_;
    K.setZero(2 * k, 2 * k);
    for (int i = 0; i < k; ++i) {
      K(i, i) = -SY_(i, i);
      for (int j = 0; j < i; ++j) {
        K(k + i, j) = SY_(i, j);  // L: s_i' y_j for i > j
        K(j, k + i) = SY_(i, j);
      }
    }
    K.bottomRightCorner(k, k) = theta_ * SS_.topLeftCorner(k, k);
    lu_.compute(K);
    M_.resize(2 * k, 2 * k);
    M_.noalias() = lu_.inverse();
  }

  // Row i of W = [Y, theta S] (2k elements) into w.
  void w_row(index_t i, Vec& w) const {
    const int k = pairs_;
    w.resize(2 * k);
    for (int j = 0; j < k; ++j) {
      w[j] = Y_(i, j);
      w[k + j] = theta_ * S_(i, j);
    }
  }

  // The generalized Cauchy point into xcp_; c = W'(xcp - x) into c_ (paper Algorithm CP).
  void cauchy_point() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const T* x = b.x;
    const T* g = b.g;
    const int k = pairs_;
    const T inf = std::numeric_limits<T>::infinity();
    index_t count = 0;
    T fp = T(0);
    for (index_t i = 0; i < n; ++i) {
      T ti = inf;
      if (g[i] < T(0)) {
        if (upper_[i] < inf) ti = (x[i] - upper_[i]) / g[i];
      } else if (g[i] > T(0)) {
        if (lower_[i] > -inf) ti = (x[i] - lower_[i]) / g[i];
      }
      t_[i] = ti;
      d_[i] = ti <= T(0) ? T(0) : -g[i];
      fp -= d_[i] * d_[i];
      if (ti > T(0) && ti < inf) ordered_[std::size_t(count++)] = i;
    }
    xcp_ = Eigen::Map<const Vec>(x, n);
    Vec& p = p2_;
    Vec& c = c_;
    p.resize(2 * k);
    c.setZero(2 * k);
    if (k > 0) {
      p.head(k).noalias() = Y_.leftCols(k).transpose() * d_;
      p.tail(k).noalias() = S_.leftCols(k).transpose() * d_;
      p.tail(k) *= theta_;
    }
    if (k > 0) Mw_.noalias() = M_ * p;
    T fpp = -theta_ * fp - (k > 0 ? T(p.dot(Mw_)) : T(0));
    // The breakpoints in a heap, smallest first: the search usually stops after a few of
    // them, so a full sort would waste O(n log n) per iteration (SciPy uses a heap too).
    const auto later = [&](index_t a, index_t c2) { return t_[a] > t_[c2]; };
    const auto first = ordered_.begin();
    std::make_heap(first, first + count, later);
    index_t heap_end = count;
    const T tiny = std::numeric_limits<T>::epsilon();
    T dt_min = fpp > tiny * abs_value(fp) ? -fp / fpp : inf;
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
        Vec& wb = wb_;
        w_row(bi, wb);
        c += dt * p;
        Mw_.noalias() = M_ * wb;
        const Vec& Mw = Mw_;
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
    t_old += dt_min;
    for (index_t j = 0; j < heap_end; ++j) {  // the breakpoints not reached
      const index_t i = ordered_[std::size_t(j)];
      xcp_[i] = clamp(i, x[i] + t_old * d_[i]);
    }
    for (index_t i = 0; i < n; ++i) {  // variables without a breakpoint
      if (t_[i] == inf && d_[i] != T(0)) xcp_[i] = x[i] + t_old * d_[i];
    }
    c_ += dt_min * p;
  }

  // xbar into p (as the direction xbar - x): subspace minimisation over the variables free
  // at the Cauchy point (paper sec. 5.1), then the projection of L-BFGS-B 3.0.
  void subspace_direction() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    const Eigen::Map<const Vec> x(b.x, n), g(b.g, n);
    Eigen::Map<Vec> p(b.p, n);
    const int k = pairs_;
    free_.clear();
    active_.clear();
    for (index_t i = 0; i < n; ++i) {
      if (xcp_[i] > lower_[i] && xcp_[i] < upper_[i]) {
        free_.push_back(i);
      } else {
        active_.push_back(i);
      }
    }
    p = xcp_ - x;
    if (free_.empty() || k == 0) {
      // B = theta I: the model's minimiser over the free variables is xcp - r / theta.
      if (k == 0) {
        for (index_t i : free_) p[i] -= (g[i] + theta_ * (xcp_[i] - x[i])) / theta_;
        project_or_truncate(x, g, p);
      }
      return;
    }
    const index_t nf = index_t(free_.size());
    // W restricted to the free rows, the reduced gradient r = Z'(g + theta (xcp - x) - W M c).
    Mat& WZ = WZ_;
    WZ.resize(nf, 2 * k);
    for (index_t j = 0; j < nf; ++j) {
      const index_t i = free_[std::size_t(j)];
      WZ.row(j).head(k) = Y_.row(i).head(k);
      WZ.row(j).tail(k) = theta_ * S_.row(i).head(k);
    }
    Vec& Mc = Mw_;
    Mc.noalias() = M_ * c_;
    Vec& r = r_;
    r.resize(nf);
    for (index_t j = 0; j < nf; ++j) {
      const index_t i = free_[std::size_t(j)];
      r[j] = g[i] + theta_ * (xcp_[i] - x[i]) - WZ.row(j).dot(Mc);
    }
    // du = -r/theta - Z'W N^{-1} M W'Z r / theta^2,  N = I - M W'ZZ'W / theta.
    wb_.noalias() = WZ.transpose() * r;
    Vec& v = v2_;
    v.noalias() = M_ * wb_;
    if (index_t(active_.size()) < nf) {
      // Fewer variables at a bound than free: W'W from the Gram blocks the machine keeps,
      // W'W = [[Y'Y, theta Y'S], [theta S'Y, theta^2 S'S]], less the rows at a bound.
      WtW_.resize(2 * k, 2 * k);
      WtW_.topLeftCorner(k, k) = YY_.topLeftCorner(k, k);
      WtW_.topRightCorner(k, k) = theta_ * SY_.topLeftCorner(k, k).transpose();
      WtW_.bottomLeftCorner(k, k) = theta_ * SY_.topLeftCorner(k, k);
      WtW_.bottomRightCorner(k, k) = theta_ * theta_ * SS_.topLeftCorner(k, k);
      for (index_t i : active_) {
        w_row(i, Mw_);  // Mw_ is free here (Mc is used up)
        WtW_.noalias() -= Mw_ * Mw_.transpose();
      }
    } else {
      // W'ZZ'W in blocks of rows small enough (2k x 96 x 2k < Eigen's 50000 per task) that
      // Eigen's GEMM never hands them to OpenMP threads, which stall when the cores are busy.
      WtW_.setZero(2 * k, 2 * k);
      for (index_t r0 = 0; r0 < nf; r0 += 96) {
        const index_t rows = std::min<index_t>(96, nf - r0);
        WtW_.noalias() += WZ.middleRows(r0, rows).transpose() * WZ.middleRows(r0, rows);
      }
    }
    Mat& N = N_;
    N.noalias() = M_ * WtW_;
    N *= T(-1) / theta_;
    N.diagonal().array() += T(1);
    lu_.compute(N);
    Vec& u = u2_;
    u.noalias() = lu_.solve(v);
    Vec& du = r;  // du = -r/theta - WZ u / theta^2, in place of r
    du *= T(-1) / theta_;
    u /= theta_ * theta_;
    du.noalias() -= WZ * u;
    for (index_t j = 0; j < nf; ++j) p[free_[std::size_t(j)]] += du[j];
    if (!p.allFinite()) {  // a singular middle matrix: fall back to the Cauchy point
      p = xcp_ - x;
      return;
    }
    project_or_truncate(x, g, p);
  }

  // p = xbar - x with xbar = xcp + du: project xbar onto the box; if that is no descent
  // direction, take the largest step along du from xcp that stays in the box instead.
  template <class X, class G, class P>
  void project_or_truncate(const X& x, const G& g, P& p) {
    const index_t n = core_.n();
    Vec& projected = projected_;
    projected.resize(n);
    for (index_t i = 0; i < n; ++i) projected[i] = clamp(i, x[i] + p[i]) - x[i];
    if (projected.dot(g) < T(0)) {
      p = projected;
      return;
    }
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
      if (pairs_ > 0) form_middle();
      cauchy_point();
      subspace_direction();
      const T slope = dot(n, b.g, b.p, Contiguous{});
      T step_max = largest_step();
      if (slope < T(0) && step_max > T(0) && is_finite(slope)) {
        const bool first = core_.counters().nit == 0 || pairs_ == 0;
        if (first && boxed_) step_max = min_value(step_max, T(1));
        T step = T(1);
        const T p_norm = square_root(dot(n, b.p, b.p, Contiguous{}));
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
      pairs_ = 0;  // rounding spoilt the quasi-Newton direction: start again from theta I
    }
  }

  Request accept(T f_trial) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    Eigen::Map<Vec> x(b.x, n), g(b.g, n);
    const Eigen::Map<const Vec> xt(b.xt, n), gt(b.gt, n);
    Vec& s = s_;
    Vec& y = y_;
    s = xt - x;
    y = gt - g;
    x = xt;
    g = gt;
    const T sy = s.dot(y), yy = y.squaredNorm();
    if (sy > std::numeric_limits<T>::epsilon() * yy && is_finite(sy) && is_finite(yy)) {
      add_pair(s, y, sy, yy);
    }
    const Request r = core_.moved(f_trial);
    update_gradient_norm();
    return r;
  }

  void add_pair(const Vec& s, const Vec& y, T sy, T yy) {
    const int m = o_.m;
    if (pairs_ == m) {  // drop the oldest pair: shift the columns and the Gram blocks
      S_.leftCols(m - 1) = S_.rightCols(m - 1).eval();
      Y_.leftCols(m - 1) = Y_.rightCols(m - 1).eval();
      SS_.topLeftCorner(m - 1, m - 1) = SS_.bottomRightCorner(m - 1, m - 1).eval();
      SY_.topLeftCorner(m - 1, m - 1) = SY_.bottomRightCorner(m - 1, m - 1).eval();
      YY_.topLeftCorner(m - 1, m - 1) = YY_.bottomRightCorner(m - 1, m - 1).eval();
      --pairs_;
    }
    const int k = pairs_;
    S_.col(k) = s;
    Y_.col(k) = y;
    if (k > 0) {
      Ss_.noalias() = S_.leftCols(k).transpose() * s;
      Sy_.noalias() = S_.leftCols(k).transpose() * y;
      Ys_.noalias() = Y_.leftCols(k).transpose() * s;
      Yy_.noalias() = Y_.leftCols(k).transpose() * y;
      const Vec &Ss = Ss_, &Sy = Sy_, &Ys = Ys_, &Yy = Yy_;
      SS_.row(k).head(k) = Ss.transpose();
      SS_.col(k).head(k) = Ss;
      SY_.row(k).head(k) = Ys.transpose();  // (S'Y)(k, j) = s_k' y_j
      SY_.col(k).head(k) = Sy;              // (S'Y)(j, k) = s_j' y_k
      YY_.row(k).head(k) = Yy.transpose();
      YY_.col(k).head(k) = Yy;
    }
    SS_(k, k) = s.squaredNorm();
    SY_(k, k) = sy;
    YY_(k, k) = yy;
    theta_ = yy / sy;
    ++pairs_;
  }

  DescentCore<T> core_;
  LbfgsOptions<T> o_;
  const T* lower_;
  const T* upper_;
  StrongWolfeSearch<T> search_;
  SearchFallback<T> fallback_;
  Mat S_, Y_, SS_, SY_, YY_, M_;
  Vec xcp_, t_, d_, c_;
  // Work space, kept from iteration to iteration (no allocation once the sizes settle).
  Mat K_, WZ_, WtW_, N_;
  Eigen::PartialPivLU<Mat> lu_;
  Vec p2_, wb_, Mw_, r_, v2_, u2_, projected_, s_, y_, Ss_, Sy_, Ys_, Yy_;
  std::vector<index_t> ordered_, free_, active_;
  int pairs_ = 0;
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
  require(n >= 1, "x", "must have at least one element");
  require_finite(x, n, "x");
  check_lbfgs_options(options);
  check_bounds(lower, upper, n);
  Vector<T> xt(n), gt(n), g(n), p(n);
  const DescentBuffers<T> b{x, g.data(), xt.data(), gt.data(), p.data()};
  LbfgsbMachine<T> machine(n, options, b, lower, upper);
  const Status status =
      run_machine(machine, [&] { return T(fg(std::as_const(xt), gt)); }, NoHessian{},
                  iterate_view(machine, x, g.data(), n), callback);
  return collect(machine, status, g.data(), n);
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
  require(lower.size() == x.size() && upper.size() == x.size(), "bounds",
          "must have one lower and one upper bound per variable");
  return detail::lbfgsb_run<double>(fg, x.data(), lower.data(), upper.data(), x.size(),
                                    options, callback);
}

template <class Objective, class Callback = NoCallback>
Result<float> lbfgsb(Objective&& fg, Eigen::Ref<Eigen::VectorXf> x,
                     const Eigen::Ref<const Eigen::VectorXf>& lower,
                     const Eigen::Ref<const Eigen::VectorXf>& upper,
                     const LbfgsOptions<float>& options = {}, Callback&& callback = {}) {
  require(lower.size() == x.size() && upper.size() == x.size(), "bounds",
          "must have one lower and one upper bound per variable");
  return detail::lbfgsb_run<float>(fg, x.data(), lower.data(), upper.data(), x.size(),
                                   options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
