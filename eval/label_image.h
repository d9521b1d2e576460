// Decoding the PNGs that evaluation reads: panoptic id maps (RGB, id = R + 256·G + 256²·B),
// 8-bit label maps, 16-bit instance-id maps, and binary masks. Decoding goes through stb_image
// (compiled in runtime/image.cpp).
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
