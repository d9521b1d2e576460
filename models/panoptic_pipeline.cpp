#include "models/panoptic_pipeline.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <unordered_map>

#include "models/semantic.h"

namespace atrous {
namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// Index of the output called `name`, else `fallback`.
int output_index(const Graph& graph, const char* name, int fallback) {
  for (size_t i = 0; i < graph.outputs.size(); ++i)
    if (graph.tensors[size_t(graph.outputs[i])].name == name) return int(i);
  return fallback;
}

// In-place softmax over the class axis of planes [C, n].
void softmax_planes(float* planes, int channels, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float top = planes[i];
    for (int c = 1; c < channels; ++c) top = std::max(top, planes[size_t(c) * n + i]);
    float sum = 0;
    for (int c = 0; c < channels; ++c) {
      float e = std::exp(planes[size_t(c) * n + i] - top);
      planes[size_t(c) * n + i] = e;
      sum += e;
    }
    for (int c = 0; c < channels; ++c) planes[size_t(c) * n + i] /= sum;
  }
}

// Planes [channels, h, w] cropped from the top-left of a [channels, H, W] output, mirrored
// horizontally when `mirror`.
std::vector<float> crop_planes(const float* data, int channels, int H, int W, int h, int w,
                               bool mirror) {
  std::vector<float> out(size_t(channels) * size_t(h) * size_t(w));
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y) {
      const float* row = data + (size_t(c) * size_t(H) + size_t(y)) * size_t(W);
      float* dst = out.data() + (size_t(c) * size_t(h) + size_t(y)) * size_t(w);
      for (int x = 0; x < w; ++x) dst[x] = row[mirror ? w - 1 - x : x];
    }
  return out;
}

// Nearest-neighbour resize with align_corners of an int32 map (DeepLab2's un-pad of label
// maps, docs/PANOPTIC_DEEPLAB.md).
std::vector<int32_t> resize_nearest(const std::vector<int32_t>& map, int h, int w, int out_h,
                                    int out_w) {
  std::vector<int32_t> out(size_t(out_h) * size_t(out_w));
  for (int y = 0; y < out_h; ++y) {
    int sy = out_h > 1 ? int(std::lround(double(y) * (h - 1) / (out_h - 1))) : 0;
    for (int x = 0; x < out_w; ++x) {
      int sx = out_w > 1 ? int(std::lround(double(x) * (w - 1) / (out_w - 1))) : 0;
      out[size_t(y) * size_t(out_w) + size_t(x)] = map[size_t(sy) * size_t(w) + size_t(sx)];
    }
  }
  return out;
}

}  // namespace

std::vector<float> resize_planes_align_corners(const float* planes, int channels, int h, int w,
                                               int out_h, int out_w) {
  std::vector<float> out(size_t(channels) * size_t(out_h) * size_t(out_w));
  struct Tap {
    int i0, i1;
    float f;
  };
  auto taps = [](int in, int n) {
    std::vector<Tap> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      double s = n > 1 ? double(i) * (in - 1) / (n - 1) : 0.0;
      int i0 = std::min(int(s), in - 1);
      t[size_t(i)] = {i0, std::min(i0 + 1, in - 1), float(s - i0)};
    }
    return t;
  };
  std::vector<Tap> ty = taps(h, out_h), tx = taps(w, out_w);
  for (int c = 0; c < channels; ++c) {
    const float* src = planes + size_t(c) * size_t(h) * size_t(w);
    float* dst = out.data() + size_t(c) * size_t(out_h) * size_t(out_w);
    for (int y = 0; y < out_h; ++y) {
      const float* r0 = src + size_t(ty[size_t(y)].i0) * size_t(w);
      const float* r1 = src + size_t(ty[size_t(y)].i1) * size_t(w);
      for (int x = 0; x < out_w; ++x) {
        const Tap& t = tx[size_t(x)];
        float top = r0[t.i0] + (r0[t.i1] - r0[t.i0]) * t.f;
        float bottom = r1[t.i0] + (r1[t.i1] - r1[t.i0]) * t.f;
        dst[size_t(y) * size_t(out_w) + size_t(x)] = top + (bottom - top) * ty[size_t(y)].f;
      }
    }
  }
  return out;
}

