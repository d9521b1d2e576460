// The ISA-neutral loops of cpu/misc_kernels.h. Each loop runs whole SIMD vectors, then the
// remaining elements through the scalar loops of misc_kernels.cpp, which compute what a vector
// lane computes (the same operations in the same order, std::fma for simd_fma; only softmax's
// exp differs, std::exp against xsimd::exp).
#pragma once

#include "cpu/misc_kernels.h"

namespace atrous {
namespace misc_scalar {

// The tail loops, compiled once without ISA flags (misc_kernels.cpp), so no function
// compiled for a newer ISA is shared with the scalar path.
void binary(BinaryOp op, const float* a, const float* b, float* y, int64_t count);
void binary_scalar(BinaryOp op, const float* a, float s, bool scalar_first, float* y,
                   int64_t count);
void activation(SimdActivation act, float low, float high, const float* x, float* y, int64_t count);
void resize_linear_row(const float* row, int64_t length, const int32_t* i0, const int32_t* i1,
                       const float* w0, const float* w1, float* y, int64_t count);
void resize_blend_rows(const float* r0, const float* r1, float w0, float w1, float* t,
                       int64_t count);
void resize_nearest_row(const float* row, const int32_t* index, float* y, int64_t count);
void softmax_channels(const float* x, float* y, int64_t channels, int64_t stride, int64_t begin,
                      int64_t end);
void argmax_channels(const float* x, int32_t* y, int64_t channels, int64_t stride, int64_t begin,
                     int64_t end);
void dot_rows(const float* x, const float* w, int64_t depth, float* y, int64_t rows);
void gather_even(const float* src, int64_t count, float* dst);
float plane_mean(const float* x, int64_t count);
void winograd_input(const float* even, const float* odd, int64_t pitch, int64_t tiles, float* v,
                    int64_t stride);
void winograd_output(const float* m, int64_t stride, int64_t tiles, float* y, int64_t pitch);
// The second half of plane_mean from the 16 lane sums of the first `body` floats.
float plane_mean_finish(const double* lanes, const float* x, int64_t body, int64_t count);

// The transforms' arithmetic, shared by the vector loops below and the scalar ones
// (misc_kernels.cpp) so that both run the same operations in the same order: T is float or a
// batch of floats.
template <class T>
inline void winograd_input_tile(const T d[4][4], T u[16]) {
  T a[4][4];
  for (int r = 0; r < 4; ++r) {  // d·B, row by row
    a[r][0] = d[r][0] - d[r][2];
    a[r][1] = d[r][1] + d[r][2];
    a[r][2] = d[r][2] - d[r][1];
    a[r][3] = d[r][1] - d[r][3];
  }
  for (int k = 0; k < 4; ++k) {  // Bᵀ·(d·B), column by column
    u[0 + k] = a[0][k] - a[2][k];
    u[4 + k] = a[1][k] + a[2][k];
    u[8 + k] = a[2][k] - a[1][k];
    u[12 + k] = a[1][k] - a[3][k];
  }
}

template <class T>
inline void winograd_output_tile(const T m[16], T y[4]) {
  T s[4][2];
  for (int i = 0; i < 4; ++i) {  // M·A, row by row
    s[i][0] = m[4 * i] + m[4 * i + 1] + m[4 * i + 2];
    s[i][1] = m[4 * i + 1] - m[4 * i + 2] - m[4 * i + 3];
  }
  for (int b = 0; b < 2; ++b) {  // Aᵀ·(M·A)
    y[b] = s[0][b] + s[1][b] + s[2][b];
    y[2 + b] = s[1][b] - s[2][b] - s[3][b];
  }
}

}  // namespace misc_scalar
}  // namespace atrous

#if defined(ATROUS_MISC_KERNELS_SIMD)
#include <cmath>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "cpu/shuffle_kernels.h"
#include "cpu/simd_math.h"

