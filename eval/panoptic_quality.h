// Panoptic quality (PQ = SQ · RQ) with panopticapi semantics (docs/EVAL.md, "Metrics"), also used
// by cityscapesScripts' panoptic evaluation:
// - a (gt, pred) pair matches when the categories agree, the gt is not crowd, and
//   IoU = ∩ / (A_pred + A_gt − ∩ − |pred ∩ VOID|) > 0.5 (strictly). A_gt is the JSON `area`
//   when given, else the PNG area;
// - unmatched non-crowd gt → FN; unmatched pred → FP unless (|pred ∩ VOID| + |pred ∩ crowd gt
//   of its category|) / A_pred > 0.5 (the crowd region is the last crowd segment of that
//   category in the gt list, as panopticapi keeps one per category);
// - per class PQ = Σ IoU / (TP + ½FP + ½FN), SQ = Σ IoU / TP (0 when TP = 0),
//   RQ = TP / (TP + ½FP + ½FN); classes with TP + FP + FN = 0 are skipped in the averages
//   (their per-class values are 0, as the official functions report them).
// Per-image results merge by addition; merge in image order for bit-identical sums.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/panoptic_overlap.h"
#include "graph/status.h"

namespace atrous {

struct EvalCategory {
  int id = 0;
  std::string name;
  bool isthing = false;
};

struct PqCounts {
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t fn = 0;
  double iou = 0;  // Σ IoU over the TPs
};

struct PqValues {
  double pq = 0, sq = 0, rq = 0;
  int classes = 0;  // classes averaged
};

struct PqSummary {
  PqValues all, things, stuff;      // NaN when no class counts
  std::vector<PqValues> per_class;  // in category order; `classes` is 1 when the class counts
};

class PanopticQuality {
 public:
  explicit PanopticQuality(std::vector<EvalCategory> categories);

  // Adds one image. Errors: a segment whose category id is not in the category list.
  Status add(const PanopticOverlap& overlap);
  void merge(const PanopticQuality& other);

  const std::vector<EvalCategory>& categories() const { return categories_; }
  const std::vector<PqCounts>& counts() const { return counts_; }
  // Index of a category id, or -1.
  int category_index(int category_id) const;
  PqSummary summary() const;

 private:
  std::vector<EvalCategory> categories_;
  std::unordered_map<int, int> index_;
  std::vector<PqCounts> counts_;
};

}  // namespace atrous
