// The C++ API: a loaded Model (immutable, shareable between threads) and Sessions that run it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

class ThreadPool;
class CpuKernel;
class CudaExecutor;

enum class Backend { backend_reference, backend_cpu, backend_cuda };
bool backend_from_name(const std::string& name, Backend* backend);
const char* backend_name(Backend backend);

struct SessionOptions {
  Backend backend = Backend::backend_reference;
  int threads = 1;
  bool optimize = true;  // run graph_optimize (constant/BN folding, activation fusion) first
  bool profile = false;  // time every node (Session::profile)
  // Host memory a session may allocate: the activation arena, kernel scratch and constant
  // folding results together (docs/CLI.md, --max-memory). Checked before any allocation, so a
  // model that needs more fails Session::create with one line instead of aborting.
  int64_t max_memory_bytes = kDefaultMaxMemoryBytes;
  static constexpr int64_t kDefaultMaxMemoryBytes = int64_t(16) << 30;
};

// Per node of the session's graph, accumulated over the runs made with SessionOptions::profile.
struct NodeProfile {
  std::string node;    // node label ("conv 'name'")
  std::string kernel;  // the CPU kernel's name, or "reference"
  double seconds = 0;  // total over all profiled runs
  int64_t runs = 0;
};

class Model {
 public:
  static Status load_file(const std::string& path, std::shared_ptr<const Model>* model);
  static Status load_memory(const void* data, size_t size, std::shared_ptr<const Model>* model);
  // Validates the graph and infers its shapes (for graphs built in code).
  static Status from_graph(Graph graph, std::shared_ptr<const Model>* model);
  const Graph& graph() const { return graph_; }

 private:
  Graph graph_;
};

struct NamedInput {
  std::string name;
  const TensorView* tensor;
};

class Session {
 public:
  ~Session();
  static Status create(std::shared_ptr<const Model> model, const SessionOptions& options,
                       std::unique_ptr<Session>* session);
  // The graph this session executes (after optimization).
  const Graph& graph() const { return graph_; }
  // The options in effect: a `cuda` session on a machine without a CUDA device (or in a build
  // without CUDA) runs on the CPU backend, and options().backend says `cpu`.
  const SessionOptions& options() const { return options_; }
  // Checks every graph input is given once with the right dtype and shape, runs the graph,
  // and returns the graph outputs in graph order. Tensors already in `outputs` with the
  // outputs' dtypes and shapes (an earlier run's) are written over rather than reallocated.
  Status run(const std::vector<NamedInput>& inputs, std::vector<Tensor>* outputs);

  // Bytes of the activation arena planned from tensor liveness (all intermediate tensors and
  // outputs of one run share it), plus the largest kernel scratch.
  size_t arena_bytes() const { return arena_bytes_; }
  size_t scratch_bytes() const { return scratch_bytes_; }
  // Sum of the sizes of all intermediate tensors: what a run would need without reuse.
  size_t unplanned_bytes() const { return unplanned_bytes_; }
  const std::vector<NodeProfile>& profile() const { return profile_; }
  // The session's thread pool (options().threads threads), for work around a run such as the
  // panoptic merger; not to be used while run() is running.
  ThreadPool& thread_pool();

 private:
  Status prepare_cpu();
  Status plan_arena();
  const Graph& exec_graph() const { return fused_graph_.nodes.empty() ? graph_ : fused_graph_; }
  Status check_memory(int64_t needed_bytes, const char* what) const;
  void prepare_run();
  // Checks the caller's inputs and sets given_ (graph input order).
  Status bind_inputs(const std::vector<NamedInput>& inputs);
  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  Graph graph_;
  // CPU backend: the session's thread pool and, per node, a prepared fast kernel (null: the
  // node runs on the reference implementation).
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<CpuKernel>> kernels_;
  // Fused chains (CpuFusedKernel): a copy of graph_ in which the first node of each chain reads
  // and writes the chain's inputs and outputs and the other nodes (fused_[n]) have none; it is
  // what the arena is planned from and run executes. Empty when nothing is fused.
  Graph fused_graph_;
  std::vector<bool> fused_;
  // CUDA backend: runs the whole graph on the device (cuda/cuda_backend.h).
  std::unique_ptr<CudaExecutor> cuda_;
  // The arena: offsets of every planned tensor (SIZE_MAX: not in the arena), one allocation.
  std::vector<size_t> offsets_;
  std::vector<bool> skip_;  // nodes whose output the arena aliasing already produces
  size_t arena_bytes_ = 0, scratch_bytes_ = 0, unplanned_bytes_ = 0;
  int64_t folded_bytes_ = 0;  // constant folding results made by this session
  Tensor arena_, scratch_;
  std::vector<NodeProfile> profile_;
  // Planned by prepare_run() for the CPU and reference backends: a view of every tensor (arena
  // or constant), per node the pointer arrays its kernel takes, and per graph input the node
  // input slots that read it (patched with the caller's views on each run).
  std::vector<TensorView> views_;
  std::vector<std::vector<const TensorView*>> node_inputs_;
  std::vector<std::vector<TensorView*>> node_outputs_;
  std::vector<std::vector<const TensorView**>> input_slots_;
  std::vector<const TensorView*> given_;  // this run's inputs, in graph input order
};

}  // namespace atrous
