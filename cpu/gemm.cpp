// GEMM driver (see gemm.h): weight packing, the task split, per-thread scratch, dispatch to
// the per-ISA microkernels, and the scalar microkernel.
#include "cpu/gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace atrous {

namespace {

// With fewer than this many tasks per thread the column blocks are also split by panels, so
// layers with few pixels (7×7, the 1×1 squeeze-excitation convs) still spread over the
// threads. Each group packs its own copy of B, so one thread never splits. The split changes
// which thread computes an element, never its arithmetic.
constexpr int64_t kGemmTasksPerThread = 4;
// Products below this many multiply-adds (a few microseconds) run on the calling thread: waking
// the pool costs more than it saves (e.g. a 240→64 squeeze-excitation conv on one pixel).
constexpr int64_t kGemmParallelMinWork = int64_t(1) << 18;

void run_block(CpuIsa isa, const GemmBlock& block) {
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::cpu_isa_avx512:
      gemm_block_avx512(block);
      return;
    case CpuIsa::cpu_isa_avx2:
      gemm_block_avx2(block);
      return;
#endif
#if defined(__aarch64__)
    case CpuIsa::cpu_isa_neon:
      gemm_block_neon(block);
      return;
#endif
    default:
      gemm_block_scalar(block);
  }
}

}  // namespace

void gemm_pack_weights(const float* weight, const float* bias, int64_t rows, int64_t depth,
                       const Activation& activation, CpuIsa isa, GemmWeights* weights) {
  const int64_t panels = (rows + kGemmRows - 1) / kGemmRows;
  weights->rows = rows;
  weights->depth = depth;
  weights->activation = activation;
  weights->isa = isa;
  weights->packed.assign(size_t(panels * depth * kGemmRows), 0.f);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t k = 0; k < depth; ++k)
      weights->packed[size_t(((m / kGemmRows) * depth + k) * kGemmRows + m % kGemmRows)] =
          weight[m * depth + k];
  weights->bias.assign(size_t(rows), 0.f);
  if (bias) std::memcpy(weights->bias.data(), bias, size_t(rows) * sizeof(float));
}

int64_t gemm_tile_columns(CpuIsa isa) {
  // Two SIMD vectors; the scalar microkernel uses 8 columns.
  return isa == CpuIsa::cpu_isa_scalar ? 8 : 2 * int64_t(cpu_isa_vector_floats(isa));
}

size_t gemm_scratch_floats(CpuIsa isa) {
  // The packed tiles, then kGemmDepthBlock int32 row offsets (float-sized).
  return size_t(kGemmDepthBlock * kGemmBlockTiles * gemm_tile_columns(isa) + kGemmDepthBlock);
}

void gemm_block_scalar(const GemmBlock& block) {
  const GemmWeights& weights = *block.weights;
  const int64_t tile = gemm_tile_columns(CpuIsa::cpu_isa_scalar);
  const int rows = kGemmRows;
  const int64_t tiles = (block.columns + tile - 1) / tile;
  float acc[kGemmRows * 8];
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t column = t * tile;
    const int64_t valid_columns = std::min(tile, block.columns - column);
    for (int64_t panel = block.panel_begin; panel < block.panel_end; ++panel) {
      const int64_t m0 = panel * rows;
      const int valid_rows = int(std::min<int64_t>(rows, weights.rows - m0));
      float* y = block.y + m0 * block.ldy + column;
      std::fill(acc, acc + rows * tile, 0.f);
      if (!block.first)
        for (int r = 0; r < valid_rows; ++r)
          for (int64_t i = 0; i < valid_columns; ++i) acc[r * tile + i] = y[r * block.ldy + i];
      const float* a = weights.packed.data() + (panel * weights.depth + block.k0) * rows;
      const float* b = block.b + t * block.depth * tile;
      for (int64_t k = 0; k < block.packed_rows; ++k, b += tile) {
        const float* ak = a + (block.kept ? int64_t(block.kept[k]) : k) * rows;
        for (int r = 0; r < rows; ++r)
          for (int64_t i = 0; i < tile; ++i) acc[r * tile + i] += ak[r] * b[i];
      }
      for (int r = 0; r < valid_rows; ++r)
        for (int64_t i = 0; i < valid_columns; ++i) {
          float v = acc[r * tile + i];
          if (block.last)
            v = activation_apply(weights.activation, v + weights.bias[size_t(m0 + r)]);
          y[r * block.ldy + i] = v;
        }
    }
  }
}

