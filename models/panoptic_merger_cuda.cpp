// The host side of the panoptic merger on the GPU (models/panoptic_merger_cuda.h, docs/CUDA.md).
// The passes of models/panoptic_merger.cpp, each on the device (cuda/panoptic_merge_kernels.h):
//   1. semantic argmax (or the labels and their range), thresholded heatmap, max-pool NMS →
//      candidate centers appended at an atomic counter;
//   (host: the candidates, at most a few thousand, come back, are put in raster order and go
//    through the top-k rule (models/panoptic_merger_rules.h); the kept centers go back up)
//   2. nearest center per thing pixel, per-instance class histograms [K × T], first pixels and
//      boxes, per-class stuff areas and boxes, all with atomics; the majority vote per instance;
//   (host: 8 integers per instance and 5 per class come back — never the histograms — for the
//    id assignment in the convention's order and the stuff area rule; value per instance and
//    per stuff class go back up)
//   3. panoptic values and the per-instance fixed-point probability sums.
// Then the maps come back once. Everything the CPU decides with a tie rule is decided by the same
// rule here (on the host, by the same functions of models/panoptic_merger_rules.h), so the
// results are identical (scores: see models/panoptic_merger_cuda.h).
#include "models/panoptic_merger_cuda.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cuda/panoptic_merge_kernels.h"
#include "models/panoptic_merger_rules.h"

