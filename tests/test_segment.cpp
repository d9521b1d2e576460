// The image segmentation pipeline: decoding edge cases, metadata checks, preprocessing and
// the resize-then-argmax post-processing.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>

#include "graph/output_files.h"
#include "graph/thread_pool.h"
#include "models/overlay.h"
#include "models/semantic.h"
#include "ops/graph_rules.h"
#include "runtime/image.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

std::string temp_path(const char* suffix) {
  char base[] = "/tmp/atrous_img_XXXXXX";
  int fd = mkstemp(base);
  REQUIRE(fd >= 0);
  close(fd);
  std::remove(base);
  return std::string(base) + suffix;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  if (!bytes.empty())
    std::fwrite(bytes.data(), 1, bytes.size(), f);  // an empty vector's data is null
  std::fclose(f);
}

// A semantic model: input [1,3,4,6] → 1×1 conv to 3 classes (identity-like weights) so that
// the class with the largest input channel wins.
Graph make_argmax_model(const std::string& task, const std::string& layout) {
  Graph graph;
  if (!task.empty()) graph.metadata.set_string("task", task);
  graph.metadata.set_string("input_layout", layout);
  graph.metadata.set_floats("input_mean", {0, 0, 0});
  graph.metadata.set_floats("input_std", {255, 255, 255});
  graph.metadata.set_strings("labels", {"red", "green", "blue"});
  bool nhwc = layout == "nhwc";
  int32_t input =
      graph.add_tensor("image", DType::dtype_f32, nhwc ? Shape{1, 4, 6, 3} : Shape{1, 3, 4, 6});
  graph.inputs = {input};
  int32_t x = input;
  if (nhwc) {
    x = graph.add_tensor("nchw", DType::dtype_f32, {});
    AttributeMap perm;
    perm.set_ints("perm", {0, 3, 1, 2});
    testing::add_node(graph, OpType::op_transpose, "to_nchw", {input}, {x}, perm);
  }
  Tensor w(DType::dtype_f32, {3, 3, 1, 1});
  for (int i = 0; i < 3; ++i) w.f32()[i * 3 + i] = 1.f;
  int32_t wi = graph.add_constant("w", std::move(w));
  int32_t logits = graph.add_tensor("logits", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_conv, "classify", {x, wi}, {logits});
  int32_t out = logits;
  if (nhwc) {
    out = graph.add_tensor("logits_nhwc", DType::dtype_f32, {});
    AttributeMap perm;
    perm.set_ints("perm", {0, 2, 3, 1});
    testing::add_node(graph, OpType::op_transpose, "to_nhwc", {logits}, {out}, perm);
  }
  graph.outputs = {out};
  return graph;
}

}  // namespace

TEST_CASE("images: gray and RGBA files become RGB, non-images and huge images are refused",
          "[segment]") {
  Image rgba;
  rgba.width = 3;
  rgba.height = 2;
  rgba.channels = 4;
  rgba.pixels = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255,
                 1,  2,  3,  4, 5,  6,  7,  8,   9,  10, 11, 12};
  std::string path = temp_path(".png");
  REQUIRE(image_write_png(path, rgba).ok());
  Image loaded;
  int channels = 0;
  REQUIRE(image_load_rgb(path, &loaded, &channels).ok());
  CHECK(channels == 4);
  CHECK(loaded.channels == 3);
  CHECK(loaded.pixels ==
        std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3, 5, 6, 7, 9, 10, 11});

  Image gray;
  gray.width = 2;
  gray.height = 1;
  gray.channels = 1;
  gray.pixels = {7, 200};
  REQUIRE(image_write_png(path, gray).ok());
  REQUIRE(image_load_rgb(path, &loaded, &channels).ok());
  CHECK(channels == 1);
  CHECK(loaded.pixels == std::vector<uint8_t>{7, 7, 7, 200, 200, 200});

  write_bytes(path, {'h', 'e', 'l', 'l', 'o'});
  Status status = image_load_rgb(path, &loaded);
  CHECK_THAT(status.message(), Catch::Contains("is not an image"));

  // A PNG header announcing 17000×17000 pixels: refused from the header, before decoding.
  std::vector<uint8_t> huge = {0x89, 'P',  'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0, 0,
                               13,   'I',  'H', 'D', 'R',  0,    0,    0x42, 0x68, 0, 0,
                               0x42, 0x68, 8,   2,   0,    0,    0,    0,    0,    0, 0};
  write_bytes(path, huge);
  status = image_load_rgb(path, &loaded);
  CHECK_THAT(status.message(), Catch::Contains("17000x17000") && Catch::Contains("16384"));
  std::remove(path.c_str());
}

