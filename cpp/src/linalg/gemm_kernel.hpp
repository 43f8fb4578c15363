// One product C = A @ B: a register-blocked micro-kernel inside cache blocking in the order of
// Goto & van de Geijn (BLIS): jc (NC columns of B, L3) -> pc (KC depth) -> ic (MC rows of A,
// L2) -> jr (NR columns: the B micro-panel stays in L1) -> ir (MR rows).
//
// Two regimes, chosen per product (measured on the 2-core AVX2 development machine):
// * small products (n < 256) pack nothing they can avoid: the micro-kernel broadcasts A's
//   entries straight from the caller's strides, and reads B in place when it is small,
//   contiguous and a multiple of NR wide. Packing would cost as much as the product itself
//   (n = 32 and 64 ran 10-25% faster without it);
// * large products pack B into NR-column panels and A into MR-row panels, like BLIS, so that
//   the kernel streams contiguous memory with compile-time strides whatever the caller's
//   strides (leading dimensions of a power of two bytes otherwise alias in L1 and L2).
// A single large product can also be computed by a whole OpenMP team: the threads pack each
// B panel together and split the rows of C (run_team).
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "common/simd.hpp"
#include "optkern/common.hpp"

namespace optkern::detail {

// C[0:MR, 0:NV*W] (=|+=) A[0:MR, 0:kc] @ B[0:kc, 0:NV*W], W lanes per vector.
// A element (i, p) is a[i*a_rs + p*a_cs]; B row p is the NV*W contiguous values at b + p*b_rs;
// C row i is the NV*W contiguous values at c + i*c_rs.
template <class T, int VecBytes, int MR, int NV>
inline __attribute__((always_inline)) void micro_kernel(index_t kc, const T* __restrict a, index_t a_rs, index_t a_cs,
                  const T* __restrict b, index_t b_rs, T* __restrict c, index_t c_rs,
                  bool accumulate) {
  using V = typename SimdVec<T, VecBytes>::type;
  constexpr int W = VecBytes / int(sizeof(T));
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};
  // Fetching C's rows now hides their miss behind the k loop (5-10% at n >= 1024, measured);
  // unrolling the k loop by 4 trims its bookkeeping (another few percent).
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) __builtin_prefetch(c + i * c_rs, 1, 3);

#pragma GCC unroll 4
  for (index_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load_vec<V>(b + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i * a_rs];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * bv[v];
    }
    a += a_cs;
    b += b_rs;
  }

#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T* ci = c + i * c_rs + v * W;
      store_vec<V>(ci, accumulate ? load_vec<V>(ci) + acc[i][v] : acc[i][v]);
    }
}

// The same tile for packed operands: A as kc x MR (column of the tile after column), B as
// kc x NR, so every address is a compile-time offset.
template <class T, int VecBytes, int MR, int NV>
void micro_kernel_packed(index_t kc, const T* __restrict a, const T* __restrict b,
                         T* __restrict c, index_t c_rs, bool accumulate) {
  micro_kernel<T, VecBytes, MR, NV>(kc, a, 1, MR, b, NV * VecBytes / index_t(sizeof(T)), c, c_rs,
                                    accumulate);
}

// A register tile of MR x (NV vectors of VecBytes), with the cache blocking that goes with it.
template <class T, int VecBytes, int MR_, int NV>
struct GemmKernel {
  static constexpr int MR = MR_;
  static constexpr int NR = NV * VecBytes / int(sizeof(T));
  // KC*NR*sizeof(T) = 16 KiB keeps a B micro-panel in L1; MC*KC fits A's block in L2 (240 rows
  // measured best against 120 on 1 MiB of L2); KC*NC the packed B panel in L3.
  static constexpr index_t KC = 16384 / (NR * index_t(sizeof(T)));
  static constexpr index_t MC = 240;
  static constexpr index_t NC = 2048;
  // B is read in place when it is at most this many bytes (it then stays in L1 anyway).
  static constexpr index_t kDirectBBytes = 16384;
  // Products at least this wide pack A (its panels are then reused >= 256/NR times).
  static constexpr index_t kPackAMinCols = 256;

  using Kernel = void (*)(index_t, const T*, index_t, index_t, const T*, index_t, T*, index_t,
                          bool);

  // kernels[r] computes a tile of r <= MR rows.
  template <std::size_t... R>
  static constexpr auto make_kernels(std::index_sequence<R...>) {
    return std::array<Kernel, MR + 1>{nullptr, &micro_kernel<T, VecBytes, int(R) + 1, NV>...};
  }
  static constexpr std::array<Kernel, MR + 1> kernels =
      make_kernels(std::make_index_sequence<MR>{});

