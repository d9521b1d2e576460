// `atrous segment MODEL IMAGE... --output-dir DIR`: image in, segmentation out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "models/semantic.h"
#include "runtime/image.h"
#include "runtime/session.h"
#include "tools/cli_common.h"
#include "tools/json_writer.h"
#include "tools/overlay.h"

namespace atrous {
namespace {

std::string stem_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  return name.empty() ? "image" : name;
}

std::string timing_json(const SegmentationResult& r, double decode_ms) {
  return "{\"decode_ms\":" + json_number(decode_ms) + ",\"preprocess_ms\":" + json_number(r.preprocess_ms) +
         ",\"inference_ms\":" + json_number(r.inference_ms) + ",\"postprocess_ms\":" + json_number(r.postprocess_ms) + "}";
}

Status segment_one(Session& session, const ImageModelInfo& info, const std::string& model_path,
                   const std::string& image_path, const std::string& output_dir) {
  auto start = std::chrono::steady_clock::now();
  Image image;
  int source_channels = 0;
  ATROUS_RETURN_IF_ERROR(image_load_rgb(image_path, &image, &source_channels));
  double decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  SegmentationResult result;
  ATROUS_RETURN_IF_ERROR(segment_image(session, info, image, &result));
  const std::string base = output_dir + "/" + stem_of(image_path);
  std::string json = "{\"image\":" + json_quote(image_path) + ",\"model\":" + json_quote(model_path) +
                     ",\"task\":" + json_quote(info.task) + ",\"width\":" + std::to_string(image.width) +
                     ",\"height\":" + std::to_string(image.height) +
                     ",\"source_channels\":" + std::to_string(source_channels);
  std::vector<std::string> written;
  if (info.task == "semantic") {
    std::vector<int64_t> counts(size_t(result.num_classes), 0);
    for (int32_t label : result.labels) ++counts[size_t(label)];
    std::vector<LegendEntry> legend;
    for (int c = 0; c < result.num_classes; ++c) {
      if (!counts[size_t(c)]) continue;
      std::string name = size_t(c) < info.labels.size() ? info.labels[size_t(c)] : "class " + std::to_string(c);
      legend.push_back({c, name, double(counts[size_t(c)]) / double(result.labels.size())});
    }
    std::stable_sort(legend.begin(), legend.end(),
                     [](const LegendEntry& a, const LegendEntry& b) { return a.share > b.share; });
    Image label_png;
    label_png.width = image.width;
    label_png.height = image.height;
    if (result.num_classes <= 256) {
      label_png.channels = 1;
      label_png.pixels.assign(result.labels.begin(), result.labels.end());
    } else {  // more classes than a byte holds: id = R + 256·G
      label_png.channels = 3;
      label_png.pixels.resize(result.labels.size() * 3);
      for (size_t i = 0; i < result.labels.size(); ++i) {
        label_png.pixels[i * 3] = uint8_t(result.labels[i] & 255);
        label_png.pixels[i * 3 + 1] = uint8_t((result.labels[i] >> 8) & 255);
        label_png.pixels[i * 3 + 2] = 0;
      }
    }
    ATROUS_RETURN_IF_ERROR(image_write_png(base + "_labels.png", label_png));
    bool background = !info.labels.empty() && (info.labels[0] == "background" || info.labels[0] == "__background__");
    ATROUS_RETURN_IF_ERROR(image_write_png(base + "_overlay.png",
                                           render_label_overlay(image, result.labels, legend, background)));
    written = {base + "_labels.png", base + "_overlay.png"};
    json += ",\"classes\":[";
    for (size_t i = 0; i < legend.size(); ++i)
      json += std::string(i ? "," : "") + "{\"id\":" + std::to_string(legend[i].class_id) +
              ",\"name\":" + json_quote(legend[i].name) + ",\"pixels\":" +
              std::to_string(counts[size_t(legend[i].class_id)]) + ",\"share\":" + json_number(legend[i].share) + "}";
    json += "]";
    std::printf("%s: %dx%d, ", image_path.c_str(), image.width, image.height);
    for (size_t i = 0; i < legend.size() && i < 5; ++i)
      std::printf("%s%s %.1f%%", i ? ", " : "", legend[i].name.c_str(), legend[i].share * 100);
    std::printf("%s\n", legend.size() > 5 ? ", ..." : "");
  } else {
    double foreground = 0;
    for (float p : result.probability) foreground += p >= 0.5f;
    foreground /= double(result.probability.size());
    ATROUS_RETURN_IF_ERROR(image_write_png(base + "_mask.png",
                                           render_probability_mask(result.probability, image.width, image.height)));
    ATROUS_RETURN_IF_ERROR(image_write_png(base + "_cutout.png", render_cutout(image, result.probability)));
    written = {base + "_mask.png", base + "_cutout.png"};
    json += ",\"foreground_share\":" + json_number(foreground);
    std::printf("%s: %dx%d, foreground %.1f%%\n", image_path.c_str(), image.width, image.height, foreground * 100);
  }
  json += ",\"timing\":" + timing_json(result, decode_ms) + ",\"files\":[";
  for (size_t i = 0; i < written.size(); ++i) json += std::string(i ? "," : "") + json_quote(written[i]);
  json += "]}\n";
  ATROUS_RETURN_IF_ERROR(write_text_file(base + ".json", json));
  std::printf("  wrote %s, %s, %s.json (inference %.1f ms)\n", written[0].c_str(), written[1].c_str(),
              base.c_str(), result.inference_ms);
  return Status::success();
}

}  // namespace