// Found by fuzz/fuzz_image.cpp: an empty file handed stb a null buffer to copy from
// (undefined behaviour, reported by the sanitizer builds).
TEST_CASE("images: an empty file is refused", "[segment]") {
  const std::string path = temp_path(".png");
  write_bytes(path, {});
  Image loaded;
  CHECK(!image_load_rgb(path, &loaded).ok());
  std::remove(path.c_str());
}

// Found by fuzz/fuzz_image.cpp: a JPEG Huffman table whose code-length counts add up to more
// than 256 made stb_image 2.27 write past its table (reported by the sanitizer builds). JPEG is
// now decoded by libjpeg-turbo where the build has it (stb in the cross build): either refuses.
TEST_CASE("images: a JPEG Huffman table with more than 256 codes is refused", "[segment]") {
  const std::string path = temp_path(".jpg");
  for (int tables : {1, 2, 3}) {  // the oversized table first or second in its segment
    std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC4};
    if (tables == 3) jpeg.insert(jpeg.begin(), 5, 0xFF);  // stb skips fill bytes before SOI
    std::vector<uint8_t> body;
    if (tables >= 2) {
      body.push_back(0x00);  // a valid DC table: one code of length 1, symbol 0
      body.push_back(1);
      body.insert(body.end(), 15, 0);
      body.push_back(0);
    }
    body.push_back(0x10);  // AC table 0: sixteen counts of 32 = 512 codes
    body.insert(body.end(), 16, 32);
    body.insert(body.end(), 512, 0);
    const size_t length = body.size() + 2;
    jpeg.push_back(uint8_t(length >> 8));
    jpeg.push_back(uint8_t(length & 0xFF));
    jpeg.insert(jpeg.end(), body.begin(), body.end());
    jpeg.insert(jpeg.end(), {0xFF, 0xD9});
    write_bytes(path, jpeg);
    Image loaded;
    Status status = image_load_rgb(path, &loaded);
    CHECK_FALSE(status.ok());
    CHECK_THAT(status.message(), Catch::Contains("JPEG"));
    status = image_load_rgb_memory(jpeg.data(), jpeg.size(), &loaded);
    CHECK_FALSE(status.ok());
    CHECK_THAT(status.message(), Catch::Contains("JPEG"));
  }
  std::remove(path.c_str());
}

TEST_CASE("bilinear image resize keeps constant images and maps corners", "[segment]") {
  Image image;
  image.width = 5;
  image.height = 3;
  image.channels = 3;
  image.pixels.assign(5 * 3 * 3, 77);
  Image resized = image_resize_bilinear(image, 11, 7);
  for (uint8_t v : resized.pixels) CHECK(v == 77);
  // A horizontal ramp 0,100,200 upsampled ×2 with half-pixel centers: 0,25,75,125,175,200.
  Image ramp;
  ramp.width = 3;
  ramp.height = 1;
  ramp.channels = 1;
  ramp.pixels = {0, 100, 200};
  Image up = image_resize_bilinear(ramp, 6, 1);
  CHECK(up.pixels == std::vector<uint8_t>{0, 25, 75, 125, 175, 200});
}

