#include "graph/attributes.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace atrous {

const char* attribute_type_name(AttributeType type) {
  switch (type) {
    case AttributeType::attribute_int:
      return "int";
    case AttributeType::attribute_float:
      return "float";
    case AttributeType::attribute_string:
      return "string";
    case AttributeType::attribute_ints:
      return "ints";
    case AttributeType::attribute_floats:
      return "floats";
    case AttributeType::attribute_strings:
      return "strings";
  }
  return "unknown";
}

const Attribute* AttributeMap::find(const std::string& name) const {
  for (const Attribute& attribute : items_)
    if (attribute.name == name) return &attribute;
  return nullptr;
}

namespace {

// Looks up `name` and checks its type; reports a mismatch through `type_ok`.
const Attribute* find_typed(const AttributeMap& map, const std::string& name, AttributeType type,
                            bool* type_ok) {
  const Attribute* attribute = map.find(name);
  if (!attribute) return nullptr;
  if (attribute->type != type) {
    if (type_ok) *type_ok = false;
    return nullptr;
  }
  return attribute;
}

}  // namespace

int64_t AttributeMap::get_int(const std::string& name, int64_t fallback, bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_int, type_ok);
  return a ? a->i : fallback;
}

double AttributeMap::get_float(const std::string& name, double fallback, bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_float, type_ok);
  return a ? a->f : fallback;
}

std::string AttributeMap::get_string(const std::string& name, const std::string& fallback,
                                     bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_string, type_ok);
  return a ? a->s : fallback;
}

std::vector<int64_t> AttributeMap::get_ints(const std::string& name,
                                            const std::vector<int64_t>& fallback,
                                            bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_ints, type_ok);
  return a ? a->ints : fallback;
}

std::vector<double> AttributeMap::get_floats(const std::string& name,
                                             const std::vector<double>& fallback,
                                             bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_floats, type_ok);
  return a ? a->floats : fallback;
}

std::vector<std::string> AttributeMap::get_strings(const std::string& name,
                                                   const std::vector<std::string>& fallback,
                                                   bool* type_ok) const {
  const Attribute* a = find_typed(*this, name, AttributeType::attribute_strings, type_ok);
  return a ? a->strings : fallback;
}

Attribute& AttributeMap::slot(const std::string& name, AttributeType type) {
  for (Attribute& attribute : items_) {
    if (attribute.name == name) {
      attribute = Attribute();
      attribute.name = name;
      attribute.type = type;
      return attribute;
    }
  }
  items_.emplace_back();
  items_.back().name = name;
  items_.back().type = type;
  return items_.back();
}

void AttributeMap::set_int(const std::string& name, int64_t value) {
  slot(name, AttributeType::attribute_int).i = value;
}
void AttributeMap::set_float(const std::string& name, double value) {
  slot(name, AttributeType::attribute_float).f = value;
}
void AttributeMap::set_string(const std::string& name, const std::string& value) {
  slot(name, AttributeType::attribute_string).s = value;
}
void AttributeMap::set_ints(const std::string& name, const std::vector<int64_t>& value) {
  slot(name, AttributeType::attribute_ints).ints = value;
}
void AttributeMap::set_floats(const std::string& name, const std::vector<double>& value) {
  slot(name, AttributeType::attribute_floats).floats = value;
}
void AttributeMap::set_strings(const std::string& name, const std::vector<std::string>& value) {
  slot(name, AttributeType::attribute_strings).strings = value;
}
void AttributeMap::set(const Attribute& attribute) {
  slot(attribute.name, attribute.type) = attribute;
}
void AttributeMap::erase(const std::string& name) {
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].name == name) {
      items_.erase(items_.begin() + long(i));
      return;
    }
  }
}

namespace {

std::string format_double(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

// Quotes a string for display, escaping control characters so hostile metadata cannot
// mangle the terminal.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

}  // namespace

std::string attribute_value_to_string(const Attribute& attribute) {
  std::string text;
  switch (attribute.type) {
    case AttributeType::attribute_int:
      return std::to_string(attribute.i);
    case AttributeType::attribute_float:
      return format_double(attribute.f);
    case AttributeType::attribute_string:
      return quote(attribute.s);
    case AttributeType::attribute_ints:
      for (size_t i = 0; i < attribute.ints.size(); ++i)
        text += (i ? "," : "") + std::to_string(attribute.ints[i]);
      return "[" + text + "]";
    case AttributeType::attribute_floats:
      for (size_t i = 0; i < attribute.floats.size(); ++i)
        text += (i ? "," : "") + format_double(attribute.floats[i]);
      return "[" + text + "]";
    case AttributeType::attribute_strings:
      for (size_t i = 0; i < attribute.strings.size(); ++i)
        text += (i ? "," : "") + quote(attribute.strings[i]);
      return "[" + text + "]";
  }
  return "?";
}

}  // namespace atrous
