// Regular-file checks on the opened descriptor: O_NONBLOCK keeps open() from waiting for a FIFO's
// writer; fstat then tells what was opened, and only a regular file is handed on (with blocking
// mode restored, which changes nothing for regular files but keeps later reads plain).
#include "graph/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace atrous {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISFIFO(mode)) return "is a FIFO, not a regular file";
  if (S_ISCHR(mode)) return "is a character device, not a regular file";
  if (S_ISBLK(mode)) return "is a block device, not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  return "is not a regular file";
}

}  // namespace

Status open_regular_file(const std::string& path, int* fd, uint64_t* size) {
  *fd = -1;
  if (has_nul_byte(path)) return Status::error("a file name contains a NUL byte");
  if (path.empty()) return Status::error("empty file name");
  int f = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f < 0) {
    const int e = errno;
    if (e == ENXIO) return Status::error(path + ": is not a regular file");  // a socket
    return Status::error(path + ": cannot open (" + std::strerror(e) + ")");
  }
  struct stat st;
  if (::fstat(f, &st) != 0) {
    const int e = errno;
    ::close(f);
    return Status::error(path + ": cannot open (" + std::strerror(e) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(f);
    return Status::error(path + ": " + kind_of(st.st_mode));
  }
  const int flags = ::fcntl(f, F_GETFL);
  if (flags >= 0) ::fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
  *fd = f;
  if (size) *size = uint64_t(st.st_size);
  return Status::success();
}

Status fopen_regular_file(const std::string& path, std::FILE** file, uint64_t* size) {
  *file = nullptr;
  int fd = -1;
  ATROUS_RETURN_IF_ERROR(open_regular_file(path, &fd, size));
  *file = ::fdopen(fd, "rb");
  if (!*file) {
    const int e = errno;
    ::close(fd);
    return Status::error(path + ": cannot open (" + std::strerror(e) + ")");
  }
  return Status::success();
}

Status read_regular_file(const std::string& path, std::string* bytes) {
  int fd = -1;
  uint64_t size = 0;
  ATROUS_RETURN_IF_ERROR(open_regular_file(path, &fd, &size));
  bytes->clear();
  bytes->reserve(size_t(size));
  char buffer[1 << 16];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int e = errno;
      ::close(fd);
      return Status::error(path + ": read error (" + std::strerror(e) + ")");
    }
    if (got == 0) break;
    bytes->append(buffer, size_t(got));
  }
  ::close(fd);
  return Status::success();
}

}  // namespace atrous