void gemm_run(const GemmWeights& weights, const GemmPacker& packer, int64_t columns, float* y,
              int64_t ldy, ThreadPool& pool, float* scratch, int scratch_slots) {
  if (columns <= 0 || weights.rows <= 0) return;
  const int64_t tile = gemm_tile_columns(weights.isa);
  const int64_t block_columns =
      std::min(kGemmBlockTiles, std::max<int64_t>(1, packer.block_tiles(tile))) * tile;
  const int64_t column_blocks = (columns + block_columns - 1) / block_columns;
  const int64_t panels = (weights.rows + kGemmRows - 1) / kGemmRows;
  const bool parallel =
      pool.threads() > 1 && weights.rows * weights.depth * columns >= kGemmParallelMinWork;
  const int64_t wanted = parallel ? kGemmTasksPerThread * pool.threads() : 1;
  int64_t groups = std::min(panels, (wanted + column_blocks - 1) / column_blocks);
  const int64_t panels_per_group = (panels + groups - 1) / groups;
  groups = (panels + panels_per_group - 1) / panels_per_group;
  const int64_t tasks = column_blocks * groups;
  // K blocks of equal size (288 = 144 + 144, not 256 + 32), so none is too short to pay for
  // loading and storing its accumulators.
  const int64_t depth_blocks = (weights.depth + kGemmDepthBlock - 1) / kGemmDepthBlock;
  const int64_t depth_block = (weights.depth + depth_blocks - 1) / depth_blocks;
  const int slots = parallel ? pool.threads() : 1;
  const size_t slot_floats = gemm_scratch_floats(weights.isa);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(size_t(slots) * slot_floats);
    scratch = own.data();
  }
  // One index per slot: slot s runs tasks [s·tasks/slots, (s+1)·tasks/slots) in its scratch.
  auto run_slots = [&](int64_t slot_begin, int64_t slot_end) {
    for (int64_t slot = slot_begin; slot < slot_end; ++slot) {
      float* packed = scratch + size_t(slot) * slot_floats;
      int32_t* kept = reinterpret_cast<int32_t*>(packed + slot_floats - kGemmDepthBlock);
      for (int64_t task = slot * tasks / slots; task < (slot + 1) * tasks / slots; ++task) {
        const int64_t column0 = (task / groups) * block_columns;
        const int64_t group = task % groups;
        GemmBlock block;
        block.weights = &weights;
        block.b = packed;
        block.columns = std::min(block_columns, columns - column0);
        block.panel_begin = group * panels_per_group;
        block.panel_end = std::min(panels, block.panel_begin + panels_per_group);
        block.y = y + column0;
        block.ldy = ldy;
        for (int64_t k0 = 0; k0 < weights.depth; k0 += depth_block) {
          block.k0 = k0;
          block.depth = std::min(depth_block, weights.depth - k0);
          block.first = k0 == 0;
          block.last = k0 + block.depth == weights.depth;
          block.packed_rows =
              packer.pack(k0, block.depth, column0, block.columns, tile, packed, kept);
          block.kept = block.packed_rows < block.depth ? kept : nullptr;
          run_block(weights.isa, block);
        }
      }
    }
  };
  if (parallel)
    pool.parallel_for(slots, run_slots);
  else
    run_slots(0, 1);
}

}  // namespace atrous
