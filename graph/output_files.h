// A command's output files, written under temporary names and renamed into place together, so
// that a command failing half-way leaves none of them behind (and an existing file of the same
// name is replaced only by a complete new one).
//
// It lives in graph/ so that every writer (the runtime's PNG and .npy writers, models/' panoptic
// writers, the CLI's JSON) can take the temporary path without knowing about the others.
#pragma once

#include <string>
#include <vector>

#include "graph/status.h"

namespace atrous {

class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  // Removes the temporaries of a set that was not committed.
  ~OutputFiles();

  // Registers `final_path` and sets `*temporary` to the name to write it under: a hidden file
  // in the same directory (".NAME.atrous-tmp-PID-N"), so that the final rename stays within one
  // file system. Refuses a final path registered twice (two outputs would overwrite each other).
  Status stage(const std::string& final_path, std::string* temporary);
  // Renames every temporary to its final path, in the order staged. Only a rename failing (in a
  // directory made read-only meanwhile, for instance) can leave the set partly in place; the
  // error names the file, and the remaining temporaries are removed. A directory in the way of
  // any final path is found before the first rename.
  Status commit();
  // Removes the temporaries now (also done by the destructor).
  void discard();

  const std::vector<std::string>& final_paths() const { return final_; }

 private:
  std::vector<std::string> final_, temporary_;
};

}  // namespace atrous
