// optkern::Interrupt (optkern/interrupt.hpp) and every long loop that polls it: runs that
// would go on for hours stop soon after the request, with the caller's own exception, from
// threaded regions too; the check runs only on the calling thread; an Interrupt that never
// stops changes no result; and after a stop everything works as before (a Givens engine even
// resumes where it stopped).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "check.hpp"
#include "optkern/givens.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/optimize/minimize.hpp"
#include "optkern/ot.hpp"
#include "optkern/tv.hpp"
#include "random_matrices.hpp"

using optkern::index_t;
using optkern::Interrupt;
using Clock = std::chrono::steady_clock;
namespace og = optkern::givens;
namespace opt = optkern::optimize;

namespace {

// The caller's exception, thrown by its check.
struct Cancelled {};

// Stops `after` from now: by returning true, or by throwing Cancelled. Records the threads its
// check ran on.
struct Deadline {
  Clock::time_point at;
  bool throws = false;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  int calls = 0;

  explicit Deadline(std::chrono::milliseconds after, bool throws_ = false)
      : at(Clock::now() + after), throws(throws_) {}

  bool operator()() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
      ++calls;
    }
    if (Clock::now() < at) return false;
    if (throws) throw Cancelled{};
    return true;
  }
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs `call` (which would not end on its own for a long time) with an Interrupt whose check
// stops it after `after`; expects Interrupted (or Cancelled when `throws`) within `limit` s and
// the check on the calling thread only.
template <class Call>
void expect_stop(const char* what, Call call, bool throws = false, double limit = 2.0,
                 std::chrono::milliseconds after = std::chrono::milliseconds(50)) {
  Deadline deadline(after, throws);
  // Checked often enough to see the deadline soon after it passes.
  Interrupt interrupt([&] { return deadline(); }, std::min(std::chrono::milliseconds(5), after / 5));
  const Clock::time_point start = Clock::now();
  bool got_interrupted = false, got_cancelled = false;
  try {
    call(&interrupt);
  } catch (const optkern::Interrupted&) {
    got_interrupted = true;
  } catch (const Cancelled&) {
    got_cancelled = true;
  }
  const double took = seconds_since(start);
  const bool ok = throws ? got_cancelled : got_interrupted;
  if (!ok || took > limit)
    std::fprintf(stderr, "%s: stopped=%d after %.3f s\n", what, int(ok), took);
  CHECK(ok);
  CHECK(took < limit);
  CHECK(deadline.threads.size() == 1 && *deadline.threads.begin() == std::this_thread::get_id());
  CHECK(interrupt.stopped());
}

std::vector<double> random_vector(std::size_t size, std::mt19937& gen, double lo = 0,
                                  double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(size);
  for (double& x : v) x = u(gen);
  return v;
}

// --- the Interrupt itself -------------------------------------------------------------------

void test_interrupt_object() {
  Interrupt never;  // no check: never stops by itself, costs a relaxed load per poll
  bool any = false;
  for (int k = 0; k < 1000000; ++k) any = any || never.poll();
  CHECK(!any && !never.stopped());
  never.throw_if_stopped();  // not stopped: nothing to throw
  never.request_stop();
  CHECK(never.poll() && never.stopped());
  bool threw = false;
  try {
    never.throw_if_stopped();
  } catch (const optkern::Interrupted&) {
    threw = true;
  }
  CHECK(threw);

  // The check runs at most once per period, however often poll() is called.
  int calls = 0;
  Interrupt slow([&] { return ++calls, false; }, std::chrono::milliseconds(20));
  const Clock::time_point start = Clock::now();
  long polls = 0;
  while (seconds_since(start) < 0.2) {
    slow.poll();
    ++polls;
  }
  CHECK(calls >= 3 && calls <= 11);
  CHECK(polls > 1000);

  // Another thread polls: it sees the outcome, never runs the check.
  std::thread::id checked_on;
  Interrupt owned([&] { return checked_on = std::this_thread::get_id(), true; },
                  std::chrono::milliseconds(0));
  std::thread other([&] {
    for (int k = 0; k < 100000; ++k) owned.poll();
  });
  other.join();
  CHECK(checked_on == std::thread::id());
  while (!owned.poll()) {
  }
  CHECK(checked_on == std::this_thread::get_id());
}

// --- Sinkhorn -------------------------------------------------------------------------------

struct SinkhornRun {
  index_t batch, m, n;
  std::vector<double> M, a, b, plan, f, g;
  std::vector<optkern::SinkhornStatus> status;

