// Decoding the PNGs that evaluation reads: panoptic id maps (RGB, id = R + 256·G + 256²·B),
// 8-bit label maps, 16-bit instance-id maps, and binary masks. Only regular files that are PNGs
// are read. Decoding goes through eval/png_reader.h, or stb_image (compiled in
// runtime/image.cpp) for the PNG variants that one leaves out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/png_reader.h"
#include "graph/status.h"

namespace atrous {

struct LabelImage {
  int width = 0;
  int height = 0;
  std::vector<uint32_t> values;  // row-major
};

struct LabelImage8 {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> values;
};

// What decoding `path` may allocate at most, from its size and header alone (no pixel data is
// read), for eval's memory budget: the file and its image data, the inflated rows (or stb_image's
// buffers for the variants it decodes), and what the caller keeps: `kept_per_pixel` bytes per
// pixel of the whole image, or with `streamed` one row of 4-byte ids when the fast decoder reads
// the file (panoptic pairs), a whole 4-byte id map otherwise. Errors: not a regular file, not a
// PNG, a size beyond 16384 on a side.
struct ImageMemoryUse {
  int width = 0;
  int height = 0;
  uint64_t bytes = 0;
};
Status image_memory_use(const std::string& path, int kept_per_pixel, bool streamed,
                        ImageMemoryUse* use);

// Frees the decode buffers this thread keeps from image to image.
void label_image_release_thread_buffers();

// RGB(A) → R + 256·G + 256²·B. A grayscale PNG is refused (it cannot hold a panoptic id map).
Status load_panoptic_png(const std::string& path, LabelImage* image);
// A panoptic PNG read row by row through the fast decoder (eval/png_reader.h), ids computed per
// row into a small buffer: two of them stream a (gt, pred) pair without full-size id maps.
class PanopticPngRows {
 public:
  // `*fallback` = a file the fast decoder does not handle (not a PNG, interlaced, ...): read it
  // with load_panoptic_png instead. Errors name `path`, as load_panoptic_png's do.
  Status open(const std::string& path, bool* fallback);
  int width() const { return info_.width; }
  int height() const { return info_.height; }
  // The ids of the next row (width() values, valid until the next call).
  Status next(const uint32_t** ids);
  void release_buffers();

 private:
  PngDecoder decoder_;
  PngInfo info_;
  std::string path_;
  std::vector<uint32_t> row_;
  uint32_t palette_ids_[256] = {};
  int palette_size_ = 0;
};

// One channel, 8-bit (a grayscale or RGB image whose channels are equal).
Status load_label_png(const std::string& path, LabelImage8* image);
// One channel, 8- or 16-bit, values as stored (no rescaling of 8-bit data).
Status load_instance_png(const std::string& path, LabelImage* image);
// Any image; non-zero (after conversion to one channel) = inside.
Status load_mask_png(const std::string& path, LabelImage8* image);

}  // namespace atrous
