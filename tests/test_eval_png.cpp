// The evaluation PNG decoder (eval/png_reader.h) against stb_image, the decoder it replaces on
// the eval path: handcrafted PNGs of every handled colour type and bit depth, each filter type
// forced on every row and mixed, odd sizes; the real PNGs in tests/assets; the eval loaders
// (eval/label_image.h) against stb's conversions; and corrupt / truncated files.
#include <catch2/catch.hpp>
#include <cstdint>

#if ATROUS_HAVE_LIBDEFLATE  // a cross build without libdeflate has no fast decoder to test
#include <libdeflate.h>
#include <stb/stb_image.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "eval/label_image.h"
#include "eval/png_reader.h"

using namespace atrous;

namespace {

void put_be32(std::vector<uint8_t>* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t>* out, const char* type, const std::vector<uint8_t>& body) {
  put_be32(out, uint32_t(body.size()));
  std::vector<uint8_t> typed(type, type + 4);
  typed.insert(typed.end(), body.begin(), body.end());
  out->insert(out->end(), typed.begin(), typed.end());
  put_be32(out, libdeflate_crc32(0, typed.data(), typed.size()));
}

int paeth_ref(int a, int b, int c) {
  int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Forward filter of one row (the encoder side), written independently of the decoder.
std::vector<uint8_t> filter_row(int f, const uint8_t* row, const uint8_t* prior, size_t n,
                                int bpp) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int a = i >= size_t(bpp) ? row[i - size_t(bpp)] : 0, b = prior[i],
        c = i >= size_t(bpp) ? prior[i - size_t(bpp)] : 0;
    int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth_ref(a, b, c);
    out[i] = uint8_t(row[i] - pred);
  }
  return out;
}

// A PNG of `pixels` (rows of width·channels·depth/8 bytes); filter = 0..4 for every row, or -1
// for row y using filter y mod 5.
std::vector<uint8_t> encode_png(int w, int h, int depth, int color,
                                const std::vector<uint8_t>& pixels, int filter,
                                const std::vector<uint8_t>& plte = {},
                                const std::vector<uint8_t>& trns = {}, size_t idat_split = 0) {
  static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
  const int bpp = std::max(1, kChannels[color] * depth / 8);
  const size_t stride = size_t(w) * size_t(kChannels[color]) * size_t(depth) / 8;
  std::vector<uint8_t> raw, zero(stride, 0);
  for (int y = 0; y < h; ++y) {
    int f = filter >= 0 ? filter : y % 5;
    const uint8_t* row = pixels.data() + size_t(y) * stride;
    const uint8_t* prior = y ? row - stride : zero.data();
    raw.push_back(uint8_t(f));
    std::vector<uint8_t> fr = filter_row(f, row, prior, stride, bpp);
    raw.insert(raw.end(), fr.begin(), fr.end());
  }
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::vector<uint8_t> z(libdeflate_zlib_compress_bound(c, raw.size()));
  z.resize(libdeflate_zlib_compress(c, raw.data(), raw.size(), z.data(), z.size()));
  libdeflate_free_compressor(c);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(&ihdr, uint32_t(w));
  put_be32(&ihdr, uint32_t(h));
  ihdr.insert(ihdr.end(), {uint8_t(depth), uint8_t(color), 0, 0, 0});
  put_chunk(&png, "IHDR", ihdr);
  if (!plte.empty()) put_chunk(&png, "PLTE", plte);
  if (!trns.empty()) put_chunk(&png, "tRNS", trns);
  put_chunk(&png, "tEXt", {'a', 0, 'b'});  // an ancillary chunk to skip
  if (idat_split && idat_split < z.size()) {
    put_chunk(&png, "IDAT", std::vector<uint8_t>(z.begin(), z.begin() + long(idat_split)));
    put_chunk(&png, "IDAT", std::vector<uint8_t>(z.begin() + long(idat_split), z.end()));
  } else {
    put_chunk(&png, "IDAT", z);
  }
  put_chunk(&png, "IEND", {});
  return png;
}

