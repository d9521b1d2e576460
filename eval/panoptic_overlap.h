// The pixel statistics of one (ground truth, prediction) pair of panoptic segment-id maps:
// segment areas and the area of every (gt segment, pred segment) intersection. Panoptic
// quality and parsing covering are both computed from this table, so each image is scanned
// once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "graph/status.h"

namespace atrous {

// One segment of a panoptic annotation (COCO `segments_info` entry).
struct PanopticSegment {
  uint32_t id = 0;  // the PNG id, R + 256·G + 256²·B
  int category_id = 0;
  bool iscrowd = false;
  int64_t area = -1;  // the JSON `area` (ground truth); -1 when absent
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
  int64_t pixels = 0;                    // image size
  std::vector<PanopticSegment> gt;       // gt segments (index 2 + k ↔ gt[k])
  std::vector<PanopticSegment> pred;     // pred segments (index 1 + k ↔ pred[k])
  std::vector<int64_t> gt_pixels;        // PNG area per gt index
  std::vector<int64_t> pred_pixels;      // PNG area per pred index
  std::vector<PanopticPairCount> pairs;  // non-zero intersections, sorted by (gt, pred)
};

// The same statistics accumulated piece by piece (e.g. row by row while two PNGs are decoded
// together): start(), add() over consecutive stretches of pixels, finish(). Runs of equal
// (gt, pred) pairs carry over from one add() to the next.
class PanopticOverlapCounter {
 public:
  // Errors: duplicate segment ids in either list.
  Status start(const std::vector<PanopticSegment>& gt_segments,
               const std::vector<PanopticSegment>& pred_segments);
  // `pred_ids` null = VOID.
  void add(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels);
  // The other errors of panoptic_overlap_compute.
  Status finish(PanopticOverlap* overlap);

 private:
  void flush();
  int gt_index(uint32_t id);
  int pred_index(uint32_t id);

  PanopticOverlap result_;
  std::unordered_map<uint32_t, int> gt_map_, pred_map_;
  uint32_t gt_last_id_ = 0, pred_last_id_ = 0;
  int gt_last_ = -2, pred_last_ = -2;
  bool dense_ = true;
  size_t pred_count_ = 0;
  std::vector<int64_t> table_;
  std::unordered_map<uint64_t, int64_t> sparse_;
  bool has_unknown_pred_ = false;
  uint32_t unknown_pred_ = 0;
  uint32_t run_gt_ = 0, run_pred_ = 0;
  int64_t run_ = 0;
};

// Scans the two id maps (`pixels` values each). `pred_ids` may be null: a missing prediction,
// all VOID. Errors (as panopticapi raises them): duplicate segment ids in either list, a
// non-zero pred PNG id that the pred list lacks, a pred segment listed but absent from the PNG.
Status panoptic_overlap_compute(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels,
                                const std::vector<PanopticSegment>& gt_segments,
                                const std::vector<PanopticSegment>& pred_segments,
                                PanopticOverlap* overlap);

}  // namespace atrous
