// The image segmentation task around a network: preprocessing from the model's metadata,
// the run, and post-processing back to the image's own size.
//   semantic:   logits [1,C,h,w] (NCHW models) or [1,h,w,C] (NHWC models) → a class per pixel
//               (logits resized bilinearly to the image, then argmax; the first maximum wins);
//   foreground: a probability map [1,1,h,w] / [1,h,w,1] in [0,1] → resized bilinearly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/image.h"
#include "runtime/session.h"

namespace atrous {

struct ImageModelInfo {
  std::string task;   // "semantic" or "foreground"
  bool nhwc = false;  // metadata input_layout
  int input_height = 0;
  int input_width = 0;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  bool normalization_given = false;
  std::vector<std::string> labels;
  std::string input_name;
};

// Reads what the image pipeline needs from the graph and its metadata; explains how to add
// missing metadata with atrous-convert.
Status image_model_info(const Graph& graph, ImageModelInfo* info);

// The metadata `input_mean` / `input_std` (1 or 3 values each): fills mean and stdev and sets
// *given; both absent leaves them as they are with *given false.
Status read_input_normalization(const Graph& graph, float mean[3], float stdev[3], bool* given);

struct SegmentationResult {
  int width = 0;
  int height = 0;
  int num_classes = 0;
  std::vector<int32_t> labels;     // semantic: width·height class ids
  std::vector<float> probability;  // foreground: width·height values in [0,1]
  double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
};

// Preprocesses `image` (RGB), runs the session, and post-processes to the image size.
Status segment_image(Session& session, const ImageModelInfo& info, const Image& image,
                     SegmentationResult* result);

// The network input for `image`: resized to the model's input size, normalized, laid out as
// the model expects (exposed for tests); rows split over `pool` when given.
Tensor segmentation_input(const ImageModelInfo& info, const Image& image,
                          ThreadPool* pool = nullptr);

}  // namespace atrous
