// The NEON (aarch64) kernel table: the GEMM, depthwise and misc templates instantiated for
// xsimd::neon64. The panoptic merger's loops are in panoptic_kernels_neon.cpp, compiled with
// -ffp-contract=off (see cpu/README.md).
#if defined(__aarch64__)
#define ATROUS_MISC_KERNELS_SIMD
#include "cpu/dense_conv_direct_kernel.h"
#include "cpu/dense_conv_rows_kernel.h"
#include "cpu/depthwise_conv_kernel.h"
#include "cpu/gemm_kernel.h"
#include "cpu/kernel_table.h"
#include "cpu/misc_kernels_simd.h"
#include "cpu/reduce_kernels.h"
#include "cpu/shuffle_kernels.h"

namespace atrous {

const CpuKernelTable& cpu_kernel_table_neon() {
  using Arch = xsimd::neon64;
  static_assert(xsimd::batch<float, Arch>::size == 4, "the names below say 4 lanes");
  static const CpuKernelTable table = [] {
    CpuKernelTable t;
    t.isa = CpuIsa::cpu_isa_neon;
    t.gemm = {gemm_block<Arch, 6, 2>,
              gemv_block<Arch>,
              2 * int64_t(xsimd::batch<float, Arch>::size),
              6,
              "gemm_f32_6x8_neon",
              "gemv_f32_4x4_neon",
              gemm_pixels<Arch, 2>,
              2 * int64_t(xsimd::batch<float, Arch>::size),
              "gemm_f32_7x8_pixels_neon"};
    t.direct_conv = {direct_conv_tile<Arch, 6, 4>, 6, 4 * int64_t(xsimd::batch<float, Arch>::size),
                     "conv_direct_f32_6x16_neon", direct_conv_tile_packed<Arch, 6, 4>};
    t.row_conv = {row_conv_tile<Arch, 8, 3>,
                  8,
                  3 * int64_t(xsimd::batch<float, Arch>::size),
                  "conv_rows_f32_8x12_neon",
                  {row_conv_tile<Arch, 8, 1>, row_conv_tile<Arch, 8, 2>}};
    t.depthwise = {depthwise_band<Arch>,        depthwise_row<Arch>,
                   depthwise_rows<Arch>,        depthwise_lanes<Arch>,
                   transpose_block_4x4,         "dwconv_f32_band_8x4_neon",
                   "dwconv_f32_row_8x4_neon",   "dwconv_f32_rows_4x8_neon",
                   "dwconv_f32_lanes_1x4_neon", "dwconv_f32_rows_s2_4x8_neon"};
    t.misc = misc_simd::make_misc_kernels<Arch>();
    t.misc.gather_even = gather_even_neon;
    t.misc.plane_mean = plane_mean_neon;
    t.misc.name = "f32_x4_neon";
    t.panoptic = panoptic_kernels_neon();
    return t;
  }();
  return table;
}

}  // namespace atrous
#endif
