// The .atrous reader and writer: round trips and the checks of docs/FORMAT.md.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <functional>

#include "graph/format.h"
#include "ops/graph_rules.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

void put_u64(std::vector<uint8_t>& bytes, size_t at, uint64_t value) {
  std::memcpy(&bytes[at], &value, 8);
}
void put_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  std::memcpy(&bytes[at], &value, 4);
}
uint64_t get_u64(const std::vector<uint8_t>& bytes, size_t at) {
  uint64_t v;
  std::memcpy(&v, &bytes[at], 8);
  return v;
}

std::string load_error(const std::vector<uint8_t>& bytes) {
  Graph graph;
  Status status = graph_load_memory(bytes.data(), bytes.size(), &graph);
  return status.ok() ? std::string() : status.message();
}

}  // namespace

TEST_CASE("a written graph loads back with identical tensors, nodes and metadata", "[format]") {
  Graph original = testing::make_test_graph();
  std::vector<uint8_t> bytes = format_write_memory(original);
  Graph loaded;
  Status status = graph_load_memory(bytes.data(), bytes.size(), &loaded);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(loaded.tensors.size() == original.tensors.size());
  for (size_t t = 0; t < original.tensors.size(); ++t) {
    const GraphTensor& a = original.tensors[t];
    const GraphTensor& b = loaded.tensors[t];
    CHECK(a.name == b.name);
    CHECK(a.is_constant == b.is_constant);
    if (a.is_constant) {
      CHECK(a.shape == b.shape);
      CHECK(reinterpret_cast<uintptr_t>(b.data) % 64 == 0);
      CHECK(std::memcmp(a.data, b.data, size_t(shape_numel(a.shape)) * 4) == 0);
    }
  }
  REQUIRE(loaded.nodes.size() == original.nodes.size());
  for (size_t n = 0; n < original.nodes.size(); ++n) {
    CHECK(loaded.nodes[n].op == original.nodes[n].op);
    CHECK(loaded.nodes[n].name == original.nodes[n].name);
    CHECK(loaded.nodes[n].inputs == original.nodes[n].inputs);
    CHECK(loaded.nodes[n].outputs == original.nodes[n].outputs);
    CHECK(loaded.nodes[n].attributes.size() == original.nodes[n].attributes.size());
  }
  CHECK(loaded.metadata.get_strings("labels", {}) == original.metadata.get_strings("labels", {}));
  CHECK(loaded.metadata.get_ints("thing_classes", {}) == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(loaded.metadata.get_floats("input_mean", {}) == std::vector<double>{127.5, 127.5, 127.5});
  CHECK(loaded.metadata.get_int("label_divisor", 0) == 1000);
  CHECK(loaded.metadata.get_float("center_threshold", 0) == 0.1);
  // Shapes of intermediates are inferred on load.
  CHECK(loaded.tensors[size_t(loaded.outputs[0])].shape == Shape{1, 7, 5, 6});
  CHECK(loaded.tensors[size_t(loaded.outputs[1])].shape == Shape{1, 7, 1, 1});
  // The loaded graph records inferred shapes; from then on write/load is a fixed point.
  std::vector<uint8_t> again = format_write_memory(loaded);
  Graph reloaded;
  REQUIRE(graph_load_memory(again.data(), again.size(), &reloaded).ok());
  CHECK(format_write_memory(reloaded) == again);
}

TEST_CASE("the reader rejects broken headers with a message that says what is wrong", "[format]") {
  const std::vector<uint8_t> valid = format_write_memory(testing::make_test_graph());
  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> damage;
    const char* expected;
  };
  std::vector<Case> cases = {
      {"bad magic", [](std::vector<uint8_t>& b) { b[0] = 'X'; }, "bad magic"},
      {"major version 2", [](std::vector<uint8_t>& b) { put_u32(b, 8, 2); },
       "version 2.0 is not supported"},
      {"file size mismatch", [](std::vector<uint8_t>& b) { put_u64(b, 16, b.size() + 1); },
       "truncated or padded"},
      {"metadata in the header", [](std::vector<uint8_t>& b) { put_u64(b, 24, 64); },
       "overlaps the header"},
      {"tensor section past the end",
       [](std::vector<uint8_t>& b) { put_u64(b, 48, ~uint64_t(0) - 8); }, "lies outside the file"},
      {"unaligned data section",
       [](std::vector<uint8_t>& b) { put_u64(b, 72, get_u64(b, 72) + 4); }, "not 64-byte aligned"},
      {"reserved byte set", [](std::vector<uint8_t>& b) { b[100] = 1; }, "reserved byte"},
      {"huge metadata count",
       [](std::vector<uint8_t>& b) { put_u32(b, size_t(get_u64(b, 24)), 0x7fffffff); },
       "does not fit"},
      {"huge tensor count",
       [](std::vector<uint8_t>& b) { put_u32(b, size_t(get_u64(b, 40)), 0xffffffff); },
       "does not fit"},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      std::vector<uint8_t> bytes = valid;
      c.damage(bytes);
      std::string message = load_error(bytes);
      INFO(message);
      CHECK_THAT(message, Catch::Contains(c.expected));
    }
  }
}

