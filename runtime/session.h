// The C++ API: a loaded Model (immutable, shareable between threads) and Sessions that run it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "graph/status.h"
#include "graph/tensor.h"

namespace atrous {

class ThreadPool;
struct PointwisePlan;

enum class Backend { backend_reference, backend_cpu, backend_cuda };
bool backend_from_name(const std::string& name, Backend* backend);
const char* backend_name(Backend backend);

struct SessionOptions {
  Backend backend = Backend::backend_reference;
  int threads = 1;
  bool optimize = true;  // run graph_optimize (constant/BN folding, activation fusion) first
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
  const SessionOptions& options() const { return options_; }
  // Checks every graph input is given once with the right dtype and shape, runs the graph,
  // and returns the graph outputs in graph order.
  Status run(const std::vector<NamedInput>& inputs, std::vector<Tensor>* outputs);

 private:
  Status prepare_cpu();
  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  Graph graph_;
  std::vector<int32_t> last_use_;  // per tensor: index of the last node reading it
  // CPU backend: the session's thread pool and, per node, a prepared fast kernel (null: the
  // node runs on the reference implementation).
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<PointwisePlan>> pointwise_;
};

}  // namespace atrous
