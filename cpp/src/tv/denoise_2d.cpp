// 2-D total variation denoising of images on the CPU (optkern/tv.hpp, tv_denoise_2d):
//
//   anisotropic:  Y = argmin 1/2 |Y - X|^2 + lam (sum |Y_{i,j+1} - Y_{i,j}| + |Y_{i+1,j} - Y_{i,j}|)
//   isotropic:    Y = argmin 1/2 |Y - X|^2 + lam sum_{i,j} |(D Y)_{i,j}|_2
//
// Anisotropic: the TV splits into f1 (differences along rows) + f2 (along columns), whose
// proxes are batches of exact 1-D solves (tv_denoise). The dual of the prox of f1 + f2 is
//   min_{u1, u2} 1/2 |X - u1 - u2|^2 + f1*(u1) + f2*(u2);
// minimising over u1 in closed form (u1 = X - u2 - prox_f1(X - u2)) leaves a function of u2
// with a 1-Lipschitz gradient -prox_f1(X - u2), on which FISTA runs (Chambolle & Pock,
// "A remark on accelerated block coordinate descent for computing the proximity operators of
// a sum of convex functions", SMAI J. Comput. Math. 1, 2015; plain alternation is Dykstra's
// algorithm, Barbero & Sra, JMLR 19, 2018, section 4). Each iteration is one row pass and one
// column pass of the 1-D solver, threaded over rows / columns (the columns through a
// transposed copy).
//
// Isotropic: FISTA on the dual, projected gradient onto |p_ij|_2 <= lam with step 1/8
// (|D|^2 <= 8): Beck & Teboulle's fast gradient projection (IEEE Trans. Image Process. 18(11),
// 2009), the primal point Y = X - D^T p.
//
// Both stop on the duality gap: for dual points u (feasible) and Y = X - u,
//   gap = P(Y) - D(u) = <Y, Y - X> + lam TV(Y),
// computed as <Y - m, Y - X> + lam TV(Y) with m the image's mean (sum(Y - X) = 0), relative
// to P(Y).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "batch.hpp"
#include "optkern/threads.hpp"
#include "optkern/tv.hpp"

namespace optkern {
namespace {

// dst (w x h) = src (h x w) transposed, in tiles.
void transpose(index_t h, index_t w, const double* src, double* dst, int threads) {
  constexpr index_t kTile = 32;
  const index_t tiles_i = (h + kTile - 1) / kTile, tiles_j = (w + kTile - 1) / kTile;
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2)
  for (index_t ti = 0; ti < tiles_i; ++ti)
    for (index_t tj = 0; tj < tiles_j; ++tj) {
      const index_t i_end = std::min(h, (ti + 1) * kTile), j_end = std::min(w, (tj + 1) * kTile);
      for (index_t i = ti * kTile; i < i_end; ++i)
        for (index_t j = tj * kTile; j < j_end; ++j) dst[j * h + i] = src[i * w + j];
    }
}

// Anisotropic TV of an image.
double tv_anisotropic(index_t h, index_t w, const double* y, int threads) {
  double total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
  for (index_t i = 0; i < h; ++i) {
    const double* row = y + i * w;
    double s = 0;
    for (index_t j = 0; j + 1 < w; ++j) s += std::fabs(row[j + 1] - row[j]);
    if (i + 1 < h)
      for (index_t j = 0; j < w; ++j) s += std::fabs(row[w + j] - row[j]);
    total += s;
  }
  return total;
}

// The relative duality gap of Y (see the top), and the primal objective through *objective.
double relative_gap(index_t count, const double* x, const double* y, double tv, double lam,
                    double mean, int threads, double* objective) {
  double inner = 0, fit = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : inner, fit) schedule(static)
  for (index_t k = 0; k < count; ++k) {
    const double d = y[k] - x[k];
    inner += (y[k] - mean) * d;
    fit += d * d;
  }
  const double primal = 0.5 * fit + lam * tv;
  *objective = primal;
  const double gap = std::fmax(inner + lam * tv, 0.0);
  return primal > 0 ? gap / primal : 0.0;
}

struct Result2d {
  index_t nit;
  double gap;
};

