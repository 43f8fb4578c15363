// One product C = A @ B on one thread: a register-blocked micro-kernel inside cache blocking
// in the order of Goto & van de Geijn (BLIS): jc (NC columns of B, L3) -> pc (KC depth) ->
// ic (MC rows of A, L2) -> jr (NR columns, the B micro-panel stays in L1) -> ir (MR rows).
//
// Unlike BLIS, A is never packed: the micro-kernel broadcasts A's entries straight from the
// caller's strides. Measured here, packing A was slower at every size from n = 32 to 1024 (by
// 0-20%), and skipping it makes small products cheap. B is packed into zero-padded NR-column
// panels unless it is small, contiguous and a multiple of NR wide, in which case the kernel
// reads it in place (the many-small-matrices case).
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "linalg/simd.hpp"
#include "optkern/common.hpp"

namespace optkern::detail {

// C[0:MR, 0:NV*W] (=|+=) A[0:MR, 0:kc] @ B[0:kc, 0:NV*W], W lanes per vector.
// A element (i, p) is a[i*a_rs + p*a_cs]; B row p is the NV*W contiguous values at b + p*b_rs;
// C row i is the NV*W contiguous values at c + i*c_rs.
template <class T, int VecBytes, int MR, int NV>
void micro_kernel(index_t kc, const T* __restrict a, index_t a_rs, index_t a_cs,
                  const T* __restrict b, index_t b_rs, T* __restrict c, index_t c_rs,
                  bool accumulate) {
  using V = typename SimdVec<T, VecBytes>::type;
  constexpr int W = VecBytes / int(sizeof(T));
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};

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

// A register tile of MR x (NV vectors of VecBytes), with the cache blocking that goes with it.
template <class T, int VecBytes, int MR_, int NV>
struct GemmKernel {
  static constexpr int MR = MR_;
  static constexpr int NR = NV * VecBytes / int(sizeof(T));
  // KC*NR*sizeof(T) = 16 KiB keeps a B micro-panel in L1; MC*KC fits A's block in L2;
  // KC*NC the packed B panel in L3.
  static constexpr index_t KC = 16384 / (NR * index_t(sizeof(T)));
  static constexpr index_t MC = 120;
  static constexpr index_t NC = 2048;
  // B is read in place when it is at most this many bytes (it then stays in L1 anyway).
  static constexpr index_t kDirectBBytes = 16384;

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

  // Elements of scratch space run() needs for a product with these k and n.
  static index_t buffer_size(index_t k, index_t n) {
    return std::min(k, KC) * round_up(std::min(n, NC), NR);
  }


  // Copies B[0:kc, 0:nc] into NR-column panels, each kc x NR row-major, zero-padded.
  static void pack_b(index_t kc, index_t nc, const T* b, index_t b_rs, index_t b_cs, T* dst) {
    for (index_t j0 = 0; j0 < nc; j0 += NR) {
      const index_t nr = std::min<index_t>(NR, nc - j0);
      const T* src = b + j0 * b_cs;
      for (index_t p = 0; p < kc; ++p, dst += NR) {
        const T* row = src + p * b_rs;
        if (b_cs == 1) {
          std::memcpy(dst, row, sizeof(T) * std::size_t(nr));
        } else {
          for (index_t j = 0; j < nr; ++j) dst[j] = row[j * b_cs];
        }
        for (index_t j = nr; j < NR; ++j) dst[j] = T(0);
      }
    }
  }

  // C[0:m, 0:n] = A[0:m, 0:k] @ B[0:k, 0:n], every operand with its own strides.
  // `buffer` holds at least buffer_size(k, n) elements (unused when B is read in place).
  static void run(index_t m, index_t n, index_t k, const T* a, index_t a_rs, index_t a_cs,
                  const T* b, index_t b_rs, index_t b_cs, T* c, index_t c_rs, index_t c_cs,
                  T* buffer) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) c[i * c_rs + j * c_cs] = T(0);
      return;
    }
    const bool b_in_place =
        b_cs == 1 && n % NR == 0 && k * n * index_t(sizeof(T)) <= kDirectBBytes;
    alignas(64) T tile[MR * NR];

    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const bool accumulate = pc > 0;
        if (!b_in_place) pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, buffer);
        const T* b_block = b_in_place ? b + pc * b_rs + jc : buffer;
        const index_t bp_rs = b_in_place ? b_rs : NR;
        const index_t bp_panel = b_in_place ? NR : kc * NR;  // offset between panels

        for (index_t ic = 0; ic < m; ic += MC) {
          const index_t mc = std::min(MC, m - ic);
          for (index_t jr = 0; jr < nc; jr += NR) {
            const index_t nr = std::min<index_t>(NR, nc - jr);
            const T* bp = b_block + (jr / NR) * bp_panel;
            for (index_t ir = 0; ir < mc; ir += MR) {
              const index_t mr = std::min<index_t>(MR, mc - ir);
              const T* ap = a + (ic + ir) * a_rs + pc * a_cs;
              T* cp = c + (ic + ir) * c_rs + (jc + jr) * c_cs;
              if (nr == NR && c_cs == 1) {
                kernels[mr](kc, ap, a_rs, a_cs, bp, bp_rs, cp, c_rs, accumulate);
              } else {  // a ragged or strided edge of C goes through a local tile
                kernels[mr](kc, ap, a_rs, a_cs, bp, bp_rs, tile, NR, false);
                for (index_t i = 0; i < mr; ++i)
                  for (index_t j = 0; j < nr; ++j) {
                    T& cij = cp[i * c_rs + j * c_cs];
                    cij = accumulate ? cij + tile[i * NR + j] : tile[i * NR + j];
                  }
              }
            }
          }
        }
      }
    }
  }
};

}  // namespace optkern::detail
