// COCO-panoptic-layout JSON reading and per-image evaluation.
#include "eval/panoptic_dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "eval/eval_paths.h"
#include "eval/label_image.h"
#include "graph/json_io.h"

namespace atrous {

namespace {

constexpr long long kIntMin = std::numeric_limits<int>::min();
constexpr long long kIntMax = std::numeric_limits<int>::max();
constexpr long long kInt64Max = std::numeric_limits<int64_t>::max();

// A prediction counts as missing only when nothing is there; anything else that is there (a
// directory, a FIFO, a corrupt file) is opened and refused with what it is.
bool nothing_at(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

thread_local PanopticOverlapCounter overlap_counter;
thread_local PanopticPngRows gt_rows, pred_rows;
thread_local LabelImage gt_ids, pred_ids;  // only for files the fast decoder leaves to stb_image

// An integer member: missing → `fallback` (an error when required); a value that is not an
// integral number inside [low, high] is an error, never truncated.
Status read_int(const nlohmann::json& object, const char* key, bool required, long long fallback,
                long long low, long long high, long long* out, const std::string& where) {
  auto v = object.find(key);
  if (v == object.end()) {
    if (required) return Status::error(where + ": missing \"" + key + "\"");
    *out = fallback;
    return Status::success();
  }
  int64_t value = 0;
  if (!json_to_int64(*v, &value))
    return Status::error(where + ": \"" + key + "\" must be an integer, got " + v->dump());
  if (value < low || value > high)
    return Status::error(where + ": \"" + key + "\" = " + std::to_string(value) +
                         " is out of range [" + std::to_string(low) + ", " + std::to_string(high) +
                         "]");
  *out = value;
  return Status::success();
}

Status read_annotations(const nlohmann::json& root, const std::string& path, bool ground_truth,
                        std::vector<PanopticImagePair>* out,
                        std::unordered_map<std::string, size_t>* index) {
  if (!root.is_object()) return Status::error(path + ": the top level must be an object");
  auto annotations = root.find("annotations");
  if (annotations == root.end() || !annotations->is_array())
    return Status::error(path + ": missing the \"annotations\" array");
  for (size_t a = 0; a < annotations->size(); ++a) {
    const nlohmann::json& ann = (*annotations)[a];
    std::string where = path + ": annotations[" + std::to_string(a) + "]";
    if (!ann.is_object()) return Status::error(where + " is not an object");
    auto image_id = ann.find("image_id");
    std::string key;
    if (image_id == ann.end() || !json_id_key(*image_id, &key))
      return Status::error(where + ": missing or bad \"image_id\"");
    auto file_name = ann.find("file_name");
    if (file_name == ann.end() || !file_name->is_string())
      return Status::error(where + ": missing \"file_name\"");
    auto infos = ann.find("segments_info");
    if (infos == ann.end() || !infos->is_array())
      return Status::error(where + ": missing the \"segments_info\" array");
    PanopticImagePair pair;
    pair.key = key;
    std::vector<PanopticSegment>& segments = ground_truth ? pair.gt : pair.pred;
    (ground_truth ? pair.gt_png : pair.pred_png) = file_name->get<std::string>();
    for (size_t s = 0; s < infos->size(); ++s) {
      const nlohmann::json& info = (*infos)[s];
      std::string w = where + ".segments_info[" + std::to_string(s) + "]";
      if (!info.is_object()) return Status::error(w + " is not an object");
      long long id = 0, category = 0, crowd = 0, area = -1;
      // Segment ids are PNG colours: R + 256·G + 256²·B.
      ATROUS_RETURN_IF_ERROR(read_int(info, "id", true, 0, 0, (1LL << 24) - 1, &id, w));
      ATROUS_RETURN_IF_ERROR(
          read_int(info, "category_id", true, 0, kIntMin, kIntMax, &category, w));
      ATROUS_RETURN_IF_ERROR(read_int(info, "iscrowd", false, 0, kIntMin, kIntMax, &crowd, w));
      if (ground_truth)
        ATROUS_RETURN_IF_ERROR(read_int(info, "area", false, -1, -1, kInt64Max, &area, w));
      PanopticSegment seg;
      seg.id = uint32_t(id);
      seg.category_id = int(category);
      seg.iscrowd = crowd == 1;
      seg.area = ground_truth ? area : -1;
      segments.push_back(seg);
    }
    if (!index->emplace(key, out->size()).second)
      return Status::error(path + ": image_id " + key + " appears twice in \"annotations\"");
    out->push_back(std::move(pair));
  }
  return Status::success();
}

}  // namespace

void panoptic_release_thread_buffers() {
  overlap_counter = PanopticOverlapCounter();
  gt_rows.release_buffers();
  pred_rows.release_buffers();
  gt_ids = LabelImage();
  pred_ids = LabelImage();
  label_image_release_thread_buffers();
}

Status panoptic_dataset_load(const std::string& gt_json, const std::string& gt_dir,
                             const std::string& pred_json, const std::string& pred_dir,
                             PanopticDataset* dataset, bool allow_outside_paths) {
  EvalRoot gt_folder, pred_folder;
  ATROUS_RETURN_IF_ERROR(eval_root_make(gt_dir, allow_outside_paths, &gt_folder));
  ATROUS_RETURN_IF_ERROR(eval_root_make(pred_dir, allow_outside_paths, &pred_folder));
  nlohmann::json gt_root, pred_root;
  ATROUS_RETURN_IF_ERROR(json_parse_file(gt_json, &gt_root));
  ATROUS_RETURN_IF_ERROR(json_parse_file(pred_json, &pred_root));
  auto categories = gt_root.is_object() ? gt_root.find("categories") : gt_root.end();
  if (categories == gt_root.end() || !categories->is_array())
    return Status::error(gt_json + ": missing the \"categories\" array");
  dataset->categories.clear();
  std::unordered_map<int, int> seen;
  for (size_t c = 0; c < categories->size(); ++c) {
    const nlohmann::json& cat = (*categories)[c];
    std::string where = gt_json + ": categories[" + std::to_string(c) + "]";
    if (!cat.is_object()) return Status::error(where + " is not an object");
    long long id = 0, isthing = 0;
    ATROUS_RETURN_IF_ERROR(read_int(cat, "id", true, 0, kIntMin, kIntMax, &id, where));
    ATROUS_RETURN_IF_ERROR(read_int(cat, "isthing", true, 0, kIntMin, kIntMax, &isthing, where));
    EvalCategory e;
    e.id = int(id);
    e.isthing = isthing == 1;
    auto name = cat.find("name");
    e.name = name != cat.end() && name->is_string() ? name->get<std::string>() : std::to_string(id);
    if (!seen.emplace(e.id, 1).second)
      return Status::error(where + ": category id " + std::to_string(id) + " repeated");
    dataset->categories.push_back(e);
  }
  std::unordered_map<std::string, size_t> gt_index, pred_index;
  std::vector<PanopticImagePair> preds;
  dataset->images.clear();
  ATROUS_RETURN_IF_ERROR(read_annotations(gt_root, gt_json, true, &dataset->images, &gt_index));
  ATROUS_RETURN_IF_ERROR(read_annotations(pred_root, pred_json, false, &preds, &pred_index));
  // Category ids are checked here, where the file that holds a bad one is known.
  auto check_categories = [&](const std::vector<PanopticImagePair>& pairs, bool ground_truth,
                              const std::string& path) {
    for (const PanopticImagePair& pair : pairs)
      for (const PanopticSegment& segment : ground_truth ? pair.gt : pair.pred)
        if (!seen.count(segment.category_id))
          return Status::error(path + ": image " + pair.key + ": segment " +
                               std::to_string(segment.id) + " has unknown category id " +
                               std::to_string(segment.category_id));
    return Status::success();
  };
  ATROUS_RETURN_IF_ERROR(check_categories(dataset->images, true, gt_json));
  ATROUS_RETURN_IF_ERROR(check_categories(preds, false, pred_json));
  for (auto& image : dataset->images) {
    Status s = eval_root_join(gt_folder, image.gt_png, &image.gt_png);
    if (!s.ok()) return Status::error(gt_json + ": image " + image.key + ": " + s.message());
    auto it = pred_index.find(image.key);
    if (it == pred_index.end()) continue;
    image.has_pred = true;
    s = eval_root_join(pred_folder, preds[it->second].pred_png, &image.pred_png);
    if (!s.ok()) return Status::error(pred_json + ": image " + image.key + ": " + s.message());
    image.pred = std::move(preds[it->second].pred);
  }
  return Status::success();
}

uint64_t panoptic_pair_memory(const PanopticImagePair& pair) {
  const bool missing = !pair.has_pred || nothing_at(pair.pred_png);
  ImageMemoryUse gt, pred;
  uint64_t bytes = 0;
  if (image_memory_use(pair.gt_png, 4, true, &gt).ok()) bytes += gt.bytes;
  if (!missing && image_memory_use(pair.pred_png, 4, true, &pred).ok()) bytes += pred.bytes;
  // The overlap counter (eval/panoptic_overlap.cpp): per segment its copy and id maps, and the
  // (gt × pred) intersections, a dense table of int64 up to 2^22 entries, else a hash map with
  // at most one entry per pixel.
  const uint64_t gt_count = pair.gt.size() + kPanopticGtFirst;
  const uint64_t pred_count = (missing ? 0 : pair.pred.size()) + kPanopticPredFirst;
  const uint64_t pairs = gt_count * pred_count;
  const uint64_t pixels = uint64_t(gt.width) * uint64_t(gt.height);
  bytes += 128 * (gt_count + pred_count);
  bytes += pairs <= (uint64_t(1) << 22) ? pairs * 8 : std::min(pairs, pixels) * 64;
  return bytes;
}

Status panoptic_pair_evaluate(const PanopticImagePair& pair, bool semantic_from_panoptic,
                              EvalAccumulators* delta) {
  const std::string where = "image " + pair.key;
  bool missing = !pair.has_pred;
  if (!missing && nothing_at(pair.pred_png)) missing = true;
  if (missing)
    delta->missing.push_back(
        pair.key + ": no panoptic prediction (" +
        (pair.has_pred ? pair.pred_png + " does not exist" : "not in the prediction JSON") + ")");
  static const std::vector<PanopticSegment> no_segments;
  PanopticOverlapCounter& counter = overlap_counter;
  Status status;
  auto size_error = [&](int pw, int ph, int gw, int gh) {
    return Status::error(where + ": the prediction is " + std::to_string(pw) + "x" +
                         std::to_string(ph) + " but the ground truth is " + std::to_string(gw) +
                         "x" + std::to_string(gh) + " (" + pair.pred_png + ")");
  };
  // Sizes and memory from the headers, before any pixel is decoded.
  ImageMemoryUse gt_use, pred_use;
  status = image_memory_use(pair.gt_png, 4, true, &gt_use);
  if (!status.ok()) return Status::error(where + ": ground truth: " + status.message());
  if (!missing) {
    status = image_memory_use(pair.pred_png, 4, true, &pred_use);
    if (!status.ok()) return Status::error(where + ": prediction: " + status.message());
    if (pred_use.width != gt_use.width || pred_use.height != gt_use.height)
      return size_error(pred_use.width, pred_use.height, gt_use.width, gt_use.height);
  }
  status = eval_reserve_image_memory(panoptic_pair_memory(pair));
  if (!status.ok()) return Status::error(where + ": " + status.message());
  status = counter.start(pair.gt, missing ? no_segments : pair.pred);
  if (!status.ok()) return Status::error(where + ": " + status.message());
  // Both PNGs decoded together, row by row, straight into the overlap counts; full-size id maps
  // only for files the fast decoder leaves to stb_image.
  bool gt_fallback = false, pred_fallback = false;
  status = gt_rows.open(pair.gt_png, &gt_fallback);
  if (!status.ok()) return Status::error(where + ": ground truth: " + status.message());
  if (!missing) {
    status = pred_rows.open(pair.pred_png, &pred_fallback);
    if (!status.ok()) return Status::error(where + ": prediction: " + status.message());
  }
  if (!gt_fallback && !pred_fallback) {
    if (!missing &&
        (pred_rows.width() != gt_rows.width() || pred_rows.height() != gt_rows.height()))
      return size_error(pred_rows.width(), pred_rows.height(), gt_rows.width(), gt_rows.height());
    for (int y = 0; y < gt_rows.height(); ++y) {
      const uint32_t *g = nullptr, *p = nullptr;
      status = gt_rows.next(&g);
      if (!status.ok()) return Status::error(where + ": ground truth: " + status.message());
      if (!missing) {
        status = pred_rows.next(&p);
        if (!status.ok()) return Status::error(where + ": prediction: " + status.message());
      }
      counter.add(g, p, size_t(gt_rows.width()));
    }
  } else {
    LabelImage& gt = gt_ids;
    LabelImage& pred = pred_ids;
    status = load_panoptic_png(pair.gt_png, &gt);
    if (!status.ok()) return Status::error(where + ": ground truth: " + status.message());
    if (!missing) {
      status = load_panoptic_png(pair.pred_png, &pred);
      if (!status.ok()) return Status::error(where + ": prediction: " + status.message());
      if (pred.width != gt.width || pred.height != gt.height)
        return size_error(pred.width, pred.height, gt.width, gt.height);
    }
    counter.add(gt.values.data(), missing ? nullptr : pred.values.data(), gt.values.size());
  }
  PanopticOverlap overlap;
  status = counter.finish(&overlap);
  if (!status.ok()) return Status::error(where + ": " + status.message());
  if (delta->pq) {
    status = delta->pq->add(overlap);
    if (!status.ok()) return Status::error(where + ": " + status.message());
  }
  if (delta->pc) delta->pc->add(overlap);
  if (semantic_from_panoptic && delta->semantic && delta->pq) {
    const int void_index = delta->semantic->size() - 1;
    for (const auto& p : overlap.pairs) {
      if (p.gt < kPanopticGtFirst) continue;
      int g = delta->pq->category_index(overlap.gt[size_t(p.gt - kPanopticGtFirst)].category_id);
      int c = p.pred < kPanopticPredFirst
                  ? void_index
                  : delta->pq->category_index(
                        overlap.pred[size_t(p.pred - kPanopticPredFirst)].category_id);
      if (g < 0 || c < 0) continue;  // reported by pq->add
      delta->semantic->add(g, c, uint64_t(p.pixels));
    }
  }
  delta->images += 1;
  return Status::success();
}

}  // namespace atrous
