// PNG decoding for evaluation: chunk parsing, libdeflate for the zlib stream, and in-place
// unfiltering specialised on the bytes per pixel (the sequential filters Sub, Average and Paeth
// carry a dependency of `bpp` bytes, so a fixed bpp lets the compiler keep it in registers; Up
// has none and vectorises).
#include "eval/png_reader.h"

#if ATROUS_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "graph/file_io.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace atrous {

namespace {

constexpr int kMaxSide = 16384;
constexpr size_t kMaxDeflateRatio = 1032;
constexpr size_t kRowSlack = 16;  // readable bytes after the last row (see png_reader.h)

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Grows `v` to at least `n` bytes; never shrinks, so a later image of the same size touches no
// new memory (resize of an already large enough vector is free).
// Growth is exact (no doubling), so a buffer never holds more than the largest image needed,
// the size eval's memory budget counts; the old contents are not kept.
void reserve_bytes(std::vector<uint8_t>* v, size_t n) {
  if (v->size() >= n) return;
  if (v->capacity() < n) {
    *v = std::vector<uint8_t>();
    v->reserve(n);
  }
  v->resize(n);
}

inline uint8_t paeth(int a, int b, int c) {
  int p = a + b - c;
  int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return uint8_t(a);
  return uint8_t(pb <= pc ? b : c);
}

template <int kBpp>
void unfilter_sub(uint8_t* row, size_t bytes) {
  for (size_t i = kBpp; i < bytes; ++i) row[i] = uint8_t(row[i] + row[i - kBpp]);
}

// `row` and `prior` never overlap (distinct rows), which lets this loop vectorise.
void unfilter_up(uint8_t* __restrict row, const uint8_t* __restrict prior, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) row[i] = uint8_t(row[i] + prior[i]);
}

template <int kBpp>
void unfilter_average(uint8_t* row, const uint8_t* prior, size_t bytes) {
  const size_t head = bytes < size_t(kBpp) ? bytes : size_t(kBpp);
  for (size_t i = 0; i < head; ++i) row[i] = uint8_t(row[i] + (prior[i] >> 1));
  for (size_t i = kBpp; i < bytes; ++i)
    row[i] = uint8_t(row[i] + ((unsigned(row[i - kBpp]) + prior[i]) >> 1));
}

template <int kBpp>
void unfilter_paeth(uint8_t* row, const uint8_t* prior, size_t bytes) {
  const size_t head = bytes < size_t(kBpp) ? bytes : size_t(kBpp);
  for (size_t i = 0; i < head; ++i) row[i] = uint8_t(row[i] + prior[i]);  // paeth(0, b, 0) = b
  for (size_t i = kBpp; i < bytes; ++i)
    row[i] = uint8_t(row[i] + paeth(row[i - kBpp], prior[i], prior[i - kBpp]));
}

#if defined(__SSE2__)
// Paeth on 3- or 4-byte pixels, one pixel per step in 16-bit lanes (the predictor needs a + b − c
// without wrapping). Reads 4 bytes per pixel, so for bpp = 3 it reads one byte past the row:
// callers leave at least one readable byte after every row.
template <int kBpp>
void unfilter_paeth_sse2(uint8_t* row, const uint8_t* prior, size_t bytes) {
  const __m128i zero = _mm_setzero_si128();
  auto load = [&](const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128(int(v)), zero);
  };
  __m128i a = zero, c = zero;
  for (size_t i = 0; i + kBpp <= bytes; i += kBpp) {
    const __m128i b = load(prior + i);
    const __m128i x = load(row + i);
    const __m128i b_c = _mm_sub_epi16(b, c), a_c = _mm_sub_epi16(a, c);
    const __m128i sum = _mm_add_epi16(b_c, a_c);
    const __m128i pa = _mm_max_epi16(b_c, _mm_sub_epi16(zero, b_c));
    const __m128i pb = _mm_max_epi16(a_c, _mm_sub_epi16(zero, a_c));
    const __m128i pc = _mm_max_epi16(sum, _mm_sub_epi16(zero, sum));
    // pick a where pa <= pb and pa <= pc; else b where pb <= pc; else c
    const __m128i not_a = _mm_or_si128(_mm_cmpgt_epi16(pa, pb), _mm_cmpgt_epi16(pa, pc));
    const __m128i use_c = _mm_cmpgt_epi16(pb, pc);
    const __m128i bc = _mm_or_si128(_mm_and_si128(use_c, c), _mm_andnot_si128(use_c, b));
    const __m128i pred = _mm_or_si128(_mm_and_si128(not_a, bc), _mm_andnot_si128(not_a, a));
    a = _mm_and_si128(_mm_add_epi16(x, pred), _mm_set1_epi16(0xff));
    const uint32_t out = uint32_t(_mm_cvtsi128_si32(_mm_packus_epi16(a, zero)));
    std::memcpy(row + i, &out, kBpp);
    c = b;
  }
}
#endif

