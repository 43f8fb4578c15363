// One optimisation problem per CUDA thread (see optkern/cuda/optimize.hpp).
//
// Each thread runs the reverse-communication machine of lbfgs_machine.hpp (or, with bounds,
// lbfgsb_machine.hpp's L-BFGS-B) and evaluates the native problem itself, so the whole run
// stays on the device: no host round trip per iteration. The problems' vectors are
// interleaved (element i of problem b at base[i * batch + b]): at every step the 32 threads
// of a warp touch 32 neighbouring addresses. Threads whose problem has finished idle until
// their warp's last problem is done.
#include <string>

#include "optkern/cuda/optimize.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/optimize/lbfgs_machine.hpp"
#include "optkern/optimize/lbfgsb_machine.hpp"

namespace optkern::cuda {
namespace {

namespace opt = optkern::optimize;

constexpr int kThreads = 128;

template <class T>
struct Outputs {
  T *x, *f, *g;
  std::int64_t *nit, *nfev;
  std::int32_t* status;
};

template <class T>
__device__ void load_start(const T* x0, T* x, index_t n, index_t b, index_t stride) {
  for (index_t i = 0; i < n; ++i) x[i * stride] = x0[b * n + i];
}

// Runs problem b's machine to the end and writes its results (rows of the outputs).
template <class T, class Machine>
__device__ void run_to_end(Machine& machine, const opt::problems::ProblemSpec& spec,
                           const opt::DescentBuffers<T>& v, opt::Interleaved layout,
                           index_t b, index_t n, const Outputs<T>& out) {
  const index_t batch = layout.stride();
  opt::Request r = machine.start();
  while (r != opt::Request::kDone) {
    if (r == opt::Request::kEvaluate) {
      const T f = opt::problems::with_problem<T>(
          spec, n, [&](const auto& p) { return p.value_grad(n, v.xt, v.gt, layout); });
      r = machine.tell(f);
    } else {  // kIterate: no callback on the device
      r = machine.proceed(false);
    }
  }
  for (index_t i = 0; i < n; ++i) {
    out.x[b * n + i] = v.x[i * batch];
    out.g[b * n + i] = v.g[i * batch];
  }
  out.f[b] = machine.f();
  out.nit[b] = machine.counters().nit;
  out.nfev[b] = machine.counters().nfev;
  out.status[b] = std::int32_t(machine.status());
}

// One kernel per dtype: the problem is chosen by a switch at each evaluation (a few
// instructions), so the machine is compiled once rather than once per problem.
template <class T>
__global__ void lbfgs_batch(opt::problems::ProblemSpec spec, opt::LbfgsOptions<T> options,
                            const T* x0, T* work, index_t batch, index_t n, Outputs<T> out) {
  const index_t b = index_t(blockIdx.x) * kThreads + threadIdx.x;
  if (b >= batch) return;
  const opt::Interleaved layout{batch};
  const opt::LbfgsBuffers<T> buffers = opt::lbfgs_buffers(work + b, n, options.m, batch);
  load_start(x0, buffers.v.x, n, b, batch);
  opt::LbfgsMachine<T, opt::Interleaved> machine(n, options, buffers, layout);
  run_to_end(machine, spec, buffers.v, layout, b, n, out);
}

// L-BFGS-B: each problem's bounds (rows of lower and upper, as x0) are interleaved into the
// work space after the machines' blocks, so that they are read like x.
template <class T>
__global__ void lbfgsb_batch(opt::problems::ProblemSpec spec, opt::LbfgsOptions<T> options,
                             const T* x0, const T* lower_rows, const T* upper_rows, T* work,
                             index_t batch, index_t n, Outputs<T> out) {
  const index_t b = index_t(blockIdx.x) * kThreads + threadIdx.x;
  if (b >= batch) return;
  const opt::Interleaved layout{batch};
  const opt::LbfgsbBuffers<T> buffers = opt::lbfgsb_buffers(work + b, n, options.m, batch);
  T* lower = work + opt::lbfgsb_buffer_size(n, options.m) * batch + b;
  T* upper = lower + n * batch;
  load_start(x0, buffers.v.x, n, b, batch);
  load_start(lower_rows, lower, n, b, batch);
  load_start(upper_rows, upper, n, b, batch);
  opt::LbfgsbPortableMachine<T, opt::Interleaved> machine(n, options, buffers, lower, upper,
                                                          layout);
  run_to_end(machine, spec, buffers.v, layout, b, n, out);
}

}  // namespace

template <class T>
void minimize_problem_batch(const opt::problems::ProblemSpec& problem,
                            const opt::Settings<T>& settings, const T* x0, T* x, T* f, T* g,
                            std::int64_t* nit, std::int64_t* nfev, std::int32_t* status,
                            index_t batch, index_t n, cudaStream_t stream) {
  opt::problems::check_problem(problem, n);
  settings.check();
  if (settings.method != opt::Method::kLbfgs) {
    throw std::invalid_argument("method: on a CUDA device, lbfgs");
  }
  if ((settings.lower == nullptr) != (settings.upper == nullptr)) {
    throw std::invalid_argument("bounds: need both lower and upper");
  }
  if (batch == 0) return;
  const bool bounded = settings.lower != nullptr;
  const index_t per_problem = bounded ? opt::lbfgsb_buffer_size(n, settings.m) + 2 * n
                                      : opt::lbfgs_buffer_size(n, settings.m);
  void* work = nullptr;
  check(cudaMallocAsync(&work, std::size_t(per_problem * batch) * sizeof(T), stream),
        "minimize_problem_batch: cudaMallocAsync");
  const Outputs<T> out{x, f, g, nit, nfev, status};
  const auto blocks = unsigned((batch + kThreads - 1) / kThreads);
  if (bounded) {
    lbfgsb_batch<T><<<blocks, kThreads, 0, stream>>>(problem, settings.lbfgs(), x0,
                                                      settings.lower, settings.upper,
                                                      static_cast<T*>(work), batch, n, out);
  } else {
    lbfgs_batch<T><<<blocks, kThreads, 0, stream>>>(problem, settings.lbfgs(), x0,
                                                     static_cast<T*>(work), batch, n, out);
  }
  const cudaError_t launched = cudaGetLastError();
  check(cudaFreeAsync(work, stream), "minimize_problem_batch: cudaFreeAsync");
  check(launched, "minimize_problem_batch: kernel launch");
}

template void minimize_problem_batch<float>(const opt::problems::ProblemSpec&,
                                            const opt::Settings<float>&, const float*, float*,
                                            float*, float*, std::int64_t*, std::int64_t*,
                                            std::int32_t*, index_t, index_t, cudaStream_t);
template void minimize_problem_batch<double>(const opt::problems::ProblemSpec&,
                                             const opt::Settings<double>&, const double*,
                                             double*, double*, double*, std::int64_t*,
                                             std::int64_t*, std::int32_t*, index_t, index_t,
                                             cudaStream_t);

}  // namespace optkern::cuda
