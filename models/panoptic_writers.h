// Files for a panoptic result (docs/PANOPTIC.md "Output files"), in the formats `atrous eval`
// reads (docs/EVAL.md):
//   COCO panoptic (panopticapi): PNG with id = R + 256·G + 256²·B (0 = VOID) and a JSON with
//     `annotations` [{image_id, file_name, segments_info [{id, category_id, iscrowd, area,
//     bbox}]}] and `categories` [{id, name, isthing}]. Segment id = panoptic value + 1
//     (class·label_divisor + instance + 1), so a reader recovers the class as
//     (id − 1) / label_divisor; void pixels are 0. Category ids are the model's class ids.
//   Cityscapes panoptic (cityscapesScripts' csCreatePanopticImgs layout): the same PNG encoding
//     and JSON, with Cityscapes label ids: stuff id = label id, thing id = label id·1000 +
//     instance id; category ids = label ids (the model's classes are train ids).
//   Cityscapes semantic: 8-bit label ids; Cityscapes instance: one binary mask per thing
//     segment with its label id and score (the `<stem>_pred.txt` lines).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/status.h"
#include "models/panoptic_merger.h"
#include "runtime/image.h"

namespace atrous {

struct PanopticCategory {
  int id = 0;
  std::string name;
  bool isthing = false;
};

struct PanopticSegmentOut {
  int64_t id = 0;  // the PNG id
  int category_id = 0;
  int64_t area = 0;
  int32_t bbox[4] = {0, 0, 0, 0};  // x, y, width, height
  bool isthing = false;
  double score = 1;
};

struct PanopticAnnotation {
  std::string image_id, file_name;  // file_name: the panoptic PNG
  std::string image_file;           // the source image's name (the "images" list)
  int width = 0, height = 0;
  std::vector<PanopticSegmentOut> segments;
};

// The model's classes as categories: id = class id, name from `labels` ("class N" when
// missing), isthing from `thing_classes`.
std::vector<PanopticCategory> model_categories(int num_classes,
                                               const std::vector<std::string>& labels,
                                               const std::vector<int32_t>& thing_classes);

// COCO panoptic PNG (RGB) and segments of `result`. Error: an id that does not fit 24 bits.
Status coco_panoptic_encode(const PanopticResult& result, Image* png,
                            std::vector<PanopticSegmentOut>* segments);

// Label id of each model class, which must be the 19 Cityscapes train ids (num_classes = 19).
Status cityscapes_label_ids_for_train_ids(int num_classes, std::vector<int>* label_ids);
// The 19 evaluated Cityscapes labels as panoptic categories (id = label id), as the
// cityscapesScripts panoptic export lists them.
std::vector<PanopticCategory> cityscapes_panoptic_categories();
// Cityscapes panoptic PNG and segments; `label_divisor` splits the panoptic values. Error: an
// instance id ≥ 1000 (does not fit the Cityscapes id scheme).
Status cityscapes_panoptic_encode(const PanopticResult& result, const std::vector<int>& label_ids,
                                  int32_t label_divisor, Image* png,
                                  std::vector<PanopticSegmentOut>* segments);

// An 8-bit label map (`map` translates each value when given). Error: a value outside 0..255.
Status label_map_png(const std::vector<int32_t>& labels, int width, int height,
                     const std::vector<int>* map, Image* png);

struct InstanceMask {
  Image mask;           // 8-bit, 255 on the instance, 0 elsewhere
  int category_id = 0;  // the model's class
  double score = 0;
};
// One mask per thing segment of `result`, in segment order.
std::vector<InstanceMask> instance_masks(const PanopticResult& result);

// The panopticapi JSON: {"annotations": [...], "categories": [...]} (+ "images" [{id,
// file_name = image_file, width, height}]); segments carry `score` and `isthing` too.
std::string panoptic_json(const std::vector<PanopticAnnotation>& annotations,
                          const std::vector<PanopticCategory>& categories);

}  // namespace atrous