TEST_CASE("the reader rejects graph rule violations", "[format]") {
  SECTION("an unknown op name") {
    Graph graph = testing::make_test_graph();
    std::vector<uint8_t> bytes = format_write_memory(graph);
    // Replace the first node's op string "conv" by "cOnv" in place.
    std::string text(bytes.begin(), bytes.end());
    size_t at =
        text.find(std::string("\x04\x00\x00\x00"
                              "conv",
                              8));
    REQUIRE(at != std::string::npos);
    bytes[at + 5] = 'O';
    CHECK_THAT(load_error(bytes), Catch::Contains("unknown op 'cOnv'"));
  }
  SECTION("nodes out of topological order") {
    Graph graph = testing::make_test_graph();
    std::swap(graph.nodes[0], graph.nodes[1]);
    CHECK_THAT(load_error(format_write_memory(graph)), Catch::Contains("topological order"));
  }
  SECTION("a tensor produced twice") {
    Graph graph = testing::make_test_graph();
    graph.nodes[1].outputs = graph.nodes[0].outputs;
    CHECK_THAT(load_error(format_write_memory(graph)), Catch::Contains("produced more than once"));
  }
  SECTION("a node writing a constant") {
    Graph graph = testing::make_test_graph();
    graph.nodes[0].outputs = {1};
    CHECK_THAT(load_error(format_write_memory(graph)),
               Catch::Contains("graph input or a constant"));
  }
  SECTION("duplicate tensor names") {
    Graph graph = testing::make_test_graph();
    graph.tensors[2].name = graph.tensors[1].name;
    CHECK_THAT(load_error(format_write_memory(graph)), Catch::Contains("used twice"));
  }
  SECTION("an attribute of the wrong type is reported by the shape rules with the node") {
    Graph graph = testing::make_test_graph();
    graph.nodes[0].attributes.set_string("strides", "2");
    std::string message = load_error(format_write_memory(graph));
    CHECK_THAT(message, Catch::Contains("conv1"));
    CHECK_THAT(message, Catch::Contains("strides"));
  }
  SECTION("a graph output that nothing produces") {
    Graph graph = testing::make_test_graph();
    graph.outputs.push_back(graph.add_tensor("dangling", DType::dtype_f32, {}));
    CHECK_THAT(load_error(format_write_memory(graph)), Catch::Contains("never produced"));
  }
}

TEST_CASE("recorded shapes of intermediates and outputs are checked against the shape rules",
          "[format]") {
  // A file whose writer knew every shape: the records are what the runtime infers.
  Graph graph = testing::make_test_graph();
  REQUIRE(graph_infer_shapes(&graph).ok());
  auto tensor = [&graph](const std::string& name) -> GraphTensor& {
    for (GraphTensor& t : graph.tensors)
      if (t.name == name) return t;
    FAIL("no tensor " << name);
    return graph.tensors[0];
  };
  REQUIRE(tensor("conv1").shape == Shape{1, 4, 9, 11});
  REQUIRE(tensor("logits").shape == Shape{1, 7, 5, 6});
  CHECK(load_error(format_write_memory(graph)).empty());

  SECTION("a dim recorded as -1 matches any size, rank 0 means nothing is known") {
    tensor("conv1").shape = {1, -1, 9, -1};
    tensor("logits").shape = {};
    CHECK(load_error(format_write_memory(graph)).empty());
  }
  SECTION("a wrong intermediate shape names the tensor, its producer and both shapes") {
    tensor("conv1").shape = {1, 4, 8, 11};
    CHECK(load_error(format_write_memory(graph)) ==
          "tensor 'conv1' (output of conv 'conv1'): the file records [1,4,8,11] but the shape "
          "rules give [1,4,9,11]; the converter and the runtime disagree");
  }
  SECTION("a wrong graph output shape, and a wrong rank") {
    tensor("logits").shape = {1, 7, 5, 7};
    CHECK(load_error(format_write_memory(graph)) ==
          "tensor 'logits' (output of concat 'concat'): the file records [1,7,5,7] but the shape "
          "rules give [1,7,5,6]; the converter and the runtime disagree");
    tensor("logits").shape = {7, 5, 6};
    CHECK_THAT(load_error(format_write_memory(graph)),
               Catch::Contains("records [7,5,6] but the shape rules give [1,7,5,6]"));
  }
  SECTION("a wrong dtype is reported with the dtypes") {
    tensor("relu").dtype = DType::dtype_i32;
    CHECK(load_error(format_write_memory(graph)) ==
          "tensor 'relu' (output of relu 'relu'): the file records int32 [1,4,9,11] but the shape "
          "rules give float32 [1,4,9,11]; the converter and the runtime disagree");
  }
  SECTION("an unnamed producer is named by its index") {
    tensor("clip").shape = {1, 4, 5, 5};
    for (Node& node : graph.nodes) node.name.clear();
    CHECK_THAT(load_error(format_write_memory(graph)),
               Catch::StartsWith("tensor 'clip' (output of node 4 (clip)): the file records"));
  }
  SECTION("the reader alone keeps the records; graph_load_memory checks them") {
    tensor("conv1").shape = {1, 4, 8, 11};
    std::vector<uint8_t> bytes = format_write_memory(graph);
    Graph read;
    REQUIRE(format_load_memory(bytes.data(), bytes.size(), &read).ok());
    CHECK(read.tensors[size_t(read.nodes[0].outputs[0])].shape == Shape{1, 4, 8, 11});
    Graph loaded;
    CHECK_FALSE(graph_load_memory(bytes.data(), bytes.size(), &loaded).ok());
    CHECK(loaded.tensors.empty());
  }
}

TEST_CASE("format_load_file reports missing and non-model files", "[format]") {
  Graph graph;
  Status status = format_load_file("/nonexistent/model.atrous", &graph);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Catch::Contains("cannot open"));
  status = format_load_file(ATROUS_SOURCE_DIR "/CMakeLists.txt", &graph);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Catch::Contains("not an .atrous file"));
}

// Hidden (not run by default): writes the fuzzing seed, `atrous_tests "[.fuzz-seed]"`.
TEST_CASE("write the fuzz seed corpus", "[.fuzz-seed]") {
  REQUIRE(format_write_file(testing::make_test_graph(),
                            ATROUS_SOURCE_DIR "/fuzz/corpus_loader/test_graph.atrous")
              .ok());
}