  SinkhornRun(index_t batch_, index_t m_, index_t n_, std::mt19937& gen)
      : batch(batch_), m(m_), n(n_), M(random_vector(static_cast<std::size_t>(batch * m * n), gen)),
        a(static_cast<std::size_t>(m), 1.0 / double(m)), b(static_cast<std::size_t>(n), 1.0 / double(n)),
        plan(M.size()), f(static_cast<std::size_t>(batch * m)), g(static_cast<std::size_t>(batch * n)),
        status(static_cast<std::size_t>(batch)) {}

  void operator()(const optkern::SinkhornOptions& o, Interrupt* interrupt) {
    // One cost per problem; a and b shared by the batch (stride 0).
    const optkern::SinkhornProblem<double> p{batch, m, n, M.data(), m * n, a.data(), 0, b.data(), 0};
    optkern::sinkhorn<double>(p, o, {plan.data(), f.data(), g.data(), status.data()}, interrupt);
  }
};

void test_sinkhorn() {
  std::mt19937 gen(3);
  for (auto method : {optkern::SinkhornMethod::plain, optkern::SinkhornMethod::log}) {
    // One problem shared by a team of two threads, and a batch with one problem per thread.
    for (auto [batch, size] : {std::pair<index_t, index_t>{1, 520}, {6, 40}}) {
      SinkhornRun run(batch, size, size, gen);
      optkern::SinkhornOptions endless;
      endless.reg = 0.05;
      endless.tol = 0;
      endless.max_iter = INT_MAX;
      endless.method = method;
      endless.num_threads = 2;
      expect_stop("sinkhorn", [&](Interrupt* i) { run(endless, i); });
      expect_stop("sinkhorn (throwing check)", [&](Interrupt* i) { run(endless, i); }, true);

      // Afterwards, and with a check that never stops: the plain result, bit for bit.
      optkern::SinkhornOptions finite = endless;
      finite.max_iter = 50;
      run(finite, nullptr);
      const std::vector<double> expected = run.plan;
      Interrupt idle([] { return false; }, std::chrono::milliseconds(0));
      run(finite, &idle);
      CHECK(run.plan == expected);
      CHECK(run.status[0].n_iter == 50);
    }
  }
}

// The backward is a direct solve per problem: a batch stops between problems.
void test_sinkhorn_vjp() {
  std::mt19937 gen(4);
  const index_t batch = 128, m = 200, n = 200;
  const auto size = static_cast<std::size_t>(batch * m * n);
  // A plan with full support (marginals do not matter to the solve) and a loss gradient.
  const std::vector<double> P = random_vector(size, gen, 0.5, 1.5), W = random_vector(size, gen);
  std::vector<double> gM(size), ga(static_cast<std::size_t>(batch * m)),
      gb(static_cast<std::size_t>(batch * n));
  std::vector<optkern::SinkhornVjpStatus> status(static_cast<std::size_t>(batch));
  auto vjp = [&](index_t count, int threads, Interrupt* i) {
    optkern::sinkhorn_vjp<double>(count, m, n, P.data(), W.data(), 0.1, gM.data(), ga.data(),
                                  gb.data(), status.data(), threads, i);
  };
  // Unlike the iterative kernels, the batch ends by itself, as soon as a fast machine gets
  // through it: so the stop is asked for a tenth of the way through the measured full run.
  for (int threads : {1, 2}) {
    const Clock::time_point start = Clock::now();
    vjp(batch, threads, nullptr);
    const double full = seconds_since(start);
    const auto after = std::chrono::milliseconds(
        std::clamp(static_cast<long>(full * 100), 1L, 50L));  // full/10, in ms
    expect_stop("sinkhorn_vjp", [&](Interrupt* i) { vjp(batch, threads, i); }, false, 2.0, after);
  }
  vjp(1, 2, nullptr);
  const std::vector<double> expected(gM.begin(), gM.begin() + m * n);
  Interrupt idle([] { return false; }, std::chrono::milliseconds(0));
  vjp(1, 2, &idle);
  CHECK(std::equal(expected.begin(), expected.end(), gM.begin()));
  CHECK(status[0] == optkern::SinkhornVjpStatus::ok);
}

// --- total variation ------------------------------------------------------------------------

