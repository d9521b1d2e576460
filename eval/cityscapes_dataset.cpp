// Cityscapes ground truth listing, prediction discovery, and per-image evaluation (pixel-level
// confusion, instance matches for AP, panoptic pairs).
#include "eval/cityscapes_dataset.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "eval/label_image.h"
#include "graph/cityscapes_labels.h"

namespace fs = std::filesystem;

namespace atrous {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The "<city>_<seq>_<frame>" in a file name: the first "_dddddd_dddddd" and the token before it.
std::string find_stem(const std::string& name) {
  auto digits = [&](size_t at, size_t n) {
    if (at + n > name.size()) return false;
    for (size_t i = 0; i < n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(name[at + i]))) return false;
    return true;
  };
  for (size_t i = 1; i + 14 <= name.size(); ++i) {
    if (name[i] != '_' || !digits(i + 1, 6) || name[i + 7] != '_' || !digits(i + 8, 6)) continue;
    if (i + 14 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 14]))) continue;
    size_t start = name.rfind('_', i - 1);
    start = start == std::string::npos ? 0 : start + 1;
    if (start >= i) continue;
    return name.substr(start, i + 14 - start);
  }
  return "";
}

Status pick(const std::map<std::string, std::vector<std::string>>& found, const std::string& stem,
            const char* what, std::string* path) {
  auto it = found.find(stem);
  if (it == found.end()) return Status::success();
  if (it->second.size() > 1)
    return Status::error("found several " + std::string(what) + " predictions for " + stem + ": " +
                         it->second[0] + ", " + it->second[1]);
  *path = it->second[0];
  return Status::success();
}

int instance_class_of(uint32_t value, const std::vector<int>& class_of_label) {
  uint32_t label = value < 1000 ? value : value / 1000;
  return label < class_of_label.size() ? class_of_label[label] : -1;
}

Status evaluate_instances(const CityscapesImage& image, EvalAccumulators* delta) {
  const std::vector<int> instance_ids = cityscapes_instance_ids();
  std::vector<int> class_of_label(34, -1);
  for (size_t k = 0; k < instance_ids.size(); ++k) class_of_label[size_t(instance_ids[k])] = int(k);
  thread_local LabelImage gt;  // reused: no fresh pages per image
  Status status = load_instance_png(image.gt_instances, &gt);
  if (!status.ok())
    return Status::error("image " + image.stem + ": ground truth: " + status.message());
  std::vector<int64_t> counts(65536, 0);
  for (uint32_t v : gt.values) counts[v & 0xffff] += 1;
  std::vector<ApClassImage> per_class(instance_ids.size());
  std::vector<int> slot(65536, -1);
  for (uint32_t v = 0; v < 65536; ++v) {
    if (!counts[v]) continue;
    int k = instance_class_of(v, class_of_label);
    if (k < 0) continue;
    slot[v] = int(per_class[size_t(k)].gt.size());
    per_class[size_t(k)].gt.push_back({int32_t(v), counts[v]});
  }
  std::vector<uint8_t> is_void(65536, 0);
  for (const auto& l : cityscapes_labels())
    if (l.id >= 0 && l.ignore_in_eval) is_void[size_t(l.id)] = 1;
  if (image.pred_instances.empty()) {
    delta->missing.push_back(image.stem + ": no instance prediction (.txt)");
  } else {
    std::ifstream file(image.pred_instances);
    if (!file) return Status::error(image.pred_instances + ": cannot open");
    const std::string dir = fs::path(image.pred_instances).parent_path().string();
    std::string line;
    int line_number = 0;
    while (std::getline(file, line)) {
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::istringstream tokens(line);
      std::vector<std::string> parts;
      std::string token;
      while (tokens >> token) parts.push_back(token);
      if (parts.empty()) continue;
      const std::string where = image.pred_instances + ":" + std::to_string(line_number);
      char* end = nullptr;
      long label = parts.size() == 3 ? std::strtol(parts[1].c_str(), &end, 10) : 0;
      if (parts.size() != 3 || !end || *end)
        return Status::error(where + ": expected \"MASK.png LABEL_ID CONFIDENCE\"");
      double confidence = std::strtod(parts[2].c_str(), &end);
      if (*end) return Status::error(where + ": bad confidence '" + parts[2] + "'");
      if (!cityscapes_label(int(label)))
        return Status::error(where + ": unknown label id " + parts[1]);
      int k = class_of_label[size_t(label)];
      if (k < 0) continue;  // not an evaluated instance class
      std::string mask_path = parts[0][0] == '/' ? parts[0] : (fs::path(dir) / parts[0]).string();
      thread_local LabelImage8 mask;
      status = load_mask_png(mask_path, &mask);
      if (!status.ok()) return Status::error(where + ": " + status.message());
      if (mask.width != gt.width || mask.height != gt.height)
        return Status::error(where + ": the mask is " + std::to_string(mask.width) + "x" +
                             std::to_string(mask.height) + " but the ground truth is " +
                             std::to_string(gt.width) + "x" + std::to_string(gt.height));
      ApClassImage& cls = per_class[size_t(k)];
      std::vector<int64_t> overlap(cls.gt.size(), 0);
      ApPrediction pred;
      pred.confidence = confidence;
      for (size_t i = 0; i < mask.values.size(); ++i) {
        if (!mask.values[i]) continue;
        uint32_t v = gt.values[i] & 0xffff;
        pred.pixels += 1;
        pred.void_pixels += is_void[v];
        if (slot[v] >= 0 && instance_class_of(v, class_of_label) == k)
          overlap[size_t(slot[v])] += 1;
      }
      if (pred.pixels == 0) continue;
      for (size_t g = 0; g < overlap.size(); ++g)
        if (overlap[g]) pred.overlaps.push_back({int(g), overlap[g]});
      cls.predictions.push_back(std::move(pred));
    }
  }
  delta->instance->add_image(std::move(per_class));
  return Status::success();
}

