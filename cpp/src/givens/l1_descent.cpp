// Algorithm 1 of Frerix & Bruna (ICML 2019): greedy coordinate descent of ||V||_1 over Givens
// rotations, with incremental re-scoring.
//
// A step rotates rows i and j only, so only the pairs touching i or j change: 2(d-2) + 1 of
// the d(d-1)/2 (the paper's "up-to-date" check). Each is re-scored exactly (BlockSearch), and
// the global best comes from per-row maxima (PairArgmax).
//
// Threads. The re-scoring of a step is split into chunks of a few pairs. One thread (the
// master) picks the pair, rotates and publishes the step; every thread, master included, then
// claims chunks. A chunk's results are committed by whoever finishes it first (a CAS on the
// chunk's state for this step), so the master never waits for a worker that the operating
// system has descheduled: once no chunk is left to claim, it recomputes any chunk still out
// and commits it itself. A late worker's commit then fails and its work is dropped. This keeps
// two threads useful on a busy machine, where a barrier per step would stall for a whole
// time slice whenever one thread is preempted.
//
// Rows live in separate buffers reached through an atomic pointer per row. A step writes the
// two rotated rows into fresh buffers and retires the old ones; a retired buffer is reused
// only once no worker that could still be reading it is active (each worker publishes the step
// it works on). So a late worker reads stale but intact rows, never a row being overwritten.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "common/parallel_guard.hpp"
#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"
#include "optkern/threads.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OPTKERN_SPIN_PAUSE() _mm_pause()
#else
#define OPTKERN_SPIN_PAUSE() ((void)0)
#endif

