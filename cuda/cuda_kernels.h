// Launchers of the CUDA kernels (cuda/*.cu), callable from host C++ (cuda/cuda_executor.cpp).
// Plain parameter structs, raw device pointers, NCHW float32 unless stated. Each launcher queues
// its kernel on `stream` and returns the launch status (cudaGetLastError), never blocks.
// Internal to cuda/: everything here needs the CUDA runtime headers.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace atrous {

constexpr int kCudaMaxRank = 8;

// Same numbering as ActivationKind (ops/activation.h); the executor converts.
struct CudaActivation {
  int kind = 0;  // 0 none, 1 relu, 2 clip, 3 hard_swish, 4 hard_sigmoid, 5 sigmoid, 6 tanh
  float param0 = 0.0f, param1 = 0.0f;
};

struct CudaWindow {
  int64_t input = 0, output = 0, kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0;
};

// Depthwise conv: group = C; output channel m reads input channel m / multiplier.
struct CudaDepthwiseParams {
  int64_t batch = 0, channels = 0, filters = 0;  // filters = channels · multiplier
  CudaWindow h, w;
  CudaActivation activation;
};
cudaError_t cuda_launch_depthwise(const float* x, const float* weight, const float* bias, float* y,
                                  const CudaDepthwiseParams& params, cudaStream_t stream);

// im2col of image `image`, channels [first_channel, first_channel + channels), output pixels
// [first_pixel, first_pixel + pixels) into col [channels·kH·kW, pixels] (zero where padded).
struct CudaIm2colParams {
  int64_t in_channels = 0;  // C of the whole input
  int64_t first_channel = 0, channels = 0;
  int64_t first_pixel = 0, pixels = 0;
  CudaWindow h, w;
};
cudaError_t cuda_launch_im2col(const float* image, float* col, const CudaIm2colParams& params,
                               cudaStream_t stream);

// y[n, m, p] = act(y[n, m, p] + bias[m]) over [batch, filters, pixels]; bias may be null.
cudaError_t cuda_launch_bias_activation(float* y, const float* bias, int64_t batch, int64_t filters,
                                        int64_t pixels, CudaActivation activation,
                                        cudaStream_t stream);

// y[i] = act(x[i]); x may equal y.
cudaError_t cuda_launch_activation(const float* x, float* y, int64_t count,
                                   CudaActivation activation, cudaStream_t stream);

// Broadcasting binary op: 0 add, 1 sub, 2 mul, 3 div. Strides are element strides of each
// operand read as the output shape (0 along broadcast axes).
struct CudaBinaryParams {
  int kind = 0;
  int rank = 0;
  int64_t count = 0;
  int64_t dims[kCudaMaxRank] = {};
  int64_t a_strides[kCudaMaxRank] = {};
  int64_t b_strides[kCudaMaxRank] = {};
};
cudaError_t cuda_launch_binary(const float* a, const float* b, float* y,
                               const CudaBinaryParams& params, cudaStream_t stream);

// Mean of each of `planes` planes of `area` floats (double sum, rounded once).
cudaError_t cuda_launch_global_average_pool(const float* x, float* y, int64_t planes, int64_t area,
                                            cudaStream_t stream);

struct CudaPoolParams {
  bool is_max = false;
  bool count_include_pad = false;
  int64_t planes = 0;
  CudaWindow h, w;
};
cudaError_t cuda_launch_pool(const float* x, float* y, const CudaPoolParams& params,
                             cudaStream_t stream);

// Resize with per-axis tap tables prepared on the host: for output row o, rows first[o] and
// second[o] with weight lambda[o] of the second (nearest: first = second, lambda = 0).
struct CudaResizeParams {
  bool linear = true;
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  const int64_t* first_h = nullptr;
  const int64_t* second_h = nullptr;
  const double* lambda_h = nullptr;
  const int64_t* first_w = nullptr;
  const int64_t* second_w = nullptr;
  const double* lambda_w = nullptr;
};
cudaError_t cuda_launch_resize(const float* x, float* y, const CudaResizeParams& params,
                               cudaStream_t stream);

// Pad (constant, edge, reflect) of a 4-byte dtype through per-axis index tables prepared on the
// host as ops/pad_slice.cpp does: output coordinate o of axis d reads input element offset
// tables[table_start[d] + o] (already multiplied by the input stride), or `fill_bits` when −1.
struct CudaPadParams {
  int rank = 0;
  int64_t count = 0;
  int64_t dims[kCudaMaxRank] = {};
  int64_t table_start[kCudaMaxRank] = {};
  const int64_t* tables = nullptr;
  uint32_t fill_bits = 0;
};
cudaError_t cuda_launch_pad(const uint32_t* x, uint32_t* y, const CudaPadParams& params,
                            cudaStream_t stream);

// Along an axis of size dim with `outer` blocks before and `inner` elements after it.
cudaError_t cuda_launch_softmax(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner,
                                cudaStream_t stream);
cudaError_t cuda_launch_argmax(const float* x, int32_t* y, int64_t outer, int64_t dim,
                               int64_t inner, cudaStream_t stream);

// Benchmark helper: `blocks`·256 threads each run `iterations` × 8 independent FMAs; writes one
// float per thread to `sink` so nothing is optimized away.
cudaError_t cuda_launch_fma_loop(float* sink, int blocks, int iterations, cudaStream_t stream);

}  // namespace atrous