// Random bytes in runs (as label maps have) mixed with noise, never all zero.
std::vector<uint8_t> test_pixels(size_t n, std::mt19937* rng, int max_value = 255) {
  std::vector<uint8_t> v(n);
  std::uniform_int_distribution<int> value(0, max_value), run(1, 9), noise(0, 3);
  for (size_t i = 0; i < n;) {
    uint8_t b = uint8_t(value(*rng));
    for (int k = run(*rng); k > 0 && i < n; --k, ++i)
      v[i] = noise(*rng) == 0 ? uint8_t(value(*rng)) : b;
  }
  v[0] = 1;
  return v;
}

struct Decoded {
  PngInfo info;
  bool unsupported = false;
  std::vector<uint8_t> bytes;
  Status status;
};

Decoded fast_decode(const std::vector<uint8_t>& png, bool verify_crc = false) {
  PngDecoder decoder(verify_crc);
  Decoded d;
  d.status = decoder.decode_memory(
      png.data(), png.size(), &d.info, &d.unsupported, [&](int, const uint8_t* row) {
        const size_t stride =
            size_t(d.info.width) * size_t(d.info.channels) * size_t(d.info.bit_depth / 8);
        if (d.info.color_type ==
            3) {  // expand through the palette as stb does (RGB, or RGBA with tRNS)
          for (size_t x = 0; x < stride; ++x)
            for (int c = 0; c < 4; ++c)
              d.bytes.push_back(decoder.palette()[size_t(row[x]) * 4 + size_t(c)]);
        } else {
          d.bytes.insert(d.bytes.end(), row, row + stride);
        }
        return Status::success();
      });
  return d;
}

// stb's decode in the same layout: 8-bit channels as stored, 16-bit samples big-endian;
// palette images as RGBA.
std::vector<uint8_t> stb_decode(const std::vector<uint8_t>& png, const PngInfo& info) {
  int w = 0, h = 0, n = 0;
  std::vector<uint8_t> out;
  if (info.bit_depth == 16) {
    stbi_us* p = stbi_load_16_from_memory(png.data(), int(png.size()), &w, &h, &n, 0);
    REQUIRE(p);
    for (size_t i = 0; i < size_t(w) * size_t(h) * size_t(n); ++i) {
      out.push_back(uint8_t(p[i] >> 8));
      out.push_back(uint8_t(p[i] & 0xff));
    }
    stbi_image_free(p);
  } else {
    const int want = info.color_type == 3 ? 4 : 0;
    stbi_uc* p = stbi_load_from_memory(png.data(), int(png.size()), &w, &h, &n, want);
    REQUIRE(p);
    out.assign(p, p + size_t(w) * size_t(h) * size_t(want ? want : n));
    stbi_image_free(p);
  }
  return out;
}

}  // namespace

TEST_CASE("PNG unfiltering matches a scalar reference for every filter and pixel size", "[eval]") {
  std::mt19937 rng(7);
  for (int bpp : {1, 2, 3, 4, 6, 8})
    for (size_t pixels : {size_t(1), size_t(2), size_t(5), size_t(33), size_t(257)})
      for (int f = 0; f < 5; ++f) {
        const size_t n = pixels * size_t(bpp);
        std::vector<uint8_t> prior = test_pixels(n + 1, &rng), original = test_pixels(n + 1, &rng);
        std::vector<uint8_t> row = filter_row(f, original.data(), prior.data(), n, bpp);
        row.push_back(0);  // the one readable byte after the row
        Status s = png_unfilter_row(f, row.data(), prior.data(), n, bpp);
        REQUIRE(s.ok());
        INFO("bpp " << bpp << " pixels " << pixels << " filter " << f);
        CHECK(std::equal(row.begin(), row.begin() + long(n), original.begin()));
      }
  std::vector<uint8_t> row(4, 1), prior(4, 0);
  CHECK_FALSE(png_unfilter_row(5, row.data(), prior.data(), 3, 1).ok());
}

