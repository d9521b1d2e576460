// libFuzzer target for the image decoders of `atrous segment` (runtime/image.h, stb_image;
// docs/FUZZING.md). The bytes are decoded from a file, as the CLI does, and from memory; a
// decoded image is resized as the pipelines resize it for a model's input, which reads every
// pixel the decoder claims to have written.
#include <cstdint>

#include "fuzz/fuzz_file.h"
#include "runtime/image.h"

namespace {

uint8_t g_sink = 0;

void use(const atrous::Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.channels != 3 ||
      image.pixels.size() != size_t(image.width) * size_t(image.height) * 3)
    __builtin_trap();
  atrous::Image small = atrous::image_resize_bilinear(image, 7, 5);
  for (uint8_t v : small.pixels) g_sink ^= v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static atrous_fuzz::ScratchFile file;
  atrous::Image image;
  int channels = 0;
  if (atrous::image_load_rgb(file.write(data, size), &image, &channels).ok()) use(image);
  atrous::Image from_memory;
  if (atrous::image_load_rgb_memory(data, size, &from_memory, &channels).ok()) use(from_memory);
  return 0;
}