TEST_CASE("bilinear image resize: the per-pixel float expressions, any thread count", "[segment]") {
  // The bits of the plain per-pixel loop this function replaced (segment outputs must not
  // change), for up- and downscaling of 1-, 3- and 4-channel images.
  std::mt19937 rng(5);
  const int sizes[][5] = {{37, 23, 3, 101, 64}, {101, 64, 3, 37, 23}, {9, 5, 1, 4, 11},
                          {5, 9, 4, 13, 2},     {1, 1, 3, 7, 3},      {64, 32, 3, 64, 32}};
  ThreadPool one(1), two(2), three(3);
  for (const auto& s : sizes) {
    Image image;
    image.width = s[0], image.height = s[1], image.channels = s[2];
    image.pixels.resize(size_t(s[0] * s[1] * s[2]));
    for (uint8_t& v : image.pixels) v = uint8_t(rng());
    const int width = s[3], height = s[4], c = s[2];
    std::vector<uint8_t> expected(size_t(width * height * c));
    auto source = [](int i, int in_size, int out_size, int* i0, int* i1) {
      float p = std::min(std::max((i + 0.5f) * float(in_size) / float(out_size) - 0.5f, 0.f),
                         float(in_size - 1));
      *i0 = int(p);
      *i1 = std::min(*i0 + 1, in_size - 1);
      return p - float(*i0);
    };
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        int y0, y1, x0, x1;
        const float fy = source(y, image.height, height, &y0, &y1);
        const float fx = source(x, image.width, width, &x0, &x1);
        const uint8_t* row0 = image.pixels.data() + size_t(y0 * image.width * c);
        const uint8_t* row1 = image.pixels.data() + size_t(y1 * image.width * c);
        for (int k = 0; k < c; ++k) {
          float top = row0[x0 * c + k] * (1 - fx) + row0[x1 * c + k] * fx;
          float bottom = row1[x0 * c + k] * (1 - fx) + row1[x1 * c + k] * fx;
          float v = top * (1 - fy) + bottom * fy;
          expected[size_t((y * width + x) * c + k)] =
              uint8_t(std::min(255.f, std::max(0.f, std::round(v))));
        }
      }
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &one, &two, &three}) {
      INFO(s[0] << "x" << s[1] << "x" << c << " -> " << width << "x" << height << ", threads "
                << (pool ? pool->threads() : 0));
      CHECK(image_resize_bilinear(image, width, height, pool).pixels == expected);
    }
  }
}

TEST_CASE("image_model_info explains missing or wrong metadata", "[segment]") {
  ImageModelInfo info;
  Graph no_task = make_argmax_model("", "nchw");
  REQUIRE(graph_infer_shapes(&no_task).ok());
  Status status = image_model_info(no_task, &info);
  CHECK_THAT(status.message(),
             Catch::Contains("no 'task' metadata") && Catch::Contains("atrous-convert"));
  Graph classification = make_argmax_model("classification", "nchw");
  REQUIRE(graph_infer_shapes(&classification).ok());
  CHECK_THAT(image_model_info(classification, &info).message(),
             Catch::Contains("'classification'"));
  Graph foreground = make_argmax_model("foreground", "nchw");
  REQUIRE(graph_infer_shapes(&foreground).ok());
  CHECK_THAT(image_model_info(foreground, &info).message(),
             Catch::Contains("one probability channel"));
}