void test_tv_irls() {
  std::mt19937 gen(5);
  for (auto [batch, n] : {std::pair<index_t, index_t>{1, 100000}, {64, 2000}}) {
    const std::vector<double> x = random_vector(static_cast<std::size_t>(batch * n), gen, -1, 1);
    std::vector<double> y(x.size()), change(static_cast<std::size_t>(batch));
    std::vector<index_t> nit(static_cast<std::size_t>(batch));
    const double lam = 1.0;
    auto irls = [&](double tol, index_t max_iter, Interrupt* i) {
      optkern::tv_denoise_irls<double>(batch, n, x.data(), &lam, 0, tol, max_iter, y.data(),
                                       nit.data(), change.data(), 2, i);
    };
    expect_stop("tv irls", [&](Interrupt* i) { irls(1e-300, LLONG_MAX, i); });
    irls(1e-300, 20, nullptr);
    const std::vector<double> expected = y;
    Interrupt idle([] { return false; }, std::chrono::milliseconds(0));
    irls(1e-300, 20, &idle);
    CHECK(y == expected && nit[0] == 20);
  }
}

// --- the optimisers -------------------------------------------------------------------------

opt::Settings<double> endless_settings(opt::Method method) {
  opt::Settings<double> s;
  s.method = method;
  s.stop.gtol = 0;
  s.stop.ftol = 0;
  s.stop.max_iter = 1000000000L;
  s.stop.max_fev = 1000000000L;
  return s;
}