  static index_t round_up(index_t x, index_t to) { return (x + to - 1) / to * to; }

  // Scratch elements for a packed B panel and for a packed A block.
  static index_t b_buffer_size(index_t k, index_t n) {
    return std::min(k, KC) * round_up(std::min(n, NC), NR);
  }
  static index_t a_buffer_size(index_t k) { return std::min(k, KC) * (MC + MR); }

  static bool packs_a(index_t n) { return n >= kPackAMinCols; }
  static bool reads_b_in_place(index_t k, index_t n, index_t b_cs) {
    return b_cs == 1 && n % NR == 0 && k * n * index_t(sizeof(T)) <= kDirectBBytes;
  }

  // Copies the NR-column panels first_panel, first_panel + step, ... of B[0:kc, 0:nc], each
  // kc x NR row-major and zero-padded, to dst + panel * kc * NR.
  static void pack_b(index_t kc, index_t nc, const T* b, index_t b_rs, index_t b_cs, T* dst,
                     index_t first_panel = 0, index_t step = 1) {
    if (b_cs == 1) return pack_b_rows(kc, nc, b, b_rs, dst, first_panel, step);
    for (index_t j0 = first_panel * NR; j0 < nc; j0 += step * NR) {
      const index_t nr = std::min<index_t>(NR, nc - j0);
      const T* src = b + j0 * b_cs;
      T* out = dst + (j0 / NR) * kc * NR;
      for (index_t p = 0; p < kc; ++p, out += NR) {
        const T* row = src + p * b_rs;
        for (index_t j = 0; j < nr; ++j) out[j] = row[j * b_cs];
        for (index_t j = nr; j < NR; ++j) out[j] = T(0);
      }
    }
  }

  // pack_b for rows of B stored contiguously. Panel by panel, each row of B would be a jump
  // of b_rs to a new cache line (and, past 4 KiB, a new page) that no prefetcher follows: a
  // quarter of a 1000 x 1000 Gram product's time went to those misses. Instead a band of
  // kRowBand rows is copied across all the panels, reading each row in order.
  static constexpr index_t kRowBand = 8;
  static void pack_b_rows(index_t kc, index_t nc, const T* b, index_t b_rs, T* dst,
                          index_t first_panel, index_t step) {
    for (index_t p0 = 0; p0 < kc; p0 += kRowBand) {
      const index_t pb = std::min(kRowBand, kc - p0);
      for (index_t j0 = first_panel * NR; j0 < nc; j0 += step * NR) {
        const index_t nr = std::min<index_t>(NR, nc - j0);
        const T* src = b + p0 * b_rs + j0;
        T* out = dst + (j0 / NR) * kc * NR + p0 * NR;
        if (nr == NR) {
          for (index_t p = 0; p < pb; ++p)
            std::memcpy(out + p * NR, src + p * b_rs, sizeof(T) * std::size_t(NR));
        } else {
          for (index_t p = 0; p < pb; ++p) {
            for (index_t j = 0; j < nr; ++j) out[p * NR + j] = src[p * b_rs + j];
            for (index_t j = nr; j < NR; ++j) out[p * NR + j] = T(0);
          }
        }
      }
    }
  }

  // Copies A[0:mc, 0:kc] into MR-row panels, each kc x MR, zero-padded past mc.
  static void pack_a(index_t mc, index_t kc, const T* a, index_t a_rs, index_t a_cs, T* dst) {
    for (index_t i0 = 0; i0 < mc; i0 += MR) {
      const index_t mr = std::min<index_t>(MR, mc - i0);
      const T* src = a + i0 * a_rs;
      for (index_t p = 0; p < kc; ++p, dst += MR) {
        for (index_t i = 0; i < mr; ++i) dst[i] = src[i * a_rs + p * a_cs];
        for (index_t i = mr; i < MR; ++i) dst[i] = T(0);
      }
    }
  }

  // Where the current depth block of B is: in place (row stride b_rs) or packed.
  struct BBlock {
    const T* data;
    index_t row_stride;    // between the rows of a micro-panel
    index_t panel_stride;  // between consecutive NR-column micro-panels
    bool packed;
  };

