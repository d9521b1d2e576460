#include "models/panoptic_writers.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "graph/cityscapes_labels.h"
#include "graph/json_io.h"

namespace atrous {
namespace {

PanopticSegmentOut segment_out(const PanopticSegmentInfo& s, int64_t id, int category_id) {
  PanopticSegmentOut out;
  out.id = id;
  out.category_id = category_id;
  out.area = s.area;
  std::copy(s.bbox, s.bbox + 4, out.bbox);
  out.isthing = s.isthing;
  out.score = s.score;
  return out;
}

// Writes the RGB PNG of `result` with the id of each panoptic value from `ids` (void and
// values not listed → 0).
Image encode_ids(const PanopticResult& result, const std::unordered_map<int32_t, int64_t>& ids) {
  Image png;
  png.width = result.width;
  png.height = result.height;
  png.channels = 3;
  png.pixels.assign(size_t(result.width) * size_t(result.height) * 3, 0);
  int32_t last_value = 0;
  int64_t last_id = -1;
  for (size_t i = 0; i < result.panoptic.size(); ++i) {
    int32_t v = result.panoptic[i];
    if (last_id < 0 || v != last_value) {
      auto it = ids.find(v);
      last_value = v;
      last_id = it == ids.end() ? 0 : it->second;
    }
    png.pixels[i * 3] = uint8_t(last_id & 255);
    png.pixels[i * 3 + 1] = uint8_t((last_id >> 8) & 255);
    png.pixels[i * 3 + 2] = uint8_t((last_id >> 16) & 255);
  }
  return png;
}

}  // namespace

std::vector<PanopticCategory> model_categories(int num_classes,
                                               const std::vector<std::string>& labels,
                                               const std::vector<int32_t>& thing_classes) {
  std::vector<PanopticCategory> out;
  for (int c = 0; c < num_classes; ++c) {
    PanopticCategory cat;
    cat.id = c;
    cat.name = size_t(c) < labels.size() ? labels[size_t(c)] : "class " + std::to_string(c);
    cat.isthing = std::find(thing_classes.begin(), thing_classes.end(), c) != thing_classes.end();
    out.push_back(cat);
  }
  return out;
}

Status coco_panoptic_encode(const PanopticResult& result, Image* png,
                            std::vector<PanopticSegmentOut>* segments) {
  std::unordered_map<int32_t, int64_t> ids;
  segments->clear();
  for (const PanopticSegmentInfo& s : result.segments) {
    int64_t id = int64_t(s.id) + 1;
    if (id < 1 || id >= (int64_t(1) << 24))
      return Status::error("panoptic value " + std::to_string(s.id) +
                           " does not fit the 24-bit COCO panoptic PNG id (value + 1 < 16777216)");
    ids[s.id] = id;
    segments->push_back(segment_out(s, id, s.category_id));
  }
  *png = encode_ids(result, ids);
  return Status::success();
}

Status cityscapes_label_ids_for_train_ids(int num_classes, std::vector<int>* label_ids) {
  if (num_classes != 19)
    return Status::error(
        "the Cityscapes formats need a model whose classes are the 19 Cityscapes train ids; "
        "this one has " +
        std::to_string(num_classes) + " classes");
  label_ids->assign(19, -1);
  for (const CityscapesLabel& l : cityscapes_labels())
    if (l.train_id >= 0 && l.train_id < 19 && l.id >= 0) (*label_ids)[size_t(l.train_id)] = l.id;
  return Status::success();
}

std::vector<PanopticCategory> cityscapes_panoptic_categories() {
  std::vector<PanopticCategory> out;
  for (int id : cityscapes_eval_ids()) {
    const CityscapesLabel* l = cityscapes_label(id);
    out.push_back({id, l->name, l->has_instances});
  }
  return out;
}

Status cityscapes_panoptic_encode(const PanopticResult& result, const std::vector<int>& label_ids,
                                  int32_t label_divisor, Image* png,
                                  std::vector<PanopticSegmentOut>* segments) {
  if (label_divisor < 1) return Status::error("label_divisor must be >= 1");
  std::unordered_map<int32_t, int64_t> ids;
  segments->clear();
  for (const PanopticSegmentInfo& s : result.segments) {
    if (s.category_id < 0 || size_t(s.category_id) >= label_ids.size())
      return Status::error("class " + std::to_string(s.category_id) +
                           " has no Cityscapes label id");
    const int label = label_ids[size_t(s.category_id)];
    int64_t id = label;
    if (s.isthing) {
      int32_t instance = s.id % label_divisor;
      if (instance >= 1000)
        return Status::error("instance id " + std::to_string(instance) +
                             " does not fit the Cityscapes id scheme label·1000 + instance");
      id = int64_t(label) * 1000 + instance;
    }
    ids[s.id] = id;
    segments->push_back(segment_out(s, id, label));
  }
  *png = encode_ids(result, ids);
  return Status::success();
}

Status label_map_png(const std::vector<int32_t>& labels, int width, int height,
                     const std::vector<int>* map, Image* png) {
  png->width = width;
  png->height = height;
  png->channels = 1;
  png->pixels.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    int32_t v = labels[i];
    if (map) {
      if (v < 0 || size_t(v) >= map->size())
        return Status::error("label " + std::to_string(v) + " has no mapping");
      v = (*map)[size_t(v)];
    }
    if (v < 0 || v > 255)
      return Status::error("label " + std::to_string(v) + " does not fit an 8-bit PNG");
    png->pixels[i] = uint8_t(v);
  }
  return Status::success();
}