Status evaluate_semantic(const CityscapesImage& image, EvalAccumulators* delta) {
  thread_local LabelImage8 gt, pred;  // reused: no fresh pages per image
  Status status = load_label_png(image.gt_labels, &gt);
  if (!status.ok())
    return Status::error("image " + image.stem + ": ground truth: " + status.message());
  if (image.pred_semantic.empty()) {
    delta->missing.push_back(image.stem + ": no semantic prediction (*labelIds*.png)");
    status = delta->semantic->add_labels(gt.values.data(), nullptr, gt.values.size(), 0);
  } else {
    status = load_label_png(image.pred_semantic, &pred);
    if (!status.ok())
      return Status::error("image " + image.stem + ": prediction: " + status.message());
    if (pred.width != gt.width || pred.height != gt.height)
      return Status::error("image " + image.stem + ": the prediction is " +
                           std::to_string(pred.width) + "x" + std::to_string(pred.height) +
                           " but the ground truth is " + std::to_string(gt.width) + "x" +
                           std::to_string(gt.height) + " (" + image.pred_semantic + ")");
    status = delta->semantic->add_labels(gt.values.data(), pred.values.data(), gt.values.size());
  }
  if (!status.ok()) return Status::error("image " + image.stem + ": " + status.message());
  return Status::success();
}

}  // namespace

