// `atrous bench (MODEL | --arch NAME) [--size HxW] ...`: latency, throughput, memory and, with
// --profile, where the time goes (docs/CLI.md).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "graph/json_io.h"
#include "models/builders.h"
#include "ops/graph_rules.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

namespace atrous {
namespace {

// Peak resident set size of this process in bytes (VmHWM, else getrusage's ru_maxrss).
int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, 6, "VmHWM:") != 0) continue;
    long long kib = 0;
    if (std::sscanf(line.c_str() + 6, "%lld", &kib) == 1) return int64_t(kib) * 1024;
  }
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) == 0) return int64_t(usage.ru_maxrss) * 1024;
  return -1;
}

std::string mib(double bytes) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buffer;
}

// One seeded float32 input per graph input, uniform over the range the model expects: the
// pixel range [0, 255] through the metadata's input_mean/input_std when present, else [−1, 1].
Status make_inputs(const Graph& graph, uint64_t seed, std::vector<Tensor>* tensors) {
  std::vector<double> mean = graph.metadata.get_floats("input_mean", {});
  std::vector<double> stddev = graph.metadata.get_floats("input_std", {});
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int32_t index : graph.inputs) {
    const GraphTensor& t = graph.tensors[size_t(index)];
    if (t.dtype != DType::dtype_f32)
      return Status::error("input '" + t.name + "' is " + dtype_name(t.dtype) +
                           "; bench makes float32 inputs only");
    Tensor tensor(DType::dtype_f32, t.shape);
    int64_t channels = t.shape.size() == 4 ? t.shape[1] : 1;
    int64_t plane = t.shape.size() == 4 ? t.shape[2] * t.shape[3] : tensor.numel();
    for (int64_t i = 0; i < tensor.numel(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      double u = double(state >> 11) * (1.0 / 9007199254740992.0);
      size_t c = size_t((i / std::max<int64_t>(plane, 1)) % std::max<int64_t>(channels, 1));
      double low = -1, high = 1;
      if (t.shape.size() == 4 && c < mean.size() && c < stddev.size() && stddev[c] != 0) {
        low = (0 - mean[c]) / stddev[c];
        high = (255 - mean[c]) / stddev[c];
      }
      tensor.f32()[i] = float(low + u * (high - low));
    }
    tensors->push_back(std::move(tensor));
  }
  return Status::success();
}

struct OpTime {
  std::string op, kernel;
  double seconds = 0;
  int64_t multiply_adds = 0;
  int count = 0;
};

struct BenchArguments {
  std::string model_path, arch, size_text, json_path, backend_text;
  std::string threads_text, runs_text, warmup_text, seed_text, max_memory_text, top_text;
  bool profile = false;
};

