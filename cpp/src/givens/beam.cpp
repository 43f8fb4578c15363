// Beam search over Algorithm 1: see optkern/givens/beam.hpp.
#include "optkern/givens/beam.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <string>

#include "common/parallel_guard.hpp"
#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"
#include "optkern/threads.hpp"

namespace optkern::givens {
namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A hash of row r's exact contents (bits, not values: -0 and 0 differ, as they may in V).
template <class T>
std::uint64_t row_hash(index_t r, const T* row, index_t d) {
  std::uint64_t h = mix(std::uint64_t(r) + 0x9e3779b97f4a7c15ULL);
  for (index_t k = 0; k < d; ++k) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, row + k, sizeof(T));
    h = (h ^ bits) * 0x100000001b3ULL;
  }
  return mix(h);
}

struct PairCandidate {
  double score;
  index_t p, q;
};

// Candidate a ranks before b: larger decrease, then smaller p, then smaller q (L1Descent's).
bool pair_before(const PairCandidate& a, const PairCandidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.p != b.p) return a.p < b.p;
  return a.q < b.q;
}

}  // namespace

template <class T>
struct BeamL1<T>::State {
  std::vector<T> v;            // d x d row-major
  std::vector<double> score;   // best decrease of pair (p < q) at p*d + q
  std::vector<double> tangent; // its tan(theta)
  std::vector<std::uint64_t> hashes;  // per row
  std::uint64_t hash = 0;      // xor of the row hashes
  double l1 = 0;
  std::int64_t node = -1;      // last step in nodes_, -1 at the root

  // Scores the best rotation of rows p < q (of d) into score and tangent.
  void score_pair(BlockSearch& search, index_t p, index_t q, index_t d) {
    const BlockRotation r = search.best(v.data() + p * d, v.data() + q * d);
    score[std::size_t(p * d + q)] = r.decrease;
    tangent[std::size_t(p * d + q)] = r.tangent;
  }
};