  // C[r0:r1, jc:jc+nc] (=|+=) A[r0:r1, pc:pc+kc] @ (the B block), in MC-row blocks.
  static void multiply_rows(index_t r0, index_t r1, index_t kc, index_t nc, const T* a,
                            index_t a_rs, index_t a_cs, const BBlock& bb, T* c, index_t c_rs,
                            index_t c_cs, bool accumulate, T* a_buffer) {
    alignas(64) T tile[MR * NR];
    const bool packed = bb.packed && a_buffer != nullptr;
    for (index_t ic = r0; ic < r1; ic += MC) {
      const index_t mc = std::min(MC, r1 - ic);
      if (packed) pack_a(mc, kc, a + ic * a_rs, a_rs, a_cs, a_buffer);
      for (index_t jr = 0; jr < nc; jr += NR) {
        const index_t nr = std::min<index_t>(NR, nc - jr);
        const T* bp = bb.data + (jr / NR) * bb.panel_stride;
        for (index_t ir = 0; ir < mc; ir += MR) {
          const index_t mr = std::min<index_t>(MR, mc - ir);
          T* cp = c + (ic + ir) * c_rs + jr * c_cs;
          const bool direct = nr == NR && c_cs == 1;
          if (packed) {  // a zero-padded panel: always compute a full MR-row tile
            const T* ap = a_buffer + ir * kc;
            if (direct && mr == MR) {
              micro_kernel_packed<T, VecBytes, MR, NV>(kc, ap, bp, cp, c_rs, accumulate);
              continue;
            }
            micro_kernel_packed<T, VecBytes, MR, NV>(kc, ap, bp, tile, NR, false);
          } else {
            const T* ap = a + (ic + ir) * a_rs;
            if (direct) {
              kernels[mr](kc, ap, a_rs, a_cs, bp, bb.row_stride, cp, c_rs, accumulate);
              continue;
            }
            kernels[mr](kc, ap, a_rs, a_cs, bp, bb.row_stride, tile, NR, false);
          }
          // a ragged or strided edge of C goes through the local tile
          for (index_t i = 0; i < mr; ++i)
            for (index_t j = 0; j < nr; ++j) {
              T& cij = cp[i * c_rs + j * c_cs];
              cij = accumulate ? cij + tile[i * NR + j] : tile[i * NR + j];
            }
        }
      }
    }
  }

  static void zero(index_t m, index_t n, T* c, index_t c_rs, index_t c_cs) {
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) c[i * c_rs + j * c_cs] = T(0);
  }

  // C[0:m, 0:n] = A[0:m, 0:k] @ B[0:k, 0:n] on this thread, every operand with its own
  // strides. b_buffer holds b_buffer_size(k, n) elements, a_buffer a_buffer_size(k).
  static void run(index_t m, index_t n, index_t k, const T* a, index_t a_rs, index_t a_cs,
                  const T* b, index_t b_rs, index_t b_cs, T* c, index_t c_rs, index_t c_cs,
                  T* b_buffer, T* a_buffer) {
    if (m == 0 || n == 0) return;
    if (k == 0) return zero(m, n, c, c_rs, c_cs);
    const bool in_place = reads_b_in_place(k, n, b_cs);
    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const T* b_block = b + pc * b_rs + jc * b_cs;
        BBlock bb{b_block, b_rs, NR, false};
        if (!in_place) {
          pack_b(kc, nc, b_block, b_rs, b_cs, b_buffer);
          bb = BBlock{b_buffer, NR, kc * NR, true};
        }
        multiply_rows(0, m, kc, nc, a + pc * a_cs, a_rs, a_cs, bb, c + jc * c_cs, c_rs, c_cs,
                      pc > 0, packs_a(n) ? a_buffer : nullptr);
      }
    }
  }

  // The same product computed by every thread of the calling OpenMP team together (call it
  // from all of them): each B panel is packed once, by all threads, into `shared_b`; then
  // each thread multiplies its share of the rows of C, packing A into its own `a_buffer`.
  // Nothing between the barriers allocates or throws (the buffers come from the caller), so
  // no member can leave the team waiting.
  static void run_team(int thread, int threads, index_t m, index_t n, index_t k, const T* a,
                       index_t a_rs, index_t a_cs, const T* b, index_t b_rs, index_t b_cs, T* c,
                       index_t c_rs, index_t c_cs, T* shared_b, T* a_buffer) {
    const index_t share = round_up((m + threads - 1) / threads, MR);
    const index_t r0 = std::min(m, thread * share), r1 = std::min(m, r0 + share);
    if (k == 0 || n == 0) {
      zero(r1 - r0, n, c + r0 * c_rs, c_rs, c_cs);
      return;
    }
    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, shared_b, thread, threads);
#pragma omp barrier
        const BBlock bb{shared_b, NR, kc * NR, true};
        multiply_rows(r0, r1, kc, nc, a + pc * a_cs, a_rs, a_cs, bb, c + jc * c_cs, c_rs, c_cs,
                      pc > 0, a_buffer);
#pragma omp barrier  // shared_b is overwritten next
      }
    }
  }
};

}  // namespace optkern::detail