Result2d anisotropic(index_t h, index_t w, const double* x, double lam, double tol,
                     index_t max_iter, double* y, int threads, Interrupt* interrupt) {
  const index_t count = h * w;
  std::vector<double> buffer(6 * std::size_t(count));
  double* u2 = buffer.data();     // the column part of the dual, feasible
  double* v = u2 + count;         // FISTA's extrapolated point
  double* a = v + count;          // prox_f1(X - v), then v + a
  double* t1 = a + count;         // transposed copies for the column pass
  double* t2 = t1 + count;
  double* c = t2 + count;         // prox_f2(v + a): the primal point
  std::fill(u2, u2 + count, 0.0);
  std::fill(v, v + count, 0.0);
  double mean = 0;
  for (index_t k = 0; k < count; ++k) mean += x[k];
  mean /= double(count);
  double t = 1, gap = INFINITY, objective = 0;
  index_t it = 0;
  while (it < max_iter) {
    if (it > 0 && detail::poll(interrupt)) break;
    ++it;
    // rows: a = prox_f1(X - v)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t k = 0; k < count; ++k) a[k] = x[k] - v[k];
    tv_denoise<double>(h, w, a, &lam, 0, t2, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t k = 0; k < count; ++k) a[k] = v[k] + t2[k];
    // columns: c = prox_f2(v + a), u2_new = v + a - c
    transpose(h, w, a, t1, threads);
    tv_denoise<double>(w, h, t1, &lam, 0, t2, threads);
    transpose(w, h, t2, c, threads);
    gap = relative_gap(count, x, c, tv_anisotropic(h, w, c, threads), lam, mean, threads,
                       &objective);
    if (gap <= tol) break;
    // Adaptive restart (O'Donoghue & Candes, Found. Comput. Math. 15, 2015): when the step
    // u_new - u2 points against the last gradient step u_new - v, momentum is dropped.
    double turn = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : turn) schedule(static)
    for (index_t k = 0; k < count; ++k) {
      const double u_new = a[k] - c[k];
      turn += (v[k] - u_new) * (u_new - u2[k]);
    }
    if (turn > 0) t = 1;
    const double t_next = 0.5 * (1 + std::sqrt(1 + 4 * t * t)), beta = (t - 1) / t_next;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t k = 0; k < count; ++k) {
      const double u_new = a[k] - c[k];
      v[k] = u_new + beta * (u_new - u2[k]);
      u2[k] = u_new;
    }
    t = t_next;
  }
  std::copy(c, c + count, y);
  return {it, gap};
}

// Y = X - D^T p for the isotropic dual p = (px, py) (px: h x w, last column 0; py: last row 0),
// (D^T p)_{ij} = px_{i,j-1} - px_{ij} + py_{i-1,j} - py_{ij}; returns TV_iso(Y).
double primal_from_dual(index_t h, index_t w, const double* x, const double* px,
                        const double* py, double* y, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < h; ++i)
    for (index_t j = 0; j < w; ++j) {
      const index_t k = i * w + j;
      double dtp = -px[k] - py[k];
      if (j > 0) dtp += px[k - 1];
      if (i > 0) dtp += py[k - w];
      y[k] = x[k] - dtp;
    }
  double total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
  for (index_t i = 0; i < h; ++i) {
    double s = 0;
    for (index_t j = 0; j < w; ++j) {
      const index_t k = i * w + j;
      const double gx = j + 1 < w ? y[k + 1] - y[k] : 0.0;
      const double gy = i + 1 < h ? y[k + w] - y[k] : 0.0;
      s += std::sqrt(gx * gx + gy * gy);
    }
    total += s;
  }
  return total;
}

