// A small, strict JSON reader for the evaluation inputs (COCO / Cityscapes panoptic JSON).
// RFC 8259: objects, arrays, strings with escapes (\uXXXX with surrogate pairs → UTF-8),
// numbers, true/false/null. No comments, no trailing commas, no NaN. Errors name the line and
// column of the offending character.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/status.h"

namespace atrous {

struct JsonValue {
  enum class Type { null_value, boolean, number, string, array, object };
  Type type = Type::null_value;
  bool boolean = false;
  double number = 0;
  std::string text;              // the string's value, or the number as written
  std::vector<JsonValue> items;  // array elements
  std::vector<std::pair<std::string, JsonValue>> members;  // object members, in file order

  bool is_object() const { return type == Type::object; }
  bool is_array() const { return type == Type::array; }
  bool is_number() const { return type == Type::number; }
  bool is_string() const { return type == Type::string; }
  // The member named `key` (the last one when repeated), or nullptr.
  const JsonValue* find(const std::string& key) const;
};

Status json_parse(const std::string& text, JsonValue* value);
// Reads and parses a file; errors start with the path.
Status json_parse_file(const std::string& path, JsonValue* value);

// An id as a string key: strings as they are, integral numbers without a fraction ("42").
// Returns false for other types.
bool json_id_key(const JsonValue& value, std::string* key);

}  // namespace atrous
