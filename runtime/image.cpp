// The stb implementations are compiled here, from Debian's libstb-dev headers.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_NO_STDIO_FOPEN_OVERRIDE
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cstdint>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "runtime/image.h"

namespace atrous {
namespace {

Status decode(stbi_uc* (*load)(void*, int*, int*, int*, int), void* source, const std::string& what,
              int info_width, int info_height, int info_channels, Image* image,
              int* source_channels) {
  if (info_width > kMaxImageSide || info_height > kMaxImageSide)
    return Status::error(what + ": image is " + std::to_string(info_width) + "x" +
                         std::to_string(info_height) +
                         ", larger than the 16384x16384 this tool accepts");
  int width = 0, height = 0, channels = 0;
  stbi_uc* pixels = load(source, &width, &height, &channels, 3);
  if (!pixels)
    return Status::error(what + ": cannot decode image (" + std::string(stbi_failure_reason()) +
                         ")");
  std::unique_ptr<stbi_uc, void (*)(void*)> owner(pixels, stbi_image_free);
  image->width = width;
  image->height = height;
  image->channels = 3;
  image->pixels.assign(pixels, pixels + size_t(width) * size_t(height) * 3);
  if (source_channels) *source_channels = info_channels ? info_channels : channels;
  return Status::success();
}

}  // namespace

Status image_load_rgb(const std::string& path, Image* image, int* source_channels) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return Status::error("cannot open '" + path + "'");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, std::fclose);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_file(file, &width, &height, &channels))
    return Status::error(
        "'" + path +
        "' is not an image this tool can read (PNG, JPEG, BMP, GIF, TGA, PSD, PNM, HDR): " +
        std::string(stbi_failure_reason()));
  std::fseek(file, 0, SEEK_SET);
  auto load = [](void* f, int* w, int* h, int* c, int req) {
    return stbi_load_from_file(static_cast<std::FILE*>(f), w, h, c, req);
  };
  return decode(load, file, "'" + path + "'", width, height, channels, image, source_channels);
}

Status image_load_rgb_memory(const uint8_t* data, size_t size, Image* image, int* source_channels) {
  if (!data || size == 0 || size > size_t(1) << 31)
    return Status::error("image buffer is empty or too large");
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, int(size), &width, &height, &channels))
    return Status::error("buffer is not an image this tool can read: " +
                         std::string(stbi_failure_reason()));
  struct Buffer {
    const uint8_t* data;
    int size;
  } buffer{data, int(size)};
  auto load = [](void* b, int* w, int* h, int* c, int req) {
    auto* buf = static_cast<Buffer*>(b);
    return stbi_load_from_memory(buf->data, buf->size, w, h, c, req);
  };
  return decode(load, &buffer, "image", width, height, channels, image, source_channels);
}

Status image_write_png(const std::string& path, const Image& image) {
  if (!stbi_write_png(path.c_str(), image.width, image.height, image.channels, image.pixels.data(),
                      image.width * image.channels))
    return Status::error("cannot write '" + path + "'");
  return Status::success();
}

Image image_resize_bilinear(const Image& source, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.channels = source.channels;
  out.pixels.resize(size_t(width) * size_t(height) * size_t(source.channels));
  const int c = source.channels;
  // Precompute the horizontal taps once per column.
  const size_t columns = static_cast<size_t>(width);
  std::vector<int> x0(columns), x1(columns);
  std::vector<float> fx(columns);
  for (int x = 0; x < width; ++x) {
    float sx = std::min(std::max((x + 0.5f) * float(source.width) / float(width) - 0.5f, 0.f),
                        float(source.width - 1));
    x0[size_t(x)] = int(sx);
    x1[size_t(x)] = std::min(x0[size_t(x)] + 1, source.width - 1);
    fx[size_t(x)] = sx - float(x0[size_t(x)]);
  }
  for (int y = 0; y < height; ++y) {
    float sy = std::min(std::max((y + 0.5f) * float(source.height) / float(height) - 0.5f, 0.f),
                        float(source.height - 1));
    int y0 = int(sy), y1 = std::min(y0 + 1, source.height - 1);
    float fy = sy - float(y0);
    const uint8_t* row0 = source.pixels.data() + size_t(y0) * size_t(source.width) * size_t(c);
    const uint8_t* row1 = source.pixels.data() + size_t(y1) * size_t(source.width) * size_t(c);
    uint8_t* dst = out.pixels.data() + size_t(y) * size_t(width) * size_t(c);
    for (int x = 0; x < width; ++x) {
      for (int k = 0; k < c; ++k) {
        float top = row0[x0[size_t(x)] * c + k] * (1 - fx[size_t(x)]) +
                    row0[x1[size_t(x)] * c + k] * fx[size_t(x)];
        float bottom = row1[x0[size_t(x)] * c + k] * (1 - fx[size_t(x)]) +
                       row1[x1[size_t(x)] * c + k] * fx[size_t(x)];
        float v = top * (1 - fy) + bottom * fy;
        dst[x * c + k] = uint8_t(std::min(255.f, std::max(0.f, std::round(v))));
      }
    }
  }
  return out;
}

}  // namespace atrous
