// Panoptic merger latency at Cityscapes size (1025×2049, 19 classes, things 11..18):
// `bench_merger [runs] [centers] [labels|logits|scores] [threads]` prints the median over `runs`
// (default 7) for 0/50/200/400 centers (or only `centers`; −1 for all), every semantic input (or
// only the one named), 1 and 2 threads (or only `threads`), NMS kernel 13 (and the median process
// CPU time, all threads together, which a busy machine disturbs less than the wall time); semantic
// given as int32 labels, as logits (argmax included), and as logits with the instance scores
// (softmax over the logits). Synthetic inputs: blocky semantic regions (about 40% thing pixels), a
// heatmap of Gaussian peaks over a 0.05 floor, offsets that point near the peak of each 64×64 block
// plus noise.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>

#include "graph/thread_pool.h"
#include "models/panoptic_merger.h"

using namespace atrous;

namespace {

struct Inputs {
  int h = 1025, w = 2049, classes = 19;
  std::vector<float> logits, heat, offset;
};

Inputs make_inputs(int centers, uint32_t seed) {
  Inputs in;
  const int64_t hw = int64_t(in.h) * in.w;
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  in.logits.resize(size_t(in.classes * hw));
  std::vector<int> block_class(size_t((in.h / 32 + 1) * (in.w / 32 + 1)));
  for (int& c : block_class) c = (rng() % 10 < 4) ? 11 + int(rng() % 8) : int(rng() % 11);
  for (int c = 0; c < in.classes; ++c)
    for (int y = 0; y < in.h; ++y)
      for (int x = 0; x < in.w; ++x) {
        float base = block_class[size_t((y / 32) * (in.w / 32 + 1) + x / 32)] == c ? 4.f : 0.f;
        in.logits[size_t(c * hw + int64_t(y) * in.w + x)] = base + noise(rng);
      }
  in.heat.assign(size_t(hw), 0.05f);
  std::vector<std::pair<int, int>> peaks;
  for (int i = 0; i < centers; ++i) {
    int cy = int(rng() % unsigned(in.h)), cx = int(rng() % unsigned(in.w));
    peaks.push_back({cy, cx});
    for (int y = std::max(0, cy - 12); y <= std::min(in.h - 1, cy + 12); ++y)
      for (int x = std::max(0, cx - 12); x <= std::min(in.w - 1, cx + 12); ++x) {
        float d2 = float((y - cy) * (y - cy) + (x - cx) * (x - cx));
        float& v = in.heat[size_t(int64_t(y) * in.w + x)];
        v = std::max(v, 0.9f * std::exp(-d2 / (2 * 16.f)));
      }
  }
  in.offset.resize(size_t(2 * hw));
  for (int y = 0; y < in.h; ++y)
    for (int x = 0; x < in.w; ++x) {
      int64_t i = int64_t(y) * in.w + x;
      float ty = float(y), tx = float(x);
      if (!peaks.empty()) {
        const auto& p = peaks[size_t(((y / 64) * 40 + x / 64) % int(peaks.size()))];
        ty = float(p.first);
        tx = float(p.second);
      }
      in.offset[size_t(i)] = (ty - float(y)) * 0.3f + 2 * noise(rng);
      in.offset[size_t(hw + i)] = (tx - float(x)) * 0.3f + 2 * noise(rng);
    }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const int only = argc > 2 ? std::atoi(argv[2]) : -1;
  const std::string only_mode = argc > 3 ? argv[3] : "";
  const int only_threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const char* mode_names[3] = {"labels", "logits", "scores"};
  if (!only_mode.empty() && only_mode != "labels" && only_mode != "logits" &&
      only_mode != "scores") {
    std::fprintf(stderr, "usage: bench_merger [runs] [centers] [labels|logits|scores] [threads]\n");
    return 2;
  }
  std::printf("panoptic merger, 1025x2049, 19 classes, nms 13, median of %d runs (ms)\n", runs);
  std::printf("%8s %8s %8s %14s %12s %12s %12s\n", "centers", "found", "threads", "semantic",
              "median_ms", "min_ms", "cpu_ms");
  for (int centers : {0, 50, 200, 400}) {
    if (only >= 0 && centers != only) continue;
    Inputs in = make_inputs(centers, 1234u + unsigned(centers));
    PanopticInputs inputs;
    inputs.semantic = {DType::dtype_f32, {in.classes, in.h, in.w}, in.logits.data()};
    inputs.center = {DType::dtype_f32, {1, in.h, in.w}, in.heat.data()};
    inputs.offset = {DType::dtype_f32, {2, in.h, in.w}, in.offset.data()};
    PanopticParams params = panoptic_params_default(panoptic_convention_deeplab2);
    params.thing_classes = {11, 12, 13, 14, 15, 16, 17, 18};
    params.nms_kernel = 13;
    params.stuff_area_limit = 2048;
    std::vector<int32_t> labels(in.heat.size());
    PanopticResult argmax;
    params.compute_scores = false;
    if (!panoptic_merge(inputs, params, 1, &argmax).ok()) return 1;
    labels = argmax.semantic;
    for (int mode = 0; mode < 3; ++mode)  // labels; logits; logits + scores
      for (int threads : {1, 2}) {
        if ((!only_mode.empty() && only_mode != mode_names[mode]) ||
            (only_threads > 0 && threads != only_threads))
          continue;
        const bool scores = mode == 2;
        params.compute_scores = scores;
        inputs.semantic =
            mode == 0 ? TensorView{DType::dtype_i32, {in.h, in.w}, labels.data()}
                      : TensorView{DType::dtype_f32, {in.classes, in.h, in.w}, in.logits.data()};
        std::vector<double> times, cpu_times;
        PanopticResult result;
        ThreadPool pool(threads);  // as a session's: made once, outside the timing
        for (int r = 0; r < runs; ++r) {
          const std::clock_t cpu_start = std::clock();
          auto start = std::chrono::steady_clock::now();
          Status status = panoptic_merge(inputs, params, pool, &result);
          times.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
          cpu_times.push_back(1000.0 * double(std::clock() - cpu_start) / CLOCKS_PER_SEC);
          if (!status.ok()) {
            std::fprintf(stderr, "error: %s\n", status.message().c_str());
            return 1;
          }
        }
        std::sort(times.begin(), times.end());
        std::sort(cpu_times.begin(), cpu_times.end());
        std::printf("%8d %8zu %8d %14s %12.2f %12.2f %12.2f\n", centers, result.centers.size(),
                    threads,
                    mode == 0   ? "labels"
                    : mode == 1 ? "logits"
                                : "logits+scores",
                    times[times.size() / 2], times[0], cpu_times[cpu_times.size() / 2]);
      }
  }
  return 0;
}