namespace atrous {
namespace misc_simd {

template <class Arch>
void binary(BinaryOp op, const float* a, const float* b, float* y, int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  switch (op) {
#define ATROUS_BINARY_LOOP(OP, EXPR)                                                    \
  case BinaryOp::OP:                                                                    \
    for (int64_t i = 0; i < body; i += width) {                                         \
      const batch va = batch::load_unaligned(a + i), vb = batch::load_unaligned(b + i); \
      (EXPR).store_unaligned(y + i);                                                    \
    }                                                                                   \
    break;
    ATROUS_BINARY_LOOP(binary_op_add, va + vb)
    ATROUS_BINARY_LOOP(binary_op_sub, va - vb)
    ATROUS_BINARY_LOOP(binary_op_mul, va * vb)
    ATROUS_BINARY_LOOP(binary_op_div, simd_divide(va, vb))
#undef ATROUS_BINARY_LOOP
  }
  misc_scalar::binary(op, a + body, b + body, y + body, count - body);
}

template <class Arch>
void binary_scalar(BinaryOp op, const float* a, float s, bool scalar_first, float* y,
                   int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  const batch vs(s);
  for (int64_t i = 0; i < body; i += width) {
    const batch va = batch::load_unaligned(a + i);
    const batch lhs = scalar_first ? vs : va, rhs = scalar_first ? va : vs;
    batch r;
    switch (op) {
      case BinaryOp::binary_op_add:
        r = lhs + rhs;
        break;
      case BinaryOp::binary_op_sub:
        r = lhs - rhs;
        break;
      case BinaryOp::binary_op_mul:
        r = lhs * rhs;
        break;
      case BinaryOp::binary_op_div:
        r = simd_divide(lhs, rhs);
        break;
    }
    r.store_unaligned(y + i);
  }
  misc_scalar::binary_scalar(op, a + body, s, scalar_first, y + body, count - body);
}

template <class Arch>
void activation(SimdActivation act, float low, float high, const float* x, float* y,
                int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  const batch zero(0.0f), three(3.0f), six(6.0f), vlow(low), vhigh(high);
  switch (act) {
    case SimdActivation::simd_activation_relu:
      for (int64_t i = 0; i < body; i += width) {
        const batch v = batch::load_unaligned(x + i);
        xsimd::select(v < zero, zero, v).store_unaligned(y + i);
      }
      break;
    case SimdActivation::simd_activation_clip:
      for (int64_t i = 0; i < body; i += width) {
        const batch v = batch::load_unaligned(x + i);
        const batch t = xsimd::select(v < vlow, vlow, v);
        xsimd::select(vhigh < t, vhigh, t).store_unaligned(y + i);
      }
      break;
    case SimdActivation::simd_activation_hard_swish:
      for (int64_t i = 0; i < body; i += width) {
        const batch v = batch::load_unaligned(x + i);
        const batch u = v + three;
        const batch m = xsimd::select(u < zero, zero, u);
        const batch n = xsimd::select(six < m, six, m);
        simd_divide(v * n, six).store_unaligned(y + i);
      }
      break;
  }
  misc_scalar::activation(act, low, high, x + body, y + body, count - body);
}

template <class Arch>
void resize_linear_row(const float* row, int64_t length, const int32_t* i0, const int32_t* i1,
                       const float* w0, const float* w1, float* y, int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  using index_batch = xsimd::batch<int32_t, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  for (int64_t o = 0; o < body; o += width) {
    batch a, b;
    if (!window_pair(row, length, i0 + o, i1 + o, &a, &b)) {
      a = batch::gather(row, index_batch::load_unaligned(i0 + o));
      b = batch::gather(row, index_batch::load_unaligned(i1 + o));
    }
    const batch v = simd_fma(batch::load_unaligned(w1 + o), b, batch::load_unaligned(w0 + o) * a);
    v.store_unaligned(y + o);
  }
  misc_scalar::resize_linear_row(row, length, i0 + body, i1 + body, w0 + body, w1 + body, y + body,
                                 count - body);
}

template <class Arch>
void resize_blend_rows(const float* r0, const float* r1, float w0, float w1, float* t,
                       int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  const batch v0(w0), v1(w1);
  for (int64_t i = 0; i < body; i += width)
    simd_fma(v1, batch::load_unaligned(r1 + i), v0 * batch::load_unaligned(r0 + i))
        .store_unaligned(t + i);
  misc_scalar::resize_blend_rows(r0 + body, r1 + body, w0, w1, t + body, count - body);
}

template <class Arch>
void resize_nearest_row(const float* row, const int32_t* index, float* y, int64_t count) {
  using batch = xsimd::batch<float, Arch>;
  using index_batch = xsimd::batch<int32_t, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = count - count % width;
  for (int64_t o = 0; o < body; o += width)
    batch::gather(row, index_batch::load_unaligned(index + o)).store_unaligned(y + o);
  misc_scalar::resize_nearest_row(row, index + body, y + body, count - body);
}

// Three passes over the channels per vector of pixels: the maximum, the exponentials (stored
// in y) with their sum, the division.
template <class Arch>
void softmax_channels(const float* x, float* y, int64_t channels, int64_t stride, int64_t begin,
                      int64_t end) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = begin + (end - begin) - (end - begin) % width;
  for (int64_t p = begin; p < body; p += width) {
    batch peak = batch::load_unaligned(x + p);
    for (int64_t k = 1; k < channels; ++k)
      peak = xsimd::max(peak, batch::load_unaligned(x + k * stride + p));
    batch sum(0.0f);
    for (int64_t k = 0; k < channels; ++k) {
      const batch e = xsimd::exp(batch::load_unaligned(x + k * stride + p) - peak);
      e.store_unaligned(y + k * stride + p);
      sum += e;
    }
    for (int64_t k = 0; k < channels; ++k)
      simd_divide(batch::load_unaligned(y + k * stride + p), sum)
          .store_unaligned(y + k * stride + p);
  }
  misc_scalar::softmax_channels(x, y, channels, stride, body, end);
}

// Per lane: a later channel replaces the best when it is greater, or NaN while the best is not
// (the reference stops at the first NaN). Indices are carried as floats (exact below 2^24).
template <class Arch>
void argmax_channels(const float* x, int32_t* y, int64_t channels, int64_t stride, int64_t begin,
                     int64_t end) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = begin + (end - begin) - (end - begin) % width;
  for (int64_t p = begin; p < body; p += width) {
    batch best = batch::load_unaligned(x + p);
    batch best_index(0.0f);
    for (int64_t k = 1; k < channels; ++k) {
      const batch v = batch::load_unaligned(x + k * stride + p);
      const auto replace = (v > best) | (xsimd::isnan(v) & ~xsimd::isnan(best));
      best = xsimd::select(replace, v, best);
      best_index = xsimd::select(replace, batch(float(k)), best_index);
    }
    xsimd::to_int(best_index).store_unaligned(y + p);
  }
  misc_scalar::argmax_channels(x, y, channels, stride, body, end);
}

