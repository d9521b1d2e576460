// The merger's host-side rules (models/panoptic_merger_rules.h), used by the CPU and CUDA mergers.
#include "models/panoptic_merger_rules.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <string>

#include "cpu/panoptic_kernels.h"

namespace atrous {
namespace {

std::string describe(const TensorView& t) {
  return std::string(dtype_name(t.dtype)) + " " + shape_to_string(t.shape);
}

}  // namespace

Status panoptic_check_inputs(const PanopticInputs& in, PanopticGeometry* g) {
  const TensorView& s = in.semantic;
  if (!s.data || !in.center.data || !in.offset.data)
    return Status::error("panoptic merge: missing input data");
  if (s.dtype == DType::dtype_f32) {
    if (!(s.shape.size() == 3 || (s.shape.size() == 4 && s.shape[0] == 1)))
      return Status::error("semantic logits must be float32 [C,H,W] or [1,C,H,W], got " +
                           describe(s));
    size_t r = s.shape.size();
    g->logits = true;
    g->classes = s.shape[r - 3];
    g->height = int(s.shape[r - 2]);
    g->width = int(s.shape[r - 1]);
    if (g->classes < 1) return Status::error("semantic logits have no classes: " + describe(s));
    if (g->classes > kPanopticMaxClasses)
      return Status::error("semantic logits have too many classes: " + describe(s));
    g->logit_data = s.f32();
  } else if (s.dtype == DType::dtype_i32 || s.dtype == DType::dtype_i64 ||
             s.dtype == DType::dtype_u8) {
    if (!(s.shape.size() == 2 || (s.shape.size() == 3 && s.shape[0] == 1)))
      return Status::error("semantic labels must be integers [H,W] or [1,H,W], got " + describe(s));
    size_t r = s.shape.size();
    g->height = int(s.shape[r - 2]);
    g->width = int(s.shape[r - 1]);
  } else {
    return Status::error("semantic must be float32 logits [C,H,W] or int32 labels [H,W], got " +
                         describe(s));
  }
  for (int64_t d : s.shape)
    if (d > (int64_t(1) << 20)) return Status::error("semantic is too large: " + describe(s));
  if (g->height < 1 || g->width < 1) return Status::error("semantic is empty: " + describe(s));
  const int64_t hw = int64_t(g->height) * g->width;
  if (hw > kPanopticMaxPixels) return Status::error("semantic is too large: " + describe(s));
  const std::string size = "[" + std::to_string(g->height) + "," + std::to_string(g->width) + "]";

  const TensorView& c = in.center;
  if (c.dtype != DType::dtype_f32)
    return Status::error("center heatmap must be float32, got " + describe(c));
  bool center_ok = c.shape.size() >= 2 && c.shape.size() <= 4;
  for (size_t d = 0; center_ok && d + 2 < c.shape.size(); ++d) center_ok = c.shape[d] == 1;
  if (!center_ok) return Status::error("center heatmap must be [1,H,W], got " + describe(c));
  if (c.shape[c.shape.size() - 2] != g->height || c.shape[c.shape.size() - 1] != g->width)
    return Status::error("center heatmap is " + shape_to_string(c.shape) + " but semantic is " +
                         size + ": H and W must agree");

  const TensorView& o = in.offset;
  if (o.dtype != DType::dtype_f32)
    return Status::error("offsets must be float32, got " + describe(o));
  if (!(o.shape.size() == 3 || (o.shape.size() == 4 && o.shape[0] == 1)))
    return Status::error("offsets must be [2,H,W] (Δy, Δx), got " + describe(o));
  size_t r = o.shape.size();
  if (o.shape[r - 3] != 2)
    return Status::error("offsets must have 2 channels (Δy, Δx), got " + describe(o));
  if (o.shape[r - 2] != g->height || o.shape[r - 1] != g->width)
    return Status::error("offsets are " + shape_to_string(o.shape) + " but semantic is " + size +
                         ": H and W must agree");

  if (!g->logits) {
    g->label_data = s.data;
    g->label_type = s.dtype;
  }
  return Status::success();
}

Status panoptic_check_label_range(int64_t low, int64_t high) {
  for (int64_t v : {low, high})
    if (v < 0 || v >= kPanopticMaxClasses)
      return Status::error("semantic label " + std::to_string(v) + " is outside [0, " +
                           std::to_string(kPanopticMaxClasses - 1) + "]");
  return Status::success();
}

void panoptic_thing_table(const PanopticParams& params, int64_t classes,
                          std::vector<int32_t>* things, std::vector<int32_t>* thing_index) {
  *things = params.thing_classes;
  std::sort(things->begin(), things->end());
  things->erase(std::unique(things->begin(), things->end()), things->end());
  thing_index->assign(size_t(classes), -1);
  for (size_t t = 0; t < things->size(); ++t)
    if ((*things)[t] < classes) (*thing_index)[size_t((*things)[t])] = int32_t(t);
}

void panoptic_top_k(const PanopticParams& params, std::vector<PanopticCenter>* centers) {
  const bool deeplab2 = params.convention == panoptic_convention_deeplab2;
  const int64_t found = int64_t(centers->size());
  const bool apply_top_k =
      params.top_k > 0 && (deeplab2 ? found > params.top_k : found >= params.top_k);
  if (!apply_top_k) return;
  std::vector<float> values(centers->size());
  for (size_t i = 0; i < centers->size(); ++i) values[i] = (*centers)[i].score;
  std::nth_element(values.begin(), values.begin() + (params.top_k - 1), values.end(),
                   std::greater<float>());
  const float kth = values[size_t(params.top_k - 1)];
  std::vector<PanopticCenter> kept;
  for (const PanopticCenter& c : *centers)
    if (c.score > kth) kept.push_back(c);
  centers->swap(kept);
}

Status panoptic_check_value_range(int64_t classes, int32_t label_divisor, int64_t centers) {
  if ((classes - 1) * int64_t(label_divisor) + centers > std::numeric_limits<int32_t>::max())
    return Status::error("panoptic merge: class " + std::to_string(classes - 1) +
                         " × label_divisor " + std::to_string(label_divisor) +
                         " does not fit in int32");
  return Status::success();
}

int32_t panoptic_void_value(const PanopticParams& params) {
  return params.convention == panoptic_convention_deeplab2
             ? params.void_label * params.label_divisor
             : -1;
}

namespace {

// COCO's [x, y, width, height] of a box.
void box_bbox(const PanopticBox& b, int32_t* bbox) {
  bbox[0] = b.x0;
  bbox[1] = b.y0;
  bbox[2] = b.x1 - b.x0 + 1;
  bbox[3] = b.y1 - b.y0 + 1;
}

}  // namespace

void panoptic_assign_segments(const PanopticParams& params, const std::vector<int32_t>& things,
                              const std::vector<int32_t>& thing_index,
                              const std::vector<PanopticCenter>& centers,
                              const std::vector<PanopticInstanceSummary>& instances,
                              const std::vector<PanopticStuffSummary>& stuff, int64_t pixels,
                              PanopticAssignment* out) {
  const int K = int(centers.size());
  const int64_t classes = int64_t(stuff.size());
  const int32_t void_value = panoptic_void_value(params);
  std::vector<int32_t> order;
  for (int i = 0; i < K; ++i)
    if (instances[size_t(i)].first < pixels) order.push_back(i);
  if (params.convention == panoptic_convention_deeplab2)
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return instances[size_t(a)].first < instances[size_t(b)].first;
    });
  out->value_of.assign(size_t(K), void_value);
  out->class_of.assign(size_t(K), -1);
  out->segments.clear();
  std::vector<int32_t> counter(things.size(), 0);
  for (int i : order) {
    const PanopticInstanceSummary& s = instances[size_t(i)];
    const int32_t category = things[size_t(s.thing)];
    const int32_t id = ++counter[size_t(s.thing)];
    out->value_of[size_t(i)] = category * params.label_divisor + id;
    out->class_of[size_t(i)] = category;
    PanopticSegmentInfo segment;
    segment.id = out->value_of[size_t(i)];
    segment.category_id = category;
    segment.area = s.area;
    box_bbox(s.box, segment.bbox);
    segment.isthing = true;
    segment.score = centers[size_t(i)].score;
    segment.center_index = i;
    out->segments.push_back(segment);
  }
  out->stuff_value.assign(size_t(classes), void_value);
  for (int64_t c = 0; c < classes; ++c) {
    const PanopticStuffSummary& s = stuff[size_t(c)];
    if (thing_index[size_t(c)] >= 0 || s.area == 0) continue;
    if (s.area < params.stuff_area_limit) continue;
    out->stuff_value[size_t(c)] = int32_t(c) * params.label_divisor;
    PanopticSegmentInfo segment;
    segment.id = int32_t(c) * params.label_divisor;
    segment.category_id = int32_t(c);
    segment.area = s.area;
    box_bbox(s.box, segment.bbox);
    out->segments.push_back(segment);
  }
}

double panoptic_probability_scale() { return kPanopticProbabilityScale; }

void panoptic_instance_scores(const std::vector<int64_t>& sums,
                              const std::vector<PanopticCenter>& centers,
                              std::vector<PanopticSegmentInfo>* segments) {
  for (PanopticSegmentInfo& segment : *segments) {
    if (!segment.isthing) continue;
    const int64_t total = sums[size_t(segment.center_index)];
    segment.score = (double(total) / kPanopticProbabilityScale / double(segment.area)) *
                    double(centers[size_t(segment.center_index)].score);
  }
}

}  // namespace atrous
