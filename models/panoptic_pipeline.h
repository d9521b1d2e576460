// The Panoptic-DeepLab image pipeline around a network (docs/PANOPTIC.md, "atrous segment"):
// image → normalization and bottom/right padding to the model's fixed input → run → crop →
// test-time augmentation averaging → panoptic merger → back to the image's own size.
//
// The model: task "panoptic", one float32 NCHW input [1,3,H,W], outputs `semantic` [1,C,H,W]
// logits, `center` [1,1,H,W] and `offset` [1,2,H,W] (Δy, Δx in input pixels) at the input size
// (models/pytorch/README.md); outputs are found by those names, else taken in that order.
//
// Geometry (docs/PANOPTIC_DEEPLAB.md, "Input geometry and outputs"): an image that fits the input
// is not resized; a larger one is first resized (bilinear, align_corners) to fit, keeping its
// aspect ratio, and the results are resized back with nearest neighbour. Each pass places the
// (scaled) image at the top-left of the input and pads the bottom/right with the model's mean pixel
// (0 after normalization; D2's 127.5). Every resize of images and network outputs is bilinear with
// align_corners=True.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/tensor.h"
#include "models/panoptic_merger.h"
#include "runtime/image.h"
#include "runtime/session.h"

namespace atrous {

struct PanopticModelInfo {
  int input_height = 0, input_width = 0;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  bool normalization_given = false;
  std::string input_name;
  int semantic_output = 0, center_output = 1, offset_output = 2;  // indices into the outputs
  int num_classes = 0;
  std::vector<std::string> labels;  // class names (may be empty)
  PanopticParams params;            // from the metadata, for the chosen convention
};

// Reads what the panoptic pipeline needs from a model with task "panoptic": the input, the
// three outputs and the merger parameters (panoptic_params_from_metadata).
Status panoptic_model_info(const Graph& graph, PanopticConvention convention,
                           PanopticModelInfo* info);

struct PanopticPipelineOptions {
  // Test-time augmentation (docs/PANOPTIC_DEEPLAB.md, "Input geometry and outputs"): every scale is
  // run, and with `flip` also its horizontally flipped image; the outputs are averaged.
  bool flip = false;
  std::vector<double> scales = {1.0};
  ThreadPool* merge_pool = nullptr;  // the merger's threads; null: the session's pool
  bool keep_maps = false;            // keep the merger's inputs in PanopticPipelineResult::maps
};

struct PanopticPipelineResult {
  int width = 0, height = 0;            // the image's
  int work_width = 0, work_height = 0;  // where the merger ran (the image fitted to the input)
  PanopticResult panoptic;              // at width × height; segments recounted there
  // With keep_maps, the merger's inputs at work size: semantic [C,h,w] (the logits for one
  // pass, log of the averaged probabilities otherwise), center [1,h,w], offset [2,h,w].
  Tensor semantic, center, offset;
  int passes = 0;
  double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
};

// Runs the whole pipeline on an RGB image. Errors: a non-RGB or empty image, no scales, a
// scale ≤ 0 or non-finite, a scale whose image does not fit the model input, output shapes
// that do not match the input.
Status segment_panoptic(Session& session, const PanopticModelInfo& info, const Image& image,
                        const PanopticPipelineOptions& options, PanopticPipelineResult* result);

// Bilinear resize with align_corners=True of `channels` planes [channels, h, w] to [channels,
// out_h, out_w] (a side of 1 samples index 0), output rows split over `pool` when given (the
// same result for any pool or none). Exposed for tests.
std::vector<float> resize_planes_align_corners(const float* planes, int channels, int h, int w,
                                               int out_h, int out_w, ThreadPool* pool = nullptr);

// Recomputes area and bbox of `result->segments` from `result->panoptic` (at result->height ×
// width) and drops segments that no longer have pixels.
void panoptic_recount_segments(PanopticResult* result);

}  // namespace atrous