template <class T>
BeamL1<T>::BeamL1(const T* u, index_t d, index_t width, int num_threads, Interrupt* interrupt)
    : d_(d), width_(width) {
  require(d >= 2, "d", "expected a matrix of size at least 2, got " + std::to_string(d));
  require(u != nullptr, "u", "expected a matrix, got a null pointer");
  require(width >= 1, "beam_width", "expected at least 1, got " + std::to_string(width));
  threads_ = std::max(1, num_threads > 0 ? num_threads : optkern::num_threads());
  auto root = std::make_unique<State>();
  root->v.assign(u, u + d * d);
  root->score.assign(std::size_t(d * d), 0.0);
  root->tangent.assign(std::size_t(d * d), 0.0);
  root->hashes.resize(std::size_t(d));
  double l1 = 0;
  for (index_t k = 0; k < d * d; ++k) l1 += std::fabs(double(u[k]));
  root->l1 = l1;
  for (index_t r = 0; r < d; ++r) {
    root->hashes[std::size_t(r)] = row_hash(r, u + r * d, d);
    root->hash ^= root->hashes[std::size_t(r)];
  }
  State& s = *root;
  optkern::detail::RegionErrors errors;
  const int threads = d < 64 ? 1 : threads_;
  // every buffer is allocated here, outside the parallel region (nothing throws inside it
  // but what the try below catches)
  std::vector<BlockSearch> searches(static_cast<std::size_t>(threads), BlockSearch(d));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    BlockSearch& search = searches[std::size_t(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (index_t p = 0; p < d - 1; ++p) {
      if (errors.failed() || detail::poll(interrupt)) continue;
      errors.guard([&] {
        for (index_t q = p + 1; q < d; ++q) s.score_pair(search, p, q, d);
      });
    }
  }
  errors.rethrow_if_failed();
  detail::throw_if_stopped(interrupt);
  beams_.push_back(std::move(root));
}

template <class T>
BeamL1<T>::~BeamL1() = default;

template <class T>
index_t BeamL1<T>::advance(index_t max_steps, Interrupt* interrupt) {
  require(max_steps >= 0, "max_steps", "expected a non-negative count");
  const index_t d = d_, k = width_;
  struct Child {
    double value;      // ||V||_1 after the step
    index_t beam;      // parent's rank
    PairCandidate pair;
    std::uint64_t hash;
  };
  std::vector<PairCandidate> top;
  std::vector<Child> children;
  std::vector<BlockSearch> searches(1, BlockSearch(d));  // one per thread of step 4
  std::vector<T> ri(static_cast<std::size_t>(d)), rj(static_cast<std::size_t>(d));
  index_t taken = 0;
  for (; taken < max_steps && !converged_ && !detail::poll(interrupt); ++taken) {
    // 1. Every beam's k best pairs, ranked as L1Descent ranks them.
    children.clear();
    for (index_t b = 0; b < index_t(beams_.size()); ++b) {
      const State& s = *beams_[std::size_t(b)];
      top.clear();
      for (index_t p = 0; p + 1 < d; ++p) {
        const double* row = s.score.data() + p * d;
        for (index_t q = p + 1; q < d; ++q) {
          const double g = row[q];
          if (!(g > 0)) continue;
          if (index_t(top.size()) == k && !(g > top.back().score)) continue;  // scan order
          const PairCandidate c{g, p, q};
          top.insert(std::upper_bound(top.begin(), top.end(), c, pair_before), c);
          if (index_t(top.size()) > k) top.pop_back();
        }
      }
      for (const PairCandidate& c : top) {
        // the child's hash needs its two new rows
        double cs, sn;
        rotation_from_tangent(s.tangent[std::size_t(c.p * d + c.q)], cs, sn);
        const T* a = s.v.data() + c.p * d;
        const T* bb = s.v.data() + c.q * d;
        for (index_t col = 0; col < d; ++col) {
          T x = a[col], y = bb[col];
          rotate_column(cs, sn, x, y);
          ri[std::size_t(col)] = x;
          rj[std::size_t(col)] = y;
        }
        const std::uint64_t h = s.hash ^ s.hashes[std::size_t(c.p)] ^
                                s.hashes[std::size_t(c.q)] ^ row_hash(c.p, ri.data(), d) ^
                                row_hash(c.q, rj.data(), d);
        children.push_back({s.l1 - c.score, b, c, h});
      }
    }
    if (children.empty()) {
      converged_ = true;
      break;
    }
    // 2. The k best distinct children.
    std::stable_sort(children.begin(), children.end(), [](const Child& x, const Child& y) {
      if (x.value != y.value) return x.value < y.value;
      if (x.beam != y.beam) return x.beam < y.beam;
      return pair_before(x.pair, y.pair);
    });
    std::vector<Child> kept;
    for (const Child& c : children) {
      bool duplicate = false;
      for (const Child& o : kept) duplicate = duplicate || o.hash == c.hash;
      if (!duplicate) kept.push_back(c);
      if (index_t(kept.size()) == k) break;
    }
    // 3. Build them: the last child of a parent takes its state, the others copy it.
    std::vector<index_t> uses(beams_.size(), 0);
    for (const Child& c : kept) ++uses[std::size_t(c.beam)];
    std::vector<std::unique_ptr<State>> next;
    for (const Child& c : kept) {
      std::unique_ptr<State>& parent = beams_[std::size_t(c.beam)];
      std::unique_ptr<State> child =
          --uses[std::size_t(c.beam)] == 0 ? std::move(parent) : std::make_unique<State>(*parent);
      const index_t p = c.pair.p, q = c.pair.q;
      const double t = child->tangent[std::size_t(p * d + q)];
      double cs, sn;
      rotation_from_tangent(t, cs, sn);
      T* a = child->v.data() + p * d;
      T* bb = child->v.data() + q * d;
      for (index_t col = 0; col < d; ++col) rotate_column(cs, sn, a[col], bb[col]);
      child->hashes[std::size_t(p)] = row_hash(p, a, d);
      child->hashes[std::size_t(q)] = row_hash(q, bb, d);
      child->hash = c.hash;
      child->l1 = c.value;
      nodes_.push_back({child->node, p, q, T(std::atan(t)), c.pair.score});
      child->node = std::int64_t(nodes_.size()) - 1;
      next.push_back(std::move(child));
    }
    beams_ = std::move(next);
    // 4. Re-score the pairs that touch the rotated rows, in every child.
    const index_t touched = 2 * (d - 2) + 1;
    const index_t tasks = index_t(beams_.size()) * touched;
    // One parallel region per step: worth it only for large steps (on a busy machine a
    // region's barrier can cost a whole time slice).
    const int threads = double(tasks) * double(d) < 2e6 ? 1 : threads_;
    optkern::detail::RegionErrors errors;
    if (index_t(searches.size()) < threads) searches.resize(std::size_t(threads), BlockSearch(d));
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      BlockSearch& search = searches[std::size_t(omp_get_thread_num())];
#pragma omp for schedule(static)
      for (index_t task = 0; task < tasks; ++task) {
        if (errors.failed()) continue;
        errors.guard([&] {
          State& s = *beams_[std::size_t(task / touched)];
          const Node& last = nodes_[std::size_t(s.node)];
          index_t p, q;
          touched_pair(task % touched, last.i, last.j, d, p, q);
          s.score_pair(search, p, q, d);
        });
      }
    }
    errors.rethrow_if_failed();
    ++steps_;
  }
  detail::throw_if_stopped(interrupt);
  return taken;
}

template <class T>
void BeamL1<T>::best_path(index_t* i, index_t* j, T* theta, double* score) const {
  index_t m = steps_;
  for (std::int64_t node = beams_.front()->node; node >= 0;
       node = nodes_[std::size_t(node)].parent) {
    const Node& n = nodes_[std::size_t(node)];
    --m;
    i[m] = n.i;
    j[m] = n.j;
    theta[m] = n.theta;
    score[m] = n.score;
  }
}

template <class T>
const T* BeamL1<T>::best_matrix() const {
  return beams_.front()->v.data();
}

template <class T>
double BeamL1<T>::best_objective() const {
  return beams_.front()->l1;
}

template class BeamL1<float>;
template class BeamL1<double>;

}  // namespace optkern::givens
