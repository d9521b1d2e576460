// The native Panoptic-DeepLab post-processing ("panoptic merger"), docs/PANOPTIC.md.
//
// From semantic logits (or labels), a center heatmap and center offsets to a panoptic map
// class·label_divisor + instance id. Two conventions:
//   deeplab2   (default) DeepLab2's released configuration: its post-processor and its pure-TF
//              fallback merge (docs/PANOPTIC.md, "Sources"). Threshold value ≤ thr → 0, zero-padded
//              max-pool NMS, top-k only when there are more than K centers (keeps values > the
//              K-th), instance ids per class in order of first appearance in a raster scan, void =
//              void_label·label_divisor, stuff kept iff area ≥ stuff_area_limit.
//   detectron2 detectron2 / bowenc0221 (docs/PANOPTIC.md, "Sources"): ≤ thr → −1, NMS pads with
//   −inf, top-k
//              always applied (keeps values > max(K-th, 0)), ids per class in ascending
//              center-index order, void = −1, same stuff rule.
// Both: nearest center by float32 Euclidean distance (first center index on ties), class per
// instance by majority vote over its thing pixels (ties → smallest class id). No K×H×W
// buffer is built (nor any other image-sized one besides the result); rows are processed in
// parallel on a thread pool with a static split, and every output is bitwise identical for any
// thread count. The host-side rules shared with the CUDA merger: models/panoptic_merger_rules.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/attributes.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

class ThreadPool;

enum PanopticConvention { panoptic_convention_deeplab2 = 0, panoptic_convention_detectron2 = 1 };

const char* panoptic_convention_name(PanopticConvention convention);
bool panoptic_convention_from_name(const std::string& name, PanopticConvention* convention);

struct PanopticParams {
  PanopticConvention convention = panoptic_convention_deeplab2;
  std::vector<int32_t> thing_classes;
  int32_t label_divisor = 1000;
  int32_t void_label = 255;  // deeplab2 only: void pixels = void_label·label_divisor
  float center_threshold = 0.1f;
  int32_t nms_kernel = 3;
  int32_t top_k = 400;  // ≤ 0: no top-k
  int32_t stuff_area_limit = 0;
  bool compute_scores = true;  // per-instance scores (softmax over the logits: costs time)
  bool spatial_grid = true;    // speed only: prune the nearest-center search with a grid
};

// The defaults of a convention when a key is not given (docs/PANOPTIC.md, "Parameters": DeepLab2's
// proto defaults; detectron2's configs): threshold 0.1, NMS 3 / 7, top-k 400 / 200, stuff area 0 /
// 2048, label divisor 1000, void label 255. No thing classes: callers must provide them.
PanopticParams panoptic_params_default(PanopticConvention convention);

// Reads the model metadata keys of docs/FORMAT.md (thing_classes, label_divisor, void_label,
// nms_kernel, top_k, stuff_area_limit, center_threshold) over the convention's defaults.
// Missing thing_classes, a wrong type or an out-of-range value is an error.
PanopticParams panoptic_params_from_metadata(const AttributeMap& metadata,
                                             PanopticConvention convention, Status* status);
// The same keys from a JSON object ({"thing_classes": [11, 12], "label_divisor": 1000, ...});
// an optional "convention" string there is overridden by `convention_override` when given.
PanopticParams panoptic_params_from_json(const std::string& text, Status* status,
                                         const PanopticConvention* convention_override = nullptr);
Status panoptic_params_validate(const PanopticParams& params);

struct PanopticInputs {
  // float32 logits [C,H,W] (or [1,C,H,W]), or integer labels [H,W] (or [1,H,W]) as int32.
  TensorView semantic;
  TensorView center;  // float32 [1,H,W] (or [H,W] or [1,1,H,W])
  TensorView offset;  // float32 [2,H,W] (or [1,2,H,W]): Δy, Δx
};

struct PanopticCenter {
  int32_t y = 0, x = 0;
  float score = 0;  // post-NMS heatmap value
};

struct PanopticSegmentInfo {
  int32_t id = 0;  // the panoptic value class·label_divisor + instance id (stuff: class·divisor)
  int32_t category_id = 0;
  int64_t area = 0;
  int32_t bbox[4] = {0, 0, 0, 0};  // x, y, width, height
  int32_t iscrowd = 0;
  bool isthing = false;
  // Things with logits: mean over the segment of P(semantic = its class) × its center's score
  // (DeepLab2's combined instance score); things with labels only: the center's score;
  // stuff: 1.
  double score = 1.0;
  int32_t center_index = -1;  // things: index into PanopticResult::centers
};

struct PanopticResult {
  int32_t height = 0, width = 0;
  std::vector<int32_t> panoptic;  // H·W
  std::vector<int32_t> semantic;  // H·W class per pixel
  std::vector<int32_t> instance;  // H·W class-agnostic: center index + 1 on thing pixels, else 0
  std::vector<PanopticCenter> centers;        // after threshold, NMS and top-k, in row-major order
  std::vector<PanopticSegmentInfo> segments;  // things in id-assignment order, then stuff by class
  int32_t void_value = 0;
};

// `result`'s maps are resized, not reallocated: a result passed again (same size or smaller)
// keeps its memory, so repeated calls do not fault in fresh pages. On an error its contents are
// unspecified. The rows are split over `pool` (a session's pool, or the caller's own: one
// parallel_for per pass, so the pool must not be running another task).
Status panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params, ThreadPool& pool,
                      PanopticResult* result);
// The same with a pool of `threads` made for this one call (one-shot callers and tests).
Status panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params, int threads,
                      PanopticResult* result);

}  // namespace atrous
