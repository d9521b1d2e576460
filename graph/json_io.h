// JSON reading and writing on nlohmann-json, with the project's conventions: parse errors are
// one-line Status messages that name the file and the position, integers are taken only when
// they fit (never truncated), and everything written is valid UTF-8.
//
// It lives in graph/ because graph/ is the only part that every JSON user may include: models/
// (output files, merge parameters), eval/ (datasets; eval/ includes graph/ only) and tools/. Only
// this small interface is ours; callers use nlohmann::json directly (include <nlohmann/json.hpp>
// where values are built or read).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "graph/status.h"

namespace atrous {

// Parses `text`; `source` (a file name, "params JSON", ...) starts the error message, which
// gives the line and column of the offending character.
Status json_parse(const std::string& text, const std::string& source, nlohmann::json* value);
// Reads and parses a file; errors start with the path.
Status json_parse_file(const std::string& path, nlohmann::json* value);

// Serializes `value` (indent < 0: one line). Bytes of strings that are not valid UTF-8 become
// U+FFFD, so every file we write is valid JSON; NaN and infinities become null.
std::string json_dump(const nlohmann::ordered_json& value, int indent = -1);

// The value as an int64 when it is a number with an integral value inside int64's range
// (5 and 5.0 are; 5.5, 1e300, 2^63 and "5" are not).
bool json_to_int64(const nlohmann::json& value, int64_t* out);

// An id as a string key: strings as they are, integral numbers in decimal ("42" for 42 and
// 42.0), other numbers as written by json_dump. Returns false for other types.
bool json_id_key(const nlohmann::json& value, std::string* key);

}  // namespace atrous
