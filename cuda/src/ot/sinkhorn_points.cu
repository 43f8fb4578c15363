// Sinkhorn between point clouds on a CUDA device, the cost computed on the fly
// (optkern/cuda/ot.hpp): the log-domain iteration of cpp/src/ot/sinkhorn_points.cpp.
//
// The work is the soft-min pass out_i = -LSE_j(H_j - c(P_i, Q_j) / reg) over the rows of one
// side (the rows of x against y, then the points of y against x). As KeOps does, one thread
// block takes a tile of rows, one thread per row, and streams the other cloud through shared
// memory in tiles (coordinates and potentials); each thread keeps an online log-sum-exp (a
// running maximum and a sum rescaled when the maximum grows), so a cost entry is computed from
// the coordinates, used once and dropped: memory is O((m + n) d), never m x n. The points are
// converted to double once (all arithmetic is in double, as on the CPU).
//
// An iteration is three launches (the row pass, which also measures the marginal error of
// the previous iterate as on the CPU, the column pass, and a one-block-per-problem check of
// the stopping rule); the host queues them a few iterations ahead and reads the problems'
// stopping flags between chunks, and every launch skips a problem that has stopped. After
// the loop come the soft c-transforms at zero weights, a final pass for the plan's marginals
// and cost, and a one-block-per-problem kernel for the gauge and the status.
//
// Where the time goes: each pass costs m n (3 d + 2) flops and one exp per entry (in double;
// H100: about 1/2 of the FP64 rate goes to exp), with the coordinates read from shared memory
// as broadcasts. The launches are about 10 us each, which matters only for small clouds.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "device_common.cuh"
#include "optkern/cuda/ot.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/ot/sinkhorn_step.hpp"

