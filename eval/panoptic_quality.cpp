// PQ accumulation from one image's overlap table; the rules are listed in the header.
#include "eval/panoptic_quality.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace atrous {

PanopticQuality::PanopticQuality(std::vector<EvalCategory> categories)
    : categories_(std::move(categories)) {
  for (size_t i = 0; i < categories_.size(); ++i) index_.emplace(categories_[i].id, int(i));
  counts_.assign(categories_.size(), PqCounts());
}

int PanopticQuality::category_index(int category_id) const {
  auto it = index_.find(category_id);
  return it == index_.end() ? -1 : it->second;
}

Status PanopticQuality::add(const PanopticOverlap& o) {
  std::vector<int> gt_class(o.gt.size()), pred_class(o.pred.size());
  for (size_t k = 0; k < o.gt.size(); ++k) {
    gt_class[k] = category_index(o.gt[k].category_id);
    if (gt_class[k] < 0)
      return Status::error("ground truth segment " + std::to_string(o.gt[k].id) +
                           " has unknown category id " + std::to_string(o.gt[k].category_id));
  }
  for (size_t k = 0; k < o.pred.size(); ++k) {
    pred_class[k] = category_index(o.pred[k].category_id);
    if (pred_class[k] < 0)
      return Status::error("predicted segment " + std::to_string(o.pred[k].id) +
                           " has unknown category id " + std::to_string(o.pred[k].category_id));
  }
  // |pred ∩ VOID| per pred index, from the pairs with gt VOID.
  std::vector<int64_t> pred_void(o.pred_pixels.size(), 0);
  for (const auto& pair : o.pairs)
    if (pair.gt == kPanopticGtVoid) pred_void[size_t(pair.pred)] += pair.pixels;
  std::vector<bool> gt_matched(o.gt.size(), false), pred_matched(o.pred.size(), false);
  for (const auto& pair : o.pairs) {
    if (pair.gt < kPanopticGtFirst || pair.pred < kPanopticPredFirst) continue;
    size_t g = size_t(pair.gt - kPanopticGtFirst), p = size_t(pair.pred - kPanopticPredFirst);
    const PanopticSegment& gt = o.gt[g];
    if (gt.iscrowd || gt.category_id != o.pred[p].category_id) continue;
    int64_t gt_area = gt.area >= 0 ? gt.area : o.gt_pixels[size_t(pair.gt)];
    double union_area = double(o.pred_pixels[size_t(pair.pred)]) + double(gt_area) -
                        double(pair.pixels) - double(pred_void[size_t(pair.pred)]);
    double iou = double(pair.pixels) / union_area;
    if (iou > 0.5) {
      PqCounts& c = counts_[size_t(gt_class[g])];
      c.tp += 1;
      c.iou += iou;
      gt_matched[g] = true;
      pred_matched[p] = true;
    }
  }
  // Crowd region per category: the last crowd gt segment of that category.
  std::unordered_map<int, int> crowd_of_category;  // category id → gt index
  for (size_t g = 0; g < o.gt.size(); ++g) {
    if (gt_matched[g]) continue;
    if (o.gt[g].iscrowd) {
      crowd_of_category[o.gt[g].category_id] = int(g) + kPanopticGtFirst;
      continue;
    }
    counts_[size_t(gt_class[g])].fn += 1;
  }
  // |pred ∩ crowd gt of the pred's category|
  std::vector<int64_t> pred_crowd(o.pred_pixels.size(), 0);
  if (!crowd_of_category.empty()) {
    for (const auto& pair : o.pairs) {
      if (pair.gt < kPanopticGtFirst || pair.pred < kPanopticPredFirst) continue;
      auto it = crowd_of_category.find(o.pred[size_t(pair.pred - kPanopticPredFirst)].category_id);
      if (it != crowd_of_category.end() && it->second == pair.gt)
        pred_crowd[size_t(pair.pred)] += pair.pixels;
    }
  }
  for (size_t p = 0; p < o.pred.size(); ++p) {
    if (pred_matched[p] || o.pred[p].id == 0) continue;
    size_t index = p + kPanopticPredFirst;
    double ignored = double(pred_void[index] + pred_crowd[index]);
    if (ignored / double(o.pred_pixels[index]) > 0.5) continue;
    counts_[size_t(pred_class[p])].fp += 1;
  }
  return Status::success();
}

void PanopticQuality::merge(const PanopticQuality& other) {
  for (size_t i = 0; i < counts_.size() && i < other.counts_.size(); ++i) {
    counts_[i].tp += other.counts_[i].tp;
    counts_[i].fp += other.counts_[i].fp;
    counts_[i].fn += other.counts_[i].fn;
    counts_[i].iou += other.counts_[i].iou;
  }
}

PqSummary PanopticQuality::summary() const {
  PqSummary s;
  s.per_class.resize(counts_.size());
  PqValues* groups[3] = {&s.all, &s.things, &s.stuff};
  for (size_t i = 0; i < counts_.size(); ++i) {
    const PqCounts& c = counts_[i];
    if (c.tp + c.fp + c.fn == 0) continue;
    double denominator = double(c.tp) + 0.5 * double(c.fp) + 0.5 * double(c.fn);
    PqValues& v = s.per_class[i];
    v.pq = c.iou / denominator;
    v.sq = c.tp ? c.iou / double(c.tp) : 0.0;
    v.rq = double(c.tp) / denominator;
    v.classes = 1;
    for (PqValues* g : groups) {
      if (g == &s.things && !categories_[i].isthing) continue;
      if (g == &s.stuff && categories_[i].isthing) continue;
      g->pq += v.pq;
      g->sq += v.sq;
      g->rq += v.rq;
      g->classes += 1;
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (PqValues* g : groups) {
    if (g->classes == 0) {
      g->pq = g->sq = g->rq = nan;
      continue;
    }
    g->pq /= g->classes;
    g->sq /= g->classes;
    g->rq /= g->classes;
  }
  return s;
}

}  // namespace atrous