namespace optkern::givens {
namespace {

// Below this size a step is a few microseconds of work; a thread team would only add overhead.
constexpr index_t kMinDimForThreads = 64;
constexpr index_t kPairsPerChunk = 4;
constexpr std::uint64_t kIdle = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kStop = std::numeric_limits<std::uint64_t>::max();

int threads_for(index_t d, int requested) {
  const int n = requested > 0 ? requested : num_threads();
  return d < kMinDimForThreads ? 1 : detail::region_threads(n);
}

std::uint64_t pack_rows(index_t i, index_t j) { return (std::uint64_t(i) << 32) | std::uint64_t(j); }

}  // namespace

template <class T>
struct L1Descent<T>::Team {
  std::atomic<std::uint64_t> step{0};   // the step (epoch) being re-scored, or kStop
  std::atomic<std::uint64_t> rows{0};   // its rotated rows i, j (pack_rows), written first
  std::atomic<index_t> next_chunk{0};
  std::vector<std::atomic<std::uint64_t>> chunk_state;  // 2 epoch: being written, 2 epoch + 1: done
  std::vector<std::atomic<std::uint64_t>> claimed;      // epoch a chunk was last claimed in
  std::vector<std::atomic<std::uint64_t>> published;    // epoch each worker may be reading
  explicit Team(index_t chunks, int threads)
      : chunk_state(std::size_t(chunks)), claimed(std::size_t(chunks)),
        published(std::size_t(threads) * 8) {  // one cache line apart
    for (auto& p : published) p.store(kIdle);
  }
};

template <class T>
L1Descent<T>::L1Descent(const T* u, index_t d, int num_threads, Interrupt* interrupt)
    : d_(d),
      threads_(threads_for(d, num_threads)),
      rows_(std::size_t(std::max<index_t>(d, 0))),
      best_(std::max<index_t>(d, 0)) {
  require(d >= 2, "d", "expected a matrix of size at least 2, got " + std::to_string(d));
  require(u != nullptr, "u", "expected a matrix, got a null pointer");
  for (index_t r = 0; r < d; ++r) {
    T* row = new_row();
    std::copy(u + r * d, u + (r + 1) * d, row);
    rows_[std::size_t(r)].store(row);
  }
  tangent_.assign(std::size_t(d * d), 0.0);
  row_layer_.assign(std::size_t(d), 0);
  searches_.assign(std::size_t(threads_), BlockSearch(d));
  chunks_ = (2 * (d - 2) + 1 + kPairsPerChunk - 1) / kPairsPerChunk;
  team_ = std::make_unique<Team>(chunks_, threads_);
  chunk_scores_.resize(std::size_t(threads_) * kPairsPerChunk);

  // First pass: all pairs, rows handed out dynamically (row p has d - p - 1 pairs). Once
  // interrupted, the remaining rows are skipped.
  detail::RegionErrors errors;
  const int first_threads = detail::region_threads(threads_);
#pragma omp parallel for schedule(dynamic, 1) num_threads(first_threads) if (first_threads > 1)
  for (index_t p = 0; p < d - 1; ++p) {
    if (errors.failed() || detail::poll(interrupt)) continue;
    errors.guard([&] {
      BlockSearch& search = searches_[std::size_t(omp_get_thread_num())];
      const T* a = rows_[std::size_t(p)].load();
      for (index_t q = p + 1; q < d; ++q) {
        const BlockRotation r = search.best(a, rows_[std::size_t(q)].load());
        best_.scores()[p * d + q] = r.decrease;
        tangent_[std::size_t(p * d + q)] = r.tangent;
      }
    });
  }
  errors.rethrow_if_failed();
  detail::throw_if_stopped(interrupt);
  best_.rescan_all();
}

template <class T>
L1Descent<T>::~L1Descent() = default;

template <class T>
T* L1Descent<T>::new_row() {
  // The oldest retired buffer, if no worker can still be reading it.
  if (!retired_.empty()) {
    std::uint64_t oldest_reader = kIdle;
    if (team_)
      for (int w = 1; w < threads_; ++w)
        oldest_reader = std::min(oldest_reader, team_->published[std::size_t(w) * 8].load());
    // seq_cst on both sides (this load and the worker's store; the row-pointer stores and the
    // worker's loads): either the worker's step shows up here, or the worker reads the row
    // table after this buffer left it.
    if (retired_.front().second < oldest_reader) {
      T* row = retired_.front().first;
      retired_.pop_front();
      return row;
    }
  }
  storage_.push_back(std::make_unique<T[]>(std::size_t(d_)));
  return storage_.back().get();
}

template <class T>
const T* L1Descent<T>::matrix() const {
  dense_.resize(std::size_t(d_ * d_));
  for (index_t r = 0; r < d_; ++r) {
    const T* row = rows_[std::size_t(r)].load();
    std::copy(row, row + d_, dense_.begin() + r * d_);
  }
  return dense_.data();
}

template <class T>
double L1Descent<T>::l1_norm() const {
  const T* v = matrix();
  double sum = 0;
  for (index_t k = 0; k < d_ * d_; ++k) sum += std::fabs(double(v[k]));
  return sum;
}

// Scores the pairs of chunk c of the step (i, j) into out (kPairsPerChunk slots).
template <class T>
void L1Descent<T>::score_chunk(index_t c, index_t i, index_t j, BlockSearch& search,
                               BlockRotation* out) const {
  const index_t first = c * kPairsPerChunk;
  const index_t last = std::min(first + kPairsPerChunk, 2 * (d_ - 2) + 1);
  for (index_t m = first; m < last; ++m) {
    index_t p, q;
    touched_pair(m, i, j, d_, p, q);
    // seq_cst loads: ordered after the worker's published store (see new_row)
    out[m - first] = search.best(rows_[std::size_t(p)].load(), rows_[std::size_t(q)].load());
  }
}

// Publishes chunk c's results unless someone else already did for this step.
template <class T>
bool L1Descent<T>::commit(index_t c, std::uint64_t epoch, index_t i, index_t j,
                          const BlockRotation* results) {
  std::atomic<std::uint64_t>& state = team_->chunk_state[std::size_t(c)];
  std::uint64_t seen = state.load(std::memory_order_acquire);
  do {
    if (seen >= 2 * epoch) return false;  // being written or done for this step
  } while (!state.compare_exchange_weak(seen, 2 * epoch, std::memory_order_acq_rel));
  const index_t d = d_;
  const index_t first = c * kPairsPerChunk;
  const index_t last = std::min(first + kPairsPerChunk, 2 * (d - 2) + 1);
  for (index_t m = first; m < last; ++m) {
    index_t p, q;
    touched_pair(m, i, j, d, p, q);
    best_.scores()[p * d + q] = results[m - first].decrease;
    tangent_[std::size_t(p * d + q)] = results[m - first].tangent;
  }
  state.store(2 * epoch + 1, std::memory_order_release);
  return true;
}

// Claims and scores chunks of the published step until none is left to claim.
template <class T>
void L1Descent<T>::claim_chunks(std::uint64_t epoch, int tid) {
  // A late reader may see the rows of a newer step here: its commits then fail.
  const std::uint64_t rows = team_->rows.load(std::memory_order_relaxed);
  const index_t i = index_t(rows >> 32), j = index_t(rows & 0xFFFFFFFFu);
  BlockSearch& search = searches_[std::size_t(tid)];
  BlockRotation* results = chunk_scores_.data() + std::size_t(tid) * kPairsPerChunk;
  for (;;) {
    const index_t c = team_->next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks_) return;
    team_->claimed[std::size_t(c)].store(epoch, std::memory_order_relaxed);
    score_chunk(c, i, j, search, results);
    commit(c, epoch, i, j, results);
    if (team_->step.load(std::memory_order_relaxed) != epoch) return;  // the master moved on
  }
}

