// The SIMD inner loops of the non-convolution kernel families (elementwise, resize,
// softmax/argmax, fully connected): CpuKernelTable::misc (cpu/kernel_table.h), taken once when
// a kernel is created. The loops are one ISA-neutral template (cpu/misc_kernels_simd.h)
// instantiated in kernels_<isa>.cpp with that file's instruction-set flags; the scalar table
// (kernels_scalar.cpp) runs the templates' tail loops (misc_kernels.cpp) over the whole range.
//
// Numerics (what the tests hold each loop to):
//  * binary ops, relu, clip, hard_swish: bitwise equal to ops/ (one float operation per
//    element, or the same sequence of comparisons and operations as activation_apply).
//  * bilinear resize: float arithmetic with fused multiply-adds against the reference's double;
//    nearest resize and argmax: exact.
//  * softmax: float exp and sum against the reference's double.
//  * dot_rows (the fully connected kernel): float sums against the reference's double.
#pragma once

#include <cstdint>

#include "cpu/isa.h"
#include "ops/activation.h"

namespace atrous {

enum class BinaryOp { binary_op_add, binary_op_sub, binary_op_mul, binary_op_div };

// The activations with a vector loop; the others run through activation_apply.
enum class SimdActivation {
  simd_activation_relu,
  simd_activation_clip,
  simd_activation_hard_swish
};

struct MiscKernels {
  // y[i] = a[i] op b[i].
  void (*binary)(BinaryOp op, const float* a, const float* b, float* y, int64_t count);
  // y[i] = a[i] op s, or s op a[i] when scalar_first.
  void (*binary_scalar)(BinaryOp op, const float* a, float s, bool scalar_first, float* y,
                        int64_t count);
  // y[i] = act(x[i]); low/high are clip's bounds.
  void (*activation)(SimdActivation act, float low, float high, const float* x, float* y,
                     int64_t count);
  // One output row of a bilinear resize: y[o] = w0[o]·row[i0[o]] + w1[o]·row[i1[o]], row being
  // the vertically interpolated input row of `length` floats (w0 = 1 − w1, both rounded from
  // double). Where a vector of outputs reads a window of fewer than a vector of consecutive
  // floats (upsampling), one masked load and permutes replace the gathers (shuffle_kernels.h).
  void (*resize_linear_row)(const float* row, int64_t length, const int32_t* i0, const int32_t* i1,
                            const float* w0, const float* w1, float* y, int64_t count);
  // The vertical blend of two input rows: t[c] = w0·r0[c] + w1·r1[c].
  void (*resize_blend_rows)(const float* r0, const float* r1, float w0, float w1, float* t,
                            int64_t count);
  // One output row of a nearest resize: y[o] = row[index[o]].
  void (*resize_nearest_row)(const float* row, const int32_t* index, float* y, int64_t count);
  // Over `channels` planes of `stride` floats, for pixels [begin, end): softmax along the
  // channels, and the first-maximum argmax (NaN counts as the maximum).
  void (*softmax_channels)(const float* x, float* y, int64_t channels, int64_t stride,
                           int64_t begin, int64_t end);
  void (*argmax_channels)(const float* x, int32_t* y, int64_t channels, int64_t stride,
                          int64_t begin, int64_t end);
  // y[n] = Σ_k x[k]·w[n·depth + k] for n in [0, rows): each row of w dotted with x, in float
  // (two vector accumulators over k, their lanes summed, then the k tail with FMA). Every y[n]
  // is the same sequence of operations whichever rows a call covers.
  void (*dot_rows)(const float* x, const float* w, int64_t depth, float* y, int64_t rows);
  // dst[i] = src[2i] for i < count, reading only src[0, 2·count − 1) (cpu/shuffle_kernels.h):
  // the stride-2 column phases of the convolutions.
  void (*gather_even)(const float* src, int64_t count, float* dst);
  // The mean of `count` floats, summed in double: 16 lane sums (lane j adds the floats at
  // 16·i + j in order), then those 16 summed pairwise ((s0 + s1) + (s2 + s3)) + …, then the
  // remaining floats in order, divided by count, rounded once. The same on every ISA, bitwise
  // (the global average pool and spatial reduce_mean).
  float (*plane_mean)(const float* x, int64_t count);
  // The Winograd F(2×2, 3×3) transforms of cpu/dense_conv_winograd.h over the `tiles` tiles of
  // one tile row, additions and subtractions only, in the same order on every ISA (bitwise
  // the same results). Input: the tiles' 4 input rows, each split into its even and odd
  // columns (row r's even columns at even + r·pitch, odd ones at odd + r·pitch; tile t reads
  // even[t], odd[t], even[t + 1], odd[t + 1]); writes U = Bᵀ·d·B, element ξ = 4·i + k of tile
  // t at v[ξ·stride + t].
  void (*winograd_input)(const float* even, const float* odd, int64_t pitch, int64_t tiles,
                         float* v, int64_t stride);
  // Output: the 16 products of tile t at m[ξ·stride + t]; writes Y = Aᵀ·M·A, output (a, b)
  // (row a, column b of the 2×2 tile) of tile t at y[(2·a + b)·pitch + t].
  // Both run whole vectors (a tile row of MobileNetV3's ASPP at rate 6 has 5 or 6 tiles): they
  // may read up to 16 floats past `tiles + 1` of every input row and read and write up to 15
  // floats past `tiles` of every output row, which the caller provides (what is written there
  // is junk, overwritten or never read).
  void (*winograd_output)(const float* m, int64_t stride, int64_t tiles, float* y, int64_t pitch);
  // f32_x<lanes>_<isa>, appended to the names of the kernels that run these loops.
  const char* name;
};

// One input row of `length` floats, after `pad` columns of zeros, split into its `stride`
// column phases of `width` floats each, phase q at dst + q·pitch: index i of phase q holds
// input column i·stride + q − pad, and zeros outside the row. Stride 2 goes through the ISA's
// gather_even. The stride phases of the depthwise, implicit-GEMM and row-tile convolutions.
// With `zero_outside` false the zeros outside the row are not written: for buffers whose
// columns outside [lo, hi) hold zeros already and are never written otherwise (the same call
// geometry every time), where refilling them per row cost more than the copy on narrow planes.
void split_row_phases(const MiscKernels& misc, const float* row, int64_t length, int64_t pad,
                      int64_t stride, int64_t width, float* dst, int64_t pitch,
                      bool zero_outside = true);

// x[i] = act(x[i] + bias) over `count` floats: the table's vector loop for the activations it
// has (bitwise equal to activation_apply), activation_apply per element for the others. The
// epilogue of the convolutions that add their bias after the sums (direct, Winograd, tap GEMMs).
void bias_activation_in_place(const MiscKernels& misc, const Activation& activation, float bias,
                              float* x, int64_t count);

}  // namespace atrous
