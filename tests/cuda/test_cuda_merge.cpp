// The panoptic merger on the GPU (models/panoptic_merger_cuda.cpp, cuda/panoptic_merge.cu)
// against the CPU merger
// (models/panoptic_merger.cpp): identical panoptic, semantic and instance maps, centers and
// segments (ids, classes, areas, boxes, center indices) on random and structured inputs — many
// instances (more than one shared-memory tile of centers), ties in the semantic logits, in the
// heatmap (NMS plateaus, ties at the top-k cut) and in the center distances (integer offsets),
// no centers at all, stuff at and around the area limit, NaN offsets and logits, odd sizes,
// labels and logits, both conventions — and through the executor's device outputs.
// Segment scores from logits: the device's double exp may differ from the host's in the last
// bit (models/panoptic_merger_cuda.h), so scores are compared to 1e-9 relative; stuff scores and
// label-only scores exactly. Without a CUDA device (or in a build without CUDA) each test that
// needs one says so and is reported skipped (tests/cuda/cuda_testing.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "models/panoptic_merger.h"
#include "runtime/session.h"
#include "tests/cuda/cuda_testing.h"
#include "tests/graph_fixtures.h"
#ifdef ATROUS_HAVE_CUDA
#include "models/panoptic_merger_cuda.h"
#endif

using namespace atrous;
using atrous::testing::cuda_ready;

namespace {

#ifdef ATROUS_HAVE_CUDA
// Every field of two merger results; `logit_scores`: thing scores computed from logits.
void require_identical(const PanopticResult& cpu, const PanopticResult& gpu, bool logit_scores) {
  REQUIRE(gpu.height == cpu.height);
  REQUIRE(gpu.width == cpu.width);
  REQUIRE(gpu.void_value == cpu.void_value);
  REQUIRE(gpu.panoptic.size() == cpu.panoptic.size());
  REQUIRE(gpu.semantic.size() == cpu.semantic.size());
  REQUIRE(gpu.instance.size() == cpu.instance.size());
  int64_t panoptic_mismatches = 0, semantic_mismatches = 0, instance_mismatches = 0;
  for (size_t i = 0; i < cpu.panoptic.size(); ++i) {
    panoptic_mismatches += gpu.panoptic[i] != cpu.panoptic[i];
    semantic_mismatches += gpu.semantic[i] != cpu.semantic[i];
    instance_mismatches += gpu.instance[i] != cpu.instance[i];
  }
  CHECK(panoptic_mismatches == 0);
  CHECK(semantic_mismatches == 0);
  CHECK(instance_mismatches == 0);
  REQUIRE(gpu.centers.size() == cpu.centers.size());
  for (size_t k = 0; k < cpu.centers.size(); ++k) {
    INFO("center " << k);
    CHECK(gpu.centers[k].y == cpu.centers[k].y);
    CHECK(gpu.centers[k].x == cpu.centers[k].x);
    CHECK(gpu.centers[k].score == cpu.centers[k].score);
  }
  REQUIRE(gpu.segments.size() == cpu.segments.size());
  for (size_t s = 0; s < cpu.segments.size(); ++s) {
    const PanopticSegmentInfo &a = cpu.segments[s], &b = gpu.segments[s];
    INFO("segment " << s << " id " << a.id);
    CHECK(b.id == a.id);
    CHECK(b.category_id == a.category_id);
    CHECK(b.area == a.area);
    for (int j = 0; j < 4; ++j) CHECK(b.bbox[j] == a.bbox[j]);
    CHECK(b.iscrowd == a.iscrowd);
    CHECK(b.isthing == a.isthing);
    CHECK(b.center_index == a.center_index);
    if (logit_scores && a.isthing)
      CHECK(std::abs(b.score - a.score) <= 1e-9 * std::max(1.0, std::abs(a.score)));
    else
      CHECK(b.score == a.score);
  }
}

struct Scene {
  Tensor logits, labels, center, offset;
};

// A structured scene: `instances` blobs with quantized Gaussian heat peaks (plateaus and equal
// peaks), integer offsets towards the nearest blob centre (equal distances between blobs),
// logits quantized to a few values (argmax ties), the thing classes inside the blobs.
Scene make_scene(int h, int w, int classes, int instances, std::mt19937& rng) {
  Scene scene;
  scene.logits = Tensor(DType::dtype_f32, {1, int64_t(classes), h, w});
  scene.labels = Tensor(DType::dtype_i32, {1, h, w});
  scene.center = Tensor(DType::dtype_f32, {1, 1, h, w});
  scene.offset = Tensor(DType::dtype_f32, {1, 2, h, w});
  std::uniform_int_distribution<int> ry(0, h - 1), rx(0, w - 1), rc(0, classes - 1), small(-2, 2);
  const size_t n = static_cast<size_t>(instances);
  std::vector<int> cy(n), cx(n), cc(n);
  for (int k = 0; k < instances; ++k) {
    cy[size_t(k)] = ry(rng);
    cx[size_t(k)] = rx(rng);
    cc[size_t(k)] = rc(rng);
  }
  const int64_t hw = int64_t(h) * w;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int64_t i = int64_t(y) * w + x;
      int nearest = -1;
      int64_t best = std::numeric_limits<int64_t>::max();
      for (int k = 0; k < instances; ++k) {
        const int64_t d = int64_t(cy[size_t(k)] - y) * (cy[size_t(k)] - y) +
                          int64_t(cx[size_t(k)] - x) * (cx[size_t(k)] - x);
        if (d < best) {
          best = d;
          nearest = k;
        }
      }
      float heat = 0.0f;
      for (int k = 0; k < instances; ++k) {
        const double d2 = double(cy[size_t(k)] - y) * (cy[size_t(k)] - y) +
                          double(cx[size_t(k)] - x) * (cx[size_t(k)] - x);
        heat = std::max(heat, float(std::round(8.0 * std::exp(-d2 / 8.0)) / 8.0));
      }
      scene.center.f32()[i] = heat;
      const bool inside = nearest >= 0 && best <= 36;
      int label = inside ? cc[size_t(nearest)] : (x * 3 / w) % classes;
      if (small(rng) == 2) label = rc(rng);  // speckle
      scene.labels.i32()[i] = label;
      for (int c = 0; c < classes; ++c) scene.logits.f32()[c * hw + i] = float(small(rng));
      scene.logits.f32()[int64_t(label) * hw + i] = 3.0f;
      if (small(rng) == -2)
        scene.logits.f32()[int64_t(rc(rng)) * hw + i] = 3.0f;  // a tie at the top
      const float dy = nearest >= 0 ? float(cy[size_t(nearest)] - y + small(rng)) : 0.0f;
      const float dx = nearest >= 0 ? float(cx[size_t(nearest)] - x + small(rng)) : 0.0f;
      scene.offset.f32()[i] = dy;
      scene.offset.f32()[hw + i] = dx;
    }
  return scene;
}

