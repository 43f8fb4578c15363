// Algorithm 1 of Frerix & Bruna (ICML 2019) with the step loop on the device (see
// cuda/include/optkern/cuda/givens.hpp).
//
// Per step, two kernels read their work from a control block in device memory:
//   select_kernel (one block): folds the previous step's re-scored pairs into the per-row
//     maxima (rescanning, one warp per row, the rows whose best got worse), takes the global
//     argmax over rows, records the factor in the trajectory buffer and rotates rows i and j;
//   rescore_kernel (one block per touched pair, 2(d-2) + 1 blocks): the exact best rotation of
//     the pair: the d breakpoint tangents are sorted in shared memory (bitonic), the sector
//     coordinates are scanned in that order, and g is evaluated at every distinct breakpoint.
// Both return at once when the control block says stop, so a captured graph of many steps can
// be replayed without knowing in advance when the descent converges.
#include <cuda_runtime.h>
#include <math_constants.h>

#include <algorithm>
#include <limits>
#include <string>

#include "optkern/cuda/givens.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/givens/rotation_math.hpp"

namespace optkern::cuda::givens {
namespace og = optkern::givens;
namespace {

constexpr int kScoreThreads = 256;
constexpr int kSelectThreads = 1024;
constexpr int kStepsPerGraph = 64;
constexpr index_t kStepsPerChunk = 4096;  // trajectory entries copied out per synchronisation
constexpr double kPadKey = 3.0;           // sorts after zero columns (og::kZeroColumnKey)
constexpr unsigned kFullMask = 0xffffffffu;

struct Control {
  long long taken;  // steps taken in the current chunk
  long long limit;  // steps allowed in the current chunk
  int stop;         // 1: the kernels do nothing until the next chunk
  int converged;    // 1: no pair decreases the L1 norm
  int i, j;         // rows of the step being re-scored
  int last_i, last_j;  // rows whose pairs were re-scored but not yet folded in (-1: none)
};

template <class T>
struct State {
  T* v;                // d x d working matrix
  double* score;       // d x d: best decrease of pair (p < q) at p*d + q
  double* tangent;     // d x d: its tan(theta)
  double* row_score;   // d: best score of row p's pairs (p, q > p)
  int* row_col;        // d: its q
  int* dirty;          // d: row p must be rescanned
  Control* ctrl;
  long long* out_i;    // kStepsPerChunk trajectory entries
  long long* out_j;
  T* out_theta;
  double* out_score;
  int d;
  int pow2;  // smallest power of two >= d
};

// --- block-wide helpers (blockDim.x a multiple of 32, at most 1024) ------------------------

__device__ double block_sum(double v, double* buf) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(kFullMask, v, o);
  if (lane == 0) buf[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double w = lane < warps ? buf[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) w += __shfl_down_sync(kFullMask, w, o);
    if (lane == 0) buf[32] = w;
  }
  __syncthreads();
  const double total = buf[32];
  __syncthreads();  // buf may be reused right away
  return total;
}

// Exclusive prefix sums of (x, y) over the threads of the block, in thread order.
__device__ void block_exclusive_scan(double x, double y, double& ex, double& ey, double* bx,
                                     double* by) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  double ix = x, iy = y;
  for (int o = 1; o < 32; o <<= 1) {
    const double tx = __shfl_up_sync(kFullMask, ix, o), ty = __shfl_up_sync(kFullMask, iy, o);
    if (lane >= o) {
      ix += tx;
      iy += ty;
    }
  }
  if (lane == 31) {
    bx[warp] = ix;
    by[warp] = iy;
  }
  __syncthreads();
  if (warp == 0) {
    const double wx = lane < warps ? bx[lane] : 0.0, wy = lane < warps ? by[lane] : 0.0;
    double sx = wx, sy = wy;
    for (int o = 1; o < 32; o <<= 1) {
      const double tx = __shfl_up_sync(kFullMask, sx, o), ty = __shfl_up_sync(kFullMask, sy, o);
      if (lane >= o) {
        sx += tx;
        sy += ty;
      }
    }
    bx[lane] = sx - wx;  // exclusive prefix of the warp totals
    by[lane] = sy - wy;
  }
  __syncthreads();
  ex = bx[warp] + (ix - x);
  ey = by[warp] + (iy - y);
  __syncthreads();
}

