// Choosing the SIMD level of the kernels at load time (see optkern/simd.hpp).
//
// In a dispatching build (OPTKERN_SIMD_DISPATCH), cmake/OptkernSimdLink.cmake generates the
// trampolines and a table that starts on the baseline level, so any call made before this
// choice (from another library's static initialiser, say) is still safe. init_simd() then
// switches the table to the best level, once, before main() or when the library is loaded.
// This file is compiled for the compiler's default target, not x86-64-v2, so that it can
// still report a CPU that lacks even the baseline.
#include "optkern/simd.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define OPTKERN_SIMD_X86 1
#endif

namespace optkern::detail {

#ifdef OPTKERN_SIMD_DISPATCH
extern const char* const kSimdVariantNames[];
extern const int kSimdVariantCount;
void select_simd_variant(int variant);
#endif

namespace {

#ifdef OPTKERN_SIMD_X86
struct Cpuid {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Cpuid cpuid(unsigned leaf, unsigned subleaf = 0) {
  Cpuid r;
  if (!__get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx)) return Cpuid{};
  return r;
}

bool bit(unsigned word, int b) { return (word >> b) & 1u; }

// Which register states the OS saves on a context switch (XCR0); 0 without OSXSAVE.
std::uint64_t os_saved_state(const Cpuid& leaf1) {
  if (!bit(leaf1.ecx, 27)) return 0;  // OSXSAVE
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (std::uint64_t(edx) << 32) | eax;
}

// The highest x86-64 level this CPU and OS can run: 1 (v1) to 4 (v4), as in the psABI.
int cpu_level() {
  const Cpuid l1 = cpuid(1), l7 = cpuid(7, 0), e1 = cpuid(0x80000001u);
  const bool v2 = bit(l1.ecx, 0) && bit(l1.ecx, 9) && bit(l1.ecx, 13) && bit(l1.ecx, 19) &&
                  bit(l1.ecx, 20) && bit(l1.ecx, 23) && bit(e1.ecx, 0);
  if (!v2) return 1;
  const std::uint64_t xcr0 = os_saved_state(l1);
  const bool ymm = (xcr0 & 0x6) == 0x6;  // SSE and AVX state
  const bool v3 = ymm && bit(l1.ecx, 12) && bit(l1.ecx, 22) && bit(l1.ecx, 28) && bit(l1.ecx, 29) &&
                  bit(l7.ebx, 3) && bit(l7.ebx, 5) && bit(l7.ebx, 8) && bit(e1.ecx, 5);
  if (!v3) return 2;
  const bool zmm = (xcr0 & 0xe6) == 0xe6;  // plus opmask and both halves of the ZMM state
  const bool v4 = zmm && bit(l7.ebx, 16) && bit(l7.ebx, 17) && bit(l7.ebx, 28) && bit(l7.ebx, 30) &&
                  bit(l7.ebx, 31);
  return v4 ? 4 : 3;
}
#endif

// The x86-64 level (2, 3, 4) a level name needs.
int needed_level(const std::string& name) {
  if (name == "avx512") return 4;
  if (name == "avx2") return 3;
  return 2;
}

struct State {
  std::vector<std::string> compiled;
  int in_use = 0;  // index into compiled
  std::string error;
};

State make_state() {
  State s;
#ifdef OPTKERN_SIMD_DISPATCH
  for (int v = 0; v < kSimdVariantCount; ++v) s.compiled.emplace_back(kSimdVariantNames[v]);
#else
  s.compiled.emplace_back(OPTKERN_SIMD_SINGLE);
#endif
  const char* forced = std::getenv("OPTKERN_SIMD");
  const std::string request = forced != nullptr ? forced : "";

#ifdef OPTKERN_SIMD_DISPATCH
  const int cpu = cpu_level();
  if (cpu < 2) {
    s.error = "this CPU lacks SSE4.2 and POPCNT (x86-64-v2), which optkern's baseline needs";
    return s;
  }
  int best = 0;
  for (int v = 0; v < int(s.compiled.size()); ++v)
    if (needed_level(s.compiled[v]) <= cpu) best = v;
  s.in_use = best;
  if (!request.empty()) {
    int asked = -1;
    for (int v = 0; v < int(s.compiled.size()); ++v)
      if (s.compiled[v] == request) asked = v;
    if (asked < 0) {
      std::string names;
      for (const auto& name : s.compiled) names += (names.empty() ? "" : ", ") + name;
      s.error = "OPTKERN_SIMD=" + request + " is not a level of this build (" + names + ")";
    } else if (asked > best) {
      s.error = "OPTKERN_SIMD=" + request +
                " needs instructions this CPU (or its operating "
                "system) does not support; the best level here is " +
                s.compiled[best];
    } else {
      s.in_use = asked;
    }
  }
  select_simd_variant(s.in_use);
#else
  if (!request.empty() && request != s.compiled[0])
    s.error = "OPTKERN_SIMD=" + request +
              ": this build of optkern was compiled for one "
              "target (" +
              s.compiled[0] + ") and carries no other level";
#endif
  return s;
}

const State& state() {
  static const State s = make_state();
  return s;
}

}  // namespace

// Called by the generated trampolines' load-time constructor.
void init_simd() { (void)state(); }

}  // namespace optkern::detail

namespace optkern {

std::vector<std::string> simd_levels_compiled() { return detail::state().compiled; }

std::string simd_level() {
  const auto& s = detail::state();
  return s.compiled[s.in_use];
}

std::string simd_error() { return detail::state().error; }

}  // namespace optkern
