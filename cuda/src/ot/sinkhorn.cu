// Sinkhorn on a CUDA device, the whole solve in one launch (optkern/cuda/ot.hpp).
//
// A problem is solved by a "group": one thread block (batched small problems, one block each)
// or the whole cooperative grid (one large problem; grid.sync() between phases). Each block
// owns whole rows (so a row's dot product or log-sum-exp is a block reduction), and each of
// its threads owns the columns j = threadIdx.x + k * blockDim.x, whose accumulators (K^T u, or
// the plan's column sums in the log domain) it alone updates, in shared memory when they fit.
// An iteration is the CPU's (ot/sinkhorn_solver.hpp): phase 1 streams this block's rows once,
// updating the row potential and folding the row into the column accumulators; phase 2 sums
// the accumulators over the group's blocks and updates the column potentials. The marginal
// error of the previous iterate comes for free from phase 1 and is checked every few
// iterations on the device; the host only launches and, at the end, reads the statuses.
#include <cooperative_groups.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "optkern/cuda/ot.hpp"
#include "optkern/cuda/runtime.hpp"

namespace cg = cooperative_groups;

namespace optkern::cuda {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kSlots = 4;             // rotating scratch slots for grid-wide reductions
constexpr int kScratch = 32;          // doubles of shared scratch for block reductions
constexpr double kStarved = 1e-280;   // a column sum this small is recomputed exactly
constexpr int kWorkVectors = 11;      // per-problem work vectors (see Work)

struct DeviceStatus {
  int n_iter;
  int method;
  int converged;
  int bad_input;
  double marginal_error;
  double cost;
  double value;
};

template <class T>
struct Args {
  index_t m, n;
  const T* M;
  index_t M_stride;
  const T* a;
  index_t a_stride;
  const T* b;
  index_t b_stride;
  const T* init_g;
  index_t init_g_stride;
  T* plan;
  T* f;
  T* g;
  double reg, inv_reg, tol, range_limit;
  int max_iter, check_every, method;
  bool acc_in_shared;
  double* work;         // kWorkVectors * (m + n) doubles per problem
  double* partials;     // grid: gridDim.x * n; block mode: batch * n (when not in shared)
  double* scalars;      // grid: kSlots * gridDim.x
  DeviceStatus* status;
};

// Per-problem vectors in device memory.
struct Work {
  double *a, *b, *log_a, *log_b;  // weights (b rescaled to the mass of a) and their logs
  double *row, *col, *col_good;   // u or F; v or G; the last v checked finite
  double *row_shift, *col_shift;  // alpha / reg, beta / reg
  double *row_sum, *col_sum;      // the plan's marginals
  __device__ Work(double* w, index_t m, index_t n) {
    a = w;
    row = a + m;
    row_shift = row + m;
    row_sum = row_shift + m;
    log_a = row_sum + m;
    b = log_a + m;
    col = b + n;
    col_good = col + n;
    col_shift = col_good + n;
    col_sum = col_shift + n;
    log_b = col_sum + n;
  }
};

__device__ double warp_sum(double x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ double warp_max(double x) {
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Every thread of the block gets the sum (max); blockDim.x is a multiple of 32.
__device__ double block_sum(double x, double* scratch) {
  x = warp_sum(x);
  __syncthreads();  // the scratch may still be read by the previous reduction
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = x;
  __syncthreads();
  const unsigned lane = threadIdx.x & 31;
  return warp_sum(lane < (blockDim.x >> 5) ? scratch[lane] : 0.0);
}

__device__ double block_max(double x, double* scratch) {
  x = warp_max(x);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = x;
  __syncthreads();
  const unsigned lane = threadIdx.x & 31;
  return warp_max(lane < (blockDim.x >> 5) ? scratch[lane] : -kInf);
}

template <class T>
__device__ double exp_of(double x) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return double(__expf(float(x)));  // float input: float exps (sums stay in double)
  } else {
    return exp(x);
  }
}

// One problem's group: a block, or the cooperative grid.
template <bool kGrid>
struct Group {
  double* scalars;
  int round = 0;

