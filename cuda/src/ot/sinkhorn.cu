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

#include "device_common.cuh"
#include "optkern/cuda/ot.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/ot/sinkhorn_step.hpp"

namespace cg = cooperative_groups;
namespace step = optkern::detail::sinkhorn_step;  // the per-problem logic shared with the CPU

namespace optkern::cuda {
namespace {

// The block reductions, the device buffer and round_up are those of device_common.cuh.
using ot_kernels::block_max;
using ot_kernels::block_sum;
using ot_kernels::DeviceBuffer;
using ot_kernels::kInf;
using ot_kernels::kScratch;  // doubles of shared scratch for block reductions
using ot_kernels::round_up;
constexpr int kSlots = 4;             // rotating scratch slots for grid-wide reductions
constexpr int kWorkVectors = 11;      // per-problem work vectors (see Work)

struct DeviceStatus {  // SinkhornStatus and the input check, as the kernel writes them
  int n_iter;
  SinkhornMethod method;
  bool converged;
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
  double reg, inv_reg, tol;
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
  double *row, *col, *col_good;   // u or F; v or G; the last v checked finite (at the end: G)
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

// One problem solved by its group, in the phases of the CPU solver (ot/sinkhorn_solver.hpp);
// what each phase computes per row, column or problem is the shared code of
// optkern/ot/sinkhorn_step.hpp. Every phase is entered by every thread of the group.
template <class T, bool kGrid>
struct Solve {
  const Args<T>& p;
  const index_t k, m, n;  // the problem of the batch, its size
  const T* M;
  T* plan;
  Work w;
  Group<kGrid> grp;
  Columns<T, kGrid> cols;
  double* scratch;
  double mass = 0;

  __device__ Solve(const Args<T>& args, double* smem)
      : p(args), k(kGrid ? 0 : index_t(blockIdx.x)), m(args.m), n(args.n),
        M(args.M + k * args.M_stride), plan(args.plan + k * m * n),
        w(args.work + k * index_t(kWorkVectors) * (m + n), m, n), grp{args.scalars},
        cols(args, smem + kScratch, k), scratch(smem) {}

  __device__ bool leader() const { return (!kGrid || blockIdx.x == 0) && threadIdx.x == 0; }
  __device__ double group_sum(double x) { return grp.sum(block_sum(x, scratch)); }
  __device__ double group_max(double x) { return grp.max(block_max(x, scratch)); }

  // Weights checked (finite, >= 0, positive sums that agree), b given the mass of a, logs.
  // Returns false (uniformly over the group, the status flagged) for bad marginals.
  __device__ bool check_marginals() {
    const T* a_in = p.a + k * p.a_stride;
    const T* b_in = p.b + k * p.b_stride;
    double sa = 0, sb = 0, bad = 0;
    for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
      const double x = double(a_in[i]);
      bad = step::weight_ok(x) ? bad : 1.0;
      sa += x;
    }
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      const double x = double(b_in[j]);
      bad = step::weight_ok(x) ? bad : 1.0;
      sb += x;
    }
    sa = group_sum(sa);
    sb = group_sum(sb);
    bad = group_max(bad);
    if (bad > 0 || !(sa > 0) || !(sb > 0) || !step::masses_agree(sa, sb)) {
      if (leader()) p.status[k].bad_input = 1;
      return false;
    }
    mass = sa;
    for (index_t i = grp.item0(); i < m; i += grp.item_step()) {
      w.a[i] = double(a_in[i]);
      w.log_a[i] = step::log_weight(w.a[i]);
    }
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      w.b[j] = double(b_in[j]) * (sa / sb);
      w.log_b[j] = step::log_weight(w.b[j]);
    }
    cols.zero();
    grp.sync();
    return true;
  }

