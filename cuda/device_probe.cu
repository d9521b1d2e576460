// Reports the CUDA devices visible to this process. The CUDA backend proper (kernels, cuBLAS)
// builds on this; a binary built with CUDA must still run, and say so, on a machine without a GPU.
#include <cuda_runtime.h>

#include "cuda/device_probe.h"

namespace atrous {

int cuda_device_count(std::string* reason) {
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (reason) *reason = cudaGetErrorString(error);
    return 0;
  }
  return count;
}

}  // namespace atrous
