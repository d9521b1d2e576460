#include "graph/output_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace atrous {
namespace {

std::atomic<unsigned long> temporary_counter{0};

}  // namespace

OutputFiles::~OutputFiles() { discard(); }

Status OutputFiles::stage(const std::string& final_path, std::string* temporary) {
  for (const std::string& path : final_)
    if (path == final_path)
      return Status::error("'" + final_path + "' would be written twice by this command");
  const size_t slash = final_path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "" : final_path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  *temporary = directory + "." + name + ".atrous-tmp-" + std::to_string(long(getpid())) + "-" +
               std::to_string(temporary_counter++);
  final_.push_back(final_path);
  temporary_.push_back(*temporary);
  return Status::success();
}

Status OutputFiles::commit() {
  // rename() cannot replace a directory: look for one first, so that the usual way a rename
  // fails is found before any file is in place.
  for (const std::string& path : final_) {
    struct stat info;
    if (lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      discard();
      return Status::error("cannot write '" + path + "': a directory of that name is in the way");
    }
  }
  for (size_t i = 0; i < final_.size(); ++i) {
    if (std::rename(temporary_[i].c_str(), final_[i].c_str()) != 0) {
      const int error = errno;
      temporary_.erase(temporary_.begin(), temporary_.begin() + long(i));
      final_.erase(final_.begin(), final_.begin() + long(i));
      discard();
      return Status::error("cannot write '" + final_[0] + "': " + std::strerror(error));
    }
  }
  temporary_.clear();
  return Status::success();
}

void OutputFiles::discard() {
  for (const std::string& path : temporary_) std::remove(path.c_str());
  temporary_.clear();
}

}  // namespace atrous
