#include "models/panoptic_pipeline.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <unordered_map>

#include "graph/thread_pool.h"
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

// In-place softmax over the class axis of planes [C, n]. Per pixel the same operations in the
// same order as the plain loop (max over c = 0..C−1, then e_c = exp(x_c − max) summed in channel
// order, then each e_c / sum), but over blocks of pixels: every step reads one contiguous run of
// a plane, so max, sum and division vectorise (exp stays the scalar float exp, so the results
// are those of the plain loop), and the blocks are split over the pool.
void softmax_planes(float* planes, int channels, size_t n, ThreadPool* pool) {
  constexpr size_t kBlock = 512;
  parallel_chunks(pool, int64_t((n + kBlock - 1) / kBlock), [&](int64_t begin, int64_t end) {
    float top[kBlock], sum[kBlock];
    for (size_t b = size_t(begin) * kBlock; b < std::min(n, size_t(end) * kBlock); b += kBlock) {
      const size_t m = std::min(kBlock, n - b);
      std::copy(planes + b, planes + b + m, top);
      for (int c = 1; c < channels; ++c) {
        const float* p = planes + size_t(c) * n + b;
        for (size_t i = 0; i < m; ++i) top[i] = std::max(top[i], p[i]);
      }
      std::fill(sum, sum + m, 0.f);
      for (int c = 0; c < channels; ++c) {
        float* p = planes + size_t(c) * n + b;
        for (size_t i = 0; i < m; ++i) {
          p[i] = std::exp(p[i] - top[i]);
          sum[i] += p[i];
        }
      }
      for (int c = 0; c < channels; ++c) {
        float* p = planes + size_t(c) * n + b;
        for (size_t i = 0; i < m; ++i) p[i] /= sum[i];
      }
    }
  });
}

// Planes [channels, h, w] cropped from the top-left of a [channels, H, W] output, mirrored
// horizontally when `mirror`.
std::vector<float> crop_planes(const float* data, int channels, int H, int W, int h, int w,
                               bool mirror, ThreadPool* pool) {
  std::vector<float> out(size_t(channels) * size_t(h) * size_t(w));
  parallel_chunks(pool, int64_t(channels) * h, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = r / h, y = r % h;
      const float* row = data + (size_t(c) * size_t(H) + size_t(y)) * size_t(W);
      float* dst = out.data() + size_t(r) * size_t(w);
      if (mirror)
        std::reverse_copy(row, row + w, dst);
      else
        std::copy(row, row + w, dst);
    }
  });
  return out;
}

// Nearest-neighbour resize with align_corners of an int32 map (DeepLab2's un-pad of label
// maps, docs/PANOPTIC_DEEPLAB.md). The source index of each column is computed once, by the
// same double expression as per pixel before.
std::vector<int32_t> resize_nearest(const std::vector<int32_t>& map, int h, int w, int out_h,
                                    int out_w, ThreadPool* pool) {
  std::vector<int32_t> out(size_t(out_h) * size_t(out_w));
  std::vector<int32_t> columns(static_cast<size_t>(out_w));
  for (int x = 0; x < out_w; ++x)
    columns[size_t(x)] = out_w > 1 ? int(std::lround(double(x) * (w - 1) / (out_w - 1))) : 0;
  parallel_chunks(pool, out_h, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      int sy = out_h > 1 ? int(std::lround(double(y) * (h - 1) / (out_h - 1))) : 0;
      const int32_t* row = map.data() + size_t(sy) * size_t(w);
      int32_t* dst = out.data() + size_t(y) * size_t(out_w);
      for (int x = 0; x < out_w; ++x) dst[x] = row[columns[size_t(x)]];
    }
  });
  return out;
}

constexpr size_t kPixelBlock = 4096;

// sum[i] += x[i] for i in [0, count), in blocks over the pool.
void add_into(float* sum, const float* x, size_t count, ThreadPool* pool) {
  parallel_chunks(pool, int64_t((count + kPixelBlock - 1) / kPixelBlock),
                  [&](int64_t begin, int64_t end) {
                    const size_t e = std::min(count, size_t(end) * kPixelBlock);
                    for (size_t i = size_t(begin) * kPixelBlock; i < e; ++i) sum[i] += x[i];
                  });
}

}  // namespace

