// PNG decoding for evaluation: eval/png_reader.h for the common non-interlaced 8-bit (and 16-bit
// gray) files, each row converted as soon as it is unfiltered; stb_image for the other PNG
// variants (and non-PNG files). stb's implementation lives in runtime/image.cpp, so the header
// is included here without STB_IMAGE_IMPLEMENTATION. Both paths give the same values (the
// conversions below follow stb_image's channel conversions) and are compared by
// tests/test_eval_png.cpp.
#include "eval/label_image.h"

#include <stb/stb_image.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "eval/png_reader.h"
#include "graph/file_io.h"

namespace atrous {

namespace {

constexpr int kMaxSide = 16384;

using StbPixels = std::unique_ptr<void, void (*)(void*)>;

Status open_info(const std::string& path, std::FILE** file, int* w, int* h, int* channels,
                 bool* sixteen) {
  ATROUS_RETURN_IF_ERROR(fopen_regular_file(path, file));
  if (!stbi_info_from_file(*file, w, h, channels)) {
    std::fclose(*file);
    return Status::error(path + ": corrupt or unsupported image (" +
                         std::string(stbi_failure_reason()) + ")");
  }
  if (*w <= 0 || *h <= 0 || *w > kMaxSide || *h > kMaxSide) {
    std::fclose(*file);
    return Status::error(path + ": image size " + std::to_string(*w) + "x" + std::to_string(*h) +
                         " out of range");
  }
  *sixteen = stbi_is_16_bit_from_file(*file) != 0;
  return Status::success();
}

Status decode_failure(const std::string& path) {
  return Status::error(path + ": cannot decode (" + std::string(stbi_failure_reason()) + ")");
}

// One decoder per thread: its buffers stay allocated from image to image.
PngDecoder& thread_decoder() {
  thread_local PngDecoder decoder;
  return decoder;
}

// stb_image's RGB → one channel conversion (stbi__compute_y).
inline uint8_t luma(uint32_t r, uint32_t g, uint32_t b) {
  return uint8_t((r * 77 + g * 150 + b * 29) >> 8);
}

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// The first bytes of a regular file (fewer when it is shorter); errors as open_regular_file's.
Status read_head(const std::string& path, uint8_t* head, size_t want, size_t* got,
                 uint64_t* file_size) {
  std::FILE* f = nullptr;
  ATROUS_RETURN_IF_ERROR(fopen_regular_file(path, &f, file_size));
  *got = std::fread(head, 1, want, f);
  std::fclose(f);
  return Status::success();
}

// Eval reads PNG files only: stb_image would also take BMP, TGA, PSD, ... and fill the pixels a
// truncated one lacks, where a PNG's missing data is an error.
Status require_png(const std::string& path) {
  uint8_t head[8] = {};
  size_t got = 0;
  uint64_t size = 0;
  ATROUS_RETURN_IF_ERROR(read_head(path, head, 8, &got, &size));
  if (got < 8 || std::memcmp(head, kPngSignature, 8) != 0)
    return Status::error(path + ": not a PNG file");
  return Status::success();
}

// A vector sized to exactly `n` elements: growth allocates exactly (no doubling, old contents
// dropped first), so what a thread keeps is what eval's memory estimate counts.
template <typename T>
void resize_exact(std::vector<T>* v, size_t n) {
  if (v->capacity() < n) {
    *v = std::vector<T>();
    v->reserve(n);
  }
  v->resize(n);
}

// Runs the fast decoder; `*handled` false = use stb_image (a PNG variant the fast decoder
// leaves out, or not a PNG at all). `start` sees the header before any row and may refuse it.
Status fast_decode(const std::string& path, bool* handled,
                   const std::function<Status(const PngInfo&)>& start,
                   const std::function<void(int, const uint8_t*)>& row) {
  *handled = true;  // errors included: only a PNG variant the decoder leaves out goes to stb
  ATROUS_RETURN_IF_ERROR(require_png(path));
  *handled = false;
  PngDecoder& decoder = thread_decoder();
  PngInfo info;
  bool unsupported = false;
  bool started = false;
  Status s = decoder.decode_file(path, &info, &unsupported, [&](int y, const uint8_t* r) {
    if (!started) {
      ATROUS_RETURN_IF_ERROR(start(info));
      started = true;
    }
    row(y, r);
    return Status::success();
  });
  if (unsupported) return Status::success();
  *handled = true;
  return s;
}

}  // namespace

Status PanopticPngRows::open(const std::string& path, bool* fallback) {
  *fallback = false;
  path_ = path;
  ATROUS_RETURN_IF_ERROR(require_png(path));
  ATROUS_RETURN_IF_ERROR(decoder_.open_file(path, &info_, fallback));
  if (*fallback) return Status::success();
  if (info_.color_type == 0 || info_.color_type == 4 || info_.bit_depth != 8)
    return Status::error(path + ": a panoptic PNG must be 8-bit RGB (id = R + 256·G + 256²·B)");
  if (info_.color_type == 3) {
    const std::vector<uint8_t>& pal = decoder_.palette();
    palette_size_ = int(pal.size() / 4);
    for (int i = 0; i < palette_size_; ++i)
      palette_ids_[i] = uint32_t(pal[size_t(i) * 4]) | (uint32_t(pal[size_t(i) * 4 + 1]) << 8) |
                        (uint32_t(pal[size_t(i) * 4 + 2]) << 16);
  }
  if (row_.size() < size_t(info_.width)) resize_exact(&row_, size_t(info_.width));
  return Status::success();
}

Status PanopticPngRows::next(const uint32_t** ids) {
  const uint8_t* r = nullptr;
  Status s = decoder_.next_row(&r);
  if (!s.ok()) return Status::error(path_ + ": " + s.message());
  const size_t w = size_t(info_.width);
  uint32_t* out = row_.data();
  if (info_.color_type == 2) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // whole-word loads: the decoder leaves readable bytes after each row
    for (size_t x = 0; x < w; ++x) {
      uint32_t v;
      std::memcpy(&v, r + 3 * x, 4);
      out[x] = v & 0xffffffu;
    }
#else
    for (size_t x = 0; x < w; ++x)
      out[x] = uint32_t(r[3 * x]) | (uint32_t(r[3 * x + 1]) << 8) | (uint32_t(r[3 * x + 2]) << 16);
#endif
  } else if (info_.color_type == 6) {
    for (size_t x = 0; x < w; ++x)
      out[x] = uint32_t(r[4 * x]) | (uint32_t(r[4 * x + 1]) << 8) | (uint32_t(r[4 * x + 2]) << 16);
  } else {
    for (size_t x = 0; x < w; ++x) {
      if (r[x] >= palette_size_) return Status::error(path_ + ": palette index out of range");
      out[x] = palette_ids_[r[x]];
    }
  }
  *ids = out;
  return Status::success();
}