void panoptic_recount_segments(PanopticResult* result) {
  std::unordered_map<int32_t, size_t> index;
  for (size_t i = 0; i < result->segments.size(); ++i) {
    PanopticSegmentInfo& s = result->segments[i];
    index[s.id] = i;
    s.area = 0;
    s.bbox[0] = result->width, s.bbox[1] = result->height, s.bbox[2] = -1,
    s.bbox[3] = -1;  // x0 y0 x1 y1
  }
  for (int32_t y = 0; y < result->height; ++y)
    for (int32_t x = 0; x < result->width; ++x) {
      auto it = index.find(result->panoptic[size_t(y) * size_t(result->width) + size_t(x)]);
      if (it == index.end()) continue;
      PanopticSegmentInfo& s = result->segments[it->second];
      ++s.area;
      s.bbox[0] = std::min(s.bbox[0], x), s.bbox[1] = std::min(s.bbox[1], y);
      s.bbox[2] = std::max(s.bbox[2], x), s.bbox[3] = std::max(s.bbox[3], y);
    }
  std::vector<PanopticSegmentInfo> kept;
  for (PanopticSegmentInfo s : result->segments) {
    if (!s.area) continue;
    s.bbox[2] = s.bbox[2] - s.bbox[0] + 1;
    s.bbox[3] = s.bbox[3] - s.bbox[1] + 1;
    kept.push_back(s);
  }
  result->segments = std::move(kept);
}

Status panoptic_model_info(const Graph& graph, PanopticConvention convention,
                           PanopticModelInfo* info) {
  *info = PanopticModelInfo();
  std::string task = graph.metadata.get_string("task", "");
  if (task != "panoptic")
    return Status::error("the model's task is '" + task + "', not 'panoptic'");
  if (graph.metadata.get_string("input_layout", "nchw") != "nchw")
    return Status::error("a panoptic model must take an NCHW input (metadata input_layout 'nchw')");
  if (graph.inputs.size() != 1)
    return Status::error("a panoptic model needs one image input; this one has " +
                         std::to_string(graph.inputs.size()));
  const GraphTensor& input = graph.tensors[size_t(graph.inputs[0])];
  const Shape& s = input.shape;
  if (input.dtype != DType::dtype_f32 || s.size() != 4 || s[0] != 1 || s[1] != 3 || s[2] < 1 ||
      s[3] < 1)
    return Status::error("a panoptic model needs a float32 input [1,3,H,W]; '" + input.name +
                         "' is " + dtype_name(input.dtype) + " " + shape_to_string(s));
  info->input_name = input.name;
  info->input_height = int(s[2]);
  info->input_width = int(s[3]);
  ATROUS_RETURN_IF_ERROR(
      read_input_normalization(graph, info->mean, info->std, &info->normalization_given));
  info->labels = graph.metadata.get_strings("labels", {});
  if (graph.outputs.size() < 3)
    return Status::error(
        "a panoptic model needs three outputs (semantic, center, offset); this one has " +
        std::to_string(graph.outputs.size()));
  info->semantic_output = output_index(graph, "semantic", 0);
  info->center_output = output_index(graph, "center", 1);
  info->offset_output = output_index(graph, "offset", 2);
  const int which[3] = {info->semantic_output, info->center_output, info->offset_output};
  const char* names[3] = {"semantic", "center", "offset"};
  for (int k = 0; k < 3; ++k) {
    const GraphTensor& out = graph.tensors[size_t(graph.outputs[size_t(which[k])])];
    const Shape& o = out.shape;
    bool ok = out.dtype == DType::dtype_f32 && o.size() == 4 && o[0] == 1 && o[2] == s[2] &&
              o[3] == s[3] && (k == 0 ? o[1] >= 1 : o[1] == (k == 1 ? 1 : 2));
    if (!ok)
      return Status::error(
          std::string("the ") + names[k] + " output '" + out.name + "' must be float32 " +
          (k == 0   ? "[1,C,"
           : k == 1 ? "[1,1,"
                    : "[1,2,") +
          std::to_string(s[2]) + "," + std::to_string(s[3]) + "] (at the input size); it is " +
          dtype_name(out.dtype) + " " + shape_to_string(o));
    if (k == 0) info->num_classes = int(o[1]);
  }
  Status status;
  info->params = panoptic_params_from_metadata(graph.metadata, convention, &status);
  if (!status.ok()) return status;
  return Status::success();
}