template <class T>
void L1Descent<T>::worker(int tid) {
  std::uint64_t seen = team_->step.load(std::memory_order_acquire);
  std::atomic<std::uint64_t>& published = team_->published[std::size_t(tid) * 8];
  for (int spins = 0;;) {
    const std::uint64_t epoch = team_->step.load(std::memory_order_acquire);
    if (epoch == kStop) return;
    if (epoch == seen) {
      // Wait for the next step: spin briefly (steps are ~100 us apart), then yield the core.
      if (++spins < 4000) {
        OPTKERN_SPIN_PAUSE();
      } else {
        std::this_thread::yield();
      }
      continue;
    }
    spins = 0;
    seen = epoch;
    published.store(epoch);  // seq_cst: before any row is read
    claim_chunks(epoch, tid);
    published.store(kIdle);
  }
}

template <class T>
void L1Descent<T>::master_step(index_t i, index_t j, double t) {
  // Rotate rows i and j into fresh buffers, then retire the old ones (see the file comment).
  const index_t d = d_;
  double c, s;
  rotation_from_tangent(t, c, s);
  T* old_i = rows_[std::size_t(i)].load(std::memory_order_relaxed);
  T* old_j = rows_[std::size_t(j)].load(std::memory_order_relaxed);
  T* new_i = new_row();
  T* new_j = new_row();
  for (index_t k = 0; k < d; ++k) {
    T a = old_i[k], b = old_j[k];
    rotate_column(c, s, a, b);
    new_i[k] = a;
    new_j[k] = b;
  }
  rows_[std::size_t(i)].store(new_i);  // seq_cst: see new_row
  rows_[std::size_t(j)].store(new_j);
  ++epoch_;
  retired_.emplace_back(old_i, epoch_);
  retired_.emplace_back(old_j, epoch_);

  // Publish the step and take part in it.
  team_->next_chunk.store(0, std::memory_order_relaxed);
  team_->rows.store(pack_rows(i, j), std::memory_order_relaxed);
  team_->step.store(epoch_, std::memory_order_release);
  claim_chunks(epoch_, 0);

  // Every chunk must be committed for this step. Give a claimed chunk a moment to finish,
  // then compute it here: its claimant may be descheduled.
  BlockRotation* results = chunk_scores_.data();
  for (index_t chunk = 0; chunk < chunks_; ++chunk) {
    std::atomic<std::uint64_t>& state = team_->chunk_state[std::size_t(chunk)];
    if (state.load(std::memory_order_acquire) == 2 * epoch_ + 1) continue;
    if (team_->claimed[std::size_t(chunk)].load(std::memory_order_relaxed) == epoch_) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (state.load(std::memory_order_acquire) < 2 * epoch_ &&
             std::chrono::steady_clock::now() < deadline)
        OPTKERN_SPIN_PAUSE();
    }
    if (state.load(std::memory_order_acquire) < 2 * epoch_) {
      score_chunk(chunk, i, j, searches_[0], results);
      commit(chunk, epoch_, i, j, results);
    }
    while (state.load(std::memory_order_acquire) != 2 * epoch_ + 1) OPTKERN_SPIN_PAUSE();
  }
}

