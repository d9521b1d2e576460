// CUDA backend benchmark and stand-alone check (needs no Catch2, for bench/gpu_check.sh):
//
//   bench_cuda --check               every op kind on random data, CUDA vs the reference backend
//                                    (relative L2 ≤ 1e-5, int32 exact); exit status 1 on a miss
//   bench_cuda --ops                 per-op kernels at Panoptic-DeepLab MNV3-L sizes against the
//                                    roofline of this device, both measured in the same run
//   bench_cuda --model FILE [--runs N] [--merge]
//                                    end-to-end: network FPS (inputs in, outputs out), and with
//                                    --merge network + CPU panoptic merger FPS, and network
//                                    (outputs left on the device) + GPU panoptic merger FPS; the
//                                    GPU merger's result is checked against the CPU's once
//                                    (identical panoptic map and segments, exit status 1 if not)
//
// Roofline per op: time_min = max(bytes / bandwidth, flops / peak), where bytes counts every
// input, weight and output once, flops = 2 · multiply-adds, bandwidth = device-to-device copy
// (read + write) and peak = an FMA loop; efficiency = time_min / measured. Kernel times are CUDA
// event times of the node (best of the runs).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "models/builders.h"
#include "models/panoptic_merger.h"
#include "models/panoptic_merger_cuda.h"
#include "ops/ops.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

using testing::OpCase;
using testing::random_tensor;
using testing::relative_l2;

AttributeMap conv(std::vector<int64_t> strides, std::vector<int64_t> dilations,
                  std::vector<int64_t> pads, int64_t group, const char* activation) {
  AttributeMap a;
  a.set_ints("strides", strides);
  a.set_ints("dilations", dilations);
  a.set_ints("pads", pads);
  a.set_int("group", group);
  a.set_string("activation", activation);
  return a;
}

