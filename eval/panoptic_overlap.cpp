// Run-length scan of two id maps: consecutive pixels with the same (gt, pred) id pair are counted
// together, so the hash look-ups happen once per run, not once per pixel. Intersections go into
// a dense (gt × pred) table when it is small, a hash map otherwise.
#include "eval/panoptic_overlap.h"

#include <algorithm>
#include <cstdint>

namespace atrous {

Status PanopticOverlapCounter::start(const std::vector<PanopticSegment>& gt_segments,
                                     const std::vector<PanopticSegment>& pred_segments) {
  result_ = PanopticOverlap();
  result_.gt = gt_segments;
  result_.pred = pred_segments;
  gt_map_.clear();
  pred_map_.clear();
  for (size_t k = 0; k < gt_segments.size(); ++k) {
    if (gt_segments[k].id == 0) continue;  // id 0 is VOID whatever the list says
    if (!gt_map_.emplace(gt_segments[k].id, int(k) + kPanopticGtFirst).second)
      return Status::error("ground truth segment id " + std::to_string(gt_segments[k].id) +
                           " is listed twice");
  }
  for (size_t k = 0; k < pred_segments.size(); ++k) {
    if (pred_segments[k].id == 0) continue;
    if (!pred_map_.emplace(pred_segments[k].id, int(k) + kPanopticPredFirst).second)
      return Status::error("predicted segment id " + std::to_string(pred_segments[k].id) +
                           " is listed twice");
  }
  gt_map_.emplace(0u, kPanopticGtVoid);
  pred_map_.emplace(0u, kPanopticPredVoid);
  const size_t gt_count = gt_segments.size() + kPanopticGtFirst;
  pred_count_ = pred_segments.size() + kPanopticPredFirst;
  result_.gt_pixels.assign(gt_count, 0);
  result_.pred_pixels.assign(pred_count_, 0);
  dense_ = gt_count * pred_count_ <= (size_t(1) << 22);
  table_.assign(dense_ ? gt_count * pred_count_ : 0, 0);
  sparse_.clear();
  gt_last_ = pred_last_ = -2;
  has_unknown_pred_ = false;
  run_ = 0;
  return Status::success();
}

// id → index with a one-entry cache (ids repeat in runs).
int PanopticOverlapCounter::gt_index(uint32_t id) {
  if (id == gt_last_id_ && gt_last_ >= -1) return gt_last_;
  auto it = gt_map_.find(id);
  gt_last_id_ = id;
  gt_last_ = it == gt_map_.end() ? kPanopticGtUnlisted : it->second;
  return gt_last_;
}

int PanopticOverlapCounter::pred_index(uint32_t id) {
  if (id == pred_last_id_ && pred_last_ >= -1) return pred_last_;
  auto it = pred_map_.find(id);
  pred_last_id_ = id;
  pred_last_ = it == pred_map_.end() ? -1 : it->second;
  return pred_last_;
}

void PanopticOverlapCounter::flush() {
  if (run_ == 0) return;
  const int g = gt_index(run_gt_);
  const int p = pred_index(run_pred_);
  if (p < 0) {
    if (!has_unknown_pred_) unknown_pred_ = run_pred_;
    has_unknown_pred_ = true;
  } else if (dense_) {
    table_[size_t(g) * pred_count_ + size_t(p)] += run_;
  } else {
    sparse_[uint64_t(g) * pred_count_ + uint64_t(p)] += run_;
  }
  run_ = 0;
}

void PanopticOverlapCounter::add(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels) {
  result_.pixels += int64_t(pixels);
  uint32_t g_prev = run_gt_, p_prev = run_pred_;
  int64_t run = run_;
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t g = gt_ids[i], p = pred_ids ? pred_ids[i] : 0;
    if (g == g_prev && p == p_prev && run > 0) {
      ++run;
      continue;
    }
    run_gt_ = g_prev;
    run_pred_ = p_prev;
    run_ = run;
    flush();
    g_prev = g;
    p_prev = p;
    run = 1;
  }
  run_gt_ = g_prev;
  run_pred_ = p_prev;
  run_ = run;
}

Status PanopticOverlapCounter::finish(PanopticOverlap* overlap) {
  flush();
  if (has_unknown_pred_)
    return Status::error("predicted segment id " + std::to_string(unknown_pred_) +
                         " is in the PNG but not in the JSON segments_info");
  PanopticOverlap& r = result_;
  r.pairs.clear();
  auto add_pair = [&](int g, int p, int64_t n) {
    r.pairs.push_back({g, p, n});
    r.gt_pixels[size_t(g)] += n;
    r.pred_pixels[size_t(p)] += n;
  };
  if (dense_) {
    const size_t gt_count = r.gt_pixels.size();
    for (size_t g = 0; g < gt_count; ++g)
      for (size_t p = 0; p < pred_count_; ++p)
        if (int64_t n = table_[g * pred_count_ + p]) add_pair(int(g), int(p), n);
  } else {
    std::vector<std::pair<uint64_t, int64_t>> entries(sparse_.begin(), sparse_.end());
    std::sort(entries.begin(), entries.end());
    for (auto& e : entries)
      add_pair(int(e.first / pred_count_), int(e.first % pred_count_), e.second);
  }
  for (size_t k = 0; k < r.pred.size(); ++k)
    if (r.pred[k].id != 0 && r.pred_pixels[k + kPanopticPredFirst] == 0)
      return Status::error("predicted segment id " + std::to_string(r.pred[k].id) +
                           " is in the JSON segments_info but not in the PNG");
  *overlap = std::move(r);
  result_ = PanopticOverlap();
  return Status::success();
}

Status panoptic_overlap_compute(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels,
                                const std::vector<PanopticSegment>& gt_segments,
                                const std::vector<PanopticSegment>& pred_segments,
                                PanopticOverlap* overlap) {
  PanopticOverlapCounter counter;
  ATROUS_RETURN_IF_ERROR(counter.start(gt_segments, pred_segments));
  counter.add(gt_ids, pred_ids, pixels);
  return counter.finish(overlap);
}

}  // namespace atrous