void PanopticPngRows::release_buffers() {
  decoder_.release_buffers();
  row_ = std::vector<uint32_t>();
}

namespace {
thread_local PanopticPngRows panoptic_rows;  // of load_panoptic_png
}  // namespace

void label_image_release_thread_buffers() {
  thread_decoder().release_buffers();
  panoptic_rows.release_buffers();
}

Status image_memory_use(const std::string& path, int kept_per_pixel, bool streamed,
                        ImageMemoryUse* use) {
  *use = ImageMemoryUse();
  uint8_t head[33] = {};
  size_t got = 0;
  uint64_t file_size = 0;
  ATROUS_RETURN_IF_ERROR(read_head(path, head, sizeof head, &got, &file_size));
  if (got < 8 || std::memcmp(head, kPngSignature, 8) != 0)
    return Status::error(path + ": not a PNG file");
  auto be32 = [&](int at) {
    return (uint32_t(head[at]) << 24) | (uint32_t(head[at + 1]) << 16) |
           (uint32_t(head[at + 2]) << 8) | uint32_t(head[at + 3]);
  };
  if (got < 33 || be32(8) != 13 || std::memcmp(head + 12, "IHDR", 4) != 0)
    return Status::error(path + ": corrupt PNG (no IHDR chunk)");
  const uint32_t w = be32(16), h = be32(20);
  const int depth = head[24], color = head[25];
  const bool interlaced = head[28] != 0;
  if (w == 0 || h == 0 || w > uint32_t(kMaxSide) || h > uint32_t(kMaxSide))
    return Status::error(path + ": image size " + std::to_string(w) + "x" + std::to_string(h) +
                         " out of range");
  static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
  const uint64_t channels = color <= 6 && kChannels[color] ? uint64_t(kChannels[color]) : 4;
  const uint64_t pixels = uint64_t(w) * h;
  const uint64_t sample_bytes = depth == 16 ? 2 : 1;
  const uint64_t stride = (uint64_t(w) * channels * uint64_t(depth > 8 ? depth : 8) + 7) / 8;
  const uint64_t inflated = (stride + 1) * h;
#if ATROUS_HAVE_LIBDEFLATE
  const bool fast = !interlaced && (depth == 8 || (depth == 16 && color == 0));
#else
  const bool fast = false;
#endif
  // file + its image data (at most the file) + small fixed buffers
  uint64_t bytes = 2 * file_size + (uint64_t(1) << 16);
  if (fast) {
    bytes += inflated + 2 * (stride + 64);
    bytes += streamed ? 4 * uint64_t(w) : uint64_t(kept_per_pixel) * pixels;
  } else {
    // stb_image: image data grown by doubling, the inflated rows (again up to twice), its
    // decoded image and the channel conversion (at most 4 samples per pixel each), then ours.
    bytes += 2 * inflated + 2 * pixels * 4 * sample_bytes;
    bytes += uint64_t(streamed ? 4 : kept_per_pixel) * pixels;
  }
  use->width = int(w);
  use->height = int(h);
  use->bytes = bytes;
  return Status::success();
}