// (g, t) of the block with the smallest g, ties to the smallest t.
__device__ void block_argmin(double& g, double& t, double* bg, double* bt) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const double og_ = __shfl_down_sync(kFullMask, g, o), ot = __shfl_down_sync(kFullMask, t, o);
    if (og_ < g || (og_ == g && ot < t)) {
      g = og_;
      t = ot;
    }
  }
  if (lane == 0) {
    bg[warp] = g;
    bt[warp] = t;
  }
  __syncthreads();
  if (warp == 0) {
    g = lane < warps ? bg[lane] : CUDART_INF;
    t = lane < warps ? bt[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) {
      const double og_ = __shfl_down_sync(kFullMask, g, o),
                   ot = __shfl_down_sync(kFullMask, t, o);
      if (og_ < g || (og_ == g && ot < t)) {
        g = og_;
        t = ot;
      }
    }
    if (lane == 0) {
      bg[32] = g;
      bt[32] = t;
    }
  }
  __syncthreads();
  g = bg[32];
  t = bt[32];
  __syncthreads();
}

// Ascending bitonic sort of key (with idx alongside), n a power of two, in shared memory.
__device__ void bitonic_sort(double* key, int* idx, int n) {
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int e = threadIdx.x; e < n / 2; e += blockDim.x) {
        const int lo = 2 * j * (e / j) + (e % j), hi = lo + j;
        const bool ascending = (lo & k) == 0;
        const double a = key[lo], b = key[hi];
        if ((a > b) == ascending && a != b) {
          key[lo] = b;
          key[hi] = a;
          const int t = idx[lo];
          idx[lo] = idx[hi];
          idx[hi] = t;
        }
      }
      __syncthreads();
    }
  }
}

// --- scoring one pair: one block ---------------------------------------------------------

template <class T>
__device__ void score_pair_block(const State<T>& s, int p, int q) {
  extern __shared__ double shared[];
  __shared__ double buf_a[33], buf_b[33];
  const int d = s.d, n2 = s.pow2, tid = threadIdx.x, nt = blockDim.x;
  double* key = shared;      // n2 tangents (padded)
  double* xs = key + n2;     // d sector coordinates, column order
  double* ys = xs + d;
  int* idx = reinterpret_cast<int*>(ys + d);  // n2 column indices, sorted with key
  const T* a = s.v + std::size_t(p) * d;
  const T* b = s.v + std::size_t(q) * d;

  double l1 = 0, X = 0, Y = 0, zeros = 0;
  for (int k = tid; k < n2; k += nt) {
    if (k < d) {
      const double av = a[k], bv = b[k];
      const og::SectorPoint sp = og::sector_point(av, bv);
      key[k] = sp.t;
      xs[k] = sp.x;
      ys[k] = sp.y;
      l1 += fabs(av) + fabs(bv);
      X += sp.x;
      Y += sp.y;
      zeros += sp.t == og::kZeroColumnKey ? 1.0 : 0.0;
    } else {
      key[k] = kPadKey;
    }
    idx[k] = k;
  }
  l1 = block_sum(l1, buf_a);
  X = block_sum(X, buf_a);
  Y = block_sum(Y, buf_a);
  const int n = d - int(block_sum(zeros, buf_a));  // columns that are not zero sort first
  bitonic_sort(key, idx, n2);

  // Thread tid scans positions [begin, end) of the sorted order.
  const int per = (n2 + nt - 1) / nt;
  const int begin = min(tid * per, n), end = min(begin + per, n);
  double sx = 0, sy = 0;
  for (int m = begin; m < end; ++m) {
    sx += xs[idx[m]];
    sy += ys[idx[m]];
  }
  double Xp, Yp;
  block_exclusive_scan(sx, sy, Xp, Yp, buf_a, buf_b);
  double best = CUDART_INF, best_t = 0;
  for (int m = begin; m < end; ++m) {
    Xp += xs[idx[m]];
    Yp += ys[idx[m]];
    const double t = key[m];
    if (m + 1 < n && key[m + 1] == t) continue;  // one breakpoint per distinct tangent
    const double g = og::rotated_l1(X, Y, Xp, Yp, t, og::breakpoint_cos(t));
    if (g < best) {
      best = g;
      best_t = t;
    }
  }
  block_argmin(best, best_t, buf_a, buf_b);
  if (tid == 0) {
    double decrease = l1 - best;
    if (!(n > 0 && decrease > og::noise_fraction(double(d), og::machine_epsilon<T>()) * l1)) {
      decrease = 0;
      best_t = 0;
    }
    s.score[std::size_t(p) * d + q] = decrease;
    s.tangent[std::size_t(p) * d + q] = best_t;
  }
}

