// Parsing Covering (DeeperLab; docs/EVAL.md, "Metrics"):
// - pixels whose ground truth is ignored (VOID, or ids the gt list lacks) count nowhere;
// - each gt region R of class c is covered by the best pred region R′ of the same class:
//   IoU(R, R′) = |R ∩ R′| / (|R| + |R′| − |R ∩ R′|), |R′| counted over non-ignored pixels only;
// - Cov_c = Σ_R |R|·maxIoU(R) / Σ_R |R| over the dataset; with normalize_by_image_size (the
//   default) each image's areas and weighted IoUs are first divided by its pixel count;
// - PC = mean of Cov_c over the classes with gt area > 0.
// Crowd gt segments are regions like any other (the metric has no crowd rule).
#pragma once

#include <vector>

#include "eval/panoptic_overlap.h"
#include "eval/panoptic_quality.h"

namespace atrous {

struct PcSummary {
  double all = 0, things = 0, stuff = 0;  // NaN when no class has gt area
  std::vector<double> per_class;          // NaN for classes without gt area
};

class ParsingCovering {
 public:
  explicit ParsingCovering(std::vector<EvalCategory> categories,
                           bool normalize_by_image_size = true);
  // Segments with unknown categories are skipped (PanopticQuality::add reports them).
  void add(const PanopticOverlap& overlap);
  void merge(const ParsingCovering& other);
  ParsingCovering empty_like() const { return ParsingCovering(categories_, normalize_); }
  PcSummary summary() const;

 private:
  std::vector<EvalCategory> categories_;
  PanopticQuality lookup_;  // category id → index
  bool normalize_;
  std::vector<double> weighted_iou_, gt_area_;
};

}  // namespace atrous
