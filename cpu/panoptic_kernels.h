// The inner loops of the panoptic merger (models/panoptic_merger.cpp), one table of function
// pointers per ISA: a scalar table (panoptic_kernels.cpp) and xsimd instantiations in
// panoptic_kernels_<isa>.cpp, built from cpu/panoptic_kernels_simd.h with that file's flags.
//
// Both loops are exact: every ISA returns what the scalar table returns, bit for bit.
#pragma once

#include <cstdint>

#include "cpu/isa.h"

namespace atrous {

struct PanopticKernels {
  // For pixels p in [0, count): labels[p] = the first channel c with the largest
  // x[c·stride + p], by strict `>` from channel 0 (a NaN never replaces the best; a NaN in
  // channel 0 keeps label 0).
  void (*argmax_first)(const float* x, int32_t* labels, int64_t channels, int64_t stride,
                       int64_t count);
  // The first j in [0, count) with the smallest float32 distance
  // sqrt((cy[j] − py)² + (cx[j] − px)²) (each product and the sum rounded to float, no fused
  // multiply-add); −1 when no distance is smaller than +inf (all NaN or infinite).
  int32_t (*nearest_center)(float py, float px, const float* cy, const float* cx, int32_t count);
  // nearest_center's vector width: lists whose length is a multiple of it run no scalar tail
  // (callers may pad a list with +inf coordinates, which are never nearest).
  int32_t center_width;
};

const PanopticKernels& panoptic_kernels(CpuIsa isa);
const PanopticKernels& panoptic_kernels_scalar();
const PanopticKernels& panoptic_kernels_avx2();
const PanopticKernels& panoptic_kernels_avx512();
const PanopticKernels& panoptic_kernels_neon();

}  // namespace atrous
