// `atrous segment MODEL IMAGE... --output-dir DIR`: image in, segmentation out (semantic,
// foreground and panoptic models; docs/CLI.md, docs/PANOPTIC.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "graph/json_io.h"
#include "graph/output_files.h"
#include "models/overlay.h"
#include "models/panoptic_pipeline.h"
#include "models/panoptic_writers.h"
#include "models/semantic.h"
#include "runtime/image.h"
#include "runtime/npy.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

namespace atrous {
namespace {

std::string stem_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  return name.empty() ? "image" : name;
}

nlohmann::ordered_json timing_json(double decode_ms, double preprocess_ms, double inference_ms,
                                   double postprocess_ms) {
  return {{"decode_ms", decode_ms},
          {"preprocess_ms", preprocess_ms},
          {"inference_ms", inference_ms},
          {"postprocess_ms", postprocess_ms}};
}

Status segment_one(Session& session, const ImageModelInfo& info, const std::string& model_path,
                   const std::string& image_path, const std::string& output_dir) {
  OutputFiles files;  // this image's files appear together, or not at all
  auto start = std::chrono::steady_clock::now();
  Image image;
  int source_channels = 0;
  ATROUS_RETURN_IF_ERROR(image_load_rgb(image_path, &image, &source_channels));
  double decode_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  SegmentationResult result;
  ATROUS_RETURN_IF_ERROR(segment_image(session, info, image, &result));
  const std::string base = output_dir + "/" + stem_of(image_path);
  nlohmann::ordered_json json = {{"image", image_path},    {"model", model_path},
                                 {"task", info.task},      {"width", image.width},
                                 {"height", image.height}, {"source_channels", source_channels}};
  std::vector<std::string> written;
  if (info.task == "semantic") {
    std::vector<int64_t> counts(size_t(result.num_classes), 0);
    for (int32_t label : result.labels) ++counts[size_t(label)];
    std::vector<LegendEntry> legend;
    for (int c = 0; c < result.num_classes; ++c) {
      if (!counts[size_t(c)]) continue;
      std::string name =
          size_t(c) < info.labels.size() ? info.labels[size_t(c)] : "class " + std::to_string(c);
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
    ATROUS_RETURN_IF_ERROR(write_output(files, base + "_labels.png", [&](const std::string& to) {
      return image_write_png(to, label_png);
    }));
    bool background = !info.labels.empty() &&
                      (info.labels[0] == "background" || info.labels[0] == "__background__");
    ATROUS_RETURN_IF_ERROR(write_output(files, base + "_overlay.png", [&](const std::string& to) {
      return image_write_png(to, render_label_overlay(image, result.labels, legend, background));
    }));
    written = {base + "_labels.png", base + "_overlay.png"};
    nlohmann::ordered_json classes = nlohmann::ordered_json::array();
    for (const LegendEntry& entry : legend)
      classes.push_back({{"id", entry.class_id},
                         {"name", entry.name},
                         {"pixels", counts[size_t(entry.class_id)]},
                         {"share", entry.share}});
    json["classes"] = std::move(classes);
    std::printf("%s: %dx%d, ", image_path.c_str(), image.width, image.height);
    for (size_t i = 0; i < legend.size() && i < 5; ++i)
      std::printf("%s%s %.1f%%", i ? ", " : "", legend[i].name.c_str(), legend[i].share * 100);
    std::printf("%s\n", legend.size() > 5 ? ", ..." : "");
  } else {
    double foreground = 0;
    for (float p : result.probability) foreground += p >= 0.5f;
    foreground /= double(result.probability.size());
    ATROUS_RETURN_IF_ERROR(write_output(files, base + "_mask.png", [&](const std::string& to) {
      return image_write_png(
          to, render_probability_mask(result.probability, image.width, image.height));
    }));
    ATROUS_RETURN_IF_ERROR(write_output(files, base + "_cutout.png", [&](const std::string& to) {
      return image_write_png(to, render_cutout(image, result.probability));
    }));
    written = {base + "_mask.png", base + "_cutout.png"};
    json["foreground_share"] = foreground;
    std::printf("%s: %dx%d, foreground %.1f%%\n", image_path.c_str(), image.width, image.height,
                foreground * 100);
  }
  json["timing"] =
      timing_json(decode_ms, result.preprocess_ms, result.inference_ms, result.postprocess_ms);
  json["files"] = written;
  ATROUS_RETURN_IF_ERROR(write_output(files, base + ".json", [&](const std::string& to) {
    return write_text_file(to, json_dump(json) + "\n");
  }));
  ATROUS_RETURN_IF_ERROR(files.commit());
  std::printf("  wrote %s, %s, %s.json (inference %.1f ms)\n", written[0].c_str(),
              written[1].c_str(), base.c_str(), result.inference_ms);
  return Status::success();
}

// Panoptic models (docs/PANOPTIC.md "atrous segment").
enum PanopticFormats { format_coco = 1, format_cityscapes = 2 };

struct PanopticJob {
  std::string model_path, output_dir;
  int formats = format_coco;
  PanopticPipelineOptions options;
  PanopticModelInfo info;
  std::vector<int> label_ids;  // Cityscapes label id per class (Cityscapes formats)
  std::vector<PanopticAnnotation> coco, cityscapes;
};

// "<city>_<seq>_<frame>_leftImg8bit" → "<city>_<seq>_<frame>" (the cityscapesScripts stem).
std::string cityscapes_stem(const std::string& stem) {
  const std::string suffix = "_leftImg8bit";
  if (stem.size() > suffix.size() &&
      stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0)
    return stem.substr(0, stem.size() - suffix.size());
  return stem;
}

std::string file_name_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status segment_panoptic_one(Session& session, PanopticJob& job, const std::string& image_path) {
  auto start = std::chrono::steady_clock::now();
  Image image;
  int source_channels = 0;
  ATROUS_RETURN_IF_ERROR(image_load_rgb(image_path, &image, &source_channels));
  double decode_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  PanopticPipelineResult run;
  ATROUS_RETURN_IF_ERROR(segment_panoptic(session, job.info, image, job.options, &run));
  const PanopticResult& result = run.panoptic;
  const std::string stem = stem_of(image_path), dir = job.output_dir, base = dir + "/" + stem;
  std::vector<std::string> written;
  OutputFiles files;  // this image's files appear together, or not at all
  // The image's entries in the JSONs of the run, added once its files are in place.
  std::vector<PanopticAnnotation> coco_entry, cityscapes_entry;
  auto png_output = [&files](const std::string& path, const Image& png) {
    return write_output(files, path,
                        [&](const std::string& to) { return image_write_png(to, png); });
  };

  Image labels;
  ATROUS_RETURN_IF_ERROR(
      label_map_png(result.semantic, result.width, result.height, nullptr, &labels));
  ATROUS_RETURN_IF_ERROR(png_output(base + "_labels.png", labels));
  ATROUS_RETURN_IF_ERROR(png_output(
      base + "_overlay.png",
      render_panoptic_overlay(image, result.panoptic, result.segments, job.info.labels)));
  written = {base + "_labels.png", base + "_overlay.png"};
  std::vector<PanopticSegmentOut> coco_segments;
  Image png;
  ATROUS_RETURN_IF_ERROR(coco_panoptic_encode(result, &png, &coco_segments));
  if (job.formats & format_coco) {
    ATROUS_RETURN_IF_ERROR(png_output(dir + "/panoptic/" + stem + ".png", png));
    written.push_back(dir + "/panoptic/" + stem + ".png");
    PanopticAnnotation ann;
    ann.image_id = stem;
    ann.file_name = stem + ".png";
    ann.image_file = file_name_of(image_path);
    ann.width = result.width, ann.height = result.height;
    ann.segments = coco_segments;
    coco_entry.push_back(ann);
  }
  if (job.formats & format_cityscapes) {
    const std::string cs = cityscapes_stem(stem), root = dir + "/cityscapes";
    PanopticAnnotation ann;
    ATROUS_RETURN_IF_ERROR(cityscapes_panoptic_encode(
        result, job.label_ids, job.info.params.label_divisor, &png, &ann.segments));
    ATROUS_RETURN_IF_ERROR(png_output(root + "/panoptic/" + cs + "_panoptic.png", png));
    ann.image_id = cs;
    ann.file_name = cs + "_panoptic.png";
    ann.image_file = file_name_of(image_path);
    ann.width = result.width, ann.height = result.height;
    cityscapes_entry.push_back(ann);
    Image semantic;
    ATROUS_RETURN_IF_ERROR(
        label_map_png(result.semantic, result.width, result.height, &job.label_ids, &semantic));
    ATROUS_RETURN_IF_ERROR(png_output(root + "/semantic/" + cs + "_pred_labelIds.png", semantic));
    std::string lines;
    std::vector<InstanceMask> masks = instance_masks(result);
    for (size_t k = 0; k < masks.size(); ++k) {
      const std::string name = "masks/" + cs + "_" + std::to_string(k) + ".png";
      ATROUS_RETURN_IF_ERROR(png_output(root + "/instance/" + name, masks[k].mask));
      char score[40];
      std::snprintf(score, sizeof score, "%.6f", masks[k].score);
      lines += name + " " + std::to_string(job.label_ids[size_t(masks[k].category_id)]) + " " +
               score + "\n";
    }
    ATROUS_RETURN_IF_ERROR(
        write_output(files, root + "/instance/" + cs + "_pred.txt",
                     [&](const std::string& to) { return write_text_file(to, lines); }));
    written.push_back(root + "/panoptic/" + cs + "_panoptic.png");
    written.push_back(root + "/semantic/" + cs + "_pred_labelIds.png");
    written.push_back(root + "/instance/" + cs + "_pred.txt");
  }
  if (job.options.keep_maps) {
    const std::pair<const char*, const Tensor*> maps[] = {{"_semantic.npy", &run.semantic},
                                                          {"_center.npy", &run.center},
                                                          {"_offset.npy", &run.offset}};
    for (const auto& map : maps)
      ATROUS_RETURN_IF_ERROR(write_output(files, base + map.first, [&](const std::string& to) {
        return npy_write(to, map.second->view());
      }));
    for (const char* what : {"_semantic.npy", "_center.npy", "_offset.npy"})
      written.push_back(base + what);
  }

  nlohmann::ordered_json segments = nlohmann::ordered_json::array();
  int things = 0;
  for (size_t i = 0; i < result.segments.size(); ++i) {
    const PanopticSegmentInfo& s = result.segments[i];
    things += s.isthing;
    std::string name = size_t(s.category_id) < job.info.labels.size()
                           ? job.info.labels[size_t(s.category_id)]
                           : "class " + std::to_string(s.category_id);
    segments.push_back({{"value", s.id},
                        {"png_id", coco_segments[i].id},
                        {"category_id", s.category_id},
                        {"name", name},
                        {"isthing", s.isthing},
                        {"area", s.area},
                        {"bbox", {s.bbox[0], s.bbox[1], s.bbox[2], s.bbox[3]}},
                        {"score", s.score}});
  }
  nlohmann::ordered_json json = {
      {"image", image_path},
      {"model", job.model_path},
      {"task", "panoptic"},
      {"width", image.width},
      {"height", image.height},
      {"source_channels", source_channels},
      {"work_width", run.work_width},
      {"work_height", run.work_height},
      {"convention", panoptic_convention_name(job.info.params.convention)},
      {"label_divisor", job.info.params.label_divisor},
      {"void_value", result.void_value},
      {"flip", job.options.flip},
      {"scales", job.options.scales},
      {"passes", run.passes},
      {"centers", result.centers.size()},
      {"segments", std::move(segments)},
      {"timing", timing_json(decode_ms, run.preprocess_ms, run.inference_ms, run.postprocess_ms)},
      {"files", written}};
  ATROUS_RETURN_IF_ERROR(write_output(files, base + ".json", [&](const std::string& to) {
    return write_text_file(to, json_dump(json) + "\n");
  }));
  ATROUS_RETURN_IF_ERROR(files.commit());
  job.coco.insert(job.coco.end(), coco_entry.begin(), coco_entry.end());
  job.cityscapes.insert(job.cityscapes.end(), cityscapes_entry.begin(), cityscapes_entry.end());
  std::printf(
      "%s: %dx%d, %d instances, %zu stuff segments, %d pass%s (inference %.1f ms) -> "
      "%s_overlay.png\n",
      image_path.c_str(), image.width, image.height, things,
      result.segments.size() - size_t(things), run.passes, run.passes == 1 ? "" : "es",
      run.inference_ms, base.c_str());
  return Status::success();
}

bool parse_scales(const std::string& text, std::vector<double>* scales) {
  scales->clear();
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) return false;
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (end != item.c_str() + item.size() || !std::isfinite(v) || v <= 0 || v > 16) return false;
    scales->push_back(v);
  }
  return !scales->empty() && text.back() != ',';
}

