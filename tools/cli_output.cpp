// Output files of the commands go through graph/output_files.h (docs/CLI.md "Output files").
#include "tools/cli_common.h"

namespace atrous {

Status write_output(OutputFiles& files, const std::string& path,
                    const std::function<Status(const std::string&)>& write) {
  std::string temporary;
  ATROUS_RETURN_IF_ERROR(files.stage(path, &temporary));
  Status status = write(temporary);
  if (status.ok()) return status;
  std::string message = status.message();
  for (size_t at = message.find(temporary); at != std::string::npos;
       at = message.find(temporary, at + path.size()))
    message.replace(at, temporary.size(), path);
  return Status::error(message);
}

Status write_text_file_atomic(const std::string& path, const std::string& text) {
  OutputFiles files;
  ATROUS_RETURN_IF_ERROR(
      write_output(files, path, [&](const std::string& to) { return write_text_file(to, text); }));
  return files.commit();
}

}  // namespace atrous
