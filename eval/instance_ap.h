// Cityscapes instance-level AP (cityscapesScripts' evalInstanceLevelSemanticLabeling;
// docs/EVAL.md). Per image and class the caller lists the gt regions of that class (instance ids ≥
// 1000 are instances, < 1000 are groups) and the predicted masks with their intersections with
// those gt regions. At the end, for each class and overlap threshold t in 0.5, 0.55, …, 0.95:
// - gt kept iff id ≥ 1000 and pixels ≥ min_region (100); each pred with IoU > t matches it:
//   the first match is a TP with its confidence, every further one an FP with the lower of the
//   two scores (the gt keeps the higher); a kept gt without a match is a "hard" FN;
// - a pred that matches no gt at all (groups and small ones included) is an FP unless its ignored
//   share (∩ VOID + ∩ groups + ∩ gt failing the size filter) / area > t;
// - precision/recall at each distinct score, plus the end point (P = 1, R = 0); AP = Σ P·w with
//   w from convolving the recall curve with [−½, 0, ½]; NaN with no gt and no pred, 0 with gt
//   and no pred. AP = NaN-mean over classes × thresholds, AP50 = NaN-mean at t = 0.5.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atrous {

struct ApGt {
  int32_t instance_id = 0;  // as in *_instanceIds.png
  int64_t pixels = 0;
};

struct ApPrediction {
  int64_t pixels = 0;
  double confidence = 0;
  int64_t void_pixels = 0;  // ∩ gt pixels of ignored labels
  std::vector<std::pair<int, int64_t>>
      overlaps;  // (index into the image's gt list of this class, ∩)
};

// One image, one class.
struct ApClassImage {
  std::vector<ApGt> gt;
  std::vector<ApPrediction> predictions;  // in the order of the prediction file
};

struct ApSummary {
  double ap = 0, ap50 = 0;           // NaN when no class has data
  std::vector<double> per_class_ap;  // mean over thresholds (NaN propagates, as np.average)
  std::vector<double> per_class_ap50;
  std::vector<std::vector<double>> table;  // [class][threshold]
};

class InstanceAp {
 public:
  InstanceAp() = default;
  explicit InstanceAp(int classes, int64_t min_region = 100);
  // `per_class` has one entry per class.
  void add_image(std::vector<ApClassImage> per_class);
  void merge(InstanceAp&& other);
  InstanceAp empty_like() const { return InstanceAp(int(images_.size()), min_region_); }
  ApSummary summary() const;
  static std::vector<double> thresholds();

 private:
  int64_t min_region_ = 100;
  std::vector<std::vector<ApClassImage>> images_;  // [class][image]
};

// The AP of one precision/recall problem: `scores`/`is_true` of the examples, `hard_fn` gt never
// matched. Exposed for tests.
double instance_ap_from_examples(const std::vector<double>& scores, const std::vector<int>& is_true,
                                 int64_t hard_fn);

}  // namespace atrous
