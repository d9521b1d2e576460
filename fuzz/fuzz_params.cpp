// libFuzzer target for the merge parameter files of `atrous merge --params` (models/
// panoptic_merger.h; docs/FUZZING.md): the bytes are the JSON text. Parameters that parse are
// validated and used for one merge of a small fixed set of maps, under both conventions, so
// values the parser lets through (kernel sizes, top-k, divisors, class ids) reach the merger.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/thread_pool.h"
#include "models/panoptic_merger.h"

namespace {

constexpr int kClasses = 4, kHeight = 6, kWidth = 7;

struct Maps {
  std::vector<float> semantic, center, offset;
  Maps()
      : semantic(kClasses * kHeight * kWidth),
        center(kHeight * kWidth),
        offset(2 * kHeight * kWidth) {
    for (size_t i = 0; i < semantic.size(); ++i) semantic[i] = std::sin(float(i) * 0.7f) * 3;
    for (size_t i = 0; i < center.size(); ++i) center[i] = float((i * 37) % 11) / 10;
    for (size_t i = 0; i < offset.size(); ++i) offset[i] = float(int(i * 13 % 9) - 4);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Maps maps;
  static atrous::ThreadPool pool(1);
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (atrous::PanopticConvention convention :
       {atrous::panoptic_convention_deeplab2, atrous::panoptic_convention_detectron2}) {
    atrous::Status status;
    atrous::PanopticParams params = atrous::panoptic_params_from_json(text, &status, &convention);
    if (!status.ok()) return 0;
    if (!atrous::panoptic_params_validate(params).ok()) continue;
    atrous::PanopticInputs inputs{
        {atrous::DType::dtype_f32, {kClasses, kHeight, kWidth}, maps.semantic.data()},
        {atrous::DType::dtype_f32, {1, kHeight, kWidth}, maps.center.data()},
        {atrous::DType::dtype_f32, {2, kHeight, kWidth}, maps.offset.data()}};
    atrous::PanopticResult result;
    (void)atrous::panoptic_merge(inputs, params, pool, &result);
  }
  return 0;
}
