// Execution: nodes in topological order; every intermediate tensor is a view into one arena
// planned at session creation by the memory planner (graph/memory_planner.h). With the CPU
// backend, nodes that a fast kernel handles run on it (cpu/cpu_kernel.h), the others on the
// reference implementation. With the CUDA backend the whole graph runs on the CUDA executor
// (cuda/cuda_backend.h), which plans its own device arena with the same planner; without a
// device the session falls back to the CPU backend.
#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "cpu/cpu_kernel.h"
#include "cuda/cuda_backend.h"
#include "graph/memory_planner.h"
#include "graph/thread_pool.h"
#include "ops/graph_passes.h"
#include "ops/graph_rules.h"
#include "ops/ops.h"

namespace atrous {

bool backend_from_name(const std::string& name, Backend* backend) {
  if (name == "reference")
    *backend = Backend::backend_reference;
  else if (name == "cpu")
    *backend = Backend::backend_cpu;
  else if (name == "cuda")
    *backend = Backend::backend_cuda;
  else
    return false;
  return true;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::backend_reference:
      return "reference";
    case Backend::backend_cpu:
      return "cpu";
    case Backend::backend_cuda:
      return "cuda";
  }
  return "unknown";
}

Status Model::load_file(const std::string& path, std::shared_ptr<const Model>* model) {
  auto loaded = std::make_shared<Model>();
  ATROUS_RETURN_IF_ERROR(graph_load_file(path, &loaded->graph_));
  *model = std::move(loaded);
  return Status::success();
}

Status Model::load_memory(const void* data, size_t size, std::shared_ptr<const Model>* model) {
  auto loaded = std::make_shared<Model>();
  ATROUS_RETURN_IF_ERROR(graph_load_memory(data, size, &loaded->graph_));
  *model = std::move(loaded);
  return Status::success();
}

Status Model::from_graph(Graph graph, std::shared_ptr<const Model>* model) {
  ATROUS_RETURN_IF_ERROR(graph_validate(graph));
  ATROUS_RETURN_IF_ERROR(graph_infer_shapes(&graph));
  auto created = std::make_shared<Model>();
  created->graph_ = std::move(graph);
  *model = std::move(created);
  return Status::success();
}

Status Session::create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>* session) {
  if (!model) return Status::error("no model");
  if (options.threads < 1 || options.threads > 1024)
    return Status::error("threads must be in [1, 1024], got " + std::to_string(options.threads));
  if (options.max_memory_bytes < 1)
    return Status::error("max_memory_bytes must be >= 1, got " +
                         std::to_string(options.max_memory_bytes));
  SessionOptions effective = options;
  if (options.backend == Backend::backend_cuda) {
    std::string reason = "this build has no CUDA backend";
#ifdef ATROUS_HAVE_CUDA
    const bool available = cuda_device_available(&reason);
#else
    const bool available = false;
#endif
    if (!available) {
      std::fprintf(stderr, "atrous: no CUDA device (%s); running on the CPU backend\n",
                   reason.c_str());
      effective.backend = Backend::backend_cpu;
    }
  }
  std::unique_ptr<Session> created(new Session());
  created->model_ = std::move(model);
  created->options_ = effective;
  created->graph_ = created->model_->graph();  // shares constant storage with the model
  if (options.optimize)
    ATROUS_RETURN_IF_ERROR(
        graph_optimize(&created->graph_, options.max_memory_bytes, &created->folded_bytes_));
  const Graph& graph = created->graph_;
  // Every tensor computed at run time lives in the arena, so the largest one bounds it from
  // below: checked before the kernels size their tables by these shapes.
  int64_t largest = 0;
  for (const GraphTensor& tensor : graph.tensors) {
    int64_t bytes = 0;
    if (!tensor.is_constant && shape_byte_size(tensor.shape, tensor.dtype, &bytes))
      largest = std::max(largest, bytes);
  }
  ATROUS_RETURN_IF_ERROR(created->check_memory(largest, "activation"));
  if (effective.backend == Backend::backend_cpu) ATROUS_RETURN_IF_ERROR(created->prepare_cpu());
#ifdef ATROUS_HAVE_CUDA
  if (effective.backend == Backend::backend_cuda) {
    CudaOptions cuda_options;
    cuda_options.profile = options.profile;
    ATROUS_RETURN_IF_ERROR(CudaExecutor::create(graph, cuda_options, &created->cuda_));
    created->arena_bytes_ = created->cuda_->arena_bytes();  // device bytes
  }
#endif
  // The CUDA executor plans its own device arena.
  if (!created->cuda_) {
    ATROUS_RETURN_IF_ERROR(created->plan_arena());
    created->prepare_run();
  }
  if (options.profile) {
    created->profile_.resize(graph.nodes.size());
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      created->profile_[n].node = node_label(graph, n);
      created->profile_[n].kernel = created->cuda_ ? "cuda " + created->cuda_->node_kernels()[n]
                                    : n < created->fused_.size() && created->fused_[n] ? "fused"
                                    : created->skip_[n]                                ? "aliased"
                                    : n < created->kernels_.size() && created->kernels_[n]
                                        ? created->kernels_[n]->name()
                                        : "reference";
    }
  }
  *session = std::move(created);
  return Status::success();
}

