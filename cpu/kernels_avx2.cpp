// The AVX2 + FMA kernel table (compiled with -mavx2 -mfma): the GEMM, depthwise and misc
// templates instantiated for xsimd::fma3<avx2>. The panoptic merger's loops are in
// panoptic_kernels_avx2.cpp: they need -ffp-contract=off, which would change these families'
// numerics (see cpu/README.md).
#if defined(__x86_64__)
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

const CpuKernelTable& cpu_kernel_table_avx2() {
  using Arch = xsimd::fma3<xsimd::avx2>;
  static_assert(xsimd::batch<float, Arch>::size == 8, "the names below say 8 lanes");
  static const CpuKernelTable table = [] {
    CpuKernelTable t;
    t.isa = CpuIsa::cpu_isa_avx2;
    t.gemm = {gemm_block<Arch, 6, 2>,
              gemv_block<Arch>,
              2 * int64_t(xsimd::batch<float, Arch>::size),
              6,
              "gemm_f32_6x16_avx2",
              "gemv_f32_4x8_avx2",
              gemm_pixels<Arch, 1>,
              int64_t(xsimd::batch<float, Arch>::size),
              "gemm_f32_7x8_pixels_avx2"};
    // Column tiles beat the one-vector pixel tiles on AMD EPYC (Zen 3; bench_pointwise, ms,
    // three rounds, columns / pixel tiles): 960→160 at 7×7 0.23–0.34 / 0.38–0.48, 576→96
    // 0.11–0.13 / 0.16–0.18. The tests still run the pixel kernel.
    t.gemm.pixels_chosen = false;
    // 4 rows × 24 columns for the 1×1s of images of 28×28 pixels or more (MobileNetV3's first
    // blocks, the decoders' narrow 1×1s): AMD EPYC (Zen 3), bench_pointwise, fastest of 7
    // alternated runs, 6 × 16 / 4 × 24 (ms): 16→16 at 112² 0.117 / 0.100, 16→64 at 112² 0.403 /
    // 0.369, 64→24 at 56² 0.129 / 0.125, 24→72 0.144 / 0.140, 72→40 at 28² 0.057 / 0.054,
    // 256→19 at 257×513 29.6 / 28.7, 256→32 38.4 / 37.1, 288→256 232 / 229; on 14² and 7²
    // images it was slower (480→112 0.263 / 0.309, 672→112 0.377 / 0.424, 160→960 0.220 /
    // 0.238), so those keep 6 × 16.
    // Only the column tile differs; the one-pixel and pixel-tile kernels are the main entry's.
    t.gemm_wide = t.gemm;
    t.gemm_wide.block = gemm_block<Arch, 4, 3>;
    t.gemm_wide.tile_columns = 3 * int64_t(xsimd::batch<float, Arch>::size);
    t.gemm_wide.rows = 4;
    t.gemm_wide.name = "gemm_f32_4x24_avx2";
    t.gemm_wide_min_pixels = 28 * 28;
    // 4 pixels × 24 channels (12 accumulators, 3 weight vectors, one broadcast: all 16 ymm
    // registers) beat 6 × 16 on AMD EPYC (Zen 3; bench_dense_conv, ms, minima of 4–5 interleaved
    // rounds): 960→256 3×3 at 32×64 rate 12 80–87 against 98–100, rate 24 54 against 64, rate
    // 36 32 against 38, at 65×129 rate 12 446 against 472, at 33×65 rates 3–9 level or better;
    // 12 × 8, 8 × 8, 2 × 32 and 3 × 32 (spilling) were slower than both. Each step prefetches
    // the next line of its input row (16 floats on): interleaved with ONNX Runtime in one
    // process, 960→256 3×3 at 65×129 rate 12 534 → 446 ms (ONNX Runtime 395), at 33×65 rate 3
    // 119–134 → 116–125 ms, at 32×64 rate 12 level; 32 floats on was no better.
    t.direct_conv = {direct_conv_tile<Arch, 4, 3, 16>, 4,
                     3 * int64_t(xsimd::batch<float, Arch>::size), "conv_direct_f32_4x24_avx2",
                     direct_conv_tile_packed<Arch, 4, 3>};
    t.row_conv = {row_conv_tile<Arch, 4, 3>,
                  4,
                  3 * int64_t(xsimd::batch<float, Arch>::size),
                  "conv_rows_f32_4x24_avx2",
                  {row_conv_tile<Arch, 4, 1>, row_conv_tile<Arch, 4, 2>}};
    t.depthwise = {depthwise_band<Arch>,        depthwise_row<Arch>,
                   depthwise_rows<Arch>,        depthwise_lanes<Arch>,
                   transpose_block_8x8,         "dwconv_f32_band_8x8_avx2",
                   "dwconv_f32_row_8x8_avx2",   "dwconv_f32_rows_4x16_avx2",
                   "dwconv_f32_lanes_1x8_avx2", "dwconv_f32_rows_s2_4x16_avx2"};
    // Measured on AMD EPYC (Zen 3; bench_depthwise, ms, rows kernel / lanes, two rounds):
    // 672 channels 14×14 3×3 0.50–0.52 / 0.12–0.18, 184 channels 0.08–0.14 / 0.04–0.05,
    // 240 channels 14×14 5×5 0.27 / 0.07–0.11, 120 channels 28×28 5×5 0.18–0.28 / 0.13–0.17.
    t.depthwise.lanes_first_width = 32;
    // The stride-2 layers up to 64×64 too: 5×5 (MobileNetV3-Large's 72 channels 56×56 → 28×28,
    // fastest of 9 alternated runs, rows kernel / lanes: 0.149 / 0.107 ms) and, since the lanes
    // window and bands (twelfth session), 3×3 (72 channels 56×56: paired 0.61 of the rows
    // kernel; MobileNetV3-Small 0.991, 339 of 600 rounds faster); 3×3 at 112×112 stays on the
    // rows kernel (lanes 0.79–0.84 per layer, but MobileNetV3-Large slower with it).
    t.depthwise.lanes_max_plane_s2 = 64 * 64;
    t.misc = misc_simd::make_misc_kernels<Arch>();
    t.misc.gather_even = gather_even_avx2;
    t.misc.plane_mean = plane_mean_avx2;
    t.misc.name = "f32_x8_avx2";
    t.panoptic = panoptic_kernels_avx2();
    return t;
  }();
  return table;
}

}  // namespace atrous
#endif
