#include "optkern/build_info.hpp"

#include <Eigen/Core>

#include "common/simd.hpp"
#include "optkern/config.hpp"

namespace optkern {

static std::string compiler_name() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GNU " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
  return "MSVC " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

static std::vector<std::string> simd_flags() {
  std::vector<std::string> flags;
#ifdef __SSE4_2__
  flags.emplace_back("SSE4.2");
#endif
#ifdef __AVX__
  flags.emplace_back("AVX");
#endif
#ifdef __AVX2__
  flags.emplace_back("AVX2");
#endif
#ifdef __FMA__
  flags.emplace_back("FMA");
#endif
#ifdef __AVX512F__
  flags.emplace_back("AVX512F");
#endif
#ifdef __ARM_NEON
  flags.emplace_back("NEON");
#endif
  return flags;
}

BuildInfo build_info() {
  BuildInfo info;
  info.version = OPTKERN_VERSION_STRING;
  info.compiler = compiler_name();
  info.eigen_version = std::to_string(EIGEN_WORLD_VERSION) + "." +
                       std::to_string(EIGEN_MAJOR_VERSION) + "." +
                       std::to_string(EIGEN_MINOR_VERSION);
  info.simd = simd_flags();
  info.simd_bytes = detail::kSimdBytes;
#ifdef _OPENMP
  info.openmp_version = _OPENMP;
#endif
  return info;
}

}  // namespace optkern