Status cityscapes_dataset_load(const std::string& gt_root, const std::string& pred_root,
                               const std::string& split, CityscapesDataset* dataset) {
  std::error_code ec;
  fs::path gt_fine = fs::path(gt_root) / "gtFine";
  if (!fs::is_directory(gt_fine, ec) && fs::is_directory(fs::path(gt_root) / split, ec))
    gt_fine = gt_root;
  fs::path split_dir = gt_fine / split;
  if (!fs::is_directory(split_dir, ec))
    return Status::error(split_dir.string() + ": not a directory (expected GT_ROOT/gtFine/" +
                         split + "/<city>/)");
  if (!fs::is_directory(pred_root, ec)) return Status::error(pred_root + ": not a directory");
  dataset->images.clear();
  std::map<std::string, size_t> by_stem;
  std::vector<fs::path> label_files;
  for (auto it = fs::recursive_directory_iterator(split_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && ends_with(name, "_gtFine_labelIds.png"))
      label_files.push_back(it->path());
  }
  if (ec) return Status::error(split_dir.string() + ": " + ec.message());
  std::sort(label_files.begin(), label_files.end());
  for (const auto& p : label_files) {
    std::string name = p.filename().string();
    CityscapesImage image;
    image.stem = name.substr(0, name.size() - std::string("_gtFine_labelIds.png").size());
    image.gt_labels = p.string();
    image.gt_instances = (p.parent_path() / (image.stem + "_gtFine_instanceIds.png")).string();
    by_stem[image.stem] = dataset->images.size();
    dataset->images.push_back(std::move(image));
  }
  // predictions
  std::map<std::string, std::vector<std::string>> semantic, instance;
  for (auto it = fs::recursive_directory_iterator(pred_root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    bool is_txt = ends_with(name, ".txt");
    bool is_label = ends_with(name, ".png") && name.find("labelIds") != std::string::npos;
    if (!is_txt && !is_label) continue;
    std::string stem = find_stem(name);
    if (stem.empty()) continue;
    (is_txt ? instance : semantic)[stem].push_back(it->path().string());
  }
  if (ec) return Status::error(pred_root + ": " + ec.message());
  for (auto* m : {&semantic, &instance})
    for (auto& e : *m) std::sort(e.second.begin(), e.second.end());
  dataset->semantic = !semantic.empty();
  dataset->instance = !instance.empty();
  for (auto& image : dataset->images) {
    ATROUS_RETURN_IF_ERROR(pick(semantic, image.stem, "semantic", &image.pred_semantic));
    ATROUS_RETURN_IF_ERROR(pick(instance, image.stem, "instance", &image.pred_instances));
  }
  const fs::path pred_json = fs::path(pred_root) / "panoptic.json";
  dataset->panoptic = fs::is_regular_file(pred_json, ec);
  if (dataset->panoptic) {
    const fs::path gt_json = gt_fine / ("cityscapes_panoptic_" + split + ".json");
    if (!fs::is_regular_file(gt_json, ec))
      return Status::error(pred_json.string() + " exists but the panoptic ground truth " +
                           gt_json.string() +
                           " does not (create it with cityscapesScripts' csCreatePanopticImgs)");
    PanopticDataset panoptic;
    ATROUS_RETURN_IF_ERROR(panoptic_dataset_load(
        gt_json.string(), (gt_fine / ("cityscapes_panoptic_" + split)).string(), pred_json.string(),
        (fs::path(pred_root) / "panoptic").string(), &panoptic));
    dataset->panoptic_categories = panoptic.categories;
    for (auto& pair : panoptic.images) {
      auto it = by_stem.find(pair.key);
      if (it == by_stem.end()) {
        CityscapesImage image;
        image.stem = pair.key;
        by_stem[pair.key] = dataset->images.size();
        dataset->images.push_back(std::move(image));
        it = by_stem.find(pair.key);
      }
      dataset->images[it->second].has_panoptic = true;
      dataset->images[it->second].panoptic = std::move(pair);
    }
  }
  if (!dataset->semantic && !dataset->instance && !dataset->panoptic)
    return Status::error(
        "no predictions under " + pred_root +
        " (expected *labelIds*.png, instance .txt files, or panoptic.json + panoptic/)");
  if (dataset->images.empty())
    return Status::error(split_dir.string() + ": no *_gtFine_labelIds.png files");
  return Status::success();
}

EvalAccumulators cityscapes_accumulators(const CityscapesDataset& dataset) {
  EvalAccumulators acc;
  if (dataset.panoptic) {
    acc.pq = std::make_unique<PanopticQuality>(dataset.panoptic_categories);
    acc.pc = std::make_unique<ParsingCovering>(dataset.panoptic_categories);
  }
  if (dataset.semantic) {
    std::vector<bool> evaluated(34, false);
    for (int id : cityscapes_eval_ids()) evaluated[size_t(id)] = true;
    acc.semantic = std::make_unique<ConfusionMatrix>(evaluated);
  }
  if (dataset.instance)
    acc.instance = std::make_unique<InstanceAp>(int(cityscapes_instance_ids().size()));
  return acc;
}

Status cityscapes_image_evaluate(const CityscapesDataset& dataset, size_t index,
                                 EvalAccumulators* delta) {
  const CityscapesImage& image = dataset.images[index];
  if (dataset.semantic && !image.gt_labels.empty())
    ATROUS_RETURN_IF_ERROR(evaluate_semantic(image, delta));
  if (dataset.instance && !image.gt_labels.empty())
    ATROUS_RETURN_IF_ERROR(evaluate_instances(image, delta));
  if (dataset.panoptic && image.has_panoptic) {
    ATROUS_RETURN_IF_ERROR(panoptic_pair_evaluate(image.panoptic, false, delta));
    delta->images -= 1;  // counted once below
  }
  delta->images += 1;
  return Status::success();
}

}  // namespace atrous
