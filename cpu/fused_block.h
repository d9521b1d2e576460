// Fused inverted-residual blocks: expand 1×1 (+ activation) → depthwise k×k (+ activation) →
// [project 1×1 (+ activation) (+ the block input added back)], computed per band of output rows
// so that the expanded tensor (E channels at the input's resolution, the largest tensor of
// the block) never goes to memory.
//
// Per thread, a ring of the expanded input rows the current output rows need (ring_rows rows
// of all E channels, each row expanded once per stripe of output rows: consecutive output
// rows share their input rows), the depthwise output of group_rows output rows, and one GEMM
// packing slot. For each group of output rows: expand the input rows not yet in the ring (one
// GEMM per input row: [E, C] × [C, W]), run the depthwise plan on the ring for each channel,
// project the group ([M, E] × [E, rows · outW]) straight into the output, add the residual.
// At the high-resolution blocks (W = 257…1025, E = 64…240) the ring is 0.3–0.8 MB: it stays
// in L2, where the unfused path writes and reads E·H·W floats through DRAM twice.
//
// Without an expansion (depthwise k×k → project 1×1, as in Panoptic-DeepLab's decoders and
// heads, whose 5×5 depthwise separable convs run at 257×513 on 256–288 channels, and in
// MobileNetV3's first block), the depthwise reads its rows straight from the block input and
// only its output, a band of group rows, lives in the thread's scratch: that tensor (as large
// as the input) never goes through DRAM, and the project GEMM packs its B from L2.
//
// Where the depthwise output is needed as a tensor (squeeze-excitation blocks need its mean
// before projecting; Panoptic-DeepLab's decoders read one block's depthwise output), the
// block stops there: expand → depthwise, the depthwise writing its output rows in place.
//
// Work is split over stripes of output rows (ThreadPool::parallel_for chunks); a stripe starts
// with an empty ring, so the input rows at stripe boundaries are expanded by both stripes.
// Every element is computed with the unfused kernels' arithmetic: the expand and project
// GEMMs' per-element FMA chains do not depend on the columns a call covers (gemm.h), the
// depthwise runs the same plan and microkernels (DepthwiseRowsRunner), the residual is one
// float add. So results are bitwise identical to the unfused nodes on the same ISA and for any
// thread count or stripe split (a row expanded twice gets the same bits twice).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/depthwise_conv.h"
#include "cpu/gemm.h"
#include "graph/thread_pool.h"

namespace atrous {

struct FusedBlockPlan {
  bool has_expand = true;   // false: the depthwise reads the block input (E == C), no ring
  GemmWeights expand;       // [E, C], when has_expand
  DepthwisePlan depthwise;  // over the expanded [E, H, W]
  bool has_project = true;  // false: the block stops at the depthwise, y is its output
  GemmWeights project;      // [M, E]
  bool residual = false;    // y += x (then M == C and the depthwise keeps H and W)
  int64_t group_rows = 1;   // output rows per project GEMM
  int64_t ring_rows = 1;    // expanded input rows held per thread
};

// Sets group_rows and ring_rows from the three plans (expand, depthwise and project filled):
// at least 512 project columns per group where the scratch stays within about an L2 (2 MiB),
// fewer rows where it would not.
void fused_block_plan_rows(FusedBlockPlan* plan);

// Floats of scratch one thread needs.
size_t fused_block_scratch_floats(const FusedBlockPlan& plan);

// x: [batch, C, H, W], y: [batch, M, outH, outW]. scratch: scratch_slots ·
// fused_block_scratch_floats floats; when it is null or has fewer slots than the pool has
// threads, the run allocates its own.
void fused_block_run(const FusedBlockPlan& plan, const float* x, int64_t batch, float* y,
                     ThreadPool& pool, float* scratch, int scratch_slots);

}  // namespace atrous