// Horizontal pass first, then vertical, with the same float expressions as the plain per-pixel
// loop (top and bottom interpolated along x, then top + (bottom − top)·fy), so the values are
// the same bits; but each input row is interpolated along x once per chunk of output rows
// that reads it (kept while the next output row needs it again), and the vertical blend runs
// over contiguous rows the compiler vectorises. (The CPU backend's resize kernels compute
// w0·a + w1·b with fused multiply-adds and would change the results.) Output rows of all
// planes are split over the pool.
std::vector<float> resize_planes_align_corners(const float* planes, int channels, int h, int w,
                                               int out_h, int out_w, ThreadPool* pool) {
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
  const std::vector<Tap> ty = taps(h, out_h), tx = taps(w, out_w);
  parallel_chunks(pool, int64_t(channels) * out_h, [&](int64_t begin, int64_t end) {
    // Two rows interpolated along x, tagged with their plane and input row (-1: none yet).
    std::vector<float> cache[2] = {std::vector<float>(size_t(out_w)),
                                   std::vector<float>(size_t(out_w))};
    int64_t tag[2] = {-1, -1};
    auto horizontal = [&](int64_t c, int sy) -> const float* {
      const int64_t key = c * h + sy;
      for (int k = 0; k < 2; ++k)
        if (tag[k] == key) return cache[k].data();
      // Replace the row the current output row does not need (the older one).
      int k = tag[0] < tag[1] ? 0 : 1;
      const float* r = planes + size_t(key) * size_t(w);
      float* d = cache[k].data();
      for (int x = 0; x < out_w; ++x) {
        const Tap& t = tx[size_t(x)];
        d[x] = r[t.i0] + (r[t.i1] - r[t.i0]) * t.f;
      }
      tag[k] = key;
      return d;
    };
    for (int64_t row = begin; row < end; ++row) {
      const int64_t c = row / out_h;
      const Tap& t = ty[size_t(row % out_h)];
      const float* top = horizontal(c, t.i0);
      const float* bottom = horizontal(c, t.i1);
      float* dst = out.data() + size_t(row) * size_t(out_w);
      const float f = t.f;
      for (int x = 0; x < out_w; ++x) dst[x] = top[x] + (bottom[x] - top[x]) * f;
    }
  });
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
  // The loops over pixels below run on the session's pool; each element is computed by the
  // same expression as in a plain loop, so any thread count gives the same bits.
  ThreadPool* pool = &session.thread_pool();

  // Normalized image planes [3, h, w], fitted into the input when larger (aspect kept).
  int h0 = image.height, w0 = image.width;
  std::vector<float> planes(size_t(3) * size_t(h0) * size_t(w0));
  parallel_chunks(pool, h0, [&](int64_t begin, int64_t end) {
    const size_t plane = size_t(h0) * size_t(w0);
    for (size_t i = size_t(begin) * size_t(w0); i < size_t(end) * size_t(w0); ++i)
      for (int c = 0; c < 3; ++c)
        planes[size_t(c) * plane + i] =
            (float(image.pixels[i * 3 + size_t(c)]) - info.mean[c]) / info.std[c];
  });
  if (h0 > H || w0 > W) {
    double f = std::min(double(H) / h0, double(W) / w0);
    int fh = std::max(1, std::min(H, int(std::lround(h0 * f)))),
        fw = std::max(1, std::min(W, int(std::lround(w0 * f))));
    planes = resize_planes_align_corners(planes.data(), 3, h0, w0, fh, fw, pool);
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
  // With one pass the sums are that pass's maps themselves, kept without a copy; the final
  // loop then adds them to 0.f, as summing into zeros did (−0 becomes +0, the same bits).
  std::vector<float> semantic_sum, center_sum, offset_sum;
  if (passes > 1) {
    semantic_sum.assign(size_t(C) * n, 0.f);
    center_sum.assign(n, 0.f);
    offset_sum.assign(2 * n, 0.f);
  }
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
    std::vector<float> scaled =
        hs == h0 && ws == w0 ? planes
                             : resize_planes_align_corners(planes.data(), 3, h0, w0, hs, ws, pool);
    preprocess_ms += elapsed_ms(start);
    for (int mirror = 0; mirror < (options.flip ? 2 : 1); ++mirror) {
      start = std::chrono::steady_clock::now();
      float* in = input.f32();
      // Input rows: the (mirrored) image row, then zeros (the mean pixel, normalized).
      parallel_chunks(pool, int64_t(3) * H, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t c = r / H, y = r % H;
          float* dst = in + size_t(r) * size_t(W);
          if (y >= hs) {
            std::fill(dst, dst + W, 0.f);
            continue;
          }
          const float* src = scaled.data() + (size_t(c) * size_t(hs) + size_t(y)) * size_t(ws);
          if (mirror)
            std::reverse_copy(src, src + ws, dst);
          else
            std::copy(src, src + ws, dst);
          std::fill(dst + ws, dst + W, 0.f);
        }
      });
      preprocess_ms += elapsed_ms(start);
      start = std::chrono::steady_clock::now();
      std::vector<Tensor> outputs;
      ATROUS_RETURN_IF_ERROR(session.run({{info.input_name, &input.view()}}, &outputs));
      inference_ms += elapsed_ms(start);
      start = std::chrono::steady_clock::now();
      std::vector<float> sem =
          crop_planes(outputs[size_t(info.semantic_output)].f32(), C, H, W, hs, ws, mirror, pool);
      std::vector<float> cen =
          crop_planes(outputs[size_t(info.center_output)].f32(), 1, H, W, hs, ws, mirror, pool);
      std::vector<float> off =
          crop_planes(outputs[size_t(info.offset_output)].f32(), 2, H, W, hs, ws, mirror, pool);
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
        sem = resize_planes_align_corners(sem.data(), C, hs, ws, h0, w0, pool);
        cen = resize_planes_align_corners(cen.data(), 1, hs, ws, h0, w0, pool);
        off = resize_planes_align_corners(off.data(), 2, hs, ws, h0, w0, pool);
      }
      if (passes > 1) softmax_planes(sem.data(), C, n, pool);
      if (passes == 1) {
        semantic_sum = std::move(sem);
        center_sum = std::move(cen);
        offset_sum = std::move(off);
      } else {
        add_into(semantic_sum.data(), sem.data(), sem.size(), pool);
        add_into(center_sum.data(), cen.data(), n, pool);
        add_into(offset_sum.data(), off.data(), 2 * n, pool);
      }
      postprocess_ms += elapsed_ms(start);
    }
  }

  start = std::chrono::steady_clock::now();
  Tensor semantic(DType::dtype_f32, {C, h0, w0}), center(DType::dtype_f32, {1, h0, w0}),
      offset(DType::dtype_f32, {2, h0, w0});
  const float inv = 1.f / float(passes);
  float* semantic_out = semantic.f32();
  float* center_out = center.f32();
  float* offset_out = offset.f32();
  parallel_chunks(
      pool, int64_t((n + kPixelBlock - 1) / kPixelBlock), [&](int64_t begin, int64_t end) {
        const size_t b = size_t(begin) * kPixelBlock, e = std::min(n, size_t(end) * kPixelBlock);
        for (int c = 0; c < C; ++c)
          for (size_t i = size_t(c) * n + b; i < size_t(c) * n + e; ++i)
            // The log of the averaged probabilities: the merger's argmax and its softmax-based
            // scores then see exactly the averaged probabilities (softmax(log p) = p when Σp = 1).
            semantic_out[i] = passes > 1 ? std::log(std::max(semantic_sum[i] * inv, FLT_MIN))
                                         : 0.f + semantic_sum[i];
        for (size_t i = b; i < e; ++i)
          center_out[i] = passes > 1 ? center_sum[i] * inv : 0.f + center_sum[i];
        for (size_t i = b; i < e; ++i)
          for (size_t k = 0; k < 2; ++k)
            offset_out[k * n + i] =
                passes > 1 ? offset_sum[k * n + i] * inv : 0.f + offset_sum[k * n + i];
      });
  PanopticInputs inputs{semantic.view(), center.view(), offset.view()};
  ATROUS_RETURN_IF_ERROR(panoptic_merge(
      inputs, info.params, options.merge_pool ? *options.merge_pool : session.thread_pool(),
      &result->panoptic));
  PanopticResult& p = result->panoptic;
  if (h0 != image.height || w0 != image.width) {
    p.panoptic = resize_nearest(p.panoptic, h0, w0, image.height, image.width, pool);
    p.semantic = resize_nearest(p.semantic, h0, w0, image.height, image.width, pool);
    p.instance = resize_nearest(p.instance, h0, w0, image.height, image.width, pool);
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