template <int kBpp>
Status unfilter(int filter, uint8_t* row, const uint8_t* prior, size_t bytes) {
  switch (filter) {
    case 0:
      return Status::success();
    case 1:
      unfilter_sub<kBpp>(row, bytes);
      return Status::success();
    case 2:
      unfilter_up(row, prior, bytes);
      return Status::success();
    case 3:
      unfilter_average<kBpp>(row, prior, bytes);
      return Status::success();
    case 4:
#if defined(__SSE2__)
      if (kBpp == 3 || kBpp == 4) {
        unfilter_paeth_sse2<kBpp == 3 ? 3 : 4>(row, prior, bytes);
        return Status::success();
      }
#endif
      unfilter_paeth<kBpp>(row, prior, bytes);
      return Status::success();
    default:
      return Status::error("bad PNG filter type " + std::to_string(filter));
  }
}

}  // namespace

Status png_unfilter_row(int filter, uint8_t* row, const uint8_t* prior, size_t bytes, int bpp) {
  switch (bpp) {
    case 1:
      return unfilter<1>(filter, row, prior, bytes);
    case 2:
      return unfilter<2>(filter, row, prior, bytes);
    case 3:
      return unfilter<3>(filter, row, prior, bytes);
    case 4:
      return unfilter<4>(filter, row, prior, bytes);
    case 6:
      return unfilter<6>(filter, row, prior, bytes);
    case 8:
      return unfilter<8>(filter, row, prior, bytes);
    default:
      return Status::error("unsupported PNG pixel size " + std::to_string(bpp) + " bytes");
  }
}

PngDecoder::~PngDecoder() {
#if ATROUS_HAVE_LIBDEFLATE
  if (decompressor_)
    libdeflate_free_decompressor(static_cast<libdeflate_decompressor*>(decompressor_));
#endif
}

Status PngDecoder::read_file(const std::string& path, size_t* size) {
  int fd = -1;
  uint64_t file_size = 0;
  ATROUS_RETURN_IF_ERROR(open_regular_file(path, &fd, &file_size));
  std::FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    return Status::error(path + ": cannot open");
  }
  // Sized from the file's size once (one byte more, to see a file that grew), so the buffer is
  // exactly what eval's memory estimate counts.
  if (file_size + 1 > file_.size()) {
    file_ = std::vector<uint8_t>();
    file_.reserve(size_t(file_size) + 1);
    file_.resize(size_t(file_size) + 1);
  }
  *size = 0;
  bool read_error = false;
  for (;;) {
    size_t got = std::fread(file_.data() + *size, 1, file_.size() - *size, f);
    *size += got;
    if (got == 0 || *size == file_.size()) {
      read_error = std::ferror(f) != 0;
      break;
    }
  }
  std::fclose(f);
  if (read_error) return Status::error(path + ": read error");
  if (*size > file_size) return Status::error(path + ": the file grew while it was read");
  return Status::success();
}

void PngDecoder::release_buffers() {
  file_ = std::vector<uint8_t>();
  idat_ = std::vector<uint8_t>();
  inflated_ = std::vector<uint8_t>();
  zero_row_ = std::vector<uint8_t>();
  open_info_ = PngInfo();
  next_y_ = 0;
  prior_ = nullptr;
}

Status PngDecoder::decode_file(const std::string& path, PngInfo* info, bool* unsupported,
                               const RowSink& sink) {
  size_t size = 0;
  ATROUS_RETURN_IF_ERROR(read_file(path, &size));
  Status s = decode_memory(file_.data(), size, info, unsupported, sink);
  if (!s.ok()) return Status::error(path + ": " + s.message());
  return s;
}