// The files one image's run writes, for the collision check (instance masks aside: they are
// named after the Cityscapes stem, whose _pred.txt is listed).
std::vector<std::string> planned_files(const std::string& image, const std::string& task,
                                       int formats, bool keep_maps, const std::string& dir) {
  const std::string stem = stem_of(image), base = dir + "/" + stem;
  std::vector<std::string> files = {base + ".json"};
  if (task == "foreground") {
    files.push_back(base + "_mask.png");
    files.push_back(base + "_cutout.png");
    return files;
  }
  files.push_back(base + "_labels.png");
  files.push_back(base + "_overlay.png");
  if (task != "panoptic") return files;
  if (formats & format_coco) files.push_back(dir + "/panoptic/" + stem + ".png");
  if (formats & format_cityscapes) {
    const std::string cs = cityscapes_stem(stem), root = dir + "/cityscapes";
    files.push_back(root + "/panoptic/" + cs + "_panoptic.png");
    files.push_back(root + "/semantic/" + cs + "_pred_labelIds.png");
    files.push_back(root + "/instance/" + cs + "_pred.txt");
  }
  if (keep_maps)
    for (const char* what : {"_semantic.npy", "_center.npy", "_offset.npy"})
      files.push_back(base + what);
  return files;
}

// One rule for every task: when two images (or an image and the run's own JSONs) would write the
// same file, the command is refused before anything is written. Outputs are named after the
// image's file name, so `a/pic.png` and `b/pic.jpg` collide.
Status check_output_names(const std::vector<std::string>& images, const std::string& task,
                          int formats, bool keep_maps, const std::string& dir) {
  std::map<std::string, std::string> owner;  // file → the image that writes it ("" for the run)
  if (task == "panoptic") {
    if (formats & format_coco) owner[dir + "/panoptic.json"] = "";
    if (formats & format_cityscapes) owner[dir + "/cityscapes/panoptic.json"] = "";
  }
  for (const std::string& image : images) {
    for (const std::string& file : planned_files(image, task, formats, keep_maps, dir)) {
      auto inserted = owner.emplace(file, image);
      if (inserted.second) continue;
      const std::string& other = inserted.first->second;
      if (other == image)
        return Status::error("segment: '" + image +
                             "' is given twice (its outputs would overwrite each other)");
      return Status::error(
          "segment: " +
          (other.empty() ? "'" + image + "' would overwrite the run's summary '" + file + "'"
                         : "'" + other + "' and '" + image + "' would both write '" + file + "'") +
          " (outputs are named after the image's file name without its extension; rename one)");
    }
  }
  return Status::success();
}

