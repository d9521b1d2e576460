#include "models/semantic.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace atrous {
namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// Half-pixel source coordinate of output index `i` when resizing `in` samples to `out`.
struct Tap {
  int i0, i1;
  float f;
};
std::vector<Tap> taps(int in, int out) {
  std::vector<Tap> result(static_cast<size_t>(out));
  for (int i = 0; i < out; ++i) {
    float s = std::min(std::max((i + 0.5f) * float(in) / float(out) - 0.5f, 0.f), float(in - 1));
    int i0 = int(s);
    result[size_t(i)] = {i0, std::min(i0 + 1, in - 1), s - float(i0)};
  }
  return result;
}

}  // namespace

Status read_input_normalization(const Graph& graph, float mean[3], float stdev[3], bool* given) {
  std::vector<double> means = graph.metadata.get_floats("input_mean", {});
  std::vector<double> stdevs = graph.metadata.get_floats("input_std", {});
  *given = false;
  if (means.empty() && stdevs.empty()) return Status::success();
  if ((means.size() != 1 && means.size() != 3) || (stdevs.size() != 1 && stdevs.size() != 3))
    return Status::error("metadata input_mean and input_std must hold 1 or 3 values each");
  for (int c = 0; c < 3; ++c) {
    mean[c] = float(means[means.size() == 3 ? size_t(c) : 0]);
    stdev[c] = float(stdevs[stdevs.size() == 3 ? size_t(c) : 0]);
    if (!(stdev[c] != 0.f) || !std::isfinite(stdev[c]) || !std::isfinite(mean[c]))
      return Status::error("metadata input_std must be finite and non-zero");
  }
  *given = true;
  return Status::success();
}

Status image_model_info(const Graph& graph, ImageModelInfo* info) {
  *info = ImageModelInfo();
  const char* how =
      " (record it when converting, e.g. `atrous-convert MODEL -o OUT.atrous --task semantic "
      "--labels-file LABELS.txt --input-mean 127.5,127.5,127.5 --input-std 127.5,127.5,127.5`)";
  info->task = graph.metadata.get_string("task", "");
  if (info->task.empty())
    return Status::error(
        std::string("the model has no 'task' metadata, so atrous does not know how to "
                    "turn its output into a segmentation") +
        how);
  if (info->task != "semantic" && info->task != "foreground")
    return Status::error("the model's task is '" + info->task +
                         "'; `atrous segment` handles 'semantic' and 'foreground' models");
  if (graph.inputs.size() != 1)
    return Status::error("`atrous segment` needs a model with one image input; this one has " +
                         std::to_string(graph.inputs.size()));
  const GraphTensor& input = graph.tensors[size_t(graph.inputs[0])];
  info->input_name = input.name;
  std::string layout = graph.metadata.get_string("input_layout", "nchw");
  if (layout != "nchw" && layout != "nhwc")
    return Status::error("metadata input_layout must be 'nchw' or 'nhwc', not '" + layout + "'");
  info->nhwc = layout == "nhwc";
  const Shape& s = input.shape;
  if (input.dtype != DType::dtype_f32 || s.size() != 4 || s[0] != 1 || s[info->nhwc ? 3 : 1] != 3)
    return Status::error("`atrous segment` needs a float32 input of shape " +
                         std::string(info->nhwc ? "[1,H,W,3]" : "[1,3,H,W]") + "; '" + input.name +
                         "' is " + dtype_name(input.dtype) + " " + shape_to_string(s));
  info->input_height = int(info->nhwc ? s[1] : s[2]);
  info->input_width = int(info->nhwc ? s[2] : s[3]);
  ATROUS_RETURN_IF_ERROR(
      read_input_normalization(graph, info->mean, info->std, &info->normalization_given));
  info->labels = graph.metadata.get_strings("labels", {});
  if (graph.outputs.empty()) return Status::error("the model has no outputs");
  const GraphTensor& output = graph.tensors[size_t(graph.outputs[0])];
  if (output.shape.size() != 4 || output.shape[0] != 1)
    return Status::error(
        "`atrous segment` needs a first output of shape [1,C,h,w] or [1,h,w,C]; '" + output.name +
        "' is " + shape_to_string(output.shape));
  if (output.dtype != DType::dtype_f32)
    return Status::error("the first output '" + output.name + "' must be float32");
  int64_t channels = info->nhwc ? output.shape[3] : output.shape[1];
  if (info->task == "foreground" && channels != 1)
    return Status::error("a foreground model must output one probability channel; '" + output.name +
                         "' has " + std::to_string(channels));
  return Status::success();
}

