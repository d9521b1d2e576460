// Opening input files that may be hostile: only regular files are read. A directory, FIFO,
// socket or device (a FIFO would block a plain open forever, /dev/zero never ends) is refused
// with a one-line message saying what the path is, and a name with a NUL byte (which the C
// functions would silently cut short) is refused before anything is opened.
//
// It lives in graph/ because every part that reads user files (the runtime's image and .npy
// readers, eval/'s PNG and dataset readers, JSON) may include graph/ and nothing else in common.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "graph/status.h"

namespace atrous {

// Opens `path` read-only (close-on-exec) after checking that it names a regular file; `*size`
// (optional) gets its size. The type is checked on the opened descriptor (fstat), and the open
// itself does not wait on a FIFO, so nothing blocks and nothing changes between check and use.
// Errors start with `path`: "cannot open (No such file or directory)", "is a directory", "is a
// FIFO, not a regular file", "is a character device, not a regular file", ...
Status open_regular_file(const std::string& path, int* fd, uint64_t* size = nullptr);
// The same as a stdio stream ("rb").
Status fopen_regular_file(const std::string& path, std::FILE** file, uint64_t* size = nullptr);
// Reads a whole regular file into `bytes`.
Status read_regular_file(const std::string& path, std::string* bytes);

// True when `name` holds a NUL byte (a C-string boundary the rest of the name would hide behind).
inline bool has_nul_byte(const std::string& name) { return name.find('\0') != std::string::npos; }

}  // namespace atrous
