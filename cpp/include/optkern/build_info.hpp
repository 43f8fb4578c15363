// What this build of optkern was compiled with, for bug reports and benchmark headers.
#pragma once

#include <string>
#include <vector>

namespace optkern {

struct BuildInfo {
  std::string version;         // "0.1.0"
  std::string compiler;        // "GNU 12.2.0"
  std::string eigen_version;   // "3.4.1"
  // SIMD (optkern/simd.hpp): the levels compiled in, e.g. {"baseline", "avx2", "avx512"}, the
  // one in use, its instruction sets (e.g. {"SSE4.2", "AVX", "AVX2", "FMA"}) and the vector
  // width its hand-vectorised kernels use.
  std::vector<std::string> simd_compiled;
  std::string simd;
  std::vector<std::string> simd_flags;
  int simd_bytes = 0;
  int openmp_version = 0;         // _OPENMP, e.g. 201511
};

BuildInfo build_info();

}  // namespace optkern
