// Run-length scan of two id maps: consecutive pixels with the same (gt, pred) id pair are counted
// together, so the hash look-ups happen once per run, not once per pixel. Intersections go into
// a dense (gt × pred) table when it is small, a hash map otherwise.
#include "eval/panoptic_overlap.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

namespace atrous {

namespace {

// id → index with a one-entry cache (ids repeat in runs).
class IdIndex {
 public:
  IdIndex(std::unordered_map<uint32_t, int> map, int missing) : map_(std::move(map)), missing_(missing) {}
  int lookup(uint32_t id) {
    if (id == last_id_ && last_index_ >= -1) return last_index_;
    auto it = map_.find(id);
    last_id_ = id;
    last_index_ = it == map_.end() ? missing_ : it->second;
    return last_index_;
  }

 private:
  std::unordered_map<uint32_t, int> map_;
  int missing_;
  uint32_t last_id_ = 0;
  int last_index_ = -2;
};

}  // namespace

Status panoptic_overlap_compute(const uint32_t* gt_ids, const uint32_t* pred_ids, size_t pixels,
                                const std::vector<PanopticSegment>& gt_segments,
                                const std::vector<PanopticSegment>& pred_segments, PanopticOverlap* overlap) {
  overlap->pixels = int64_t(pixels);
  overlap->gt = gt_segments;
  overlap->pred = pred_segments;
  overlap->pairs.clear();
  std::unordered_map<uint32_t, int> gt_map, pred_map;
  for (size_t k = 0; k < gt_segments.size(); ++k) {
    if (gt_segments[k].id == 0) continue;  // id 0 is VOID whatever the list says
    if (!gt_map.emplace(gt_segments[k].id, int(k) + kPanopticGtFirst).second)
      return Status::error("ground truth segment id " + std::to_string(gt_segments[k].id) + " is listed twice");
  }
  for (size_t k = 0; k < pred_segments.size(); ++k) {
    if (pred_segments[k].id == 0) continue;
    if (!pred_map.emplace(pred_segments[k].id, int(k) + kPanopticPredFirst).second)
      return Status::error("predicted segment id " + std::to_string(pred_segments[k].id) + " is listed twice");
  }
  gt_map.emplace(0u, kPanopticGtVoid);
  pred_map.emplace(0u, kPanopticPredVoid);
  const size_t gt_count = gt_segments.size() + kPanopticGtFirst;
  const size_t pred_count = pred_segments.size() + kPanopticPredFirst;
  overlap->gt_pixels.assign(gt_count, 0);
  overlap->pred_pixels.assign(pred_count, 0);

  const bool dense = gt_count * pred_count <= (size_t(1) << 22);
  std::vector<int64_t> table(dense ? gt_count * pred_count : 0, 0);
  std::unordered_map<uint64_t, int64_t> sparse;
  IdIndex gt_index(std::move(gt_map), kPanopticGtUnlisted);
  IdIndex pred_index(std::move(pred_map), -1);
  uint32_t unknown_pred = 0;
  bool has_unknown_pred = false;
  auto flush = [&](uint32_t g_id, uint32_t p_id, int64_t run) {
    int g = gt_index.lookup(g_id);
    int p = pred_index.lookup(p_id);
    if (p < 0) {
      if (!has_unknown_pred) unknown_pred = p_id;
      has_unknown_pred = true;
      return;
    }
    if (dense)
      table[size_t(g) * pred_count + size_t(p)] += run;
    else
      sparse[uint64_t(g) * pred_count + uint64_t(p)] += run;
  };
  if (pixels > 0) {
    uint32_t g_prev = gt_ids[0], p_prev = pred_ids ? pred_ids[0] : 0;
    int64_t run = 0;
    for (size_t i = 0; i < pixels; ++i) {
      uint32_t g = gt_ids[i], p = pred_ids ? pred_ids[i] : 0;
      if (g == g_prev && p == p_prev) {
        ++run;
        continue;
      }
      flush(g_prev, p_prev, run);
      g_prev = g;
      p_prev = p;
      run = 1;
    }
    flush(g_prev, p_prev, run);
  }
  if (has_unknown_pred)
    return Status::error("predicted segment id " + std::to_string(unknown_pred) +
                         " is in the PNG but not in the JSON segments_info");
  auto add_pair = [&](int g, int p, int64_t n) {
    overlap->pairs.push_back({g, p, n});
    overlap->gt_pixels[size_t(g)] += n;
    overlap->pred_pixels[size_t(p)] += n;
  };
  if (dense) {
    for (size_t g = 0; g < gt_count; ++g)
      for (size_t p = 0; p < pred_count; ++p)
        if (int64_t n = table[g * pred_count + p]) add_pair(int(g), int(p), n);
  } else {
    std::vector<std::pair<uint64_t, int64_t>> entries(sparse.begin(), sparse.end());
    std::sort(entries.begin(), entries.end());
    for (auto& e : entries) add_pair(int(e.first / pred_count), int(e.first % pred_count), e.second);
  }
  for (size_t k = 0; k < pred_segments.size(); ++k)
    if (pred_segments[k].id != 0 && overlap->pred_pixels[k + kPanopticPredFirst] == 0)
      return Status::error("predicted segment id " + std::to_string(pred_segments[k].id) +
                           " is in the JSON segments_info but not in the PNG");
  return Status::success();
}

}  // namespace atrous