TEST_CASE("PNG decoder: every colour type, bit depth and filter gives stb_image's bytes",
          "[eval]") {
  std::mt19937 rng(11);
  struct Kind {
    int depth, color;
  };
  const Kind kinds[] = {{8, 0}, {16, 0}, {8, 2}, {8, 3}, {8, 4}, {8, 6}};
  const int sizes[][2] = {{1, 1}, {3, 5}, {17, 9}, {64, 33}, {129, 4}};
  int compared = 0;
  for (const Kind& k : kinds)
    for (const auto& size : sizes)
      for (int filter = -1; filter < 5; ++filter)
        for (bool trns : {false, true}) {
          if (trns && k.color != 3) continue;
          const int w = size[0], h = size[1];
          static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};
          const size_t bytes =
              size_t(w) * size_t(h) * size_t(kChannels[k.color]) * size_t(k.depth / 8);
          std::vector<uint8_t> plte, alpha;
          int entries = 0;
          if (k.color == 3) {
            entries = 2 + int(rng() % 255);
            plte = test_pixels(size_t(entries) * 3, &rng);
            if (trns) alpha = test_pixels(size_t(1 + int(rng() % unsigned(entries))), &rng);
          }
          std::vector<uint8_t> pixels = test_pixels(bytes, &rng, k.color == 3 ? entries - 1 : 255);
          std::vector<uint8_t> png =
              encode_png(w, h, k.depth, k.color, pixels, filter, plte, alpha, 7);
          Decoded d = fast_decode(png, true);
          INFO("depth " << k.depth << " colour " << k.color << " " << w << "x" << h << " filter "
                        << filter);
          REQUIRE(d.status.ok());
          REQUIRE_FALSE(d.unsupported);
          CHECK(d.info.width == w);
          CHECK(d.info.height == h);
          if (k.color != 3) CHECK(d.bytes == pixels);
          CHECK(d.bytes == stb_decode(png, d.info));
          ++compared;
        }
  CHECK(compared == 6 * 5 * 6 + 5 * 6);
}

TEST_CASE("PNG decoder: variants it leaves to stb_image are reported as unsupported", "[eval]") {
  std::mt19937 rng(3);
  std::vector<uint8_t> rgb16 = test_pixels(4 * 3 * 6 * 2, &rng);
  CHECK(fast_decode(encode_png(4, 3, 16, 2, rgb16, 1)).unsupported);
  std::vector<uint8_t> gray4 = test_pixels(2 * 3, &rng, 255);
  CHECK(fast_decode(encode_png(4, 3, 4, 0, gray4, 0)).unsupported);
}