Status PngDecoder::open_file(const std::string& path, PngInfo* info, bool* unsupported) {
  size_t size = 0;
  ATROUS_RETURN_IF_ERROR(read_file(path, &size));
  Status s = parse_and_inflate(file_.data(), size, info, unsupported);
  if (!s.ok()) return Status::error(path + ": " + s.message());
  return s;
}

Status PngDecoder::next_row(const uint8_t** row) {
  const PngInfo& info = open_info_;
  if (next_y_ >= info.height) return Status::error("PNG: no rows left");
  const int bpp = info.channels * info.bit_depth / 8;
  const size_t stride = size_t(info.width) * size_t(bpp);
  uint8_t* line = inflated_.data() + size_t(next_y_) * (stride + 1);
  Status s = png_unfilter_row(line[0], line + 1, prior_, stride, bpp);
  if (!s.ok())
    return Status::error("corrupt PNG: row " + std::to_string(next_y_) + ": " + s.message());
  prior_ = line + 1;
  *row = line + 1;
  ++next_y_;
  return Status::success();
}

Status PngDecoder::decode_memory(const uint8_t* data, size_t size, PngInfo* info, bool* unsupported,
                                 const RowSink& sink) {
  ATROUS_RETURN_IF_ERROR(parse_and_inflate(data, size, info, unsupported));
  if (*unsupported) return Status::success();
  for (int y = 0; y < info->height; ++y) {
    const uint8_t* row = nullptr;
    ATROUS_RETURN_IF_ERROR(next_row(&row));
    ATROUS_RETURN_IF_ERROR(sink(y, row));
  }
  return Status::success();
}