int run_bench(const BenchArguments& a) {
  const std::string &model_path = a.model_path, &arch = a.arch, &size_text = a.size_text,
                    &json_path = a.json_path;
  SessionOptions options;
  options.backend = Backend::backend_cpu;
  options.profile = a.profile;
  if (int code = parse_threads_option("bench", a.threads_text, &options.threads)) return code;
  long long runs = 10, warmup = 2, seed = 0, top = 15;
  struct {
    const char* name;
    const std::string& text;
    long long low, high;
    long long* value;
  } numbers[] = {{"--runs", a.runs_text, 1, 100000, &runs},
                 {"--warmup", a.warmup_text, 0, 100000, &warmup},
                 {"--seed", a.seed_text, 0, 1ll << 62, &seed},
                 {"--top", a.top_text, 0, 1000000, &top}};
  for (const auto& n : numbers) {
    if (n.text.empty()) continue;
    if (!parse_int(n.text, n.value) || *n.value < n.low || *n.value > n.high)
      return cli_fail("bench: " + std::string(n.name) + " needs a number from " +
                          std::to_string(n.low) + " to " + std::to_string(n.high),
                      2);
  }
  if (int code = parse_backend_option("bench", a.backend_text, &options.backend)) return code;
  if (!parse_max_memory(a.max_memory_text, &options.max_memory_bytes))
    return cli_fail("bench: --max-memory needs a size of at least 1M (bytes, or with K, M, G or T)",
                    2);
  if (model_path.empty() == arch.empty())
    return cli_fail(
        "bench: give a model file or --arch NAME, not both (usage: atrous bench "
        "(MODEL | --arch NAME) [--size HxW] [--threads N] [--backend cpu|reference] "
        "[--runs N] [--warmup N] [--profile] [--json FILE])",
        2);
  int64_t height = 1025, width = 2049;
  if (!size_text.empty() && !parse_image_size(size_text, &height, &width))
    return cli_fail("bench: --size wants HxW with positive integers, got '" + size_text + "'", 2);

  std::shared_ptr<const Model> model;
  Status status;
  if (!arch.empty()) {
    Graph graph;
    status = build_architecture(arch, height, width, uint64_t(seed), &graph);
    if (status.ok()) status = Model::from_graph(std::move(graph), &model);
    if (!status.ok()) return cli_fail("bench: " + status.message());
  } else {
    status = Model::load_file(model_path, &model);
    if (!status.ok()) return cli_fail(status.message());
    if (!size_text.empty()) {
      // Graph inputs have fixed shapes: --size can only confirm the one the file was made for.
      const Graph& g = model->graph();
      const Shape* shape = g.inputs.size() == 1 ? &g.tensors[size_t(g.inputs[0])].shape : nullptr;
      if (!shape || shape->size() != 4 || (*shape)[2] != height || (*shape)[3] != width)
        return cli_fail("bench: '" + model_path + "' has a fixed input shape " +
                        (shape ? shape_to_string(*shape) : std::string("(several inputs)")) +
                        "; --size " + size_text +
                        " needs a model exported at that size "
                        "(or --arch)");
    }
  }
  std::vector<Tensor> tensors;
  status = make_inputs(model->graph(), uint64_t(seed), &tensors);
  if (!status.ok()) return cli_fail("bench: " + status.message());
  std::vector<NamedInput> inputs;
  for (size_t i = 0; i < tensors.size(); ++i)
    inputs.push_back(
        {model->graph().tensors[size_t(model->graph().inputs[i])].name, &tensors[i].view()});

  std::unique_ptr<Session> session;
  status = Session::create(model, options, &session);
  if (!status.ok()) return cli_fail(status.message());
  const int64_t madds = graph_statistics(session->graph()).multiply_adds;

  // Warmup, then timed runs; a progress line on a terminal once the runs take a while.
  const bool terminal = isatty(fileno(stderr)) != 0;
  const auto begin = std::chrono::steady_clock::now();
  bool progress_shown = false;
  std::vector<double> ms;
  std::vector<Tensor> outputs;
  for (long long i = 0; i < warmup + runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    status = session->run(inputs, &outputs);
    auto end = std::chrono::steady_clock::now();
    if (!status.ok()) return cli_fail("bench: " + status.message());
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (terminal && std::chrono::duration<double>(end - begin).count() > 1.0) {
      std::fprintf(stderr, "\r%s %lld/%lld (last %.1f ms)   ", i < warmup ? "warmup" : "run",
                   i < warmup ? i + 1 : i - warmup + 1, i < warmup ? warmup : runs,
                   std::chrono::duration<double, std::milli>(end - start).count());
      progress_shown = true;
    }
  }
  if (progress_shown) std::fprintf(stderr, "\r%60s\r", "");

  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double p90 = sorted[size_t(std::ceil(0.9 * double(n))) - 1];  // nearest rank
  double mean = 0;
  for (double v : ms) mean += v / double(n);
  const double gflops = 2.0 * double(madds) / (median * 1e-3) / 1e9;
  const int64_t rss = peak_rss_bytes();

  // Profile: per (op type, kernel) and per node, seconds per run.
  std::vector<OpTime> by_op;
  std::vector<const NodeProfile*> nodes;
  std::map<const NodeProfile*, int64_t> node_madds;
  double profiled = 0;
  // GFLOP/s of `madds` multiply-adds in `seconds`, or 0 when either is 0.
  auto rate = [](int64_t madds, double seconds) {
    return madds > 0 && seconds > 0 ? 2.0 * double(madds) / seconds / 1e9 : 0.0;
  };
  if (options.profile) {
    std::map<std::pair<std::string, std::string>, OpTime> groups;
    const std::vector<NodeProfile>& profile = session->profile();  // one entry per node
    for (size_t i = 0; i < profile.size() && i < session->graph().nodes.size(); ++i) {
      const NodeProfile& p = profile[i];
      if (p.runs == 0) continue;
      std::string op = op_type_name(session->graph().nodes[i].op);
      OpTime& g = groups[{op, p.kernel}];
      g.op = op;
      g.kernel = p.kernel;
      g.seconds += p.seconds / double(p.runs);
      g.multiply_adds += node_multiply_adds(session->graph(), i);
      g.count += 1;
      profiled += p.seconds / double(p.runs);
      nodes.push_back(&p);
      node_madds[&p] = node_multiply_adds(session->graph(), i);
    }
    for (auto& entry : groups) by_op.push_back(entry.second);
    std::sort(by_op.begin(), by_op.end(),
              [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
    std::sort(nodes.begin(), nodes.end(), [](const NodeProfile* a, const NodeProfile* b) {
      return a->seconds / double(a->runs) > b->seconds / double(b->runs);
    });
    if (top > 0 && nodes.size() > size_t(top)) nodes.resize(size_t(top));
  }

  const std::string what = arch.empty() ? model_path : arch;
  const Shape& input_shape = model->graph().inputs.empty()
                                 ? Shape()
                                 : model->graph().tensors[size_t(model->graph().inputs[0])].shape;
  std::printf("model      %s  input %s\n", what.c_str(), shape_to_string(input_shape).c_str());
  std::printf("backend    %s, %d thread%s, %lld warmup + %lld runs%s\n",
              backend_name(options.backend), options.threads, options.threads == 1 ? "" : "s",
              warmup, runs, options.profile ? " (profiled: timings include the profiler)" : "");
  std::printf("latency    median %.2f ms  min %.2f ms  p90 %.2f ms  mean %.2f ms\n", median,
              sorted[0], p90, mean);
  std::printf("compute    %.3f G multiply-adds, %.2f GFLOP/s at the median (2 FLOP per MAdd)\n",
              double(madds) / 1e9, gflops);
  std::printf("memory     arena %s (unplanned %s), scratch %s, peak RSS %s\n",
              mib(double(session->arena_bytes())).c_str(),
              mib(double(session->unplanned_bytes())).c_str(),
              mib(double(session->scratch_bytes())).c_str(),
              rss >= 0 ? mib(double(rss)).c_str() : "unknown");
  if (options.profile) {
    // Columns as wide as their longest entry (kernel names carry tile and ISA); node names,
    // which come from the model file, are cut at kNodeWidth.
    constexpr int kNodeWidth = 46;
    int op_width = 2, kernel_width = 6, node_width = 0, node_kernel_width = 0;
    for (const OpTime& g : by_op) {
      op_width = std::max(op_width, int(g.op.size()));
      kernel_width = std::max(kernel_width, int(g.kernel.size()));
    }
    for (const NodeProfile* p : nodes) {
      node_width = std::max(node_width, std::min(kNodeWidth, int(p->node.size())));
      node_kernel_width = std::max(node_kernel_width, int(p->kernel.size()));
    }
    std::printf("\n%-*s %-*s %10s %7s %6s %8s\n", op_width, "op", kernel_width, "kernel", "ms/run",
                "%", "nodes", "GFLOP/s");
    for (const OpTime& g : by_op) {
      std::printf("%-*s %-*s %10.3f %6.1f%% %6d", op_width, g.op.c_str(), kernel_width,
                  g.kernel.c_str(), g.seconds * 1e3,
                  profiled > 0 ? 100.0 * g.seconds / profiled : 0.0, g.count);
      if (g.multiply_adds > 0) std::printf(" %8.1f", rate(g.multiply_adds, g.seconds));
      std::printf("\n");
    }
    // "top nodes" stands over the node and kernel columns; the number columns line up below.
    std::printf("\n%-*s %8s %7s %8s\n", std::max(9, 2 + node_width + 1 + node_kernel_width),
                "top nodes", "ms/run", "%", "GFLOP/s");
    for (const NodeProfile* p : nodes) {
      double s = p->seconds / double(p->runs);
      std::printf("  %-*.*s %-*s %8.3f %6.1f%%", node_width, kNodeWidth, p->node.c_str(),
                  node_kernel_width, p->kernel.c_str(), s * 1e3,
                  profiled > 0 ? 100.0 * s / profiled : 0.0);
      if (node_madds[p] > 0) std::printf(" %8.1f", rate(node_madds[p], s));
      std::printf("\n");
    }
  }

  if (!json_path.empty()) {
    using nlohmann::ordered_json;
    ordered_json out = {
        {"model", arch.empty() ? model_path : ""},
        {"arch", arch},
        {"input_shape", input_shape},
        {"backend", backend_name(options.backend)},
        {"threads", options.threads},
        {"runs", runs},
        {"warmup", warmup},
        {"seed", seed},
        {"profiled", options.profile},
        {"latency_ms",
         {{"median", median}, {"min", sorted[0]}, {"p90", p90}, {"mean", mean}, {"all", ms}}},
        {"multiply_adds", madds},
        {"gflops", gflops},
        {"arena_bytes", session->arena_bytes()},
        {"unplanned_bytes", session->unplanned_bytes()},
        {"scratch_bytes", session->scratch_bytes()},
        {"peak_rss_bytes", rss}};
    if (options.profile) {
      ordered_json ops = ordered_json::array(), top = ordered_json::array();
      for (const auto& entry : by_op)
        ops.push_back({{"op", entry.op},
                       {"kernel", entry.kernel},
                       {"ms_per_run", entry.seconds * 1e3},
                       {"percent", profiled > 0 ? 100 * entry.seconds / profiled : 0.0},
                       {"nodes", entry.count},
                       {"multiply_adds", entry.multiply_adds}});
      for (const NodeProfile* node : nodes)
        top.push_back({{"node", node->node},
                       {"kernel", node->kernel},
                       {"ms_per_run", node->seconds / double(node->runs) * 1e3},
                       {"multiply_adds", node_madds[node]}});
      out["profile"] = {{"by_op", std::move(ops)}, {"top_nodes", std::move(top)}};
    }
    status = write_text_file_atomic(json_path, json_dump(out) + "\n");
    if (!status.ok()) return cli_fail("bench: " + status.message());
  }
  return 0;
}

}  // namespace

CommandRunner add_command_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArguments>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Latency, GFLOP/s, arena and peak memory, and a per-op profile of a model");
  cmd->add_option("MODEL", a->model_path, "a .atrous model file")->type_name("FILE");
  cmd->add_option("--arch", a->arch,
                  "a built-in architecture instead of a file: panoptic-deeplab-mnv3l-os16, "
                  "-mnv3l-os32, -mnv3s-os16, -mnv3s-os32, -resnet50-os32")
      ->type_name("NAME");
  cmd->add_option("--size", a->size_text, "input size (default 1025x2049; a file's own size)")
      ->type_name("HxW");
  add_threads_option(cmd, &a->threads_text);
  add_backend_option(cmd, &a->backend_text, Backend::backend_cpu);
  add_max_memory_option(cmd, &a->max_memory_text);
  cmd->add_option("--runs", a->runs_text, "timed runs, 1 to 100000 (default 10)")->type_name("N");
  cmd->add_option("--warmup", a->warmup_text, "untimed runs first, 0 to 100000 (default 2)")
      ->type_name("N");
  cmd->add_option("--seed", a->seed_text, "seed of the input and of --arch weights (default 0)")
      ->type_name("N");
  cmd->add_flag("--profile", a->profile, "time every node; tables per op and of the slowest nodes");
  cmd->add_option("--top", a->top_text,
                  "with --profile: nodes in the slowest-nodes table (default 15, 0: all)")
      ->type_name("N");
  cmd->add_option("--json", a->json_path, "also write the results as JSON")->type_name("FILE");
  return [a] { return run_bench(*a); };
}

}  // namespace atrous
