// What this build of optkern was compiled with, for bug reports and benchmark headers.
#pragma once

#include <string>
#include <vector>

namespace optkern {

struct BuildInfo {
  std::string version;         // "0.1.0"
  std::string compiler;        // "GNU 12.2.0"
  std::string eigen_version;   // "3.4.1"
  std::vector<std::string> simd;  // instruction sets compiled in, e.g. {"SSE4.2", "AVX2", "FMA"}
  int simd_bytes = 0;             // the vector width the matmul micro-kernels use
  int openmp_version = 0;         // _OPENMP, e.g. 201511
};

BuildInfo build_info();

}  // namespace optkern