  // The kernel domain needs the shifts alpha (row minima) and beta (column minima after
  // alpha); "automatic" takes it when the shifted kernel fits the range of T.
  __device__ SinkhornMethod choose_domain() {
    const double inv_reg = p.inv_reg;
    const SinkhornMethod requested = SinkhornMethod(p.method);
    if (!step::needs_shifts(requested)) return SinkhornMethod::log;
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
    double range = 0;
    if (requested == SinkhornMethod::automatic) {
      for (index_t i = grp.row0(); i < m; i += grp.row_step())
        for (index_t j = threadIdx.x; j < n; j += blockDim.x)
          range = fmax(range, double(M[i * n + j]) * inv_reg - w.row_shift[i] - w.col_shift[j]);
      range = group_max(range);
    }
    return step::choose_method<T>(requested, range);
  }

  // Kernel domain: K in the plan buffer; v from init (scaled to a largest entry of 1) or ones.
  __device__ void start_plain() {
    const double inv_reg = p.inv_reg;
    const T* init_g = p.init_g ? p.init_g + k * p.init_g_stride : nullptr;
    for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        plan[i * n + j] =
            T(exp(w.row_shift[i] + w.col_shift[j] - double(M[i * n + j]) * inv_reg));
      if (threadIdx.x == 0) w.row[i] = 0;
    }
    double top = 0;
    if (init_g) {
      top = -kInf;
      for (index_t j = grp.item0(); j < n; j += grp.item_step())
        if (w.b[j] > 0) top = fmax(top, double(init_g[j]) * inv_reg - w.col_shift[j]);
      top = group_max(top);
    }
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      const double x = init_g ? double(init_g[j]) * inv_reg - w.col_shift[j] - top : 0.0;
      w.col[j] = step::initial_v(w.b[j], x);
      w.col_good[j] = w.col[j];
    }
    grp.sync();
  }

  // Kernel domain, phase 1, this block's rows: u_i = a_i / (K_i . v), then K^T u += u_i K_i.
  __device__ void update_u(bool check, double* err, bool* breakdown) {
    for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
      const T* Ki = plan + i * n;
      double part = 0;
#pragma unroll 8
      for (index_t j = threadIdx.x; j < n; j += blockDim.x) part += double(Ki[j]) * w.col[j];
      const double s = block_sum(part, scratch);
      const bool first = threadIdx.x == 0;  // the thread that owns u_i and the error
      const double u =
          step::plain_row(w.a[i], s, first ? w.row[i] : 0.0, check && first, err, breakdown);
      if (first) w.row[i] = u;
      if (u != 0) {
#pragma unroll 8
        for (index_t j = threadIdx.x; j < n; j += blockDim.x) cols.acc[j] += u * double(Ki[j]);
      }
    }
    cols.publish();
    grp.sync();
  }

  // Kernel domain, phase 2, this thread's columns: v = b / K^T u.
  __device__ void update_v(bool* breakdown) {
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col[j] = step::plain_column(w.b[j], cols.take(j), breakdown);
  }

  enum class Outcome { converged, max_iter, breakdown };

  __device__ Outcome iterate_plain(int& iter) {
    while (iter < p.max_iter) {
      ++iter;
      const bool check = step::check_iteration(p.tol, iter, p.check_every);
      double err = 0;
      bool breakdown = false;
      update_u(check, &err, &breakdown);
      update_v(&breakdown);
      if (group_max(breakdown ? 1.0 : 0.0) > 0) return Outcome::breakdown;
      if (check) {
        for (index_t j = grp.item0(); j < n; j += grp.item_step()) w.col_good[j] = w.col[j];
        if (step::converged(marginal_error(err), p.tol, mass)) return Outcome::converged;
      }
    }
    return Outcome::max_iter;
  }

  // The largest marginal error of the previous iterate over the group.
  __device__ double marginal_error(double err) { return group_max(err); }

  // Go on in the log domain from the last v checked finite (G = log v + beta / reg), redoing
  // the iteration that broke down (at least one log-domain iteration is left).
  __device__ void rescue_to_log(int& iter) {
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col[j] = step::rescued_G(w.b[j], w.col_good[j], w.col_shift[j], w.col_shift[j]);
    for (index_t i = grp.item0(); i < m; i += grp.item_step()) w.row[i] = step::initial_F(w.a[i]);
    cols.zero();
    iter = iter < p.max_iter ? iter : p.max_iter - 1;
    grp.sync();
  }

  // Log domain on F = f / reg, G = g / reg, from init or zeros.
  __device__ void start_log() {
    const T* init_g = p.init_g ? p.init_g + k * p.init_g_stride : nullptr;
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col[j] = step::initial_G(w.b[j], init_g ? double(init_g[j]) * p.inv_reg : 0.0);
    for (index_t i = grp.item0(); i < m; i += grp.item_step()) w.row[i] = step::initial_F(w.a[i]);
    grp.sync();
  }

  // Log domain, phase 1, this block's rows: F_i by log-sum-exp, and its plan entries
  // exp(F_i + G_j - M_ij / reg) added to the column sums s_j.
  __device__ void update_F(bool check, double* err) {
    const double inv_reg = p.inv_reg;  // a register in the loops below
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
      const bool first = threadIdx.x == 0;
      const double F =
          step::log_row(ai, w.log_a[i], hi, s, first ? w.row[i] : 0.0, check && first, err);
      if (first) w.row[i] = F;
      const double scale = ai / s;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        cols.acc[j] += scale * exp_of<T>(w.col[j] - double(Mi[j]) * inv_reg - hi);
    }
    cols.publish();
    grp.sync();
  }

  // Log domain, phase 2, this thread's columns: G_j += log b_j - log s_j (exact for a starved
  // column).
  __device__ void update_G() {
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      const double s = cols.take(j);
      if (!(w.b[j] > 0)) continue;
      w.col[j] = step::log_column(w.col[j], w.log_b[j], s, [&] {
        return column_lse(M, m, n, j, w.row, 1.0, w.a, p.inv_reg);
      });
    }
  }

  __device__ void iterate_log(int& iter) {
    do {
      ++iter;
      const bool check = step::check_iteration(p.tol, iter, p.check_every);
      double err = 0;
      update_F(check, &err);
      update_G();
      if (!check) {
        grp.sync();
      } else if (step::converged(marginal_error(err), p.tol, mass)) {
        break;
      }
    } while (iter < p.max_iter);
  }

  // The column potentials in the log domain, G = g / reg (-inf at zero weights): for the
  // kernel domain log v + beta / reg, written over the last checked v.
  __device__ const double* log_columns(SinkhornMethod method) {
    if (method == SinkhornMethod::log) return w.col;
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      w.col_good[j] = step::log_scaling(w.b[j], w.col[j], w.col_shift[j]);
    grp.sync();
    return w.col_good;
  }

  // The plan, its row sums and <M, P> (this thread's share), and f unscaled (the c-transform
  // -reg LSE_j(G_j - M_ij / reg) at zero weights).
  __device__ double write_plan(SinkhornMethod method, const double* G) {
    const bool plain = method == SinkhornMethod::plain;
    const double reg = p.reg, inv_reg = p.inv_reg;
    double cost = 0;
    for (index_t i = grp.row0(); i < m; i += grp.row_step()) {
      const T* Mi = M + i * n;
      T* Pi = plan + i * n;
      const double ai = w.a[i];
      double rs = 0;
      if (ai > 0) {
        const double u = w.row[i];
        for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
          const double x =
              plain ? u * double(Pi[j]) * w.col[j] : exp(u + G[j] - double(Mi[j]) * inv_reg);
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
      const double f = ai > 0 ? reg * (plain ? step::log_scaling(ai, w.row[i], w.row_shift[i])
                                             : w.row[i])
                              : -reg * row_lse(Mi, G, n, inv_reg, scratch);
      __syncthreads();  // every thread has read w.row[i] before it is replaced
      if (threadIdx.x == 0) {
        w.row_sum[i] = rs;
        w.row[i] = f;
      }
    }
    cols.publish();
    grp.sync();
    return cost;
  }

  // The plan's column sums and g unscaled (the c-transform of the positive rows' f at zero
  // weights), in place of G.
  __device__ void column_potentials(const double* G) {
    for (index_t j = grp.item0(); j < n; j += grp.item_step()) {
      w.col_sum[j] = cols.take(j);
      w.col[j] = w.b[j] > 0 ? p.reg * G[j]
                            : -p.reg * column_lse(M, m, n, j, w.row, p.inv_reg, w.a, p.inv_reg);
    }
    grp.sync();
  }

  // The gauge <a, f> = <b, g>, the outputs f and g, and the status.
  __device__ void finalise(SinkhornMethod method, int iter, double cost) {
    step::FinalSums sums;
    for (index_t i = grp.item0(); i < m; i += grp.item_step())
      sums.add_row(w.a[i], w.row[i], w.row_sum[i]);
    for (index_t j = grp.item0(); j < n; j += grp.item_step())
      sums.add_column(w.b[j], w.col[j], w.col_sum[j]);
    sums.heaviest = group_max(sums.heaviest);
    sums.af = group_sum(sums.af);
    sums.bg = group_sum(sums.bg);
    sums.error = group_max(sums.error);
    sums.total = group_sum(sums.total);
    cost = group_sum(cost);
    const double shift = step::gauge_shift(sums.bg, sums.af, mass);
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
    fr = group_sum(fr);
    gc = group_sum(gc);
    if (leader()) {
      DeviceStatus& s = p.status[k];
      step::write_status<T>(s, p.reg, p.tol, mass, iter, method, sums, cost, fr, gc);
      s.bad_input = 0;
    }
  }
};

