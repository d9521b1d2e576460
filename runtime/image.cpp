// The stb implementations are compiled here, from Debian's libstb-dev headers.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_NO_STDIO_FOPEN_OVERRIDE
// PNG and BMP only, and JPEG where libjpeg-turbo is not there (the cross build). Fuzzing found
// memory and undefined-behaviour defects in stb_image 2.27's JPEG, PNM, GIF, TGA and PSD decoders
// (docs/FUZZING.md); JPEG goes to libjpeg-turbo and the others are not compiled.
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#ifndef ATROUS_HAVE_TURBOJPEG
#define STBI_ONLY_JPEG
#endif
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
#include <cstring>
#include <memory>

#ifdef ATROUS_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

#include "graph/file_io.h"
#include "graph/thread_pool.h"
#include "runtime/image.h"

namespace atrous {
namespace {

// Bytes handed to stb through its callback interface, so that a decoder asking for bytes past
// the end is seen: stb fills whatever is missing with zeros and reports success, which turned a
// truncated file (or an 18-byte header claiming 16384x16384 pixels) into a black image.
struct ByteSource {
  const uint8_t* data = nullptr;
  size_t size = 0, position = 0;
  bool read_past_end = false;
};

constexpr int kStbBufferBytes = 128;  // sizeof stbi__context::buffer_start

int source_read(void* user, char* out, int size) {
  auto* s = static_cast<ByteSource*>(user);
  size_t n = std::min(size_t(std::max(size, 0)), s->size - s->position);
  // stb refills its 128-byte buffer with reads that may come back short near the end; any other
  // short read is a getn (a row, a whole PNM raster) whose result some loaders ignore.
  if (n < size_t(std::max(size, 0)) && (n == 0 || size != kStbBufferBytes)) s->read_past_end = true;
  if (n) std::memcpy(out, s->data + s->position, n);  // an empty file's data is null
  s->position += n;
  return int(n);
}

void source_skip(void* user, int n) {
  auto* s = static_cast<ByteSource*>(user);
  if (n < 0) {
    s->position -= std::min(s->position, size_t(-int64_t(n)));
    return;
  }
  if (size_t(n) > s->size - s->position) s->read_past_end = true;
  s->position += std::min(size_t(n), s->size - s->position);
}

int source_eof(void* user) {
  auto* s = static_cast<ByteSource*>(user);
  return s->position >= s->size;
}

const stbi_io_callbacks kCallbacks = {source_read, source_skip, source_eof};

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }

// The fewest bytes a file of this format can hold `width`x`height` pixels in, from the header.
// Uncompressed BMP needs every pixel's bytes; PNG's deflate expands at most 1032-fold; a baseline
// or progressive JPEG spends at least one bit per 8x8 block on its first scan. Checked before
// decoding, so a lying header costs nothing.
uint64_t minimum_file_bytes(const uint8_t* d, size_t size, uint64_t width, uint64_t height) {
  const uint64_t pixels = width * height;
  if (size >= 8 && d[0] == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G')
    return height * (1 + (width + 7) / 8) / 1032;
  if (size >= 3 && d[0] == 0xFF && d[1] == 0xD8) return ((width + 7) / 8) * ((height + 7) / 8) / 8;
  if (size >= 2 && d[0] == 'B' && d[1] == 'M') {
    // A file too short for the header's bit depth is refused (stb read a 29-byte BMP's missing
    // bytes as zeros and decoded 600 million pixels; found by fuzz/fuzz_image.cpp).
    if (size < 30) return 30;
    return pixels * std::max<uint32_t>(le16(d + 28), 1) / 8;
  }
  return 0;
}

#ifndef ATROUS_HAVE_TURBOJPEG
// Debian's stb_image 2.27 writes past a Huffman table's 257-entry size list when a DHT segment's
// sixteen code-length counts add up to more than 256 (found by fuzz/fuzz_image.cpp; later stb
// releases check it), in stbi_info as in loading. So JPEG bytes are checked first: every DHT
// segment, at the markers stb would read (0xFF then a byte other than 0x00, 0xFF or a restart
// marker; the segments that carry a length are skipped by it, anything else byte by byte).
bool jpeg_huffman_counts_fit(const uint8_t* d, size_t n) {
  // stb takes any run of 0xFF fill bytes before the start-of-image marker.
  size_t p = 0;
  while (p < n && d[p] == 0xFF) ++p;
  if (p == 0 || p >= n || d[p] != 0xD8) return true;  // not a JPEG
  ++p;
  while (p + 1 < n) {
    const uint8_t m = d[p + 1];
    if (d[p] != 0xFF || m == 0xFF) {
      ++p;
      continue;
    }
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {
      p += 2;
      continue;
    }
    if (m == 0xD9 || p + 3 >= n) return true;  // end of image
    const size_t length = size_t(d[p + 2]) << 8 | d[p + 3];
    if (m == 0xC4) {
      // As stb reads it: tables while the declared length lasts, each 1 + 16 + sum bytes.
      int64_t left = int64_t(length) - 2;
      size_t q = p + 4;
      while (left > 0) {
        int sum = 0;
        for (size_t i = 1; i <= 16 && q + i < n; ++i) sum += d[q + i];
        if (sum > 256) return false;
        left -= 17 + sum;
        q += size_t(17 + sum);
      }
    }
    p += 2 + length;
  }
  return true;
}

Status check_jpeg_tables(const uint8_t* data, size_t size, const std::string& what) {
  if (!jpeg_huffman_counts_fit(data, size))
    return Status::error(what + ": corrupt JPEG (a Huffman table with more than 256 codes)");
  return Status::success();
}
#endif

// The size a header claims, checked before any pixel is decoded: the side limit, and a file
// large enough for that many pixels (minimum_file_bytes).
Status check_claimed_size(const uint8_t* data, size_t size, const std::string& what, int width,
                          int height) {
  if (width > kMaxImageSide || height > kMaxImageSide)
    return Status::error(what + ": image is " + std::to_string(width) + "x" +
                         std::to_string(height) + ", larger than the " +
                         std::to_string(kMaxImageSide) + "x" + std::to_string(kMaxImageSide) +
                         " this tool accepts");
  const uint64_t needed = minimum_file_bytes(data, size, uint64_t(width), uint64_t(height));
  if (size < needed)
    return Status::error(what + ": the header says " + std::to_string(width) + "x" +
                         std::to_string(height) + " pixels, which need at least " +
                         std::to_string(needed) + " bytes, but the file has " +
                         std::to_string(size) + ": truncated or corrupt");
  return Status::success();
}

#ifdef ATROUS_HAVE_TURBOJPEG
// JPEG through libjpeg-turbo's TurboJPEG API: the size is checked from the header before any pixel
// is decoded (the side limit, and at least one bit per 8x8 block of the file); libjpeg's warnings
// (data that ends early, corrupt entropy-coded data) are errors rather than gray fill
// (TJFLAG_STOPONWARNING); progressive files are limited in scans (TJFLAG_LIMITSCANS). The default
// accurate integer IDCT and smooth upsampling are what PIL uses, so pixels equal PIL's.
Status decode_jpeg(const uint8_t* data, size_t size, const std::string& what, Image* image,
                   int* source_channels) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) return Status::error(what + ": cannot start the JPEG decoder");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), data, static_cast<unsigned long>(size), &width, &height,
                          &subsampling, &colorspace) != 0)
    return Status::error(what + ": cannot decode JPEG (" +
                         std::string(tjGetErrorStr2(handle.get())) + ")");
  if (width <= 0 || height <= 0) return Status::error(what + ": the image has no pixels");
  ATROUS_RETURN_IF_ERROR(check_claimed_size(data, size, what, width, height));
  std::vector<uint8_t> pixels(size_t(width) * size_t(height) * 3);
  if (tjDecompress2(handle.get(), data, static_cast<unsigned long>(size), pixels.data(), width, 0,
                    height, TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
    return Status::error(what + ": cannot decode JPEG, truncated or corrupt (" +
                         std::string(tjGetErrorStr2(handle.get())) + ")");
  image->width = width;
  image->height = height;
  image->channels = 3;
  image->pixels = std::move(pixels);
  if (source_channels) *source_channels = colorspace == TJCS_GRAY ? 1 : 3;
  return Status::success();
}
#endif

// Two PNG chunk layouts that stb_image 2.27 mishandles (found by fuzz/fuzz_image.cpp), refused
// first: an empty first IDAT chunk (stb copies it into a buffer it has not allocated yet: a null
// pointer passed to memcpy), and a chunk longer than the rest of the file (stb allocates what the
// length says, up to 2 GB, and turns a length over 2^31 - 1 into a negative skip that moves
// backwards through the file). The chunks are walked as stb walks them; null when neither is there.
const char* png_chunk_problem(const uint8_t* d, size_t n) {
  if (n < 8 || d[0] != 0x89 || d[1] != 'P' || d[2] != 'N' || d[3] != 'G') return nullptr;
  bool seen_data = false;
  for (size_t p = 8; p + 8 <= n;) {
    const uint64_t length = uint64_t(d[p]) << 24 | uint64_t(d[p + 1]) << 16 |
                            uint64_t(d[p + 2]) << 8 | uint64_t(d[p + 3]);
    if (length + 12 > n - p) return "a chunk runs past the end of the file";
    if (std::memcmp(d + p + 4, "IDAT", 4) == 0 && !seen_data) {
      if (length == 0) return "its first IDAT chunk is empty";
      seen_data = true;
    }
    if (std::memcmp(d + p + 4, "IEND", 4) == 0) return nullptr;
    p += size_t(std::min<uint64_t>(length + 12, n));  // length, type, data, CRC
  }
  return nullptr;
}

Status decode(const uint8_t* data, size_t size, const std::string& what, Image* image,
              int* source_channels) {
  if (const char* problem = png_chunk_problem(data, size))
    return Status::error(what + ": truncated or corrupt PNG (" + problem + ")");
  if (size > size_t(1) << 31)
    return Status::error(what + ": file is " + std::to_string(size) +
                         " bytes, more than the 2 GiB this tool reads");
#ifdef ATROUS_HAVE_TURBOJPEG
  // stb accepts 0xFF fill bytes before the start-of-image marker; libjpeg wants the marker first.
  size_t fill = 0;
  while (fill < size && data[fill] == 0xFF) ++fill;
  if (fill >= 1 && fill < size && data[fill] == 0xD8)
    return decode_jpeg(data + fill - 1, size - (fill - 1), what, image, source_channels);
#endif
#ifndef ATROUS_HAVE_TURBOJPEG
  ATROUS_RETURN_IF_ERROR(check_jpeg_tables(data, size, what));
#endif
  ByteSource source{data, size};
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_callbacks(&kCallbacks, &source, &width, &height, &channels))
    return Status::error(what + " is not an image this tool can read (PNG, JPEG, BMP): " +
                         std::string(stbi_failure_reason()));
  ATROUS_RETURN_IF_ERROR(check_claimed_size(data, size, what, width, height));
  const int info_channels = channels;
  source = ByteSource{data, size};
  stbi_uc* pixels = stbi_load_from_callbacks(&kCallbacks, &source, &width, &height, &channels, 3);
  if (!pixels)
    return Status::error(what + ": cannot decode image (" + std::string(stbi_failure_reason()) +
                         ")");
  std::unique_ptr<stbi_uc, void (*)(void*)> owner(pixels, stbi_image_free);
  if (source.read_past_end)
    return Status::error(what + ": the image data ends before its " + std::to_string(width) + "x" +
                         std::to_string(height) + " pixels do: truncated or corrupt");
  if (width <= 0 || height <= 0) return Status::error(what + ": the image has no pixels");
  image->width = width;
  image->height = height;
  image->channels = 3;
  const size_t count = size_t(width) * size_t(height);
  image->pixels.assign(pixels, pixels + count * 3);
  if (source_channels) *source_channels = info_channels ? info_channels : channels;
  return Status::success();
}

}  // namespace

Status image_load_rgb(const std::string& path, Image* image, int* source_channels) {
  // Only regular files: a FIFO would block, a device never end, a directory is said to be one.
  uint64_t size = 0;
  std::FILE* file = nullptr;
  ATROUS_RETURN_IF_ERROR(fopen_regular_file(path, &file, &size));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, std::fclose);
  if (size > uint64_t(1) << 31)
    return Status::error("'" + path + "': file is " + std::to_string(size) +
                         " bytes, more than the 2 GiB this tool reads");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size && std::fread(bytes.data(), 1, bytes.size(), file) != bytes.size())
    return Status::error("'" + path + "': read error");
  return decode(bytes.data(), bytes.size(), "'" + path + "'", image, source_channels);
}

Status image_load_rgb_memory(const uint8_t* data, size_t size, Image* image, int* source_channels) {
  if (!data || size == 0) return Status::error("image buffer is empty");
  return decode(data, size, "image buffer", image, source_channels);
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
