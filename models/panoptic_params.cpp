// Panoptic merger parameters: convention defaults, model metadata (docs/FORMAT.md keys) and a
// JSON params file with the same keys: a flat object of numbers, strings and number arrays.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "graph/json_io.h"
#include "models/panoptic_merger.h"

namespace atrous {

const char* panoptic_convention_name(PanopticConvention convention) {
  return convention == panoptic_convention_detectron2 ? "detectron2" : "deeplab2";
}

bool panoptic_convention_from_name(const std::string& name, PanopticConvention* convention) {
  if (name == "deeplab2")
    *convention = panoptic_convention_deeplab2;
  else if (name == "detectron2")
    *convention = panoptic_convention_detectron2;
  else
    return false;
  return true;
}

PanopticParams panoptic_params_default(PanopticConvention convention) {
  PanopticParams p;
  p.convention = convention;
  if (convention == panoptic_convention_detectron2) {
    p.void_label = -1;  // detectron2's Panoptic-DeepLab passes void_label=-1
    p.nms_kernel = 7;
    p.top_k = 200;
    p.stuff_area_limit = 2048;
  }
  return p;
}

Status panoptic_params_validate(const PanopticParams& p) {
  if (p.label_divisor < 1)
    return Status::error("label_divisor must be >= 1, got " + std::to_string(p.label_divisor));
  // deeplab2 writes void pixels as void_label·label_divisor. detectron2 writes void_label itself
  // and its Panoptic-DeepLab passes -1, the value the detectron2 convention always writes: there
  // -1 is accepted (and other values, such as a deeplab2 model's 255, are not used).
  if (p.convention == panoptic_convention_deeplab2 && p.void_label < 0)
    return Status::error("void_label must be >= 0 with the deeplab2 convention, got " +
                         std::to_string(p.void_label));
  if (p.convention == panoptic_convention_detectron2 && p.void_label < -1)
    return Status::error("void_label must be >= -1 with the detectron2 convention, got " +
                         std::to_string(p.void_label));
  if (int64_t(p.void_label) * p.label_divisor > std::numeric_limits<int32_t>::max())
    return Status::error("void_label × label_divisor does not fit in int32");
  if (p.nms_kernel < 1 || p.nms_kernel > 1023)
    return Status::error("nms_kernel must be in [1, 1023], got " + std::to_string(p.nms_kernel));
  if (p.convention == panoptic_convention_detectron2 && p.nms_kernel % 2 == 0)
    return Status::error(
        "the detectron2 convention needs an odd nms_kernel (torch's max-pool with padding "
        "(k-1)/2 changes the map size for even k), got " +
        std::to_string(p.nms_kernel));
  if (p.top_k < 0) return Status::error("top_k must be >= 0, got " + std::to_string(p.top_k));
  if (p.stuff_area_limit < 0)
    return Status::error("stuff_area_limit must be >= 0, got " +
                         std::to_string(p.stuff_area_limit));
  if (std::isnan(p.center_threshold)) return Status::error("center_threshold is NaN");
  for (int32_t c : p.thing_classes)
    if (c < 0 || c >= (1 << 20))
      return Status::error("thing class " + std::to_string(c) + " is outside [0, 1048575]");
  return Status::success();
}

namespace {

bool to_int32(int64_t v, int32_t* out) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    return false;
  *out = int32_t(v);
  return true;
}

// Reads the keys from `metadata` over `p`; thing_classes is required.
Status read_keys(const AttributeMap& metadata, PanopticParams* p) {
  bool ok = true;
  auto read_int = [&](const char* key, int32_t* out) {
    if (!metadata.has(key)) return Status::success();
    bool type_ok = true;
    int64_t v = metadata.get_int(key, 0, &type_ok);
    if (!type_ok) return Status::error(std::string(key) + " must be an integer");
    if (!to_int32(v, out))
      return Status::error(std::string(key) + " is out of range: " + std::to_string(v));
    return Status::success();
  };
  ATROUS_RETURN_IF_ERROR(read_int("label_divisor", &p->label_divisor));
  ATROUS_RETURN_IF_ERROR(read_int("void_label", &p->void_label));
  ATROUS_RETURN_IF_ERROR(read_int("nms_kernel", &p->nms_kernel));
  ATROUS_RETURN_IF_ERROR(read_int("top_k", &p->top_k));
  ATROUS_RETURN_IF_ERROR(read_int("stuff_area_limit", &p->stuff_area_limit));
  if (metadata.has("center_threshold")) {
    const Attribute* a = metadata.find("center_threshold");
    if (a->type == AttributeType::attribute_int)
      p->center_threshold = float(a->i);
    else
      p->center_threshold = float(metadata.get_float("center_threshold", 0, &ok));
    if (!ok) return Status::error("center_threshold must be a number");
  }
  if (!metadata.has("thing_classes"))
    return Status::error(
        "missing thing classes: the parameters need \"thing_classes\" (the class ids that have "
        "instances; add them with atrous-convert --thing-classes or in the params file)");
  std::vector<int64_t> things = metadata.get_ints("thing_classes", {}, &ok);
  if (!ok) return Status::error("thing_classes must be a list of integers");
  p->thing_classes.clear();
  for (int64_t c : things) {
    int32_t v = 0;
    if (!to_int32(c, &v)) return Status::error("thing class out of range: " + std::to_string(c));
    p->thing_classes.push_back(v);
  }
  return panoptic_params_validate(*p);
}

// The merge parameters a params file or the model metadata may hold.
const char* const kMergeKeys[] = {"thing_classes",    "label_divisor", "void_label",
                                  "center_threshold", "nms_kernel",    "top_k",
                                  "stuff_area_limit"};
// Other metadata keys the runtime reads (docs/FORMAT.md "Metadata section").
const char* const kOtherMetadataKeys[] = {"producer",   "source",    "task",       "labels",
                                          "input_mean", "input_std", "input_size", "input_layout"};

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The merge key closest to `key` in edit distance (the first on ties).
const char* closest_merge_key(const std::string& key, size_t* distance) {
  const char* best = kMergeKeys[0];
  *distance = std::numeric_limits<size_t>::max();
  for (const char* known : kMergeKeys) {
    size_t d = edit_distance(key, known);
    if (d < *distance) *distance = d, best = known;
  }
  return best;
}

bool is_merge_key(const std::string& key) {
  return std::find_if(std::begin(kMergeKeys), std::end(kMergeKeys),
                      [&](const char* known) { return key == known; }) != std::end(kMergeKeys);
}

Status unknown_key_error(const std::string& where, const std::string& key) {
  size_t distance = 0;
  const char* closest = closest_merge_key(key, &distance);
  return Status::error(where + "unknown key \"" + key + "\" (the closest known key is \"" +
                       closest + "\")");
}

// The model metadata holds other keys too (docs/FORMAT.md keeps unknown ones), so only a key
// that is none of the runtime's and lies within two edits of a merge key is taken for a
// misspelled merge parameter: silently using the default there would change the output.
Status check_metadata_keys(const AttributeMap& metadata) {
  for (const Attribute& a : metadata.items()) {
    if (is_merge_key(a.name) || std::find_if(std::begin(kOtherMetadataKeys),
                                             std::end(kOtherMetadataKeys), [&](const char* known) {
                                               return a.name == known;
                                             }) != std::end(kOtherMetadataKeys))
      continue;
    size_t distance = 0;
    closest_merge_key(a.name, &distance);
    if (distance <= 2) return unknown_key_error("model metadata: ", a.name);
  }
  return Status::success();
}

// The params file becomes the same AttributeMap the model metadata gives (integers → int,
// other numbers → float). Every key must be a merge key or "convention".
Status json_to_attributes(const nlohmann::json& root, AttributeMap* out) {
  if (!root.is_object()) return Status::error("params JSON: expected an object");
  for (const auto& member : root.items()) {
    const nlohmann::json& v = member.value();
    Attribute a;
    a.name = member.key();
    if (a.name != "convention" && !is_merge_key(a.name))
      return unknown_key_error("params JSON: ", a.name);
    int64_t integer = 0;
    if (v.is_string()) {
      a.type = AttributeType::attribute_string;
      a.s = v.get<std::string>();
    } else if (v.is_number_integer()) {
      // An integer beyond int64 is an error here; one beyond int32 is reported by read_keys.
      if (!json_to_int64(v, &integer))
        return Status::error("params JSON: \"" + a.name + "\" is out of range: " + v.dump());
      a.type = AttributeType::attribute_int;
      a.i = integer;
      a.f = double(integer);
    } else if (v.is_number()) {
      a.type = AttributeType::attribute_float;
      a.f = v.get<double>();
    } else if (v.is_array()) {
      bool all_int = true;
      for (const nlohmann::json& item : v) {
        if (!item.is_number())
          return Status::error("params JSON: \"" + a.name + "\" must hold numbers only");
        all_int &= item.is_number_integer();
      }
      a.type = all_int ? AttributeType::attribute_ints : AttributeType::attribute_floats;
      for (const nlohmann::json& item : v) {
        if (!all_int) {
          a.floats.push_back(item.get<double>());
        } else if (json_to_int64(item, &integer)) {
          a.ints.push_back(integer);
        } else {
          return Status::error("params JSON: \"" + a.name + "\" holds an out-of-range integer " +
                               item.dump());
        }
      }
    } else {
      return Status::error("params JSON: \"" + a.name +
                           "\" must be a number, a string or an array of numbers");
    }
    out->set(a);
  }
  return Status::success();
}

}  // namespace

PanopticParams panoptic_params_from_metadata(const AttributeMap& metadata,
                                             PanopticConvention convention, Status* status) {
  PanopticParams p = panoptic_params_default(convention);
  *status = check_metadata_keys(metadata);
  if (status->ok()) *status = read_keys(metadata, &p);
  return p;
}

PanopticParams panoptic_params_from_json(const std::string& text, Status* status,
                                         const PanopticConvention* convention_override) {
  AttributeMap map;
  nlohmann::json root;
  *status = json_parse(text, "params JSON", &root);
  if (!status->ok()) return PanopticParams();
  *status = json_to_attributes(root, &map);
  if (!status->ok()) return PanopticParams();
  PanopticConvention convention = panoptic_convention_deeplab2;
  if (map.has("convention")) {
    bool ok = true;
    std::string name = map.get_string("convention", "", &ok);
    if (!ok || !panoptic_convention_from_name(name, &convention)) {
      *status = Status::error("params JSON: \"convention\" must be \"deeplab2\" or \"detectron2\"");
      return PanopticParams();
    }
  }
  if (convention_override) convention = *convention_override;
  return panoptic_params_from_metadata(map, convention, status);
}

}  // namespace atrous