// The op kinds of the target models. `scale` divides H and W (1 = benchmark size).
std::vector<OpCase> op_cases(int64_t scale) {
  auto s = [scale](int64_t size) { return std::max<int64_t>(1, (size + scale - 1) / scale); };
  std::vector<OpCase> cases;
  cases.push_back({"conv 3x3 s2 stem 3->16 hswish",
                   OpType::op_conv,
                   {1, 3, s(1025), s(2049)},
                   {{16, 3, 3, 3}, {16}},
                   conv({2, 2}, {1, 1}, {1, 1, 1, 1}, 1, "hard_swish")});
  cases.push_back({"depthwise 3x3 72ch relu",
                   OpType::op_conv,
                   {1, 72, s(257), s(513)},
                   {{72, 1, 3, 3}, {72}},
                   conv({1, 1}, {1, 1}, {1, 1, 1, 1}, 72, "relu")});
  cases.push_back({"depthwise 5x5 s2 120ch",
                   OpType::op_conv,
                   {1, 120, s(129), s(257)},
                   {{120, 1, 5, 5}, {120}},
                   conv({2, 2}, {1, 1}, {2, 2, 2, 2}, 120, "hard_swish")});
  cases.push_back({"depthwise 5x5 dil 2 960ch",
                   OpType::op_conv,
                   {1, 960, s(65), s(129)},
                   {{960, 1, 5, 5}, {960}},
                   conv({1, 1}, {2, 2}, {4, 4, 4, 4}, 960, "hard_swish")});
  cases.push_back({"conv 1x1 40->120",
                   OpType::op_conv,
                   {1, 40, s(129), s(257)},
                   {{120, 40, 1, 1}, {120}},
                   conv({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, "relu")});
  cases.push_back({"conv 1x1 960->256",
                   OpType::op_conv,
                   {1, 960, s(65), s(129)},
                   {{256, 960, 1, 1}, {256}},
                   conv({1, 1}, {1, 1}, {0, 0, 0, 0}, 1, "relu")});
  cases.push_back({"conv 5x5 256->256 (head)",
                   OpType::op_conv,
                   {1, 256, s(257), s(513)},
                   {{256, 256, 5, 5}, {256}},
                   conv({1, 1}, {1, 1}, {2, 2, 2, 2}, 1, "relu")});
  AttributeMap hswish;
  cases.push_back({"hard_swish", OpType::op_hard_swish, {1, 120, s(257), s(513)}, {}, hswish});
  cases.push_back(
      {"mul squeeze-excite", OpType::op_mul, {1, 120, s(129), s(257)}, {{1, 120, 1, 1}}, {}});
  cases.push_back(
      {"global_average_pool", OpType::op_global_average_pool, {1, 960, s(65), s(129)}, {}, {}});
  AttributeMap reduce;
  reduce.set_ints("axes", {2, 3});
  cases.push_back({"reduce_mean H,W (squeeze-excite)",
                   OpType::op_reduce_mean,
                   {1, 960, s(65), s(129)},
                   {},
                   reduce});
  AttributeMap pad;
  pad.set_ints("pads", {0, 0, 1, 1, 0, 0, 1, 1});
  cases.push_back({"pad 1 (constant)", OpType::op_pad, {1, 960, s(65), s(129)}, {}, pad});
  AttributeMap pool;
  pool.set_ints("kernel_shape", {3, 3});
  pool.set_ints("strides", {2, 2});
  pool.set_ints("pads", {1, 1, 1, 1});
  cases.push_back(
      {"average_pool 3x3 s2", OpType::op_average_pool, {1, 64, s(257), s(513)}, {}, pool});
  AttributeMap resize;
  resize.set_ints("sizes", {s(1025), s(2049)});
  resize.set_string("coordinate_mode", "align_corners");
  cases.push_back(
      {"resize bilinear x4 19ch", OpType::op_resize, {1, 19, s(257), s(513)}, {}, resize});
  AttributeMap concat;
  concat.set_int("axis", 1);
  cases.push_back({"concat 256+48",
                   OpType::op_concat,
                   {1, 256, s(257), s(513)},
                   {{1, 48, s(257), s(513)}},
                   concat});
  AttributeMap softmax;
  softmax.set_int("axis", 1);
  cases.push_back({"softmax 19ch", OpType::op_softmax, {1, 19, s(1025), s(2049)}, {}, softmax});
  AttributeMap argmax;
  argmax.set_int("axis", 1);
  cases.push_back({"argmax 19ch", OpType::op_argmax, {1, 19, s(1025), s(2049)}, {}, argmax});
  return cases;
}

Status make_model(const OpCase& c, std::mt19937& rng, std::shared_ptr<const Model>* model) {
  return Model::from_graph(testing::op_case_graph(c, rng), model);
}

Status run_backend(const std::shared_ptr<const Model>& model, Backend backend, const Tensor& input,
                   std::vector<Tensor>* outputs) {
  SessionOptions options;
  options.backend = backend;
  options.optimize = false;
  std::unique_ptr<Session> session;
  ATROUS_RETURN_IF_ERROR(Session::create(model, options, &session));
  if (session->options().backend != backend) return Status::error("backend not available");
  return session->run({{"x", &input.view()}}, outputs);
}

int check() {
  std::mt19937 rng(1);
  int failures = 0;
  for (const OpCase& c : op_cases(16)) {
    std::shared_ptr<const Model> model;
    Status status = make_model(c, rng, &model);
    Tensor input = random_tensor(c.input, rng, -3.f, 3.f);
    std::vector<Tensor> expected, actual;
    if (status.ok()) status = run_backend(model, Backend::backend_reference, input, &expected);
    if (status.ok()) status = run_backend(model, Backend::backend_cuda, input, &actual);
    if (!status.ok()) {
      std::printf("FAIL %-32s %s\n", c.label.c_str(), status.message().c_str());
      ++failures;
      continue;
    }
    bool ok = expected[0].shape() == actual[0].shape() && expected[0].dtype() == actual[0].dtype();
    double error = 0.0;
    if (ok && expected[0].dtype() == DType::dtype_f32) {
      error = relative_l2(expected[0], actual[0]);
      ok = error <= 1e-5;
    } else if (ok) {
      ok = std::memcmp(expected[0].data(), actual[0].data(), expected[0].byte_size()) == 0;
    }
    std::printf("%s %-32s %s relative L2 %.2e\n", ok ? "ok  " : "FAIL", c.label.c_str(),
                shape_to_string(c.input).c_str(), error);
    failures += !ok;
  }
  std::printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}

int bench_ops() {
  double bandwidth = 0.0, peak = 0.0;
  Status status = cuda_measure_bandwidth(&bandwidth);
  if (status.ok()) status = cuda_measure_fp32_peak(&peak);
  if (!status.ok()) {
    std::fprintf(stderr, "bench_cuda: %s\n", status.message().c_str());
    return 1;
  }
  std::printf("device: copy bandwidth %.0f GB/s (read+write), FP32 FMA peak %.1f TFLOP/s\n",
              bandwidth * 1e-9, peak * 1e-12);
  std::printf("%-32s %10s %10s %10s %10s %8s %s\n", "op", "ms", "GB", "GFLOP", "roof ms", "of roof",
              "kernel");
  std::mt19937 rng(2);
  for (const OpCase& c : op_cases(1)) {
    std::shared_ptr<const Model> model;
    status = make_model(c, rng, &model);
    std::unique_ptr<CudaExecutor> executor;
    CudaOptions options;
    options.profile = true;
    if (status.ok()) status = CudaExecutor::create(model->graph(), options, &executor);
    Tensor input = random_tensor(c.input, rng);
    double best = 1e30;
    std::vector<Tensor> outputs;
    for (int run = 0; run < 5 && status.ok(); ++run) {
      status = executor->run({&input.view()}, &outputs);
      if (status.ok()) best = std::min(best, executor->node_seconds()[0]);
    }
    if (!status.ok()) {
      std::printf("%-32s error: %s\n", c.label.c_str(), status.message().c_str());
      continue;
    }
    const Graph& graph = model->graph();
    double bytes = 0.0;
    std::vector<const TensorDesc*> descs;
    std::vector<TensorDesc> storage;
    storage.reserve(graph.tensors.size());
    for (int32_t index : graph.nodes[0].inputs) {
      const GraphTensor& t = graph.tensors[size_t(index)];
      bytes += double(shape_numel(t.shape)) * double(dtype_size(t.dtype));
      storage.push_back(TensorDesc{t.dtype, t.shape});
      descs.push_back(&storage.back());
    }
    const GraphTensor& out = graph.tensors[size_t(graph.nodes[0].outputs[0])];
    bytes += double(shape_numel(out.shape)) * double(dtype_size(out.dtype));
    const double flops = 2.0 * double(op_multiply_adds(c.op, c.attributes, descs,
                                                       {TensorDesc{out.dtype, out.shape}}));
    const double roof = std::max(bytes / bandwidth, flops / peak);
    std::printf("%-32s %10.3f %10.3f %10.2f %10.3f %7.0f%% %s\n", c.label.c_str(), best * 1e3,
                bytes * 1e-9, flops * 1e-9, roof * 1e3, 100.0 * roof / best,
                executor->node_kernels()[0].c_str());
  }
  return 0;
}

// `path` is a model file, or "arch:NAME:HxW" for a built-in architecture (models/builders.h).
int bench_model(const std::string& path, int runs, bool merge) {
  std::shared_ptr<const Model> model;
  Status status;
  if (path.rfind("arch:", 0) == 0) {
    const size_t colon = path.find(':', 5);
    const std::string name =
        path.substr(5, colon == std::string::npos ? std::string::npos : colon - 5);
    int64_t height = 1025, width = 2049;
    if (colon != std::string::npos && !parse_image_size(path.substr(colon + 1), &height, &width)) {
      std::fprintf(stderr, "bench_cuda: bad size in %s\n", path.c_str());
      return 2;
    }
    Graph graph;
    status = build_architecture(name, height, width, 0, &graph);
    if (status.ok()) status = Model::from_graph(std::move(graph), &model);
  } else {
    status = Model::load_file(path, &model);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "bench_cuda: %s\n", status.message().c_str());
    return 1;
  }
  SessionOptions session_options;
  session_options.backend = Backend::backend_cuda;
  std::unique_ptr<Session> session;
  status = Session::create(model, session_options, &session);  // graph optimization on
  if (!status.ok() || session->options().backend != Backend::backend_cuda) {
    std::fprintf(stderr, "bench_cuda: no CUDA session: %s\n", status.message().c_str());
    return 1;
  }
  const Graph& graph = session->graph();
  CudaOptions options;
  options.use_cuda_graph = true;
  std::unique_ptr<CudaExecutor> executor;
  status = CudaExecutor::create(graph, options, &executor);
  if (!status.ok()) {
    std::fprintf(stderr, "bench_cuda: %s\n", status.message().c_str());
    return 1;
  }
  std::mt19937 rng(3);
  std::vector<Tensor> inputs;
  std::vector<const TensorView*> views;
  for (int32_t index : graph.inputs) {
    inputs.push_back(random_tensor(graph.tensors[size_t(index)].shape, rng));
    views.push_back(&inputs.back().view());
  }
  std::vector<Tensor> outputs;
  for (int warm = 0; warm < 2 && status.ok(); ++warm) status = executor->run(views, &outputs);
  std::vector<double> network, total;
  PanopticParams params;
  if (merge)
    params = panoptic_params_from_metadata(graph.metadata, panoptic_convention_deeplab2, &status);
  for (int run = 0; run < runs && status.ok(); ++run) {
    const auto start = std::chrono::steady_clock::now();
    status = executor->run(views, &outputs);
    const auto between = std::chrono::steady_clock::now();
    if (status.ok() && merge) {
      if (outputs.size() < 3) {
        status = Status::error("--merge needs the outputs semantic, center, offset");
        break;
      }
      PanopticInputs merger_inputs;
      merger_inputs.semantic = outputs[0].view();
      merger_inputs.center = outputs[1].view();
      merger_inputs.offset = outputs[2].view();
      PanopticResult result;
      status = panoptic_merge(merger_inputs, params, 1, &result);
    }
    const auto end = std::chrono::steady_clock::now();
    network.push_back(std::chrono::duration<double>(between - start).count());
    total.push_back(std::chrono::duration<double>(end - start).count());
  }
  if (!status.ok()) {
    std::fprintf(stderr, "bench_cuda: %s\n", status.message().c_str());
    return 1;
  }
  // Network with its outputs left on the device, then the GPU merger on them (no host copy of
  // the network outputs; only the merger's maps and tables come back).
  std::vector<double> device_total, device_merge;
  int mismatches = 0;
  if (merge) {
    std::unique_ptr<CudaPanopticMerger> merger;
    status = CudaPanopticMerger::create(0, &merger);
    std::vector<CudaDeviceTensor> device_outputs;
    auto device_run = [&](PanopticResult* result, double* merge_seconds) {
      status = executor->run_on_device(views, &device_outputs);
      const auto between = std::chrono::steady_clock::now();
      CudaPanopticInputs merger_inputs;
      if (status.ok() && device_outputs.size() < 3)
        status = Status::error("--merge needs the outputs semantic, center, offset");
      if (status.ok())
        status = cuda_panoptic_inputs(device_outputs[0], device_outputs[1], device_outputs[2],
                                      &merger_inputs);
      if (status.ok()) status = merger->merge(merger_inputs, params, result);
      *merge_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - between).count();
    };
    PanopticResult gpu, cpu;
    double seconds = 0.0;
    if (status.ok()) device_run(&gpu, &seconds);  // warm-up and check
    if (status.ok()) status = executor->run(views, &outputs);
    if (status.ok()) {
      PanopticInputs merger_inputs;
      merger_inputs.semantic = outputs[0].view();
      merger_inputs.center = outputs[1].view();
      merger_inputs.offset = outputs[2].view();
      status = panoptic_merge(merger_inputs, params, 1, &cpu);
    }
    if (status.ok()) {
      for (size_t i = 0; i < cpu.panoptic.size(); ++i)
        mismatches += cpu.panoptic[i] != gpu.panoptic[i];
      bool same_segments =
          cpu.segments.size() == gpu.segments.size() && cpu.centers.size() == gpu.centers.size();
      for (size_t k = 0; same_segments && k < cpu.segments.size(); ++k) {
        const PanopticSegmentInfo &a = cpu.segments[k], &b = gpu.segments[k];
        same_segments = a.id == b.id && a.category_id == b.category_id && a.area == b.area &&
                        std::equal(a.bbox, a.bbox + 4, b.bbox);
      }
      std::printf(
          "GPU merger vs CPU merger on this model's outputs: %zu centers, %zu segments, %d "
          "panoptic "
          "pixels differ, segments %s\n",
          cpu.centers.size(), cpu.segments.size(), mismatches,
          same_segments ? "identical" : "DIFFER");
      if (!same_segments) mismatches += 1;
    }
    for (int run = 0; run < runs && status.ok(); ++run) {
      const auto start = std::chrono::steady_clock::now();
      device_run(&gpu, &seconds);
      device_total.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      device_merge.push_back(seconds);
    }
    if (!status.ok()) {
      std::fprintf(stderr, "bench_cuda: GPU merger: %s\n", status.message().c_str());
      return 1;
    }
  }
  std::sort(network.begin(), network.end());
  std::sort(total.begin(), total.end());
  const double net = network[network.size() / 2], all = total[total.size() / 2];
  std::printf(
      "model %s: %zu nodes (%zu on the host), arena %.1f MB, weights %.1f MB, CUDA graph %s\n",
      path.c_str(), graph.nodes.size(), executor->host_fallback_nodes(),
      executor->arena_bytes() / 1e6, executor->weight_bytes() / 1e6,
      executor->host_fallback_nodes() == 0 ? "on" : "off");
  std::printf(
      "network (input copy in, outputs copied out): median %.2f ms = %.1f FPS over %d runs\n",
      net * 1e3, 1.0 / net, runs);
  if (merge) {
    std::printf("network + CPU panoptic merger (1 thread): median %.2f ms = %.1f FPS\n", all * 1e3,
                1.0 / all);
    std::sort(device_total.begin(), device_total.end());
    std::sort(device_merge.begin(), device_merge.end());
    const double end_to_end = device_total[device_total.size() / 2],
                 merger_alone = device_merge[device_merge.size() / 2];
    std::printf(
        "network (outputs stay on the device) + GPU panoptic merger: median %.2f ms = %.1f FPS "
        "(GPU merger alone, maps copied back: median %.2f ms)\n",
        end_to_end * 1e3, 1.0 / end_to_end, merger_alone * 1e3);
  }
  return mismatches == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string reason;
  if (!cuda_device_available(&reason)) {
    std::printf("bench_cuda: no CUDA device (%s); nothing to do\n", reason.c_str());
    return 0;
  }
  std::string mode = argc > 1 ? argv[1] : "--check";
  if (mode == "--check") return check();
  if (mode == "--ops") return bench_ops();
  if (mode == "--model" && argc > 2) {
    int runs = 20;
    bool merge = false;
    for (int i = 3; i < argc; ++i) {
      if (std::string(argv[i]) == "--runs" && i + 1 < argc)
        runs = std::max(1, std::atoi(argv[++i]));
      else if (std::string(argv[i]) == "--merge")
        merge = true;
    }
    return bench_model(argv[2], runs, merge);
  }
  std::fprintf(
      stderr,
      "usage: bench_cuda --check | --ops | --model FILE|arch:NAME:HxW [--runs N] [--merge]\n");
  return 2;
}