namespace optkern::cuda {
namespace {

using namespace ot_kernels;
namespace step = optkern::detail::sinkhorn_step;

constexpr int kRowsPerBlock = 128;  // threads (rows) of a soft-min block
constexpr int kMaxTile = 256;       // points of the other cloud per shared-memory tile
constexpr int kReduceThreads = 256; // threads of the one-block-per-problem kernels
constexpr std::size_t kDefaultShared = 48 * 1024;  // dynamic + static, without opting in
constexpr std::size_t kStaticShared = 1024;         // kept free for the static scratch

enum class Pass : int {
  update = 0,     // w_i > 0: out_i = log w_i - LSE (and the row error, when measured)
  transform = 1,  // w_i == 0: out_i = -LSE (the soft c-transform)
  final = 2,      // w_i > 0: out_i = LSE, out2_i = sum_j c_ij e_ij / sum_j e_ij; else -inf, 0
};

struct PassArgs {
  index_t batch, p, q, d;  // problems; rows of this side; points of the other side; dims
  const double* P;         // this side's points, p x d per problem
  index_t P_stride;        // 0: shared by the batch
  const double* Q;         // the other side's points, q x d per problem
  index_t Q_stride;
  const double* H;  // the other side's potentials (q per problem), -inf where it has no mass
  const double* w;  // this side's weights (p per problem)
  const double* lw; // their logs (Pass::update)
  double* out;      // p per problem
  double* out2;     // Pass::final: the plan-weighted mean cost per row (p per problem)
  double* partials; // Pass::update with measure: per problem, one error per block of rows
  const int* done;  // per problem (null: run every problem)
  Pass kind;
  bool measure;  // the marginal error of the previous iterate (iterations after the first)
  bool euclidean;
  double inv_reg;
  int tile;  // points of the other side per shared tile
};

template <int D>
__global__ void __launch_bounds__(kRowsPerBlock) soft_min_kernel(const PassArgs p) {
  extern __shared__ double tile[];  // p.tile * d coordinates, then p.tile potentials
  __shared__ double scratch[kScratch];
  const index_t d = D > 0 ? D : p.d;
  double* tile_y = tile;
  double* tile_h = tile + index_t(p.tile) * d;
  for (index_t k = blockIdx.y; k < p.batch; k += gridDim.y) {
    if (p.done && p.done[k]) continue;  // uniform over the block
    const index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const double* Pk = p.P + k * p.P_stride;
    const double* Qk = p.Q + k * p.Q_stride;
    const double* Hk = p.H + k * p.q;
    const bool inside = i < p.p;
    const double wi = inside ? p.w[k * p.p + i] : 0.0;
    const bool active = inside && (p.kind == Pass::transform ? !(wi > 0) : wi > 0);
    // A block with no row to compute skips the tiles (uniform: __syncthreads_or); it still
    // writes its rows' outputs and its error below.
    const bool any = __syncthreads_or(active) != 0;
    double xi[D > 0 ? D : 1];
    const double* xrow = Pk + (inside ? i : 0) * d;
    if constexpr (D > 0) {
#pragma unroll
      for (int c = 0; c < D; ++c) xi[c] = xrow[c];
    }
    double mx = -kInf, s = 0, sc = 0;
    for (index_t start = 0; any && start < p.q; start += p.tile) {
      const index_t count = min(index_t(p.tile), p.q - start);
      __syncthreads();  // the previous tile has been read
      for (index_t t = threadIdx.x; t < count * d; t += blockDim.x) tile_y[t] = Qk[start * d + t];
      for (index_t t = threadIdx.x; t < count; t += blockDim.x) tile_h[t] = Hk[start + t];
      __syncthreads();
      if (!active) continue;
      for (index_t jj = 0; jj < count; ++jj) {
        const double h = tile_h[jj];
        if (!(h > -kInf)) continue;  // no mass there
        const double* yj = tile_y + jj * d;
        double c = 0;
        if constexpr (D > 0) {
#pragma unroll
          for (int t = 0; t < D; ++t) {
            const double diff = xi[t] - yj[t];
            c += diff * diff;
          }
        } else {
          for (index_t t = 0; t < d; ++t) {
            const double diff = xrow[t] - yj[t];
            c += diff * diff;
          }
        }
        if (p.euclidean) c = sqrt(c);
        const double v = h - c * p.inv_reg;
        if (v > mx) {  // a new maximum: rescale what was summed against the old one
          const double e = exp(mx - v);  // 0 for the first entry
          s = s * e + 1.0;
          sc = sc * e + c;
          mx = v;
        } else {
          const double e = exp(v - mx);
          s += e;
          sc += c * e;
        }
      }
    }
    double err = 0;
    if (inside) {
      double* out = p.out + k * p.p;
      const double lse = mx + log(s);
      if (p.kind == Pass::update) {
        if (active) {
          const double fresh = p.lw[k * p.p + i] - lse;
          // The row sums of the previous iterate (its columns exact): w_i exp(F_old - F_new).
          if (p.measure) err = wi * fabs(expm1(out[i] - fresh));
          out[i] = fresh;
        }
      } else if (p.kind == Pass::transform) {
        if (active) out[i] = -lse;
      } else {
        out[i] = active ? lse : -kInf;
        if (p.out2) p.out2[k * p.p + i] = active ? sc / s : 0.0;
      }
    }
    if (p.measure) {
      err = block_max(err, scratch);  // a NaN error is ignored, as std::max does on the CPU
      if (threadIdx.x == 0) p.partials[k * gridDim.x + blockIdx.x] = err;
    }
  }
}

// Per-problem state beside the vectors.
struct ProblemState {
  double sa;      // the mass of the scaled a
  double scale;   // the power of two the weights were divided by
  double shift;   // reg log(scale) / 2, added to f and g at the end
  double mass;    // the mass of a as given
  double error;   // the last measured marginal error
  int n_iter;
  int converged;
  double out_error, out_cost, out_value;  // the status, as returned
};

// Per-problem vectors (double): wa, la, F, Fm, row_lse, row_mean (m each); wb, lb, G, Gm,
// col_lse (n each).
struct Vectors {
  double *wa, *la, *F, *Fm, *row_lse, *row_mean;
  double *wb, *lb, *G, *Gm, *col_lse;
  index_t m, n;
  Vectors(double* base, index_t batch, index_t m_, index_t n_) : m(m_), n(n_) {
    double* at = base;
    for (double** v : {&wa, &la, &F, &Fm, &row_lse, &row_mean}) {
      *v = at;
      at += batch * m;
    }
    for (double** v : {&wb, &lb, &G, &Gm, &col_lse}) {
      *v = at;
      at += batch * n;
    }
  }
  static std::size_t doubles(index_t batch, index_t m, index_t n) {
    return std::size_t(batch) * std::size_t(6 * m + 5 * n);
  }
};

template <class T>
__global__ void convert_kernel(const T* in, double* out, index_t count) {
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < count;
       t += index_t(gridDim.x) * blockDim.x)
    out[t] = double(in[t]);
}

// dst_i = w_i > 0 ? src_i : -inf (the potentials of the sides with mass only).
__global__ void mask_kernel(const double* src, const double* w, double* dst, index_t count) {
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < count;
       t += index_t(gridDim.x) * blockDim.x)
    dst[t] = w[t] > 0 ? src[t] : -kInf;
}

