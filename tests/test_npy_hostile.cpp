// Hostile .npy headers and files, each generated here: strict header parsing (NumPy's keys and
// value types only, each key once), checked shape arithmetic, float64 values that float32 cannot
// hold, and non-regular files refused without blocking.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "runtime/npy.h"

using namespace atrous;

namespace {

struct TempPath {
  std::string path;
  TempPath() {
    char name[] = "/tmp/atrous_npy_hostile_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
  }
  ~TempPath() { std::remove(path.c_str()); }
};

// A version-1.0 file with `dict` as its header, padded with spaces and a newline as NumPy does.
void write_npy(const std::string& path, std::string dict, const std::vector<uint8_t>& payload) {
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += char(1);
  bytes += char(0);
  bytes += char(dict.size() & 0xff);
  bytes += char(dict.size() >> 8);
  bytes += dict;
  bytes.append(payload.begin(), payload.end());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size());
  std::fclose(file);
}

template <typename T>
std::vector<uint8_t> payload_of(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::string read_error(const std::string& path) {
  Tensor tensor;
  Status status = npy_read(path, &tensor);
  return status.ok() ? "ok" : status.message();
}

}  // namespace

TEST_CASE(".npy headers are parsed as NumPy does, or refused", "[npy]") {
  TempPath file;
  const std::string& p = file.path;
  const std::vector<uint8_t> six = payload_of(std::vector<float>{1, 2, 3, 4, 5, 6});
  const std::string prefix = "'" + p + "': ";

  write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six);
  Tensor tensor;
  REQUIRE(npy_read(p, &tensor).ok());
  CHECK(tensor.shape() == Shape{2, 3});
  // Keys in any order, double quotes, no trailing comma, one-element tuple with its comma.
  write_npy(p, "{\"shape\": (6,), \"descr\": \"<f4\", \"fortran_order\": False}", six);
  REQUIRE(npy_read(p, &tensor).ok());
  CHECK(tensor.shape() == Shape{6});

  struct Case {
    std::string dict, message;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
       "Fortran-order arrays are not supported (save np.ascontiguousarray(x))"},
      {"{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3), }",
       "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': Truex, 'shape': (2, 3), }",
       "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }",
       "'shape' needs commas between its dimensions"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }",
       "'shape' (n) needs a comma: (n,)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
       "'shape' holds something other than a number"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'shape': (2, 3)}",
       "header has 'shape' twice"},
      {"{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (6,)}",
       "header has 'descr' twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (6,)}",
       "header has 'fortran_order' twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}",
       "header has an unknown key 'extra' (only 'descr', 'fortran_order' and 'shape' are "
       "allowed)"},
      {"{'descr': '<f4', 'fortran_order': False}", "header has no 'shape'"},
      {"{'fortran_order': False, 'shape': (6,)}", "header has no 'descr'"},
      {"{'descr': '<f4', 'shape': (6,)}", "header has no 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",
       "header has text after its dict"},
      {"['descr', '<f4']", "header is not a dict"},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (6,)}",
       "dtype '>f4' is not supported (use float32, float64, int32, int64 or uint8)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9)}",
       "'shape' has more than 8 dimensions"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000000,)}",
       "'shape' has a dimension that is too large"},
  };
  for (const Case& c : cases) {
    INFO(c.dict);
    write_npy(p, c.dict, six);
    CHECK(read_error(p) == prefix + c.message);
  }
}

TEST_CASE(".npy shape arithmetic is checked before any allocation", "[npy]") {
  TempPath file;
  const std::string& p = file.path;
  const std::string prefix = "'" + p + "': ";
  // Products that overflow 64 bits, also around a zero dimension (an empty array whose other
  // dimensions are huge), and ones that fit 64 bits but exceed the tensor size limit.
  for (const char* shape : {"(4294967296, 4294967296, 4294967296)", "(0, 999999999999999999, 99)",
                            "(999999999999999999, 999999999999999999, 0)", "(17179869185,)"}) {
    INFO(shape);
    write_npy(p, std::string("{'descr': '<i8', 'fortran_order': False, 'shape': ") + shape + "}",
              {});
    CHECK_THAT(read_error(p),
               Catch::StartsWith(prefix + "shape [") && Catch::EndsWith("] is too large"));
  }
  // Within the limit but more bytes than the file holds (8 * 2^34 would need 128 GiB).
  write_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (131072, 131072)}", {1, 2, 3});
  CHECK(read_error(p) == prefix + "file holds fewer bytes than its shape [131072,131072] needs");
  write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 17179869184)}", {});
  Tensor tensor;
  REQUIRE(npy_read(p, &tensor).ok());
  CHECK(tensor.numel() == 0);
}

TEST_CASE(".npy float64 values beyond float32's range are refused", "[npy]") {
  TempPath file;
  const std::string& p = file.path;
  const double inf = std::numeric_limits<double>::infinity();
  write_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)}",
            payload_of(std::vector<double>{1.5, -3.0e38, inf, std::nan("")}));
  Tensor tensor;
  REQUIRE(npy_read(p, &tensor).ok());
  CHECK(tensor.f32()[1] == -3.0e38f);
  CHECK(std::isinf(tensor.f32()[2]));  // infinities and NaN are representable: kept
  CHECK(std::isnan(tensor.f32()[3]));
  write_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
            payload_of(std::vector<double>{1.0, -std::ldexp(1.0, 130), 2.0}));
  CHECK(read_error(p) == "'" + p +
                             "': float64 value -1.3611294676837539e+39 (element 1) is beyond "
                             "float32's range");
  write_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
            payload_of(std::vector<double>{1e300}));
  CHECK_THAT(read_error(p), Catch::EndsWith("(element 0) is beyond float32's range"));
}

TEST_CASE(".npy reading refuses FIFOs and directories without blocking", "[npy]") {
  char dir[] = "/tmp/atrous_npy_dir_XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string fifo = std::string(dir) + "/input.npy";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(read_error(fifo) == fifo + ": is a FIFO, not a regular file");
  CHECK(read_error(dir) == std::string(dir) + ": is a directory");
  CHECK_THAT(read_error(std::string(dir) + "/missing.npy"), Catch::Contains("cannot open"));
  std::remove(fifo.c_str());
  rmdir(dir);
}
