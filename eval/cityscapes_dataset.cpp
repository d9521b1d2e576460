// Cityscapes ground truth listing, prediction discovery, and per-image evaluation (pixel-level
// confusion, instance matches for AP, panoptic pairs).
#include "eval/cityscapes_dataset.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "eval/eval_paths.h"
#include "eval/label_image.h"
#include "graph/cityscapes_labels.h"
#include "graph/file_io.h"

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

// Reused from image to image: no fresh pages per image.
thread_local LabelImage instance_gt;
thread_local LabelImage8 instance_mask, semantic_gt, semantic_pred;

// One line of an instance .txt: "MASK.png LABEL_ID CONFIDENCE".
struct InstanceLine {
  std::string where;  // file:line
  std::string mask;   // resolved against the .txt's folder
  int label = 0;
  double confidence = 0;
};

// Parses the .txt into the lines of evaluated instance classes. A label id is range-checked as
// the long long it was parsed into, before it is narrowed or used as an index.
Status read_instance_lines(const CityscapesDataset& dataset, const std::string& txt,
                           const std::vector<int>& class_of_label,
                           std::vector<InstanceLine>* lines) {
  lines->clear();
  std::string text;
  ATROUS_RETURN_IF_ERROR(read_regular_file(txt, &text));
  const std::string dir = fs::path(txt).parent_path().string();
  std::istringstream file(text);
  std::string line;
  int line_number = 0;
  while (std::getline(file, line)) {
    ++line_number;
    const std::string where = txt + ":" + std::to_string(line_number);
    if (has_nul_byte(line)) return Status::error(where + ": the line holds a NUL byte");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream tokens(line);
    std::vector<std::string> parts;
    std::string token;
    while (tokens >> token) parts.push_back(token);
    if (parts.empty()) continue;
    if (parts.size() != 3)
      return Status::error(where + ": expected \"MASK.png LABEL_ID CONFIDENCE\"");
    char* end = nullptr;
    errno = 0;
    const long long label = std::strtoll(parts[1].c_str(), &end, 10);
    if (*end || end == parts[1].c_str())
      return Status::error(where + ": expected \"MASK.png LABEL_ID CONFIDENCE\"");
    if (errno == ERANGE || label < 0 || label >= (long long)class_of_label.size() ||
        !cityscapes_label(int(label)))
      return Status::error(where + ": unknown label id " + parts[1]);
    errno = 0;
    const double confidence = std::strtod(parts[2].c_str(), &end);
    if (*end || end == parts[2].c_str() || !std::isfinite(confidence))
      return Status::error(where + ": bad confidence '" + parts[2] + "'");
    if (class_of_label[size_t(label)] < 0) continue;  // not an evaluated instance class
    InstanceLine l;
    l.where = where;
    l.label = int(label);
    l.confidence = confidence;
    EvalRoot mask_root = dataset.pred_folder;
    mask_root.dir = dir;  // names are relative to the .txt; containment is still the pred root's
    Status s = eval_root_join(mask_root, parts[0], &l.mask);
    if (!s.ok()) return Status::error(where + ": " + s.message());
    lines->push_back(std::move(l));
  }
  return Status::success();
}

std::vector<int> instance_class_table() {
  const std::vector<int> instance_ids = cityscapes_instance_ids();
  std::vector<int> class_of_label(34, -1);
  for (size_t k = 0; k < instance_ids.size(); ++k) class_of_label[size_t(instance_ids[k])] = int(k);
  return class_of_label;
}

