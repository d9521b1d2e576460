// Mean IoU from a confusion matrix, with cityscapesScripts' pixel-level semantics (docs/EVAL.md):
// rows are gt labels, columns predicted labels, both in [0, size). For an evaluated class c:
// TP = M[c][c]; FN = row sum − TP (predictions of non-evaluated labels count as misses);
// FP = Σ M[r][c] over evaluated rows r ≠ c (pixels whose gt is not evaluated never make an FP).
// IoU = TP / (TP + FP + FN); NaN for non-evaluated classes and for a zero denominator. mIoU is
// the mean over the non-NaN IoUs of the evaluated classes (NaN if there are none).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/status.h"

namespace atrous {

class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  // `evaluated[c]` marks the classes that get an IoU; its size is the matrix size.
  explicit ConfusionMatrix(std::vector<bool> evaluated);

  int size() const { return int(evaluated_.size()); }
  void add(int gt, int pred, uint64_t pixels) {
    counts_[size_t(gt) * evaluated_.size() + size_t(pred)] += pixels;
  }
  // Adds a pair of 8-bit label maps; `pred` null = missing prediction (counted as label
  // `missing_label`). Errors for values ≥ size().
  Status add_labels(const uint8_t* gt, const uint8_t* pred, size_t pixels, int missing_label = 0);
  void merge(const ConfusionMatrix& other);
  ConfusionMatrix empty_like() const { return ConfusionMatrix(evaluated_); }

  uint64_t at(int gt, int pred) const {
    return counts_[size_t(gt) * evaluated_.size() + size_t(pred)];
  }
  double iou(int c) const;
  double mean_iou() const;

 private:
  std::vector<bool> evaluated_;
  std::vector<uint64_t> counts_;
};

}  // namespace atrous
