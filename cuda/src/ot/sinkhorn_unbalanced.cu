// Unbalanced Sinkhorn on a CUDA device (optkern/cuda/ot.hpp): the log-domain iteration of
// cpp/src/ot/sinkhorn_unbalanced.cpp, one thread block per problem, the whole solve in one
// launch.
//
// A block owns its problem's rows one after the other (a row's log-sum-exp is a block
// reduction), and each thread the columns j = threadIdx.x + k * blockDim.x, whose
// accumulators it alone updates (in shared memory when n fits). Per iteration, as on the CPU:
// row i gives F_i = fa (log a_i - LSE_j(log c_ij + G_j - M_ij / reg)), and its stabilised
// exponentials, weighted by exp(Ft_i + hi_i) against a running scale S, are folded into the
// column sums; then each thread updates its columns' G_j = fb (log b_j - LSE_i(...)) from those
// sums (an exact strided log-sum-exp for a column whose sum underflowed). The stopping rule is
// the CPU's: the largest change of a log-scaling is at most tol.
//
// Where the time goes: each iteration reads M once and takes two exps per entry (the row's
// sum, then its contribution to the column sums), in double; the block reductions cost two
// barriers per row. A batch of small problems fills the GPU; a single large problem runs on
// one SM (a cooperative-grid variant, as sinkhorn.cu has, is the next step for that case).
#include <algorithm>
#include <cmath>
#include <vector>

#include "device_common.cuh"
#include "optkern/cuda/ot.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/ot/sinkhorn_step.hpp"

namespace optkern::cuda {
namespace {

using namespace ot_kernels;
namespace step = optkern::detail::sinkhorn_step;

constexpr int kMaxThreads = 256;
// Per-problem work: 3 vectors of length m and 4 of length n (see Work).
index_t __host__ __device__ work_doubles(index_t m, index_t n) { return 3 * m + 4 * n; }

struct DeviceStatus {
  int n_iter;
  int converged;
  double step;
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
  T* plan;
  T* f;
  T* g;
  double reg, inv_reg, tol;
  double fa, fb;        // rho / (rho + reg) per side (1 for a hard marginal)
  double rho_a, rho_b;  // +inf: that side's KL term is not in the objective
  bool kl;              // c = a b^T, else c = 1
  int max_iter;
  bool acc_in_shared;
  double* work;  // work_doubles(m, n) per problem
  DeviceStatus* status;
};

// One problem's vectors: log a, F, Ft = log c_i + F (rows); log b, G, Gt = log c_j + G (-inf
// at zero weights), and the column accumulators when they are not in shared memory.
struct Work {
  double *la, *F, *Ft;
  double *lb, *G, *Gt, *acc;
  __device__ Work(double* w, index_t m, index_t n) {
    la = w;
    F = la + m;
    Ft = F + m;
    lb = Ft + m;
    G = lb + n;
    Gt = G + n;
    acc = Gt + n;
  }
};

// log sum_i exp(Ft_i - M_ij / reg) over the rows with a_i > 0, by one thread (a column whose
// sum underflowed; as detail::column_lse on the CPU).
template <class T>
__device__ double column_lse(const T* M, const T* a, const double* Ft, index_t m, index_t n,
                             index_t j, double inv_reg) {
  double hi = -kInf;
  for (index_t i = 0; i < m; ++i)
    if (double(a[i]) > 0) hi = fmax(hi, Ft[i] - double(M[i * n + j]) * inv_reg);
  double s = 0;
  for (index_t i = 0; i < m; ++i)
    if (double(a[i]) > 0) s += exp(Ft[i] - double(M[i * n + j]) * inv_reg - hi);
  return hi + log(s);
}

// KL(x | y)'s term x log(x / y) - x + y for one entry (0 log 0 = 0), as the Python side's _kl.
__device__ double kl_term(double x, double log_y, double y) {
  return (x > 0 ? x * (log(x) - log_y) : 0.0) - x + y;
}

template <class T>
__global__ void __launch_bounds__(kMaxThreads) unbalanced_kernel(const Args<T> p) {
  extern __shared__ double smem[];
  double* scratch = smem;
  const index_t k = blockIdx.x;
  const index_t m = p.m, n = p.n;
  const T* M = p.M + k * p.M_stride;
  const T* a = p.a + k * p.a_stride;
  const T* b = p.b + k * p.b_stride;
  Work w(p.work + k * work_doubles(m, n), m, n);
  double* acc = p.acc_in_shared ? smem + kScratch : w.acc;
  const double inv_reg = p.inv_reg;

  for (index_t i = threadIdx.x; i < m; i += blockDim.x) {
    w.la[i] = step::log_weight(double(a[i]));
    w.F[i] = 0;
    w.Ft[i] = 0;
  }
  for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
    const double bj = double(b[j]);
    w.lb[j] = step::log_weight(bj);
    w.G[j] = 0;
    w.Gt[j] = bj > 0 ? (p.kl ? w.lb[j] : 0.0) : -kInf;
  }
  __syncthreads();

