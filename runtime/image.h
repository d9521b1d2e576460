// Images for the task pipelines: decoding (PNG, JPEG, BMP, ... via stb_image), PNG encoding,
// and bilinear resizing of 8-bit RGB.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph/status.h"

namespace atrous {

class ThreadPool;

// Images larger than this on either side are refused before decoding.
constexpr int kMaxImageSide = 16384;

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1, 3 or 4
  std::vector<uint8_t> pixels;  // row-major, interleaved
};

// Decodes any stb_image format to 8-bit RGB: grayscale is replicated, alpha is dropped.
// `source_channels` (optional) receives the file's own channel count.
Status image_load_rgb(const std::string& path, Image* image, int* source_channels = nullptr);
Status image_load_rgb_memory(const uint8_t* data, size_t size, Image* image,
                             int* source_channels = nullptr);
Status image_write_png(const std::string& path, const Image& image);

// Bilinear resize of 8-bit interleaved pixels with half-pixel centers (output pixel x samples
// input coordinate (x + 0.5)·in/out − 0.5, clamped), result rounded to nearest. Output rows are
// split over `pool` when given; the result is the same for any pool or none.
Image image_resize_bilinear(const Image& source, int width, int height, ThreadPool* pool = nullptr);

// task(begin, end) over chunks covering [0, count): on `pool` when given (the session's pool, so
// the pre- and post-processing of a pipeline use the threads its inference uses), else in one
// call. For loops whose every element is computed alike whichever chunk holds it.
void parallel_chunks(ThreadPool* pool, int64_t count,
                     const std::function<void(int64_t, int64_t)>& task);

}  // namespace atrous