// Four rows at a time (eight independent accumulators), then single rows; a row's sum is the
// same either way: chunks 0, 2, 4, … of k into one accumulator and 1, 3, 5, … into the other,
// the two added, the lanes summed in order, then the tail terms with FMA in k order.
template <class Arch>
void dot_rows(const float* x, const float* w, int64_t depth, float* y, int64_t rows) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  const int64_t body = depth - depth % width;
  const int64_t pairs = body - body % (2 * width);
  // The lanes summed in order (xsimd's hadd needs AVX-512DQ on AVX-512), then the tail.
  auto tail = [&](const float* row, const batch& acc) {
    alignas(64) float lanes[width];
    acc.store_aligned(lanes);
    float sum = lanes[0];
    for (int64_t l = 1; l < width; ++l) sum += lanes[l];
    for (int64_t k = body; k < depth; ++k) sum = std::fma(x[k], row[k], sum);
    return sum;
  };
  int64_t n = 0;
  for (; n + 4 <= rows; n += 4) {
    const float* r0 = w + n * depth;
    const float* r1 = r0 + depth;
    const float* r2 = r1 + depth;
    const float* r3 = r2 + depth;
    batch a0(0.f), b0(0.f), a1(0.f), b1(0.f), a2(0.f), b2(0.f), a3(0.f), b3(0.f);
    int64_t k = 0;
    for (; k < pairs; k += 2 * width) {
      const batch xa = batch::load_unaligned(x + k), xb = batch::load_unaligned(x + k + width);
      a0 = simd_fma(xa, batch::load_unaligned(r0 + k), a0);
      b0 = simd_fma(xb, batch::load_unaligned(r0 + k + width), b0);
      a1 = simd_fma(xa, batch::load_unaligned(r1 + k), a1);
      b1 = simd_fma(xb, batch::load_unaligned(r1 + k + width), b1);
      a2 = simd_fma(xa, batch::load_unaligned(r2 + k), a2);
      b2 = simd_fma(xb, batch::load_unaligned(r2 + k + width), b2);
      a3 = simd_fma(xa, batch::load_unaligned(r3 + k), a3);
      b3 = simd_fma(xb, batch::load_unaligned(r3 + k + width), b3);
    }
    if (k < body) {
      const batch xa = batch::load_unaligned(x + k);
      a0 = simd_fma(xa, batch::load_unaligned(r0 + k), a0);
      a1 = simd_fma(xa, batch::load_unaligned(r1 + k), a1);
      a2 = simd_fma(xa, batch::load_unaligned(r2 + k), a2);
      a3 = simd_fma(xa, batch::load_unaligned(r3 + k), a3);
    }
    y[n] = tail(r0, a0 + b0);
    y[n + 1] = tail(r1, a1 + b1);
    y[n + 2] = tail(r2, a2 + b2);
    y[n + 3] = tail(r3, a3 + b3);
  }
  for (; n < rows; ++n) {
    const float* r0 = w + n * depth;
    batch a0(0.f), b0(0.f);
    int64_t k = 0;
    for (; k < pairs; k += 2 * width) {
      a0 = simd_fma(batch::load_unaligned(x + k), batch::load_unaligned(r0 + k), a0);
      b0 =
          simd_fma(batch::load_unaligned(x + k + width), batch::load_unaligned(r0 + k + width), b0);
    }
    if (k < body) a0 = simd_fma(batch::load_unaligned(x + k), batch::load_unaligned(r0 + k), a0);
    y[n] = tail(r0, a0 + b0);
  }
}