TEST_CASE("PNG decoder: the real PNGs in tests/assets decode to stb_image's bytes", "[eval]") {
  namespace fs = std::filesystem;
  const fs::path assets = fs::path(ATROUS_SOURCE_DIR) / "tests" / "assets";
  // Named one by one so that a missing file fails the test instead of shrinking it.
  for (const char* name : {"images/astronaut.png", "images/chelsea.png",
                           "coco_panoptic/000000142238.png", "coco_panoptic/000000439180.png"}) {
    const fs::path path = assets / name;
    INFO(path.string());
    REQUIRE(fs::is_regular_file(path));
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> png((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
    Decoded d = fast_decode(png, true);
    REQUIRE(d.status.ok());
    REQUIRE_FALSE(d.unsupported);
    CHECK(d.bytes == stb_decode(png, d.info));
  }
}

TEST_CASE("Eval PNG loaders give stb_image's values through the fast decoder", "[eval]") {
  namespace fs = std::filesystem;
  std::mt19937 rng(5);
  const fs::path dir =
      fs::temp_directory_path() / ("atrous_test_png_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& png) {
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), long(png.size()));
    return (dir / name).string();
  };
  const int w = 37, h = 11;
  for (int color : {2, 3, 6}) {  // panoptic: RGB, palette, RGBA
    std::vector<uint8_t> plte = test_pixels(200 * 3, &rng);
    std::vector<uint8_t> px = test_pixels(size_t(w * h) * (color == 2   ? 3
                                                           : color == 6 ? 4
                                                                        : 1),
                                          &rng, color == 3 ? 199 : 255);
    std::string path = write(
        "pan.png", encode_png(w, h, 8, color, px, -1, color == 3 ? plte : std::vector<uint8_t>()));
    LabelImage image;
    REQUIRE(load_panoptic_png(path, &image).ok());
    int sw, sh, sn;
    stbi_uc* p = stbi_load(path.c_str(), &sw, &sh, &sn, 3);
    REQUIRE(p);
    REQUIRE(image.values.size() == size_t(w * h));
    bool same = true;
    for (size_t i = 0; i < image.values.size(); ++i)
      same &= image.values[i] ==
              (uint32_t(p[3 * i]) | (uint32_t(p[3 * i + 1]) << 8) | (uint32_t(p[3 * i + 2]) << 16));
    stbi_image_free(p);
    CHECK(same);
  }
  for (int color : {0, 2, 3, 4, 6}) {  // masks: stb's luma conversion
    std::vector<uint8_t> px = test_pixels(size_t(w * h) * size_t(color == 2   ? 3
                                                                 : color == 6 ? 4
                                                                 : color == 4 ? 2
                                                                              : 1),
                                          &rng, color == 3 ? 99 : 255);
    std::string path =
        write("mask.png", encode_png(w, h, 8, color, px, -1,
                                     color == 3 ? test_pixels(300, &rng) : std::vector<uint8_t>()));
    LabelImage8 mask;
    REQUIRE(load_mask_png(path, &mask).ok());
    int sw, sh, sn;
    stbi_uc* p = stbi_load(path.c_str(), &sw, &sh, &sn, 1);
    REQUIRE(p);
    CHECK(std::equal(mask.values.begin(), mask.values.end(), p));
    stbi_image_free(p);
  }
  {  // label maps: gray as is; 16-bit instance ids as numbers
    std::vector<uint8_t> px = test_pixels(size_t(w * h), &rng, 33);
    LabelImage8 labels;
    REQUIRE(load_label_png(write("l.png", encode_png(w, h, 8, 0, px, -1)), &labels).ok());
    CHECK(labels.values == px);
    std::vector<uint8_t> px16 = test_pixels(size_t(w * h) * 2, &rng);
    LabelImage ids;
    REQUIRE(load_instance_png(write("i.png", encode_png(w, h, 16, 0, px16, -1)), &ids).ok());
    bool same = true;
    for (size_t i = 0; i < ids.values.size(); ++i)
      same &= ids.values[i] == (uint32_t(px16[2 * i]) << 8 | px16[2 * i + 1]);
    CHECK(same);
    std::vector<uint8_t> colour = test_pixels(size_t(w * h) * 3, &rng);
    Status s = load_label_png(write("c.png", encode_png(w, h, 8, 2, colour, -1)), &labels);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("one channel") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("PNG decoder: truncated and corrupt files are errors, never crashes", "[eval]") {
  std::mt19937 rng(13);
  std::vector<uint8_t> px = test_pixels(23 * 7 * 3, &rng);
  const std::vector<uint8_t> png = encode_png(23, 7, 8, 2, px, -1);
  REQUIRE(fast_decode(png).status.ok());
  for (size_t cut = 0; cut < png.size(); ++cut) {
    std::vector<uint8_t> part(png.begin(), png.begin() + long(cut));
    Decoded d = fast_decode(part);
    INFO("cut at " << cut);
    CHECK_FALSE(d.status.ok());
    CHECK_FALSE(d.status.message().empty());
  }
  // Any flipped byte after the signature is caught by the chunk CRCs when they are checked.
  for (size_t at = 8; at < png.size(); ++at) {
    std::vector<uint8_t> bad = png;
    bad[at] ^= 0x5a;
    Decoded d = fast_decode(bad, true);
    INFO("byte " << at);
    CHECK_FALSE(d.status.ok());
  }
  // Without CRC checks, a damaged zlib stream or filter byte is still an error or a clean decode.
  int errors = 0;
  for (size_t at = 8; at < png.size(); ++at) {
    std::vector<uint8_t> bad = png;
    bad[at] ^= 0xff;
    errors += fast_decode(bad).status.ok() ? 0 : 1;
  }
  CHECK(errors > 0);
  // A header claiming far more pixels than its image data can inflate to is refused up front.
  std::vector<uint8_t> huge = png;
  for (int k = 0; k < 4; ++k) huge[16 + size_t(k)] = huge[20 + size_t(k)] = k == 2 ? 0x40 : 0;
  Decoded d = fast_decode(huge);
  CHECK_THAT(d.status.message(), Catch::Contains("cannot hold") && Catch::Contains("16384x16384"));
  std::vector<uint8_t> not_png = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0};
  CHECK(fast_decode(not_png).status.message().find("signature") != std::string::npos);
}

#endif  // ATROUS_HAVE_LIBDEFLATE
