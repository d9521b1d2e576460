// Kernels of the panoptic merger on the GPU (cuda/panoptic_merge_kernels.h). Each mirrors a pass
// of models/panoptic_merger.cpp: the float arithmetic is written with round-to-nearest
// intrinsics (__fadd_rn, __fmul_rn, __fsqrt_rn) so nvcc cannot contract it into FMAs, and the
// comparisons are the CPU's (strict >, std::max semantics), so the outputs are identical.
//
// The statistics kernels (assign, panoptic) run one pixel per thread with every lane of a warp
// present, and combine the lanes that update the same counter before one atomic per group
// (neighbouring pixels mostly share an instance), so the atomics do not serialize on the few
// hundred counters.
#include <math_constants.h>

#include <climits>
#include <cstdint>

#include "cuda/cuda_device_common.cuh"
#include "cuda/panoptic_merge_kernels.h"

namespace atrous {

namespace {

constexpr int kCenterTile = 1024;  // centers staged in shared memory per step
constexpr unsigned kFullMask = 0xffffffffu;

// Blocks for one thread per item (no grid-stride loop: the warp reductions need whole warps).
unsigned one_per_thread_blocks(int64_t count) {
  int64_t blocks = (count + kCudaThreads - 1) / kCudaThreads;
  return unsigned(blocks < 1 ? 1 : blocks);
}

__global__ void fill_kernel(int32_t* p, int64_t count, int period, int32_t v0, int32_t v1,
                            int32_t v2, int32_t v3) {
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < count;
       j += int64_t(gridDim.x) * blockDim.x) {
    const int r = int(j % period);
    p[j] = r == 0 ? v0 : r == 1 ? v1 : r == 2 ? v2 : v3;
  }
}

__global__ void argmax_kernel(const float* __restrict__ logits, int64_t classes, int64_t hw,
                              int32_t* __restrict__ semantic) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < hw;
       i += int64_t(gridDim.x) * blockDim.x) {
    float top = logits[i];
    int32_t label = 0;
    for (int64_t c = 1; c < classes; ++c) {
      const float v = logits[c * hw + i];
      if (v > top) {
        top = v;
        label = int32_t(c);
      }
    }
    semantic[i] = label;
  }
}

__global__ void labels_kernel(const int32_t* __restrict__ labels, int64_t hw,
                              int32_t* __restrict__ semantic, int32_t* range) {
  int32_t low = INT_MAX, high = INT_MIN;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < hw;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t v = labels[i];
    semantic[i] = v;
    low = min(low, v);
    high = max(high, v);
  }
  for (int shift = 16; shift > 0; shift /= 2) {
    low = min(low, __shfl_down_sync(kFullMask, low, shift));
    high = max(high, __shfl_down_sync(kFullMask, high, shift));
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMin(&range[0], low);
    atomicMax(&range[1], high);
  }
}

__device__ __forceinline__ float thresholded(const float* heat, int64_t i, float threshold,
                                             float below) {
  const float v = heat[i];
  return v > threshold ? v : below;
}

// Row maximum of the thresholded heatmap over the in-image part of the window.
__global__ void horizontal_kernel(const float* __restrict__ heat, float* __restrict__ horizontal,
                                  CudaCenterParams p) {
  const int64_t hw = int64_t(p.height) * p.width;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < hw;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = i / p.width;
    const int x = int(i - y * p.width);
    const int x0 = max(0, x - p.before), x1 = min(p.width - 1, x + p.after);
    const float* row = heat + y * p.width;
    float best = thresholded(row, x0, p.threshold, p.below);
    for (int q = x0 + 1; q <= x1; ++q)
      best = reference_max(best, thresholded(row, q, p.threshold, p.below));
    horizontal[i] = best;
  }
}

