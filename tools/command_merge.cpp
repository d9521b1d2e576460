// `atrous merge --semantic S.npy --center C.npy --offset O.npy (--model MODEL | --params P.json)
//  [--convention deeplab2|detectron2] [--threads N] [--no-scores] --output-dir DIR`:
// the panoptic merger alone (docs/PANOPTIC.md). Writes DIR/panoptic.npy and DIR/segments.json.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "graph/json_io.h"
#include "graph/thread_pool.h"
#include "models/panoptic_merger.h"
#include "runtime/npy.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

namespace atrous {
namespace {

Status write_segments_json(const std::string& path, const PanopticResult& result,
                           const PanopticParams& params, double merge_ms) {
  using nlohmann::ordered_json;
  ordered_json segments = ordered_json::array();
  for (const PanopticSegmentInfo& s : result.segments)
    segments.push_back({{"id", s.id},
                        {"category_id", s.category_id},
                        {"area", s.area},
                        {"bbox", {s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]}},
                        {"iscrowd", s.iscrowd},
                        {"isthing", s.isthing ? 1 : 0},
                        {"score", s.score}});
  ordered_json out = {{"segments_info", std::move(segments)},
                      {"label_divisor", params.label_divisor},
                      {"void_value", result.void_value},
                      {"convention", panoptic_convention_name(params.convention)},
                      {"centers", result.centers.size()},
                      {"merge_ms", merge_ms}};
  return write_text_file(path, json_dump(out, 2) + "\n");
}

}  // namespace

int command_merge(Arguments& args) {
  std::string semantic_path, center_path, offset_path, model_path, params_path, output_dir;
  bool convention_given = false, scores = true;
  PanopticConvention convention = panoptic_convention_deeplab2;
  int threads = 1;
  while (!args.empty()) {
    std::string arg = args.next();
    std::string text;
    if (arg == "--semantic") {
      if (!args.next_value(&semantic_path))
        return cli_fail("merge: --semantic needs a .npy file", 2);
    } else if (arg == "--center") {
      if (!args.next_value(&center_path)) return cli_fail("merge: --center needs a .npy file", 2);
    } else if (arg == "--offset") {
      if (!args.next_value(&offset_path)) return cli_fail("merge: --offset needs a .npy file", 2);
    } else if (arg == "--model") {
      if (!args.next_value(&model_path)) return cli_fail("merge: --model needs a model file", 2);
    } else if (arg == "--params") {
      if (!args.next_value(&params_path)) return cli_fail("merge: --params needs a JSON file", 2);
    } else if (arg == "--convention") {
      if (!args.next_value(&text) || !panoptic_convention_from_name(text, &convention))
        return cli_fail("merge: --convention must be deeplab2 or detectron2", 2);
      convention_given = true;
    } else if (arg == "--output-dir" || arg == "-o") {
      if (!args.next_value(&output_dir))
        return cli_fail("merge: --output-dir needs a directory", 2);
    } else if (arg == "--threads") {
      long long n = 0;
      if (!args.next_value(&text) || !parse_int(text, &n) || n < 1 || n > 1024)
        return cli_fail("merge: --threads needs a number from 1 to 1024", 2);
      threads = int(n);
    } else if (arg == "--no-scores") {
      scores = false;
    } else {
      return cli_fail("merge: unknown argument '" + arg + "'", 2);
    }
  }
  if (semantic_path.empty() || center_path.empty() || offset_path.empty())
    return cli_fail("merge: --semantic, --center and --offset are required", 2);
  if (model_path.empty() == params_path.empty())
    return cli_fail("merge: give exactly one of --model MODEL and --params P.json", 2);
  if (output_dir.empty()) return cli_fail("merge: --output-dir is required", 2);

  Status status;
  PanopticParams params;
  if (!model_path.empty()) {
    std::shared_ptr<const Model> model;
    status = Model::load_file(model_path, &model);
    if (!status.ok()) return cli_fail(status.message());
    params = panoptic_params_from_metadata(model->graph().metadata, convention, &status);
    if (!status.ok()) return cli_fail("merge: model '" + model_path + "': " + status.message());
  } else {
    std::ifstream file(params_path, std::ios::binary);
    if (!file) return cli_fail("merge: cannot open '" + params_path + "'");
    std::stringstream buffer;
    buffer << file.rdbuf();
    params =
        panoptic_params_from_json(buffer.str(), &status, convention_given ? &convention : nullptr);
    if (!status.ok()) return cli_fail("merge: '" + params_path + "': " + status.message());
  }
  params.compute_scores = scores;

  Tensor semantic, center, offset;
  const std::pair<const std::string*, Tensor*> files[3] = {
      {&semantic_path, &semantic}, {&center_path, &center}, {&offset_path, &offset}};
  for (const auto& f : files) {
    status = npy_read(*f.first, f.second);
    if (!status.ok()) return cli_fail("merge: " + status.message());
  }
  PanopticInputs inputs{semantic.view(), center.view(), offset.view()};
  PanopticResult result;
  ThreadPool pool(threads);  // made before the clock starts: merge_ms times the merge alone
  auto start = std::chrono::steady_clock::now();
  status = panoptic_merge(inputs, params, pool, &result);
  double merge_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) return cli_fail("merge: " + status.message());

  status = make_directories(output_dir);
  if (!status.ok()) return cli_fail(status.message());
  TensorView panoptic{DType::dtype_i32,
                      {result.height, result.width},
                      const_cast<int32_t*>(result.panoptic.data())};
  status = npy_write(output_dir + "/panoptic.npy", panoptic);
  if (!status.ok()) return cli_fail(status.message());
  status = write_segments_json(output_dir + "/segments.json", result, params, merge_ms);
  if (!status.ok()) return cli_fail(status.message());
  std::printf("%zu segments, %zu centers, %.2f ms -> %s/panoptic.npy, segments.json\n",
              result.segments.size(), result.centers.size(), merge_ms, output_dir.c_str());
  return 0;
}

}  // namespace atrous