  __device__ void sync() {
    if constexpr (kGrid) {
      cg::this_grid().sync();
    } else {
      __syncthreads();
    }
  }
  // This block's rows.
  __device__ index_t row0() const { return kGrid ? index_t(blockIdx.x) : 0; }
  __device__ index_t row_step() const { return kGrid ? index_t(gridDim.x) : 1; }
  // This thread's share of a vector spread over the whole group (phase 2).
  __device__ index_t item0() const {
    return kGrid ? index_t(blockIdx.x) * blockDim.x + threadIdx.x : index_t(threadIdx.x);
  }
  __device__ index_t item_step() const {
    return kGrid ? index_t(gridDim.x) * blockDim.x : index_t(blockDim.x);
  }
  // Reduce a value every thread of each block already agrees on over the group's blocks.
  template <class Op>
  __device__ double reduce(double x, Op op, double start) {
    if constexpr (!kGrid) {
      return x;
    } else {
      double* slot = scalars + (round++ % kSlots) * gridDim.x;
      if (threadIdx.x == 0) slot[blockIdx.x] = x;
      sync();
      double s = start;
      for (unsigned k = 0; k < gridDim.x; ++k) s = op(s, slot[k]);
      return s;
    }
  }
  __device__ double sum(double x) {
    return reduce(x, [](double u, double v) { return u + v; }, 0.0);
  }
  __device__ double max(double x) {
    return reduce(x, [](double u, double v) { return fmax(u, v); }, -kInf);
  }
};

// The column accumulators of this block (owned per thread), and, for a grid, their sum over
// the blocks: `gather` leaves column j's total in acc_total(j) for this thread's phase-2
// columns and zeroes every block's accumulator.
template <class T, bool kGrid>
struct Columns {
  const Args<T>& p;
  double* acc;       // this block's accumulator (shared or global)
  double* partials;  // grid: gridDim.x rows of n
  __device__ Columns(const Args<T>& args, double* shared_acc, index_t problem)
      : p(args), partials(args.partials) {
    acc = args.acc_in_shared ? shared_acc
                             : args.partials + (kGrid ? index_t(blockIdx.x) : problem) * args.n;
  }
  __device__ void zero() {
    for (index_t j = threadIdx.x; j < p.n; j += blockDim.x) acc[j] = 0;
  }
  // Grid: publish this block's accumulator (then sync before reading totals).
  __device__ void publish() {
    if constexpr (kGrid) {
      if (p.acc_in_shared)
        for (index_t j = threadIdx.x; j < p.n; j += blockDim.x) {
          partials[index_t(blockIdx.x) * p.n + j] = acc[j];
          acc[j] = 0;
        }
    }
  }
  // Column j (a phase-2 column of this thread) reduced over the blocks by `op` from
  // `start` (a grid) or this block's value, zeroing what it read.
  template <class Op>
  __device__ double take(index_t j, Op op, double start) {
    if constexpr (kGrid) {
      double s = start;
      for (unsigned k = 0; k < gridDim.x; ++k) {
        s = op(s, partials[index_t(k) * p.n + j]);
        partials[index_t(k) * p.n + j] = 0;
      }
      return s;
    } else {
      const double s = acc[j];
      acc[j] = 0;
      return s;
    }
  }
  __device__ double take(index_t j) {
    return take(j, [](double x, double y) { return x + y; }, 0.0);
  }
  __device__ double take_min(index_t j) {
    return take(j, [](double x, double y) { return fmin(x, y); }, kInf);
  }
};

// log sum_i exp(F_i * scale - M_ij / reg) over the rows with a_i > 0 (one column, by one
// thread: only for zero-weight or starved columns).
template <class T>
__device__ double column_lse(const T* M, index_t m, index_t n, index_t j, const double* F,
                             double scale, const double* a, double inv_reg) {
  double hi = -kInf;
  for (index_t i = 0; i < m; ++i)
    if (a[i] > 0) hi = fmax(hi, F[i] * scale - double(M[i * n + j]) * inv_reg);
  double s = 0;
  for (index_t i = 0; i < m; ++i)
    if (a[i] > 0) s += exp(F[i] * scale - double(M[i * n + j]) * inv_reg - hi);
  return hi + log(s);
}

// log sum_j exp(G_j - M_ij / reg) for row i, by the block (every thread gets it).
template <class T>
__device__ double row_lse(const T* Mi, const double* G, index_t n, double inv_reg,
                          double* scratch) {
  double hi = -kInf;
  for (index_t j = threadIdx.x; j < n; j += blockDim.x)
    hi = fmax(hi, G[j] - double(Mi[j]) * inv_reg);
  hi = block_max(hi, scratch);
  double s = 0;
  for (index_t j = threadIdx.x; j < n; j += blockDim.x)
    s += exp(G[j] - double(Mi[j]) * inv_reg - hi);
  return hi + log(block_sum(s, scratch));
}

constexpr int kMaxThreads = 512;  // 128 registers a thread at most: one 512-thread block per SM

template <class T, bool kGrid>
__global__ void __launch_bounds__(kMaxThreads, 1) sinkhorn_kernel(const Args<T> p) {
  extern __shared__ double smem[];
  double* scratch = smem;
  const index_t k = kGrid ? 0 : index_t(blockIdx.x);
  const index_t m = p.m, n = p.n;
  const T* M = p.M + k * p.M_stride;
  const T* a_in = p.a + k * p.a_stride;
  const T* b_in = p.b + k * p.b_stride;
  const T* init_g = p.init_g ? p.init_g + k * p.init_g_stride : nullptr;
  T* plan = p.plan + k * m * n;
  Work w(p.work + k * index_t(kWorkVectors) * (m + n), m, n);
  Group<kGrid> grp{p.scalars};
  Columns<T, kGrid> cols(p, smem + kScratch, k);
  const double inv_reg = p.inv_reg, reg = p.reg;

  // Weights: checked, b given the mass of a, logs.
  double sa = 0, sb = 0, bad = 0;
  for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
    const double x = double(a_in[i]);
    bad = (isfinite(x) && x >= 0) ? bad : 1.0;
    sa += x;
  }
  for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
    const double x = double(b_in[j]);
    bad = (isfinite(x) && x >= 0) ? bad : 1.0;
    sb += x;
  }
  sa = grp.sum(block_sum(sa, scratch));
  sb = grp.sum(block_sum(sb, scratch));
  bad = grp.max(block_max(bad, scratch));
  if (bad > 0 || !(sa > 0) || !(sb > 0) || fabs(sa - sb) > 1e-6 * fmax(sa, sb)) {
    if ((!kGrid || blockIdx.x == 0) && threadIdx.x == 0) p.status[k].bad_input = 1;
    return;  // uniform over the group
  }
  const double mass = sa;
  for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
    w.a[i] = double(a_in[i]);
    w.log_a[i] = w.a[i] > 0 ? log(w.a[i]) : -kInf;
  }
  for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
    w.b[j] = double(b_in[j]) * (sa / sb);
    w.log_b[j] = w.b[j] > 0 ? log(w.b[j]) : -kInf;
  }
  cols.zero();
  grp.sync();

  // Method: the kernel domain needs the shifts alpha (row minima) and beta (column minima
  // after alpha); "auto" takes it when the shifted kernel fits the range of T.
  int method = p.method;
  if (method != 2) {
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) cols.acc[j] = kInf;
    for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
      const T* Mi = M + i * n;
      double lo = kInf;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) lo = fmin(lo, double(Mi[j]));
      lo = -block_max(-lo, scratch);
      if (threadIdx.x == 0) w.row_shift[i] = lo * inv_reg;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        cols.acc[j] = fmin(cols.acc[j], double(Mi[j]) - lo);  // column minima of M - alpha
    }
    cols.publish();
    grp.sync();
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col_shift[j] = cols.take_min(j) * inv_reg;
    grp.sync();
    if (method == 0) {
      double hi = 0;
      for (index_t i = grp.row0(); i < m; i += grp.row_step())
        for (index_t j = threadIdx.x; j < n; j += blockDim.x)
          hi = fmax(hi, double(M[i * n + j]) * inv_reg - w.row_shift[i] - w.col_shift[j]);
      hi = grp.max(block_max(hi, scratch));
      method = hi <= p.range_limit ? 1 : 2;
    }
  }

  int iter = 0;
  bool converged_early = false;
  if (method == 1) {
    // K in the plan buffer; v from init (scaled to a largest entry of 1) or ones.
    for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        plan[i * n + j] = T(exp(w.row_shift[i] + w.col_shift[j] - double(M[i * n + j]) * inv_reg));
      if (threadIdx.x == 0) w.row[i] = 0;
    }
    double top = 0;
    if (init_g) {
      top = -kInf;
      for (index_t j = grp.item0(); j < n; j += grp.item_step())
        if (w.b[j] > 0) top = fmax(top, double(init_g[j]) * inv_reg - w.col_shift[j]);
      top = grp.max(block_max(top, scratch));
    }
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      const double x = init_g ? double(init_g[j]) * inv_reg - w.col_shift[j] - top : 0.0;
      w.col[j] = w.b[j] > 0 ? exp(x) : 0.0;
      w.col_good[j] = w.col[j];
    }
    grp.sync();

    bool breakdown = false;
    while (iter < p.max_iter) {
      ++iter;
      const bool check = p.tol > 0 && iter > 1 && iter % p.check_every == 0;
      double err = 0, flag = 0;
      // Phase 1: my rows: u_i = a_i / (K_i . v), then K^T u += u_i K_i.
      for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
        const T* Ki = plan + i * n;
        double part = 0;
#pragma unroll 8
        for (index_t j = threadIdx.x; j < n; j += blockDim.x) part += double(Ki[j]) * w.col[j];
        const double s = block_sum(part, scratch);
        const double ai = w.a[i];
        const double u = ai > 0 ? ai / s : 0.0;
        if (threadIdx.x == 0) {
          if (check) err = fmax(err, fabs(w.row[i] * s - ai));
          w.row[i] = u;
        }
        flag = (ai > 0 && !(s > 0 && u > 0 && u < kInf)) ? 1.0 : flag;  // as on the CPU
        if (u != 0) {
#pragma unroll 8
          for (index_t j = threadIdx.x; j < n; j += blockDim.x) cols.acc[j] += u * double(Ki[j]);
        }
      }
      cols.publish();
      grp.sync();
      // Phase 2: my columns: v = b / K^T u.
      for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
        const double s = cols.take(j);
        const double v = w.b[j] > 0 ? w.b[j] / s : 0.0;
        flag = (w.b[j] > 0 && !(v > 0 && v < kInf)) ? 1.0 : flag;
        w.col[j] = v;
      }
      flag = grp.max(block_max(flag, scratch));
      if (flag > 0) {
        breakdown = true;
        break;
      }
      if (check) {
        for (index_t j = grp.item0(); j < n; j += grp.item_step()) w.col_good[j] = w.col[j];
        err = grp.max(block_max(err, scratch));
        if (err <= p.tol * mass) {
          converged_early = true;
          break;
        }
      }
    }
    if (breakdown) {
      // Go on in the log domain from the last v checked finite (G = log v + beta / reg).
      for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
        const double v = w.col_good[j];
        w.col[j] = w.b[j] > 0 ? (v > 0 && v < kInf ? log(v) : 0.0) + w.col_shift[j] : -kInf;
      }
      for (index_t i = grp.item0(); i < m; i += grp.item_step())
        w.row[i] = w.a[i] > 0 ? 0.0 : -kInf;
      cols.zero();
      method = 2;
      iter = iter < p.max_iter ? iter : p.max_iter - 1;  // leave the log domain one iteration
      grp.sync();
    }
  } else {
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col[j] = w.b[j] > 0 ? (init_g ? double(init_g[j]) * inv_reg : 0.0) : -kInf;
    for (index_t i = grp.item0(); i < m; i += grp.item_step())
      w.row[i] = w.a[i] > 0 ? 0.0 : -kInf;
    grp.sync();
  }

  if (method == 2 && !converged_early) {
    // Log domain on F = f / reg, G = g / reg: row i gives F_i by log-sum-exp and adds its plan
    // entries exp(F_i + G_j - M_ij / reg) to the column sums s_j; then G_j += log b_j - log s_j.
    do {
      ++iter;
      const bool check = p.tol > 0 && iter > 1 && iter % p.check_every == 0;
      double err = 0;
      for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
        const double ai = w.a[i];
        if (!(ai > 0)) continue;  // uniform over the block
        const T* Mi = M + i * n;
        double hi = -kInf;
#pragma unroll 8
        for (index_t j = threadIdx.x; j < n; j += blockDim.x)
          hi = fmax(hi, w.col[j] - double(Mi[j]) * inv_reg);
        hi = block_max(hi, scratch);
        double s = 0;
#pragma unroll 4
        for (index_t j = threadIdx.x; j < n; j += blockDim.x)
          s += exp_of<T>(w.col[j] - double(Mi[j]) * inv_reg - hi);
        s = block_sum(s, scratch);
        const double F = w.log_a[i] - hi - log(s);
        if (threadIdx.x == 0) {
          if (check) err = fmax(err, ai * fabs(expm1(w.row[i] - F)));
          w.row[i] = F;
        }
        const double scale = ai / s;
        for (index_t j = threadIdx.x; j < n; j += blockDim.x)
          cols.acc[j] += scale * exp_of<T>(w.col[j] - double(Mi[j]) * inv_reg - hi);
      }
      cols.publish();
      grp.sync();
      for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
        const double s = cols.take(j);
        if (!(w.b[j] > 0)) continue;
        w.col[j] = s > kStarved ? w.col[j] + w.log_b[j] - log(s)
                                : w.log_b[j] - column_lse(M, m, n, j, w.row, 1.0, w.a, inv_reg);
      }
      err = check ? grp.max(block_max(err, scratch)) : kInf;
      if (!check) grp.sync();
      if (err <= p.tol * mass) break;
    } while (iter < p.max_iter);
  }

  // The plan, its marginals and cost; f and g unscaled (c-transforms at zero weights).
  double cost = 0;
  for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
    const T* Mi = M + i * n;
    T* Pi = plan + i * n;
    const double ai = w.a[i];
    double rs = 0;
    if (ai > 0) {
      const double u = w.row[i];
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const double x = method == 1 ? u * double(Pi[j]) * w.col[j]
                                     : exp(u + w.col[j] - double(Mi[j]) * inv_reg);
        const T pt = T(x);
        Pi[j] = pt;
        rs += double(pt);
        cost += double(Mi[j]) * double(pt);
        cols.acc[j] += double(pt);
      }
    } else {
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) Pi[j] = T(0);
    }
    rs = block_sum(rs, scratch);
    double f;
    if (ai > 0) {
      f = method == 1 ? reg * (log(w.row[i]) + w.row_shift[i]) : reg * w.row[i];
    } else {
      // c-transform -reg LSE_j(G_j - M_ij / reg), with G = log v + beta / reg for plain
      double hi = -kInf;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const double G = method == 1 ? (w.col[j] > 0 ? log(w.col[j]) + w.col_shift[j] : -kInf)
                                     : w.col[j];
        hi = fmax(hi, G - double(Mi[j]) * inv_reg);
      }
      hi = block_max(hi, scratch);
      double s = 0;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const double G = method == 1 ? (w.col[j] > 0 ? log(w.col[j]) + w.col_shift[j] : -kInf)
                                     : w.col[j];
        s += exp(G - double(Mi[j]) * inv_reg - hi);
      }
      f = -reg * (hi + log(block_sum(s, scratch)));
    }
    __syncthreads();  // every thread has read w.row[i] before it is replaced
    if (threadIdx.x == 0) {
      w.row_sum[i] = rs;
      w.row[i] = f;
    }
  }
  cols.publish();
  grp.sync();
  for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
    w.col_sum[j] = cols.take(j);
    if (w.b[j] > 0) {
      w.col[j] = method == 1 ? reg * (log(w.col[j]) + w.col_shift[j]) : reg * w.col[j];
    } else {  // the c-transform of the positive rows' f
      w.col[j] = -reg * column_lse(M, m, n, j, w.row, inv_reg, w.a, inv_reg);
    }
  }
  grp.sync();

  // Gauge <a, f> = <b, g>, outputs, status.
  double af = 0, bg = 0, err = 0, total = 0, heaviest = 0;
  for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
    if (w.a[i] > 0) af += w.a[i] * w.row[i];
    err = fmax(err, fabs(w.row_sum[i] - w.a[i]));
    total += w.row_sum[i];
    heaviest = fmax(heaviest, w.a[i]);
  }
  for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
    if (w.b[j] > 0) bg += w.b[j] * w.col[j];
    err = fmax(err, fabs(w.col_sum[j] - w.b[j]));
    heaviest = fmax(heaviest, w.b[j]);
  }
  heaviest = grp.max(block_max(heaviest, scratch));
  af = grp.sum(block_sum(af, scratch));
  bg = grp.sum(block_sum(bg, scratch));
  err = grp.max(block_max(err, scratch));
  total = grp.sum(block_sum(total, scratch));
  cost = grp.sum(block_sum(cost, scratch));
  const double shift = (bg - af) / (2 * mass);
  double fr = 0, gc = 0;
  T* f_out = p.f + k * m;
  T* g_out = p.g + k * n;
  for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
    const double f = w.row[i] + shift;
    f_out[i] = T(f);
    fr += f * w.row_sum[i];
  }
  for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
    const double g = w.col[j] - shift;
    g_out[j] = T(g);
    gc += g * w.col_sum[j];
  }
  fr = grp.sum(block_sum(fr, scratch));
  gc = grp.sum(block_sum(gc, scratch));
  if ((kGrid ? blockIdx.x == 0 : true) && threadIdx.x == 0) {
    DeviceStatus& s = p.status[k];
    s.n_iter = iter;
    s.method = method;
    // as on the CPU: tol * mass, plus what rounding the plan to T can add
    s.converged = err <= p.tol * mass + 0.5 * double(std::numeric_limits<T>::epsilon()) * heaviest;
    s.bad_input = 0;
    s.marginal_error = err;
    s.cost = cost;
    s.value = fr + gc - reg * total;
  }
}

