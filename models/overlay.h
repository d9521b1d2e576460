// Pictures for people: class palettes, label overlays with a legend, foreground cut-outs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/panoptic_merger.h"
#include "runtime/image.h"

namespace atrous {

// The PASCAL VOC colour map (class 0 black, then the bit-interleaved sequence), extended to
// any class id.
void palette_color(int class_id, uint8_t rgb[3]);

struct LegendEntry {
  int class_id;
  std::string name;
  double share;  // fraction of the image
};

// The image blended with the class colours (background — class 0 when it is named
// "background" — left unblended), class boundaries outlined, and a legend of `legend` in the
// top-left corner.
Image render_label_overlay(const Image& image, const std::vector<int32_t>& labels,
                           const std::vector<LegendEntry>& legend, bool class0_is_background);

// Panoptic colours: a class's colour is palette_color(class + 1) (so class 0 is not black);
// the k-th instance of a thing class (k = 0, 1, ... in segment order) gets a shade of it, mixed
// towards white or black by the golden-ratio sequence (k = 0: the class colour itself).
void panoptic_class_color(int class_id, uint8_t rgb[3]);
void panoptic_instance_shade(int class_id, int ordinal, uint8_t rgb[3]);

// The image with every stuff segment blended 50 % with its class colour (borders darkened),
// every thing instance blended 65 % with its own shade and outlined in white along its inner
// border, void pixels left as they are, and a legend (classes by area: things with their
// instance count "xN", stuff with its share of the image).
Image render_panoptic_overlay(const Image& image, const std::vector<int32_t>& panoptic,
                              const std::vector<PanopticSegmentInfo>& segments,
                              const std::vector<std::string>& class_names);

// Grayscale PNG of a probability map (0 → 0, 1 → 255).
Image render_probability_mask(const std::vector<float>& probability, int width, int height);
// RGBA cut-out: the image with alpha = probability.
Image render_cutout(const Image& image, const std::vector<float>& probability);

// Draws `text` with its top-left corner at (x, y), `scale` pixels per font unit.
void draw_text(Image* image, int x, int y, const std::string& text, const uint8_t rgb[3],
               int scale);

}  // namespace atrous