Session::~Session() = default;

ThreadPool& Session::thread_pool() {
  // A CPU session made it in prepare_cpu(); other backends get one on first use.
  if (!pool_) pool_.reset(new ThreadPool(options_.threads));
  return *pool_;
}

Status Session::prepare_cpu() {
  pool_.reset(new ThreadPool(options_.threads));
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  config.threads = options_.threads;
  kernels_.resize(graph_.nodes.size());
  fused_.assign(graph_.nodes.size(), false);
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (fused_[n]) continue;
    // A node whose outputs are all empty has nothing to do (op_run_reference returns at once);
    // a kernel would only size tables by its (possibly huge) other dims.
    bool all_empty = true;
    for (int32_t index : graph_.nodes[n].outputs)
      all_empty &= shape_numel(graph_.tensors[size_t(index)].shape) == 0;
    if (all_empty) continue;
    CpuFusedKernel fused;
    if (cpu_make_fused_kernel(graph_, n, config, &fused)) {
      if (fused_graph_.nodes.empty()) fused_graph_ = graph_;
      fused_graph_.nodes[n].inputs = fused.inputs;
      fused_graph_.nodes[n].outputs = fused.outputs;
      for (size_t i = 1; i < fused.nodes.size(); ++i) {
        fused_[fused.nodes[i]] = true;
        fused_graph_.nodes[fused.nodes[i]].inputs.clear();
        fused_graph_.nodes[fused.nodes[i]].outputs.clear();
      }
      kernels_[n] = std::move(fused.kernel);
    } else {
      kernels_[n] = cpu_make_kernel(graph_, n, config);
    }
    if (kernels_[n]) scratch_bytes_ = std::max(scratch_bytes_, kernels_[n]->scratch_bytes());
  }
  return Status::success();
}

// The arena (graph/memory_planner.h). The backend's one fact: which prepared CPU kernels can
// write output 0 over input 0.
Status Session::plan_arena() {
  MemoryPlanOptions planning;
  planning.in_place.assign(graph_.nodes.size(), false);
  for (size_t n = 0; n < kernels_.size(); ++n)
    planning.in_place[n] = kernels_[n] && kernels_[n]->supports_in_place();
  MemoryPlan plan;
  ATROUS_RETURN_IF_ERROR(memory_plan(exec_graph(), planning, &plan));
  offsets_ = std::move(plan.offsets);
  skip_ = std::move(plan.skip);
  for (size_t n = 0; n < fused_.size(); ++n)
    if (fused_[n]) skip_[n] = true;
  arena_bytes_ = plan.arena_bytes;
  unplanned_bytes_ = plan.unplanned_bytes;
  // Each term is below 2^62 (the planner's sizes are sums of valid tensor sizes).
  ATROUS_RETURN_IF_ERROR(
      check_memory(int64_t(std::min<size_t>(arena_bytes_, size_t(1) << 62)) +
                       int64_t(std::min<size_t>(scratch_bytes_, size_t(1) << 62)) + folded_bytes_,
                   "activation, scratch and folded-constant"));
  if (arena_bytes_) arena_ = Tensor(DType::dtype_u8, Shape{int64_t(arena_bytes_)});
  if (scratch_bytes_) scratch_ = Tensor(DType::dtype_u8, Shape{int64_t(scratch_bytes_)});
  return Status::success();
}