// Random maps: heat quantized to 1/16 (plateaus), integer offsets, random logits and labels.
Scene make_random(int h, int w, int classes, std::mt19937& rng) {
  Scene scene;
  scene.logits = testing::random_tensor({int64_t(classes), h, w}, rng, -3.f, 3.f);
  scene.labels = Tensor(DType::dtype_i32, {h, w});
  scene.center = Tensor(DType::dtype_f32, {1, h, w});
  scene.offset = Tensor(DType::dtype_f32, {2, h, w});
  std::uniform_int_distribution<int> rc(0, classes - 1), ro(-9, 9), rq(0, 16);
  const int64_t hw = int64_t(h) * w;
  for (int64_t i = 0; i < hw; ++i) {
    scene.labels.i32()[i] = rc(rng);
    scene.center.f32()[i] = float(rq(rng)) / 16.0f;
    scene.offset.f32()[i] = float(ro(rng));
    scene.offset.f32()[hw + i] = float(ro(rng)) * 0.5f;
  }
  return scene;
}

PanopticParams params_for(PanopticConvention convention, std::vector<int32_t> things) {
  PanopticParams params = panoptic_params_default(convention);
  params.thing_classes = std::move(things);
  return params;
}

void compare(CudaPanopticMerger& merger, const PanopticInputs& inputs, const PanopticParams& params,
             const std::string& label) {
  INFO(label << ", convention " << panoptic_convention_name(params.convention) << ", nms "
             << params.nms_kernel << ", top_k " << params.top_k << ", stuff limit "
             << params.stuff_area_limit);
  PanopticResult cpu, gpu;
  Status status = panoptic_merge(inputs, params, 2, &cpu);
  INFO(status.message());
  REQUIRE(status.ok());
  status = merger.merge_host(inputs, params, &gpu);
  INFO(status.message());
  REQUIRE(status.ok());
  require_identical(cpu, gpu, inputs.semantic.dtype == DType::dtype_f32 && params.compute_scores);
}

