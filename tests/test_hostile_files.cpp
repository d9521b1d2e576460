// Hostile files: every truncation and thousands of random byte flips of a valid model must be
// either loaded or rejected with an error — never a crash, hang, huge allocation or an
// out-of-bounds read (CI runs this under AddressSanitizer + UndefinedBehaviorSanitizer).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <random>

#include "graph/format.h"
#include "ops/graph_passes.h"
#include "ops/graph_rules.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

// A loaded file must also survive optimization and a run when its tensors are small.
void exercise(Graph graph) {
  for (const GraphTensor& tensor : graph.tensors)
    if (shape_numel(tensor.shape) > (int64_t(1) << 20)) return;
  std::shared_ptr<const Model> model;
  if (!Model::from_graph(std::move(graph), &model).ok()) return;
  std::unique_ptr<Session> session;
  if (!Session::create(model, SessionOptions(), &session).ok()) return;
  std::vector<Tensor> inputs;
  std::vector<NamedInput> named;
  const Graph& g = session->graph();
  inputs.reserve(g.inputs.size());
  for (int32_t index : g.inputs) {
    inputs.emplace_back(g.tensors[size_t(index)].dtype, g.tensors[size_t(index)].shape);
    std::memset(inputs.back().data(), 0x3c, inputs.back().byte_size());  // small positive floats
    named.push_back({g.tensors[size_t(index)].name, &inputs.back().view()});
  }
  std::vector<Tensor> outputs;
  (void)session->run(named, &outputs);
}

}  // namespace

TEST_CASE("every truncation of a valid file is rejected", "[hostile]") {
  const std::vector<uint8_t> valid = format_write_memory(testing::make_test_graph());
  for (size_t length = 0; length < valid.size(); ++length) {
    Graph graph;
    Status status = graph_load_memory(valid.data(), length, &graph);
    INFO("length " << length);
    REQUIRE_FALSE(status.ok());
    REQUIRE_FALSE(status.message().empty());
  }
}

TEST_CASE("truncations with a matching file size in the header are rejected", "[hostile]") {
  // Patching the recorded size makes the reader go past the header check into the sections.
  const std::vector<uint8_t> valid = format_write_memory(testing::make_test_graph());
  for (size_t length = kFormatHeaderSize; length < valid.size(); ++length) {
    std::vector<uint8_t> bytes(valid.begin(), valid.begin() + long(length));
    uint64_t size = length;
    std::memcpy(&bytes[16], &size, 8);
    Graph graph;
    Status status = graph_load_memory(bytes.data(), bytes.size(), &graph);
    INFO("length " << length);
    REQUIRE_FALSE(status.ok());
  }
}

