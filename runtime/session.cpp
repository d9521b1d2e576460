// Execution: nodes in topological order; every intermediate tensor is a view into one arena
// planned at session creation from tensor liveness. With the CPU backend, nodes that a fast
// kernel handles run on it (cpu/cpu_kernel.h), the others on the reference implementation.
// With the CUDA backend the whole graph runs on the CUDA executor (cuda/cuda_backend.h), which
// plans its own device arena; without a device the session falls back to the CPU backend.
#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "cpu/cpu_kernel.h"
#include "cpu/thread_pool.h"
#include "cuda/cuda_backend.h"
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
  created->model_ = model;
  created->options_ = effective;
  created->graph_ = model->graph();  // shares constant storage with the model
  if (options.optimize) ATROUS_RETURN_IF_ERROR(graph_optimize(&created->graph_));
  const Graph& graph = created->graph_;
  created->last_use_.assign(graph.tensors.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int32_t index : graph.nodes[n].inputs)
      if (index != kAbsentInput) created->last_use_[size_t(index)] = int32_t(n);
  // Graph outputs live to the end.
  for (int32_t index : graph.outputs)
    created->last_use_[size_t(index)] = int32_t(graph.nodes.size());
  if (effective.backend == Backend::backend_cpu) ATROUS_RETURN_IF_ERROR(created->prepare_cpu());
#ifdef ATROUS_HAVE_CUDA
  if (effective.backend == Backend::backend_cuda) {
    CudaOptions cuda_options;
    cuda_options.profile = options.profile;
    ATROUS_RETURN_IF_ERROR(CudaExecutor::create(graph, cuda_options, &created->cuda_));
    created->arena_bytes_ = created->cuda_->arena_bytes();  // device bytes
  }
#endif
  if (!created->cuda_) created->plan_arena();  // the CUDA executor has its own device arena
  if (options.profile) {
    created->profile_.resize(graph.nodes.size());
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      created->profile_[n].node = node_label(graph, n);
      created->profile_[n].kernel = created->cuda_ ? "cuda " + created->cuda_->node_kernels()[n]
                                    : created->skip_[n] ? "aliased"
                                    : n < created->kernels_.size() && created->kernels_[n]
                                        ? created->kernels_[n]->name()
                                        : "reference";
    }
  }
  *session = std::move(created);
  return Status::success();
}

Session::~Session() = default;

Status Session::prepare_cpu() {
  pool_.reset(new ThreadPool(options_.threads));
  CpuKernelConfig config;
  config.isa = cpu_isa_detect();
  config.threads = options_.threads;
  kernels_.resize(graph_.nodes.size());
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    kernels_[n] = cpu_make_kernel(graph_, n, config);
    if (kernels_[n]) scratch_bytes_ = std::max(scratch_bytes_, kernels_[n]->scratch_bytes());
  }
  return Status::success();
}