TEST_CASE("semantic segmentation labels each pixel with its dominant channel, NCHW and NHWC",
          "[segment]") {
  for (const char* layout : {"nchw", "nhwc"}) {
    Graph graph = make_argmax_model("semantic", layout);
    std::shared_ptr<const Model> model;
    REQUIRE(Model::from_graph(graph, &model).ok());
    std::unique_ptr<Session> session;
    REQUIRE(Session::create(model, SessionOptions(), &session).ok());
    ImageModelInfo info;
    REQUIRE(image_model_info(session->graph(), &info).ok());
    CHECK(info.nhwc == (std::string(layout) == "nhwc"));
    // A 12×8 image: left third red, middle green, right blue.
    Image image;
    image.width = 12;
    image.height = 8;
    image.channels = 3;
    image.pixels.resize(12 * 8 * 3);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 12; ++x) image.pixels[size_t((y * 12 + x) * 3 + x / 4)] = 255;
    SegmentationResult result;
    REQUIRE(segment_image(*session, info, image, &result).ok());
    REQUIRE(result.labels.size() == 96);
    INFO(layout);
    for (int y = 0; y < 8; ++y) {
      CHECK(result.labels[size_t(y * 12 + 0)] == 0);
      CHECK(result.labels[size_t(y * 12 + 6)] == 1);
      CHECK(result.labels[size_t(y * 12 + 11)] == 2);
    }
    // The network input was normalized by the metadata: values in [0, 1].
    Tensor input = segmentation_input(info, image);
    float lo = 1e9f, hi = -1e9f;
    for (int64_t i = 0; i < input.numel(); ++i)
      lo = std::min(lo, input.f32()[i]), hi = std::max(hi, input.f32()[i]);
    CHECK(lo == 0.f);
    CHECK(hi == 1.f);
  }
}

TEST_CASE("the palette is PASCAL VOC's", "[segment]") {
  uint8_t rgb[3];
  palette_color(0, rgb);
  CHECK((rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 0));
  palette_color(15, rgb);  // person
  CHECK((rgb[0] == 192 && rgb[1] == 128 && rgb[2] == 128));
  palette_color(3, rgb);  // bird
  CHECK((rgb[0] == 128 && rgb[1] == 128 && rgb[2] == 0));
}

TEST_CASE("output files appear together on commit and not at all otherwise", "[segment][files]") {
  char folder[] = "/tmp/atrous_outputs_XXXXXX";
  REQUIRE(mkdtemp(folder));
  const std::string dir = folder, a = dir + "/a.txt", b = dir + "/b.txt";
  auto exists = [](const std::string& path) {
    struct stat info;
    return stat(path.c_str(), &info) == 0;
  };
  auto entries = [&dir] {
    int count = 0;
    DIR* d = opendir(dir.c_str());
    while (dirent* e = readdir(d)) count += e->d_name[0] != '.' || std::strlen(e->d_name) > 2;
    closedir(d);
    return count;
  };
  {
    OutputFiles files;
    std::string ta, tb;
    REQUIRE(files.stage(a, &ta).ok());
    REQUIRE(files.stage(b, &tb).ok());
    CHECK_THAT(files.stage(a, &ta).message(), Catch::Contains("written twice"));
    CHECK(ta.rfind(dir + "/.a.txt.atrous-tmp-", 0) == 0);
    write_bytes(ta, {1});
    write_bytes(tb, {2});
    CHECK(entries() == 2);  // only the temporaries
  }
  CHECK(entries() == 0);  // not committed: removed
  {
    OutputFiles files;
    std::string ta, tb;
    REQUIRE(files.stage(a, &ta).ok());
    REQUIRE(files.stage(b, &tb).ok());
    write_bytes(ta, {1});
    write_bytes(tb, {2});
    REQUIRE(files.commit().ok());
  }
  CHECK(exists(a));
  CHECK(exists(b));
  CHECK(entries() == 2);
  std::remove(a.c_str());
  std::remove(b.c_str());
  REQUIRE(mkdir(b.c_str(), 0777) == 0);  // in the way of the second file
  {
    OutputFiles files;
    std::string ta, tb;
    REQUIRE(files.stage(a, &ta).ok());
    REQUIRE(files.stage(b, &tb).ok());
    write_bytes(ta, {1});
    write_bytes(tb, {2});
    CHECK_THAT(files.commit().message(), Catch::Contains("b.txt") && Catch::Contains("directory"));
  }
  CHECK_FALSE(exists(a));  // found before the first rename
  rmdir(b.c_str());
  CHECK(entries() == 0);
  rmdir(folder);
}