Tensor segmentation_input(const ImageModelInfo& info, const Image& image, ThreadPool* pool) {
  Image resized = image_resize_bilinear(image, info.input_width, info.input_height, pool);
  const int64_t h = info.input_height, w = info.input_width;
  Tensor input(DType::dtype_f32, info.nhwc ? Shape{1, h, w, 3} : Shape{1, 3, h, w});
  float* out = input.f32();
  parallel_chunks(pool, h, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) {
          float v =
              (float(resized.pixels[size_t((y * w + x) * 3 + c)]) - info.mean[c]) / info.std[c];
          out[info.nhwc ? (y * w + x) * 3 + c : (c * h + y) * w + x] = v;
        }
  });
  return input;
}

Status segment_image(Session& session, const ImageModelInfo& info, const Image& image,
                     SegmentationResult* result) {
  if (image.channels != 3 || image.width < 1 || image.height < 1)
    return Status::error("segment_image needs a non-empty RGB image");
  *result = SegmentationResult();
  auto start = std::chrono::steady_clock::now();
  // The loops over pixels run on the session's pool; every pixel is computed by the same
  // expressions whichever chunk holds it.
  ThreadPool* pool = &session.thread_pool();
  Tensor input = segmentation_input(info, image, pool);
  result->preprocess_ms = elapsed_ms(start);

  start = std::chrono::steady_clock::now();
  std::vector<Tensor> outputs;
  ATROUS_RETURN_IF_ERROR(session.run({{info.input_name, &input.view()}}, &outputs));
  result->inference_ms = elapsed_ms(start);

  start = std::chrono::steady_clock::now();
  const Tensor& logits = outputs[0];
  const int channels = int(info.nhwc ? logits.shape()[3] : logits.shape()[1]);
  const int h = int(info.nhwc ? logits.shape()[1] : logits.shape()[2]);
  const int w = int(info.nhwc ? logits.shape()[2] : logits.shape()[3]);
  // Element (c, y, x) of the output in either layout.
  const int64_t class_stride = info.nhwc ? 1 : int64_t(h) * w;
  const int64_t pixel_stride = info.nhwc ? channels : 1;
  const float* data = logits.f32();
  result->width = image.width;
  result->height = image.height;
  result->num_classes = channels;
  std::vector<Tap> row_taps = taps(h, image.height), column_taps = taps(w, image.width);
  const size_t pixels = size_t(image.width) * size_t(image.height);
  const bool semantic = info.task == "semantic";
  if (semantic)
    result->labels.resize(pixels);
  else
    result->probability.resize(pixels);
  parallel_chunks(pool, image.height, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      const Tap& ty = row_taps[size_t(y)];
      for (int x = 0; x < image.width; ++x) {
        const Tap& tx = column_taps[size_t(x)];
        const int64_t p00 = (int64_t(ty.i0) * w + tx.i0) * pixel_stride,
                      p01 = (int64_t(ty.i0) * w + tx.i1) * pixel_stride;
        const int64_t p10 = (int64_t(ty.i1) * w + tx.i0) * pixel_stride,
                      p11 = (int64_t(ty.i1) * w + tx.i1) * pixel_stride;
        auto sample = [&](int c) {
          const float* plane = data + c * class_stride;
          float top = plane[p00] + (plane[p01] - plane[p00]) * tx.f;
          float bottom = plane[p10] + (plane[p11] - plane[p10]) * tx.f;
          return top + (bottom - top) * ty.f;
        };
        size_t index = size_t(y) * size_t(image.width) + size_t(x);
        if (semantic) {
          int best = 0;
          float best_value = sample(0);
          for (int c = 1; c < channels; ++c) {
            float v = sample(c);
            if (v > best_value) best = c, best_value = v;
          }
          result->labels[index] = best;
        } else {
          result->probability[index] = std::min(1.f, std::max(0.f, sample(0)));
        }
      }
    }
  });
  result->postprocess_ms = elapsed_ms(start);
  return Status::success();
}

}  // namespace atrous