template <class T>
__global__ void __launch_bounds__(kScoreThreads) score_all_kernel(State<T> s) {
  const int q = blockIdx.x, p = blockIdx.y;
  if (q <= p) return;
  score_pair_block(s, p, q);
}

template <class T>
__global__ void __launch_bounds__(kScoreThreads) rescore_kernel(State<T> s) {
  const Control* c = s.ctrl;
  if (c->stop) return;
  int p, q;
  og::touched_pair(int(blockIdx.x), c->i, c->j, s.d, p, q);
  score_pair_block(s, p, q);
}

// --- per-row maxima and the step ---------------------------------------------------------

// Row p's best pair (p, q > p): larger score, ties to the smaller q. One warp.
template <class T>
__device__ void rescan_row(const State<T>& s, int p) {
  const int lane = threadIdx.x & 31, d = s.d;
  double best = -CUDART_INF;
  int col = -1;
  for (int q = p + 1 + lane; q < d; q += 32) {
    const double v = s.score[std::size_t(p) * d + q];
    if (v > best) {
      best = v;
      col = q;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const double ov = __shfl_down_sync(kFullMask, best, o);
    const int oc = __shfl_down_sync(kFullMask, col, o);
    if (oc >= 0 && (col < 0 || ov > best || (ov == best && oc < col))) {
      best = ov;
      col = oc;
    }
  }
  if (lane == 0) {
    s.row_score[p] = best;
    s.row_col[p] = col;
    s.dirty[p] = 0;
  }
}

template <class T>
__global__ void init_rows_kernel(State<T> s) {
  const int row = int((blockIdx.x * blockDim.x + threadIdx.x) >> 5);
  if (row < s.d) rescan_row(s, row);  // warp-uniform
}

// Pair (p, q) has a new score: update row p's best, or mark it for a rescan (PairArgmax).
template <class T>
__device__ void updated(const State<T>& s, int p, int q) {
  const double v = s.score[std::size_t(p) * s.d + q];
  const double best = s.row_score[p];
  const int col = s.row_col[p];
  if (v > best || (v == best && q < col)) {
    s.row_score[p] = v;
    s.row_col[p] = q;
  } else if (col == q && v < best) {
    s.dirty[p] = 1;
  }
}

template <class T>
__global__ void __launch_bounds__(kSelectThreads) select_kernel(State<T> s) {
  Control* c = s.ctrl;
  if (c->stop) return;
  __shared__ double best_v[32];
  __shared__ int best_p[32];
  __shared__ int go, si, sj;
  __shared__ double st;
  const int d = s.d, tid = threadIdx.x, nt = blockDim.x;
  const int lane = tid & 31, warp = tid >> 5, warps = nt >> 5;

  // 1. Fold in the pairs re-scored after the previous step.
  const int li = c->last_i, lj = c->last_j;
  if (li >= 0) {
    for (int p = tid; p < d; p += nt) {
      if (p == li || p == lj) {
        s.dirty[p] = 1;
        continue;
      }
      if (p < li) updated(s, p, li);
      if (p < lj) updated(s, p, lj);
    }
    __syncthreads();
    for (int p = warp; p < d; p += warps)
      if (s.dirty[p]) rescan_row(s, p);
    __syncthreads();
  }

  // 2. The best row: larger score, ties to the smaller p.
  double v = -CUDART_INF;
  int bp = -1;
  for (int p = tid; p < d - 1; p += nt) {
    const double r = s.row_score[p];
    if (r > v) {
      v = r;
      bp = p;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const double ov = __shfl_down_sync(kFullMask, v, o);
    const int op = __shfl_down_sync(kFullMask, bp, o);
    if (op >= 0 && (bp < 0 || ov > v || (ov == v && op < bp))) {
      v = ov;
      bp = op;
    }
  }
  if (lane == 0) {
    best_v[warp] = v;
    best_p[warp] = bp;
  }
  __syncthreads();
  if (tid == 0) {
    for (int w = 1; w < warps; ++w) {
      const double ov = best_v[w];
      const int op = best_p[w];
      if (op >= 0 && (bp < 0 || ov > v || (ov == v && op < bp))) {
        v = ov;
        bp = op;
      }
    }
    c->last_i = c->last_j = -1;
    go = 0;
    if (bp < 0 || !(v > 0)) {
      c->converged = 1;
      c->stop = 1;
    } else if (c->taken >= c->limit) {
      c->stop = 1;
    } else {
      // 3. Record the factor.
      const int i = bp, j = s.row_col[bp];
      const double t = s.tangent[std::size_t(i) * d + j];
      const long long k = c->taken;
      s.out_i[k] = i;
      s.out_j[k] = j;
      s.out_theta[k] = T(atan(t));
      s.out_score[k] = v;
      c->taken = k + 1;
      c->i = c->last_i = i;
      c->j = c->last_j = j;
      si = i;
      sj = j;
      st = t;
      go = 1;
    }
  }
  __syncthreads();
  if (!go) return;

  // 4. Rotate rows i and j.
  double cs, sn;
  og::rotation_from_tangent(st, cs, sn);
  T* vi = s.v + std::size_t(si) * d;
  T* vj = s.v + std::size_t(sj) * d;
  for (int k = tid; k < d; k += nt) og::rotate_column(cs, sn, vi[k], vj[k]);
}

__global__ void begin_chunk_kernel(Control* c, long long limit) {
  c->taken = 0;
  c->limit = limit;
  c->stop = c->converged;
}

int next_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

template <class T>
struct L1Descent<T>::Device {
  State<T> s{};
  cudaStream_t stream = nullptr;
  cudaGraphExec_t graph = nullptr;
  std::size_t shared_bytes = 0;

  ~Device() {  // no throwing here: release what was acquired
    if (graph) cudaGraphExecDestroy(graph);
    for (void* p : {(void*)s.v, (void*)s.score, (void*)s.tangent, (void*)s.row_score,
                    (void*)s.row_col, (void*)s.dirty, (void*)s.ctrl, (void*)s.out_i,
                    (void*)s.out_j, (void*)s.out_theta, (void*)s.out_score})
      if (p) cudaFree(p);
    if (stream) cudaStreamDestroy(stream);
  }
};

namespace {

template <class P>
void allocate(P*& ptr, std::size_t count, const char* what) {
  void* raw = nullptr;
  check(cudaMalloc(&raw, std::max<std::size_t>(count, 1) * sizeof(P)), what);
  ptr = static_cast<P*>(raw);
}

}  // namespace

template <class T>
L1Descent<T>::L1Descent(const T* u, index_t d, cudaStream_t stream) : d_(d) {
  require(d >= 2, "d", "expected a matrix of size at least 2, got " + std::to_string(d));
  require(d <= kMaxDim, "d",
          "expected at most " + std::to_string(kMaxDim) + " on CUDA, got " + std::to_string(d));
  require(u != nullptr, "u", "expected a device pointer, got null");
  dev_ = new Device();
  try {
    Device& g = *dev_;
    State<T>& s = g.s;
    const std::size_t dd = std::size_t(d) * std::size_t(d);
    s.d = int(d);
    s.pow2 = next_pow2(int(d));
    check(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking), "givens stream");
    allocate(s.v, dd, "givens matrix");
    allocate(s.score, dd, "givens scores");
    allocate(s.tangent, dd, "givens tangents");
    allocate(s.row_score, std::size_t(d), "givens row maxima");
    allocate(s.row_col, std::size_t(d), "givens row maxima");
    allocate(s.dirty, std::size_t(d), "givens row flags");
    allocate(s.ctrl, 1, "givens control");
    allocate(s.out_i, kStepsPerChunk, "givens trajectory");
    allocate(s.out_j, kStepsPerChunk, "givens trajectory");
    allocate(s.out_theta, kStepsPerChunk, "givens trajectory");
    allocate(s.out_score, kStepsPerChunk, "givens trajectory");

    // The input is read on the caller's stream, after whatever produced it.
    check(cudaMemcpyAsync(s.v, u, dd * sizeof(T), cudaMemcpyDeviceToDevice, stream),
          "givens input copy");
    check(cudaStreamSynchronize(stream), "givens input copy");
    const Control start{0, 0, 0, 0, -1, -1, -1, -1};
    check(cudaMemcpyAsync(s.ctrl, &start, sizeof start, cudaMemcpyHostToDevice, g.stream),
          "givens control");
    check(cudaMemsetAsync(s.dirty, 0, std::size_t(d) * sizeof(int), g.stream), "givens flags");

    g.shared_bytes = std::size_t(s.pow2) * (sizeof(double) + sizeof(int)) +
                     2 * std::size_t(d) * sizeof(double);
    if (g.shared_bytes > 48 * 1024) {
      check(cudaFuncSetAttribute(score_all_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 int(g.shared_bytes)),
            "givens shared memory");
      check(cudaFuncSetAttribute(rescore_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 int(g.shared_bytes)),
            "givens shared memory");
    }

    // First pass: every pair, then every row's best.
    score_all_kernel<T><<<dim3(unsigned(d), unsigned(d)), kScoreThreads, g.shared_bytes,
                          g.stream>>>(s);
    check(cudaGetLastError(), "givens score_all_kernel launch");
    const unsigned row_blocks = unsigned((d * 32 + 255) / 256);
    init_rows_kernel<T><<<row_blocks, 256, 0, g.stream>>>(s);
    check(cudaGetLastError(), "givens init_rows_kernel launch");

    // A graph of kStepsPerGraph steps, replayed by run().
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(g.stream, cudaStreamCaptureModeThreadLocal), "givens capture");
    for (int k = 0; k < kStepsPerGraph; ++k) {
      select_kernel<T><<<1, kSelectThreads, 0, g.stream>>>(s);
      rescore_kernel<T><<<unsigned(2 * (d - 2) + 1), kScoreThreads, g.shared_bytes, g.stream>>>(s);
    }
    const cudaError_t captured = cudaStreamEndCapture(g.stream, &graph);
    check(captured, "givens capture");
    const cudaError_t made = cudaGraphInstantiate(&g.graph, graph, 0);
    cudaGraphDestroy(graph);
    check(made, "givens graph");
    check(cudaStreamSynchronize(g.stream), "givens first pass");
  } catch (...) {
    delete dev_;
    dev_ = nullptr;
    throw;
  }
}

