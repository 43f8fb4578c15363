// CUDA runtime helpers shared by every optkern kernel: errors, devices, memory.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace optkern::cuda {

// Every CUDA failure inside optkern becomes this exception, carrying cudaGetErrorString.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("<what>: <CUDA's message>") unless status is cudaSuccess.
void check(cudaError_t status, const char* what);

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  std::size_t total_memory = 0;
  int multiprocessors = 0;
};

// The visible CUDA devices; empty (no exception) without a driver or a device.
std::vector<DeviceInfo> devices();

// Why devices() is empty, in CUDA's words ("no CUDA-capable device is detected", ...).
std::string driver_status();

// The CUDA runtime version optkern was linked with, e.g. 13000.
int runtime_version();

// Device memory and copies for host (NumPy) inputs. Copies are queued on `stream`;
// copy_to_host waits for the stream, so the host buffer is filled when it returns.
void* device_malloc(std::size_t bytes);
void device_free(void* ptr);
void copy_to_device(void* dst, const void* src, std::size_t bytes, cudaStream_t stream);
void copy_to_host(void* dst, const void* src, std::size_t bytes, cudaStream_t stream);
void synchronize(cudaStream_t stream);

}  // namespace optkern::cuda
