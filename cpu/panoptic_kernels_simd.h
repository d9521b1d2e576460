// The ISA-neutral loops of cpu/panoptic_kernels.h, instantiated in panoptic_kernels_<isa>.cpp.
// Every file of this family is compiled with -ffp-contract=off (CMakeLists.txt), so the squared
// distance is two rounded products and a rounded sum in every ISA, as in the reference.
#pragma once

#include <cstdint>

#include "cpu/panoptic_kernels.h"

namespace atrous {

// (dy² + dx²) in float32; shared by the scalar loop and the vector tails.
inline float panoptic_square(float dy, float dx) { return dy * dy + dx * dx; }

namespace panoptic_scalar {

// Compiled once without ISA flags (panoptic_kernels.cpp).
void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride, int64_t count);
int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count);

}  // namespace panoptic_scalar
}  // namespace atrous

#if defined(ATROUS_PANOPTIC_KERNELS_SIMD)
#include <algorithm>
#include <cmath>
#include <limits>
#include <xsimd/xsimd.hpp>

namespace atrous {
namespace panoptic_simd {

// Correctly rounded square root. xsimd 8's NEON float sqrt is a refined reciprocal-sqrt
// estimate, so aarch64 uses the instruction directly.
template <class Arch>
xsimd::batch<float, Arch> exact_sqrt(const xsimd::batch<float, Arch>& x) {
  return xsimd::sqrt(x);
}
#if defined(__aarch64__)
inline xsimd::batch<float, xsimd::neon64> exact_sqrt(const xsimd::batch<float, xsimd::neon64>& x) {
  return vsqrtq_f32(x);
}
#endif

// Per lane, strict `>` replaces the best, as the scalar loop; labels are carried as floats
// (exact below 2^24 channels; the merger allows at most 2^20).
template <class Arch>
void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride, int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  for (int64_t p = 0; p < body; p += width) {
    batch top = batch::load_unaligned(x + p);
    batch label(0.0f);
    for (int64_t c = 1; c < channels; ++c) {
      const batch v = batch::load_unaligned(x + c * stride + p);
      const auto greater = v > top;
      top = xsimd::select(greater, v, top);
      label = xsimd::select(greater, batch(float(c)), label);
    }
    xsimd::to_int(label).store_unaligned(labels + p);
  }
  panoptic_scalar::argmax_first(x + body, labels + body, channels, stride, count - body);
}

// The scalar loop returns the first index of the smallest distance (distances that are NaN
// never compare). Each lane keeps its own smallest distance and the first index reaching it
// (indices grow along a lane, so strict `<` keeps the first); the lanes then reduce to the
// smallest distance and, among equal ones, the smallest index; the tail continues with
// strict `<`, its indices being larger than every lane's. Indices are carried as floats, so
// lists of 2^24 or more centers take the scalar loop, as do lists shorter than 4 vectors.
template <class Arch>
int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int32_t width = int32_t(batch::size);
  // Short lists (the merger's grid cells) are faster without the lane reduction.
  if (count < 4 * width || count >= (int32_t(1) << 24))
    return panoptic_scalar::nearest_center(py, px, cy, cx, count);
  const int32_t body = count - count % width;
  float best_distance = std::numeric_limits<float>::infinity();
  int32_t best = -1;
  if (body > 0) {
    const batch vy(py), vx(px);
    batch lane_distance(std::numeric_limits<float>::infinity());
    batch lane_index(-1.0f);
    alignas(64) static const float offsets[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static_assert(width <= 16, "nearest_center: vector wider than 16 floats");
    batch index = batch::load_aligned(offsets);
    const batch step = batch(static_cast<float>(width));
    for (int32_t j = 0; j < body; j += width) {
      const batch dy = batch::load_unaligned(cy + j) - vy;
      const batch dx = batch::load_unaligned(cx + j) - vx;
      const batch distance = exact_sqrt(dy * dy + dx * dx);
      const auto closer = distance < lane_distance;
      lane_distance = xsimd::select(closer, distance, lane_distance);
      lane_index = xsimd::select(closer, index, lane_index);
      index = index + step;
    }
    alignas(64) float distances[width], indices[width];
    lane_distance.store_aligned(distances);
    lane_index.store_aligned(indices);
    // Lane distances are never NaN (only smaller values replace +inf).
    float smallest = distances[0];
    for (int32_t l = 1; l < width; ++l) smallest = std::min(smallest, distances[l]);
    if (smallest < best_distance) {
      float first = float(count);
      for (int32_t l = 0; l < width; ++l)
        if (distances[l] == smallest) first = std::min(first, indices[l]);
      best_distance = smallest;
      best = int32_t(first);
    }
  }
  for (int32_t j = body; j < count; ++j) {
    const float distance = std::sqrt(panoptic_square(cy[j] - py, cx[j] - px));
    if (distance < best_distance) {
      best_distance = distance;
      best = j;
    }
  }
  return best;
}

template <class Arch>
PanopticKernels make_panoptic_kernels() {
  PanopticKernels table;
  table.argmax_first = argmax_first<Arch>;
  table.nearest_center = nearest_center<Arch>;
  table.center_width = int32_t(xsimd::batch<float, Arch>::size);
  return table;
}

}  // namespace panoptic_simd
}  // namespace atrous
#endif
