// The nearest-center grid of the panoptic merger (models/panoptic_grid.h).
#include "models/panoptic_grid.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

namespace atrous {
namespace {

// Cells with their candidate lists, one level of the grid (lists concatenated in cell order).
struct GridLevel {
  int32_t size = 0, rows = 0, cols = 0;
  std::vector<int32_t> start, members;
};

// Drops from kept[0..listed) every center that another of them beats at every point of the box
// [y0, y1] × [x0, x1] (the second rule of filter_candidates), keeping the order; at most 16
// centers. Returns how many remain.
int32_t prune_dominated(const std::vector<float>& cy, const std::vector<float>& cx, double y0,
                        double x0, double y1, double x1, int32_t* kept, int32_t listed) {
  constexpr int kPruneMax = 16;
  if (listed < 2) return listed;
  const double corner_y[4] = {y0, y0, y1, y1}, corner_x[4] = {x0, x1, x0, x1};
  double square[kPruneMax][4];
  for (int k = 0; k < listed; ++k)
    for (int n = 0; n < 4; ++n) {
      const double dy = cy[size_t(kept[k])] - corner_y[n], dx = cx[size_t(kept[k])] - corner_x[n];
      square[k][n] = dy * dy + dx * dx;
    }
  int32_t original[kPruneMax];
  std::copy(kept, kept + listed, original);
  int32_t remaining = 0;
  for (int k = 0; k < listed; ++k) {
    bool dominated = false;
    for (int m = 0; m < listed; ++m) {
      bool beaten = m != k;
      for (int n = 0; n < 4; ++n) beaten &= square[k][n] - (1 + 1e-4) * square[m][n] > 1e-2;
      dominated |= beaten;
    }
    kept[remaining] = original[k];
    remaining += !dominated;
  }
  return remaining;
}

// Writes to `kept` (room for `count`) the centers of `candidates` (ascending) that can be nearest
// to some point of the box [y0, y0 + size] × [x0, x0 + size], and returns how many. Any superset
// of the possible nearest centers works as `candidates`, so a cell filters its parent's list.
// Two rules drop a center c:
//   * its distance to the box exceeds `upper`, the smallest over the candidates of the distance
//     to the box's farthest corner: every point of the box has a center at most that far;
//   * (lists of at most 16) another candidate a is nearer at every point of the box:
//     f(p) = |p − c|² − (1 + 1e-4)·|p − a|² is concave in p, so its minimum over the box is at a
//     corner, and f > 1e-2 at the four corners means a is nearer everywhere.
// The margins (relative 1e-4, absolute 1e-2 in squared pixels) are far above the float32
// rounding of the reference distances (relative error below 1e-6), so a center that is nearest
// after rounding, or tied, is never dropped. The distance rule runs first, and the pairwise rule
// on its survivors only: that drops the same centers as on the whole list, since a center the
// first rule drops is beaten at every corner by the center that sets `upper`, which it keeps.
int32_t filter_candidates(const int32_t* candidates, int32_t count, const std::vector<float>& cy,
                          const std::vector<float>& cx, double y0, double x0, double size,
                          int32_t* kept) {
  const double y1 = y0 + size, x1 = x0 + size;
  constexpr int kPruneMax = 16;
  double upper = std::numeric_limits<double>::infinity();
  for (int32_t k = 0; k < count; ++k) {
    const double py = cy[size_t(candidates[k])], px = cx[size_t(candidates[k])];
    const double fy = std::max(py - y0, y1 - py), fx = std::max(px - x0, x1 - px);
    upper = std::min(upper, fy * fy + fx * fx);
  }
  const double limit = upper * (1 + 1e-4) + 1e-2;
  // Branch-free: every candidate is written, the count advances only for those kept.
  int32_t listed = 0;
  for (int32_t k = 0; k < count; ++k) {
    const int32_t i = candidates[k];
    const double py = cy[size_t(i)], px = cx[size_t(i)];
    const double dy = std::max(std::max(y0 - py, py - y1), 0.0);
    const double dx = std::max(std::max(x0 - px, px - x1), 0.0);
    kept[listed] = i;
    listed += dy * dy + dx * dx <= limit;
  }
  if (listed < 2 || listed > kPruneMax) return listed;
  return prune_dominated(cy, cx, y0, x0, y1, x1, kept, listed);
}

}  // namespace

// The grid covers the image and a margin of two cells around it (points a little outside, from
// the borders' offsets, still find a cell). Cells of 2^shift pixels, the largest power of two
// at most a quarter of the mean spacing of the centers, within [4, 16] (measured at 1025×2049:
// finer cells leave fewer cells with several candidates but cost more to build), so that most
// cells lie inside one center's region. Levels of doubling cell size down from at most K/4
// cells: the top level filters all centers, each finer level its parent's list.
void panoptic_grid_build(const std::vector<float>& cy, const std::vector<float>& cx, int height,
                         int width, PanopticGrid* grid) {
  const int count = int(cy.size());
  const double spacing = std::sqrt(double(height) * width / count);
  int shift = 2;
  while (shift < 4 && double(int64_t(1) << (shift + 1)) <= spacing / 4) ++shift;
  const int32_t cell = int32_t(1) << shift;
  grid->shift = shift;
  grid->margin = 2 * cell;
  const int64_t extent_y = int64_t(height) + 2 * grid->margin,
                extent_x = int64_t(width) + 2 * grid->margin;
  auto make_level = [&](int level_shift, GridLevel* level) {
    level->size = int32_t(1) << level_shift;
    level->rows = int32_t((extent_y + level->size - 1) >> level_shift);
    level->cols = int32_t((extent_x + level->size - 1) >> level_shift);
  };
  int top = shift;
  while (top < 30) {
    GridLevel probe;
    make_level(top, &probe);
    if (int64_t(probe.rows) * probe.cols * 4 <= std::max(count, 4)) break;
    ++top;
  }
  // Fills a level's lists, cell (r, q) filtering list_of(r, q) (a sole candidate stays the sole
  // candidate of every part of its cell). The lists are written into uninitialized room of the
  // largest size they can reach (a vector would zero it first), then copied.
  auto fill_level = [&](GridLevel* level, size_t room, auto&& list_of) {
    level->start.assign(size_t(level->rows) * size_t(level->cols) + 1, 0);
    std::unique_ptr<int32_t[]> written(new int32_t[room]);
    int32_t used = 0;
    for (int32_t r = 0, cell = 0; r < level->rows; ++r)
      for (int32_t q = 0; q < level->cols; ++q, ++cell) {
        const std::pair<const int32_t*, int32_t> list = list_of(r, q);
        if (list.second == 1)
          written[size_t(used++)] = list.first[0];
        else
          used += filter_candidates(
              list.first, list.second, cy, cx, double(r) * level->size - grid->margin,
              double(q) * level->size - grid->margin, level->size, written.get() + used);
        level->start[size_t(cell) + 1] = used;
      }
    level->members.assign(written.get(), written.get() + used);
  };
  GridLevel parent, child;
  make_level(top, &parent);
  std::vector<int32_t> all(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) all[size_t(i)] = i;
  fill_level(
      &parent, size_t(parent.rows) * size_t(parent.cols) * size_t(count),
      [&](int32_t, int32_t) { return std::pair<const int32_t*, int32_t>(all.data(), count); });
  for (int level_shift = top - 1; level_shift >= shift; --level_shift) {
    make_level(level_shift, &child);
    // A child cell lists at most its parent's centers; a parent has at most four children.
    fill_level(&child, 4 * parent.members.size(), [&](int32_t r, int32_t q) {
      const size_t up = size_t((r >> 1) * parent.cols + (q >> 1));
      const int32_t begin = parent.start[up];
      return std::pair<const int32_t*, int32_t>(parent.members.data() + begin,
                                                parent.start[up + 1] - begin);
    });
    std::swap(parent, child);
  }
  grid->rows = parent.rows;
  grid->cols = parent.cols;
  grid->start = std::move(parent.start);
  grid->members = std::move(parent.members);
  const size_t cells = size_t(grid->rows) * size_t(grid->cols);
  grid->code.resize(cells);
  for (size_t c = 0; c < cells; ++c)
    grid->code[c] =
        grid->start[c + 1] - grid->start[c] == 1 ? grid->members[size_t(grid->start[c])] : -1;
  grid->member_y.resize(grid->members.size());
  grid->member_x.resize(grid->members.size());
  for (size_t j = 0; j < grid->members.size(); ++j) {
    grid->member_y[j] = cy[size_t(grid->members[j])];
    grid->member_x[j] = cx[size_t(grid->members[j])];
  }
}

PanopticCenterGrid panoptic_grid_view(const PanopticGrid& grid, const std::vector<float>& cy,
                                      const std::vector<float>& cx) {
  PanopticCenterGrid view;
  view.shift = grid.shift;
  view.margin = grid.margin;
  view.rows = grid.rows;
  view.cols = grid.cols;
  view.code = grid.code.data();
  view.start = grid.start.data();
  view.members = grid.members.data();
  view.member_y = grid.member_y.data();
  view.member_x = grid.member_x.data();
  view.center_y = cy.data();
  view.center_x = cx.data();
  view.centers = int32_t(cy.size());
  return view;
}

}  // namespace atrous