namespace {

std::string format_bytes(int64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char text[64];
  std::snprintf(text, sizeof(text), unit ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

}  // namespace

Status Session::check_memory(int64_t needed_bytes, const char* what) const {
  if (needed_bytes <= options_.max_memory_bytes) return Status::success();
  return Status::error("model needs " + format_bytes(needed_bytes) + " of " + what +
                       " memory, over the limit of " + format_bytes(options_.max_memory_bytes) +
                       " (SessionOptions::max_memory_bytes / --max-memory)");
}

// Everything run() needs per node is fixed once the arena is planned: the views of every
// tensor (arena slices and constants) and, per node, the arrays of input and output view
// pointers the kernels take. Only the slots that read a graph input are patched per run, with
// the caller's views.
void Session::prepare_run() {
  const Graph& graph = exec_graph();
  views_.assign(graph.tensors.size(), TensorView());
  uint8_t* arena = static_cast<uint8_t*>(arena_.data());
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (tensor.is_constant) {
      views_[t] = graph.constant_view(int32_t(t));
    } else if (offsets_[t] != SIZE_MAX) {
      views_[t].dtype = tensor.dtype;
      views_[t].shape = tensor.shape;
      views_[t].data = arena + offsets_[t];
    }
  }
  std::vector<int32_t> input_of(graph.tensors.size(), -1);  // graph input index per tensor
  for (size_t i = 0; i < graph.inputs.size(); ++i) input_of[size_t(graph.inputs[i])] = int32_t(i);
  node_inputs_.assign(graph.nodes.size(), {});
  node_outputs_.assign(graph.nodes.size(), {});
  input_slots_.assign(graph.inputs.size(), {});
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    for (int32_t index : node.inputs)
      node_inputs_[n].push_back(index == kAbsentInput ? nullptr : &views_[size_t(index)]);
    for (int32_t index : node.outputs) node_outputs_[n].push_back(&views_[size_t(index)]);
  }
  // Slots are taken after every array has its final size, so the pointers stay valid.
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (size_t slot = 0; slot < graph.nodes[n].inputs.size(); ++slot) {
      const int32_t index = graph.nodes[n].inputs[slot];
      if (index != kAbsentInput && input_of[size_t(index)] >= 0)
        input_slots_[size_t(input_of[size_t(index)])].push_back(&node_inputs_[n][slot]);
    }
  given_.assign(graph.inputs.size(), nullptr);
}

Status Session::bind_inputs(const std::vector<NamedInput>& inputs) {
  const Graph& graph = exec_graph();
  std::fill(given_.begin(), given_.end(), nullptr);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const NamedInput& input = inputs[k];
    // Inputs are usually given in the graph's order: one string comparison each.
    int32_t found = -1;
    if (k < graph.inputs.size() && graph.tensors[size_t(graph.inputs[k])].name == input.name)
      found = int32_t(k);
    for (size_t i = 0; found < 0 && i < graph.inputs.size(); ++i)
      if (graph.tensors[size_t(graph.inputs[i])].name == input.name) found = int32_t(i);
    if (found < 0) {
      std::string names;
      for (int32_t index : graph.inputs)
        names += (names.empty() ? "'" : ", '") + graph.tensors[size_t(index)].name + "'";
      return Status::error("unknown input '" + input.name + "' (the model's inputs: " + names +
                           ")");
    }
    const GraphTensor& expected = graph.tensors[size_t(graph.inputs[size_t(found)])];
    if (given_[size_t(found)]) return Status::error("input '" + input.name + "' given twice");
    if (!input.tensor || (!input.tensor->data && input.tensor->numel() != 0))
      return Status::error("input '" + input.name + "' has no data");
    if (input.tensor->dtype != expected.dtype)
      return Status::error("input '" + input.name + "' has dtype " +
                           dtype_name(input.tensor->dtype) + ", the model expects " +
                           dtype_name(expected.dtype));
    if (input.tensor->shape != expected.shape)
      return Status::error("input '" + input.name + "' has shape " +
                           shape_to_string(input.tensor->shape) + ", the model expects " +
                           shape_to_string(expected.shape));
    given_[size_t(found)] = input.tensor;
  }
  for (size_t i = 0; i < graph.inputs.size(); ++i)
    if (!given_[i])
      return Status::error("input '" + graph.tensors[size_t(graph.inputs[i])].name +
                           "' was not given");
  return Status::success();
}

