// optkern::sinkhorn_unbalanced through the C++ API: the kernel domain and the log domain give
// the same plan, automatic picks the kernel domain only where it fits, a kernel-domain run
// that leaves the range goes on in the log domain, and zero weights keep zero rows.
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/ot.hpp"
#include "random_matrices.hpp"

using optkern::index_t;
using optkern::SinkhornMethod;

namespace {

struct Run {
  std::vector<double> plan, F, G;
  optkern::UnbalancedStatus status;
};

Run solve(index_t m, index_t n, const std::vector<double>& M, const std::vector<double>& a,
          const std::vector<double>& b, double reg, SinkhornMethod method,
          optkern::UnbalancedRegType type = optkern::UnbalancedRegType::kl) {
  const optkern::UnbalancedOptions o{reg, 1.0, 0.5, type, 1e-13, 100000, 1, method};
  Run r{std::vector<double>(static_cast<std::size_t>(m * n)),
        std::vector<double>(static_cast<std::size_t>(m)),
        std::vector<double>(static_cast<std::size_t>(n)),
        {}};
  optkern::sinkhorn_unbalanced<double>(1, m, n, M.data(), 0, a.data(), 0, b.data(), 0, o,
                                       r.plan.data(), r.F.data(), r.G.data(), &r.status);
  return r;
}

double max_rel_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double scale = 0;
  for (double v : y) scale = std::fmax(scale, std::fabs(v));
  return optkern_test::max_abs_diff(x, y) / scale;
}

}  // namespace

int main() {
  std::mt19937 gen(11);
  const index_t m = 37, n = 23;
  const std::vector<double> M = optkern_test::uniform_vector(m * n, gen, 0, 1);
  std::vector<double> a = optkern_test::uniform_vector(m, gen, 0.1, 1.1);  // masses differ:
  std::vector<double> b = optkern_test::uniform_vector(n, gen, 0.1, 1.1);  // about 22 and 14
  a[3] = 0;  // zero weights: their row and column of the plan are zero
  b[5] = 0;

  for (auto type : {optkern::UnbalancedRegType::kl, optkern::UnbalancedRegType::entropy}) {
    const Run plain = solve(m, n, M, a, b, 0.1, SinkhornMethod::plain, type);
    const Run log = solve(m, n, M, a, b, 0.1, SinkhornMethod::log, type);
    const Run automatic = solve(m, n, M, a, b, 0.1, SinkhornMethod::automatic, type);
    CHECK(plain.status.converged && log.status.converged && automatic.status.converged);
    CHECK(plain.status.method == SinkhornMethod::plain);
    CHECK(log.status.method == SinkhornMethod::log);
    CHECK(automatic.status.method == SinkhornMethod::plain);  // max M / reg = 10 fits
    CHECK(max_rel_diff(plain.plan, log.plan) < 1e-10);
    CHECK(optkern_test::max_abs_diff(plain.F, log.F) < 1e-9);
    CHECK(optkern_test::max_abs_diff(plain.G, log.G) < 1e-9);
    CHECK(std::abs(plain.status.n_iter - log.status.n_iter) <= 1);  // the same iteration
    for (index_t j = 0; j < n; ++j) CHECK(plain.plan[std::size_t(3 * n + j)] == 0);
    for (index_t i = 0; i < m; ++i) CHECK(plain.plan[std::size_t(i * n + 5)] == 0);
    CHECK(plain.F[3] == 0);
  }

  // reg small against M: automatic takes the log domain, and a forced kernel-domain run
  // leaves the range and finishes in the log domain with the same plan.
  std::vector<double> far = M;
  for (auto& x : far) x = 800 + 800 * x;  // exp(-M) underflows: K v = 0 in the kernel domain
  const Run log = solve(m, n, far, a, b, 1.0, SinkhornMethod::log);
  const Run automatic = solve(m, n, far, a, b, 1.0, SinkhornMethod::automatic);
  const Run forced = solve(m, n, far, a, b, 1.0, SinkhornMethod::plain);
  CHECK(automatic.status.method == SinkhornMethod::log);
  CHECK(forced.status.method == SinkhornMethod::log && forced.status.converged);
  CHECK(max_rel_diff(forced.plan, log.plan) < 1e-9);
  for (double v : forced.plan) CHECK(std::isfinite(v));

  // An unknown method is refused by name.
  CHECK(optkern_test::throws_invalid_argument(
      [&] { solve(m, n, M, a, b, 0.1, static_cast<SinkhornMethod>(7)); }, "method:"));
  return optkern_test::failures();
}
