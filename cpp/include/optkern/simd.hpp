// Which SIMD code runs: optkern's kernels are compiled once per x86-64 level and the best one
// the CPU can run is chosen when the library is loaded.
//
// Levels, from the x86-64 micro-architecture levels:
//   "baseline"  x86-64-v2 (SSE4.2, POPCNT): every x86-64 CPU of the last 15 years;
//   "avx2"      x86-64-v3 (AVX2, FMA, BMI2): Haswell, Zen and newer;
//   "avx512"    x86-64-v4 (AVX-512 F/BW/CD/DQ/VL): Skylake-SP, Ice Lake, Zen 4 and newer.
// A level counts as available only when the CPU has its instructions and the operating system
// saves its registers (XCR0). The environment variable OPTKERN_SIMD=baseline|avx2|avx512,
// read at load time, forces a lower level (for testing, or to match another machine).
//
// A build for one CPU (-DOPTKERN_ARCH=native or another -march value) and builds for other
// processors (aarch64: the portable C++ path, NEON where the compiler uses it) carry a single
// level, named "native", the -march value, or "default".
#pragma once

#include <string>
#include <vector>

namespace optkern {

// The levels compiled into this build, lowest first.
std::vector<std::string> simd_levels_compiled();

// The level in use.
std::string simd_level();

// Why OPTKERN_SIMD could not be honoured at load time (an unknown name, a level this CPU or
// this build lacks), or why this CPU cannot run the build at all; empty when all is well. The
// library then runs the best level it can (the Python module refuses to import instead).
std::string simd_error();

}  // namespace optkern