// No allocation, lookup or shape work per node: the node's prepared pointer arrays go straight
// to its kernel. Only the returned outputs are allocated (the API returns owning tensors).
Status Session::run(const std::vector<NamedInput>& inputs, std::vector<Tensor>* outputs) {
  const Graph& graph = exec_graph();
  ATROUS_RETURN_IF_ERROR(bind_inputs(inputs));
  if (cuda_) {
    ATROUS_RETURN_IF_ERROR(cuda_->run(given_, outputs));
    if (options_.profile)
      for (size_t n = 0; n < graph.nodes.size(); ++n) {
        profile_[n].seconds += cuda_->node_seconds()[n];
        profile_[n].runs += 1;
      }
    return Status::success();
  }
  for (size_t i = 0; i < given_.size(); ++i)
    for (const TensorView** slot : input_slots_[i]) *slot = given_[i];
  // The pool's workers wait for the next layer hot during the run, and sleep after it.
  struct Hot {
    ThreadPool* pool;
    explicit Hot(ThreadPool* p) : pool(p) {
      if (pool) pool->set_hot(true);
    }
    ~Hot() {
      if (pool) pool->set_hot(false);
    }
  } hot(pool_.get());
  const bool profile = options_.profile;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (skip_[n]) {  // aliased in the arena: its output is already in place
      if (profile) profile_[n].runs += 1;
      continue;
    }
    const auto start =
        profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    CpuKernel* kernel = n < kernels_.size() ? kernels_[n].get() : nullptr;
    const Status status =
        kernel ? kernel->run(node_inputs_[n], node_outputs_[n], scratch_.data(), *pool_)
               : op_run_reference(graph.nodes[n].op, graph.nodes[n].attributes, node_inputs_[n],
                                  node_outputs_[n]);
    if (!status.ok()) return Status::error(node_label(graph, n) + ": " + status.message());
    if (profile) {
      profile_[n].seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      profile_[n].runs += 1;
    }
  }
  // The outputs are copied out of the arena into the caller's tensors. Tensors left in
  // `outputs` by an earlier run with the same dtypes and shapes are written over: a fresh
  // 185 MB of Panoptic-DeepLab outputs cost ~10 % of each run in zeroing and page faults.
  std::vector<const TensorView*> results;
  results.reserve(graph.outputs.size());
  for (int32_t index : graph.outputs) {
    const TensorView* view = &views_[size_t(index)];
    for (size_t i = 0; i < graph.inputs.size(); ++i)
      if (graph.inputs[i] == index) view = given_[i];  // a graph input returned as an output
    results.push_back(view);
  }
  bool reuse = outputs->size() == results.size();
  for (size_t i = 0; reuse && i < results.size(); ++i)
    reuse =
        (*outputs)[i].dtype() == results[i]->dtype && (*outputs)[i].shape() == results[i]->shape;
  if (!reuse) {
    outputs->clear();
    outputs->reserve(results.size());
    for (const TensorView* view : results) outputs->emplace_back(view->dtype, view->shape);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    Tensor& out = (*outputs)[i];
    if (out.byte_size()) std::memmove(out.data(), results[i]->data, out.byte_size());
  }
  return Status::success();
}

}  // namespace atrous
