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
