// The scalar loops of cpu/misc_kernels.h: the tails of every SIMD loop, and the whole range in
// the scalar table (kernels_scalar.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/misc_kernels_simd.h"

namespace atrous {
namespace misc_scalar {

namespace {

float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::binary_op_add:
      return a + b;
    case BinaryOp::binary_op_sub:
      return a - b;
    case BinaryOp::binary_op_mul:
      return a * b;
    case BinaryOp::binary_op_div:
      return a / b;
  }
  return a;
}

// As activation_apply: std::max(x, v) is (x < v) ? v : x and std::min(x, v) is (v < x) ? v : x,
// the selects of the vector loops.
float apply_activation(SimdActivation act, float low, float high, float x) {
  switch (act) {
    case SimdActivation::simd_activation_relu:
      return std::max(x, 0.0f);
    case SimdActivation::simd_activation_clip:
      return std::min(std::max(x, low), high);
    case SimdActivation::simd_activation_hard_swish:
      return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  }
  return x;
}

}  // namespace

void binary(BinaryOp op, const float* a, const float* b, float* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = apply_binary(op, a[i], b[i]);
}

void binary_scalar(BinaryOp op, const float* a, float s, bool scalar_first, float* y,
                   int64_t count) {
  if (scalar_first)
    for (int64_t i = 0; i < count; ++i) y[i] = apply_binary(op, s, a[i]);
  else
    for (int64_t i = 0; i < count; ++i) y[i] = apply_binary(op, a[i], s);
}

void activation(SimdActivation act, float low, float high, const float* x, float* y,
                int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = apply_activation(act, low, high, x[i]);
}

void resize_linear_row(const float* row, int64_t, const int32_t* i0, const int32_t* i1,
                       const float* w0, const float* w1, float* y, int64_t count) {
  for (int64_t o = 0; o < count; ++o) y[o] = std::fma(w1[o], row[i1[o]], w0[o] * row[i0[o]]);
}

void resize_blend_rows(const float* r0, const float* r1, float w0, float w1, float* t,
                       int64_t count) {
  for (int64_t i = 0; i < count; ++i) t[i] = std::fma(w1, r1[i], w0 * r0[i]);
}

void resize_nearest_row(const float* row, const int32_t* index, float* y, int64_t count) {
  for (int64_t o = 0; o < count; ++o) y[o] = row[index[o]];
}

void softmax_channels(const float* x, float* y, int64_t channels, int64_t stride, int64_t begin,
                      int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    float peak = x[p];
    for (int64_t k = 1; k < channels; ++k) peak = std::max(peak, x[k * stride + p]);
    float sum = 0.0f;
    for (int64_t k = 0; k < channels; ++k) {
      const float e = std::exp(x[k * stride + p] - peak);
      y[k * stride + p] = e;
      sum += e;
    }
    for (int64_t k = 0; k < channels; ++k) y[k * stride + p] /= sum;
  }
}

void argmax_channels(const float* x, int32_t* y, int64_t channels, int64_t stride, int64_t begin,
                     int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    float best = x[p];
    int32_t best_index = 0;
    for (int64_t k = 1; k < channels; ++k) {
      const float v = x[k * stride + p];
      if (v > best || (std::isnan(v) && !std::isnan(best))) {
        best = v;
        best_index = int32_t(k);
      }
    }
    y[p] = best_index;
  }
}

void dot_rows(const float* x, const float* w, int64_t depth, float* y, int64_t rows) {
  for (int64_t n = 0; n < rows; ++n) {
    const float* row = w + n * depth;
    float sum = 0.0f;
    for (int64_t k = 0; k < depth; ++k) sum += x[k] * row[k];
    y[n] = sum;
  }
}

void gather_even(const float* src, int64_t count, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = src[2 * i];
}

float plane_mean_finish(const double* lanes, const float* x, int64_t body, int64_t count) {
  double pairs[8];
  for (int j = 0; j < 8; ++j) pairs[j] = lanes[2 * j] + lanes[2 * j + 1];
  double quads[4];
  for (int j = 0; j < 4; ++j) quads[j] = pairs[2 * j] + pairs[2 * j + 1];
  double sum = (quads[0] + quads[1]) + (quads[2] + quads[3]);
  for (int64_t i = body; i < count; ++i) sum += double(x[i]);
  return float(sum / double(count));
}