TEST_CASE("random byte flips either load or fail cleanly", "[hostile]") {
  const std::vector<uint8_t> valid = format_write_memory(testing::make_test_graph());
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> position(0, valid.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  int loaded = 0, rejected = 0;
  for (int variant = 0; variant < 4000; ++variant) {
    std::vector<uint8_t> bytes = valid;
    int count = flips(rng);
    for (int f = 0; f < count; ++f) bytes[position(rng)] = uint8_t(byte(rng));
    Graph graph;
    Status status = graph_load_memory(bytes.data(), bytes.size(), &graph);
    if (status.ok()) {
      ++loaded;
      exercise(std::move(graph));
    } else {
      ++rejected;
      REQUIRE_FALSE(status.message().empty());
    }
  }
  // Both outcomes must occur, or the test is not exercising anything.
  CHECK(loaded > 0);
  CHECK(rejected > 0);
}

TEST_CASE("flips confined to the structure sections are rejected or loaded, never crash",
          "[hostile]") {
  const std::vector<uint8_t> valid = format_write_memory(testing::make_test_graph());
  uint64_t data_offset = 0;
  std::memcpy(&data_offset, &valid[72], 8);
  std::mt19937 rng(777);
  std::uniform_int_distribution<size_t> position(0, size_t(data_offset) - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int rejected = 0;
  for (int variant = 0; variant < 4000; ++variant) {
    std::vector<uint8_t> bytes = valid;
    bytes[position(rng)] = uint8_t(byte(rng));
    Graph graph;
    Status status = graph_load_memory(bytes.data(), bytes.size(), &graph);
    if (status.ok())
      exercise(std::move(graph));
    else
      ++rejected;
  }
  CHECK(rejected > 1000);
}

namespace {

// constant a [dims] and constant b [dims] → concat (axis 0) → relu: the graph input only
// feeds an add so that the model has one.
Graph constant_concat_graph(const Shape& dims) {
  Graph graph;
  const int32_t x = graph.add_tensor("x", DType::dtype_f32, {1});
  graph.inputs.push_back(x);
  const int32_t a = graph.add_constant("a", Tensor(DType::dtype_f32, dims));
  const int32_t b = graph.add_constant("b", Tensor(DType::dtype_f32, dims));
  const int32_t joined = graph.add_tensor("joined", DType::dtype_f32, {});
  const int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
  AttributeMap concat;
  concat.set_int("axis", 0);
  testing::add_node(graph, OpType::op_concat, "concat", {a, b}, {joined}, concat);
  testing::add_node(graph, OpType::op_relu, "relu", {joined}, {y});
  const int32_t z = graph.add_tensor("z", DType::dtype_f32, {});
  testing::add_node(graph, OpType::op_add, "add", {x, x}, {z});
  graph.outputs = {y, z};
  return graph;
}

}  // namespace

TEST_CASE("empty constants whose other dims overflow int64 are refused at load", "[hostile]") {
  // [0, 2^40, 2^40]: no element, but a product of its dims overflows; such a file made
  // constant folding loop ~10^24 times. A shape's non-zero dims must multiply to at most
  // kMaxTensorElements (docs/FORMAT.md), as NumPy requires too.
  const std::vector<uint8_t> bytes =
      format_write_memory(constant_concat_graph({0, int64_t(1) << 40, int64_t(1) << 40}));
  Graph graph;
  Status status = graph_load_memory(bytes.data(), bytes.size(), &graph);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().find("shape") != std::string::npos);
  CHECK(status.message().find('\n') == std::string::npos);
}

TEST_CASE("an empty constant concat with huge dims loads, folds and runs at once", "[hostile]") {
  const std::vector<uint8_t> bytes =
      format_write_memory(constant_concat_graph({0, int64_t(1) << 17, int64_t(1) << 17}));
  std::shared_ptr<const Model> model;
  Status status = Model::load_memory(bytes.data(), bytes.size(), &model);
  INFO(status.message());
  REQUIRE(status.ok());
  for (Backend backend : {Backend::backend_reference, Backend::backend_cpu}) {
    SessionOptions options;
    options.backend = backend;
    std::unique_ptr<Session> session;
    status = Session::create(model, options, &session);
    INFO(status.message());
    REQUIRE(status.ok());
    Tensor x(DType::dtype_f32, {1});
    std::vector<Tensor> outputs;
    REQUIRE(session->run({{"x", &x.view()}}, &outputs).ok());
    REQUIRE(outputs.size() == 2);
    CHECK(outputs[0].shape() == Shape{0, int64_t(1) << 17, int64_t(1) << 17});
  }
}

TEST_CASE("a model needing more than max_memory_bytes fails session creation in one line",
          "[hostile]") {
  // x [1,1,4,4] → resize to 65536×98304 (24 GiB of float32) → relu: valid, but over the
  // default limit of 16 GiB; nothing is allocated before the check.
  Graph graph;
  const int32_t x = graph.add_tensor("x", DType::dtype_f32, {1, 1, 4, 4});
  graph.inputs.push_back(x);
  const int32_t big = graph.add_tensor("big", DType::dtype_f32, {});
  const int32_t y = graph.add_tensor("y", DType::dtype_f32, {});
  AttributeMap resize;
  resize.set_ints("sizes", {65536, 98304});
  testing::add_node(graph, OpType::op_resize, "resize", {x}, {big}, resize);
  testing::add_node(graph, OpType::op_relu, "relu", {big}, {y});
  graph.outputs = {y};
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(std::move(graph), &model).ok());
  for (Backend backend : {Backend::backend_reference, Backend::backend_cpu}) {
    for (int64_t limit : {int64_t(1) << 30, SessionOptions::kDefaultMaxMemoryBytes}) {
      SessionOptions options;
      options.backend = backend;
      options.max_memory_bytes = limit;
      std::unique_ptr<Session> session;
      Status status = Session::create(model, options, &session);
      INFO(status.message());
      REQUIRE_FALSE(status.ok());
      CHECK(status.message().find("over the limit of") != std::string::npos);
      CHECK(status.message().find("max_memory_bytes") != std::string::npos);
      CHECK(status.message().find('\n') == std::string::npos);
    }
  }
  SessionOptions options;
  options.max_memory_bytes = 0;
  std::unique_ptr<Session> session;
  CHECK_FALSE(Session::create(model, options, &session).ok());
}
