// The AVX-512F kernel table (compiled with -mavx512f -mfma): the GEMM, depthwise and misc
// templates instantiated for xsimd::avx512f, whose fma is a*b + c and so relies on the default
// floating-point contraction. The panoptic merger's loops are in panoptic_kernels_avx512.cpp,
// compiled with -ffp-contract=off (see cpu/README.md).
#if defined(__x86_64__)
// GCC 12 reports a false -Wmaybe-uninitialized (the broadcasts) and -Wuninitialized (the
// shuffles of the block transpose) inside avx512fintrin.h: the intrinsics start from an
// undefined vector on purpose.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
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

const CpuKernelTable& cpu_kernel_table_avx512() {
  using Arch = xsimd::avx512f;
  static_assert(xsimd::batch<float, Arch>::size == 16, "the names below say 16 lanes");
  static const CpuKernelTable table = [] {
    CpuKernelTable t;
    t.isa = CpuIsa::cpu_isa_avx512;
    t.gemm = {gemm_block<Arch, 8, 3>,
              gemv_block<Arch>,
              3 * int64_t(xsimd::batch<float, Arch>::size),
              8,
              "gemm_f32_8x48_avx512",
              "gemv_f32_4x16_avx512",
              gemm_pixels<Arch, 2>,
              2 * int64_t(xsimd::batch<float, Arch>::size),
              "gemm_f32_7x32_pixels_avx512"};
    t.direct_conv = {direct_conv_tile<Arch, 14, 2>, 14,
                     2 * int64_t(xsimd::batch<float, Arch>::size), "conv_direct_f32_14x32_avx512",
                     direct_conv_tile_packed<Arch, 14, 2>};
    t.row_conv = {row_conv_tile<Arch, 8, 3>,
                  8,
                  3 * int64_t(xsimd::batch<float, Arch>::size),
                  "conv_rows_f32_8x48_avx512",
                  {row_conv_tile<Arch, 8, 1>, row_conv_tile<Arch, 8, 2>}};
    t.depthwise = {depthwise_band<Arch>,           depthwise_row<Arch>,
                   depthwise_rows<Arch>,           depthwise_lanes<Arch>,
                   transpose_block_16x16,          "dwconv_f32_band_8x16_avx512",
                   "dwconv_f32_row_8x16_avx512",   "dwconv_f32_rows_4x32_avx512",
                   "dwconv_f32_lanes_1x16_avx512", "dwconv_f32_rows_s2_4x32_avx512"};
    t.misc = misc_simd::make_misc_kernels<Arch>();
    t.misc.gather_even = gather_even_avx512;
    t.misc.plane_mean = plane_mean_avx512;
    t.misc.name = "f32_x16_avx512";
    t.panoptic = panoptic_kernels_avx512();
    return t;
  }();
  return table;
}

}  // namespace atrous
#endif
