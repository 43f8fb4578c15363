// Dense BFGS with the inverse update (thesis eq. 14) and the strong Wolfe search:
//   H+ = (I - rho s y') H (I - rho y s') + rho s s',  rho = 1 / s'y,
// which expands to the symmetric rank-2 update H+ = H + w s' + s w' with
//   w = (rho^2 y'Hy + rho) s / 2 - rho Hy.
// The first H is, as in thesis Figure 2, the inverse of the Hessian at x0 with its eigenvalues
// floored at eig_floor (1e-3) when a Hessian is given; otherwise the identity, rescaled to
// (s'y / y'y) I before the first update (Nocedal & Wright eq. 6.20).
//
// One pass over the n x n matrix per iteration (it does not fit in cache for n ~ 1000): the
// pass applies the previous iteration's rank-2 update and computes u = H g for the new
// gradient at the same time. Everything else follows from u in O(n):
//   H y = H g+ - H g = u - v   (v = H g, kept from the previous direction),
//   H+ g+ = u + w (s'g+) + s (w'g+)   (the next direction, without another pass).
//
//   optkern::optimize::bfgs(fg, x);                 // scaled identity
//   optkern::optimize::bfgs(fg, hess, x);           // floored Hessian at x0 (hess as in newton.hpp)
#pragma once

#include <limits>
#include <utility>
#include <vector>

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/modified_newton.hpp"
#include "optkern/optimize/search_fallback.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

// Reverse-communication BFGS (protocol: descent_core.hpp); host only. With use_hessian, the
// machine asks once, at x0, for the n x n Hessian in hessian().
template <class T>
class BfgsMachine {
 public:
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

  BfgsMachine(index_t n, const BfgsOptions<T>& options, const DescentBuffers<T>& b,
              bool use_hessian)
      : core_(n, options, b, Contiguous{}),
        o_(options),
        use_hessian_(use_hessian),
        search_(options.c1, options.c2, options.max_ls),
        inverse_(n, n),
        v_(n),
        u_(n),
        w_(n),
        s_(n),
        hessian_(use_hessian ? std::size_t(n * n) : 0) {}

  T* hessian() { return hessian_.data(); }

  Request start() { return core_.start(); }

  Request tell(T f_trial) {
    if (!core_.started()) {
      if (!core_.take_start(f_trial)) return Request::kDone;
      if (use_hessian_) return Request::kHessian;
      reset(T(1), true);
      return begin_search();
    }
    return fallback_.tell(
        core_, search_, updates_ > 0, f_trial, [&] { return accept(f_trial); },
        [&] {
          reset(gamma_, !have_gamma_);  // forget the curvature gathered so far, retry
          return begin_search();
        });
  }

  // The Hessian at x0 is in hessian(): H = its floored inverse.
  Request tell_hessian() {
    ++core_.counters().nhev;
    bool finite = true;
    for (const T& h : hessian_) finite = finite && is_finite(h);
    if (!finite) {
      reset(T(1), true);
      return begin_search();
    }
    ModifiedNewtonStep step(core_.n());
    step.floored_inverse(hessian_.data(), inverse_.data(), double(o_.eig_floor));
    scale_pending_ = identity_ = pending_ = false;
    updates_ = 0;
    product(Eigen::Map<const Vec>(core_.buffers().g, core_.n()), v_);
    return begin_search();
  }

  Request proceed(bool stop = false) {
    return fallback_.proceed(core_, stop, [&] { return begin_search(); });
  }

  T f() const { return core_.f(); }
  T gradient_norm() const { return core_.gradient_norm(); }
  Status status() const { return core_.status(); }
  const Counters& counters() const { return core_.counters(); }

  // The current inverse Hessian approximation (a copy; for tests and callers).
  Matrix inverse_hessian() {
    Vec scratch(core_.n());
    product(Vec::Zero(core_.n()), scratch);  // applies a pending update
    return inverse_.template selfadjointView<Eigen::Lower>();
  }

 private:
  using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using ConstMap = Eigen::Map<const Vec>;

  // H = gamma I and v = H g; with `rescale`, H is rescaled at the next update (N&W 6.20).
  void reset(T gamma, bool rescale) {
    inverse_.setIdentity();
    inverse_ *= gamma;
    scale_pending_ = identity_ = rescale;
    pending_ = false;
    updates_ = 0;
    v_ = gamma * ConstMap(core_.buffers().g, core_.n());
  }

  // out = H g, first applying the pending update H += w s' + s w' (lower triangle) in the
  // same pass over H.
  void product(const Eigen::Ref<const Vec>& g, Vec& out) {
    const index_t n = core_.n();
    out.setZero();
    const T* gp = g.data();
    T* up = out.data();
    const T* wp = w_.data();
    const T* sp = s_.data();
    const bool update = pending_;
    for (index_t j = 0; j < n; ++j) {
      T* col = inverse_.data() + j * n;
      const T gj = gp[j], sj = update ? sp[j] : T(0), wj = update ? wp[j] : T(0);
      const T diagonal = col[j] + T(2) * wj * sj;
      col[j] = diagonal;
      T below = T(0);
      if (update) {
        below = sum_terms<T>(n - j - 1, Contiguous{}, [=](index_t k) {
          const index_t i = j + 1 + k;
          const T h = col[i] + wp[i] * sj + sp[i] * wj;
          col[i] = h;
          up[i] += h * gj;
          return h * gp[i];
        });
      } else {
        below = sum_terms<T>(n - j - 1, Contiguous{}, [=](index_t k) {
          const index_t i = j + 1 + k;
          up[i] += col[i] * gj;
          return col[i] * gp[i];
        });
      }
      up[j] += diagonal * gj + below;
    }
    pending_ = false;
  }

