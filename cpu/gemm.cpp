// GEMM driver (see gemm.h): weight packing, the task split, per-thread scratch, and the calls
// to the ISA's microkernel from its CpuKernelTable (the microkernels are in kernels_<isa>.cpp).
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

// Columns per column block: whole tiles, as many as the packer asks for (up to kGemmBlockTiles).
int64_t gemm_block_columns(const GemmWeights& weights, const GemmPacker& packer) {
  const int64_t tile = weights.kernels->tile_columns;
  return std::min(kGemmBlockTiles, std::max<int64_t>(1, packer.block_tiles(tile))) * tile;
}

// K blocks of equal size (960 = 480 + 480, not 512 + 448; 576 = 288 + 288, not 512 + 64), so none
// is too short to pay for loading and storing its accumulators.
int64_t gemm_depth_block(int64_t depth) {
  const int64_t depth_blocks = (depth + kGemmDepthBlock - 1) / kGemmDepthBlock;
  return (depth + depth_blocks - 1) / depth_blocks;
}

// One column block, columns [column0, column0 + count), against panels [panel_begin, panel_end):
// every K block in order, B packed into `packed` (and its kept rows into `kept`) of one scratch
// slot. The unit of work of both drivers below.
void gemm_column_block(const GemmWeights& weights, const GemmPacker& packer, int64_t column0,
                       int64_t count, int64_t panel_begin, int64_t panel_end, int64_t depth_block,
                       float* y, int64_t ldy, float* packed, int32_t* kept) {
  const int64_t tile = weights.kernels->tile_columns;
  GemmBlock block;
  block.weights = &weights;
  block.b = packed;
  block.columns = count;
  block.panel_begin = panel_begin;
  block.panel_end = panel_end;
  block.y = y + column0;
  block.ldy = ldy;
  for (int64_t k0 = 0; k0 < weights.depth; k0 += depth_block) {
    block.k0 = k0;
    block.depth = std::min(depth_block, weights.depth - k0);
    block.first = k0 == 0;
    block.last = k0 + block.depth == weights.depth;
    // Whole tiles in place where the packer allows it; the rest (a partial tile) packed.
    block.in_place_tiles =
        packer.in_place(k0, column0, &block.in_place, &block.ldb) ? count / tile : 0;
    const int64_t packed_from = block.in_place_tiles * tile;
    block.packed_rows = packed_from < count ? packer.pack(k0, block.depth, column0 + packed_from,
                                                          count - packed_from, tile, packed, kept)
                                            : block.depth;
    block.kept = block.packed_rows < block.depth ? kept : nullptr;
    weights.kernels->block(block);
  }
}

}  // namespace

void gemm_pack_weights(const float* weight, const float* bias, int64_t rows, int64_t depth,
                       const Activation& activation, CpuIsa isa, GemmWeights* weights,
                       int64_t pixels) {
  const CpuKernelTable& table = cpu_kernel_table(isa);
  const bool wide = table.gemm_wide.block && pixels > 0 && pixels >= table.gemm_wide_min_pixels;
  weights->kernels = wide ? &table.gemm_wide : &table.gemm;
  const int64_t r = weights->kernels->rows;
  const int64_t panels = (rows + r - 1) / r;
  weights->rows = rows;
  weights->depth = depth;
  weights->panel_rows = r;
  weights->activation = activation;
  weights->isa = isa;
  weights->packed.assign(size_t(panels * depth * r), 0.f);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t k = 0; k < depth; ++k)
      weights->packed[size_t(((m / r) * depth + k) * r + m % r)] = weight[m * depth + k];
  weights->bias.assign(size_t(rows), 0.f);
  if (bias) std::memcpy(weights->bias.data(), bias, size_t(rows) * sizeof(float));
}

int64_t gemm_tile_columns(CpuIsa isa) {
  const CpuKernelTable& table = cpu_kernel_table(isa);
  return std::max(table.gemm.tile_columns,
                  table.gemm_wide.block ? table.gemm_wide.tile_columns : int64_t(0));
}

size_t gemm_scratch_floats(CpuIsa isa) {
  // The packed tiles, then kGemmDepthBlock int32 row offsets (float-sized).
  return size_t(kGemmDepthBlock * kGemmBlockTiles * gemm_tile_columns(isa) + kGemmDepthBlock);
}

void gemm_run(const GemmWeights& weights, const GemmPacker& packer, int64_t columns, float* y,
              int64_t ldy, ThreadPool& pool, float* scratch, int scratch_slots) {
  if (columns <= 0 || weights.rows <= 0) return;
  const int64_t block_columns = gemm_block_columns(weights, packer);
  const int64_t column_blocks = (columns + block_columns - 1) / block_columns;
  const int64_t panels = (weights.rows + weights.panel_rows - 1) / weights.panel_rows;
  const bool parallel = pool.worth_splitting(weights.rows * weights.depth * columns);
  const int64_t wanted = parallel ? kGemmTasksPerThread * pool.threads() : 1;
  int64_t groups = std::min(panels, (wanted + column_blocks - 1) / column_blocks);
  const int64_t panels_per_group = (panels + groups - 1) / groups;
  groups = (panels + panels_per_group - 1) / panels_per_group;
  const int64_t tasks = column_blocks * groups;
  const int64_t depth_block = gemm_depth_block(weights.depth);
  const int slots = parallel ? pool.threads() : 1;
  const size_t slot_floats = gemm_scratch_floats(weights.isa);
  std::vector<float> own;
  if (!scratch || scratch_slots < slots) {
    own.resize(size_t(slots) * slot_floats);
    scratch = own.data();
  }
  // Tasks are claimed in chunks by whichever thread is free (a descheduled worker's tasks go to
  // the others); each thread packs into its own scratch slot.
  auto run_tasks = [&](int64_t task_begin, int64_t task_end, int slot) {
    float* packed = scratch + size_t(slot) * slot_floats;
    int32_t* kept = reinterpret_cast<int32_t*>(packed + slot_floats - kGemmDepthBlock);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t column0 = (task / groups) * block_columns;
      const int64_t panel_begin = (task % groups) * panels_per_group;
      gemm_column_block(weights, packer, column0, std::min(block_columns, columns - column0),
                        panel_begin, std::min(panels, panel_begin + panels_per_group), depth_block,
                        y, ldy, packed, kept);
    }
  };
  if (parallel)
    pool.parallel_for_indexed(tasks, run_tasks, weights.rows * weights.depth * columns);
  else
    run_tasks(0, tasks, 0);
}

void gemm_run_serial(const GemmWeights& weights, const GemmPacker& packer, int64_t columns,
                     float* y, int64_t ldy, float* scratch) {
  if (columns <= 0 || weights.rows <= 0) return;
  const int64_t block_columns = gemm_block_columns(weights, packer);
  const int64_t depth_block = gemm_depth_block(weights.depth);
  const int64_t panels = (weights.rows + weights.panel_rows - 1) / weights.panel_rows;
  int32_t* kept =
      reinterpret_cast<int32_t*>(scratch + gemm_scratch_floats(weights.isa) - kGemmDepthBlock);
  for (int64_t column0 = 0; column0 < columns; column0 += block_columns)
    gemm_column_block(weights, packer, column0, std::min(block_columns, columns - column0), 0,
                      panels, depth_block, y, ldy, scratch, kept);
}

}  // namespace atrous