template <class T>
void L1Descent<T>::choose_layered(index_t& i, index_t& j, double& gain) const {
  const index_t d = d_;
  const index_t* last = row_layer_.data();
  if (std::max(last[i], last[j]) + 1 <= depth_) return;  // fits: no new layer
  const double floor = kLayeredSlack * gain;
  index_t bi = -1, bj = -1;
  double best = -1;
  for (index_t p = 0; p + 1 < d; ++p) {
    if (last[p] >= depth_) continue;
    for (index_t q = p + 1; q < d; ++q) {
      const double g = best_.score(p, q);
      // strict: equal decreases keep the smallest (p, q), as PairArgmax does
      if (last[q] < depth_ && g >= floor && g > best) {
        best = g;
        bi = p;
        bj = q;
      }
    }
  }
  if (bi >= 0 && best > 0) {
    i = bi;
    j = bj;
    gain = best;
  }
}

template <class T>
index_t L1Descent<T>::run(index_t max_steps, const Trajectory<T>& out, Interrupt* interrupt) {
  require(max_steps >= 0, "max_steps", "expected a non-negative count");
  if (converged_ || max_steps == 0) return 0;
  const index_t d = d_;
  index_t taken = 0;
  team_->step.store(epoch_, std::memory_order_relaxed);

  // Only the master (the calling thread) polls, between steps; the workers follow it.
  auto steps = [&] {
    for (; taken < max_steps && !detail::poll(interrupt); ++taken) {
      index_t i, j;
      double gain;
      if (!best_.argmax_above(0.0, i, j, gain)) {
        converged_ = true;
        break;
      }
      if (layered_) choose_layered(i, j, gain);
      const double t = tangent_[std::size_t(i * d + j)];
      out.put(taken, i, j, T(std::atan(t)), gain);
      master_step(i, j, t);
      best_.rows_changed(i, j);
      const index_t layer = std::max(row_layer_[std::size_t(i)], row_layer_[std::size_t(j)]) + 1;
      row_layer_[std::size_t(i)] = row_layer_[std::size_t(j)] = layer;
      depth_ = std::max(depth_, layer);
    }
  };

  // In a fork child made after this object (its thread pool gone), the master works alone.
  if (threads_ == 1 || detail::region_threads(threads_) == 1) {
    steps();
  } else {
    // The master's exception (new_row allocates) must still release the workers.
    detail::RegionErrors errors;
#pragma omp parallel num_threads(threads_)
    {
      if (omp_get_thread_num() == 0) {
        errors.guard(steps);
        team_->step.store(kStop, std::memory_order_release);
      } else {
        errors.guard([&] { worker(omp_get_thread_num()); });
      }
    }
    errors.rethrow_if_failed();
  }
  detail::throw_if_stopped(interrupt);
  return taken;
}

template class L1Descent<float>;
template class L1Descent<double>;

}  // namespace optkern::givens