Status load_panoptic_png(const std::string& path, LabelImage* image) {
  PanopticPngRows& rows = panoptic_rows;
  bool fallback = false;
  ATROUS_RETURN_IF_ERROR(rows.open(path, &fallback));
  if (!fallback) {
    image->width = rows.width();
    image->height = rows.height();
    const size_t w = size_t(rows.width());
    resize_exact(&image->values, w * size_t(rows.height()));
    for (int y = 0; y < rows.height(); ++y) {
      const uint32_t* ids = nullptr;
      ATROUS_RETURN_IF_ERROR(rows.next(&ids));
      std::memcpy(image->values.data() + size_t(y) * w, ids, w * sizeof(uint32_t));
    }
    return Status::success();
  }
  std::FILE* file = nullptr;
  int w = 0, h = 0, channels = 0;
  bool sixteen = false;
  ATROUS_RETURN_IF_ERROR(open_info(path, &file, &w, &h, &channels, &sixteen));
  if (channels < 3 || sixteen) {
    std::fclose(file);
    return Status::error(path + ": a panoptic PNG must be 8-bit RGB (id = R + 256·G + 256²·B)");
  }
  stbi_uc* data = stbi_load_from_file(file, &w, &h, &channels, 3);
  std::fclose(file);
  if (!data) return decode_failure(path);
  StbPixels owner(data, stbi_image_free);
  image->width = w;
  image->height = h;
  const size_t n = size_t(w) * size_t(h);
  resize_exact(&image->values, n);
  uint32_t* out = image->values.data();
  for (size_t i = 0; i < n; ++i)
    out[i] = uint32_t(data[3 * i]) | (uint32_t(data[3 * i + 1]) << 8) |
             (uint32_t(data[3 * i + 2]) << 16);
  return Status::success();
}