  int n_iter = 0;
  bool converged = false;
  double last_step = 0;
  for (int it = 1; it <= p.max_iter; ++it) {
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) acc[j] = 0;
    double S = -kInf;  // the running scale of the column sums (the same in every thread)
    double my_step = 0;
    for (index_t i = 0; i < m; ++i) {
      const double ai = double(a[i]);
      if (!(ai > 0)) continue;  // uniform over the block
      const T* Mi = M + i * n;
      double hi = -kInf;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        hi = fmax(hi, w.Gt[j] - double(Mi[j]) * inv_reg);
      hi = block_max(hi, scratch);
      double s = 0;
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        s += exp(w.Gt[j] - double(Mi[j]) * inv_reg - hi);
      s = block_sum(s, scratch);
      const double ci = p.kl ? w.la[i] : 0.0;
      const double Fn = p.fa * (w.la[i] - ci - hi - log(s));
      if (threadIdx.x == 0) {  // the one thread that reads and writes F_i, Ft_i
        my_step = fmax(my_step, fabs(Fn - w.F[i]));
        w.F[i] = Fn;
        w.Ft[i] = ci + Fn;
      }
      // exp(Ft_i + Gt_j - M_ij / reg) = exp(Ft_i + hi) t_j, summed against the scale S
      // (rescaled when a row exceeds it, as online softmax does).
      const double lw = ci + Fn + hi;
      if (lw > S) {
        const double shrink_by = exp(S - lw);  // 0 on the first row
        for (index_t j = threadIdx.x; j < n; j += blockDim.x) acc[j] *= shrink_by;
        S = lw;
      }
      const double weight = exp(lw - S);
      for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        acc[j] += weight * exp(w.Gt[j] - double(Mi[j]) * inv_reg - hi);
    }
    __syncthreads();  // Ft complete before the exact column log-sum-exps read it
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
      if (!(double(b[j]) > 0)) continue;
      const double cj = p.kl ? w.lb[j] : 0.0;
      const double lse = acc[j] > step::kStarvedColumn && isfinite(w.Gt[j])
                             ? log(acc[j]) + S - w.Gt[j]
                             : column_lse(M, a, w.Ft, m, n, j, inv_reg);
      const double Gn = p.fb * (w.lb[j] - cj - lse);
      my_step = fmax(my_step, fabs(Gn - w.G[j]));
      w.G[j] = Gn;
      w.Gt[j] = cj + Gn;
    }
    // (the barriers in block_max also publish G and Gt for the next iteration's rows)
    last_step = block_max(my_step, scratch);
    n_iter = it;
    if (!(last_step > p.tol)) {  // also stops on NaN (cannot happen for finite input)
      converged = last_step <= p.tol;
      break;
    }
  }

  // The plan c_ij exp(Ft_i + Gt_j - M_ij / reg) (zero rows and columns at zero weights), its
  // cost, KL(P | c) and row sums; the column sums go to acc.
  for (index_t j = threadIdx.x; j < n; j += blockDim.x) acc[j] = 0;
  double cost = 0, kl_plan = 0, kl_rows = 0;
  T* plan = p.plan + k * m * n;
  for (index_t i = 0; i < m; ++i) {
    const double ai = double(a[i]);
    const bool live = ai > 0;
    const T* Mi = M + i * n;
    T* Pi = plan + i * n;
    const double Fi = live ? w.Ft[i] : 0.0;
    double rs = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
      const double mij = double(Mi[j]);
      const T pt = live ? T(exp(Fi + w.Gt[j] - mij * inv_reg)) : T(0);
      const double x = double(pt);
      Pi[j] = pt;
      rs += x;
      cost += mij * x;
      acc[j] += x;
      const double bj = double(b[j]);
      if (p.kl) {
        const double c = ai * bj;
        kl_plan += kl_term(x, log(c), c);
      } else {
        kl_plan += kl_term(x, 0.0, 1.0);
      }
    }
    rs = block_sum(rs, scratch);
    if (threadIdx.x == 0) kl_rows += kl_term(rs, w.la[i], ai);
  }
  __syncthreads();
  double kl_cols = 0;
  for (index_t j = threadIdx.x; j < n; j += blockDim.x)
    kl_cols += kl_term(acc[j], w.lb[j], double(b[j]));
  cost = block_sum(cost, scratch);
  kl_plan = block_sum(kl_plan, scratch);
  kl_rows = block_sum(kl_rows, scratch);
  kl_cols = block_sum(kl_cols, scratch);

  T* f = p.f + k * m;
  T* g = p.g + k * n;
  for (index_t i = threadIdx.x; i < m; i += blockDim.x)
    f[i] = double(a[i]) > 0 ? T(p.reg * w.F[i]) : T(0);
  for (index_t j = threadIdx.x; j < n; j += blockDim.x)
    g[j] = double(b[j]) > 0 ? T(p.reg * w.G[j]) : T(0);
  if (threadIdx.x == 0) {
    DeviceStatus& st = p.status[k];
    st.n_iter = n_iter;
    st.converged = converged ? 1 : 0;
    st.step = last_step;
    st.cost = cost;
    double value = cost + p.reg * kl_plan;
    if (isfinite(p.rho_a)) value += p.rho_a * kl_rows;
    if (isfinite(p.rho_b)) value += p.rho_b * kl_cols;
    st.value = value;
  }
}

