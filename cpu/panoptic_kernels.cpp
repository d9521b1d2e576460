// The scalar panoptic merger loops (cpu/panoptic_kernels.h) and the ISA dispatch.
#include "cpu/panoptic_kernels.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/panoptic_kernels_simd.h"

namespace atrous {
namespace panoptic_scalar {

void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride, int64_t count) {
  for (int64_t p = 0; p < count; ++p) {
    float top = x[p];
    int32_t label = 0;
    for (int64_t c = 1; c < channels; ++c) {
      const float v = x[c * stride + p];
      if (v > top) {
        top = v;
        label = int32_t(c);
      }
    }
    labels[p] = label;
  }
}

// The squared distance decides first; sqrt is taken only when it improves, and an equal sqrt
// of a larger square keeps the earlier index (two different squares can round to the same
// distance). The result is the first index of the smallest distance.
int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count) {
  float best_square = std::numeric_limits<float>::infinity();
  float best_distance = std::numeric_limits<float>::infinity();
  int32_t best = -1;
  for (int32_t j = 0; j < count; ++j) {
    const float square = panoptic_square(cy[j] - py, cx[j] - px);
    if (square < best_square) {
      const float distance = std::sqrt(square);
      if (distance < best_distance) {
        best_distance = distance;
        best = j;
      }
      best_square = square;
    }
  }
  return best;
}

}  // namespace panoptic_scalar

const PanopticKernels& panoptic_kernels_scalar() {
  static const PanopticKernels table = {panoptic_scalar::argmax_first, panoptic_scalar::nearest_center, 1};
  return table;
}

const PanopticKernels& panoptic_kernels(CpuIsa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::cpu_isa_avx512: return panoptic_kernels_avx512();
    case CpuIsa::cpu_isa_avx2: return panoptic_kernels_avx2();
#endif
#if defined(__aarch64__)
    case CpuIsa::cpu_isa_neon: return panoptic_kernels_neon();
#endif
    default: return panoptic_kernels_scalar();
  }
}

}  // namespace atrous