#if !ATROUS_HAVE_LIBDEFLATE
// Built without libdeflate (a cross build): every file is left to stb_image.
Status PngDecoder::parse_and_inflate(const uint8_t*, size_t, PngInfo* info, bool* unsupported) {
  *info = PngInfo();
  open_info_ = PngInfo();
  next_y_ = 0;
  *unsupported = true;
  return Status::success();
}
#else
Status PngDecoder::parse_and_inflate(const uint8_t* data, size_t size, PngInfo* info,
                                     bool* unsupported) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  *unsupported = false;
  *info = PngInfo();
  open_info_ = PngInfo();  // next_row() has nothing until this succeeds
  next_y_ = 0;
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0)
    return Status::error("not a PNG file (bad signature)");
  size_t pos = 8;
  bool have_header = false, have_end = false, idat_done = false, seen_idat = false;
  size_t idat_size = 0;
  int palette_entries = 0;
  palette_.clear();
  while (pos < size) {
    if (size - pos < 12)
      return Status::error("truncated PNG (chunk header at byte " + std::to_string(pos) + ")");
    const uint32_t length = read_be32(data + pos);
    const uint8_t* type = data + pos + 4;
    if (length > 0x7fffffffu || size - pos - 12 < length)
      return Status::error("truncated PNG (chunk of " + std::to_string(length) + " bytes at byte " +
                           std::to_string(pos) + ")");
    const uint8_t* body = data + pos + 8;
    if (verify_crc_) {
      uint32_t crc = libdeflate_crc32(0, type, size_t(length) + 4);
      if (crc != read_be32(body + length))
        return Status::error("PNG chunk " + std::string(reinterpret_cast<const char*>(type), 4) +
                             " at byte " + std::to_string(pos) + " has a bad CRC");
    }
    pos += size_t(length) + 12;
    const std::string name(reinterpret_cast<const char*>(type), 4);
    if (!have_header && name != "IHDR") return Status::error("PNG does not start with IHDR");
    if (name == "IHDR") {
      if (have_header || length != 13) return Status::error("bad IHDR chunk");
      have_header = true;
      const uint32_t w = read_be32(body), h = read_be32(body + 4);
      const int depth = body[8], color = body[9];
      if (body[10] != 0 || body[11] != 0 || body[12] > 1)
        return Status::error("bad IHDR (compression, filter or interlace method)");
      if (w == 0 || h == 0 || w > uint32_t(kMaxSide) || h > uint32_t(kMaxSide))
        return Status::error("image size " + std::to_string(w) + "x" + std::to_string(h) +
                             " out of range");
      static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
      if (color > 6 || kChannels[color] == 0)
        return Status::error("bad PNG colour type " + std::to_string(color));
      const bool depth_ok =
          color == 0   ? (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)
          : color == 3 ? (depth == 1 || depth == 2 || depth == 4 || depth == 8)
                       : (depth == 8 || depth == 16);
      if (!depth_ok)
        return Status::error("bad PNG bit depth " + std::to_string(depth) + " for colour type " +
                             std::to_string(color));
      info->width = int(w);
      info->height = int(h);
      info->bit_depth = depth;
      info->color_type = color;
      info->channels = kChannels[color];
      info->interlaced = body[12] == 1;
      const bool handled = !info->interlaced && (depth == 8 || (depth == 16 && color == 0));
      if (!handled) {
        *unsupported = true;
        return Status::success();
      }
    } else if (name == "PLTE") {
      if (length % 3 != 0 || length == 0 || length > 768) return Status::error("bad PLTE chunk");
      palette_entries = int(length / 3);
      palette_.assign(size_t(palette_entries) * 4, 255);
      for (int i = 0; i < palette_entries; ++i)
        for (int c = 0; c < 3; ++c) palette_[size_t(i) * 4 + size_t(c)] = body[i * 3 + c];
    } else if (name == "tRNS") {
      if (info->color_type == 3) {
        if (palette_entries == 0 || int(length) > palette_entries)
          return Status::error("bad tRNS chunk");
        for (uint32_t i = 0; i < length; ++i) palette_[size_t(i) * 4 + 3] = body[i];
      }
    } else if (name == "IDAT") {
      if (idat_done) return Status::error("IDAT chunks are not consecutive");
      if (!seen_idat) reserve_bytes(&idat_, size - (pos - length - 12));  // the rest, at most
      seen_idat = true;
      std::memcpy(idat_.data() + idat_size, body, length);
      idat_size += length;
    } else if (name == "IEND") {
      have_end = true;
      break;
    } else if (!(type[0] & 0x20)) {
      return Status::error("unknown critical PNG chunk " + name);
    }
    if (seen_idat && name != "IDAT") idat_done = true;
  }
  if (!have_header) return Status::error("PNG has no IHDR");
  if (!seen_idat) return Status::error("truncated PNG (no image data)");
  if (!have_end && !idat_done) return Status::error("truncated PNG (no IEND)");
  if (info->color_type == 3 && palette_entries == 0)
    return Status::error("palette PNG without PLTE");

  const int bpp = info->channels * info->bit_depth / 8;
  const size_t stride = size_t(info->width) * size_t(bpp);
  const size_t expected = (stride + 1) * size_t(info->height);
  // Deflate expands at most 1032-fold (a 258-byte match in 2 bits), so image data too short for
  // the header's size is refused before a buffer of that size is made: a 60-byte file claiming
  // 16384×16384 RGBA would otherwise fill 1 GiB (found by fuzz/fuzz_png.cpp).
  if (expected / kMaxDeflateRatio > idat_size)
    return Status::error("corrupt PNG: " + std::to_string(idat_size) +
                         " bytes of image data cannot hold the " + std::to_string(expected) +
                         " bytes of a " + std::to_string(info->width) + "x" +
                         std::to_string(info->height) + " image");
  reserve_bytes(&inflated_, expected + kRowSlack);
  if (!decompressor_) {
    decompressor_ = libdeflate_alloc_decompressor();
    if (!decompressor_) return Status::error("out of memory (libdeflate)");
  }
  size_t produced = 0;
  libdeflate_result r =
      libdeflate_zlib_decompress(static_cast<libdeflate_decompressor*>(decompressor_), idat_.data(),
                                 idat_size, inflated_.data(), expected, &produced);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
    return Status::error("corrupt PNG: more image data than the size allows");
  if (r != LIBDEFLATE_SUCCESS)
    return Status::error("corrupt or truncated PNG image data (zlib stream)");
  if (produced != expected)
    return Status::error("truncated PNG image data (" + std::to_string(produced) + " of " +
                         std::to_string(expected) + " bytes)");
  reserve_bytes(&zero_row_, stride + kRowSlack);
  std::memset(zero_row_.data(), 0, stride + kRowSlack);
  open_info_ = *info;
  next_y_ = 0;
  prior_ = zero_row_.data();
  return Status::success();
}
#endif  // ATROUS_HAVE_LIBDEFLATE

}  // namespace atrous
