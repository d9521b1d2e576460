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

namespace {

struct MergeArguments {
  std::string semantic_path, center_path, offset_path, model_path, params_path, output_dir;
  std::string convention_text, threads_text;
  bool no_scores = false;
};

int run_merge(const MergeArguments& a) {
  const std::string &semantic_path = a.semantic_path, &center_path = a.center_path,
                    &offset_path = a.offset_path, &model_path = a.model_path,
                    &params_path = a.params_path, &output_dir = a.output_dir;
  const bool convention_given = !a.convention_text.empty(), scores = !a.no_scores;
  PanopticConvention convention = panoptic_convention_deeplab2;
  if (convention_given && !panoptic_convention_from_name(a.convention_text, &convention))
    return cli_fail("merge: --convention must be deeplab2 or detectron2", 2);
  int threads = 1;
  if (int code = parse_threads_option("merge", a.threads_text, &threads)) return code;
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
  OutputFiles outputs;  // both files or neither
  status = write_output(outputs, output_dir + "/panoptic.npy",
                        [&](const std::string& to) { return npy_write(to, panoptic); });
  if (status.ok())
    status = write_output(outputs, output_dir + "/segments.json", [&](const std::string& to) {
      return write_segments_json(to, result, params, merge_ms);
    });
  if (status.ok()) status = outputs.commit();
  if (!status.ok()) return cli_fail(status.message());
  std::printf("%zu segments, %zu centers, %.2f ms -> %s/panoptic.npy, segments.json\n",
              result.segments.size(), result.centers.size(), merge_ms, output_dir.c_str());
  return 0;
}

}  // namespace

CommandRunner add_command_merge(CLI::App& app) {
  auto a = std::make_shared<MergeArguments>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "The panoptic merger alone: .npy maps in, panoptic.npy and segments.json out");
  cmd->add_option("--semantic", a->semantic_path,
                  "float32 logits [C,H,W] or integer labels [H,W] (required)")
      ->type_name("S.npy");
  cmd->add_option("--center", a->center_path, "float32 center heatmap [1,H,W] (required)")
      ->type_name("C.npy");
  cmd->add_option("--offset", a->offset_path, "float32 offsets [2,H,W], dy then dx (required)")
      ->type_name("O.npy");
  cmd->add_option("--model", a->model_path, "take the parameters from this model's metadata")
      ->type_name("MODEL");
  cmd->add_option("--params", a->params_path, "take the parameters from this JSON file")
      ->type_name("P.json");
  cmd->add_option("--convention", a->convention_text,
                  "deeplab2 (default) or detectron2; overrides the params file's")
      ->type_name("NAME");
  add_threads_option(cmd, &a->threads_text);
  cmd->add_flag("--no-scores", a->no_scores, "skip the per-instance scores (faster)");
  cmd->add_option("-o,--output-dir", a->output_dir, "where the outputs go (required)")
      ->type_name("DIR");
  return [a] { return run_merge(*a); };
}

}  // namespace atrous
