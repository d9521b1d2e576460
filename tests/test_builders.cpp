// models/builders: every architecture builds, validates and runs to finite, non-trivial outputs;
// weights are a function of the seed; unknown names and bad sizes are errors that say why.
// (Structure against the PyTorch export: tests/python/test_builders.py.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "models/builders.h"
#include "runtime/session.h"

namespace atrous {
namespace {

struct Moments {
  double mean = 0, stddev = 0;
  bool finite = true;
};

Moments moments(const Tensor& t) {
  Moments m;
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.f32()[i];
    if (!std::isfinite(v)) m.finite = false;
    sum += v;
    squares += v * v;
  }
  m.mean = sum / double(t.numel());
  m.stddev = std::sqrt(std::max(0.0, squares / double(t.numel()) - m.mean * m.mean));
  return m;
}

}  // namespace

TEST_CASE("every architecture builds and runs to finite, non-trivial outputs", "[builders]") {
  REQUIRE(architecture_names().size() == 5);
  for (const std::string& name : architecture_names()) {
    INFO(name);
    Graph graph;
    Status status = build_architecture(name, 33, 47, 7, &graph);
    REQUIRE(status.ok());
    CHECK(graph.metadata.get_string("task", "") == "panoptic");
    CHECK(graph.metadata.get_ints("input_size", {}) == std::vector<int64_t>{33, 47});
    std::shared_ptr<const Model> model;
    REQUIRE(Model::from_graph(std::move(graph), &model).ok());
    SessionOptions options;
    options.backend = Backend::backend_cpu;
    std::unique_ptr<Session> session;
    REQUIRE(Session::create(model, options, &session).ok());
    Tensor image(DType::dtype_f32, {1, 3, 33, 47});
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (int64_t i = 0; i < image.numel(); ++i) image.f32()[i] = uniform(rng);
    std::vector<Tensor> outputs;
    REQUIRE(session->run({{"image", &image.view()}}, &outputs).ok());
    REQUIRE(outputs.size() == 3);
    const int64_t channels[] = {19, 1, 2};
    for (size_t o = 0; o < 3; ++o) {
      INFO("output " << o);
      CHECK(outputs[o].shape() == Shape{1, channels[o], 33, 47});
      Moments m = moments(outputs[o]);
      CHECK(m.finite);
      // He-scaled weights keep activations O(1): neither vanishing nor exploding.
      CHECK(m.stddev > 1e-3);
      CHECK(m.stddev < 1e3);
      CHECK(std::fabs(m.mean) < 1e3);
    }
  }
}

TEST_CASE("builder weights are a function of the seed", "[builders]") {
  Graph a, b, c;
  const std::string name = "panoptic-deeplab-mnv3s-os32";
  REQUIRE(build_architecture(name, 17, 19, 1, &a).ok());
  REQUIRE(build_architecture(name, 17, 19, 1, &b).ok());
  REQUIRE(build_architecture(name, 17, 19, 2, &c).ok());
  REQUIRE(a.tensors.size() == b.tensors.size());
  REQUIRE(a.tensors.size() == c.tensors.size());
  int constants = 0, differing = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    if (!a.tensors[i].is_constant) continue;
    ++constants;
    size_t bytes = size_t(shape_numel(a.tensors[i].shape)) * sizeof(float);
    CHECK(std::memcmp(a.tensors[i].data, b.tensors[i].data, bytes) == 0);
    if (std::memcmp(a.tensors[i].data, c.tensors[i].data, bytes) != 0) ++differing;
  }
  CHECK(constants > 100);
  // Everything but the offset scale (a function of the size only) depends on the seed.
  CHECK(differing == constants - 1);
}

TEST_CASE("architecture errors name the problem", "[builders]") {
  Graph graph;
  Status status = build_architecture("panoptic-deeplab-mnv3l-os8", 65, 129, 0, &graph);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message().find("unknown architecture 'panoptic-deeplab-mnv3l-os8'") !=
        std::string::npos);
  for (const std::string& name : architecture_names())
    CHECK(status.message().find(name) != std::string::npos);
  for (auto size : {std::pair<int64_t, int64_t>{0, 5}, {5, -1}, {20000, 5}}) {
    status = build_architecture("panoptic-deeplab-mnv3l-os32", size.first, size.second, 0, &graph);
    CHECK_FALSE(status.ok());
    CHECK(status.message().find("out of range") != std::string::npos);
  }
  int64_t h = 0, w = 0;
  CHECK(parse_image_size("1025x2049", &h, &w));
  CHECK((h == 1025 && w == 2049));
  for (const char* bad :
       {"", "x", "12x", "x12", "0x5", "5x0", "-1x5", "1x2x3", "1.5x2", "1234567890x2"})
    CHECK_FALSE(parse_image_size(bad, &h, &w));
}

}  // namespace atrous
