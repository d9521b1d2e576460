// Shared helpers of the `atrous` subcommands.
#pragma once

#include <string>
#include <vector>

#include "graph/status.h"

namespace atrous {

struct Arguments {
  std::vector<std::string> items;
  size_t position = 0;
  bool empty() const { return position >= items.size(); }
  const std::string& peek() const { return items[position]; }
  std::string next() { return items[position++]; }
  // The value after an option: false when the command line ends first.
  bool next_value(std::string* out) {
    if (empty()) return false;
    *out = next();
    return true;
  }
};

// Prints "atrous: error: MESSAGE" on stderr and returns `code` (1 for failures, 2 for usage).
int cli_fail(const std::string& message, int code = 1);
bool parse_int(const std::string& text, long long* value);
// Writes `text` to `path` (replacing it); an error names the path.
Status write_text_file(const std::string& path, const std::string& text);
// mkdir -p; an error when the path exists and is not a directory.
Status make_directories(const std::string& path);

int command_info(Arguments& args);
int command_segment(Arguments& args);
int command_run(Arguments& args);
int command_eval(Arguments& args);
int command_merge(Arguments& args);
int command_bench(Arguments& args);

}  // namespace atrous