Status segment_panoptic(Session& session, const PanopticModelInfo& info, const Image& image,
                        const PanopticPipelineOptions& options, PanopticPipelineResult* result) {
  if (image.channels != 3 || image.width < 1 || image.height < 1)
    return Status::error("segment_panoptic needs a non-empty RGB image");
  if (options.scales.empty()) return Status::error("no test-time scales given");
  for (double s : options.scales)
    if (!(s > 0) || !std::isfinite(s) || s > 16)
      return Status::error("a test-time scale must be in (0, 16], got " + std::to_string(s));
  *result = PanopticPipelineResult();
  result->width = image.width;
  result->height = image.height;
  const int H = info.input_height, W = info.input_width, C = info.num_classes;
  auto start = std::chrono::steady_clock::now();

  // Normalized image planes [3, h, w], fitted into the input when larger (aspect kept).
  int h0 = image.height, w0 = image.width;
  std::vector<float> planes(size_t(3) * size_t(h0) * size_t(w0));
  for (size_t i = 0; i < size_t(h0) * size_t(w0); ++i)
    for (int c = 0; c < 3; ++c)
      planes[size_t(c) * size_t(h0) * size_t(w0) + i] =
          (float(image.pixels[i * 3 + size_t(c)]) - info.mean[c]) / info.std[c];
  if (h0 > H || w0 > W) {
    double f = std::min(double(H) / h0, double(W) / w0);
    int fh = std::max(1, std::min(H, int(std::lround(h0 * f)))),
        fw = std::max(1, std::min(W, int(std::lround(w0 * f))));
    planes = resize_planes_align_corners(planes.data(), 3, h0, w0, fh, fw);
    h0 = fh, w0 = fw;
  }
  result->work_height = h0;
  result->work_width = w0;
  const size_t n = size_t(h0) * size_t(w0);

  // Sums over the passes (as DeepLab2's model/deeplab.py, docs/PANOPTIC_DEEPLAB.md: every output is
  // resized to the common size, the semantic logits are turned into probabilities after the
  // resize, a flipped pass has its outputs mirrored back and its Δx negated, and each output
  // is averaged over all passes). With one pass the raw logits go to the merger unchanged.
  const int passes = int(options.scales.size()) * (options.flip ? 2 : 1);
  std::vector<float> semantic_sum(size_t(C) * n, 0.f), center_sum(n, 0.f), offset_sum(2 * n, 0.f);
  Tensor input(DType::dtype_f32, {1, 3, H, W});
  double preprocess_ms = elapsed_ms(start), inference_ms = 0, postprocess_ms = 0;
  for (double scale : options.scales) {
    start = std::chrono::steady_clock::now();
    int hs = std::max(1, int(std::lround(h0 * scale))),
        ws = std::max(1, int(std::lround(w0 * scale)));
    if (hs > H || ws > W)
      return Status::error("at scale " + std::to_string(scale) + " the image is " +
                           std::to_string(hs) + "x" + std::to_string(ws) +
                           " (height x width), larger than the model input " + std::to_string(H) +
                           "x" + std::to_string(W) +
                           "; use smaller scales or a model exported at a larger input size");
    std::vector<float> scaled = hs == h0 && ws == w0
                                    ? planes
                                    : resize_planes_align_corners(planes.data(), 3, h0, w0, hs, ws);
    preprocess_ms += elapsed_ms(start);
    for (int mirror = 0; mirror < (options.flip ? 2 : 1); ++mirror) {
      start = std::chrono::steady_clock::now();
      float* in = input.f32();
      std::fill(in, in + size_t(3) * size_t(H) * size_t(W), 0.f);  // the mean pixel, normalized
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < hs; ++y) {
          const float* src = scaled.data() + (size_t(c) * size_t(hs) + size_t(y)) * size_t(ws);
          float* dst = in + (size_t(c) * size_t(H) + size_t(y)) * size_t(W);
          for (int x = 0; x < ws; ++x) dst[x] = src[mirror ? ws - 1 - x : x];
        }
      preprocess_ms += elapsed_ms(start);
      start = std::chrono::steady_clock::now();
      std::vector<Tensor> outputs;
      ATROUS_RETURN_IF_ERROR(session.run({{info.input_name, &input.view()}}, &outputs));
      inference_ms += elapsed_ms(start);
      start = std::chrono::steady_clock::now();
      std::vector<float> sem =
          crop_planes(outputs[size_t(info.semantic_output)].f32(), C, H, W, hs, ws, mirror);
      std::vector<float> cen =
          crop_planes(outputs[size_t(info.center_output)].f32(), 1, H, W, hs, ws, mirror);
      std::vector<float> off =
          crop_planes(outputs[size_t(info.offset_output)].f32(), 2, H, W, hs, ws, mirror);
      if (mirror)
        for (size_t i = size_t(hs) * size_t(ws); i < off.size(); ++i)
          off[i] = -off[i];  // Δx of the mirror
      if (hs != h0 || ws != w0) {
        // DeepLab2's offset rescale (docs/PANOPTIC_DEEPLAB.md): Δy × (h0−1)/(hs−1), Δx ×
        // (w0−1)/(ws−1), then resize.
        const float fy = hs > 1 ? float(h0 - 1) / float(hs - 1) : 1.f,
                    fx = ws > 1 ? float(w0 - 1) / float(ws - 1) : 1.f;
        for (size_t i = 0; i < size_t(hs) * size_t(ws); ++i) off[i] *= fy;
        for (size_t i = size_t(hs) * size_t(ws); i < off.size(); ++i) off[i] *= fx;
        sem = resize_planes_align_corners(sem.data(), C, hs, ws, h0, w0);
        cen = resize_planes_align_corners(cen.data(), 1, hs, ws, h0, w0);
        off = resize_planes_align_corners(off.data(), 2, hs, ws, h0, w0);
      }
      if (passes > 1) softmax_planes(sem.data(), C, n);
      for (size_t i = 0; i < sem.size(); ++i) semantic_sum[i] += sem[i];
      for (size_t i = 0; i < n; ++i) center_sum[i] += cen[i];
      for (size_t i = 0; i < 2 * n; ++i) offset_sum[i] += off[i];
      postprocess_ms += elapsed_ms(start);
    }
  }

  start = std::chrono::steady_clock::now();
  Tensor semantic(DType::dtype_f32, {C, h0, w0}), center(DType::dtype_f32, {1, h0, w0}),
      offset(DType::dtype_f32, {2, h0, w0});
  const float inv = 1.f / float(passes);
  for (size_t i = 0; i < semantic_sum.size(); ++i)
    // The log of the averaged probabilities: the merger's argmax and its softmax-based scores
    // then see exactly the averaged probabilities (softmax(log p) = p when Σp = 1).
    semantic.f32()[i] =
        passes > 1 ? std::log(std::max(semantic_sum[i] * inv, FLT_MIN)) : semantic_sum[i];
  for (size_t i = 0; i < n; ++i) center.f32()[i] = passes > 1 ? center_sum[i] * inv : center_sum[i];
  for (size_t i = 0; i < 2 * n; ++i)
    offset.f32()[i] = passes > 1 ? offset_sum[i] * inv : offset_sum[i];
  PanopticInputs inputs{semantic.view(), center.view(), offset.view()};
  ATROUS_RETURN_IF_ERROR(panoptic_merge(
      inputs, info.params, options.merge_pool ? *options.merge_pool : session.thread_pool(),
      &result->panoptic));
  PanopticResult& p = result->panoptic;
  if (h0 != image.height || w0 != image.width) {
    p.panoptic = resize_nearest(p.panoptic, h0, w0, image.height, image.width);
    p.semantic = resize_nearest(p.semantic, h0, w0, image.height, image.width);
    p.instance = resize_nearest(p.instance, h0, w0, image.height, image.width);
    p.height = image.height;
    p.width = image.width;
    panoptic_recount_segments(&p);
  }
  if (options.keep_maps) {
    result->semantic = std::move(semantic);
    result->center = std::move(center);
    result->offset = std::move(offset);
  }
  result->passes = passes;
  result->preprocess_ms = preprocess_ms;
  result->inference_ms = inference_ms;
  result->postprocess_ms = postprocess_ms + elapsed_ms(start);
  return Status::success();
}

}  // namespace atrous
