// What one compiled SIMD level of the kernels is (cpp/src/common/simd_variant.cpp is compiled
// once per level, like every kernel, so the dispatched call answers for the level in use).
#pragma once

#include <string>
#include <vector>

namespace optkern::detail {

struct SimdVariantInfo {
  std::vector<std::string> flags;  // instruction sets this level's code was compiled with
  int simd_bytes = 0;              // the vector width of the hand-vectorised kernels
};

SimdVariantInfo simd_variant_info();

}  // namespace optkern::detail