// One block per problem: the weights scaled by a power of two to a mass in (0.5, 1] (as the
// Python CPU path does, so that F + G stays inside exp's range for any mass), b given the mass
// of a, logs, and the starting potentials.
template <class T>
__global__ void setup_kernel(index_t batch, index_t m, index_t n, const T* a, index_t a_stride,
                             const T* b, index_t b_stride, const double* init_g,
                             index_t init_stride, double reg, Vectors v, ProblemState* state,
                             int* done) {
  __shared__ double scratch[kScratch];
  for (index_t k = blockIdx.x; k < batch; k += gridDim.x) {
    const T* ak = a + k * a_stride;
    const T* bk = b + k * b_stride;
    double mass = 0;
    for (index_t i = threadIdx.x; i < m; i += blockDim.x) mass += double(ak[i]);
    mass = block_sum(mass, scratch);
    int exponent = 0;
    if (mass > 0) frexp(mass, &exponent);
    const double scale = mass > 0 ? ldexp(1.0, exponent) : 1.0;
    const double shift = 0.5 * reg * log(scale);
    double sa = 0, sb = 0;
    for (index_t i = threadIdx.x; i < m; i += blockDim.x) sa += double(ak[i]) / scale;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) sb += double(bk[j]) / scale;
    sa = block_sum(sa, scratch);
    sb = block_sum(sb, scratch);
    double* wa = v.wa + k * m;
    double* wb = v.wb + k * n;
    for (index_t i = threadIdx.x; i < m; i += blockDim.x) {
      wa[i] = double(ak[i]) / scale;
      v.la[k * m + i] = step::log_weight(wa[i]);
      v.F[k * m + i] = step::initial_F(wa[i]);
    }
    const double* g0 = init_g ? init_g + k * init_stride : nullptr;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
      const double bj = double(bk[j]) / scale;
      wb[j] = bj * sa / sb;
      v.lb[k * n + j] = step::log_weight(wb[j]);
      v.G[k * n + j] = step::initial_G(bj, g0 ? (g0[j] - shift) * (1.0 / reg) : 0.0);
    }
    if (threadIdx.x == 0) {
      ProblemState& st = state[k];
      st.sa = sa;
      st.scale = scale;
      st.shift = shift;
      st.mass = mass;
      st.error = 0;
      st.n_iter = 0;
      st.converged = 0;
      done[k] = 0;
    }
  }
}

// One block per problem, after iteration `iter`: the largest row error over the blocks of
// rows, and the CPU's stopping rule (from the second iteration on).
__global__ void check_kernel(index_t batch, int row_blocks, int iter, double tol,
                             const double* partials, ProblemState* state, int* done) {
  __shared__ double scratch[kScratch];
  for (index_t k = blockIdx.x; k < batch; k += gridDim.x) {
    if (done[k]) continue;  // uniform over the block
    double err = 0;
    for (int t = threadIdx.x; t < row_blocks; t += blockDim.x)
      err = fmax(err, partials[k * row_blocks + t]);
    err = block_max(err, scratch);
    if (threadIdx.x == 0) {
      state[k].n_iter = iter;
      state[k].error = err;
      if (iter > 1 && err <= tol * state[k].sa) done[k] = 1;
    }
  }
}

