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

#include "graph/thread_pool.h"
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

void parallel_chunks(ThreadPool* pool, int64_t count,
                     const std::function<void(int64_t, int64_t)>& task) {
  if (count <= 0) return;
  if (pool)
    pool->parallel_for(count, task);
  else
    task(0, count);
}

// Horizontal pass first, then vertical, as before this function was threaded: `top` and
// `bottom` are the same float expressions of the same inputs, so each input row is interpolated
// horizontally once per chunk of output rows that needs it (and kept while the next output row
// reads it again) instead of once per output row, and the vertical blend, round and clamp run
// over a contiguous row the compiler vectorises. No FMA may contract these expressions
// differently from before: the file keeps the default floating-point flags.
Image image_resize_bilinear(const Image& source, int width, int height, ThreadPool* pool) {
  Image out;
  out.width = width;
  out.height = height;
  out.channels = source.channels;
  out.pixels.resize(size_t(width) * size_t(height) * size_t(source.channels));
  const int c = source.channels;
  const size_t row_values = size_t(width) * size_t(c);
  // Horizontal taps per output value (column × channel): source offsets and weights.
  std::vector<int32_t> i0(row_values), i1(row_values);
  std::vector<float> w0(row_values), w1(row_values);
  for (int x = 0; x < width; ++x) {
    float sx = std::min(std::max((x + 0.5f) * float(source.width) / float(width) - 0.5f, 0.f),
                        float(source.width - 1));
    int x0 = int(sx), x1 = std::min(x0 + 1, source.width - 1);
    float fx = sx - float(x0);
    for (int k = 0; k < c; ++k) {
      size_t o = size_t(x) * size_t(c) + size_t(k);
      i0[o] = x0 * c + k, i1[o] = x1 * c + k;
      w0[o] = 1 - fx, w1[o] = fx;
    }
  }
  const size_t source_row = size_t(source.width) * size_t(c);
  parallel_chunks(pool, height, [&](int64_t begin, int64_t end) {
    // Two horizontally interpolated input rows, tagged with their source row (-1: none yet).
    std::vector<float> cache[2] = {std::vector<float>(row_values), std::vector<float>(row_values)};
    int tag[2] = {-1, -1};
    auto horizontal = [&](int sy) -> const float* {
      for (int k = 0; k < 2; ++k)
        if (tag[k] == sy) return cache[k].data();
      // Replace the row the current output row does not need (the older one).
      int k = tag[0] < tag[1] ? 0 : 1;
      const uint8_t* row = source.pixels.data() + size_t(sy) * source_row;
      float* h = cache[k].data();
      for (size_t o = 0; o < row_values; ++o) h[o] = row[i0[o]] * w0[o] + row[i1[o]] * w1[o];
      tag[k] = sy;
      return h;
    };
    for (int64_t y = begin; y < end; ++y) {
      float sy =
          std::min(std::max((float(y) + 0.5f) * float(source.height) / float(height) - 0.5f, 0.f),
                   float(source.height - 1));
      int y0 = int(sy), y1 = std::min(y0 + 1, source.height - 1);
      float fy = sy - float(y0);
      const float* top = horizontal(y0);
      const float* bottom = horizontal(y1);
      uint8_t* dst = out.pixels.data() + size_t(y) * row_values;
      for (size_t o = 0; o < row_values; ++o) {
        float v = top[o] * (1 - fy) + bottom[o] * fy;
        dst[o] = uint8_t(std::min(255.f, std::max(0.f, std::round(v))));
      }
    }
  });
  return out;
}

}  // namespace atrous