std::string size_text(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

// The memory of the instance part of an image: the gt instance ids and the largest mask (masks
// are decoded one after the other into one buffer), all from headers; masks of another size than
// the gt are refused here, before they are decoded.
Status instance_memory(const CityscapesImage& image, const std::vector<InstanceLine>& lines,
                       uint64_t* bytes) {
  ImageMemoryUse gt;
  Status status = image_memory_use(image.gt_instances, 4, false, &gt);
  if (!status.ok())
    return Status::error("image " + image.stem + ": ground truth: " + status.message());
  uint64_t largest_mask = 0;
  for (const InstanceLine& l : lines) {
    ImageMemoryUse mask;
    status = image_memory_use(l.mask, 1, false, &mask);
    if (!status.ok()) return Status::error(l.where + ": " + status.message());
    if (mask.width != gt.width || mask.height != gt.height)
      return Status::error(l.where + ": the mask is " + size_text(mask.width, mask.height) +
                           " but the ground truth is " + size_text(gt.width, gt.height));
    largest_mask = std::max(largest_mask, mask.bytes);
  }
  *bytes = gt.bytes + largest_mask;
  return Status::success();
}

Status evaluate_instances(const CityscapesImage& image, const std::vector<InstanceLine>& lines,
                          EvalAccumulators* delta) {
  const std::vector<int> instance_ids = cityscapes_instance_ids();
  const std::vector<int> class_of_label = instance_class_table();
  LabelImage& gt = instance_gt;
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
  if (image.pred_instances.empty())
    delta->missing.push_back(image.stem + ": no instance prediction (.txt)");
  for (const InstanceLine& line : lines) {
    const int k = class_of_label[size_t(line.label)];
    LabelImage8& mask = instance_mask;
    status = load_mask_png(line.mask, &mask);
    if (!status.ok()) return Status::error(line.where + ": " + status.message());
    if (mask.width != gt.width || mask.height != gt.height)
      return Status::error(line.where + ": the mask is " + size_text(mask.width, mask.height) +
                           " but the ground truth is " + size_text(gt.width, gt.height));
    ApClassImage& cls = per_class[size_t(k)];
    std::vector<int64_t> overlap(cls.gt.size(), 0);
    ApPrediction pred;
    pred.confidence = line.confidence;
    for (size_t i = 0; i < mask.values.size(); ++i) {
      if (!mask.values[i]) continue;
      uint32_t v = gt.values[i] & 0xffff;
      pred.pixels += 1;
      pred.void_pixels += is_void[v];
      if (slot[v] >= 0 && instance_class_of(v, class_of_label) == k) overlap[size_t(slot[v])] += 1;
    }
    if (pred.pixels == 0) continue;
    for (size_t g = 0; g < overlap.size(); ++g)
      if (overlap[g]) pred.overlaps.push_back({int(g), overlap[g]});
    cls.predictions.push_back(std::move(pred));
  }
  delta->instance->add_image(std::move(per_class));
  return Status::success();
}

Status semantic_memory(const CityscapesImage& image, uint64_t* bytes) {
  ImageMemoryUse gt, pred;
  Status status = image_memory_use(image.gt_labels, 1, false, &gt);
  if (!status.ok())
    return Status::error("image " + image.stem + ": ground truth: " + status.message());
  if (!image.pred_semantic.empty()) {
    status = image_memory_use(image.pred_semantic, 1, false, &pred);
    if (!status.ok())
      return Status::error("image " + image.stem + ": prediction: " + status.message());
    if (pred.width != gt.width || pred.height != gt.height)
      return Status::error("image " + image.stem + ": the prediction is " +
                           size_text(pred.width, pred.height) + " but the ground truth is " +
                           size_text(gt.width, gt.height) + " (" + image.pred_semantic + ")");
  }
  *bytes = gt.bytes + pred.bytes;
  return Status::success();
}

Status evaluate_semantic(const CityscapesImage& image, EvalAccumulators* delta) {
  LabelImage8& gt = semantic_gt;
  LabelImage8& pred = semantic_pred;
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

void cityscapes_release_thread_buffers() {
  instance_gt = LabelImage();
  instance_mask = LabelImage8();
  semantic_gt = LabelImage8();
  semantic_pred = LabelImage8();
  panoptic_release_thread_buffers();
}

Status cityscapes_dataset_load(const std::string& gt_root, const std::string& pred_root,
                               const std::string& split, CityscapesDataset* dataset,
                               bool allow_outside_paths) {
  std::error_code ec;
  EvalRoot gt_folder;
  ATROUS_RETURN_IF_ERROR(eval_root_make(gt_root, allow_outside_paths, &gt_folder));
  ATROUS_RETURN_IF_ERROR(eval_root_make(pred_root, allow_outside_paths, &dataset->pred_folder));
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
  // The split folder itself may be a link elsewhere only when outside paths are allowed.
  ATROUS_RETURN_IF_ERROR(eval_root_check(gt_folder, split_dir.string()));
  for (const auto& p : label_files) ATROUS_RETURN_IF_ERROR(eval_root_check(gt_folder, p.string()));
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
    ATROUS_RETURN_IF_ERROR(eval_root_check(dataset->pred_folder, it->path().string()));
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
    // The JSONs and the PNG folders themselves must be inside the roots too (not links out).
    const fs::path gt_pngs = gt_fine / ("cityscapes_panoptic_" + split);
    ATROUS_RETURN_IF_ERROR(eval_root_check(gt_folder, gt_json.string()));
    ATROUS_RETURN_IF_ERROR(eval_root_check(gt_folder, gt_pngs.string()));
    ATROUS_RETURN_IF_ERROR(eval_root_check(dataset->pred_folder, pred_json.string()));
    ATROUS_RETURN_IF_ERROR(
        eval_root_check(dataset->pred_folder, (fs::path(pred_root) / "panoptic").string()));
    ATROUS_RETURN_IF_ERROR(panoptic_dataset_load(
        gt_json.string(), gt_pngs.string(), pred_json.string(),
        (fs::path(pred_root) / "panoptic").string(), &panoptic, allow_outside_paths));
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
  // Everything the image will decode is sized from headers and reserved at once, first.
  uint64_t bytes = 0, part = 0;
  const bool semantic = dataset.semantic && !image.gt_labels.empty();
  const bool instance = dataset.instance && !image.gt_labels.empty();
  std::vector<InstanceLine> lines;
  if (semantic) {
    ATROUS_RETURN_IF_ERROR(semantic_memory(image, &part));
    bytes += part;
  }
  if (instance) {
    if (!image.pred_instances.empty())
      ATROUS_RETURN_IF_ERROR(
          read_instance_lines(dataset, image.pred_instances, instance_class_table(), &lines));
    ATROUS_RETURN_IF_ERROR(instance_memory(image, lines, &part));
    bytes += part;
  }
  if (dataset.panoptic && image.has_panoptic) {
    // panoptic_pair_evaluate reserves the same amount again, already held then.
    bytes += panoptic_pair_memory(image.panoptic);
  }
  Status reserved = eval_reserve_image_memory(bytes);
  if (!reserved.ok()) return Status::error("image " + image.stem + ": " + reserved.message());
  if (semantic) ATROUS_RETURN_IF_ERROR(evaluate_semantic(image, delta));
  if (instance) ATROUS_RETURN_IF_ERROR(evaluate_instances(image, lines, delta));
  if (dataset.panoptic && image.has_panoptic) {
    ATROUS_RETURN_IF_ERROR(panoptic_pair_evaluate(image.panoptic, false, delta));
    delta->images -= 1;  // counted once below
  }
  delta->images += 1;
  return Status::success();
}

}  // namespace atrous
