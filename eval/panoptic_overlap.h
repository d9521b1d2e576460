// The pixel statistics of one (ground truth, prediction) pair of panoptic segment-id maps:
// segment areas and the area of every (gt segment, pred segment) intersection. Panoptic
// quality and parsing covering are both computed from this table, so each image is scanned
// once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/status.h"

namespace atrous {

// One segment of a panoptic annotation (COCO `segments_info` entry).
struct PanopticSegment {
  uint32_t id = 0;          // the PNG id, R + 256·G + 256²·B
  int category_id = 0;
  bool iscrowd = false;
  int64_t area = -1;        // the JSON `area` (ground truth); -1 when absent
};

// Indices: gt index 0 = VOID (id 0), 1 = ids that the PNG has but the JSON does not list
// (ignored by PQ, as panopticapi skips them), 2 + k = gt segment k. Pred index 0 = VOID (id 0),
// 1 + k = pred segment k.
constexpr int kPanopticGtVoid = 0;
constexpr int kPanopticGtUnlisted = 1;
constexpr int kPanopticGtFirst = 2;
constexpr int kPanopticPredVoid = 0;
constexpr int kPanopticPredFirst = 1;

struct PanopticPairCount {
  int gt = 0;
  int pred = 0;
  int64_t pixels = 0;
};

struct PanopticOverlap {
  int64_t pixels = 0;                       // image size
  std::vector<PanopticSegment> gt;          // gt segments (index 2 + k ↔ gt[k])
  std::vector<PanopticSegment> pred;        // pred segments (index 1 + k ↔ pred[k])
  std::vector<int64_t> gt_pixels;           // PNG area per gt index
  std::vector<int64_t> pred_pixels;         // PNG area per pred index
  std::vector<PanopticPairCount> pairs;     // non-zero intersections, sorted by (gt, pred)
};

// Scans the two id maps (`pixels` values each). `pred_ids` may be null: a missing prediction,
// all VOID. Errors (as panopticapi raises them): duplicate segment ids in either list, a
// non-zero pred PNG id that the pred list lacks, a pred segment listed but absent from the PNG.
Status panoptic_overlap_compute(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels,
                                const std::vector<PanopticSegment>& gt_segments,
                                const std::vector<PanopticSegment>& pred_segments, PanopticOverlap* overlap);

}  // namespace atrous
