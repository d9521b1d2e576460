// Convolution kernels: depthwise (direct, one thread per output element, bias and activation
// fused), im2col for the cuBLAS path, and the bias + activation epilogue that follows a GEMM.
// Window arithmetic as in ops/conv.cpp: output o reads input o·stride − pad_begin + k·dilation;
// taps in the padding add nothing. Sums are float (the reference sums in double).
#include <cstdint>

#include "cuda/cuda_device_common.cuh"

namespace atrous {

namespace {

__global__ void depthwise_kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                 const float* __restrict__ bias, float* __restrict__ y,
                                 CudaDepthwiseParams p) {
  const int64_t out_h = p.h.output, out_w = p.w.output;
  const int64_t total = p.batch * p.filters * out_h * out_w;
  const int64_t multiplier = p.filters / p.channels;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % out_w;
    int64_t t = i / out_w;
    const int64_t oh = t % out_h;
    t /= out_h;
    const int64_t m = t % p.filters;
    const int64_t n = t / p.filters;
    const int64_t c = m / multiplier;
    const float* plane = x + (n * p.channels + c) * p.h.input * p.w.input;
    const float* kernel = weight + m * p.h.kernel * p.w.kernel;
    float acc = 0.0f;
    for (int64_t kh = 0; kh < p.h.kernel; ++kh) {
      const int64_t ih = oh * p.h.stride - p.h.pad_begin + kh * p.h.dilation;
      if (ih < 0 || ih >= p.h.input) continue;
      const float* row = plane + ih * p.w.input;
      for (int64_t kw = 0; kw < p.w.kernel; ++kw) {
        const int64_t iw = ow * p.w.stride - p.w.pad_begin + kw * p.w.dilation;
        if (iw < 0 || iw >= p.w.input) continue;
        acc += kernel[kh * p.w.kernel + kw] * row[iw];
      }
    }
    if (bias) acc += bias[m];
    y[i] = apply_activation(p.activation, acc);
  }
}

__global__ void im2col_kernel(const float* __restrict__ image, float* __restrict__ col,
                              CudaIm2colParams p) {
  const int64_t taps = p.h.kernel * p.w.kernel;
  const int64_t total = p.channels * taps * p.pixels;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t q = i % p.pixels;
    const int64_t row = i / p.pixels;  // c·taps + kh·kW + kw
    const int64_t kw = row % p.w.kernel;
    const int64_t kh = (row / p.w.kernel) % p.h.kernel;
    const int64_t c = row / taps;
    const int64_t pixel = p.first_pixel + q;
    const int64_t oh = pixel / p.w.output, ow = pixel % p.w.output;
    const int64_t ih = oh * p.h.stride - p.h.pad_begin + kh * p.h.dilation;
    const int64_t iw = ow * p.w.stride - p.w.pad_begin + kw * p.w.dilation;
    float value = 0.0f;
    if (ih >= 0 && ih < p.h.input && iw >= 0 && iw < p.w.input)
      value = image[((p.first_channel + c) * p.h.input + ih) * p.w.input + iw];
    col[i] = value;
  }
}

__global__ void bias_activation_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                       int64_t total, int64_t filters, int64_t pixels,
                                       CudaActivation activation) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float value = y[i];
    if (bias) value += bias[(i / pixels) % filters];
    y[i] = apply_activation(activation, value);
  }
}

}  // namespace

cudaError_t cuda_launch_depthwise(const float* x, const float* weight, const float* bias, float* y,
                                  const CudaDepthwiseParams& params, cudaStream_t stream) {
  const int64_t total = params.batch * params.filters * params.h.output * params.w.output;
  if (total == 0) return cudaSuccess;
  depthwise_kernel<<<cuda_blocks(total), kCudaThreads, 0, stream>>>(x, weight, bias, y, params);
  return cudaGetLastError();
}

cudaError_t cuda_launch_im2col(const float* image, float* col, const CudaIm2colParams& params,
                               cudaStream_t stream) {
  const int64_t total = params.channels * params.h.kernel * params.w.kernel * params.pixels;
  if (total == 0) return cudaSuccess;
  im2col_kernel<<<cuda_blocks(total), kCudaThreads, 0, stream>>>(image, col, params);
  return cudaGetLastError();
}

cudaError_t cuda_launch_bias_activation(float* y, const float* bias, int64_t batch, int64_t filters,
                                        int64_t pixels, CudaActivation activation,
                                        cudaStream_t stream) {
  const int64_t total = batch * filters * pixels;
  if (total == 0 || (!bias && activation.kind == 0)) return cudaSuccess;
  bias_activation_kernel<<<cuda_blocks(total), kCudaThreads, 0, stream>>>(y, bias, total, filters,
                                                                          pixels, activation);
  return cudaGetLastError();
}

}  // namespace atrous
