// libFuzzer target for the evaluation PNG decoder (eval/png_reader.h; docs/FUZZING.md). Any input
// must decode or be rejected with an error; decoded rows are read in full, with the 8 bytes of
// slack after each row that the decoder promises to sinks. Two decoders live across inputs, as
// evaluation's per-thread decoders do, so stale buffers from an earlier image would show: one
// skips chunk CRCs (evaluation's setting) and one verifies them.
#include <cstddef>
#include <cstdint>

#include "eval/png_reader.h"

namespace {

uint8_t g_sink = 0;  // keeps the reads of every row byte

void decode(atrous::PngDecoder& decoder, const uint8_t* data, size_t size) {
  atrous::PngInfo info;
  bool unsupported = false;
  (void)decoder.decode_memory(data, size, &info, &unsupported, [&](int, const uint8_t* row) {
    const size_t bytes =
        size_t(info.width) * size_t(info.channels) * size_t(info.bit_depth / 8) + 8;
    uint8_t x = 0;
    for (size_t i = 0; i < bytes; ++i) x ^= row[i];
    g_sink ^= x;
    if (info.color_type == 3 && !decoder.palette().empty()) g_sink ^= decoder.palette()[0];
    return atrous::Status::success();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static atrous::PngDecoder plain(false), checked(true);
  decode(plain, data, size);
  decode(checked, data, size);
  return 0;
}