  Request begin_search() {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    Eigen::Map<Vec> p(b.p, n);
    p = -v_;  // v = H g
    T slope = p.dot(ConstMap(b.g, n));
    if (!(slope < T(0))) {  // rounding made H indefinite: start again from the identity
      reset(T(1), true);
      p = -v_;
      slope = p.dot(ConstMap(b.g, n));
    }
    // An unscaled identity gives p = -g of arbitrary length: first try a unit step in x.
    const T first = identity_ ? T(1) / square_root(-slope) : T(1);
    search_.set_step_max(unit_step_max(identity_ ? square_root(-slope) : T(p.norm())));
    if (search_.start(core_.f(), slope, first) != SearchState::kEvaluate) {
      return core_.finish(Status::kLineSearchFailed);
    }
    return core_.trial(search_.step());
  }

  Request accept(T f_trial) {
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    Eigen::Map<Vec> x(b.x, n), g(b.g, n);
    const ConstMap xt(b.xt, n), gt(b.gt, n);
    product(gt, u_);  // u = H g+, applying last iteration's update; w_ and s_ are free now
    s_ = xt - x;
    Vec& y = w_;  // y lives in w_ until w is formed
    y = gt - g;
    const T sy = s_.dot(y), yy = y.squaredNorm();
    x = xt;
    g = gt;
    if (!(sy > std::numeric_limits<T>::epsilon() * yy) || !is_finite(sy) || !is_finite(yy)) {
      v_ = u_;  // curvature condition fails in floating point: skip the update
      return core_.moved(f_trial);
    }
    gamma_ = sy / yy;
    have_gamma_ = true;
    if (scale_pending_) {  // H was the unscaled identity: H = gamma I from now on
      inverse_ *= gamma_;
      u_ *= gamma_;
      v_ *= gamma_;
      scale_pending_ = false;
    }
    identity_ = false;
    const T rho = T(1) / sy;
    const T yhy = y.dot(u_) - y.dot(v_);  // y'Hy with Hy = u - v
    const T c = (rho * rho * yhy + rho) / T(2);
    w_ = c * s_ - rho * (u_ - v_);  // pending: H+ = H + w s' + s w'
    pending_ = true;
    ++updates_;
    v_ = u_ + w_ * s_.dot(g) + s_ * w_.dot(g);  // H+ g+
    return core_.moved(f_trial);
  }

  DescentCore<T> core_;
  BfgsOptions<T> o_;
  bool use_hessian_;
  StrongWolfeSearch<T> search_;
  SearchFallback<T> fallback_;
  Matrix inverse_;  // the inverse Hessian approximation; only its lower triangle is kept
  Vec v_, u_, w_, s_;
  std::vector<T> hessian_;
  bool scale_pending_ = false, identity_ = false, have_gamma_ = false, pending_ = false;
  long updates_ = 0;
  T gamma_ = T(1);
};

namespace detail {

template <class T>
void check_bfgs_options(const BfgsOptions<T>& o) {
  check_stop_options(o);
  check_wolfe_options(o);
  require(o.eig_floor > T(0) && is_finite(o.eig_floor), "eig_floor", "must be a finite number > 0");
}

template <class T, class Objective, class FillHessian, class Callback>
Result<T> bfgs_run(Objective&& fg, FillHessian* fill_hessian, T* x, index_t n,
                   const BfgsOptions<T>& options, Callback&& callback) {
  require_start(x, n);
  check_bfgs_options(options);
  const auto make = [&](const DescentBuffers<T>& b) {
    return BfgsMachine<T>(n, options, b, fill_hessian != nullptr);
  };
  const auto hessian = [&](BfgsMachine<T>& machine) { (*fill_hessian)(machine.hessian()); };
  return run_descent(x, n, make, fg, hessian, callback);
}

}  // namespace detail

template <class Objective, class Callback = NoCallback>
Result<double> bfgs(Objective&& fg, Eigen::Ref<Eigen::VectorXd> x,
                    const BfgsOptions<double>& options = {}, Callback&& callback = {}) {
  auto* none = static_cast<void (*)(double*)>(nullptr);
  return detail::bfgs_run<double>(fg, none, x.data(), x.size(), options, callback);
}

template <class Objective, class Callback = NoCallback>
Result<float> bfgs(Objective&& fg, Eigen::Ref<Eigen::VectorXf> x,
                   const BfgsOptions<float>& options = {}, Callback&& callback = {}) {
  auto* none = static_cast<void (*)(float*)>(nullptr);
  return detail::bfgs_run<float>(fg, none, x.data(), x.size(), options, callback);
}

// With hess(x, H) (as for newton()): the first inverse is the floored inverse Hessian at x0.
template <class Objective, class Hessian, class Callback = NoCallback>
Result<double> bfgs(Objective&& fg, Hessian&& hess, Eigen::Ref<Eigen::VectorXd> x,
                    const BfgsOptions<double>& options = {}, Callback&& callback = {}) {
  const index_t n = x.size();
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(n, n);
  const Eigen::VectorXd x0 = x;
  auto fill = [&](double* out) {
    hess(std::as_const(x0), h);
    Eigen::Map<Eigen::MatrixXd>(out, n, n) = h;
  };
  return detail::bfgs_run<double>(fg, &fill, x.data(), n, options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