void compare_scene(CudaPanopticMerger& merger, const Scene& scene, PanopticParams params,
                   const std::string& label) {
  for (int convention = 0; convention < 2; ++convention) {
    params.convention = PanopticConvention(convention);
    if (params.convention == panoptic_convention_detectron2 && params.nms_kernel % 2 == 0) continue;
    PanopticInputs inputs;
    inputs.center = scene.center.view();
    inputs.offset = scene.offset.view();
    inputs.semantic = scene.logits.view();
    compare(merger, inputs, params, label + " (logits)");
    inputs.semantic = scene.labels.view();
    compare(merger, inputs, params, label + " (labels)");
  }
}

std::unique_ptr<CudaPanopticMerger> make_merger() {
  std::unique_ptr<CudaPanopticMerger> merger;
  Status status = CudaPanopticMerger::create(0, &merger);
  INFO(status.message());
  REQUIRE(status.ok());
  return merger;
}
#endif

}  // namespace

TEST_CASE("cuda merger: structured scenes match the CPU merger", "[cuda]") {
  if (!cuda_ready()) return;
#ifdef ATROUS_HAVE_CUDA
  std::unique_ptr<CudaPanopticMerger> merger = make_merger();
  std::mt19937 rng(11);
  struct Case {
    int h, w, classes, instances;
  };
  const Case cases[] = {{1, 1, 3, 1},    {1, 17, 4, 2},     {33, 1, 4, 3},      {5, 7, 5, 2},
                        {64, 64, 8, 12}, {97, 131, 19, 60}, {257, 129, 19, 300}};
  for (const Case& c : cases) {
    Scene scene = make_scene(c.h, c.w, c.classes, c.instances, rng);
    const std::string label = std::to_string(c.h) + "x" + std::to_string(c.w) + ", " +
                              std::to_string(c.instances) + " blobs";
    PanopticParams params = params_for(panoptic_convention_deeplab2, {1, 2, 3, 40});
    for (int nms : {1, 3, 4, 7}) {
      params.nms_kernel = nms;
      compare_scene(*merger, scene, params, label);
    }
    params.nms_kernel = 3;
    params.top_k = 5;  // cuts inside plateaus of equal peaks
    compare_scene(*merger, scene, params, label + ", top 5");
    params.top_k = 0;
    params.compute_scores = false;
    compare_scene(*merger, scene, params, label + ", no top-k, no scores");
  }
#endif
}

TEST_CASE("cuda merger: random maps, many centers, distance ties", "[cuda]") {
  if (!cuda_ready()) return;
#ifdef ATROUS_HAVE_CUDA
  std::unique_ptr<CudaPanopticMerger> merger = make_merger();
  std::mt19937 rng(12);
  struct Case {
    int h, w, classes;
  };
  const Case cases[] = {{3, 5, 2}, {31, 47, 6}, {128, 96, 11}, {150, 211, 19}};
  for (const Case& c : cases) {
    Scene scene = make_random(c.h, c.w, c.classes, rng);
    const std::string label = "random " + std::to_string(c.h) + "x" + std::to_string(c.w);
    PanopticParams params = params_for(panoptic_convention_deeplab2, {0, 2, 5, 7, 9});
    params.top_k = 0;  // every candidate: thousands of centers at 150x211 (several tiles)
    for (int nms : {1, 3, 5}) {
      params.nms_kernel = nms;
      compare_scene(*merger, scene, params, label);
    }
    // Top-k at half the centers: heat values are multiples of 1/16, so the K-th is tied.
    params.nms_kernel = 3;
    params.center_threshold = 0.3f;
    PanopticInputs all;
    all.semantic = scene.labels.view();
    all.center = scene.center.view();
    all.offset = scene.offset.view();
    PanopticResult untrimmed;
    REQUIRE(panoptic_merge(all, params, 1, &untrimmed).ok());
    params.top_k = std::max(1, int(untrimmed.centers.size()) / 2);
    compare_scene(*merger, scene, params, label + ", top half");
    params.center_threshold = -0.5f;  // zero heat passes the threshold but is no candidate
    compare_scene(*merger, scene, params, label + ", negative threshold");
  }
#endif
}

