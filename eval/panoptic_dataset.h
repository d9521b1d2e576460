// Panoptic annotations in the COCO panoptic layout (panopticapi, and cityscapesScripts'
// panoptic export): a JSON with `annotations` [{image_id, file_name, segments_info: [{id,
// category_id, iscrowd, area}]}] (+ `categories` [{id, name, isthing}] in the ground truth)
// and a folder of PNGs (id = R + 256·G + 256²·B).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "eval/panoptic_overlap.h"
#include "eval/panoptic_quality.h"

namespace atrous {

struct PanopticImagePair {
  std::string key;  // image_id as text
  std::string gt_png;
  std::vector<PanopticSegment> gt;
  bool has_pred = false;  // the prediction JSON lists this image
  std::string pred_png;
  std::vector<PanopticSegment> pred;
};

struct PanopticDataset {
  std::vector<EvalCategory> categories;   // from the gt JSON
  std::vector<PanopticImagePair> images;  // in gt JSON order
};

// Reads the two JSONs. The gt JSON needs `annotations` and `categories`; the prediction JSON
// needs `annotations`. Prediction entries are matched by image_id; entries for images the gt
// lacks are ignored. Errors: corrupt JSON, missing keys, wrong types, numbers that do not fit
// their field, repeated image ids, and (unless `allow_outside_paths`) a `file_name` that leads
// outside its folder or holds a NUL byte (eval/eval_paths.h).
Status panoptic_dataset_load(const std::string& gt_json, const std::string& gt_dir,
                             const std::string& pred_json, const std::string& pred_dir,
                             PanopticDataset* dataset, bool allow_outside_paths = false);

// Frees the decode buffers this thread keeps from pair to pair (for EvalMemory).
void panoptic_release_thread_buffers();

// What evaluating `pair` may allocate, from its PNG headers and segment lists (files whose header
// cannot be read count nothing: their errors come from the evaluation itself).
uint64_t panoptic_pair_memory(const PanopticImagePair& pair);

// Evaluates one pair into `delta` (its pq / pc / semantic members, when present). A prediction
// that the JSON does not list or whose PNG does not exist is recorded in `delta->missing` and
// scored as all VOID. With `semantic_from_panoptic`, `delta->semantic` (size categories + 1,
// the last = VOID, not evaluated) gets the category of every non-VOID gt pixel against the
// predicted category. Memory is reserved from the headers before decoding
// (eval_reserve_image_memory), and sizes are compared then. Errors name the image.
Status panoptic_pair_evaluate(const PanopticImagePair& pair, bool semantic_from_panoptic,
                              EvalAccumulators* delta);

}  // namespace atrous