// PNG, JPEG and BMP only: stb_image 2.27's decoders for the other formats it knows misbehaved on
// fuzzed files (fuzz/fuzz_image.cpp; docs/FUZZING.md): a 16-bit gray PNM read past its buffer, a
// PNM header number overflowed an int, a 4 KB GIF allocated a 2 GB canvas, a 17-byte TGA decoded
// 60 million pixels, a PSD with an alpha channel converted out-of-range floats to bytes. Each of
// those files is now refused by name before any decoding.
TEST_CASE("images: formats other than PNG, JPEG and BMP are refused", "[segment]") {
  const std::vector<std::pair<const char*, std::vector<uint8_t>>> cases = {
      {"pgm 16-bit", {'P', '5', '\n', '2', ' ', '2', '\n', '6', '5', '5', '3', '5', '\n', 0, 1,
                      0,   2,   0,    3,   0,   4,   0,    5,   0,   6,   0,   7,   0,    8}},
      {"ppm", {'P', '6', ' ', '1', ' ', '1', ' ', '2', '5', '5', '\n', 1, 2, 3}},
      {"gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0,    0, 0, ',', 0,
               0,   0,   0,   1,   0,   1,   0, 0, 2, 2, 0x44, 1, 0, ';'}},
      {"tga",
       {0x00, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x83,
        0x1C, 0x0F}},
      {"psd", {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1,
               0,   8,   0,   3,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 128}},
      {"hdr", {'#', '?', 'R', 'A', 'D', 'I', 'A', 'N', 'C',  'E', '\n', '\n', '-',
               'Y', ' ', '1', ' ', '+', 'X', ' ', '1', '\n', 1,   1,    1,    128}},
  };
  for (const auto& [name, bytes] : cases) {
    INFO(name);
    Image loaded;
    const Status status = image_load_rgb_memory(bytes.data(), bytes.size(), &loaded);
    CHECK_FALSE(status.ok());
    CHECK_THAT(status.message(),
               Catch::Contains("is not an image this tool can read (PNG, JPEG, BMP)"));
  }
}

// Found by fuzz/fuzz_image.cpp: an empty first IDAT chunk made stb_image 2.27 pass a null pointer
// to memcpy (UBSan).
TEST_CASE("images: a PNG whose first IDAT chunk is empty is refused", "[segment]") {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0,    0,    0,    13,
                              'I',  'H', 'D', 'R', 0,    0,    0,    6,    0,    0,    0,    5,
                              8,    2,   0,   0,   0,    0xE9, 0x3A, 0x0A, 0xB1,  // IHDR CRC
                              0,    0,   0,   0,   'I',  'D',  'A',  'T',  0x35, 0xAF, 0x06, 0x1E,
                              0,    0,   0,   0,   'I',  'E',  'N',  'D',  0xAE, 0x42, 0x60, 0x82};
  Image loaded;
  const Status status = image_load_rgb_memory(png.data(), png.size(), &loaded);
  CHECK_FALSE(status.ok());
  CHECK_THAT(status.message(), Catch::Contains("first IDAT chunk is empty"));
}

// Found by fuzz/fuzz_image.cpp: a 29-byte BMP (57 x 10485513 pixels, 4 bits) had its missing
// header bytes read as zeros and decoded before the short file was seen.
TEST_CASE("images: a BMP shorter than its header is refused before decoding", "[segment]") {
  const std::vector<uint8_t> bmp = {0x42, 0x4D, 0x96, 0x00, 0xFB, 0x00, 0x00, 0x49, 0x45, 0x4E,
                                    0x44, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x39, 0x00,
                                    0x00, 0x00, 0xF7, 0x00, 0x60, 0xFF, 0x01, 0x00, 0x04};
  Image loaded;
  const Status status = image_load_rgb_memory(bmp.data(), bmp.size(), &loaded);
  CHECK_FALSE(status.ok());
  CHECK_THAT(status.message(), Catch::Contains("truncated or corrupt"));
}
