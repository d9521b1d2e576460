// Text comes from stb_easy_font (Debian's libstb-dev), which turns a string into axis-aligned
// quads; we fill those quads scaled into the image.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "tools/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace atrous {

void palette_color(int class_id, uint8_t rgb[3]) {
  int r = 0, g = 0, b = 0;
  int c = class_id;
  for (int bit = 7; bit >= 0 && c > 0; --bit) {
    r |= (c & 1) << bit;
    g |= ((c >> 1) & 1) << bit;
    b |= ((c >> 2) & 1) << bit;
    c >>= 3;
  }
  rgb[0] = uint8_t(r);
  rgb[1] = uint8_t(g);
  rgb[2] = uint8_t(b);
}

namespace {

void fill_rect(Image* image, int x0, int y0, int x1, int y1, const uint8_t* rgb, float alpha = 1.f) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, image->width), y1 = std::min(y1, image->height);
  const int c = image->channels;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = &image->pixels[(size_t(y) * size_t(image->width) + size_t(x)) * size_t(c)];
      for (int k = 0; k < 3; ++k) p[k] = uint8_t(std::lround(p[k] * (1 - alpha) + rgb[k] * alpha));
    }
}

}  // namespace

void draw_text(Image* image, int x, int y, const std::string& text, const uint8_t rgb[3], int scale) {
  std::vector<char> vertices(text.size() * 270 + 1024);
  std::vector<char> mutable_text(text.begin(), text.end());
  mutable_text.push_back('\0');
  unsigned char color[4] = {255, 255, 255, 255};
  int quads = stb_easy_font_print(0, 0, mutable_text.data(), color, vertices.data(), int(vertices.size()));
  for (int q = 0; q < quads; ++q) {
    // Each vertex is 16 bytes: float x, y, z, then 4 colour bytes; a quad's corners are
    // vertices 0 and 2.
    float v[8];
    const char* base = vertices.data() + size_t(q) * 64;
    std::copy(reinterpret_cast<const float*>(base), reinterpret_cast<const float*>(base) + 2, v);
    std::copy(reinterpret_cast<const float*>(base + 32), reinterpret_cast<const float*>(base + 32) + 2, v + 2);
    fill_rect(image, x + int(v[0] * scale), y + int(v[1] * scale), x + int(v[2] * scale),
              y + int(v[3] * scale), rgb);
  }
}

Image render_label_overlay(const Image& image, const std::vector<int32_t>& labels,
                           const std::vector<LegendEntry>& legend, bool class0_is_background) {
  Image out = image;
  const int w = image.width, h = image.height;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      size_t i = size_t(y) * size_t(w) + size_t(x);
      int label = labels[i];
      uint8_t* p = &out.pixels[i * 3];
      bool edge = (x + 1 < w && labels[i + 1] != label) || (y + 1 < h && labels[i + size_t(w)] != label);
      if (edge) {
        p[0] = p[1] = p[2] = 255;
        continue;
      }
      if (label == 0 && class0_is_background) continue;
      uint8_t rgb[3];
      palette_color(label, rgb);
      for (int k = 0; k < 3; ++k) p[k] = uint8_t((int(p[k]) * 40 + int(rgb[k]) * 60 + 50) / 100);
    }
  // Legend: one line per class, a colour swatch, the name and the share of the image.
  const int scale = std::max(1, std::min(w, h) / 400);
  const int line = 12 * scale, pad = 4 * scale;
  int longest = 0;
  std::vector<std::string> lines;
  for (const LegendEntry& entry : legend) {
    char share[32];
    std::snprintf(share, sizeof share, " %.1f%%", entry.share * 100.0);
    lines.push_back(entry.name + share);
    longest = std::max(longest, stb_easy_font_width(const_cast<char*>(lines.back().c_str())));
  }
  if (lines.empty()) return out;
  const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
  const int box_w = pad * 3 + line + longest * scale, box_h = pad * 2 + line * int(lines.size());
  fill_rect(&out, 0, 0, box_w, box_h, black, 0.65f);
  for (size_t i = 0; i < lines.size(); ++i) {
    uint8_t rgb[3];
    palette_color(legend[i].class_id, rgb);
    int top = pad + int(i) * line;
    fill_rect(&out, pad, top + scale, pad + line - 2 * scale, top + line - scale, white);
    fill_rect(&out, pad + scale, top + 2 * scale, pad + line - 3 * scale, top + line - 2 * scale, rgb);
    draw_text(&out, pad * 2 + line, top + 2 * scale, lines[i], white, scale);
  }
  return out;
}

Image render_probability_mask(const std::vector<float>& probability, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.channels = 1;
  out.pixels.resize(probability.size());
  for (size_t i = 0; i < probability.size(); ++i)
    out.pixels[i] = uint8_t(std::lround(std::min(1.f, std::max(0.f, probability[i])) * 255.f));
  return out;
}

Image render_cutout(const Image& image, const std::vector<float>& probability) {
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 4;
  out.pixels.resize(size_t(image.width) * size_t(image.height) * 4);
  for (size_t i = 0; i < probability.size(); ++i) {
    for (int k = 0; k < 3; ++k) out.pixels[i * 4 + size_t(k)] = image.pixels[i * 3 + size_t(k)];
    out.pixels[i * 4 + 3] = uint8_t(std::lround(std::min(1.f, std::max(0.f, probability[i])) * 255.f));
  }
  return out;
}

}  // namespace atrous
