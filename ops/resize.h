// The coordinate maps of the resize op (docs/OPS.md, ops/resize.cpp), shared by the reference
// implementation and the CPU and CUDA kernels so that every backend reads the same source
// pixels with the same weights.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/attributes.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

// Per output coordinate of one axis: the two input indices and the weight of the second
// (nearest: both indices equal, weight 0). Computed in double.
struct ResizeTap {
  int64_t first = 0, second = 0;
  double lambda = 0.0;
};

struct ResizeTaps {
  bool linear = true;
  Shape output;                    // [N, C, oH, oW]
  std::vector<ResizeTap> axis[2];  // H, W
};

// Whether the resize reads at most two input pixels per axis with the weights of ResizeTap:
// nearest and linear, except an antialiased linear downscale and `tf_crop_and_resize` (whose
// extrapolated pixels read nothing). The others (cubic, antialias, crops) run the reference
// implementation on every backend. False also for attributes the shape rule refuses.
bool resize_has_two_taps(const AttributeMap& attributes, const TensorDesc& x);

// Validates the attributes against the input X as the op's shape rule does, and computes the
// taps of both axes; an error for a resize without two taps (resize_has_two_taps).
Status resize_taps(const AttributeMap& attributes, const TensorDesc& x, ResizeTaps* taps);

}  // namespace atrous