// One block per problem: the plan's marginals and cost from the final passes, the gauge
// <a, f> = <b, g>, f and g (unscaled), and the status, as the end of the CPU's
// sinkhorn_points and the Python path's mass scaling.
template <class T>
__global__ void finalise_kernel(index_t batch, index_t m, index_t n, double reg, double tol,
                                Vectors v, ProblemState* state, double* f_out, double* g_out) {
  __shared__ double scratch[kScratch];
  for (index_t k = blockIdx.x; k < batch; k += gridDim.x) {
    const double* wa = v.wa + k * m;
    const double* wb = v.wb + k * n;
    const double* F = v.F + k * m;
    const double* G = v.G + k * n;
    double err = 0, mass = 0, fa = 0, gb = 0, cost = 0, laF = 0, lbG = 0, finite = 1;
    for (index_t i = threadIdx.x; i < m; i += blockDim.x) {
      const bool live = wa[i] > 0;
      const double r = live ? exp(F[i] + v.row_lse[k * m + i]) : 0.0;
      err = fmax(err, fabs(r - wa[i]));
      finite = isfinite(r) ? finite : 0.0;
      mass += r;
      cost += r * v.row_mean[k * m + i];
      if (live) {
        fa += r * F[i];
        laF += wa[i] * F[i];
      }
    }
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
      const bool live = wb[j] > 0;
      const double s = live ? exp(G[j] + v.col_lse[k * n + j]) : 0.0;
      err = fmax(err, fabs(s - wb[j]));
      finite = isfinite(s) ? finite : 0.0;
      if (live) {
        gb += s * G[j];
        lbG += wb[j] * G[j];
      }
    }
    err = block_max(err, scratch);
    finite = -block_max(-finite, scratch);  // the minimum
    mass = block_sum(mass, scratch);
    fa = block_sum(fa, scratch);
    gb = block_sum(gb, scratch);
    cost = block_sum(cost, scratch);
    laF = block_sum(laF, scratch);
    lbG = block_sum(lbG, scratch);
    ProblemState& st = state[k];
    const double sa = st.sa, scale = st.scale, shift = st.shift;
    const double gauge = step::gauge_shift(lbG, laF, sa);
    for (index_t i = threadIdx.x; i < m; i += blockDim.x) {
      const double f = reg * (F[i] + gauge);
      finite = isfinite(f) ? finite : 0.0;
      f_out[k * m + i] = f + shift;
    }
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
      const double g = reg * (G[j] - gauge);
      finite = isfinite(g) ? finite : 0.0;
      g_out[k * n + j] = g + shift;
    }
    finite = -block_max(-finite, scratch);
    if (threadIdx.x == 0) {
      // <C, P> + reg <P, log P - 1> = reg (sum_i r_i F_i + sum_j s_j G_j) - reg mass.
      const double value = reg * (fa + gb - mass);
      const bool ok = finite > 0 && isfinite(err) && isfinite(value);
      st.converged = ok && err <= step::converged_bound<T>(tol, sa, sa) ? 1 : 0;
      st.out_error = err * scale;
      st.out_cost = cost * scale;
      st.out_value = scale * value + 2 * shift * st.mass;
    }
  }
}

unsigned grid_for(index_t count, int threads) {
  return unsigned(std::clamp<index_t>((count + threads - 1) / threads, 1, 65535));
}

// Launches of the soft-min pass for one side, with the shared tile sized for d.
struct PassLauncher {
  index_t batch, d;
  int tile;
  std::size_t shared;
  cudaStream_t stream;

  template <int D>
  void launch(PassArgs args, index_t rows) const {
    const dim3 grid(unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock),
                    unsigned(std::min<index_t>(batch, 65535)));
    soft_min_kernel<D><<<grid, kRowsPerBlock, shared, stream>>>(args);
  }
  void operator()(PassArgs args) const {
    args.batch = batch;
    args.d = d;
    args.tile = tile;
    switch (d) {
      case 1:
        launch<1>(args, args.p);
        break;
      case 2:
        launch<2>(args, args.p);
        break;
      case 3:
        launch<3>(args, args.p);
        break;
      default:
        launch<0>(args, args.p);
        break;
    }
    check(cudaGetLastError(), "sinkhorn_points pass launch");
  }
};

template <int D>
void allow_shared(std::size_t shared) {
  check(cudaFuncSetAttribute(reinterpret_cast<const void*>(soft_min_kernel<D>),
                             cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
        "sinkhorn_points shared memory");
}

}  // namespace