// Device memory freed when the call ends (stream-ordered).
struct DeviceBuffer {
  void* ptr = nullptr;
  cudaStream_t stream;
  DeviceBuffer(std::size_t bytes, cudaStream_t s) : stream(s) {
    check(cudaMallocAsync(&ptr, std::max<std::size_t>(bytes, 8), stream), "sinkhorn workspace");
  }
  ~DeviceBuffer() { cudaFreeAsync(ptr, stream); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class U>
  U* as() const {
    return static_cast<U*>(ptr);
  }
};

int round_up(index_t x, int to) { return int((x + to - 1) / to * to); }

}  // namespace

template <class T>
void sinkhorn(const SinkhornProblem<T>& problem, const SinkhornOptions& o,
              const SinkhornOutput<T>& out, cudaStream_t stream) {
  const index_t batch = problem.batch, m = problem.m, n = problem.n;
  require(batch >= 0, "batch", "must be >= 0");
  require(m >= 1 && n >= 1, "M", "must have at least one row and one column");
  require(std::isfinite(o.reg) && o.reg > 0, "reg", "expected a positive finite number");
  require(std::isfinite(o.tol) && o.tol >= 0, "tol", "expected a finite number >= 0");
  require(o.max_iter >= 1, "max_iter", "expected an integer >= 1");
  require(o.check_every >= 1, "check_every", "expected an integer >= 1");
  if (batch == 0) return;
  require(problem.M && problem.a && problem.b && out.plan && out.f && out.g && out.status, "M",
          "null pointer");

  int device = 0, sms = 0, max_shared = 0, coop = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "attribute");
  check(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "attribute");
  check(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device), "attribute");

  // One problem per block unless a problem is large enough to need the whole GPU.
  const bool grid = coop && m * n >= (index_t(1) << 20) && batch < sms;
  const int threads = grid ? kMaxThreads : std::clamp(round_up(n, 32), 64, kMaxThreads);
  std::size_t shared = std::size_t(kScratch + n) * sizeof(double);
  const bool acc_in_shared = shared <= std::size_t(max_shared);
  if (!acc_in_shared) shared = kScratch * sizeof(double);

  Args<T> args{};
  args.m = m;
  args.n = n;
  args.reg = o.reg;
  args.inv_reg = 1.0 / o.reg;
  args.tol = o.tol;
  args.range_limit = sizeof(T) == sizeof(float) ? 80.0 : 300.0;  // as on the CPU
  args.max_iter = o.max_iter;
  args.check_every = o.check_every;
  args.method = int(o.method);
  args.acc_in_shared = acc_in_shared;

  const index_t in_flight = grid ? 1 : batch;
  const std::size_t work_doubles = std::size_t(in_flight) * kWorkVectors * std::size_t(m + n);
  int blocks = int(std::min<index_t>(batch, index_t(1) << 30));
  void (*kernel_block)(const Args<T>) = sinkhorn_kernel<T, false>;
  void (*kernel_grid)(const Args<T>) = sinkhorn_kernel<T, true>;
  if (grid) {
    check(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel_grid),
                               cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
          "sinkhorn shared memory");
    int per_sm = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel_grid, threads, shared),
          "sinkhorn occupancy");
    blocks = int(std::max<index_t>(1, std::min<index_t>(index_t(per_sm) * sms, m)));
  } else if (shared > 48 * 1024) {
    check(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel_block),
                               cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
          "sinkhorn shared memory");
  }
  const std::size_t partial_doubles =
      grid ? std::size_t(blocks) * std::size_t(n)
           : (acc_in_shared ? 0 : std::size_t(batch) * std::size_t(n));
  DeviceBuffer work(work_doubles * sizeof(double), stream);
  DeviceBuffer partials(partial_doubles * sizeof(double), stream);
  DeviceBuffer scalars(std::size_t(kSlots) * std::size_t(blocks) * sizeof(double), stream);
  DeviceBuffer status(std::size_t(batch) * sizeof(DeviceStatus), stream);
  if (partial_doubles)
    check(cudaMemsetAsync(partials.ptr, 0, partial_doubles * sizeof(double), stream), "memset");
  check(cudaMemsetAsync(status.ptr, 0, std::size_t(batch) * sizeof(DeviceStatus), stream),
        "memset");
  args.work = work.as<double>();
  args.partials = partials.as<double>();
  args.scalars = scalars.as<double>();

  if (grid) {
    for (index_t k = 0; k < batch; ++k) {
      Args<T> one = args;
      one.M = problem.M + k * problem.M_stride;
      one.a = problem.a + k * problem.a_stride;
      one.b = problem.b + k * problem.b_stride;
      one.init_g = problem.init_g ? problem.init_g + k * problem.init_g_stride : nullptr;
      one.plan = out.plan + k * m * n;
      one.f = out.f + k * m;
      one.g = out.g + k * n;
      one.status = status.as<DeviceStatus>() + k;
      void* params[] = {&one};
      check(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel_grid), blocks,
                                        threads, params, shared, stream),
            "sinkhorn cooperative launch");
    }
  } else {
    args.M = problem.M;
    args.M_stride = problem.M_stride;
    args.a = problem.a;
    args.a_stride = problem.a_stride;
    args.b = problem.b;
    args.b_stride = problem.b_stride;
    args.init_g = problem.init_g;
    args.init_g_stride = problem.init_g_stride;
    args.plan = out.plan;
    args.f = out.f;
    args.g = out.g;
    args.status = status.as<DeviceStatus>();
    kernel_block<<<unsigned(blocks), unsigned(threads), shared, stream>>>(args);
    check(cudaGetLastError(), "sinkhorn kernel launch");
  }

  std::vector<DeviceStatus> host(static_cast<std::size_t>(batch));
  check(cudaMemcpyAsync(host.data(), status.ptr, host.size() * sizeof(DeviceStatus),
                        cudaMemcpyDeviceToHost, stream),
        "sinkhorn status");
  check(cudaStreamSynchronize(stream), "sinkhorn");
  for (index_t k = 0; k < batch; ++k) {
    const DeviceStatus& d = host[std::size_t(k)];
    require(!d.bad_input, "a",
            "expected finite weights >= 0 with a positive sum and b of the same mass "
            "(batch item " + std::to_string(k) + ")");
    SinkhornStatus& s = out.status[k];
    s.n_iter = d.n_iter;
    s.method = SinkhornMethod(d.method);
    s.converged = d.converged != 0;
    s.marginal_error = d.marginal_error;
    s.cost = d.cost;
    s.value = d.value;
  }
}

template void sinkhorn<float>(const SinkhornProblem<float>&, const SinkhornOptions&,
                              const SinkhornOutput<float>&, cudaStream_t);
template void sinkhorn<double>(const SinkhornProblem<double>&, const SinkhornOptions&,
                               const SinkhornOutput<double>&, cudaStream_t);

}  // namespace optkern::cuda
