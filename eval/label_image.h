// Decoding the PNGs that evaluation reads: panoptic id maps (RGB, id = R + 256·G + 256²·B),
// 8-bit label maps, 16-bit instance-id maps, and binary masks. Decoding goes through stb_image
// (compiled in runtime/image.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
// One channel, 8-bit (a grayscale or RGB image whose channels are equal).
Status load_label_png(const std::string& path, LabelImage8* image);
// One channel, 8- or 16-bit, values as stored (no rescaling of 8-bit data).
Status load_instance_png(const std::string& path, LabelImage* image);
// Any image; non-zero (after conversion to one channel) = inside.
Status load_mask_png(const std::string& path, LabelImage8* image);

}  // namespace atrous