// The arena. Three kinds of aliasing first, so that some nodes move no data at all:
//  * concat whose inputs are contiguous slices of its output (everything before the axis is 1,
//    e.g. channel concat of batch-1 NCHW): each input is produced straight into its slice and
//    the concat node is skipped;
//  * reshape, flatten and pad by zero everywhere: the output is the input's bytes, the node is
//    skipped;
//  * with the CPU backend, a kernel that supports_in_place() writes output 0 over input 0 when
//    input 0 dies at that node (and neither takes part in other aliasing).
// Then greedy-by-size placement of the alias roots: each root lives from its first member's
// producer to its last member's last reader; roots whose lifetimes overlap get disjoint byte
// ranges, the largest placed first at the lowest offset that fits.
void Session::plan_arena() {
  const Graph& graph = graph_;
  const size_t count = graph.tensors.size();
  std::vector<int32_t> producer(count, -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    for (int32_t index : graph.nodes[n].outputs) producer[size_t(index)] = int32_t(n);
  auto planned = [&](int32_t t) {
    return t >= 0 && producer[size_t(t)] >= 0 && !graph.tensors[size_t(t)].is_constant;
  };
  auto byte_size = [&](size_t t) {
    return size_t(shape_numel(graph.tensors[t].shape)) * dtype_size(graph.tensors[t].dtype);
  };
  std::vector<int32_t> parent(count, -1);
  std::vector<size_t> relative(count, 0);
  std::vector<int> members(count, 0);  // tensors aliased onto this one
  skip_.assign(graph.nodes.size(), false);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    if (node.op != OpType::op_concat || node.outputs.size() != 1) continue;
    const int32_t out = node.outputs[0];
    const Shape& shape = graph.tensors[size_t(out)].shape;
    int64_t axis = node.attributes.get_int("axis", 1);
    if (axis < 0) axis += int64_t(shape.size());
    if (axis < 0 || axis >= int64_t(shape.size()) || !planned(out)) continue;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= shape[size_t(d)];
    bool ok = outer == 1;
    for (size_t i = 0; ok && i < node.inputs.size(); ++i) {
      const int32_t in = node.inputs[i];
      ok = planned(in) && parent[size_t(in)] < 0 &&
           graph.tensors[size_t(in)].dtype == graph.tensors[size_t(out)].dtype;
      for (size_t j = 0; ok && j < i; ++j) ok = node.inputs[j] != in;
    }
    if (!ok) continue;
    size_t offset = 0;
    for (int32_t in : node.inputs) {
      parent[size_t(in)] = out;
      relative[size_t(in)] = offset;
      members[size_t(out)] += 1;
      offset += byte_size(size_t(in));
    }
    skip_[n] = true;
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    bool identity_pad = false;
    if (node.op == OpType::op_pad && node.inputs.size() == 1) {
      const std::vector<int64_t> pads = node.attributes.get_ints("pads", {});
      identity_pad =
          !pads.empty() && std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
    }
    if (node.op != OpType::op_reshape && node.op != OpType::op_flatten && !identity_pad) continue;
    const int32_t in = node.inputs[0], out = node.outputs[0];
    if (!planned(in) || !planned(out) || parent[size_t(out)] >= 0 || members[size_t(out)] > 0)
      continue;
    parent[size_t(out)] = in;
    members[size_t(in)] += 1;
    skip_[n] = true;
  }
  for (size_t n = 0; n < kernels_.size(); ++n) {
    if (!kernels_[n] || !kernels_[n]->supports_in_place()) continue;
    const Node& node = graph.nodes[n];
    const int32_t in = node.inputs.empty() ? -1 : node.inputs[0];
    const int32_t out = node.outputs[0];
    if (!planned(in) || !planned(out) || last_use_[size_t(in)] != int32_t(n)) continue;
    if (parent[size_t(in)] >= 0 || members[size_t(in)] > 0 || parent[size_t(out)] >= 0 ||
        members[size_t(out)] > 0)
      continue;
    if (graph.tensors[size_t(in)].shape != graph.tensors[size_t(out)].shape ||
        graph.tensors[size_t(in)].dtype != graph.tensors[size_t(out)].dtype)
      continue;
    bool other_use = false;  // input 0 must not also be another input of the node
    for (size_t i = 1; i < node.inputs.size(); ++i) other_use |= node.inputs[i] == in;
    if (other_use) continue;
    parent[size_t(out)] = in;
    members[size_t(in)] += 1;
  }
  // Roots, offsets within roots, and root lifetimes.
  std::vector<int32_t> root(count, -1);
  std::vector<size_t> within(count, 0);
  struct Item {
    size_t tensor, bytes;
    int32_t first, last;
  };
  std::vector<Item> items;
  std::vector<int32_t> item_of(count, -1);
  for (size_t t = 0; t < count; ++t) {
    if (!planned(int32_t(t))) continue;
    size_t r = t, offset = 0;
    while (parent[r] >= 0) {
      offset += relative[r];
      r = size_t(parent[r]);
    }
    root[t] = int32_t(r);
    within[t] = offset;
    unplanned_bytes_ += (byte_size(t) + 63) / 64 * 64;
    if (item_of[r] < 0) {
      item_of[r] = int32_t(items.size());
      items.push_back({r, (byte_size(r) + 63) / 64 * 64, INT32_MAX, -1});
    }
    Item& item = items[size_t(item_of[r])];
    item.first = std::min(item.first, producer[t]);
    item.last = std::max({item.last, last_use_[t], producer[t]});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& x, const Item& y) { return x.bytes > y.bytes; });
  std::vector<size_t> root_offset(count, SIZE_MAX);
  std::vector<const Item*> placed;
  for (const Item& item : items) {
    // Byte ranges of placed roots alive at the same time, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Item* other : placed)
      if (!(other->last < item.first || item.last < other->first))
        busy.emplace_back(root_offset[other->tensor], root_offset[other->tensor] + other->bytes);
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& range : busy) {
      if (range.first >= offset + item.bytes) break;
      offset = std::max(offset, range.second);
    }
    root_offset[item.tensor] = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + item.bytes);
    placed.push_back(&item);
  }
  offsets_.assign(count, SIZE_MAX);
  for (size_t t = 0; t < count; ++t)
    if (root[t] >= 0) offsets_[t] = root_offset[size_t(root[t])] + within[t];
  if (arena_bytes_) arena_ = Tensor(DType::dtype_u8, Shape{int64_t(arena_bytes_)});
  if (scratch_bytes_) scratch_ = Tensor(DType::dtype_u8, Shape{int64_t(scratch_bytes_)});
}

