#include "graph/json_io.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "graph/file_io.h"

namespace atrous {

Status json_parse(const std::string& text, const std::string& source, nlohmann::json* value) {
  try {
    *value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // what() reads "[json.exception.parse_error.101] parse error at line 2, column 5: ...";
    // the bracketed tag means nothing to a user.
    std::string message = e.what();
    size_t tag_end = message.find("] ");
    if (message.rfind("[json.exception.", 0) == 0 && tag_end != std::string::npos)
      message.erase(0, tag_end + 2);
    *value = nullptr;
    return Status::error(source + ": " + message);
  }
  return Status::success();
}

Status json_parse_file(const std::string& path, nlohmann::json* value) {
  std::string text;
  ATROUS_RETURN_IF_ERROR(read_regular_file(path, &text));
  return json_parse(text, path, value);
}

std::string json_dump(const nlohmann::ordered_json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool json_to_int64(const nlohmann::json& value, int64_t* out) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    *out = value.get<int64_t>();
    return true;
  }
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > uint64_t(INT64_MAX)) return false;
    *out = int64_t(u);
    return true;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    // 2^63 is exactly representable; every double below it in magnitude converts exactly.
    if (!std::isfinite(d) || d != std::floor(d) || d >= 9223372036854775808.0 ||
        d < -9223372036854775808.0)
      return false;
    *out = int64_t(d);
    return true;
  }
  return false;
}

bool json_id_key(const nlohmann::json& value, std::string* key) {
  if (value.is_string()) {
    *key = value.get<std::string>();
    return true;
  }
  if (!value.is_number()) return false;
  int64_t id = 0;
  if (json_to_int64(value, &id))
    *key = std::to_string(id);
  else
    *key = value.dump();
  return true;
}

}  // namespace atrous
