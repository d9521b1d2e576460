// The scalar panoptic merger loops (cpu/panoptic_kernels.h), part of the scalar CpuKernelTable,
// and the accessor into the tables.
#include "cpu/panoptic_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/kernel_table.h"
#include "cpu/panoptic_kernels_simd.h"

namespace atrous {
namespace panoptic_scalar {

void argmax_first(const float* x, int32_t* labels, int64_t channels, int64_t stride,
                  int64_t count) {
  for (int64_t p = 0; p < count; ++p) {
    float top = x[p];
    int32_t label = 0;
    for (int64_t c = 1; c < channels; ++c) {
      const float v = x[c * stride + p];
      if (v > top) {
        top = v;
        label = int32_t(c);
      }
    }
    labels[p] = label;
  }
}

int32_t nearest_center(float py, float px, const float* cy, const float* cx, int32_t count) {
  return panoptic_nearest_scan(py, px, cy, cx, count);
}

void assign_instances(const PanopticCenterGrid& grid, int32_t y, int32_t width,
                      const int32_t* labels, const float* is_thing, int32_t, const float* offset_y,
                      const float* offset_x, int32_t* instance) {
  for (int32_t x = 0; x < width; ++x) {
    if (grid.centers == 0 || !(is_thing[labels[x]] > 0)) {
      instance[x] = 0;
      continue;
    }
    const float py = float(y) + offset_y[x], px = float(x) + offset_x[x];
    instance[x] = 1 + panoptic_grid_nearest<panoptic_nearest_scan>(grid, py, px);
  }
}

int32_t runs(const int32_t* labels, const int32_t* instance, int32_t width, int32_t* start,
             int32_t* run_label, int32_t* run_instance) {
  int32_t count = 0;
  for (int32_t x = 0; x < width; ++x)
    if (x == 0 || labels[x] != labels[x - 1] || instance[x] != instance[x - 1]) {
      start[count] = x;
      run_label[count] = labels[x];
      run_instance[count++] = instance[x];
    }
  start[count] = width;
  return count;
}

void panoptic_values(const int32_t* labels, const int32_t* instance, int32_t count,
                     const int32_t* value_by_label, int32_t, const int32_t* value_by_instance,
                     int32_t* out) {
  for (int32_t x = 0; x < count; ++x)
    out[x] = instance[x] ? value_by_instance[instance[x]] : value_by_label[labels[x]];
}

int32_t candidate_chunks(const float* row, int32_t width, float limit, int32_t* chunks,
                         int32_t column) {
  int32_t found = 0;
  for (int32_t x0 = 0; x0 < width; x0 += kPanopticCenterChunk) {
    const int32_t n = std::min(kPanopticCenterChunk, width - x0);
    bool above = false;
    for (int32_t k = 0; k < n; ++k) above |= row[x0 + k] > limit;
    chunks[found] = column + x0;
    found += above ? 1 : 0;
  }
  return found;
}

int32_t candidate_chunks_row(const float* row, int32_t width, float limit, int32_t* chunks) {
  return candidate_chunks(row, width, limit, chunks, 0);
}

void instance_probability(const float* logits, int64_t classes, int64_t stride,
                          const int32_t* instance, const int32_t* class_of, int32_t count,
                          int64_t* amount) {
  for (int32_t x = 0; x < count; ++x) {
    amount[x] = 0;
    if (instance[x] <= 0) continue;
    const float* l = logits + x;
    float top = l[0];
    for (int64_t j = 1; j < classes; ++j) top = top < l[j * stride] ? l[j * stride] : top;
    const int64_t wanted = class_of[instance[x]];
    double sum = 0, chosen = 0;
    for (int64_t j = 0; j < classes; ++j) {
      const double e = panoptic_exp<PanopticScalarExpOps>(double(l[j * stride] - top));
      sum += e;
      if (j == wanted) chosen = e;
    }
    amount[x] = panoptic_fixed_probability(chosen / sum);
  }
}

struct ScalarTag {};

}  // namespace panoptic_scalar

const PanopticKernels& panoptic_kernels_scalar() {
  static const PanopticKernels table = {panoptic_scalar::argmax_first,
                                        panoptic_scalar::nearest_center,
                                        panoptic_scalar::assign_instances,
                                        panoptic_scalar::runs,
                                        panoptic_scalar::panoptic_values,
                                        panoptic_scalar::candidate_chunks_row,
                                        panoptic_copy_labels<panoptic_scalar::ScalarTag>,
                                        panoptic_scalar::instance_probability,
                                        1};
  return table;
}

const PanopticKernels& panoptic_kernels(CpuIsa isa) { return cpu_kernel_table(isa).panoptic; }

}  // namespace atrous