struct SegmentArguments {
  std::string model_path, output_dir, format_name, convention_name, threads_text, backend_text,
      max_memory_text;
  std::vector<std::string> images;
  bool scales_given = false, flip = false, dump_maps = false;
  std::string scales_text;
};

int run_segment(const SegmentArguments& a) {
  const std::string &model_path = a.model_path, &output_dir = a.output_dir,
                    &format_name = a.format_name, &convention_name = a.convention_name;
  const std::vector<std::string>& images = a.images;
  SessionOptions options;
  PanopticPipelineOptions panoptic_options;
  panoptic_options.flip = a.flip;
  panoptic_options.keep_maps = a.dump_maps;
  const bool scales_given = a.scales_given;
  if (int code = parse_threads_option("segment", a.threads_text, &options.threads)) return code;
  if (int code = parse_backend_option("segment", a.backend_text, &options.backend)) return code;
  if (!parse_max_memory(a.max_memory_text, &options.max_memory_bytes))
    return cli_fail(
        "segment: --max-memory needs a size of at least 1M (bytes, or with K, M, G or T)", 2);
  if (!format_name.empty() && format_name != "coco" && format_name != "cityscapes" &&
      format_name != "all")
    return cli_fail("segment: --format must be coco, cityscapes or all", 2);
  PanopticConvention parsed_convention;
  if (!convention_name.empty() &&
      !panoptic_convention_from_name(convention_name, &parsed_convention))
    return cli_fail("segment: --convention must be deeplab2 or detectron2", 2);
  if (scales_given && !parse_scales(a.scales_text, &panoptic_options.scales))
    return cli_fail(
        "segment: --scales needs a comma-separated list of numbers in (0, 16], e.g. "
        "0.75,1,1.25",
        2);
  if (model_path.empty() || images.empty())
    return cli_fail("segment: usage: atrous segment MODEL IMAGE... --output-dir DIR", 2);
  if (output_dir.empty()) return cli_fail("segment: --output-dir is required", 2);
  std::shared_ptr<const Model> model;
  Status status = Model::load_file(model_path, &model);
  if (!status.ok()) return cli_fail(status.message());
  const bool panoptic = model->graph().metadata.get_string("task", "") == "panoptic";
  if (!panoptic && (!format_name.empty() || !convention_name.empty() || panoptic_options.flip ||
                    scales_given || panoptic_options.keep_maps))
    return cli_fail(
        "segment: --format, --convention, --flip, --scales and --dump-maps apply to panoptic "
        "models only",
        2);

  if (panoptic) {
    PanopticJob job;
    job.model_path = model_path;
    job.output_dir = output_dir;
    job.options = panoptic_options;
    job.formats = format_name == "cityscapes" ? format_cityscapes
                  : format_name == "all"      ? format_coco | format_cityscapes
                                              : format_coco;
    PanopticConvention convention = panoptic_convention_deeplab2;
    if (!convention_name.empty()) panoptic_convention_from_name(convention_name, &convention);
    status = panoptic_model_info(model->graph(), convention, &job.info);
    if (!status.ok()) return cli_fail("'" + model_path + "': " + status.message());
    if (job.formats & format_cityscapes) {
      status = cityscapes_label_ids_for_train_ids(job.info.num_classes, &job.label_ids);
      if (!status.ok())
        return cli_fail("segment: --format " + format_name + ": " + status.message(), 2);
    }
    status = check_output_names(images, "panoptic", job.formats, job.options.keep_maps, output_dir);
    if (!status.ok()) return cli_fail(status.message(), 2);
    if (!job.info.normalization_given)
      std::fprintf(
          stderr,
          "atrous: warning: the model records no input_mean/input_std; feeding raw 0-255 values\n");
    std::unique_ptr<Session> session;
    status = Session::create(model, options, &session);
    if (!status.ok()) return cli_fail(status.message());
    for (const char* sub : {"", "/panoptic", "/cityscapes/panoptic", "/cityscapes/semantic",
                            "/cityscapes/instance/masks"}) {
      bool needed = sub[0] == '\0' ||
                    (std::string(sub) == "/panoptic" ? (job.formats & format_coco) != 0
                                                     : (job.formats & format_cityscapes) != 0);
      if (!needed) continue;
      status = make_directories(output_dir + sub);
      if (!status.ok()) return cli_fail(status.message());
    }
    int failures = 0;
    for (const std::string& image : images) {
      status = segment_panoptic_one(*session, job, image);
      if (!status.ok()) {
        cli_fail(status.message());
        ++failures;
      }
    }
    // The JSONs list every image that succeeded.
    if (job.formats & format_coco) {
      std::vector<PanopticCategory> categories =
          model_categories(job.info.num_classes, job.info.labels, job.info.params.thing_classes);
      status = write_text_file_atomic(output_dir + "/panoptic.json",
                                      panoptic_json(job.coco, categories));
      if (!status.ok()) return cli_fail(status.message());
    }
    if (job.formats & format_cityscapes) {
      status =
          write_text_file_atomic(output_dir + "/cityscapes/panoptic.json",
                                 panoptic_json(job.cityscapes, cityscapes_panoptic_categories()));
      if (!status.ok()) return cli_fail(status.message());
    }
    if (failures)
      return cli_fail(std::to_string(failures) + " of " + std::to_string(images.size()) +
                      " images failed");
    return 0;
  }

  ImageModelInfo info;
  status = image_model_info(model->graph(), &info);
  if (!status.ok()) return cli_fail("'" + model_path + "': " + status.message());
  status = check_output_names(images, info.task, 0, false, output_dir);
  if (!status.ok()) return cli_fail(status.message(), 2);
  if (!info.normalization_given)
    std::fprintf(
        stderr,
        "atrous: warning: the model records no input_mean/input_std; feeding raw 0-255 values\n");
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
    return cli_fail(std::to_string(failures) + " of " + std::to_string(images.size()) +
                    " images failed");
  return 0;
}

}  // namespace

