// The panoptic merger's host-side rules, shared by the CPU merger (models/panoptic_merger.cpp)
// and the CUDA merger (models/panoptic_merger_cuda.cpp): the input checks, the thing table, the
// top-k cut, the int32 range of the panoptic values, the id assignment with the stuff rule, and
// the instance scores from the fixed-point probability sums. Both mergers compute the per-pixel
// passes their own way and hand the results to these functions, so whatever is decided with a
// tie rule is decided by one piece of code. Internal to models/.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/status.h"
#include "models/panoptic_merger.h"

namespace atrous {

// Limits of the merger's inputs: classes (and each dimension), and pixels.
constexpr int64_t kPanopticMaxClasses = int64_t(1) << 20;
constexpr int64_t kPanopticMaxPixels = int64_t(1) << 30;

// What check_inputs learns about host inputs.
struct PanopticGeometry {
  int height = 0, width = 0;
  int64_t classes = 0;  // logits channels (labels: 0 until their range is known)
  bool logits = false;
  const float* logit_data = nullptr;
  const void* label_data = nullptr;  // integer labels, `label_type`
  DType label_type = DType::dtype_i32;
};

// The dtypes and shapes panoptic_merge accepts (docs/PANOPTIC.md); an error names the input.
Status panoptic_check_inputs(const PanopticInputs& inputs, PanopticGeometry* geometry);

// The labels' range [low, high] must lie in [0, kPanopticMaxClasses).
Status panoptic_check_label_range(int64_t low, int64_t high);

// The thing classes sorted ascending without duplicates (so that the vote's first maximum is the
// smallest class id), and per class below `classes` its index there (−1: stuff).
void panoptic_thing_table(const PanopticParams& params, int64_t classes,
                          std::vector<int32_t>* things, std::vector<int32_t>* thing_index);

// The top-k rule of the convention on the centers in raster order: deeplab2 cuts only when there
// are more than K, detectron2 when there are at least K; the kept centers are those above the
// K-th largest value (values are > 0 here, so detectron2's max(K-th, 0) is the K-th itself).
void panoptic_top_k(const PanopticParams& params, std::vector<PanopticCenter>* centers);

// The largest panoptic value, (classes − 1)·divisor + K, must fit in int32.
Status panoptic_check_value_range(int64_t classes, int32_t label_divisor, int64_t centers);

// The void value of the convention: void_label·divisor (deeplab2) or −1 (detectron2).
int32_t panoptic_void_value(const PanopticParams& params);

// A box: rows y0..y1, columns x0..x1 (empty: y1 < 0).
struct PanopticBox {
  int32_t y0 = 0, x0 = 0, y1 = -1, x1 = -1;
};

// Per center: the voted thing index (first maximum of its class histogram), its area, its first
// raster position (≥ H·W: no pixel) and its box.
struct PanopticInstanceSummary {
  int32_t thing = 0;
  int64_t area = 0;
  int64_t first = 0;
  PanopticBox box;
};

// Per class: the area of its pixels without an instance (stuff pixels) and their box.
struct PanopticStuffSummary {
  int64_t area = 0;
  PanopticBox box;
};

struct PanopticAssignment {
  std::vector<int32_t> value_of;     // per center: its panoptic value (void: no pixel)
  std::vector<int32_t> class_of;     // per center: its class (−1: no pixel)
  std::vector<int32_t> stuff_value;  // per class: c·divisor for a kept stuff class, else void
  std::vector<PanopticSegmentInfo> segments;  // things in id order, then stuff by class
};

// Ids per thing class in the convention's order (deeplab2: order of first appearance in a raster
// scan; detectron2: ascending center index), then the stuff classes whose area is at least
// stuff_area_limit. Thing scores are the centers' values here (panoptic_instance_scores may
// replace them).
void panoptic_assign_segments(const PanopticParams& params, const std::vector<int32_t>& things,
                              const std::vector<int32_t>& thing_index,
                              const std::vector<PanopticCenter>& centers,
                              const std::vector<PanopticInstanceSummary>& instances,
                              const std::vector<PanopticStuffSummary>& stuff, int64_t pixels,
                              PanopticAssignment* assignment);

// The fixed point of the instance scores' probability sums (amounts of 1/scale).
double panoptic_probability_scale();

// Thing scores from logits: mean over the segment of P(its class) × its center's value, from
// `sums` (per center: the fixed-point probability sum of its pixels).
void panoptic_instance_scores(const std::vector<int64_t>& sums,
                              const std::vector<PanopticCenter>& centers,
                              std::vector<PanopticSegmentInfo>* segments);

}  // namespace atrous
