// The largest useful lam of the exact 1-D TV prox, shared by the CPU and CUDA solvers.
#pragma once

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

// min(lam, 2 sum |x_k|). Any lam >= lambda_max gives the mean, and lambda_max <= 2 sum |x_k|,
// so this changes no solution; a larger lam only costs accuracy: the solvers' end columns
// rise by x_k +- lam, which rounds x_k away when lam >> |x| (x = [1e-300, 3e-300] with lam = 1
// came out as 0, not the mean 2e-300).
template <class X>
OPTKERN_HD double useful_lambda(index_t n, const X& x, double lam) {
  double total = 0;
  for (index_t k = 0; k < n; ++k) total += double(x[k]) < 0 ? -double(x[k]) : double(x[k]);
  return lam < 2 * total ? lam : 2 * total;
}

}  // namespace optkern::detail
