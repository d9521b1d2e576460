// The GEMM shared by the dense convolution families (pointwise 1×1 and implicit-GEMM k×k):
// Y[m, p] = act(Σ_k A[m, k] · B[k, p] + bias[m]) for M output channels, K reduction terms and
// `columns` output pixels.
//
// A (the weights) is packed once per session into panels of R output channels (the ISA's
// GemmKernels::rows), [panels][K][R], zero padded. B (activations, or im2col patches) is packed
// per task by a GemmPacker into per-thread scratch: for a block of up to kGemmBlockTiles column
// tiles and one K block (K split into equal blocks of at most kGemmDepthBlock terms), tiles of
// [depth][tile columns] with the columns past the end zeroed. A tile is V SIMD vectors wide
// (GemmKernels::tile_columns: 48 floats on AVX-512, 16 on AVX2, 8 on NEON; AVX2's wide tile
// for the 1×1s of larger images, CpuKernelTable::gemm_wide, 24).
//
// Tiling: a task is (column block × group of panels); inside it, for each K block, each panel
// of the group (an A slice of R × K-block floats, in L1) meets every packed column tile of the
// block (at most 4 × 512 × 48 floats, 384 KiB, in L2) before the next panel; the output lines
// of the panel's next tile are prefetched for writing while a tile runs (docs/CPU.md, "8 × 48
// tiles, panel-major order").
// The microkernel keeps R × V vectors of accumulators in registers (8 × 3 = 24 of the 32 zmm
// registers on AVX-512, 6 × 2 = 12 of the 16 ymm on AVX2 (its wide tile 4 × 3 = 12), 6 × 2 on
// NEON).
//
// Determinism: every output element is the FMA chain over k = 0, 1, …, K−1 in order (partial
// sums cross K blocks through the output tensor, exactly; rows a packer leaves out as zero
// depend only on the shapes and the column block), then + bias, then the activation. The
// thread count changes which thread runs a task, never that chain, so results are bitwise
// identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/isa.h"
#include "cpu/kernel_table.h"
#include "cpu/weight_memory.h"
#include "graph/thread_pool.h"
#include "ops/activation.h"

