// Panoptic merger parameters: convention defaults, model metadata (docs/FORMAT.md keys) and a
// JSON params file with the same keys (parsed by eval/json.h) for a flat object
// of numbers, strings and number arrays: that is all a params file holds.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "eval/json.h"
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
    p.nms_kernel = 7;
    p.top_k = 200;
    p.stuff_area_limit = 2048;
  }
  return p;
}

Status panoptic_params_validate(const PanopticParams& p) {
  if (p.label_divisor < 1)
    return Status::error("label_divisor must be >= 1, got " + std::to_string(p.label_divisor));
  if (p.void_label < 0)
    return Status::error("void_label must be >= 0, got " + std::to_string(p.void_label));
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

// The params file is a flat JSON object of numbers, strings and arrays of numbers; it becomes
// the same AttributeMap the model metadata gives (integral numbers → int, others → float).
bool json_integral(const JsonValue& v) {
  return v.text.find_first_of(".eE") == std::string::npos && std::abs(v.number) <= 9e15;
}

Status json_to_attributes(const JsonValue& root, AttributeMap* out) {
  if (!root.is_object()) return Status::error("params JSON: expected an object");
  for (const auto& member : root.members) {
    const JsonValue& v = member.second;
    Attribute a;
    a.name = member.first;
    if (v.is_string()) {
      a.type = AttributeType::attribute_string;
      a.s = v.text;
    } else if (v.is_number()) {
      a.type = json_integral(v) ? AttributeType::attribute_int : AttributeType::attribute_float;
      a.i = int64_t(v.number);
      a.f = v.number;
    } else if (v.is_array()) {
      bool all_int = true;
      for (const JsonValue& item : v.items) {
        if (!item.is_number())
          return Status::error("params JSON: \"" + a.name + "\" must hold numbers only");
        all_int &= json_integral(item);
      }
      a.type = all_int ? AttributeType::attribute_ints : AttributeType::attribute_floats;
      for (const JsonValue& item : v.items) {
        if (all_int)
          a.ints.push_back(int64_t(item.number));
        else
          a.floats.push_back(item.number);
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
  *status = read_keys(metadata, &p);
  return p;
}

PanopticParams panoptic_params_from_json(const std::string& text, Status* status,
                                         const PanopticConvention* convention_override) {
  AttributeMap map;
  JsonValue root;
  *status = json_parse(text, &root);
  if (!status->ok()) {
    *status = Status::error("params JSON: " + status->message());
    return PanopticParams();
  }
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
