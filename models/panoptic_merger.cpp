// The panoptic merger (docs/PANOPTIC.md, "Algorithm" and "Sources"). Three passes over the rows,
// each split statically over threads:
//   1. semantic argmax (first maximum wins) or the labels' copy and range, and the centers: a
//      pixel is a center iff its value v is above the threshold and above 0 and no pixel of its
//      NMS window (clipped to the image) has a larger value. That is exactly "the max-pool of the
//      thresholded heatmap equals v" for both paddings: values at or below the threshold become
//      0 or −1 and the padding is 0 or −inf, all below v; and any value above v is above the
//      threshold. Only chunks of a row holding a value above the threshold are looked at; there
//      the 3×3 part of the window is tested first, for the whole chunk at once.
//   (serial: concatenate centers in row-major order, top-k with nth_element, build the grid)
//   2. instance map (kernels.assign_instances: nearest center per thing pixel, 0 elsewhere),
//      then per run of one class and one instance (kernels.runs): instance class
//      histograms, boxes and first raster positions, stuff areas and boxes;
//   (serial: majority vote, id assignment in the convention's order, stuff area rule)
//   3. panoptic values (kernels.panoptic_values: a table look-up by instance, or by class for
//      stuff), and the softmax probability sums for the instance scores.
// Every accumulation is an integer (counts, min/max, fixed-point probability sums), so the
// outputs are bitwise identical for any thread count. No buffer of the image's size is
// allocated besides the result's maps, which are written once each (a result passed again keeps
// its allocations, so repeated calls do not fault in fresh pages).
//
// Nearest center: the distance is computed as the reference does, in float32:
// p = float(y) + Δy, d = sqrt((cy − p_y)² + (cx − p_x)²), first index on equal d. A grid of
// cells (PanopticCenterGrid) lists, per cell, every center that can be nearest to some point of
// the cell (with a margin far above float rounding), in ascending index order, so the scan of a
// cell's list gives the same answer as the scan of all centers; a cell with one candidate needs
// no distance at all. The lists are built coarse to fine: a cell's candidates are a subset of
// its parent's. Points outside the grid (far outside the image, NaN, infinite) scan all
// centers; without the grid (params.spatial_grid false) every point does.
#include "models/panoptic_merger.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "cpu/isa.h"
#include "cpu/panoptic_kernels.h"
#include "graph/thread_pool.h"
#include "models/panoptic_grid.h"
#include "models/panoptic_merger_rules.h"