std::vector<InstanceMask> instance_masks(const PanopticResult& result) {
  std::vector<InstanceMask> out;
  std::unordered_map<int32_t, size_t> index;
  for (const PanopticSegmentInfo& s : result.segments) {
    if (!s.isthing) continue;
    InstanceMask m;
    m.mask.width = result.width;
    m.mask.height = result.height;
    m.mask.channels = 1;
    m.mask.pixels.assign(result.panoptic.size(), 0);
    m.category_id = s.category_id;
    m.score = s.score;
    index[s.id] = out.size();
    out.push_back(std::move(m));
  }
  for (size_t i = 0; i < result.panoptic.size(); ++i) {
    auto it = index.find(result.panoptic[i]);
    if (it != index.end()) out[it->second].mask.pixels[i] = 255;
  }
  return out;
}

std::string panoptic_json(const std::vector<PanopticAnnotation>& annotations,
                          const std::vector<PanopticCategory>& categories) {
  using nlohmann::ordered_json;
  ordered_json anns = ordered_json::array(), images = ordered_json::array(),
               cats = ordered_json::array();
  for (const PanopticAnnotation& ann : annotations) {
    ordered_json segments = ordered_json::array();
    for (const PanopticSegmentOut& s : ann.segments)
      segments.push_back({{"id", s.id},
                          {"category_id", s.category_id},
                          {"iscrowd", 0},
                          {"area", s.area},
                          {"bbox", {s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]}},
                          {"isthing", s.isthing ? 1 : 0},
                          {"score", s.score}});
    anns.push_back({{"image_id", ann.image_id},
                    {"file_name", ann.file_name},
                    {"segments_info", std::move(segments)}});
    images.push_back({{"id", ann.image_id},
                      {"file_name", ann.image_file},
                      {"width", ann.width},
                      {"height", ann.height}});
  }
  for (const PanopticCategory& c : categories)
    cats.push_back({{"id", c.id}, {"name", c.name}, {"isthing", c.isthing ? 1 : 0}});
  ordered_json root = {{"annotations", std::move(anns)},
                       {"images", std::move(images)},
                       {"categories", std::move(cats)}};
  return json_dump(root, 2) + "\n";
}

}  // namespace atrous