Status Session::run(const std::vector<NamedInput>& inputs, std::vector<Tensor>* outputs) {
  const Graph& graph = graph_;
  std::vector<const TensorView*> input_views(graph.tensors.size(), nullptr);
  for (const NamedInput& input : inputs) {
    int32_t found = -1;
    for (int32_t index : graph.inputs)
      if (graph.tensors[size_t(index)].name == input.name) found = index;
    if (found < 0) {
      std::string names;
      for (int32_t index : graph.inputs)
        names += (names.empty() ? "'" : ", '") + graph.tensors[size_t(index)].name + "'";
      return Status::error("unknown input '" + input.name + "' (the model's inputs: " + names +
                           ")");
    }
    const GraphTensor& expected = graph.tensors[size_t(found)];
    if (input_views[size_t(found)]) return Status::error("input '" + input.name + "' given twice");
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
    input_views[size_t(found)] = input.tensor;
  }
  for (int32_t index : graph.inputs)
    if (!input_views[size_t(index)])
      return Status::error("input '" + graph.tensors[size_t(index)].name + "' was not given");

  if (cuda_) {
    std::vector<const TensorView*> ordered;
    for (int32_t index : graph.inputs) ordered.push_back(input_views[size_t(index)]);
    ATROUS_RETURN_IF_ERROR(cuda_->run(ordered, outputs));
    if (options_.profile)
      for (size_t n = 0; n < graph.nodes.size(); ++n) {
        profile_[n].seconds += cuda_->node_seconds()[n];
        profile_[n].runs += 1;
      }
    return Status::success();
  }
  // Intermediate tensors are views into the arena; constants into the model.
  std::vector<TensorView> views(graph.tensors.size());
  auto view_of = [&](int32_t index) -> const TensorView* {
    if (input_views[size_t(index)]) return input_views[size_t(index)];
    return &views[size_t(index)];
  };
  uint8_t* arena = static_cast<uint8_t*>(arena_.data());
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const GraphTensor& tensor = graph.tensors[t];
    if (tensor.is_constant) {
      views[t] = graph.constant_view(int32_t(t));
    } else if (offsets_[t] != SIZE_MAX) {
      views[t].dtype = tensor.dtype;
      views[t].shape = tensor.shape;
      views[t].data = arena + offsets_[t];
    }
  }
  std::vector<const TensorView*> node_inputs;
  std::vector<TensorView*> node_outputs;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    node_inputs.clear();
    node_outputs.clear();
    for (int32_t index : node.inputs)
      node_inputs.push_back(index == kAbsentInput ? nullptr : view_of(index));
    for (int32_t index : node.outputs) node_outputs.push_back(&views[size_t(index)]);
    if (skip_[n]) {  // aliased in the arena: its output is already in place
      if (options_.profile) profile_[n].runs += 1;
      continue;
    }
    const auto start = options_.profile ? std::chrono::steady_clock::now()
                                        : std::chrono::steady_clock::time_point();
    Status status;
    if (n < kernels_.size() && kernels_[n])
      status = kernels_[n]->run(node_inputs, node_outputs, scratch_.data(), *pool_);
    else
      status = op_run_reference(node.op, node.attributes, node_inputs, node_outputs);
    if (!status.ok()) return Status::error(node_label(graph, n) + ": " + status.message());
    if (options_.profile) {
      profile_[n].seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      profile_[n].runs += 1;
    }
  }
  outputs->clear();
  for (int32_t index : graph.outputs) {
    const TensorView* view = view_of(index);
    Tensor copy(view->dtype, view->shape);
    if (copy.byte_size()) std::memcpy(copy.data(), view->data, copy.byte_size());
    outputs->push_back(std::move(copy));
  }
  return Status::success();
}

}  // namespace atrous
