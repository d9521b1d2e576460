// PNG decoding for evaluation through stb_image; its implementation lives in runtime/image.cpp,
// so the header is included here without STB_IMAGE_IMPLEMENTATION.
#include "eval/label_image.h"

#include <cstdint>
#include <cstdio>
#include <memory>

#include <stb/stb_image.h>

namespace atrous {

namespace {

constexpr int kMaxSide = 16384;

using StbPixels = std::unique_ptr<void, void (*)(void*)>;

Status open_info(const std::string& path, std::FILE** file, int* w, int* h, int* channels, bool* sixteen) {
  *file = std::fopen(path.c_str(), "rb");
  if (!*file) return Status::error(path + ": cannot open");
  if (!stbi_info_from_file(*file, w, h, channels)) {
    std::fclose(*file);
    return Status::error(path + ": corrupt or unsupported image (" + std::string(stbi_failure_reason()) + ")");
  }
  if (*w <= 0 || *h <= 0 || *w > kMaxSide || *h > kMaxSide) {
    std::fclose(*file);
    return Status::error(path + ": image size " + std::to_string(*w) + "x" + std::to_string(*h) + " out of range");
  }
  *sixteen = stbi_is_16_bit_from_file(*file) != 0;
  return Status::success();
}

Status decode_failure(const std::string& path) {
  return Status::error(path + ": cannot decode (" + std::string(stbi_failure_reason()) + ")");
}

}  // namespace

Status load_panoptic_png(const std::string& path, LabelImage* image) {
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
  image->values.resize(n);
  uint32_t* out = image->values.data();
  for (size_t i = 0; i < n; ++i)
    out[i] = uint32_t(data[3 * i]) | (uint32_t(data[3 * i + 1]) << 8) | (uint32_t(data[3 * i + 2]) << 16);
  return Status::success();
}

Status load_label_png(const std::string& path, LabelImage8* image) {
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
  image->values.resize(n);
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
  image->values.resize(n);
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
  image->values.assign(data, data + size_t(w) * size_t(h));
  return Status::success();
}

}  // namespace atrous