__global__ void centers_kernel(const float* __restrict__ heat, const float* __restrict__ horizontal,
                               CudaCenterParams p, int32_t* __restrict__ candidate_index,
                               float* __restrict__ candidate_score, int32_t* candidate_count) {
  const int64_t hw = int64_t(p.height) * p.width;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < hw;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = thresholded(heat, i, p.threshold, p.below);
    if (!(v > 0.0f)) continue;
    const int y = int(i / p.width);
    const int x = int(i - int64_t(y) * p.width);
    const int y0 = max(0, y - p.before), y1 = min(p.height - 1, y + p.after);
    float pooled = v;
    for (int r = y0; r <= y1; ++r)
      pooled = reference_max(pooled, horizontal[int64_t(r) * p.width + x]);
    if (pooled == v) {
      const int32_t slot = atomicAdd(candidate_count, 1);
      candidate_index[slot] = int32_t(i);
      candidate_score[slot] = v;
    }
  }
}

// The lanes of a warp whose `key` equals this lane's (key ≥ 0): their count, the box of their
// (y, x) and whether this lane is the lowest of them (the one that writes). All lanes call it.
struct WarpGroup {
  int count;
  int y0, x0, y1, x1;
  bool leader;
};

__device__ __forceinline__ WarpGroup warp_group(int key, int y, int x) {
  const int lane = int(threadIdx.x & 31);
  WarpGroup g{0, INT_MAX, INT_MAX, -1, -1, key >= 0};
  for (int b = 0; b < 32; ++b) {
    const int kb = __shfl_sync(kFullMask, key, b);
    const int yb = __shfl_sync(kFullMask, y, b);
    const int xb = __shfl_sync(kFullMask, x, b);
    if (key >= 0 && kb == key) {
      ++g.count;
      g.y0 = min(g.y0, yb);
      g.x0 = min(g.x0, xb);
      g.y1 = max(g.y1, yb);
      g.x1 = max(g.x1, xb);
      if (b < lane) g.leader = false;
    }
  }
  return g;
}

__device__ __forceinline__ void box_atomic(int32_t* box, const WarpGroup& g) {
  atomicMin(&box[0], g.y0);
  atomicMin(&box[1], g.x0);
  atomicMax(&box[2], g.y1);
  atomicMax(&box[3], g.x1);
}

__global__ void assign_kernel(const int32_t* __restrict__ semantic,
                              const int32_t* __restrict__ thing_index,
                              const float* __restrict__ offset, const float* __restrict__ center_y,
                              const float* __restrict__ center_x, CudaAssignParams p,
                              int32_t* instance, int32_t* histogram, int32_t* first, int32_t* box,
                              int32_t* stuff) {
  __shared__ float tile_y[kCenterTile], tile_x[kCenterTile];
  const int64_t hw = int64_t(p.height) * p.width;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool inside = i < hw;
  int y = 0, x = 0, t = -1;
  int32_t c = 0;
  if (inside) {
    y = int(i / p.width);
    x = int(i - int64_t(y) * p.width);
    c = semantic[i];
    t = thing_index[c];
  }
  const bool thing = inside && t >= 0 && p.centers > 0;
  float py = 0.0f, px = 0.0f;
  if (thing) {
    py = __fadd_rn(float(y), offset[i]);
    px = __fadd_rn(float(x), offset[hw + i]);
  }
  // The CPU's nearest_center: the squared distance decides, sqrt only on improvement, an equal
  // sqrt keeps the earlier index; no comparable distance (NaN) → center 0.
  float best_square = CUDART_INF_F, best_distance = CUDART_INF_F;
  int best = -1;
  for (int base = 0; base < p.centers; base += kCenterTile) {
    const int n = min(kCenterTile, p.centers - base);
    __syncthreads();
    for (int j = int(threadIdx.x); j < n; j += int(blockDim.x)) {
      tile_y[j] = center_y[base + j];
      tile_x[j] = center_x[base + j];
    }
    __syncthreads();
    if (!thing) continue;
    for (int j = 0; j < n; ++j) {
      const float dy = __fsub_rn(tile_y[j], py);
      const float dx = __fsub_rn(tile_x[j], px);
      const float square = __fadd_rn(__fmul_rn(dy, dy), __fmul_rn(dx, dx));
      if (square < best_square) {
        const float distance = __fsqrt_rn(square);
        if (distance < best_distance) {
          best_distance = distance;
          best = base + j;
        }
        best_square = square;
      }
    }
  }
  if (best < 0) best = 0;
  if (thing) instance[i] = best + 1;

  const WarpGroup owner = warp_group(thing ? best : -1, y, x);
  if (thing && owner.leader) {
    atomicMin(&first[best], int32_t(i));  // the leader is the group's first pixel
    box_atomic(&box[int64_t(best) * 4], owner);
  }
  const WarpGroup vote = warp_group(thing ? best * p.thing_count + t : -1, y, x);
  if (thing && vote.leader) atomicAdd(&histogram[int64_t(best) * p.thing_count + t], vote.count);
  const bool is_stuff = inside && t < 0;
  const WarpGroup area = warp_group(is_stuff ? c : -1, y, x);
  if (is_stuff && area.leader) {
    atomicAdd(&stuff[c], area.count);
    box_atomic(&stuff[p.classes + int64_t(c) * 4], area);
  }
}

