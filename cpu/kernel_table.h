// The one dispatch of the CPU backend: every kernel family's per-ISA entry points, one table per
// instruction set, filled by one translation unit per ISA (kernels_<isa>.cpp, plus
// panoptic_kernels_<isa>.cpp for the merger's loops, which need other floating-point flags).
// Kernels take their entry points from cpu_kernel_table(config.isa) when they are created; the
// merger, the tests and the microbenchmarks read the same tables. Nothing else switches on the
// ISA.
//
// Microkernel names say the element type, the tile and the ISA, as XNNPACK's do:
//  * gemm_f32_<rows>x<columns>_<isa>: `rows` output channels × tile_columns pixels held in
//    registers;
//  * conv_direct_f32_<pixels>x<channels>_<isa>: the direct dense convolution's register tile
//    of `pixels` output pixels × `channels` output channels;
//  * conv_rows_f32_<channels>x<columns>_<isa>: the row-tile dense convolution's register tile
//    of `channels` output channels × `columns` output columns of one row;
//  * dwconv_f32_{band,row}_<vectors>x<lanes>_<isa>: a block of `vectors` SIMD vectors of
//    `lanes` output positions (band: the flat banded path; row: the row-by-row path);
//  * f32_x<lanes>_<isa> for the misc loops (one vector of `lanes` floats), appended to the
//    kernel's own name (e.g. resize_bilinear_f32_x8_avx2).
// Profiles (`atrous bench --profile`) report these names through CpuKernel::name().
#pragma once

#include <cstdint>

#include "cpu/isa.h"
#include "cpu/misc_kernels.h"
#include "cpu/panoptic_kernels.h"

namespace atrous {

struct GemmBlock;
struct DepthwisePlan;
struct DepthwiseTaps;
struct DirectConvTile;

struct GemvBlock;
struct PixelGemmBlock;

struct GemmKernels {
  // One K block of one column block against a range of panels (cpu/gemm.h).
  void (*block)(const GemmBlock& block);
  // Blocks of a one-pixel product (cpu/gemm.h); null where the ISA has none (scalar).
  void (*gemv)(const GemvBlock& block);
  int64_t tile_columns;  // columns per packed B tile (V vectors; 8 for scalar)
  int64_t rows;          // output channels per weight panel (R)
  const char* name;
  const char* gemv_name;
  // Pixel tiles of small images (cpu/gemm.h); null where the ISA has none (scalar).
  void (*pixels)(const PixelGemmBlock& block);
  int64_t pixel_channels;  // output channels per pixel tile
  const char* pixels_name;
  // Whether pointwise_plan_pixel_tiles may choose the pixel tiles (chosen per ISA by
  // measurement; pointwise_pack_pixel_tiles takes them whenever `pixels` is set).
  bool pixels_chosen = true;
};

struct DirectConvKernels {
  // One tile of the direct dense convolution over one K block (cpu/dense_conv_direct.h).
  void (*tile)(const DirectConvTile& tile);
  int64_t tile_pixels;  // output pixels per full tile
  int64_t block;        // output channels per tile
  const char* name;
  // The tile on the interleaved input copy (DirectConvPlan::interleave); null: none.
  void (*packed)(const DirectConvTile& tile) = nullptr;
};

struct RowConvTile;

struct RowConvKernels {
  // One tile of the row-tile dense convolution (cpu/dense_conv_rows.h); null where the ISA has
  // none (scalar).
  void (*tile)(const RowConvTile& tile);
  int64_t rows;          // output channels per tile
  int64_t tile_columns;  // output columns per tile (vectors × lanes)
  const char* name;
  // The same tile one and two vectors wide, for a row's last columns (a row of 112 outputs is
  // 48 + 48 + 16 on AVX-512: the last tile would compute 48).
  void (*narrow[2])(const RowConvTile& tile);
};

struct DepthwiseKernels {
  // The banded path's flat band and the row-by-row path's row (cpu/depthwise_conv.h).
  void (*band)(const DepthwisePlan& plan, const float* const* source, const float* weight,
               int count, int64_t rows, float bias, float* out, int64_t out_stride);
  void (*row)(const DepthwisePlan& plan, const DepthwiseTaps& taps, float bias, float* y);
  // The several-rows interior of the row-by-row path; null where the ISA has none (scalar).
  void (*rows)(const DepthwisePlan& plan, const float* const* in, const float* kernel,
               int64_t columns, float bias, float* const* out);
  // The channel-lanes path for small planes; null where the ISA has none (scalar).
  void (*lanes)(const DepthwisePlan& plan, const float* x, const float* weight, const float* bias,
                float* y, int64_t rows);
  // A lanes × lanes block transposed (cpu/shuffle_kernels.h), with which the channel-lanes
  // path moves channels in and out of the lanes; null where `lanes` is.
  void (*transpose)(const float* src, int64_t src_stride, float* dst, int64_t dst_stride);
  const char* band_name;
  const char* row_name;
  const char* rows_name;
  const char* lanes_name;
  const char* rows_s2_name;  // the several-rows kernel on strides 2
  // Planes whose output rows are at most this wide take the channel-lanes path even where the
  // several-rows kernel applies (depthwise_plan; chosen per ISA by measurement, 0: never).
  int64_t lanes_first_width = 0;
  // Input planes of at most this many pixels take the channel-lanes path for 3×3 and 5×5
  // stride-2 layers without dilation (where it exceeds kDepthwiseLanesMaxPlane; chosen per ISA
  // by measurement, 0: the common limit).
  int64_t lanes_max_plane_s2 = 0;
};

struct CpuKernelTable {
  CpuIsa isa;
  GemmKernels gemm;
  // A second GEMM tile for the 1×1 convolutions of images of at least gemm_wide_min_pixels
  // pixels (gemm_pack_weights; chosen per ISA by measurement; block null: none). Each output's
  // FMA chain is the same in either tile, so the choice changes no bit.
  GemmKernels gemm_wide = {};
  int64_t gemm_wide_min_pixels = 0;
  DirectConvKernels direct_conv;
  RowConvKernels row_conv;
  DepthwiseKernels depthwise;
  MiscKernels misc;
  PanopticKernels panoptic;
};

// The table of an ISA the CPU runs (cpu_isa_detect() or lower); an ISA this build has no
// kernels for (avx2 on aarch64, neon on x86-64) gets the scalar table.
const CpuKernelTable& cpu_kernel_table(CpuIsa isa);
// The table of cpu_isa_detect(), chosen once per process.
const CpuKernelTable& cpu_kernel_table();

// Filled by kernels_<isa>.cpp; only cpu_kernel_table calls these.
const CpuKernelTable& cpu_kernel_table_scalar();
const CpuKernelTable& cpu_kernel_table_avx2();
const CpuKernelTable& cpu_kernel_table_avx512();
const CpuKernelTable& cpu_kernel_table_neon();

}  // namespace atrous
