// Pieces shared by the TV and tridiagonal kernels: carving the caller's scratch memory, the
// queue of signals (or systems) that need a second, slower pass, and launch arithmetic.
#pragma once

#include <cuda_runtime_api.h>

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <string>

#include "optkern/common.hpp"
#include "optkern/cuda/runtime.hpp"
#include "optkern/cuda/tv.hpp"

namespace optkern::cuda::tv_kernels {

constexpr int kThreads = 128;  // threads per block of the one-thread-per-signal kernels

inline unsigned blocks_for(index_t items, int threads = kThreads) {
  const index_t blocks = (items + threads - 1) / threads;
  require(blocks <= 0x7fffffff, "batch", "too many signals for one launch");
  return unsigned(blocks);
}

// Hands out consecutive, 256-byte aligned pieces of the caller's scratch memory; with a null
// base it only adds up the size.
class ScratchCarver {
 public:
  explicit ScratchCarver(void* base = nullptr) : base_(static_cast<unsigned char*>(base)) {}
  template <class T>
  T* take(index_t count) {
    const std::size_t at = used_;
    used_ += (std::size_t(count) * sizeof(T) + 255) / 256 * 256;
    return base_ ? reinterpret_cast<T*>(base_ + at) : nullptr;
  }
  std::size_t used() const { return used_; }

 private:
  unsigned char* base_;
  std::size_t used_ = 0;
};

inline void check_scratch(std::size_t given, std::size_t needed) {
  require(given >= needed, "scratch",
          "needs " + std::to_string(needed) + " bytes, got " + std::to_string(given));
}

// Items (signal or system indices) that a first kernel hands to a second one. The second
// kernel runs `slots` threads, each owning `slot_elements` elements of slot memory, and
// takes items slot, slot + slots, ... until the count the first kernel reached.
template <class Slot>
struct FallbackQueue {
  unsigned long long* count;
  index_t* items;
  Slot* slot_memory;
  index_t slots, slot_elements;

  __device__ void push(index_t item) const {
    items[atomicAdd(count, 1ull)] = item;
  }
};

// At most this many bytes of slot memory: enough slots for the rare signals that need them,
// at least one however long the signal.
constexpr std::size_t kSlotBudgetBytes = std::size_t(64) << 20;

inline index_t fallback_slots(index_t batch, std::size_t bytes_per_slot) {
  const index_t fit = index_t(kSlotBudgetBytes / (bytes_per_slot > 0 ? bytes_per_slot : 1));
  return batch < 1 ? 0 : (fit < 1 ? 1 : (fit < batch ? fit : batch));
}

template <class Slot>
FallbackQueue<Slot> carve_queue(ScratchCarver& carver, index_t batch, index_t slot_elements) {
  FallbackQueue<Slot> q;
  q.slots = fallback_slots(batch, std::size_t(slot_elements) * sizeof(Slot));
  q.slot_elements = slot_elements;
  q.count = carver.take<unsigned long long>(1);
  q.items = carver.take<index_t>(batch);
  q.slot_memory = carver.take<Slot>(q.slots * slot_elements);
  return q;
}

template <class Slot>
void reset_queue(const FallbackQueue<Slot>& q, cudaStream_t stream) {
  check(cudaMemsetAsync(q.count, 0, sizeof(unsigned long long), stream), "queue reset");
}

__device__ inline bool valid_lambda(double lam) { return lam >= 0 && lam <= DBL_MAX; }

template <class T>
__device__ void fill_nan(T* row, index_t n) {
  for (index_t k = 0; k < n; ++k) row[k] = T(NAN);
}

// Shared memory the staged kernels may use per block: the device's opt-in limit.
inline int staged_shared_limit() {
  int device = 0, bytes = 48 * 1024;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "shared memory limit");
  return bytes;
}

// A staged block holds 32 signals, each in a row of odd length (neighbouring threads' rows
// then start in different banks).
constexpr int kStagedSignals = 32;
__host__ __device__ inline index_t staged_row(index_t n) { return n | 1; }

// Whether a launch stages its signals: asked for, or (kAuto) when a block's `arrays` rows of
// n items fit the device's shared memory. If so, *shared receives the bytes per block and
// `kernel` is allowed that much.
template <class Kernel>
bool use_staged(TvMapping mapping, index_t n, int arrays, std::size_t item_bytes, Kernel kernel,
                std::size_t* shared) {
  *shared = std::size_t(arrays) * kStagedSignals * std::size_t(staged_row(n)) * item_bytes;
  const bool fits =
      n > 0 && n < (index_t(1) << 24) && *shared <= std::size_t(staged_shared_limit());
  require(mapping != TvMapping::kStaged || fits, "mapping", "signals too long to stage");
  if (mapping == TvMapping::kDirect || !fits) return false;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(*shared)),
        "shared memory for a staged kernel");
  return true;
}

}  // namespace optkern::cuda::tv_kernels
