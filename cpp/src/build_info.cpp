#include "optkern/build_info.hpp"

#include <Eigen/Core>

#include "common/simd_variant.hpp"
#include "optkern/config.hpp"
#include "optkern/simd.hpp"

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

BuildInfo build_info() {
  BuildInfo info;
  info.version = OPTKERN_VERSION_STRING;
  info.compiler = compiler_name();
  info.eigen_version = std::to_string(EIGEN_WORLD_VERSION) + "." +
                       std::to_string(EIGEN_MAJOR_VERSION) + "." +
                       std::to_string(EIGEN_MINOR_VERSION);
  info.simd_compiled = simd_levels_compiled();
  info.simd = simd_level();
  const detail::SimdVariantInfo variant = detail::simd_variant_info();  // the level in use
  info.simd_flags = variant.flags;
  info.simd_bytes = variant.simd_bytes;
#ifdef _OPENMP
  info.openmp_version = _OPENMP;
#endif
  return info;
}

}  // namespace optkern
