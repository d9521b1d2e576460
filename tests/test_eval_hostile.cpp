// Hostile inputs to evaluation's readers (issue 14): names that lead outside the given folders,
// files that are not regular files, and the memory budget that bounds decoding whatever the
// thread count. Every file here is made by the test itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "eval/eval_paths.h"
#include "eval/evaluator.h"
#include "eval/label_image.h"
#include "graph/file_io.h"

using namespace atrous;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("atrous_test_eval_hostile_" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name, std::ios::binary) << bytes;
    return (path / name).string();
  }
};

// The first 33 bytes of a PNG (signature + IHDR) declaring `w`x`h` 8-bit RGB: enough for
// image_memory_use, which reads nothing else.
std::string png_header(uint32_t w, uint32_t h) {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  auto be32 = [&](uint32_t v) {
    for (int k = 24; k >= 0; k -= 8) s.push_back(char(v >> k));
  };
  be32(13);
  s += "IHDR";
  be32(w);
  be32(h);
  s += std::string("\x08\x02\x00\x00\x00", 5);
  be32(0);  // CRC, not checked
  return s;
}

}  // namespace

TEST_CASE("eval paths: names stay inside their folder unless allowed", "[eval][hostile]") {
  TempDir dir;
  const std::string root = (dir.path / "pred").string();
  dir.write("pred/a.png", "x");
  dir.write("outside.png", "x");
  fs::create_symlink(dir.path / "outside.png", dir.path / "pred" / "link.png");
  fs::create_directories(dir.path / "pred" / "sub");
  EvalRoot strict, lenient;
  REQUIRE(eval_root_make(root, false, &strict).ok());
  REQUIRE(eval_root_make(root, true, &lenient).ok());
  std::string path;
  CHECK(eval_root_join(strict, "a.png", &path).ok());
  CHECK(path == root + "/a.png");
  CHECK(eval_root_join(strict, "sub/../a.png", &path).ok());
  CHECK(eval_root_join(strict, "missing.png", &path).ok());    // missing is decided later
  CHECK(eval_root_join(strict, root + "/a.png", &path).ok());  // absolute but inside
  // Outside: one message, whether or not the target exists.
  const char* outside[] = {"../outside.png", "../nothing_here.png", "sub/../../outside.png",
                           "/etc/passwd",    "/nonexistent/x.png",  "link.png"};
  for (const char* name : outside) {
    Status s = eval_root_join(strict, name, &path);
    INFO(name << " -> " << s.message());
    CHECK(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains("not a file inside " + root) &&
                                Catch::Contains("--allow-outside-paths"));
    CHECK(eval_root_join(lenient, name, &path).ok());
  }
  // A prefix of the root's name is not inside it.
  dir.write("pred2/a.png", "x");
  CHECK(!eval_root_join(strict, "../pred2/a.png", &path).ok());
  // NUL bytes are refused even when outside paths are allowed.
  const std::string nul("a.png\0../../etc/passwd", 22);
  CHECK_THAT(eval_root_join(lenient, nul, &path).message(), Catch::Contains("NUL"));
  CHECK_THAT(eval_root_join(strict, "", &path).message(), Catch::Contains("empty"));
}