namespace atrous {

constexpr int kGemmMaxRows = 8;  // output channels per panel, at most (AVX-512)
// Reduction terms per K block. 512 rather than 256 (AVX2, Zen 3, docs/CPU.md "The ninth
// session"): 288 and 960 terms in one and two blocks instead of two and four, +2–5 points of
// the FMA peak.
constexpr int64_t kGemmDepthBlock = 512;
constexpr int64_t kGemmBlockTiles = 4;  // column tiles per column block
constexpr int64_t kGemmMaxTile = 48;    // the widest tile (AVX-512: three 16-float vectors)

struct GemmWeights {
  int64_t rows = 0;         // M
  int64_t depth = 0;        // K
  int64_t panel_rows = 0;   // R, the ISA's GemmKernels::rows
  WeightFloats packed;      // ceil(M/R) · K · R
  std::vector<float> bias;  // M (zeros when there is none)
  Activation activation;
  CpuIsa isa = CpuIsa::cpu_isa_scalar;
  const GemmKernels* kernels = nullptr;  // the ISA's entry in its CpuKernelTable
};

// weight: row-major [M, K]; bias: M floats or nullptr. pixels: the columns of one image where
// the product is a 1×1 convolution (0: not one, or unknown); images of at least the ISA's
// gemm_wide_min_pixels take its wide tile (CpuKernelTable::gemm_wide), others the main one.
void gemm_pack_weights(const float* weight, const float* bias, int64_t rows, int64_t depth,
                       const Activation& activation, CpuIsa isa, GemmWeights* weights,
                       int64_t pixels = 0);

// Columns per tile of each ISA's widest GEMM microkernel (CpuKernelTable::gemm and gemm_wide).
int64_t gemm_tile_columns(CpuIsa isa);

// Fills `dst` with the packed B block: reduction terms [k0, k0 + depth) × output columns
// [column0, column0 + count), as ceil(count / tile) tiles of [depth][tile], zeros past count.
// A packer may leave out rows that are zero for the whole block by construction (conv taps
// that fall into the padding for every pixel of the block): it packs the kept rows in order,
// writes their offsets from k0 to kept[0, n) and returns n (depth when it leaves none out).
// Leaving out a zero row drops w·0 terms, which change no sum (the reference conv skips
// padding taps too); the rows left out depend only on the block, never on the threads.
class GemmPacker {
 public:
  virtual ~GemmPacker() = default;
  virtual int64_t pack(int64_t k0, int64_t depth, int64_t column0, int64_t count, int64_t tile,
                       float* dst, int32_t* kept) const = 0;
  // Column tiles per column block, 1 to kGemmBlockTiles. A packer that leaves rows out asks for
  // single tiles when whole tiles of a row fall into the padding (then each tile gets its own
  // list of kept rows); the block size changes which rows are packed, never a sum.
  virtual int64_t block_tiles(int64_t tile) const {
    (void)tile;
    return kGemmBlockTiles;
  }
  // Where B can be read in place: true with the address of element (k0, column0) and the
  // distance between consecutive k rows, when rows of B are contiguous columns in memory
  // (then the block's whole tiles are read from there and only a partial last tile is
  // packed). The values read are those pack() would copy, so no sum changes.
  virtual bool in_place(int64_t k0, int64_t column0, const float** b, int64_t* ldb) const {
    (void)k0, (void)column0, (void)b, (void)ldb;
    return false;
  }
};

// Floats of scratch one thread needs (the packed B block and the kept-row list).
size_t gemm_scratch_floats(CpuIsa isa);

// y: row m of the output at y + m·ldy, columns [0, columns). scratch: scratch_slots ·
// gemm_scratch_floats floats; when it is null or has fewer slots than the pool has threads,
// the run allocates its own.
void gemm_run(const GemmWeights& weights, const GemmPacker& packer, int64_t columns, float* y,
              int64_t ldy, ThreadPool& pool, float* scratch, int scratch_slots);

// The same product on the calling thread only, in one slot of scratch (gemm_scratch_floats
// floats), with the same arithmetic per element: for callers that split work over threads
// themselves (the fused blocks of fused_block.h).
void gemm_run_serial(const GemmWeights& weights, const GemmPacker& packer, int64_t columns,
                     float* y, int64_t ldy, float* scratch);

// Pixel tiles, for images of few pixels (MobileNetV3's 7×7 and 14×14 layers, where a 49-pixel
// row fills two 32-column tiles to 77 %): the product computed transposed, a tile being
// kGemmPixelTile pixels × one or two SIMD vectors of output channels (GemmKernels::
// pixel_channels), its accumulators in registers over the whole of K. The weights are packed as
// [ceil(M / channels)][K][channels] (zeros past M); each k broadcasts the tile's pixels of row k
// of X (read in place) against that row of the weight panel. Every output is the same FMA chain
// over k = 0…K−1 from zero, + bias, then the activation, as in the GEMM: bitwise its result.
// The tile is stored transposed (channel rows of up to kGemmPixelTile pixels).
constexpr int64_t kGemmPixelTile = 7;

struct PixelGemmBlock {
  const float* packed = nullptr;  // the tile's channel panel, [K][channels]
  const float* bias = nullptr;    // [channels], zeros past M
  const float* x = nullptr;       // the tile's first pixel of row k at x + k·ldx
  int64_t ldx = 0, depth = 0;
  int64_t pixels = 0;    // valid pixels, 1 to kGemmPixelTile
  int64_t channels = 0;  // valid channels, 1 to the panel's width
  const Activation* activation = nullptr;
  float* y = nullptr;  // output (first channel, first pixel); channel c at y + c·ldy
  int64_t ldy = 0;
};

// One K block of one column block against a range of panels: the argument of the per-ISA
// microkernels (CpuKernelTable::gemm).
// A matrix-vector product for one pixel (squeeze-excitation 1×1s): outputs [m0, m0 + count ·
// lanes) of y = act(W·x + bias) from weights packed as [ceil(M / lanes)][K][lanes] (zeros
// past M). Every output is the FMA chain over k = 0…K−1 from zero, + bias, then the activation
// (cpu/simd_activation.h's kinds in registers, the others by activation_apply): the GEMM's
// arithmetic, so the result is bitwise the GEMM's on the same pixel.
struct GemvBlock {
  const float* packed = nullptr;
  const float* x = nullptr;                // [K]
  const float* bias = nullptr;             // [ceil(M / lanes) · lanes], zeros past M
  int64_t depth = 0, rows = 0;             // K, M
  int64_t block_begin = 0, block_end = 0;  // blocks of `lanes` outputs
  const Activation* activation = nullptr;
  float* y = nullptr;  // [M]
};

struct GemmBlock {
  const GemmWeights* weights = nullptr;
  // Tiles [0, in_place_tiles) are read in place (tile t's row k at in_place + k·ldb + t·tile);
  // the others from the packed tiles b, [depth][tile] each, starting with tile in_place_tiles.
  const float* in_place = nullptr;
  int64_t ldb = 0;
  int64_t in_place_tiles = 0;
  const float* b = nullptr;  // packed tiles of [depth][tile]
  int64_t k0 = 0, depth = 0;
  int64_t packed_rows = 0;        // rows of each tile that hold data (≤ depth)
  const int32_t* kept = nullptr;  // their offsets from k0; null when packed_rows == depth
  int64_t columns = 0;            // valid columns in this block
  int64_t panel_begin = 0, panel_end = 0;
  float* y = nullptr;  // the block's first column of output row 0
  int64_t ldy = 0;
  bool first = false;  // k0 == 0: start from zero
  bool last = false;   // k0 + depth == K: add the bias, apply the activation
};

}  // namespace atrous