Status load_label_png(const std::string& path, LabelImage8* image) {
  bool handled = false;
  PngInfo header;
  bool colour = false;  // an RGB pixel (or palette entry) with unequal channels
  uint8_t gray_of[256];
  int palette_size = 0;
  auto start = [&](const PngInfo& info) {
    header = info;
    if (info.bit_depth != 8) return Status::error(path + ": a label PNG must be 8-bit");
    if (info.color_type == 3) {
      const std::vector<uint8_t>& pal = thread_decoder().palette();
      palette_size = int(pal.size() / 4);
      for (int i = 0; i < palette_size; ++i) gray_of[i] = pal[size_t(i) * 4];
    }
    image->width = info.width;
    image->height = info.height;
    resize_exact(&image->values, size_t(info.width) * size_t(info.height));
    return Status::success();
  };
  bool bad_index = false;
  auto row = [&](int y, const uint8_t* r) {
    const size_t w = size_t(image->width);
    uint8_t* out = image->values.data() + size_t(y) * w;
    const int n = header.channels;
    if (header.color_type == 0) {
      std::memcpy(out, r, w);
    } else if (header.color_type == 4) {
      for (size_t x = 0; x < w; ++x) out[x] = r[2 * x];
    } else if (header.color_type == 3) {
      const std::vector<uint8_t>& pal = thread_decoder().palette();
      for (size_t x = 0; x < w; ++x) {
        if (r[x] >= palette_size) {
          bad_index = true;
          out[x] = 0;
          continue;
        }
        const uint8_t* e = &pal[size_t(r[x]) * 4];
        colour |= e[0] != e[1] || e[0] != e[2];
        out[x] = gray_of[r[x]];
      }
    } else {
      unsigned differ = 0;
      for (size_t x = 0; x < w; ++x) {
        const uint8_t* p = r + size_t(n) * x;
        differ |= unsigned(p[0] ^ p[1]) | unsigned(p[0] ^ p[2]);
        out[x] = p[0];
      }
      colour |= differ != 0;
    }
  };
  Status fast = fast_decode(path, &handled, start, row);
  if (handled) {
    if (!fast.ok()) return fast;
    if (bad_index) return Status::error(path + ": palette index out of range");
    if (colour)
      return Status::error(path + ": a label PNG must have one channel (found colour pixels)");
    return fast;
  }
  std::FILE* file = nullptr;
  int w = 0, h = 0, channels = 0;
  bool sixteen = false;
  ATROUS_RETURN_IF_ERROR(open_info(path, &file, &w, &h, &channels, &sixteen));
  if (sixteen) {
    std::fclose(file);
    return Status::error(path + ": a label PNG must be 8-bit");
  }
  int want = channels >= 3 ? 3 : 1;
  stbi_uc* data = stbi_load_from_file(file, &w, &h, &channels, want);
  std::fclose(file);
  if (!data) return decode_failure(path);
  StbPixels owner(data, stbi_image_free);
  image->width = w;
  image->height = h;
  const size_t n = size_t(w) * size_t(h);
  resize_exact(&image->values, n);
  if (want == 1) {
    std::copy(data, data + n, image->values.begin());
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (data[3 * i] != data[3 * i + 1] || data[3 * i] != data[3 * i + 2])
        return Status::error(path + ": a label PNG must have one channel (found colour pixels)");
      image->values[i] = data[3 * i];
    }
  }
  return Status::success();
}

