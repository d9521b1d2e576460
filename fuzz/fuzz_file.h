// Scratch files for fuzz targets whose library entry point takes a path (as the CLI calls it): an
// anonymous in-memory file (memfd) per target, opened by its /proc/self/fd path and rewritten for
// every input. In memory because truncating a disk file for each of millions of inputs costs
// milliseconds on some file systems.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace atrous_fuzz {

class ScratchFile {
 public:
  ScratchFile() {
    fd_ = memfd_create("atrous-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();  // no scratch file: nothing this target could test
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~ScratchFile() { close(fd_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the contents with `data` and returns the path.
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = pwrite(fd_, data + done, size - done, off_t(done));
      if (n <= 0) std::abort();
      done += size_t(n);
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace atrous_fuzz
