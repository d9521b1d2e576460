// The Cityscapes layout of cityscapesScripts (docs/EVAL.md):
//   GT_ROOT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds}.png
//   GT_ROOT/gtFine/cityscapes_panoptic_<split>.json + GT_ROOT/gtFine/cityscapes_panoptic_<split>/
// and predictions under PRED_ROOT, found recursively by the <city>_<seq>_<frame> in their
// names as the official scripts do:
//   semantic: any *.png whose name contains "labelIds" (label ids per pixel, 8-bit);
//   instance: any *.txt, lines "MASK.png LABEL_ID CONFIDENCE" (MASK relative to the .txt);
//   panoptic: PRED_ROOT/panoptic.json + PRED_ROOT/panoptic/<file_name>.
#pragma once

#include <string>
#include <vector>

#include "eval/eval_paths.h"
#include "eval/evaluator.h"
#include "eval/panoptic_dataset.h"

namespace atrous {

struct CityscapesImage {
  std::string stem;       // <city>_<seq>_<frame>
  std::string gt_labels;  // empty for an image only in the panoptic export
  std::string gt_instances;
  std::string pred_semantic;   // empty = missing
  std::string pred_instances;  // the .txt; empty = missing
  bool has_panoptic = false;
  PanopticImagePair panoptic;
};

struct CityscapesDataset {
  bool semantic = false, instance = false, panoptic = false;  // what the predictions allow
  std::vector<EvalCategory> panoptic_categories;
  std::vector<CityscapesImage> images;
  EvalRoot pred_folder;  // where instance masks must lie
};

// Every file read must lie inside GT_ROOT or PRED_ROOT (after symlinks), unless
// `allow_outside_paths` (eval/eval_paths.h).
Status cityscapes_dataset_load(const std::string& gt_root, const std::string& pred_root,
                               const std::string& split, CityscapesDataset* dataset,
                               bool allow_outside_paths = false);
// Frees the decode buffers this thread keeps from image to image (for EvalMemory).
void cityscapes_release_thread_buffers();
// Accumulators for the metrics `dataset` allows (pq/pc over the panoptic categories, semantic
// over label ids 0..33, instance over the 8 instance classes).
EvalAccumulators cityscapes_accumulators(const CityscapesDataset& dataset);
Status cityscapes_image_evaluate(const CityscapesDataset& dataset, size_t index,
                                 EvalAccumulators* delta);

}  // namespace atrous
