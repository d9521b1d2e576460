// Text comes from stb_easy_font (Debian's libstb-dev), which turns a string into axis-aligned
// quads; we fill those quads scaled into the image.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include <stb/stb_easy_font.h>

#include <cstdint>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "models/overlay.h"

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

void fill_rect(Image* image, int x0, int y0, int x1, int y1, const uint8_t* rgb,
               float alpha = 1.f) {
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

void draw_text(Image* image, int x, int y, const std::string& text, const uint8_t rgb[3],
               int scale) {
  std::vector<char> vertices(text.size() * 270 + 1024);
  std::vector<char> mutable_text(text.begin(), text.end());
  mutable_text.push_back('\0');
  unsigned char color[4] = {255, 255, 255, 255};
  int quads =
      stb_easy_font_print(0, 0, mutable_text.data(), color, vertices.data(), int(vertices.size()));
  for (int q = 0; q < quads; ++q) {
    // Each vertex is 16 bytes: float x, y, z, then 4 colour bytes; a quad's corners are
    // vertices 0 and 2.
    float v[8];
    const char* base = vertices.data() + size_t(q) * 64;
    std::copy(reinterpret_cast<const float*>(base), reinterpret_cast<const float*>(base) + 2, v);
    std::copy(reinterpret_cast<const float*>(base + 32),
              reinterpret_cast<const float*>(base + 32) + 2, v + 2);
    fill_rect(image, x + int(v[0] * scale), y + int(v[1] * scale), x + int(v[2] * scale),
              y + int(v[3] * scale), rgb);
  }
}

// A legend in the top-left corner: per line a colour swatch and the text.
static void draw_legend(Image* out, const std::vector<std::string>& lines,
                        const std::vector<std::array<uint8_t, 3>>& colors) {
  if (lines.empty()) return;
  const int scale = std::max(1, std::min(out->width, out->height) / 400);
  const int line = 12 * scale, pad = 4 * scale;
  int longest = 0;
  for (const std::string& text : lines)
    longest = std::max(longest, stb_easy_font_width(const_cast<char*>(text.c_str())));
  const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
  const int box_w = pad * 3 + line + longest * scale, box_h = pad * 2 + line * int(lines.size());
  fill_rect(out, 0, 0, box_w, box_h, black, 0.65f);
  for (size_t i = 0; i < lines.size(); ++i) {
    int top = pad + int(i) * line;
    fill_rect(out, pad, top + scale, pad + line - 2 * scale, top + line - scale, white);
    fill_rect(out, pad + scale, top + 2 * scale, pad + line - 3 * scale, top + line - 2 * scale,
              colors[i].data());
    draw_text(out, pad * 2 + line, top + 2 * scale, lines[i], white, scale);
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
      bool edge =
          (x + 1 < w && labels[i + 1] != label) || (y + 1 < h && labels[i + size_t(w)] != label);
      if (edge) {
        p[0] = p[1] = p[2] = 255;
        continue;
      }
      if (label == 0 && class0_is_background) continue;
      uint8_t rgb[3];
      palette_color(label, rgb);
      for (int k = 0; k < 3; ++k) p[k] = uint8_t((int(p[k]) * 40 + int(rgb[k]) * 60 + 50) / 100);
    }
  std::vector<std::string> lines;
  std::vector<std::array<uint8_t, 3>> colors;
  for (const LegendEntry& entry : legend) {
    char share[32];
    std::snprintf(share, sizeof share, " %.1f%%", entry.share * 100.0);
    lines.push_back(entry.name + share);
    std::array<uint8_t, 3> rgb;
    palette_color(entry.class_id, rgb.data());
    colors.push_back(rgb);
  }
  draw_legend(&out, lines, colors);
  return out;
}

void panoptic_class_color(int class_id, uint8_t rgb[3]) { palette_color(class_id + 1, rgb); }

void panoptic_instance_shade(int class_id, int ordinal, uint8_t rgb[3]) {
  panoptic_class_color(class_id, rgb);
  // Ordinal k → t in [−0.5, 0.5) by the golden-ratio sequence (k = 0 → 0, the class colour);
  // t > 0 mixes towards white, t < 0 towards black.
  double t = std::fmod(ordinal * 0.3819660112501051 + 0.5, 1.0) - 0.5;
  for (int k = 0; k < 3; ++k) {
    double c = rgb[k];
    c = t > 0 ? c + (255.0 - c) * t * 1.4 : c * (1.0 + t * 1.4);
    rgb[k] = uint8_t(std::lround(std::min(255.0, std::max(0.0, c))));
  }
}

Image render_panoptic_overlay(const Image& image, const std::vector<int32_t>& panoptic,
                              const std::vector<PanopticSegmentInfo>& segments,
                              const std::vector<std::string>& class_names) {
  Image out = image;
  const int w = image.width, h = image.height;
  struct Look {
    uint8_t rgb[3];
    bool thing;
  };
  std::unordered_map<int32_t, Look> looks;
  std::unordered_map<int, int> instances_per_class;
  std::unordered_map<int, int64_t> area_per_class;
  for (const PanopticSegmentInfo& s : segments) {
    Look look;
    look.thing = s.isthing;
    if (s.isthing)
      panoptic_instance_shade(s.category_id, instances_per_class[s.category_id]++, look.rgb);
    else
      panoptic_class_color(s.category_id, look.rgb);
    area_per_class[s.category_id] += s.area;
    looks[s.id] = look;
  }
  auto value_at = [&](int x, int y) { return panoptic[size_t(y) * size_t(w) + size_t(x)]; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int32_t v = value_at(x, y);
      uint8_t* p = &out.pixels[(size_t(y) * size_t(w) + size_t(x)) * 3];
      auto it = looks.find(v);
      if (it == looks.end()) continue;  // void: the image as it is
      const Look& look = it->second;
      bool edge = (x > 0 && value_at(x - 1, y) != v) || (x + 1 < w && value_at(x + 1, y) != v) ||
                  (y > 0 && value_at(x, y - 1) != v) || (y + 1 < h && value_at(x, y + 1) != v);
      if (edge && look.thing) {  // every instance outlined in white, inside its own pixels
        p[0] = p[1] = p[2] = 255;
        continue;
      }
      const int alpha = look.thing ? 65 : 50;  // per cent of colour
      for (int k = 0; k < 3; ++k) {
        int c = (int(p[k]) * (100 - alpha) + int(look.rgb[k]) * alpha + 50) / 100;
        p[k] = uint8_t(edge ? c / 2 : c);  // stuff borders darkened
      }
    }
  // Legend: classes by area; things with their instance count, stuff with its share.
  std::vector<std::pair<int, int64_t>> classes(area_per_class.begin(), area_per_class.end());
  std::sort(classes.begin(), classes.end(),
            [](const std::pair<int, int64_t>& a, const std::pair<int, int64_t>& b) {
              return a.second != b.second ? a.second > b.second : a.first < b.first;
            });
  std::vector<std::string> lines;
  std::vector<std::array<uint8_t, 3>> colors;
  for (const auto& c : classes) {
    std::string name = size_t(c.first) < class_names.size() ? class_names[size_t(c.first)]
                                                            : "class " + std::to_string(c.first);
    char text[64];
    auto count = instances_per_class.find(c.first);
    if (count != instances_per_class.end())
      std::snprintf(text, sizeof text, " x%d", count->second);
    else
      std::snprintf(text, sizeof text, " %.1f%%",
                    100.0 * double(c.second) / (double(w) * double(h)));
    lines.push_back(name + text);
    std::array<uint8_t, 3> rgb;
    panoptic_class_color(c.first, rgb.data());
    colors.push_back(rgb);
  }
  draw_legend(&out, lines, colors);
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
    out.pixels[i * 4 + 3] =
        uint8_t(std::lround(std::min(1.f, std::max(0.f, probability[i])) * 255.f));
  }
  return out;
}

}  // namespace atrous
