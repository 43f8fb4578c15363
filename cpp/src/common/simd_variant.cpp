#include "common/simd_variant.hpp"

#include "common/simd.hpp"

namespace optkern::detail {

SimdVariantInfo simd_variant_info() {
  SimdVariantInfo info;
#ifdef __SSE4_2__
  info.flags.emplace_back("SSE4.2");
#endif
#ifdef __AVX__
  info.flags.emplace_back("AVX");
#endif
#ifdef __AVX2__
  info.flags.emplace_back("AVX2");
#endif
#ifdef __FMA__
  info.flags.emplace_back("FMA");
#endif
#ifdef __AVX512F__
  info.flags.emplace_back("AVX512F");
#endif
#ifdef __ARM_NEON
  info.flags.emplace_back("NEON");
#endif
  info.simd_bytes = kSimdBytes;
  return info;
}

}  // namespace optkern::detail
