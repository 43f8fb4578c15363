// Device pointers and streams as the CUDA bindings receive them: integers, read from DLPack
// by python/optkern/_gpu.py (this module needs no CuPy or torch).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace optkern::bindings {

using Ptr = std::uintptr_t;

template <class T>
T* as(Ptr p) {
  return reinterpret_cast<T*>(p);
}

inline cudaStream_t as_stream(Ptr handle) { return reinterpret_cast<cudaStream_t>(handle); }

}  // namespace optkern::bindings
