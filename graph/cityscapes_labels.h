// The Cityscapes label definitions (ids, train ids, categories, hasInstances, ignoreInEval), as
// published with the dataset: 34 labels with ids 0..33 plus "license plate" (id −1). 19 labels
// are evaluated; 8 of them have instances.
//
// A dataset fact, not part of the IR: it sits in graph/ because both models/ (which writes
// Cityscapes-format outputs) and eval/ (which reads them) need it, and graph/ is the only part
// eval/ may include. It includes nothing.
#pragma once

#include <vector>

namespace atrous {

struct CityscapesLabel {
  const char* name;
  int id;
  int train_id;
  const char* category;
  bool has_instances;
  bool ignore_in_eval;
};

// All labels, in id order (license plate last).
const std::vector<CityscapesLabel>& cityscapes_labels();
// The label with this id (0..33), or nullptr.
const CityscapesLabel* cityscapes_label(int id);
// Ids of the 19 evaluated labels, ascending.
std::vector<int> cityscapes_eval_ids();
// Ids of the 8 evaluated labels with instances (person … bicycle), ascending.
std::vector<int> cityscapes_instance_ids();

}  // namespace atrous
