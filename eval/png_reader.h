// A PNG decoder for the evaluation path: its own chunk parser and unfiltering, inflate by
// libdeflate (whole-buffer), and buffers that live as long as the decoder, so decoding image
// after image on one thread allocates and faults in nothing new. Rows are handed to a callback
// as soon as they are unfiltered, so the caller converts them (RGB → segment id, 16-bit → int)
// while they are still in cache.
//
// Handled: non-interlaced 8-bit gray, gray+alpha, RGB, RGBA and palette images, and 16-bit gray.
// Everything else (interlaced, 1/2/4-bit, 16-bit colour) is reported as `unsupported` so that
// the caller can fall back to stb_image (as is every file in a build without libdeflate, see
// CMakeLists.txt). Chunk CRCs are checked only when asked (stb_image does
// not check them either); the zlib stream's Adler-32 is always checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph/status.h"

namespace atrous {

struct PngInfo {
  int width = 0;
  int height = 0;
  int bit_depth = 0;   // 8 or 16 in what decode() delivers
  int color_type = 0;  // PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  int channels = 0;    // bytes (8-bit) or samples (16-bit) per pixel of the delivered rows
  bool interlaced = false;
};

class PngDecoder {
 public:
  // Receives row y (0..height-1) as `channels` interleaved samples per pixel: 8-bit samples as
  // bytes; 16-bit samples big-endian, as stored. Palette images arrive as palette indices (see
  // palette()). At least 8 bytes after the row's end are readable (their values are
  // unspecified), so a sink may read whole words. Returning an error stops decoding with that
  // error.
  using RowSink = std::function<Status(int y, const uint8_t* row)>;

  explicit PngDecoder(bool verify_crc = false) : verify_crc_(verify_crc) {}

  // Reads and decodes `path`. `*unsupported` is set (and success returned, with no rows
  // delivered) for valid PNG variants this decoder does not handle; corrupt or truncated files
  // are errors naming the problem. `info` is filled as soon as the header is read.
  Status decode_file(const std::string& path, PngInfo* info, bool* unsupported,
                     const RowSink& sink);
  // The same on bytes in memory.
  Status decode_memory(const uint8_t* data, size_t size, PngInfo* info, bool* unsupported,
                       const RowSink& sink);

  // Row by row instead of through a callback: open_file() reads, parses and inflates (and sets
  // `*unsupported` as decode_file does); then next_row() unfilters and returns the rows in
  // order, with the same layout and guarantees as the callback's rows.
  Status open_file(const std::string& path, PngInfo* info, bool* unsupported);
  Status next_row(const uint8_t** row);

  // RGBA entries of the last palette image's PLTE (+ tRNS alpha, 255 where absent).
  const std::vector<uint8_t>& palette() const { return palette_; }

  // Frees the buffers kept from image to image (the next image allocates them again).
  void release_buffers();

  ~PngDecoder();
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;

 private:
  bool verify_crc_;
  std::vector<uint8_t> file_;      // whole file
  std::vector<uint8_t> idat_;      // concatenated IDAT payloads
  std::vector<uint8_t> inflated_;  // filter byte + row, per row
  std::vector<uint8_t> zero_row_;  // the row above the first one
  std::vector<uint8_t> palette_;
  void* decompressor_ = nullptr;  // libdeflate_decompressor, made on first use
  PngInfo open_info_;             // of the image open_file() opened
  int next_y_ = 0;
  const uint8_t* prior_ = nullptr;

  Status read_file(const std::string& path, size_t* size);
  Status parse_and_inflate(const uint8_t* data, size_t size, PngInfo* info, bool* unsupported);
};

// Reverses one row's PNG filter in place: `row` (length `bytes`) holds the filtered bytes,
// `prior` the previous unfiltered row (all zeros for the first row), `bpp` the bytes per
// complete pixel (1, 2, 3, 4, 6 or 8); at least one readable byte must follow both rows.
// Errors on a filter type above 4. Exposed for the tests.
Status png_unfilter_row(int filter, uint8_t* row, const uint8_t* prior, size_t bytes, int bpp);

}  // namespace atrous