template <class T>
L1Descent<T>::~L1Descent() {
  delete dev_;
}

template <class T>
void L1Descent<T>::launch_steps(int steps) {
  Device& g = *dev_;
  begin_chunk_kernel<<<1, 1, 0, g.stream>>>(g.s.ctrl, steps);
  check(cudaGetLastError(), "givens begin_chunk_kernel launch");
  for (int k = 0; k < steps; k += kStepsPerGraph)
    check(cudaGraphLaunch(g.graph, g.stream), "givens graph launch");
}

template <class T>
index_t L1Descent<T>::run(index_t max_steps, index_t* i, index_t* j, T* theta, double* score) {
  require(max_steps >= 0, "max_steps", "expected a non-negative count");
  Device& g = *dev_;
  index_t taken = 0;
  while (taken < max_steps && !converged_) {
    const index_t chunk = std::min(max_steps - taken, kStepsPerChunk);
    launch_steps(int(chunk));
    Control c{};
    check(cudaMemcpyAsync(&c, g.s.ctrl, sizeof c, cudaMemcpyDeviceToHost, g.stream),
          "givens control copy");
    check(cudaStreamSynchronize(g.stream), "givens steps");
    const std::size_t n = std::size_t(c.taken);
    static_assert(sizeof(long long) == sizeof(index_t));
    check(cudaMemcpyAsync(i + taken, g.s.out_i, n * sizeof(index_t), cudaMemcpyDeviceToHost,
                          g.stream), "givens trajectory copy");
    check(cudaMemcpyAsync(j + taken, g.s.out_j, n * sizeof(index_t), cudaMemcpyDeviceToHost,
                          g.stream), "givens trajectory copy");
    check(cudaMemcpyAsync(theta + taken, g.s.out_theta, n * sizeof(T), cudaMemcpyDeviceToHost,
                          g.stream), "givens trajectory copy");
    check(cudaMemcpyAsync(score + taken, g.s.out_score, n * sizeof(double),
                          cudaMemcpyDeviceToHost, g.stream), "givens trajectory copy");
    check(cudaStreamSynchronize(g.stream), "givens trajectory copy");
    taken += index_t(n);
    converged_ = c.converged != 0;
    if (index_t(n) < chunk) break;
  }
  return taken;
}

template <class T>
void L1Descent<T>::matrix(T* host) const {
  const std::size_t bytes = std::size_t(d_) * std::size_t(d_) * sizeof(T);
  check(cudaMemcpyAsync(host, dev_->s.v, bytes, cudaMemcpyDeviceToHost, dev_->stream),
        "givens matrix copy");
  check(cudaStreamSynchronize(dev_->stream), "givens matrix copy");
}

template class L1Descent<float>;
template class L1Descent<double>;

}  // namespace optkern::cuda::givens