template <class T, bool kGrid>
__global__ void __launch_bounds__(kMaxThreads, 1) sinkhorn_kernel(const Args<T> p) {
  extern __shared__ double smem[];
  Solve<T, kGrid> solve(p, smem);
  if (!solve.check_marginals()) return;  // uniform over the group
  SinkhornMethod method = solve.choose_domain();
  int iter = 0;
  if (method == SinkhornMethod::plain) {
    solve.start_plain();
    if (solve.iterate_plain(iter) == Solve<T, kGrid>::Outcome::breakdown) {
      solve.rescue_to_log(iter);
      method = SinkhornMethod::log;
      solve.iterate_log(iter);
    }
  } else {
    solve.start_log();
    solve.iterate_log(iter);
  }
  const double* G = solve.log_columns(method);
  const double cost = solve.write_plan(method, G);
  solve.column_potentials(G);
  solve.finalise(method, iter, cost);
}


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
  DeviceBuffer partials(partial_doubles * sizeof(double), stream, /*zero=*/true);
  DeviceBuffer scalars(std::size_t(kSlots) * std::size_t(blocks) * sizeof(double), stream);
  DeviceBuffer status(std::size_t(batch) * sizeof(DeviceStatus), stream, /*zero=*/true);
  args.work = work.as<double>();
  args.partials = partials.as<double>();
  args.scalars = scalars.as<double>();

  // The arguments from problem k on: a block launch reads item k + blockIdx.x through the
  // strides, a grid launch (one problem) item k alone.
  auto from_item = [&](index_t k) {
    Args<T> x = args;
    x.M = problem.M + k * problem.M_stride;
    x.M_stride = problem.M_stride;
    x.a = problem.a + k * problem.a_stride;
    x.a_stride = problem.a_stride;
    x.b = problem.b + k * problem.b_stride;
    x.b_stride = problem.b_stride;
    x.init_g = problem.init_g ? problem.init_g + k * problem.init_g_stride : nullptr;
    x.init_g_stride = problem.init_g_stride;
    x.plan = out.plan + k * m * n;
    x.f = out.f + k * m;
    x.g = out.g + k * n;
    x.status = status.as<DeviceStatus>() + k;
    return x;
  };
  if (grid) {
    for (index_t k = 0; k < batch; ++k) {
      Args<T> one = from_item(k);
      void* params[] = {&one};
      check(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel_grid), blocks,
                                        threads, params, shared, stream),
            "sinkhorn cooperative launch");
    }
  } else {
    kernel_block<<<unsigned(blocks), unsigned(threads), shared, stream>>>(from_item(0));
    check(cudaGetLastError(), "sinkhorn kernel launch");
  }

  std::vector<DeviceStatus> host(static_cast<std::size_t>(batch));
  check(cudaMemcpyAsync(host.data(), status.as<void>(), host.size() * sizeof(DeviceStatus),
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
    s.method = d.method;
    s.converged = d.converged;
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