double shrink(double rho, double reg) { return std::isinf(rho) ? 1.0 : rho / (rho + reg); }

}  // namespace

template <class T>
void sinkhorn_unbalanced(index_t batch, index_t m, index_t n, const T* M, index_t M_stride,
                         const T* a, index_t a_stride, const T* b, index_t b_stride,
                         const UnbalancedOptions& o, T* plan, T* f, T* g, UnbalancedStatus* status,
                         UnbalancedValues* values, cudaStream_t stream) {
  // The CPU's checks (cpp/src/ot/sinkhorn_unbalanced.cpp), in its words.
  require(batch >= 0 && m >= 1 && n >= 1, "M", "sizes must be >= 1");
  require(o.reg > 0 && std::isfinite(o.reg), "reg", "must be positive and finite");
  require(o.rho_a > 0 && !std::isnan(o.rho_a), "reg_m", "must be positive (or +inf)");
  require(o.rho_b > 0 && !std::isnan(o.rho_b), "reg_m", "must be positive (or +inf)");
  require(o.tol >= 0, "tol", "must be >= 0");
  require(o.max_iter >= 1, "max_iter", "must be >= 1");
  require(o.method == SinkhornMethod::automatic || o.method == SinkhornMethod::plain ||
              o.method == SinkhornMethod::log,
          "method", "expected automatic, plain or log");
  require(batch <= 0x7fffffff, "batch", "too many problems for one launch");
  if (batch == 0) return;
  require(M && a && b && plan && f && g && status && values, "M", "null pointer");

  int device = 0, max_shared = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "attribute");
  const int threads = std::clamp(round_up(n, 32), 64, kMaxThreads);
  std::size_t shared = std::size_t(kScratch + n) * sizeof(double);
  const bool acc_in_shared = shared <= std::size_t(max_shared);
  if (!acc_in_shared) shared = kScratch * sizeof(double);
  void (*kernel)(const Args<T>) = unbalanced_kernel<T>;
  if (shared > 48 * 1024)
    check(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                               cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
          "sinkhorn_unbalanced shared memory");

  DeviceBuffer work(std::size_t(batch) * std::size_t(work_doubles(m, n)) * sizeof(double), stream);
  DeviceBuffer device_status(std::size_t(batch) * sizeof(DeviceStatus), stream, true);
  Args<T> args{};
  args.m = m;
  args.n = n;
  args.M = M;
  args.M_stride = M_stride;
  args.a = a;
  args.a_stride = a_stride;
  args.b = b;
  args.b_stride = b_stride;
  args.plan = plan;
  args.f = f;
  args.g = g;
  args.reg = o.reg;
  args.inv_reg = 1.0 / o.reg;
  args.tol = o.tol;
  args.fa = shrink(o.rho_a, o.reg);
  args.fb = shrink(o.rho_b, o.reg);
  args.rho_a = o.rho_a;
  args.rho_b = o.rho_b;
  args.kl = o.reg_type == UnbalancedRegType::kl;
  args.max_iter = o.max_iter;
  args.acc_in_shared = acc_in_shared;
  args.work = work.as<double>();
  args.status = device_status.as<DeviceStatus>();
  kernel<<<unsigned(batch), unsigned(threads), shared, stream>>>(args);
  check(cudaGetLastError(), "sinkhorn_unbalanced kernel launch");

  std::vector<DeviceStatus> host(static_cast<std::size_t>(batch));
  check(cudaMemcpyAsync(host.data(), device_status.as<DeviceStatus>(),
                        host.size() * sizeof(DeviceStatus), cudaMemcpyDeviceToHost, stream),
        "sinkhorn_unbalanced status");
  check(cudaStreamSynchronize(stream), "sinkhorn_unbalanced");
  for (index_t k = 0; k < batch; ++k) {
    const DeviceStatus& d = host[std::size_t(k)];
    status[k].n_iter = d.n_iter;
    status[k].step = d.step;
    status[k].converged = d.converged != 0;
    status[k].method = SinkhornMethod::log;
    values[k].cost = d.cost;
    values[k].value = d.value;
  }
}

template void sinkhorn_unbalanced<float>(index_t, index_t, index_t, const float*, index_t,
                                         const float*, index_t, const float*, index_t,
                                         const UnbalancedOptions&, float*, float*, float*,
                                         UnbalancedStatus*, UnbalancedValues*, cudaStream_t);
template void sinkhorn_unbalanced<double>(index_t, index_t, index_t, const double*, index_t,
                                          const double*, index_t, const double*, index_t,
                                          const UnbalancedOptions&, double*, double*, double*,
                                          UnbalancedStatus*, UnbalancedValues*, cudaStream_t);

}  // namespace optkern::cuda