CommandRunner add_command_segment(CLI::App& app) {
  auto a = std::make_shared<SegmentArguments>();
  CLI::App* cmd = app.add_subcommand(
      "segment",
      "Image in, segmentation out: label and overlay PNGs and a JSON summary per image "
      "(semantic, foreground and panoptic models)");
  cmd->add_option("MODEL", a->model_path, "a .atrous model with task metadata")->type_name("FILE");
  cmd->add_option("IMAGE", a->images, "images (PNG, JPEG, BMP)")->type_name("FILE");
  cmd->add_option("-o,--output-dir", a->output_dir, "where the files go (required)")
      ->type_name("DIR");
  add_threads_option(cmd, &a->threads_text);
  add_backend_option(cmd, &a->backend_text, SessionOptions().backend);
  add_max_memory_option(cmd, &a->max_memory_text);
  const char* panoptic = "panoptic models";
  cmd->add_option("--format", a->format_name, "panoptic files: coco (default), cityscapes or all")
      ->type_name("NAME")
      ->group(panoptic);
  cmd->add_flag("--flip", a->flip, "also run the mirrored image and average")->group(panoptic);
  cmd->add_option("--scales", a->scales_text,
                  "test-time scales, comma-separated, each in (0, 16] (e.g. 0.75,1,1.25)")
      ->type_name("S1,S2,...")
      ->group(panoptic)
      ->each([a](const std::string&) { a->scales_given = true; });
  cmd->add_option("--convention", a->convention_name, "deeplab2 (default) or detectron2")
      ->type_name("NAME")
      ->group(panoptic);
  cmd->add_flag("--dump-maps", a->dump_maps,
                "also write the merger's inputs as STEM_{semantic,center,offset}.npy")
      ->group(panoptic);
  return [a] { return run_segment(*a); };
}

}  // namespace atrous
