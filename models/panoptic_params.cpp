// Panoptic merger parameters: convention defaults, model metadata (docs/FORMAT.md keys) and a
// JSON params file with the same keys. The JSON reader is a small strict one for a flat object
// of numbers, strings and number arrays: that is all a params file holds.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "models/panoptic_merger.h"

namespace atrous {

const char* panoptic_convention_name(PanopticConvention convention) {
  return convention == panoptic_convention_detectron2 ? "detectron2" : "deeplab2";
}

bool panoptic_convention_from_name(const std::string& name, PanopticConvention* convention) {
  if (name == "deeplab2") *convention = panoptic_convention_deeplab2;
  else if (name == "detectron2") *convention = panoptic_convention_detectron2;
  else return false;
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
  if (p.label_divisor < 1) return Status::error("label_divisor must be >= 1, got " + std::to_string(p.label_divisor));
  if (p.void_label < 0) return Status::error("void_label must be >= 0, got " + std::to_string(p.void_label));
  if (int64_t(p.void_label) * p.label_divisor > std::numeric_limits<int32_t>::max())
    return Status::error("void_label × label_divisor does not fit in int32");
  if (p.nms_kernel < 1 || p.nms_kernel > 1023)
    return Status::error("nms_kernel must be in [1, 1023], got " + std::to_string(p.nms_kernel));
  if (p.convention == panoptic_convention_detectron2 && p.nms_kernel % 2 == 0)
    return Status::error("the detectron2 convention needs an odd nms_kernel (torch's max-pool with padding "
                         "(k-1)/2 changes the map size for even k), got " + std::to_string(p.nms_kernel));
  if (p.top_k < 0) return Status::error("top_k must be >= 0, got " + std::to_string(p.top_k));
  if (p.stuff_area_limit < 0)
    return Status::error("stuff_area_limit must be >= 0, got " + std::to_string(p.stuff_area_limit));
  if (std::isnan(p.center_threshold)) return Status::error("center_threshold is NaN");
  for (int32_t c : p.thing_classes)
    if (c < 0 || c >= (1 << 20)) return Status::error("thing class " + std::to_string(c) + " is outside [0, 1048575]");
  return Status::success();
}

namespace {

bool to_int32(int64_t v, int32_t* out) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return false;
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
    if (!to_int32(v, out)) return Status::error(std::string(key) + " is out of range: " + std::to_string(v));
    return Status::success();
  };
  ATROUS_RETURN_IF_ERROR(read_int("label_divisor", &p->label_divisor));
  ATROUS_RETURN_IF_ERROR(read_int("void_label", &p->void_label));
  ATROUS_RETURN_IF_ERROR(read_int("nms_kernel", &p->nms_kernel));
  ATROUS_RETURN_IF_ERROR(read_int("top_k", &p->top_k));
  ATROUS_RETURN_IF_ERROR(read_int("stuff_area_limit", &p->stuff_area_limit));
  if (metadata.has("center_threshold")) {
    const Attribute* a = metadata.find("center_threshold");
    if (a->type == AttributeType::attribute_int) p->center_threshold = float(a->i);
    else p->center_threshold = float(metadata.get_float("center_threshold", 0, &ok));
    if (!ok) return Status::error("center_threshold must be a number");
  }
  if (!metadata.has("thing_classes"))
    return Status::error("missing thing classes: the parameters need \"thing_classes\" (the class ids that have "
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

// A strict reader for {"key": number | string | [numbers], ...}.
class JsonReader {
 public:
  explicit JsonReader(const std::string& text) : text_(text) {}

  Status read_object(AttributeMap* out) {
    skip();
    if (!eat('{')) return fail("expected '{'");
    skip();
    if (eat('}')) return finish();
    for (;;) {
      std::string key;
      ATROUS_RETURN_IF_ERROR(read_string(&key));
      skip();
      if (!eat(':')) return fail("expected ':' after \"" + key + "\"");
      skip();
      Attribute a;
      a.name = key;
      if (peek() == '"') {
        a.type = AttributeType::attribute_string;
        ATROUS_RETURN_IF_ERROR(read_string(&a.s));
      } else if (peek() == '[') {
        ++pos_;
        skip();
        bool all_int = true;
        std::vector<double> values;
        if (!eat(']')) {
          for (;;) {
            double v = 0;
            bool is_int = false;
            ATROUS_RETURN_IF_ERROR(read_number(&v, &is_int));
            all_int &= is_int;
            values.push_back(v);
            skip();
            if (eat(']')) break;
            if (!eat(',')) return fail("expected ',' or ']' in \"" + key + "\"");
            skip();
          }
        }
        a.type = all_int ? AttributeType::attribute_ints : AttributeType::attribute_floats;
        for (double v : values) {
          if (all_int) a.ints.push_back(int64_t(v));
          else a.floats.push_back(v);
        }
      } else {
        double v = 0;
        bool is_int = false;
        ATROUS_RETURN_IF_ERROR(read_number(&v, &is_int));
        a.type = is_int ? AttributeType::attribute_int : AttributeType::attribute_float;
        a.i = int64_t(v);
        a.f = v;
      }
      out->set(a);
      skip();
      if (eat('}')) return finish();
      if (!eat(',')) return fail("expected ',' or '}'");
      skip();
    }
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  Status fail(const std::string& what) const {
    return Status::error("params JSON: " + what + " at offset " + std::to_string(pos_));
  }
  Status finish() {
    skip();
    return pos_ == text_.size() ? Status::success() : fail("unexpected text after the object");
  }
  Status read_string(std::string* out) {
    if (!eat('"')) return fail("expected a string");
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') return fail("escapes are not supported in keys or values");
      *out += text_[pos_++];
    }
    if (!eat('"')) return fail("unterminated string");
    return Status::success();
  }
  Status read_number(double* value, bool* is_int) {
    size_t begin = pos_;
    if (peek() == '-') ++pos_;
    *is_int = true;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c >= '0' && c <= '9') ++pos_;
      else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        *is_int = false;
        ++pos_;
      } else {
        break;
      }
    }
    std::string token = text_.substr(begin, pos_ - begin);
    if (token.empty() || token == "-") return fail("expected a number");
    char* end = nullptr;
    *value = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size() || !std::isfinite(*value)) return fail("bad number '" + token + "'");
    if (*is_int && std::abs(*value) > 9e15) return fail("integer out of range '" + token + "'");
    return Status::success();
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

PanopticParams panoptic_params_from_metadata(const AttributeMap& metadata, PanopticConvention convention,
                                             Status* status) {
  PanopticParams p = panoptic_params_default(convention);
  *status = read_keys(metadata, &p);
  return p;
}

PanopticParams panoptic_params_from_json(const std::string& text, Status* status,
                                         const PanopticConvention* convention_override) {
  AttributeMap map;
  JsonReader reader(text);
  *status = reader.read_object(&map);
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
