// The exact 1-D TV prox on the CPU: the taut string method (detail/tv_taut_string.hpp) over a
// batch of signals, each thread keeping its two chains in memory it grows as needed.
#include <algorithm>
#include <cmath>

#include "batch.hpp"
#include "chain_memory.hpp"
#include "optkern/detail/tv_lambda.hpp"
#include "optkern/detail/tv_taut_string.hpp"
#include "optkern/tv.hpp"

namespace optkern {
namespace {

using tv_detail::ChainMemory;

template <class T>
void denoise_one(index_t n, const T* x, double lam, T* y, ChainMemory& memory) {
  lam = detail::useful_lambda(n, x, lam);
  if (n == 1 || lam == 0) {
    std::copy(x, x + n, y);
    return;
  }
  double scale = 1, unscale = 1, lam_scaled = lam;
  for (;;) {
    auto grow = [&memory](detail::TautChain<double>& c) { return memory.grow(c); };
    const auto status =
        detail::taut_string_denoise(n, x, detail::ConstantWidth<double>{lam_scaled}, scale,
                                    unscale, y, memory.chain(0), memory.chain(1), grow);
    if (status == detail::TautStatus::kDone) return;
    if (scale != 1) return;  // already rescaled: the result is as good as it gets
    // A local sum overflowed (|x| or lam near DBL_MAX / n): solve x * 2^-e with lam * 2^-e,
    // an exact rescaling, and scale the result back.
    double largest = lam;
    // std::max, not fmax: GCC 12 for aarch64 crashes vectorising an fmax reduction of floats.
    for (index_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(double(x[k])));
    const int e = std::ilogb(largest) - 1;  // |x| * 2^-e < 4, and 2^e stays finite
    scale = std::ldexp(1.0, -e);
    unscale = std::ldexp(1.0, e);
    lam_scaled = std::ldexp(lam, -e);
  }
}

}  // namespace

template <class T>
void tv_denoise(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride, T* y,
                int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  if (batch == 0 || n == 0) return;
  require(x && y && lam, "x", "null pointer");
  require(x + batch * n <= y || y + batch * n <= x, "y", "must not overlap x");
  tv_detail::check_lambdas(batch, lam, lam_stride);
  tv_detail::for_each_signal(batch, n, num_threads, [] { return ChainMemory{}; },
                             [&](ChainMemory& memory, index_t b) {
                               denoise_one(n, x + b * n, lam[b * lam_stride], y + b * n, memory);
                             });
}

template void tv_denoise<float>(index_t, index_t, const float*, const double*, index_t, float*,
                                int);
template void tv_denoise<double>(index_t, index_t, const double*, const double*, index_t,
                                 double*, int);

}  // namespace optkern