TEST_CASE("cuda merger: no centers, NaN inputs, stuff around the area limit", "[cuda]") {
  if (!cuda_ready()) return;
#ifdef ATROUS_HAVE_CUDA
  std::unique_ptr<CudaPanopticMerger> merger = make_merger();
  std::mt19937 rng(13);
  Scene scene = make_scene(61, 45, 7, 9, rng);
  PanopticParams params = params_for(panoptic_convention_deeplab2, {1, 3});

  // No center above the threshold: thing pixels are void.
  params.center_threshold = 2.0f;
  compare_scene(*merger, scene, params, "no centers");
  params.center_threshold = 0.1f;

  // NaN offsets (nearest = center 0, as the CPU) and NaN logits (argmax and scores as the CPU).
  Scene hostile = make_scene(40, 52, 5, 6, rng);
  const int64_t hw = 40 * 52;
  for (int64_t i = 0; i < hw; i += 7)
    hostile.offset.f32()[i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 3; i < hw; i += 11)
    hostile.logits.f32()[2 * hw + i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 5; i < hw; i += 13)
    hostile.logits.f32()[i] = std::numeric_limits<float>::quiet_NaN();
  compare_scene(*merger, hostile, params, "NaN offsets and logits");

  // Stuff areas from the CPU's result: a limit equal to a class's area keeps it, one more drops it.
  PanopticInputs inputs;
  inputs.semantic = scene.labels.view();
  inputs.center = scene.center.view();
  inputs.offset = scene.offset.view();
  PanopticResult cpu;
  REQUIRE(panoptic_merge(inputs, params, 1, &cpu).ok());
  int64_t area = 0;
  for (const PanopticSegmentInfo& segment : cpu.segments)
    if (!segment.isthing) area = std::max(area, segment.area);
  REQUIRE(area > 0);
  for (int64_t limit : {area - 1, area, area + 1}) {
    params.stuff_area_limit = int32_t(limit);
    compare_scene(*merger, scene, params, "stuff limit around " + std::to_string(area));
  }

  // u8 and i64 labels.
  Tensor u8(DType::dtype_u8, {61, 45}), i64(DType::dtype_i64, {1, 61, 45});
  for (int64_t i = 0; i < 61 * 45; ++i) {
    u8.view().u8()[i] = uint8_t(scene.labels.i32()[i]);
    i64.view().i64()[i] = scene.labels.i32()[i];
  }
  params.stuff_area_limit = 0;
  inputs.semantic = u8.view();
  compare(*merger, inputs, params, "u8 labels");
  inputs.semantic = i64.view();
  compare(*merger, inputs, params, "i64 labels");

  // Errors are values: a label out of range, mismatched shapes.
  Tensor bad(DType::dtype_i32, {61, 45});
  for (int64_t i = 0; i < 61 * 45; ++i) bad.i32()[i] = scene.labels.i32()[i];
  bad.i32()[100] = -1;
  inputs.semantic = bad.view();
  PanopticResult result;
  CHECK_FALSE(merger->merge_host(inputs, params, &result).ok());
  Tensor small_center(DType::dtype_f32, {1, 60, 45});
  inputs.semantic = scene.labels.view();
  inputs.center = small_center.view();
  CHECK_FALSE(merger->merge_host(inputs, params, &result).ok());
#endif
}