template <class Arch>
void winograd_input(const float* even, const float* odd, int64_t pitch, int64_t tiles, float* v,
                    int64_t stride) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  // Whole vectors only: the last one reads and writes past `tiles` (misc_kernels.h).
  for (int64_t t = 0; t < tiles; t += width) {
    batch d[4][4], u[16];
    for (int r = 0; r < 4; ++r) {
      d[r][0] = batch::load_unaligned(even + r * pitch + t);
      d[r][1] = batch::load_unaligned(odd + r * pitch + t);
      d[r][2] = batch::load_unaligned(even + r * pitch + t + 1);
      d[r][3] = batch::load_unaligned(odd + r * pitch + t + 1);
    }
    misc_scalar::winograd_input_tile(d, u);
    for (int x = 0; x < 16; ++x) u[x].store_unaligned(v + x * stride + t);
  }
}

template <class Arch>
void winograd_output(const float* m, int64_t stride, int64_t tiles, float* y, int64_t pitch) {
  using batch = xsimd::batch<float, Arch>;
  constexpr int64_t width = int64_t(batch::size);
  for (int64_t t = 0; t < tiles; t += width) {  // whole vectors, as winograd_input
    batch in[16], out[4];
    for (int x = 0; x < 16; ++x) in[x] = batch::load_unaligned(m + x * stride + t);
    misc_scalar::winograd_output_tile(in, out);
    for (int q = 0; q < 4; ++q) out[q].store_unaligned(y + q * pitch + t);
  }
}

template <class Arch>
MiscKernels make_misc_kernels() {
  MiscKernels table;
  table.binary = binary<Arch>;
  table.binary_scalar = binary_scalar<Arch>;
  table.activation = activation<Arch>;
  table.resize_linear_row = resize_linear_row<Arch>;
  table.resize_blend_rows = resize_blend_rows<Arch>;
  table.resize_nearest_row = resize_nearest_row<Arch>;
  table.softmax_channels = softmax_channels<Arch>;
  table.argmax_channels = argmax_channels<Arch>;
  table.dot_rows = dot_rows<Arch>;
  table.gather_even = misc_scalar::gather_even;  // kernels_<isa>.cpp sets its own
  table.plane_mean = misc_scalar::plane_mean;    // likewise
  table.winograd_input = winograd_input<Arch>;
  table.winograd_output = winograd_output<Arch>;
  return table;
}

}  // namespace misc_simd
}  // namespace atrous
#endif
