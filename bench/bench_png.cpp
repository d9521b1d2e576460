// PNG decoding for evaluation: the library's own decoder (eval/png_reader.h: chunk parser,
// libdeflate inflate, own unfiltering) against libspng (Debian's libspng-dev, zlib inflate),
// both row by row as evaluation consumes them, on the same files.
//
//   bench_png [--rounds N] FILE.png...
//
// Each round decodes every file once with each decoder, the two alternating per round (which
// goes first alternates too), so both see the same machine load; the median PNGs/s over the
// rounds is printed per decoder. Files are read from disk by each decoder as evaluation does
// (the page cache holds them after the first round). Both deliver the PNG's own sample format
// (8-bit as is, 16-bit big-endian, palette indices) and skip chunk CRCs (evaluation does not ask
// for them; both check the zlib stream's Adler-32); the rows of the two are compared once, byte
// for byte, before timing.
#include <spng.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "eval/png_reader.h"

namespace {

// FNV-1a over every decoded row, to prove both decoders saw the same pixels.
struct RowHash {
  uint64_t value = 1469598103934665603ull;
  void add(const uint8_t* row, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) value = (value ^ row[i]) * 1099511628211ull;
  }
};

size_t row_bytes(const atrous::PngInfo& info) {
  return size_t(info.width) * size_t(info.channels) * size_t(info.bit_depth / 8);
}

// Own decoder; returns false on an error or an unsupported file.
bool decode_own(atrous::PngDecoder& decoder, const std::string& path, RowHash* hash) {
  atrous::PngInfo info;
  bool unsupported = false;
  if (!decoder.open_file(path, &info, &unsupported).ok() || unsupported) return false;
  const size_t bytes = row_bytes(info);
  for (int y = 0; y < info.height; ++y) {
    const uint8_t* row = nullptr;
    if (!decoder.next_row(&row).ok()) return false;
    if (hash) hash->add(row, bytes);
  }
  return true;
}

// libspng, with the file read into a buffer kept across images (as the own decoder keeps
// its buffers) and one row buffer.
struct Spng {
  std::vector<uint8_t> file, row;
  bool decode(const std::string& path, RowHash* hash) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    if (size <= 0) {
      std::fclose(f);
      return false;
    }
    file.resize(size_t(size));
    bool read = std::fread(file.data(), 1, file.size(), f) == file.size();
    std::fclose(f);
    if (!read) return false;
    spng_ctx* ctx = spng_ctx_new(0);
    if (!ctx) return false;
    bool ok = false;
    spng_ihdr ihdr;
    size_t image_bytes = 0;
    if (spng_set_crc_action(ctx, SPNG_CRC_USE, SPNG_CRC_USE) == 0 &&
        spng_set_png_buffer(ctx, file.data(), file.size()) == 0 && spng_get_ihdr(ctx, &ihdr) == 0 &&
        spng_decoded_image_size(ctx, SPNG_FMT_RAW, &image_bytes) == 0 &&
        spng_decode_image(ctx, nullptr, 0, SPNG_FMT_RAW, SPNG_DECODE_PROGRESSIVE) == 0) {
      const size_t bytes = image_bytes / ihdr.height;
      row.resize(bytes);
      int status = 0;
      for (uint32_t y = 0; y < ihdr.height; ++y) {
        status = spng_decode_row(ctx, row.data(), bytes);
        if (status != 0 && !(status == SPNG_EOI && y + 1 == ihdr.height)) break;
        if (hash) hash->add(row.data(), bytes);
        status = 0;
      }
      ok = status == 0;
    }
    spng_ctx_free(ctx);
    return ok;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else
      files.push_back(argv[i]);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_png [--rounds N] FILE.png...\n");
    return 2;
  }
  atrous::PngDecoder own;
  Spng spng;
  for (const std::string& path : files) {
    RowHash a, b;
    if (!decode_own(own, path, &a) || !spng.decode(path, &b)) {
      std::fprintf(stderr, "bench_png: %s: not decoded by both decoders\n", path.c_str());
      return 1;
    }
    if (a.value != b.value) {
      std::fprintf(stderr, "bench_png: %s: the decoders' rows differ\n", path.c_str());
      return 1;
    }
  }
  std::vector<double> own_rate, spng_rate;
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool own_turn = (r + k) % 2 == 0;
      auto start = std::chrono::steady_clock::now();
      for (const std::string& path : files)
        if (own_turn ? !decode_own(own, path, nullptr) : !spng.decode(path, nullptr)) return 1;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      (own_turn ? own_rate : spng_rate).push_back(double(files.size()) / s);
    }
  }
  auto print = [&](const char* name, const std::vector<double>& rate) {
    std::printf("%-34s median %7.1f PNGs/s  (min %.1f, max %.1f, %d rounds of %zu files)\n", name,
                median(rate), *std::min_element(rate.begin(), rate.end()),
                *std::max_element(rate.begin(), rate.end()), rounds, files.size());
  };
  print("own decoder (libdeflate)", own_rate);
  print("libspng 0.7.3 (spng_decode_row)", spng_rate);
  std::printf("own / libspng: %.2fx\n", median(own_rate) / median(spng_rate));
  return 0;
}