Result2d isotropic(index_t h, index_t w, const double* x, double lam, double tol,
                   index_t max_iter, double* y, int threads, Interrupt* interrupt) {
  const index_t count = h * w;
  std::vector<double> buffer(7 * std::size_t(count), 0.0);
  double* px = buffer.data();  // p_k (feasible)
  double* py = px + count;
  double* rx = py + count;     // the extrapolated point
  double* ry = rx + count;
  double* yp = ry + count;     // Y(p_k)
  double* yp_old = yp + count;
  double* yr = yp_old + count;  // Y(r) = Y(p_k) + beta (Y(p_k) - Y(p_{k-1})) (Y is affine in p)
  double mean = 0;
  for (index_t k = 0; k < count; ++k) mean += x[k];
  mean /= double(count);
  std::copy(x, x + count, yr);
  std::copy(x, x + count, yp);
  double t = 1, gap = INFINITY, objective = 0;
  const double step = 0.125;
  index_t it = 0;
  while (it < max_iter) {
    if (it > 0 && detail::poll(interrupt)) break;
    ++it;
    std::swap(yp, yp_old);
    double turn = 0;  // <r - p_new, p_new - p_old>, for the adaptive restart
#pragma omp parallel for num_threads(threads) reduction(+ : turn) schedule(static)
    for (index_t i = 0; i < h; ++i)
      for (index_t j = 0; j < w; ++j) {
        const index_t k = i * w + j;
        const double gx = j + 1 < w ? yr[k + 1] - yr[k] : 0.0;
        const double gy = i + 1 < h ? yr[k + w] - yr[k] : 0.0;
        double qx = j + 1 < w ? rx[k] + step * gx : 0.0;
        double qy = i + 1 < h ? ry[k] + step * gy : 0.0;
        const double norm = std::sqrt(qx * qx + qy * qy);
        if (norm > lam) {
          const double shrink = lam / norm;
          qx *= shrink;
          qy *= shrink;
        }
        // r is still needed by no one else: keep p_old in r for the extrapolation below
        const double old_x = px[k], old_y = py[k];
        turn += (rx[k] - qx) * (qx - old_x) + (ry[k] - qy) * (qy - old_y);
        px[k] = qx;
        py[k] = qy;
        rx[k] = old_x;
        ry[k] = old_y;
      }
    const double tv = primal_from_dual(h, w, x, px, py, yp, threads);
    gap = relative_gap(count, x, yp, tv, lam, mean, threads, &objective);
    if (gap <= tol) break;
    if (turn > 0) t = 1;
    const double t_next = 0.5 * (1 + std::sqrt(1 + 4 * t * t)), beta = (t - 1) / t_next;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t k = 0; k < count; ++k) {
      rx[k] = px[k] + beta * (px[k] - rx[k]);
      ry[k] = py[k] + beta * (py[k] - ry[k]);
      yr[k] = yp[k] + beta * (yp[k] - yp_old[k]);
    }
    t = t_next;
  }
  std::copy(yp, yp + count, y);
  return {it, gap};
}

}  // namespace

template <class T>
void tv_denoise_2d(index_t batch, index_t h, index_t w, const T* x, const double* lam,
                   index_t lam_stride, bool isotropic_tv, double tol, index_t max_iter, T* y,
                   index_t* nit, double* gap, int num_threads, Interrupt* interrupt) {
  require(batch >= 0 && h >= 0 && w >= 0, "img", "sizes must be non-negative");
  require(tol >= 0 && std::isfinite(tol), "tol", "must be a finite number >= 0");
  require(max_iter >= 1, "max_iter", "must be >= 1");
  if (batch == 0) return;
  require(x && y && lam && nit && gap, "img", "null pointer");
  tv_detail::check_lambdas(batch, lam, lam_stride);
  const index_t count = h * w;
  // Parallel regions cost microseconds each, several per iteration: small images run on one
  // thread.
  const int threads = count < 16384 ? 1 : num_threads > 0 ? num_threads : optkern::num_threads();
  std::vector<double> xd(static_cast<std::size_t>(count)), yd(static_cast<std::size_t>(count));
  for (index_t b = 0; b < batch; ++b) {
    const T* xb = x + b * count;
    T* yb = y + b * count;
    const double l = lam[b * lam_stride];
    if (count == 0 || l == 0 || (h <= 1 && w <= 1)) {
      std::copy(xb, xb + count, yb);
      nit[b] = 0;
      gap[b] = 0;
      continue;
    }
    for (index_t k = 0; k < count; ++k) xd[std::size_t(k)] = double(xb[k]);
    const Result2d r = isotropic_tv
                           ? isotropic(h, w, xd.data(), l, tol, max_iter, yd.data(), threads,
                                       interrupt)
                           : anisotropic(h, w, xd.data(), l, tol, max_iter, yd.data(), threads,
                                         interrupt);
    for (index_t k = 0; k < count; ++k) yb[k] = T(yd[std::size_t(k)]);
    nit[b] = r.nit;
    gap[b] = r.gap;
    detail::throw_if_stopped(interrupt);
  }
}