float plane_mean(const float* x, int64_t count) {
  double lanes[16] = {};
  const int64_t body = count - count % 16;
  for (int64_t i = 0; i < body; i += 16)
    for (int j = 0; j < 16; ++j) lanes[j] += double(x[i + j]);
  return plane_mean_finish(lanes, x, body, count);
}

void winograd_input(const float* even, const float* odd, int64_t pitch, int64_t tiles, float* v,
                    int64_t stride) {
  for (int64_t t = 0; t < tiles; ++t) {
    float d[4][4], u[16];
    for (int r = 0; r < 4; ++r) {
      d[r][0] = even[r * pitch + t];
      d[r][1] = odd[r * pitch + t];
      d[r][2] = even[r * pitch + t + 1];
      d[r][3] = odd[r * pitch + t + 1];
    }
    winograd_input_tile(d, u);
    for (int x = 0; x < 16; ++x) v[x * stride + t] = u[x];
  }
}

void winograd_output(const float* m, int64_t stride, int64_t tiles, float* y, int64_t pitch) {
  for (int64_t t = 0; t < tiles; ++t) {
    float in[16], out[4];
    for (int x = 0; x < 16; ++x) in[x] = m[x * stride + t];
    winograd_output_tile(in, out);
    for (int q = 0; q < 4; ++q) y[q * pitch + t] = out[q];
  }
}

}  // namespace misc_scalar

void split_row_phases(const MiscKernels& misc, const float* row, int64_t length, int64_t pad,
                      int64_t stride, int64_t width, float* dst, int64_t pitch, bool zero_outside) {
  for (int64_t q = 0; q < stride; ++q) {
    // Index i holds input column i·stride + offset: inside the row for i in [lo, hi).
    float* phase = dst + q * pitch;
    const int64_t offset = q - pad;
    // ceil(−offset / stride) and floor((length − 1 − offset) / stride) + 1, on non-negative
    // numerators; strides 1 and 2 (nearly every call, once per row) without a division.
    auto divide = [stride](int64_t n) {
      return stride == 1 ? n : stride == 2 ? n >> 1 : n / stride;
    };
    const int64_t lo = std::min(width, offset >= 0 ? 0 : divide(-offset + stride - 1));
    const int64_t hi = std::max(
        lo,
        std::min(width, length - 1 - offset < 0 ? int64_t(0) : divide(length - 1 - offset) + 1));
    if (zero_outside) std::fill(phase, phase + lo, 0.f);
    if (stride == 1)
      std::memcpy(phase + lo, row + lo + offset, size_t(hi - lo) * sizeof(float));
    else if (stride == 2)
      misc.gather_even(row + 2 * lo + offset, hi - lo, phase + lo);
    else
      for (int64_t i = lo; i < hi; ++i) phase[i] = row[i * stride + offset];
    if (zero_outside) std::fill(phase + hi, phase + width, 0.f);
  }
}

void bias_activation_in_place(const MiscKernels& misc, const Activation& activation, float bias,
                              float* x, int64_t count) {
  if (bias != 0.f)
    for (int64_t i = 0; i < count; ++i) x[i] += bias;
  switch (activation.kind) {
    case ActivationKind::activation_none:
      return;
    case ActivationKind::activation_relu:
      misc.activation(SimdActivation::simd_activation_relu, 0.f, 0.f, x, x, count);
      return;
    case ActivationKind::activation_clip:
      misc.activation(SimdActivation::simd_activation_clip, activation.param0, activation.param1, x,
                      x, count);
      return;
    case ActivationKind::activation_hard_swish:
      misc.activation(SimdActivation::simd_activation_hard_swish, 0.f, 0.f, x, x, count);
      return;
    default:
      for (int64_t i = 0; i < count; ++i) x[i] = activation_apply(activation, x[i]);
  }
}

}  // namespace atrous