__global__ void vote_kernel(const int32_t* __restrict__ histogram,
                            const int32_t* __restrict__ first, const int32_t* __restrict__ box,
                            int centers, int thing_count, int32_t* __restrict__ summary) {
  for (int k = int(blockIdx.x * blockDim.x + threadIdx.x); k < centers;
       k += int(gridDim.x * blockDim.x)) {
    const int32_t* h = histogram + int64_t(k) * thing_count;
    int best = 0;
    int32_t area = 0;
    for (int t = 0; t < thing_count; ++t) {
      if (h[t] > h[best]) best = t;
      area += h[t];
    }
    int32_t* s = summary + int64_t(k) * 8;
    s[0] = best;
    s[1] = area;
    s[2] = first[k];
    for (int j = 0; j < 4; ++j) s[3 + j] = box[int64_t(k) * 4 + j];
    s[7] = 0;
  }
}

__global__ void panoptic_kernel(const int32_t* __restrict__ semantic,
                                const int32_t* __restrict__ instance,
                                const int32_t* __restrict__ thing_index,
                                const int32_t* __restrict__ stuff_value,
                                const int32_t* __restrict__ value_of,
                                const int32_t* __restrict__ class_of,
                                const float* __restrict__ logits, CudaPanopticParams p,
                                unsigned long long* probability, int32_t* __restrict__ panoptic) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int key = -1;
  long long amount = 0;
  if (i < p.hw) {
    const int32_t c = semantic[i];
    int32_t value = p.void_value;
    if (thing_index[c] < 0) {
      value = stuff_value[c];
    } else if (instance[i] != 0) {
      const int owner = instance[i] - 1;
      value = value_of[owner];
      if (logits) {
        // The CPU's softmax: float differences, double exp and sum in class order.
        const float* l = logits + i;
        float top = l[0];
        for (int64_t k = 1; k < p.classes; ++k) top = reference_max(top, l[k * p.hw]);
        double sum = 0.0;
        for (int64_t k = 0; k < p.classes; ++k) sum += exp(double(__fsub_rn(l[k * p.hw], top)));
        const double prob = exp(double(__fsub_rn(l[int64_t(class_of[owner]) * p.hw], top))) / sum;
        if (isfinite(prob)) {
          key = owner;
          amount = llround(prob * p.probability_scale);
        }
      }
    }
    panoptic[i] = value;
  }
  if (!logits) return;  // uniform over the grid: no lane is left out of the reduction below
  long long total = 0;
  bool leader = key >= 0;
  const int lane = int(threadIdx.x & 31);
  for (int b = 0; b < 32; ++b) {
    const int kb = __shfl_sync(kFullMask, key, b);
    const long long ab = __shfl_sync(kFullMask, amount, b);
    if (key >= 0 && kb == key) {
      total += ab;
      if (b < lane) leader = false;
    }
  }
  if (leader) atomicAdd(&probability[key], static_cast<unsigned long long>(total));
}

}  // namespace