template <class T>
void sinkhorn_points(index_t batch, index_t m, index_t n, index_t d, const T* x, index_t x_stride,
                     const T* y, index_t y_stride, const T* a, index_t a_stride, const T* b,
                     index_t b_stride, const double* init_g, index_t init_g_stride,
                     const PointsOptions& o, double* f, double* g, PointsStatus* status,
                     cudaStream_t stream) {
  require(batch >= 0, "batch", "must be >= 0");
  require(m >= 1 && n >= 1 && d >= 1, "x", "sizes must be >= 1");
  require(o.reg > 0 && std::isfinite(o.reg), "reg", "must be positive and finite");
  require(o.tol >= 0, "tol", "must be >= 0");
  require(o.max_iter >= 1, "max_iter", "must be >= 1");
  require(batch <= 0x7fffffff, "batch", "too many problems for one launch");
  if (batch == 0) return;
  require(x && y && a && b && f && g && status, "x", "null pointer");
  const index_t row_blocks_x = (m + kRowsPerBlock - 1) / kRowsPerBlock;
  require(row_blocks_x <= 0x7fffffff && (n + kRowsPerBlock - 1) / kRowsPerBlock <= 0x7fffffff, "x",
          "too many points for one launch");

  // The shared tile: as many points of the other side as fit in the default 48 KB (or, for
  // points of many coordinates, in the device's opt-in maximum).
  int device = 0, max_shared = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "attribute");
  const std::size_t per_point = std::size_t(d + 1) * sizeof(double);
  const std::size_t small = kDefaultShared - kStaticShared;
  const std::size_t optin = std::size_t(std::max<int>(max_shared, int(kDefaultShared)));
  const std::size_t budget = per_point <= small ? small : optin - kStaticShared;
  require(per_point <= budget, "x",
          "points of at most " + std::to_string(budget / sizeof(double) - 1) +
              " coordinates on this GPU (one point must fit in shared memory)");
  const int tile = int(std::min<std::size_t>(kMaxTile, budget / per_point));
  const std::size_t shared = std::size_t(tile) * per_point;
  if (shared > small) allow_shared<0>(shared);  // d > 3 here: only the generic kernel runs

  // The clouds as doubles (a shared cloud once), the vectors and the per-problem state.
  const index_t x_items = x_stride == 0 ? 1 : batch, y_items = y_stride == 0 ? 1 : batch;
  DeviceBuffer xs(std::size_t(x_items * m * d) * sizeof(double), stream);
  DeviceBuffer ys(std::size_t(y_items * n * d) * sizeof(double), stream);
  const auto convert = [&](const T* in, index_t stride, index_t items, index_t count, double* out) {
    if (items == 1 || stride == count) {  // one contiguous block of items
      convert_kernel<T><<<grid_for(items * count, 256), 256, 0, stream>>>(in, out, items * count);
    } else {
      for (index_t k = 0; k < items; ++k)
        convert_kernel<T>
            <<<grid_for(count, 256), 256, 0, stream>>>(in + k * stride, out + k * count, count);
    }
    check(cudaGetLastError(), "sinkhorn_points convert");
  };
  convert(x, x_stride, x_items, m * d, xs.as<double>());
  convert(y, y_stride, y_items, n * d, ys.as<double>());
  DeviceBuffer vectors(Vectors::doubles(batch, m, n) * sizeof(double), stream);
  const Vectors v(vectors.as<double>(), batch, m, n);
  DeviceBuffer state_buffer(std::size_t(batch) * sizeof(ProblemState), stream, true);
  DeviceBuffer done_buffer(std::size_t(batch) * sizeof(int), stream, true);
  DeviceBuffer partials(std::size_t(batch * row_blocks_x) * sizeof(double), stream, true);
  ProblemState* state = state_buffer.as<ProblemState>();
  int* done = done_buffer.as<int>();
  const unsigned problem_blocks = unsigned(std::min<index_t>(batch, 65535));
  setup_kernel<T><<<problem_blocks, kReduceThreads, 0, stream>>>(
      batch, m, n, a, a_stride, b, b_stride, init_g, init_g_stride, o.reg, v, state, done);
  check(cudaGetLastError(), "sinkhorn_points setup");

  const PassLauncher pass{batch, d, tile, shared, stream};
  PassArgs rows{};  // x against y: F from G
  rows.p = m;
  rows.q = n;
  rows.P = xs.as<double>();
  rows.P_stride = x_items == 1 ? 0 : m * d;
  rows.Q = ys.as<double>();
  rows.Q_stride = y_items == 1 ? 0 : n * d;
  rows.H = v.G;
  rows.w = v.wa;
  rows.lw = v.la;
  rows.out = v.F;
  rows.partials = partials.as<double>();
  rows.kind = Pass::update;
  rows.euclidean = o.cost == PointsCost::euclidean;
  rows.inv_reg = 1.0 / o.reg;
  PassArgs cols = rows;  // y against x: G from F
  cols.p = n;
  cols.q = m;
  cols.P = rows.Q;
  cols.P_stride = rows.Q_stride;
  cols.Q = rows.P;
  cols.Q_stride = rows.P_stride;
  cols.H = v.F;
  cols.w = v.wb;
  cols.lw = v.lb;
  cols.out = v.G;
  cols.partials = nullptr;

  // The iteration, queued `chunk` iterations at a time (each launch skips the problems that
  // have stopped), the stopping flags read back between chunks.
  std::vector<int> host_done(static_cast<std::size_t>(batch));
  int iter = 0, chunk = 2;
  while (iter < o.max_iter) {
    const int count = std::min(chunk, o.max_iter - iter);
    for (int c = 0; c < count; ++c) {
      ++iter;
      PassArgs r = rows;
      r.done = done;
      r.measure = iter > 1;  // at the first, the check reads the zeroed partials
      pass(r);
      PassArgs cl = cols;
      cl.done = done;
      pass(cl);
      check_kernel<<<problem_blocks, kReduceThreads, 0, stream>>>(
          batch, int(row_blocks_x), iter, o.tol, partials.as<double>(), state, done);
      check(cudaGetLastError(), "sinkhorn_points check launch");
    }
    check(cudaMemcpyAsync(host_done.data(), done, host_done.size() * sizeof(int),
                          cudaMemcpyDeviceToHost, stream),
          "sinkhorn_points flags");
    check(cudaStreamSynchronize(stream), "sinkhorn_points");
    if (std::all_of(host_done.begin(), host_done.end(), [](int x) { return x != 0; })) break;
    chunk = std::min(2 * chunk, 64);
  }

  // Zero weights: the soft c-transforms (finite), as the CPU returns them: rows from G (-inf
  // at zero columns still), then columns from F masked to the rows with mass.
  const auto mask = [&](const double* src, const double* w, double* dst, index_t count) {
    mask_kernel<<<grid_for(count, 256), 256, 0, stream>>>(src, w, dst, count);
    check(cudaGetLastError(), "sinkhorn_points mask");
  };
  PassArgs r = rows;
  r.kind = Pass::transform;
  r.partials = nullptr;
  pass(r);
  mask(v.F, v.wa, v.Fm, batch * m);
  PassArgs cl = cols;
  cl.kind = Pass::transform;
  cl.H = v.Fm;
  pass(cl);
  mask(v.G, v.wb, v.Gm, batch * n);
  // The plan exp(F_i + G_j - c_ij / reg) on the rows and columns with mass: its row sums and
  // cost (rows against Gm), and its column sums (columns against Fm).
  r.kind = Pass::final;
  r.H = v.Gm;
  r.out = v.row_lse;
  r.out2 = v.row_mean;
  pass(r);
  cl.kind = Pass::final;
  cl.H = v.Fm;
  cl.out = v.col_lse;
  cl.out2 = nullptr;
  pass(cl);
  finalise_kernel<T>
      <<<problem_blocks, kReduceThreads, 0, stream>>>(batch, m, n, o.reg, o.tol, v, state, f, g);
  check(cudaGetLastError(), "sinkhorn_points finalise launch");

  std::vector<ProblemState> host(static_cast<std::size_t>(batch));
  check(cudaMemcpyAsync(host.data(), state, host.size() * sizeof(ProblemState),
                        cudaMemcpyDeviceToHost, stream),
        "sinkhorn_points status");
  check(cudaStreamSynchronize(stream), "sinkhorn_points");
  for (index_t k = 0; k < batch; ++k) {
    const ProblemState& s = host[std::size_t(k)];
    status[k].n_iter = s.n_iter;
    status[k].marginal_error = s.out_error;
    status[k].cost = s.out_cost;
    status[k].value = s.out_value;
    status[k].converged = s.converged != 0;
  }
}

#define OPTKERN_POINTS(T)                                                                          \
  template void sinkhorn_points<T>(index_t, index_t, index_t, index_t, const T*, index_t,          \
                                   const T*, index_t, const T*, index_t, const T*, index_t,        \
                                   const double*, index_t, const PointsOptions&, double*, double*, \
                                   PointsStatus*, cudaStream_t);
OPTKERN_POINTS(float)
OPTKERN_POINTS(double)
#undef OPTKERN_POINTS

}  // namespace optkern::cuda