namespace atrous {

namespace {

Status merge_error(const char* what, cudaError_t error) {
  return Status::error(std::string("cuda panoptic merge: ") + what + ": " +
                       cudaGetErrorString(error));
}

#define ATROUS_MERGE_TRY(call, what)                                         \
  do {                                                                       \
    cudaError_t merge_error_ = (call);                                       \
    if (merge_error_ != cudaSuccess) return merge_error(what, merge_error_); \
  } while (0)

// Device memory that only grows.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (data_) cudaFree(data_);
  }
  Status reserve(size_t bytes, const char* what) {
    if (bytes <= bytes_) return Status::success();
    if (data_) cudaFree(data_);
    data_ = nullptr;
    bytes_ = 0;
    ATROUS_MERGE_TRY(cudaMalloc(&data_, bytes), what);
    bytes_ = bytes;
    return Status::success();
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

std::string shape_text(const Shape& shape) { return shape_to_string(shape); }

class CudaPanopticMergerImpl final : public CudaPanopticMerger {
 public:
  ~CudaPanopticMergerImpl() override {
    if (stream_) cudaStreamDestroy(stream_);
  }
  Status initialize(int device) {
    device_ = device;
    ATROUS_MERGE_TRY(cudaSetDevice(device), "cudaSetDevice");
    ATROUS_MERGE_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                     "cudaStreamCreate");
    return Status::success();
  }
  Status merge(const CudaPanopticInputs& inputs, const PanopticParams& params,
               PanopticResult* result) override;
  Status merge_host(const PanopticInputs& inputs, const PanopticParams& params,
                    PanopticResult* result) override;

 private:
  template <typename T>
  Status download(std::vector<T>* host, const Scratch& device, size_t count, const char* what) {
    host->resize(count);
    if (count)
      ATROUS_MERGE_TRY(cudaMemcpyAsync(host->data(), device.as<T>(), count * sizeof(T),
                                       cudaMemcpyDeviceToHost, stream_),
                       what);
    return Status::success();
  }
  template <typename T>
  Status upload(Scratch* device, const std::vector<T>& host, const char* what) {
    ATROUS_RETURN_IF_ERROR(device->reserve(std::max<size_t>(1, host.size()) * sizeof(T), what));
    if (!host.empty())
      ATROUS_MERGE_TRY(cudaMemcpyAsync(device->as<T>(), host.data(), host.size() * sizeof(T),
                                       cudaMemcpyHostToDevice, stream_),
                       what);
    return Status::success();
  }
  Status sync(const char* what) {
    ATROUS_MERGE_TRY(cudaStreamSynchronize(stream_), what);
    return Status::success();
  }

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  // Maps and per-pixel scratch.
  Scratch semantic_, instance_, panoptic_, horizontal_, candidate_index_, candidate_score_,
      scalars_;
  // Tables.
  Scratch thing_index_, center_y_, center_x_, histogram_, first_, box_, summary_, stuff_, value_of_,
      class_of_, stuff_value_, probability_;
  // merge_host's uploads.
  Scratch host_semantic_, host_center_, host_offset_;
  std::vector<int32_t> labels_;
};

Status CudaPanopticMergerImpl::merge(const CudaPanopticInputs& in, const PanopticParams& params,
                                     PanopticResult* result) {
  ATROUS_RETURN_IF_ERROR(panoptic_params_validate(params));
  if (!result) return Status::error("cuda panoptic merge: no result");
  if ((in.logits == nullptr) == (in.labels == nullptr))
    return Status::error("cuda panoptic merge: give either logits or labels");
  if (!in.center || !in.offset)
    return Status::error("cuda panoptic merge: missing center or offset data");
  const int H = in.height, W = in.width;
  if (H < 1 || W < 1 || H > kPanopticMaxClasses || W > kPanopticMaxClasses)
    return Status::error("cuda panoptic merge: bad size " + std::to_string(H) + "x" +
                         std::to_string(W));
  const int64_t HW = int64_t(H) * W;
  if (HW > kPanopticMaxPixels) return Status::error("cuda panoptic merge: the image is too large");
  if (in.logits && (in.classes < 1 || in.classes > kPanopticMaxClasses))
    return Status::error("cuda panoptic merge: logits must have 1 to 2^20 classes, got " +
                         std::to_string(in.classes));
  ATROUS_MERGE_TRY(cudaSetDevice(device_), "cudaSetDevice");
  const bool deeplab2 = params.convention == panoptic_convention_deeplab2;
  const size_t hw = size_t(HW);

  ATROUS_RETURN_IF_ERROR(semantic_.reserve(hw * 4, "cudaMalloc semantic"));
  ATROUS_RETURN_IF_ERROR(instance_.reserve(hw * 4, "cudaMalloc instance"));
  ATROUS_RETURN_IF_ERROR(panoptic_.reserve(hw * 4, "cudaMalloc panoptic"));
  ATROUS_RETURN_IF_ERROR(horizontal_.reserve(hw * 4, "cudaMalloc heatmap"));
  ATROUS_RETURN_IF_ERROR(candidate_index_.reserve(hw * 4, "cudaMalloc candidates"));
  ATROUS_RETURN_IF_ERROR(candidate_score_.reserve(hw * 4, "cudaMalloc candidates"));
  ATROUS_RETURN_IF_ERROR(scalars_.reserve(4 * sizeof(int32_t), "cudaMalloc"));
  int32_t* scalars = scalars_.as<int32_t>();  // [0] candidate count, [1..2] label range

  // ---- pass 1: semantic, candidates ---------------------------------------------------------
  int64_t classes = in.classes;
  if (in.logits) {
    ATROUS_MERGE_TRY(cuda_merge_argmax(in.logits, classes, HW, semantic_.as<int32_t>(), stream_),
                     "argmax");
  } else {
    ATROUS_MERGE_TRY(cuda_merge_fill(scalars + 1, 2, 2, INT_MAX, INT_MIN, 0, 0, stream_), "fill");
    ATROUS_MERGE_TRY(
        cuda_merge_labels(in.labels, HW, semantic_.as<int32_t>(), scalars + 1, stream_), "labels");
    int32_t range[2] = {0, 0};
    ATROUS_MERGE_TRY(
        cudaMemcpyAsync(range, scalars + 1, sizeof(range), cudaMemcpyDeviceToHost, stream_),
        "copy label range");
    ATROUS_RETURN_IF_ERROR(sync("labels"));
    ATROUS_RETURN_IF_ERROR(panoptic_check_label_range(range[0], range[1]));
    classes = int64_t(std::max(range[1], 0)) + 1;
  }
  CudaCenterParams center_params;
  center_params.height = H;
  center_params.width = W;
  center_params.threshold = params.center_threshold;
  center_params.below = deeplab2 ? 0.0f : -1.0f;
  center_params.before = (params.nms_kernel - 1) / 2;
  center_params.after = params.nms_kernel - 1 - center_params.before;
  ATROUS_MERGE_TRY(cudaMemsetAsync(scalars, 0, sizeof(int32_t), stream_), "cudaMemset");
  ATROUS_MERGE_TRY(cuda_merge_centers(in.center, horizontal_.as<float>(), center_params,
                                      candidate_index_.as<int32_t>(), candidate_score_.as<float>(),
                                      scalars, stream_),
                   "centers");
  // Thing table while the kernels run (things sorted: the vote's first maximum is the smallest id).
  std::vector<int32_t> things, thing_index;
  panoptic_thing_table(params, classes, &things, &thing_index);
  const int T = int(things.size());
  int32_t found32 = 0;
  ATROUS_MERGE_TRY(
      cudaMemcpyAsync(&found32, scalars, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_),
      "copy candidate count");
  ATROUS_RETURN_IF_ERROR(upload(&thing_index_, thing_index, "thing table"));
  ATROUS_RETURN_IF_ERROR(sync("centers"));
  std::vector<int32_t> candidate_index;
  std::vector<float> candidate_score;
  ATROUS_RETURN_IF_ERROR(
      download(&candidate_index, candidate_index_, size_t(found32), "copy candidates"));
  ATROUS_RETURN_IF_ERROR(
      download(&candidate_score, candidate_score_, size_t(found32), "copy candidates"));
  ATROUS_RETURN_IF_ERROR(sync("copy candidates"));

  // ---- top-k: the shared rule on the candidates in raster order ------------------------------
  std::vector<int32_t> order_of(static_cast<size_t>(found32));
  for (int32_t j = 0; j < found32; ++j) order_of[size_t(j)] = j;
  std::sort(order_of.begin(), order_of.end(), [&](int32_t a, int32_t b) {
    return candidate_index[size_t(a)] < candidate_index[size_t(b)];
  });
  std::vector<PanopticCenter> centers(static_cast<size_t>(found32));
  for (size_t j = 0; j < centers.size(); ++j) {
    const int32_t index = candidate_index[size_t(order_of[j])];
    centers[j].y = int32_t(index / W);
    centers[j].x = int32_t(index % W);
    centers[j].score = candidate_score[size_t(order_of[j])];
  }
  panoptic_top_k(params, &centers);
  const int K = int(centers.size());
  ATROUS_RETURN_IF_ERROR(panoptic_check_value_range(classes, params.label_divisor, K));
  if (int64_t(K) * std::max(T, 1) > (int64_t(1) << 28))
    return Status::error("cuda panoptic merge: " + std::to_string(K) + " centers × " +
                         std::to_string(T) + " thing classes is too large a histogram");
  std::vector<float> cy(static_cast<size_t>(K)), cx(static_cast<size_t>(K));
  for (int i = 0; i < K; ++i) {
    cy[size_t(i)] = float(centers[size_t(i)].y);
    cx[size_t(i)] = float(centers[size_t(i)].x);
  }

  // ---- pass 2: grouping, statistics, vote ------------------------------------------------------
  const size_t k_count = size_t(std::max(K, 1));
  ATROUS_RETURN_IF_ERROR(upload(&center_y_, cy, "centers"));
  ATROUS_RETURN_IF_ERROR(upload(&center_x_, cx, "centers"));
  ATROUS_RETURN_IF_ERROR(
      histogram_.reserve(k_count * size_t(std::max(T, 1)) * 4, "cudaMalloc histogram"));
  ATROUS_RETURN_IF_ERROR(first_.reserve(k_count * 4, "cudaMalloc"));
  ATROUS_RETURN_IF_ERROR(box_.reserve(k_count * 16, "cudaMalloc"));
  ATROUS_RETURN_IF_ERROR(summary_.reserve(k_count * 32, "cudaMalloc"));
  ATROUS_RETURN_IF_ERROR(stuff_.reserve(size_t(classes) * 20, "cudaMalloc stuff"));
  ATROUS_MERGE_TRY(cudaMemsetAsync(instance_.as<int32_t>(), 0, hw * 4, stream_), "cudaMemset");
  ATROUS_MERGE_TRY(cudaMemsetAsync(histogram_.as<int32_t>(), 0, size_t(K) * size_t(T) * 4, stream_),
                   "cudaMemset");
  ATROUS_MERGE_TRY(cuda_merge_fill(first_.as<int32_t>(), K, 1, INT_MAX, 0, 0, 0, stream_), "fill");
  ATROUS_MERGE_TRY(
      cuda_merge_fill(box_.as<int32_t>(), int64_t(K) * 4, 4, INT_MAX, INT_MAX, -1, -1, stream_),
      "fill");
  ATROUS_MERGE_TRY(cudaMemsetAsync(stuff_.as<int32_t>(), 0, size_t(classes) * 4, stream_),
                   "cudaMemset");
  ATROUS_MERGE_TRY(cuda_merge_fill(stuff_.as<int32_t>() + classes, classes * 4, 4, INT_MAX, INT_MAX,
                                   -1, -1, stream_),
                   "fill");
  CudaAssignParams assign;
  assign.height = H;
  assign.width = W;
  assign.centers = K;
  assign.thing_count = T;
  assign.classes = classes;
  ATROUS_MERGE_TRY(
      cuda_merge_assign(semantic_.as<int32_t>(), thing_index_.as<int32_t>(), in.offset,
                        center_y_.as<float>(), center_x_.as<float>(), assign,
                        instance_.as<int32_t>(), histogram_.as<int32_t>(), first_.as<int32_t>(),
                        box_.as<int32_t>(), stuff_.as<int32_t>(), stream_),
      "assign");
  ATROUS_MERGE_TRY(cuda_merge_vote(histogram_.as<int32_t>(), first_.as<int32_t>(),
                                   box_.as<int32_t>(), K, T, summary_.as<int32_t>(), stream_),
                   "vote");
  std::vector<int32_t> summary, stuff;
  ATROUS_RETURN_IF_ERROR(download(&summary, summary_, size_t(K) * 8, "copy instance summaries"));
  ATROUS_RETURN_IF_ERROR(download(&stuff, stuff_, size_t(classes) * 5, "copy stuff areas"));
  ATROUS_RETURN_IF_ERROR(sync("assign"));

  // ---- ids in the convention's order, stuff rule (the shared rules) ----------------------------
  // summary[8k ..]: voted thing, area, first, y0, x0, y1, x1; stuff[c]: area, stuff[classes +
  // 4c ..]: y0, x0, y1, x1.
  const int32_t void_value = panoptic_void_value(params);
  std::vector<PanopticInstanceSummary> instances(static_cast<size_t>(K));
  for (int i = 0; i < K; ++i) {
    const int32_t* s = &summary[size_t(i) * 8];
    instances[size_t(i)] = {s[0], s[1], s[2], {s[3], s[4], s[5], s[6]}};
  }
  std::vector<PanopticStuffSummary> stuff_summary(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) {
    const int32_t* b = &stuff[size_t(classes + c * 4)];
    stuff_summary[size_t(c)] = {stuff[size_t(c)], {b[0], b[1], b[2], b[3]}};
  }
  PanopticAssignment assignment;
  panoptic_assign_segments(params, things, thing_index, centers, instances, stuff_summary, HW,
                           &assignment);
  const std::vector<int32_t>& value_of = assignment.value_of;
  const std::vector<int32_t>& class_of = assignment.class_of;
  const std::vector<int32_t>& stuff_value = assignment.stuff_value;

  // ---- pass 3: panoptic values, probability sums ------------------------------------------------
  const bool scores = in.logits && params.compute_scores;
  ATROUS_RETURN_IF_ERROR(upload(&value_of_, value_of, "instance values"));
  ATROUS_RETURN_IF_ERROR(upload(&class_of_, class_of, "instance classes"));
  ATROUS_RETURN_IF_ERROR(upload(&stuff_value_, stuff_value, "stuff values"));
  ATROUS_RETURN_IF_ERROR(probability_.reserve(k_count * 8, "cudaMalloc probabilities"));
  if (scores)
    ATROUS_MERGE_TRY(
        cudaMemsetAsync(probability_.as<unsigned long long>(), 0, size_t(K) * 8, stream_),
        "cudaMemset");
  CudaPanopticParams panoptic_params;
  panoptic_params.hw = HW;
  panoptic_params.classes = classes;
  panoptic_params.void_value = void_value;
  panoptic_params.probability_scale = panoptic_probability_scale();
  ATROUS_MERGE_TRY(cuda_merge_panoptic(
                       semantic_.as<int32_t>(), instance_.as<int32_t>(), thing_index_.as<int32_t>(),
                       stuff_value_.as<int32_t>(), value_of_.as<int32_t>(), class_of_.as<int32_t>(),
                       scores ? in.logits : nullptr, panoptic_params,
                       probability_.as<unsigned long long>(), panoptic_.as<int32_t>(), stream_),
                   "panoptic");
  result->height = H;
  result->width = W;
  result->void_value = void_value;
  ATROUS_RETURN_IF_ERROR(download(&result->panoptic, panoptic_, hw, "copy panoptic map"));
  ATROUS_RETURN_IF_ERROR(download(&result->semantic, semantic_, hw, "copy semantic map"));
  ATROUS_RETURN_IF_ERROR(download(&result->instance, instance_, hw, "copy instance map"));
  std::vector<unsigned long long> probability;
  if (scores)
    ATROUS_RETURN_IF_ERROR(download(&probability, probability_, size_t(K), "copy probabilities"));
  ATROUS_RETURN_IF_ERROR(sync("panoptic"));
  if (scores) {
    std::vector<int64_t> sums(static_cast<size_t>(K));
    for (int i = 0; i < K; ++i) sums[size_t(i)] = int64_t(probability[size_t(i)]);
    panoptic_instance_scores(sums, centers, &assignment.segments);
  }
  result->centers = std::move(centers);
  result->segments = std::move(assignment.segments);
  return Status::success();
}

Status CudaPanopticMergerImpl::merge_host(const PanopticInputs& inputs,
                                          const PanopticParams& params, PanopticResult* result) {
  // The CPU merger's checks: the same inputs are accepted and refused with the same messages.
  PanopticGeometry g;
  ATROUS_RETURN_IF_ERROR(panoptic_check_inputs(inputs, &g));
  const TensorView& s = inputs.semantic;
  const TensorView& c = inputs.center;
  const TensorView& o = inputs.offset;
  CudaPanopticInputs in;
  in.height = g.height;
  in.width = g.width;
  in.classes = g.logits ? g.classes : 0;
  const int64_t HW = int64_t(in.height) * in.width;

  ATROUS_MERGE_TRY(cudaSetDevice(device_), "cudaSetDevice");
  const size_t hw = size_t(HW);
  if (s.dtype == DType::dtype_f32) {
    const size_t bytes = size_t(in.classes) * hw * sizeof(float);
    ATROUS_RETURN_IF_ERROR(host_semantic_.reserve(bytes, "cudaMalloc logits"));
    ATROUS_MERGE_TRY(
        cudaMemcpyAsync(host_semantic_.as<float>(), s.data, bytes, cudaMemcpyHostToDevice, stream_),
        "upload logits");
    in.logits = host_semantic_.as<float>();
  } else {
    labels_.resize(hw);
    for (size_t i = 0; i < hw; ++i) {
      const int64_t v = s.dtype == DType::dtype_i32   ? s.i32()[i]
                        : s.dtype == DType::dtype_i64 ? s.i64()[i]
                                                      : s.u8()[i];
      if (v < 0 || v >= kPanopticMaxClasses) return panoptic_check_label_range(v, v);
      labels_[i] = int32_t(v);
    }
    ATROUS_RETURN_IF_ERROR(upload(&host_semantic_, labels_, "upload labels"));
    in.labels = host_semantic_.as<int32_t>();
  }
  ATROUS_RETURN_IF_ERROR(host_center_.reserve(hw * sizeof(float), "cudaMalloc center"));
  ATROUS_RETURN_IF_ERROR(host_offset_.reserve(2 * hw * sizeof(float), "cudaMalloc offset"));
  ATROUS_MERGE_TRY(cudaMemcpyAsync(host_center_.as<float>(), c.data, hw * sizeof(float),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload center");
  ATROUS_MERGE_TRY(cudaMemcpyAsync(host_offset_.as<float>(), o.data, 2 * hw * sizeof(float),
                                   cudaMemcpyHostToDevice, stream_),
                   "upload offset");
  in.center = host_center_.as<float>();
  in.offset = host_offset_.as<float>();
  // The uploads read pageable host memory: wait for them before the caller may reuse it.
  ATROUS_RETURN_IF_ERROR(sync("upload"));
  return merge(in, params, result);
}

}  // namespace

Status CudaPanopticMerger::create(int device, std::unique_ptr<CudaPanopticMerger>* merger) {
  auto impl = std::make_unique<CudaPanopticMergerImpl>();
  ATROUS_RETURN_IF_ERROR(impl->initialize(device));
  *merger = std::move(impl);
  return Status::success();
}

Status cuda_panoptic_merge(const PanopticInputs& inputs, const PanopticParams& params,
                           PanopticResult* result) {
  std::unique_ptr<CudaPanopticMerger> merger;
  ATROUS_RETURN_IF_ERROR(CudaPanopticMerger::create(0, &merger));
  return merger->merge_host(inputs, params, result);
}

Status cuda_panoptic_inputs(const CudaDeviceTensor& semantic, const CudaDeviceTensor& center,
                            const CudaDeviceTensor& offset, CudaPanopticInputs* inputs) {
  *inputs = CudaPanopticInputs();
  const Shape& s = semantic.shape;
  if (semantic.dtype == DType::dtype_f32 && (s.size() == 3 || (s.size() == 4 && s[0] == 1))) {
    inputs->logits = static_cast<const float*>(semantic.data);
    inputs->classes = s[s.size() - 3];
  } else if (semantic.dtype == DType::dtype_i32 &&
             (s.size() == 2 || (s.size() == 3 && s[0] == 1))) {
    inputs->labels = static_cast<const int32_t*>(semantic.data);
  } else {
    return Status::error(
        "cuda panoptic merge: semantic must be float32 [1,C,H,W] or int32 [1,H,W], got " +
        shape_text(s));
  }
  const int64_t h = s[s.size() - 2], w = s[s.size() - 1];
  if (h < 1 || w < 1 || h > kPanopticMaxClasses || w > kPanopticMaxClasses)
    return Status::error("cuda panoptic merge: semantic has a bad size " + shape_text(s));
  inputs->height = int(h);
  inputs->width = int(w);
  const Shape& c = center.shape;
  bool center_ok = center.dtype == DType::dtype_f32 && c.size() >= 2 && c.size() <= 4;
  for (size_t d = 0; center_ok && d + 2 < c.size(); ++d) center_ok = c[d] == 1;
  if (!center_ok || c[c.size() - 2] != h || c[c.size() - 1] != w)
    return Status::error("cuda panoptic merge: center must be float32 [1,1,H,W], got " +
                         shape_text(c));
  const Shape& o = offset.shape;
  const size_t r = o.size();
  if (offset.dtype != DType::dtype_f32 || !(r == 3 || (r == 4 && o[0] == 1)) || o[r - 3] != 2 ||
      o[r - 2] != h || o[r - 1] != w)
    return Status::error("cuda panoptic merge: offset must be float32 [1,2,H,W], got " +
                         shape_text(o));
  inputs->center = static_cast<const float*>(center.data);
  inputs->offset = static_cast<const float*>(offset.data);
  return Status::success();
}

}  // namespace atrous