cudaError_t cuda_merge_fill(int32_t* p, int64_t count, int period, int32_t v0, int32_t v1,
                            int32_t v2, int32_t v3, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  fill_kernel<<<cuda_blocks(count), kCudaThreads, 0, stream>>>(p, count, period, v0, v1, v2, v3);
  return cudaGetLastError();
}

cudaError_t cuda_merge_argmax(const float* logits, int64_t classes, int64_t hw, int32_t* semantic,
                              cudaStream_t stream) {
  if (hw == 0) return cudaSuccess;
  argmax_kernel<<<cuda_blocks(hw), kCudaThreads, 0, stream>>>(logits, classes, hw, semantic);
  return cudaGetLastError();
}

cudaError_t cuda_merge_labels(const int32_t* labels, int64_t hw, int32_t* semantic, int32_t* range,
                              cudaStream_t stream) {
  if (hw == 0) return cudaSuccess;
  labels_kernel<<<cuda_blocks(hw), kCudaThreads, 0, stream>>>(labels, hw, semantic, range);
  return cudaGetLastError();
}

cudaError_t cuda_merge_centers(const float* heat, float* horizontal, const CudaCenterParams& params,
                               int32_t* candidate_index, float* candidate_score,
                               int32_t* candidate_count, cudaStream_t stream) {
  const int64_t hw = int64_t(params.height) * params.width;
  if (hw == 0) return cudaSuccess;
  horizontal_kernel<<<cuda_blocks(hw), kCudaThreads, 0, stream>>>(heat, horizontal, params);
  cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return error;
  centers_kernel<<<cuda_blocks(hw), kCudaThreads, 0, stream>>>(
      heat, horizontal, params, candidate_index, candidate_score, candidate_count);
  return cudaGetLastError();
}

cudaError_t cuda_merge_assign(const int32_t* semantic, const int32_t* thing_index,
                              const float* offset, const float* center_y, const float* center_x,
                              const CudaAssignParams& params, int32_t* instance, int32_t* histogram,
                              int32_t* first, int32_t* box, int32_t* stuff, cudaStream_t stream) {
  const int64_t hw = int64_t(params.height) * params.width;
  if (hw == 0) return cudaSuccess;
  assign_kernel<<<one_per_thread_blocks(hw), kCudaThreads, 0, stream>>>(
      semantic, thing_index, offset, center_y, center_x, params, instance, histogram, first, box,
      stuff);
  return cudaGetLastError();
}

cudaError_t cuda_merge_vote(const int32_t* histogram, const int32_t* first, const int32_t* box,
                            int centers, int thing_count, int32_t* summary, cudaStream_t stream) {
  if (centers == 0) return cudaSuccess;
  vote_kernel<<<cuda_blocks(centers), kCudaThreads, 0, stream>>>(histogram, first, box, centers,
                                                                 thing_count, summary);
  return cudaGetLastError();
}

cudaError_t cuda_merge_panoptic(const int32_t* semantic, const int32_t* instance,
                                const int32_t* thing_index, const int32_t* stuff_value,
                                const int32_t* value_of, const int32_t* class_of,
                                const float* logits, const CudaPanopticParams& params,
                                unsigned long long* probability, int32_t* panoptic,
                                cudaStream_t stream) {
  if (params.hw == 0) return cudaSuccess;
  panoptic_kernel<<<one_per_thread_blocks(params.hw), kCudaThreads, 0, stream>>>(
      semantic, instance, thing_index, stuff_value, value_of, class_of, logits, params, probability,
      panoptic);
  return cudaGetLastError();
}

}  // namespace atrous
