// The inner loops of the panoptic merger (models/panoptic_merger.cpp): CpuKernelTable::panoptic
// (cpu/kernel_table.h). The scalar loops are in panoptic_kernels.cpp and the xsimd
// instantiations of cpu/panoptic_kernels_simd.h in panoptic_kernels_<isa>.cpp: files of their
// own, apart from kernels_<isa>.cpp, because they are compiled with -ffp-contract=off.
//
// Every loop is exact: every ISA returns what the scalar table returns, bit for bit.
#pragma once

#include <cstdint>

#include "cpu/isa.h"

namespace atrous {

// The fixed point of the instance scores' probability sums: amounts of 2^-40 (integers, so that
// the sums are the same in any order: any thread count, CPU or GPU).
constexpr double kPanopticProbabilityScale = 0x1p40;

// The chunk of a heatmap row that the merger's center search skips at once
// (PanopticKernels::candidate_chunks).
constexpr int32_t kPanopticCenterChunk = 32;

// A uniform grid over the points (y + Δy, x + Δx) of the nearest-center search
// (models/panoptic_grid.cpp builds it). Cell (r, q) covers [r·2^shift − margin,
// (r + 1)·2^shift − margin) × [q·2^shift − margin, ...); its list holds, in ascending center
// index, every center that can be nearest to some point of the cell. Points outside the grid
// (and NaN points) scan all centers. rows = cols = 0 makes every point scan all centers.
struct PanopticCenterGrid {
  int32_t shift = 0, margin = 0, rows = 0, cols = 0;
  // rows·cols: the cell's only candidate (≥ 0), or −1: read its list.
  const int32_t* code = nullptr;
  const int32_t* start = nullptr;    // rows·cols + 1 offsets into members
  const int32_t* members = nullptr;  // center indices, ascending within a cell
  const float* member_y = nullptr;   // the members' coordinates
  const float* member_x = nullptr;
  const float* center_y = nullptr;  // all centers
  const float* center_x = nullptr;
  int32_t centers = 0;
};

struct PanopticKernels {
  // For pixels p in [0, count): labels[p] = the first channel c with the largest
  // x[c·stride + p], by strict `>` from channel 0 (a NaN never replaces the best; a NaN in
  // channel 0 keeps label 0).
  void (*argmax_first)(const float* x, int32_t* labels, int64_t channels, int64_t stride,
                       int64_t count);
  // The first j in [0, count) with the smallest float32 distance
  // sqrt((cy[j] − py)² + (cx[j] − px)²) (each product and the sum rounded to float, no fused
  // multiply-add); −1 when no distance is smaller than +inf (all NaN or infinite).
  int32_t (*nearest_center)(float py, float px, const float* cy, const float* cx, int32_t count);
  // One row y of `width` pixels: instance[x] = 0 where is_thing[labels[x]] is 0 or there are no
  // centers, else 1 + nearest_center over all centers of the point
  // (float(y) + offset_y[x], float(x) + offset_x[x]), 0 standing for −1 (no distance compares).
  // is_thing: 1 or 0 per class (floats, for the vectors' gather), `classes` entries; the grid
  // only prunes the scan.
  // Offsets of stuff pixels are not read by the vectors that hold no thing pixel.
  void (*assign_instances)(const PanopticCenterGrid& grid, int32_t y, int32_t width,
                           const int32_t* labels, const float* is_thing, int32_t classes,
                           const float* offset_y, const float* offset_x, int32_t* instance);
  // The runs of equal (labels[x], instance[x]) in [0, width), width ≥ 1, in order: run r
  // starts at start[r] (start[0] = 0, start[count] = width) and has label run_label[r] and
  // instance run_instance[r]. Each array needs room for width + 17 entries (vectors may write
  // past the count); returns the count.
  int32_t (*runs)(const int32_t* labels, const int32_t* instance, int32_t width, int32_t* start,
                  int32_t* run_label, int32_t* run_instance);
  // out[x] = instance[x] ? value_by_instance[instance[x]] : value_by_label[labels[x]] for x in
  // [0, count) (the panoptic map: the instance's value on thing pixels, the stuff value or void);
  // labels lie in [0, classes). Any count (whole images at once); the output may be written
  // with streaming stores.
  void (*panoptic_values)(const int32_t* labels, const int32_t* instance, int32_t count,
                          const int32_t* value_by_label, int32_t classes,
                          const int32_t* value_by_instance, int32_t* out);
  // The starts x0 (multiples of kPanopticCenterChunk, ascending) of the chunks
  // [x0, x0 + kPanopticCenterChunk) ∩ [0, width) of a heatmap row holding a value > limit (NaN
  // never is), into `chunks` (room for width / kPanopticCenterChunk + 1); returns how many.
  int32_t (*candidate_chunks)(const float* row, int32_t width, float limit, int32_t* chunks);
  // out[x] = int32(labels[x]) for x in [0, count), labels being int32, int64 or uint8
  // (`label_bytes` 4, 8 or 1), and [*low, *high] widened to the labels' range (a label outside
  // int32 is copied truncated: the caller rejects it by the range).
  void (*copy_labels)(const void* labels, int32_t label_bytes, int32_t* out, int32_t count,
                      int64_t* low, int64_t* high);
  // The instance scores' fixed-point probabilities (docs/PANOPTIC.md, "Per-segment scores"): for x
  // in [0, count), amount[x] = round(p · 2^40) (halves away from 0), p the softmax probability of
  // class class_of[instance[x]] at pixel x as the merger defines it: float differences l_j − top
  // from the largest logit top (a NaN logit never replaces top), their exponentials in double
  // summed in class order, p = exp(l_c − top) / sum; amount[x] = 0 where instance[x] is 0 or p
  // is not finite. logits[j·stride + x] is l_j of pixel x. The exponential is
  // panoptic_exp (cpu/panoptic_kernels_simd.h, within 2 ulp of exp), the same operations in
  // every ISA, so every ISA returns the same amounts.
  void (*instance_probability)(const float* logits, int64_t classes, int64_t stride,
                               const int32_t* instance, const int32_t* class_of, int32_t count,
                               int64_t* amount);
  // nearest_center's vector width: lists whose length is a multiple of it run no scalar tail
  // (callers may pad a list with +inf coordinates, which are never nearest).
  int32_t center_width;
};

// cpu_kernel_table(isa).panoptic.
const PanopticKernels& panoptic_kernels(CpuIsa isa);
// Each ISA's loops, for its CpuKernelTable (kernels_<isa>.cpp).
const PanopticKernels& panoptic_kernels_scalar();
const PanopticKernels& panoptic_kernels_avx2();
const PanopticKernels& panoptic_kernels_avx512();
const PanopticKernels& panoptic_kernels_neon();

}  // namespace atrous
