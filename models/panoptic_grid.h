// The grid that prunes the panoptic merger's nearest-center search (models/panoptic_merger.cpp,
// cpu/panoptic_kernels.h: PanopticCenterGrid). Each cell lists, in ascending center index, every
// center that can be nearest (float32 distance, first index on ties) to some point of the cell,
// so that scanning a cell's list gives what scanning all centers gives.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/panoptic_kernels.h"

namespace atrous {

// The grid's tables (PanopticCenterGrid points into them). No cells: every point scans all centers.
struct PanopticGrid {
  int32_t shift = 0, margin = 0, rows = 0, cols = 0;
  std::vector<int32_t> code, start, members;
  std::vector<float> member_y, member_x;
};

// The grid for centers (cy[i], cx[i]) (integer pixel positions inside the height × width image,
// at least one) over the image and a margin around it.
void panoptic_grid_build(const std::vector<float>& cy, const std::vector<float>& cx, int height,
                         int width, PanopticGrid* grid);

// The kernels' view of `grid` and of all centers (cy, cx must outlive it).
PanopticCenterGrid panoptic_grid_view(const PanopticGrid& grid, const std::vector<float>& cy,
                                      const std::vector<float>& cx);

}  // namespace atrous
