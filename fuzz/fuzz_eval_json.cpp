// libFuzzer target for the JSON readers of `atrous eval --format coco` (eval/panoptic_dataset.h;
// docs/FUZZING.md): the ground-truth JSON (annotations and categories) and the prediction JSON,
// read from files as the CLI reads them. The input is the ground-truth text, a NUL byte and the
// prediction text (no NUL: the same text for both). Datasets that load are scored as the CLI
// scores them, but only images whose PNGs are the two small panoptic PNGs this target writes at
// start-up (a.png, b.png), so that segment lists and category ids meet real pixels and no
// fuzzed file name is ever opened.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "eval/confusion_matrix.h"
#include "eval/panoptic_dataset.h"
#include "eval/parsing_covering.h"
#include "fuzz/fuzz_file.h"
#include "runtime/image.h"

namespace {

// A scratch folder holding a.png and b.png (4x3, ids 0, 1, 2, 256 and 65536 in R + 256·G +
// 256²·B), removed at exit.
struct PngFolder {
  std::string dir;
  PngFolder() {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/atrous-fuzz-eval-XXXXXX";
    if (!mkdtemp(&dir[0])) std::abort();
    const uint32_t a[12] = {1, 1, 2, 2, 1, 256, 2, 0, 256, 256, 65536, 0};
    const uint32_t b[12] = {1, 2, 2, 2, 1, 1, 256, 0, 256, 65536, 65536, 0};
    write("a.png", a);
    write("b.png", b);
  }
  ~PngFolder() {
    unlink((dir + "/a.png").c_str());
    unlink((dir + "/b.png").c_str());
    rmdir(dir.c_str());
  }
  void write(const char* name, const uint32_t* ids) const {
    atrous::Image image;
    image.width = 4, image.height = 3, image.channels = 3;
    for (int i = 0; i < 12; ++i)
      for (int c = 0; c < 3; ++c) image.pixels.push_back(uint8_t(ids[i] >> (8 * c)));
    if (!atrous::image_write_png(dir + "/" + name, image).ok()) std::abort();
  }
  bool known(const std::string& path) const {
    return path == dir + "/a.png" || path == dir + "/b.png";
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static PngFolder folder;
  static atrous_fuzz::ScratchFile gt_file, pred_file;
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const std::string& gt_json = gt_file.write(data, nul ? size_t(nul - data) : size);
  const std::string& pred_json =
      nul ? pred_file.write(nul + 1, size - size_t(nul - data) - 1) : gt_json;
  atrous::PanopticDataset coco;
  if (!atrous::panoptic_dataset_load(gt_json, folder.dir, pred_json, folder.dir, &coco).ok())
    return 0;
  atrous::EvalAccumulators total;
  total.pq = std::make_unique<atrous::PanopticQuality>(coco.categories);
  total.pc = std::make_unique<atrous::ParsingCovering>(coco.categories);
  std::vector<bool> evaluated(coco.categories.size() + 1, true);
  evaluated.back() = false;  // VOID
  total.semantic = std::make_unique<atrous::ConfusionMatrix>(evaluated);
  for (const atrous::PanopticImagePair& pair : coco.images) {
    if (!folder.known(pair.gt_png) || (pair.has_pred && !folder.known(pair.pred_png))) continue;
    atrous::EvalAccumulators delta = total.empty_like();
    if (!atrous::panoptic_pair_evaluate(pair, true, &delta).ok()) return 0;
    total.merge(std::move(delta));
  }
  (void)total.pq->summary();
  (void)total.pc->summary();
  return 0;
}