int command_segment(Arguments& args) {
  std::string model_path, output_dir;
  std::vector<std::string> images;
  SessionOptions options;
  while (!args.empty()) {
    std::string arg = args.next();
    std::string text;
    if (arg == "--output-dir" || arg == "-o") {
      if (args.empty()) return cli_fail("segment: --output-dir needs a directory", 2);
      output_dir = args.next();
    } else if (arg == "--threads") {
      long long threads = 0;
      if (args.empty() || !parse_int(args.next(), &threads) || threads < 1 || threads > 1024)
        return cli_fail("segment: --threads needs a number from 1 to 1024", 2);
      options.threads = int(threads);
    } else if (arg == "--backend") {
      if (args.empty() || !backend_from_name(args.next(), &options.backend))
        return cli_fail("segment: --backend must be reference, cpu or cuda", 2);
    } else if (!arg.empty() && arg[0] == '-') {
      return cli_fail("segment: unknown option '" + arg + "'", 2);
    } else if (model_path.empty()) {
      model_path = arg;
    } else {
      images.push_back(arg);
    }
  }
  if (model_path.empty() || images.empty())
    return cli_fail("segment: usage: atrous segment MODEL IMAGE... --output-dir DIR", 2);
  if (output_dir.empty()) return cli_fail("segment: --output-dir is required", 2);
  std::shared_ptr<const Model> model;
  Status status = Model::load_file(model_path, &model);
  if (!status.ok()) return cli_fail(status.message());
  ImageModelInfo info;
  status = image_model_info(model->graph(), &info);
  if (!status.ok()) return cli_fail("'" + model_path + "': " + status.message());
  if (!info.normalization_given)
    std::fprintf(stderr, "atrous: warning: the model records no input_mean/input_std; feeding raw 0-255 values\n");
  std::unique_ptr<Session> session;
  status = Session::create(model, options, &session);
  if (!status.ok()) return cli_fail(status.message());
  status = make_directories(output_dir);
  if (!status.ok()) return cli_fail(status.message());
  int failures = 0;
  for (const std::string& image : images) {
    status = segment_one(*session, info, model_path, image, output_dir);
    if (!status.ok()) {
      cli_fail(status.message());
      ++failures;
    }
  }
  if (failures)
    return cli_fail(std::to_string(failures) + " of " + std::to_string(images.size()) + " images failed");
  return 0;
}

}  // namespace atrous