void test_optimize() {
  using opt::problems::ProblemKind;
  const opt::problems::ProblemSpec rosenbrock{ProblemKind::kRosenbrock};
  // Chained Rosenbrock functions large enough that no method gets anywhere near gtol = 0:
  // BFGS keeps a dense n x n matrix, Newton converges in a few dozen steps whatever n is.
  for (auto method : {opt::Method::kLbfgs, opt::Method::kBfgs, opt::Method::kGradientDescent}) {
    const index_t n = method == opt::Method::kBfgs ? 1000 : 20000;
    std::vector<double> x(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
    const opt::Settings<double> s = endless_settings(method);
    opt::problem_start<double>(rosenbrock, n, x.data());
    expect_stop("minimize_problem", [&](Interrupt* i) {
      opt::minimize_problem<double>(rosenbrock, x.data(), g.data(), n, s, {}, i);
    });
    // The same through the compiled minimize() with a C++ objective.
    opt::problem_start<double>(rosenbrock, n, x.data());
    auto fg = [&](const double* z, double* grad) {
      double f;
      opt::problem_value_grad<double>(rosenbrock, 1, n, z, &f, grad);
      return f;
    };
    expect_stop("minimize", [&](Interrupt* i) {
      opt::minimize<double>(fg, {}, {}, x.data(), g.data(), n, s, i);
    });
  }
  // Afterwards, and with a check that never stops: the same run as without an Interrupt.
  for (auto method : {opt::Method::kLbfgs, opt::Method::kBfgs, opt::Method::kNewton,
                      opt::Method::kGradientDescent}) {
    opt::Settings<double> normal;
    normal.method = method;
    normal.stop.max_iter = normal.stop.max_fev = 100000;
    std::vector<double> x1(10), x2(10), g1(10), g2(10);
    opt::problem_start<double>(rosenbrock, 10, x1.data());
    x2 = x1;
    const auto r1 = opt::minimize_problem<double>(rosenbrock, x1.data(), g1.data(), 10, normal);
    Interrupt idle([] { return false; }, std::chrono::milliseconds(0));
    const auto r2 =
        opt::minimize_problem<double>(rosenbrock, x2.data(), g2.data(), 10, normal, {}, &idle);
    CHECK(r1.success() && x1 == x2 && r1.counters.nfev == r2.counters.nfev);
  }

  // Batches: independent native problems on two threads, and the lock step.
  const index_t batch = 6, n = 4000;
  std::vector<double> x(static_cast<std::size_t>(batch * n)), f(batch), g(x.size());
  std::vector<std::int64_t> nit(batch), nfev(batch), nhev(batch);
  std::vector<std::int32_t> status(batch);
  const opt::BatchOutput<double> out{f.data(), g.data(), nit.data(), nfev.data(), nhev.data(),
                                     status.data()};
  for (index_t b = 0; b < batch; ++b) opt::problem_start<double>(rosenbrock, n, x.data() + b * n);
  const auto s = endless_settings(opt::Method::kLbfgs);
  expect_stop("minimize_problem_batch", [&](Interrupt* i) {
    opt::minimize_problem_batch<double>(rosenbrock, x.data(), batch, n, s, out, 2, i);
  });
  for (index_t b = 0; b < batch; ++b) opt::problem_start<double>(rosenbrock, n, x.data() + b * n);
  auto batch_fg = [&](const double* xt, double* ft, double* gt) {
    opt::problem_value_grad<double>(rosenbrock, batch, n, xt, ft, gt);
  };
  expect_stop("minimize_batch", [&](Interrupt* i) {
    opt::minimize_batch<double>(batch_fg, x.data(), batch, n, s, out, 2, i);
  });
}

// --- Givens ---------------------------------------------------------------------------------

// Interrupts engine.run() at the sixth check (the stride of poll() doubles from 1 while the
// steps are fast: some 60 steps in), resumes it to `total` steps, and expects the trajectory
// of an engine that was never interrupted.
template <class Make>
void expect_resumable(const char* what, Make make, index_t total) {
  auto reference = make();
  std::vector<index_t> ri(total), rj(total), ci(total), cj(total);
  std::vector<double> rt(total), rs(total), ct(total), cs(total);
  const index_t want = reference->run(total, {ri.data(), rj.data(), rt.data(), rs.data()});

  auto engine = make();
  int calls = 0;
  Interrupt interrupt([&] { return ++calls == 6; }, std::chrono::milliseconds(0));
  bool stopped = false;
  try {
    engine->run(total, {ci.data(), cj.data(), ct.data(), cs.data()}, &interrupt);
  } catch (const optkern::Interrupted&) {
    stopped = true;
  }
  const index_t done = engine->steps();
  if (!stopped || done >= want) std::fprintf(stderr, "%s: %ld of %ld steps\n", what, long(done), long(want));
  CHECK(stopped && done < want);
  const index_t rest = engine->run(total - done, {ci.data() + done, cj.data() + done,
                                                  ct.data() + done, cs.data() + done});
  CHECK(done + rest == want);
  CHECK(std::equal(ri.begin(), ri.begin() + want, ci.begin()));
  CHECK(std::equal(rj.begin(), rj.begin() + want, cj.begin()));
  CHECK(std::equal(rt.begin(), rt.begin() + want, ct.begin()));
}

void test_givens() {
  std::mt19937 gen(11);
  const index_t d = 96, all = d * (d - 1) / 2;
  const std::vector<double> u = optkern_test::random_orthogonal(d, gen);
  std::vector<double> sym(u.size());
  for (index_t p = 0; p < d; ++p)
    for (index_t q = 0; q < d; ++q) sym[p * d + q] = u[p * d + q] + u[q * d + p];
  const index_t steps = 300;  // the stop comes some 60 steps in
  expect_resumable("l1 descent",
                   [&] { return std::make_unique<og::L1Descent<double>>(u.data(), d, 1); },
                   steps);
  expect_resumable("greedy",
                   [&] { return std::make_unique<og::FrobeniusGreedy<double>>(u.data(), d); },
                   steps);
  expect_resumable("elimination",
                   [&] { return std::make_unique<og::Elimination<double>>(u.data(), d); }, all);
  expect_resumable("jacobi",
                   [&] { return std::make_unique<og::JacobiEigen<double>>(sym.data(), d); },
                   steps);

  // The first pass of L1 descent (all d(d-1)/2 pairs, O(d^3)) stops too, and so does a long
  // run on two threads.
  const std::vector<double> large = optkern_test::random_orthogonal(512, gen);
  expect_stop("l1 descent constructor", [&](Interrupt* i) {
    og::L1Descent<double> engine(large.data(), 512, 2, i);
  });
  const index_t mid = 256, many = mid * (mid - 1) / 2;
  const std::vector<double> medium = optkern_test::random_orthogonal(mid, gen);
  og::L1Descent<double> engine(medium.data(), mid, 2);
  std::vector<index_t> i(static_cast<std::size_t>(many)), j(static_cast<std::size_t>(many));
  std::vector<double> t(static_cast<std::size_t>(many)), s(static_cast<std::size_t>(many));
  expect_stop("l1 descent run", [&](Interrupt* in) {
    engine.run(many, {i.data(), j.data(), t.data(), s.data()}, in);
  });
  CHECK(engine.steps() > 0);
}

}  // namespace

int main() {
  for (auto [name, test] : {std::pair{"interrupt", &test_interrupt_object},
                            {"sinkhorn", &test_sinkhorn},
                            {"sinkhorn_vjp", &test_sinkhorn_vjp},
                            {"tv", &test_tv_irls},
                            {"optimize", &test_optimize},
                            {"givens", &test_givens}}) {
    const Clock::time_point start = Clock::now();
    test();
    std::printf("%s: %.2f s\n", name, seconds_since(start));
  }
  if (optkern_test::failures() == 0) std::printf("test_interrupt: all checks passed\n");
  return optkern_test::failures();
}