TEST_CASE("cuda merger: on the executor's device outputs", "[cuda]") {
  if (!cuda_ready()) return;
#ifdef ATROUS_HAVE_CUDA
  // semantic = relu(s), center = relu(c), offset = o + o: three device outputs.
  const int64_t C = 6, H = 37, W = 53;
  Graph graph;
  graph.metadata.set_string("producer", "atrous tests");
  const int32_t s = graph.add_tensor("s", DType::dtype_f32, {1, C, H, W});
  const int32_t c = graph.add_tensor("c", DType::dtype_f32, {1, 1, H, W});
  const int32_t o = graph.add_tensor("o", DType::dtype_f32, {1, 2, H, W});
  graph.inputs = {s, c, o};
  const int32_t semantic = graph.add_tensor("semantic", DType::dtype_f32, {});
  const int32_t center = graph.add_tensor("center", DType::dtype_f32, {});
  const int32_t offset = graph.add_tensor("offset", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_relu, "relu_s", {s}, {semantic});
  testing::add_node(graph, OpType::op_relu, "relu_c", {c}, {center});
  testing::add_node(graph, OpType::op_add, "add_o", {o, o}, {offset});
  graph.outputs = {semantic, center, offset};
  std::shared_ptr<const Model> model;
  Status status = Model::from_graph(std::move(graph), &model);
  INFO(status.message());
  REQUIRE(status.ok());
  std::unique_ptr<CudaExecutor> executor;
  status = CudaExecutor::create(model->graph(), CudaOptions(), &executor);
  INFO(status.message());
  REQUIRE(status.ok());
  std::unique_ptr<CudaPanopticMerger> merger = make_merger();
  std::mt19937 rng(14);
  Scene scene = make_scene(int(H), int(W), int(C), 8, rng);
  for (int run = 0; run < 2; ++run) {
    Tensor semantic_in = testing::random_tensor({1, C, H, W}, rng, -1.f, 1.f);
    const std::vector<const TensorView*> inputs = {&semantic_in.view(), &scene.center.view(),
                                                   &scene.offset.view()};
    std::vector<Tensor> host;
    REQUIRE(executor->run(inputs, &host).ok());
    std::vector<CudaDeviceTensor> device;
    REQUIRE(executor->run_on_device(inputs, &device).ok());
    REQUIRE(device.size() == 3);
    CudaPanopticInputs device_inputs;
    status = cuda_panoptic_inputs(device[0], device[1], device[2], &device_inputs);
    INFO(status.message());
    REQUIRE(status.ok());
    for (int convention = 0; convention < 2; ++convention) {
      PanopticParams params = params_for(PanopticConvention(convention), {1, 4});
      PanopticInputs host_inputs;
      host_inputs.semantic = host[0].view();
      host_inputs.center = host[1].view();
      host_inputs.offset = host[2].view();
      PanopticResult cpu, gpu;
      REQUIRE(panoptic_merge(host_inputs, params, 1, &cpu).ok());
      status = merger->merge(device_inputs, params, &gpu);
      INFO(status.message());
      REQUIRE(status.ok());
      CHECK(!cpu.centers.empty());
      require_identical(cpu, gpu, true);
    }
  }
  // Shapes that are no merger inputs are refused.
  std::vector<CudaDeviceTensor> device;
  REQUIRE(executor
              ->run_on_device({&scene.logits.view(), &scene.center.view(), &scene.offset.view()},
                              &device)
              .ok());
  CudaPanopticInputs device_inputs;
  CHECK_FALSE(cuda_panoptic_inputs(device[0], device[2], device[2], &device_inputs)
                  .ok());  // 2-channel center
#endif
}

#ifdef ATROUS_HAVE_CUDA
TEST_CASE("cuda merger: device tensors that are no merger inputs are refused (no device needed)",
          "[cuda]") {
  int dummy = 0;
  CudaDeviceTensor semantic{DType::dtype_f32, {1, 4, 8, 9}, &dummy};
  CudaDeviceTensor center{DType::dtype_f32, {1, 1, 8, 9}, &dummy};
  CudaDeviceTensor offset{DType::dtype_f32, {1, 2, 8, 9}, &dummy};
  CudaPanopticInputs inputs;
  REQUIRE(cuda_panoptic_inputs(semantic, center, offset, &inputs).ok());
  CHECK(inputs.classes == 4);
  CHECK(inputs.height == 8);
  CHECK(inputs.width == 9);
  CHECK(inputs.logits != nullptr);
  CHECK(inputs.labels == nullptr);
  CudaDeviceTensor labels{DType::dtype_i32, {1, 8, 9}, &dummy};
  REQUIRE(cuda_panoptic_inputs(labels, center, offset, &inputs).ok());
  CHECK(inputs.labels != nullptr);
  CHECK(inputs.logits == nullptr);
  CudaDeviceTensor wrong_center{DType::dtype_f32, {1, 1, 8, 10}, &dummy};
  CHECK_FALSE(cuda_panoptic_inputs(semantic, wrong_center, offset, &inputs).ok());
  CudaDeviceTensor three_offsets{DType::dtype_f32, {1, 3, 8, 9}, &dummy};
  CHECK_FALSE(cuda_panoptic_inputs(semantic, center, three_offsets, &inputs).ok());
  CudaDeviceTensor int_center{DType::dtype_i32, {1, 1, 8, 9}, &dummy};
  CHECK_FALSE(cuda_panoptic_inputs(semantic, int_center, offset, &inputs).ok());
  CudaDeviceTensor batch_two{DType::dtype_f32, {2, 4, 8, 9}, &dummy};
  CHECK_FALSE(cuda_panoptic_inputs(batch_two, center, offset, &inputs).ok());
}
#endif