namespace atrous {
namespace {

// Calls fn(row_begin, row_end, part) for `parts` contiguous row ranges, one pool chunk each
// (the pool's chunks of [0, parts) are single parts when parts ≤ its thread count).
template <typename F>
void parallel_rows(ThreadPool& pool, int parts, int rows, F&& fn) {
  pool.parallel_for(parts, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      fn(int(int64_t(rows) * p / parts), int(int64_t(rows) * (p + 1) / parts), int(p));
  });
}

// A slot's box (rows y0..y1, columns x0..x1) and first raster position (read for centers only).
struct SlotStats {
  int32_t y0 = std::numeric_limits<int32_t>::max(), x0 = std::numeric_limits<int32_t>::max(),
          y1 = -1, x1 = -1;
  int32_t row_end = -1;  // the last column of the slot's last run so far in row y1 (pass 2 only)
  int64_t first = std::numeric_limits<int64_t>::max();
};

// Per part of the rows. Stuff classes and instances share the tables, so that a run updates
// them without a branch: slot c for stuff class c, slot classes + i for center i, and a last
// slot for thing pixels without a center (no centers at all), never read.
struct PartStats {
  std::vector<int64_t> count;  // stuff area per class, then centers × thing classes, then the spare
  std::vector<SlotStats> slot;       // per slot
  std::vector<int64_t> probability;  // per instance value (center + 1), fixed point
};

inline void slot_merge(SlotStats* into, const SlotStats& b) {
  into->y0 = std::min(into->y0, b.y0);
  into->x0 = std::min(into->x0, b.x0);
  into->y1 = std::max(into->y1, b.y1);
  into->x1 = std::max(into->x1, b.x1);
  into->first = std::min(into->first, b.first);
}

inline PanopticBox slot_box(const SlotStats& b) { return {b.y0, b.x0, b.y1, b.x1}; }

// Whether no pixel of rows [r0, r1] × columns [q0, q1] of `heat` is larger than v.
inline bool window_at_most(const float* heat, int64_t width, int r0, int r1, int q0, int q1,
                           float v) {
  for (int r = r0; r <= r1; ++r) {
    const float* row = heat + int64_t(r) * width;
    bool larger = false;
    for (int q = q0; q <= q1; ++q) larger |= row[q] > v;
    if (larger) return false;
  }
  return true;
}

// Pass 1's centers for row y (see the top of the file) in its candidate chunks, appended in
// raster order. The caller scans row y + 1 before (candidate_chunks), so that the 3×3 test
// finds the three rows in the cache.
void row_centers(const float* heat, int height, int width, int y, float limit, int before,
                 int after, const std::vector<int32_t>& chunks, int found,
                 std::vector<PanopticCenter>* centers) {
  const float* row = heat + int64_t(y) * width;
  const int near_before = std::min(before, 1), near_after = std::min(after, 1);
  constexpr int kChunk = kPanopticCenterChunk;
  for (int chunk = 0; chunk < found; ++chunk) {
    const int x0 = chunks[size_t(chunk)];
    const int n = std::min(kChunk, width - x0);
    if (before > 0 && after > 0 && y > 0 && y + 1 < height && x0 > 0 && x0 + n < width) {
      // Inside the image: the 3×3 test for the whole chunk at once (vectorized), then the full
      // window only at the 3×3 maxima.
      const float* up = row - width;
      const float* down = row + width;
      int32_t keep[kChunk];
      for (int k = 0; k < n; ++k) {
        const int x = x0 + k;
        const float v = row[x];
        keep[k] = (v > limit) & !(row[x - 1] > v) & !(row[x + 1] > v) & !(up[x - 1] > v) &
                  !(up[x] > v) & !(up[x + 1] > v) & !(down[x - 1] > v) & !(down[x] > v) &
                  !(down[x + 1] > v);
      }
      for (int k = 0; k < n; ++k) {
        if (!keep[k]) continue;
        const int x = x0 + k;
        if (window_at_most(heat, width, std::max(0, y - before), std::min(height - 1, y + after),
                           std::max(0, x - before), std::min(width - 1, x + after), row[x]))
          centers->push_back({y, x, row[x]});
      }
      continue;
    }
    for (int x = x0; x < x0 + n; ++x) {
      const float v = row[x];
      if (!(v > limit)) continue;
      // The row neighbours inside the window first: they reject most pixels of a slope.
      if ((before > 0 && x > 0 && row[x - 1] > v) || (after > 0 && x + 1 < width && row[x + 1] > v))
        continue;
      if (!window_at_most(heat, width, std::max(0, y - near_before),
                          std::min(height - 1, y + near_after), std::max(0, x - near_before),
                          std::min(width - 1, x + near_after), v))
        continue;
      if (!window_at_most(heat, width, std::max(0, y - before), std::min(height - 1, y + after),
                          std::max(0, x - before), std::min(width - 1, x + after), v))
        continue;
      centers->push_back({y, x, v});
    }
  }
}

}  // namespace

Status panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params, int threads,
                      PanopticResult* result) {
  if (threads < 1) return Status::error("panoptic merge: threads must be >= 1");
  ThreadPool pool(threads);
  return panoptic_merge(inputs, params, pool, result);
}