// The backward of the anisotropic prox: Y is constant on the connected regions of fused
// neighbours (|Y_p - Y_q| <= rtol max|Y|), and its Jacobian averages over each region (the
// generalized lasso's fit is locally the projection onto null(D_F), F the unfused edges:
// Tibshirani & Taylor, Ann. Statist. 39(3), 2011), so grad_x is the region mean of grad_y.
// With s = sign(D Y) on unfused edges, Y_R = mean(X_R) - lam (D^T s)_R / |R| gives
// dL/dlam = -<D grad_x, s>.
template <class T>
void tv_denoise_2d_vjp(index_t batch, index_t h, index_t w, const T* y, const T* grad_y,
                       double rtol, T* grad_x, double* grad_lam, int num_threads) {
  require(batch >= 0 && h >= 0 && w >= 0, "img", "sizes must be non-negative");
  require(rtol >= 0 && std::isfinite(rtol), "rtol", "must be a finite number >= 0");
  if (batch == 0) return;
  require(y && grad_y && grad_x && grad_lam, "y", "null pointer");
  const index_t count = h * w;
  tv_detail::for_each_signal(
      batch, count, num_threads,
      [count] {
        return std::vector<index_t>(2 * std::size_t(count));
      },
      [&](std::vector<index_t>& work, index_t b) {
        const T* yb = y + b * count;
        const T* gb = grad_y + b * count;
        T* gx = grad_x + b * count;
        index_t* parent = work.data();
        index_t* size = parent + count;
        double scale = 0;
        // std::max, not fmax: GCC 12 for aarch64 crashes vectorising an fmax reduction of floats.
        for (index_t k = 0; k < count; ++k) scale = std::max(scale, std::fabs(double(yb[k])));
        const double tol = rtol * scale;
        auto find = [parent](index_t k) {
          while (parent[k] != k) {
            parent[k] = parent[parent[k]];
            k = parent[k];
          }
          return k;
        };
        auto unite = [&](index_t p, index_t q) {
          p = find(p);
          q = find(q);
          if (p == q) return;
          if (size[p] < size[q]) std::swap(p, q);
          parent[q] = p;
          size[p] += size[q];
        };
        for (index_t k = 0; k < count; ++k) {
          parent[k] = k;
          size[k] = 1;
        }
        auto fused = [&](index_t p, index_t q) {
          return std::fabs(double(yb[p]) - double(yb[q])) <= tol;
        };
        for (index_t i = 0; i < h; ++i)
          for (index_t j = 0; j < w; ++j) {
            const index_t k = i * w + j;
            if (j + 1 < w && fused(k, k + 1)) unite(k, k + 1);
            if (i + 1 < h && fused(k, k + w)) unite(k, k + w);
          }
        // region sums of grad_y in double, at the roots
        std::vector<double> sums(static_cast<std::size_t>(count), 0.0);
        for (index_t k = 0; k < count; ++k) sums[std::size_t(find(k))] += double(gb[k]);
        std::vector<double> means(static_cast<std::size_t>(count));
        for (index_t k = 0; k < count; ++k) {
          const index_t root = find(k);
          means[std::size_t(k)] = sums[std::size_t(root)] / double(size[root]);
        }
        double gl = 0;
        for (index_t i = 0; i < h; ++i)
          for (index_t j = 0; j < w; ++j) {
            const index_t k = i * w + j;
            if (j + 1 < w && !fused(k, k + 1)) {
              const double s = double(yb[k + 1]) > double(yb[k]) ? 1.0 : -1.0;
              gl -= s * (means[std::size_t(k + 1)] - means[std::size_t(k)]);
            }
            if (i + 1 < h && !fused(k, k + w)) {
              const double s = double(yb[k + w]) > double(yb[k]) ? 1.0 : -1.0;
              gl -= s * (means[std::size_t(k + w)] - means[std::size_t(k)]);
            }
          }
        for (index_t k = 0; k < count; ++k) gx[k] = T(means[std::size_t(k)]);
        grad_lam[b] = gl;
      });
}

#define OPTKERN_TV_2D(T)                                                                       \
  template void tv_denoise_2d<T>(index_t, index_t, index_t, const T*, const double*, index_t, \
                                 bool, double, index_t, T*, index_t*, double*, int,           \
                                 Interrupt*);                                                 \
  template void tv_denoise_2d_vjp<T>(index_t, index_t, index_t, const T*, const T*, double,   \
                                     T*, double*, int);
OPTKERN_TV_2D(float)
OPTKERN_TV_2D(double)
#undef OPTKERN_TV_2D

}  // namespace optkern