TEST_CASE("regular files only: directories, FIFOs and devices are refused without blocking",
          "[eval][hostile]") {
  TempDir dir;
  const std::string fifo = (dir.path / "fifo.png").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string plain = dir.write("plain.png", png_header(4, 3));
  struct Case {
    std::string path;
    const char* message;
  };
  const Case cases[] = {
      {dir.path.string(), "is a directory"},
      {fifo, "is a FIFO, not a regular file"},
      {"/dev/zero", "is a character device, not a regular file"},
      {(dir.path / "missing.png").string(), "cannot open (No such file or directory)"},
      {std::string("plain.png\0x", 11), "NUL"},
  };
  const auto start = std::chrono::steady_clock::now();
  for (const Case& c : cases) {
    INFO(c.path);
    int fd = -1;
    Status s = open_regular_file(c.path, &fd);
    CHECK(fd == -1);
    CHECK_THAT(s.message(), Catch::Contains(c.message));
    LabelImage8 image;
    CHECK_THAT(load_label_png(c.path, &image).message(), Catch::Contains(c.message));
    ImageMemoryUse use;
    CHECK_THAT(image_memory_use(c.path, 1, false, &use).message(), Catch::Contains(c.message));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  int fd = -1;
  uint64_t size = 0;
  REQUIRE(open_regular_file(plain, &fd, &size).ok());
  CHECK(size == 33);
  ::close(fd);
}

TEST_CASE("image memory comes from the header alone, and PNG only", "[eval][hostile]") {
  TempDir dir;
  ImageMemoryUse use;
  // A 33-byte file declaring 16384x16384 RGB: sized, never decoded.
  REQUIRE(image_memory_use(dir.write("bomb.png", png_header(16384, 16384)), 1, false, &use).ok());
  CHECK(use.width == 16384);
  CHECK(use.bytes >= uint64_t(16384) * (16384 * 3 + 1) + uint64_t(16384) * 16384);
  REQUIRE(image_memory_use(dir.write("row.png", png_header(16384, 16384)), 4, true, &use).ok());
  CHECK(use.bytes < uint64_t(16384) * (16384 * 3 + 1) + (uint64_t(4) << 20));  // rows, no id map
  CHECK_THAT(image_memory_use(dir.write("big.png", png_header(16385, 2)), 1, false, &use).message(),
             Catch::Contains("16385x2 out of range"));
  CHECK_THAT(image_memory_use(dir.write("bmp.png", "BM" + std::string(60, '\0')), 1, false, &use)
                 .message(),
             Catch::Contains("not a PNG file"));
  LabelImage8 image;
  CHECK_THAT(load_label_png(dir.path.string() + "/bmp.png", &image).message(),
             Catch::Contains("not a PNG file"));
}

TEST_CASE("eval memory budget: images in flight never exceed it, whatever the thread count",
          "[eval][hostile][threads]") {
  const uint64_t budget = 1000;
  for (int threads : {1, 2, 4, 8}) {
    std::mutex mutex;
    uint64_t in_flight = 0, peak = 0;
    std::atomic<int> released{0};
    EvalMemory memory;
    memory.budget = budget;
    memory.release_thread_buffers = [&] { released.fetch_add(1); };
    // Image i needs 100..700 bytes; the "decode" holds them a little while.
    auto evaluate = [&](size_t i, EvalAccumulators*) {
      const uint64_t need = 100 + (i * 37) % 601;
      Status s = eval_reserve_image_memory(need);
      if (!s.ok()) return s;
      {
        std::lock_guard<std::mutex> lock(mutex);
        in_flight += need;
        peak = std::max(peak, in_flight);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mutex);
      in_flight -= need;
      return Status::success();
    };
    EvalAccumulators total;
    REQUIRE(evaluate_images(64, threads, evaluate, &total, nullptr, memory).ok());
    INFO(threads << " threads");
    CHECK(peak <= budget);
    CHECK(peak >= 100);
    CHECK(released.load() >= 1);  // each thread drops its buffers when it is done
  }
  // An image that alone needs more than the budget is an error, not a wait.
  EvalMemory memory;
  memory.budget = budget;
  EvalAccumulators total;
  Status s = evaluate_images(
      4, 2, [](size_t, EvalAccumulators*) { return eval_reserve_image_memory(5000); }, &total,
      nullptr, memory);
  CHECK_THAT(s.message(), Catch::Contains("more than the memory budget"));
  // Exceptions from a reader become errors, never escape the pool.
  s = evaluate_images(
      3, 2, [](size_t, EvalAccumulators*) -> Status { throw std::bad_alloc(); }, &total, nullptr,
      memory);
  CHECK_THAT(s.message(), Catch::Contains("out of memory"));
}