Status panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params, ThreadPool& pool,
                      PanopticResult* result) {
  ATROUS_RETURN_IF_ERROR(panoptic_params_validate(params));
  PanopticGeometry g;
  ATROUS_RETURN_IF_ERROR(panoptic_check_inputs(inputs, &g));
  const int H = g.height, W = g.width;
  const int64_t HW = int64_t(H) * W;
  const int parts = std::min(pool.threads(), H);
  const PanopticKernels& kernels = panoptic_kernels(cpu_isa_detect());
  const int32_t void_value = panoptic_void_value(params);
  result->height = H;
  result->width = W;
  result->void_value = void_value;
  // Every element is written by the passes below; resize keeps a reused result's memory.
  result->semantic.resize(size_t(HW));
  result->instance.resize(size_t(HW));
  result->panoptic.resize(size_t(HW));
  result->centers.clear();
  result->segments.clear();
  int32_t* semantic = result->semantic.data();
  const float* heat = inputs.center.f32();
  const float* offset_y = inputs.offset.f32();
  const float* offset_x = offset_y + HW;

  // ---- pass 1: semantic, centers -----------------------------------------------------------
  // Candidates: v > threshold and v > 0 (a NaN threshold or value is never above it).
  const float limit = std::max(params.center_threshold, 0.0f);
  const int before = (params.nms_kernel - 1) / 2, after = params.nms_kernel - 1 - before;
  std::vector<std::vector<PanopticCenter>> part_centers(static_cast<size_t>(parts));
  std::vector<int64_t> part_low(size_t(parts), std::numeric_limits<int64_t>::max());
  std::vector<int64_t> part_high(size_t(parts), std::numeric_limits<int64_t>::min());
  const int32_t label_bytes = int32_t(dtype_size(g.label_type));
  parallel_rows(pool, parts, H, [&](int y0, int y1, int part) {
    int64_t low = part_low[size_t(part)], high = part_high[size_t(part)];
    std::vector<int32_t> chunks, next_chunks;
    chunks.resize(size_t(W / kPanopticCenterChunk + 1));
    next_chunks.resize(chunks.size());
    // The semantic map of the part at once; strict > keeps the first maximum.
    const int64_t begin = int64_t(y0) * W;
    const int32_t count = int32_t(int64_t(y1 - y0) * W);
    if (g.logits)
      kernels.argmax_first(g.logit_data + begin, semantic + begin, g.classes, HW, count);
    else
      kernels.copy_labels(static_cast<const char*>(g.label_data) + begin * label_bytes, label_bytes,
                          semantic + begin, count, &low, &high);
    int found = kernels.candidate_chunks(heat + int64_t(y0) * W, W, limit, chunks.data());
    for (int y = y0; y < y1; ++y) {
      const int next_found = y + 1 < H ? kernels.candidate_chunks(heat + int64_t(y + 1) * W, W,
                                                                  limit, next_chunks.data())
                                       : 0;
      row_centers(heat, H, W, y, limit, before, after, chunks, found, &part_centers[size_t(part)]);
      chunks.swap(next_chunks);
      found = next_found;
    }
    part_low[size_t(part)] = low;
    part_high[size_t(part)] = high;
  });
  if (!g.logits) {
    const int64_t low = *std::min_element(part_low.begin(), part_low.end());
    const int64_t high = *std::max_element(part_high.begin(), part_high.end());
    ATROUS_RETURN_IF_ERROR(panoptic_check_label_range(low, high));
    g.classes = high + 1;
  }
  std::vector<PanopticCenter> centers;
  for (auto& list : part_centers) centers.insert(centers.end(), list.begin(), list.end());

  // Classes: things sorted ascending, so the vote's first maximum is the smallest class id.
  const int64_t classes = g.classes;
  std::vector<int32_t> things, thing_index;
  panoptic_thing_table(params, classes, &things, &thing_index);
  const int T = int(things.size());

  // ---- top-k -------------------------------------------------------------------------------
  panoptic_top_k(params, &centers);
  const int K = int(centers.size());
  ATROUS_RETURN_IF_ERROR(panoptic_check_value_range(classes, params.label_divisor, K));
  result->centers = centers;
  std::vector<float> cy(static_cast<size_t>(K)), cx(static_cast<size_t>(K));
  for (int i = 0; i < K; ++i) {
    cy[size_t(i)] = float(centers[size_t(i)].y);
    cx[size_t(i)] = float(centers[size_t(i)].x);
  }
  PanopticGrid grid;
  // Without the grid (no cells) every point scans all centers: the reference path.
  if (params.spatial_grid && K > 0) panoptic_grid_build(cy, cx, H, W, &grid);
  const PanopticCenterGrid grid_view = panoptic_grid_view(grid, cy, cx);

  // ---- pass 2: grouping and statistics -----------------------------------------------------
  std::vector<float> is_thing(size_t(classes), 0.0f);
  for (int64_t c = 0; c < classes; ++c)
    is_thing[size_t(c)] = thing_index[size_t(c)] >= 0 ? 1.0f : 0.0f;
  std::vector<PartStats> stats(static_cast<size_t>(parts));
  int32_t* instance = result->instance.data();
  // Per class: the slot and counter of its pixels that have no instance (stuff: its own; a thing
  // class: the spare ones), and its thing index (0 for stuff, never used with an instance).
  const size_t spare_count = size_t(classes) + size_t(K) * size_t(T),
               spare_slot = size_t(classes) + size_t(K);
  // The runs' slots and counters are int32.
  if (spare_count >= size_t(std::numeric_limits<int32_t>::max()))
    return Status::error("panoptic merge: " + std::to_string(K) + " centers × " +
                         std::to_string(T) +
                         " thing classes is too many (at most 2^31 instance-class pairs)");
  struct ClassRoute {
    int64_t slot, counter, thing;
  };
  std::vector<ClassRoute> routes(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) {
    const bool thing = thing_index[size_t(c)] >= 0;
    routes[size_t(c)] = {thing ? int64_t(spare_slot) : c, thing ? int64_t(spare_count) : c,
                         thing ? thing_index[size_t(c)] : 0};
  }
  parallel_rows(pool, parts, H, [&](int y0, int y1, int part) {
    PartStats& s = stats[size_t(part)];
    s.count.assign(spare_count + 1, 0);
    s.slot.assign(spare_slot + 1, SlotStats());
    // Per run of a row: start (and the row's end), label, instance, slot, counter.
    std::vector<int32_t> run_table(5 * (static_cast<size_t>(W) + 17));
    int32_t* const start = run_table.data();
    int32_t* const run_label = start + W + 17;
    int32_t* const run_instance = run_label + W + 17;
    int32_t* const run_slot = run_instance + W + 17;
    int32_t* const run_counter = run_slot + W + 17;
    // Locals, so that the loop over runs keeps them in registers (its stores could alias them).
    int64_t* const count = s.count.data();
    SlotStats* const slots = s.slot.data();
    const ClassRoute* const route = routes.data();
    const int64_t instance_slot = classes - 1, instance_counter = classes - int64_t(T), things = T;
    for (int y = y0; y < y1; ++y) {
      const int64_t base = int64_t(y) * W;
      const int32_t* labels = semantic + base;
      int32_t* owner = instance + base;
      kernels.assign_instances(grid_view, y, W, labels, is_thing.data(), int32_t(classes),
                               offset_y + base, offset_x + base, owner);
      // Runs of one class and one instance: their pixels counted at once. Instance o > 0 (thing
      // pixels only) has slot classes + o − 1 and counter classes + (o − 1)·T + thing index;
      // chosen by a mask, not a branch: the runs alternate unpredictably.
      const int32_t runs = kernels.runs(labels, owner, W, start, run_label, run_instance);
      // First each run's slot and counter (no stores to the tables), then the updates: their
      // addresses are then known early (computed in the same loop, a store's address arrives
      // late and loads that turn out to alias it are replayed).
      for (int32_t r = 0; r < runs; ++r) {
        const ClassRoute& to = route[run_label[r]];
        const int64_t o = run_instance[r];
        const int64_t has = -int64_t(o > 0);
        run_slot[r] = int32_t(to.slot ^ ((to.slot ^ (instance_slot + o)) & has));
        run_counter[r] =
            int32_t(to.counter ^ ((to.counter ^ (instance_counter + o * things + to.thing)) & has));
      }
      for (int32_t r = 0; r < runs; ++r) {
        const int32_t x = start[r], end = start[r + 1];
        count[run_counter[r]] += end - x;
        // Rows come in order and runs by x. The slot's first run in the part sets y0 and first,
        // its first run in a row is its leftmost there, and its last run in a row its rightmost:
        // each run records its end, and x1 takes the row's last one when the slot reaches a new
        // row (and at the end of the part).
        SlotStats& b = slots[run_slot[r]];
        if (b.y1 != y) {
          if (b.y1 < 0) {
            b.y0 = y;
            b.first = base + x;
          }
          b.y1 = y;
          b.x0 = std::min(b.x0, x);
          b.x1 = std::max(b.x1, b.row_end);
        }
        b.row_end = end - 1;
      }
    }
    for (SlotStats& b : s.slot) b.x1 = std::max(b.x1, b.row_end);
  });

  // ---- vote, ids, stuff rule ---------------------------------------------------------------
  std::vector<int64_t> histogram(size_t(K) * size_t(T), 0);
  std::vector<SlotStats> box(static_cast<size_t>(K)), stuff_box(static_cast<size_t>(classes));
  std::vector<int64_t> stuff_area(size_t(classes), 0);
  for (const PartStats& s : stats) {
    for (size_t j = 0; j < histogram.size(); ++j) histogram[j] += s.count[size_t(classes) + j];
    for (int i = 0; i < K; ++i) slot_merge(&box[size_t(i)], s.slot[size_t(classes) + size_t(i)]);
    for (int64_t c = 0; c < classes; ++c) {
      stuff_area[size_t(c)] += s.count[size_t(c)];
      slot_merge(&stuff_box[size_t(c)], s.slot[size_t(c)]);
    }
  }
  std::vector<PanopticInstanceSummary> summaries(static_cast<size_t>(K));
  for (int i = 0; i < K; ++i) {
    const int64_t* h = histogram.data() + size_t(i) * size_t(T);  // T may be 0: no things
    PanopticInstanceSummary& s = summaries[size_t(i)];
    for (int t = 1; t < T; ++t)
      if (h[t] > h[s.thing]) s.thing = t;
    for (int t = 0; t < T; ++t) s.area += h[t];
    s.first = box[size_t(i)].first;
    s.box = slot_box(box[size_t(i)]);
  }
  std::vector<PanopticStuffSummary> stuff(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c)
    stuff[size_t(c)] = {stuff_area[size_t(c)], slot_box(stuff_box[size_t(c)])};
  PanopticAssignment assignment;
  panoptic_assign_segments(params, things, thing_index, centers, summaries, stuff, HW, &assignment);
  const std::vector<int32_t>& value_of = assignment.value_of;
  const std::vector<int32_t>& class_of = assignment.class_of;
  const std::vector<int32_t>& stuff_value = assignment.stuff_value;

  // ---- pass 3: panoptic values and probability sums ----------------------------------------
  const bool scores = g.logits && params.compute_scores;
  int32_t* panoptic = result->panoptic.data();
  // By instance value (0: a thing pixel without a center), and by class for stuff.
  std::vector<int32_t> value_by_owner(size_t(K) + 1, void_value);
  for (int i = 0; i < K; ++i) value_by_owner[size_t(i) + 1] = value_of[size_t(i)];
  std::vector<int32_t> class_by_owner(size_t(K) + 1, -1);
  for (int i = 0; i < K; ++i) class_by_owner[size_t(i) + 1] = class_of[size_t(i)];
  parallel_rows(pool, parts, H, [&](int y0, int y1, int part) {
    PartStats& s = stats[size_t(part)];
    // All rows of the part at once. Stuff pixels have owner 0 and thing classes have stuff_value
    // void.
    const int64_t begin = int64_t(y0) * W;
    kernels.panoptic_values(semantic + begin, instance + begin, int32_t(int64_t(y1 - y0) * W),
                            stuff_value.data(), int32_t(classes), value_by_owner.data(),
                            panoptic + begin);
    if (!scores) return;
    // Fixed-point probabilities per pixel (kernels.instance_probability), summed by instance
    // value (slot 0, for pixels without an instance, gets zeros).
    s.probability.assign(size_t(K) + 1, 0);
    int64_t* const sums = s.probability.data();
    std::vector<int64_t> amount(static_cast<size_t>(W));
    for (int y = y0; y < y1; ++y) {
      const int64_t base = int64_t(y) * W;
      const int32_t* owner = instance + base;
      kernels.instance_probability(g.logit_data + base, classes, HW, owner, class_by_owner.data(),
                                   W, amount.data());
      for (int x = 0; x < W; ++x) sums[owner[x]] += amount[size_t(x)];
    }
  });
  if (scores) {
    std::vector<int64_t> sums(static_cast<size_t>(K), 0);
    for (const PartStats& s : stats)
      for (int i = 0; i < K; ++i) sums[size_t(i)] += s.probability[size_t(i) + 1];
    panoptic_instance_scores(sums, centers, &assignment.segments);
  }
  result->segments = std::move(assignment.segments);
  return Status::success();
}

}  // namespace atrous
