// Launchers of the panoptic merger's kernels (cuda/panoptic_merge.cu), called by the host side
// of the merger (models/panoptic_merger_cuda.cpp, which holds the merger's parameters and rules).
// Raw device pointers and plain parameter structs; every launcher queues its kernel on `stream`
// and returns the launch status. Each kernel mirrors one pass of the CPU merger
// (models/panoptic_merger.cpp) with the same float arithmetic (no FMA contraction: explicit
// round-to-nearest intrinsics) and the same tie rules.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace atrous {

// p[j] = values[j % period] for j < count; period 1..4.
cudaError_t cuda_merge_fill(int32_t* p, int64_t count, int period, int32_t v0, int32_t v1,
                            int32_t v2, int32_t v3, cudaStream_t stream);

// semantic[i] = first c with the largest logits[c·hw + i] (strict >, as the CPU argmax).
cudaError_t cuda_merge_argmax(const float* logits, int64_t classes, int64_t hw, int32_t* semantic,
                              cudaStream_t stream);

// semantic[i] = labels[i]; range[0] = min, range[1] = max (range preset to INT32_MAX, INT32_MIN).
cudaError_t cuda_merge_labels(const int32_t* labels, int64_t hw, int32_t* semantic, int32_t* range,
                              cudaStream_t stream);

// Center candidates: t(i) = heat[i] > threshold ? heat[i] : below; a pixel is a candidate when
// t > 0 and no in-image pixel of its nms window [y − before, y + after] × [x − before, x + after]
// has a larger t (the padding value is ≤ 0 < t, so it never decides). Appends (raster index,
// t) at an atomic counter, in no particular order. `horizontal` is H·W floats of scratch.
struct CudaCenterParams {
  int height = 0, width = 0;
  float threshold = 0.0f, below = 0.0f;
  int before = 0, after = 0;
};
cudaError_t cuda_merge_centers(const float* heat, float* horizontal, const CudaCenterParams& params,
                               int32_t* candidate_index, float* candidate_score,
                               int32_t* candidate_count, cudaStream_t stream);

// Nearest center of every thing pixel (float32 distances, first index on ties, as the CPU) →
// instance[i] = index + 1 (0 elsewhere, preset by the caller); per instance: class histogram
// [K × T] (T = thing_count), first raster index (preset INT32_MAX) and box y0, x0, y1, x1
// (preset INT32_MAX, INT32_MAX, −1, −1); per stuff class: area stuff[c] and box
// stuff[classes + 4c ...] (preset 0 and the empty box).
struct CudaAssignParams {
  int height = 0, width = 0;
  int centers = 0, thing_count = 0;
  int64_t classes = 0;
};
cudaError_t cuda_merge_assign(const int32_t* semantic, const int32_t* thing_index,
                              const float* offset, const float* center_y, const float* center_x,
                              const CudaAssignParams& params, int32_t* instance, int32_t* histogram,
                              int32_t* first, int32_t* box, int32_t* stuff, cudaStream_t stream);

// Per instance k: summary[8k ..] = {voted thing index (first maximum of the histogram row),
// area, first raster index, y0, x0, y1, x1, 0}; instances without pixels keep first = INT32_MAX.
cudaError_t cuda_merge_vote(const int32_t* histogram, const int32_t* first, const int32_t* box,
                            int centers, int thing_count, int32_t* summary, cudaStream_t stream);

// Final map: stuff pixels get stuff_value[class] (c·divisor when kept, else void), thing
// pixels value_of[instance − 1] (void without an instance). With logits (non-null), adds
// llround(P(class_of[k]) · probability_scale) of every pixel of instance k to probability[k]
// (softmax in double as the CPU; the scale is the merger's fixed point, given by the caller).
struct CudaPanopticParams {
  int64_t hw = 0, classes = 0;
  int32_t void_value = 0;
  double probability_scale = 0.0;
};
cudaError_t cuda_merge_panoptic(const int32_t* semantic, const int32_t* instance,
                                const int32_t* thing_index, const int32_t* stuff_value,
                                const int32_t* value_of, const int32_t* class_of,
                                const float* logits, const CudaPanopticParams& params,
                                unsigned long long* probability, int32_t* panoptic,
                                cudaStream_t stream);

}  // namespace atrous
