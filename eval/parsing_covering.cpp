// Parsing covering from one image's overlap table; the rules are listed in the header.
#include "eval/parsing_covering.h"

#include <cstdint>
#include <limits>

namespace atrous {

ParsingCovering::ParsingCovering(std::vector<EvalCategory> categories, bool normalize_by_image_size)
    : categories_(categories), lookup_(std::move(categories)), normalize_(normalize_by_image_size) {
  weighted_iou_.assign(categories_.size(), 0.0);
  gt_area_.assign(categories_.size(), 0.0);
}

void ParsingCovering::add(const PanopticOverlap& o) {
  // pred areas over non-ignored gt pixels
  std::vector<int64_t> pred_area(o.pred_pixels.size(), 0);
  for (const auto& pair : o.pairs)
    if (pair.gt >= kPanopticGtFirst) pred_area[size_t(pair.pred)] += pair.pixels;
  std::vector<double> best(o.gt.size(), 0.0);
  for (const auto& pair : o.pairs) {
    if (pair.gt < kPanopticGtFirst || pair.pred < kPanopticPredFirst) continue;
    size_t g = size_t(pair.gt - kPanopticGtFirst), p = size_t(pair.pred - kPanopticPredFirst);
    if (o.gt[g].category_id != o.pred[p].category_id) continue;
    double gt_area = double(o.gt_pixels[size_t(pair.gt)]);
    double iou = double(pair.pixels) /
                 (gt_area + double(pred_area[size_t(pair.pred)]) - double(pair.pixels));
    if (iou > best[g]) best[g] = iou;
  }
  const double scale = normalize_ && o.pixels > 0 ? 1.0 / double(o.pixels) : 1.0;
  for (size_t g = 0; g < o.gt.size(); ++g) {
    int c = lookup_.category_index(o.gt[g].category_id);
    double area = double(o.gt_pixels[g + kPanopticGtFirst]);
    if (c < 0 || area == 0) continue;
    weighted_iou_[size_t(c)] += area * best[g] * scale;
    gt_area_[size_t(c)] += area * scale;
  }
}

void ParsingCovering::merge(const ParsingCovering& other) {
  for (size_t i = 0; i < weighted_iou_.size() && i < other.weighted_iou_.size(); ++i) {
    weighted_iou_[i] += other.weighted_iou_[i];
    gt_area_[i] += other.gt_area_[i];
  }
}

PcSummary ParsingCovering::summary() const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  PcSummary s;
  s.per_class.assign(categories_.size(), nan);
  double sums[3] = {0, 0, 0};
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < categories_.size(); ++i) {
    if (!(gt_area_[i] > 0)) continue;
    double cov = weighted_iou_[i] / gt_area_[i];
    s.per_class[i] = cov;
    sums[0] += cov;
    counts[0] += 1;
    int group = categories_[i].isthing ? 1 : 2;
    sums[group] += cov;
    counts[group] += 1;
  }
  s.all = counts[0] ? sums[0] / counts[0] : nan;
  s.things = counts[1] ? sums[1] / counts[1] : nan;
  s.stuff = counts[2] ? sums[2] / counts[2] : nan;
  return s;
}

}  // namespace atrous
