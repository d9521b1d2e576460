// Device helpers shared by the kernel files of cuda/: the activations (the same float formulas,
// in the same order, as ops/activation.h) and the launch geometry of grid-stride loops.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_kernels.h"

namespace atrous {

constexpr int kCudaThreads = 256;

// Blocks for a grid-stride loop over `count` items (at least 1, capped; the loop covers the rest).
inline unsigned cuda_blocks(int64_t count) {
  int64_t blocks = (count + kCudaThreads - 1) / kCudaThreads;
  if (blocks < 1) blocks = 1;
  if (blocks > (int64_t(1) << 20)) blocks = int64_t(1) << 20;
  return unsigned(blocks);
}

// std::max / std::min semantics (the first argument wins unless the comparison says otherwise),
// so NaN handling matches the reference.
__device__ __forceinline__ float reference_max(float a, float b) { return (a < b) ? b : a; }
__device__ __forceinline__ float reference_min(float a, float b) { return (b < a) ? b : a; }

__device__ __forceinline__ float apply_activation(const CudaActivation& activation, float x) {
  switch (activation.kind) {
    case 1:
      return reference_max(x, 0.0f);
    case 2:
      return reference_min(reference_max(x, activation.param0), activation.param1);
    case 3:
      return __fdiv_rn(__fmul_rn(x, reference_min(reference_max(__fadd_rn(x, 3.0f), 0.0f), 6.0f)),
                       6.0f);
    case 4: {
      // Separate rounded multiply and add: no FMA contraction (as the reference).
      float shifted = __fadd_rn(__fmul_rn(activation.param0, x), activation.param1);
      return reference_max(0.0f, reference_min(1.0f, shifted));
    }
    case 5:
      return 1.0f / (1.0f + expf(-x));
    case 6:
      return tanhf(x);
    default:
      return x;
  }
}

}  // namespace atrous
