// Images for the task pipelines: decoding (PNG, JPEG, BMP, ... via stb_image), PNG encoding,
// and bilinear resizing of 8-bit RGB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/status.h"

namespace atrous {

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
// input coordinate (x + 0.5)·in/out − 0.5, clamped), result rounded to nearest.
Image image_resize_bilinear(const Image& source, int width, int height);

}  // namespace atrous