Status load_instance_png(const std::string& path, LabelImage* image) {
  bool handled = false;
  bool sixteen_bits = false;
  auto start = [&](const PngInfo& info) {
    if (info.color_type != 0)
      return Status::error(path + ": an instance-id PNG must be single-channel");
    sixteen_bits = info.bit_depth == 16;
    image->width = info.width;
    image->height = info.height;
    resize_exact(&image->values, size_t(info.width) * size_t(info.height));
    return Status::success();
  };
  auto row = [&](int y, const uint8_t* r) {
    const size_t w = size_t(image->width);
    uint32_t* out = image->values.data() + size_t(y) * w;
    if (sixteen_bits) {
      for (size_t x = 0; x < w; ++x) out[x] = (uint32_t(r[2 * x]) << 8) | r[2 * x + 1];
    } else {
      for (size_t x = 0; x < w; ++x) out[x] = r[x];
    }
  };
  Status fast = fast_decode(path, &handled, start, row);
  if (handled) return fast;
  std::FILE* file = nullptr;
  int w = 0, h = 0, channels = 0;
  bool sixteen = false;
  ATROUS_RETURN_IF_ERROR(open_info(path, &file, &w, &h, &channels, &sixteen));
  if (channels != 1) {
    std::fclose(file);
    return Status::error(path + ": an instance-id PNG must be single-channel");
  }
  image->width = w;
  image->height = h;
  const size_t n = size_t(w) * size_t(h);
  resize_exact(&image->values, n);
  if (sixteen) {
    stbi_us* data = stbi_load_from_file_16(file, &w, &h, &channels, 1);
    std::fclose(file);
    if (!data) return decode_failure(path);
    StbPixels owner(data, stbi_image_free);
    for (size_t i = 0; i < n; ++i) image->values[i] = data[i];
  } else {
    stbi_uc* data = stbi_load_from_file(file, &w, &h, &channels, 1);
    std::fclose(file);
    if (!data) return decode_failure(path);
    StbPixels owner(data, stbi_image_free);
    for (size_t i = 0; i < n; ++i) image->values[i] = data[i];
  }
  return Status::success();
}

Status load_mask_png(const std::string& path, LabelImage8* image) {
  bool handled = false;
  PngInfo header;
  uint8_t luma_of[256];
  int palette_size = 0;
  bool bad_index = false;
  auto start = [&](const PngInfo& info) {
    header = info;
    if (info.color_type == 3) {
      const std::vector<uint8_t>& pal = thread_decoder().palette();
      palette_size = int(pal.size() / 4);
      for (int i = 0; i < palette_size; ++i) {
        const uint8_t* e = &pal[size_t(i) * 4];
        luma_of[i] = luma(e[0], e[1], e[2]);
      }
    }
    image->width = info.width;
    image->height = info.height;
    resize_exact(&image->values, size_t(info.width) * size_t(info.height));
    return Status::success();
  };
  auto row = [&](int y, const uint8_t* r) {
    const size_t w = size_t(image->width);
    uint8_t* out = image->values.data() + size_t(y) * w;
    const int n = header.channels;
    if (header.bit_depth == 16) {  // stb_image keeps the high byte of 16-bit samples
      for (size_t x = 0; x < w; ++x) out[x] = r[2 * x];
    } else if (header.color_type == 0 || header.color_type == 4) {
      for (size_t x = 0; x < w; ++x) out[x] = r[size_t(n) * x];
    } else if (header.color_type == 3) {
      for (size_t x = 0; x < w; ++x) {
        bad_index |= r[x] >= palette_size;
        out[x] = r[x] < palette_size ? luma_of[r[x]] : 0;
      }
    } else {
      for (size_t x = 0; x < w; ++x) out[x] = luma(r[n * x], r[n * x + 1], r[n * x + 2]);
    }
  };
  Status fast = fast_decode(path, &handled, start, row);
  if (handled) {
    if (fast.ok() && bad_index) return Status::error(path + ": palette index out of range");
    return fast;
  }
  std::FILE* file = nullptr;
  int w = 0, h = 0, channels = 0;
  bool sixteen = false;
  ATROUS_RETURN_IF_ERROR(open_info(path, &file, &w, &h, &channels, &sixteen));
  stbi_uc* data = stbi_load_from_file(file, &w, &h, &channels, 1);
  std::fclose(file);
  if (!data) return decode_failure(path);
  StbPixels owner(data, stbi_image_free);
  image->width = w;
  image->height = h;
  resize_exact(&image->values, size_t(w) * size_t(h));
  std::copy(data, data + size_t(w) * size_t(h), image->values.begin());
  return Status::success();
}

}  // namespace atrous
