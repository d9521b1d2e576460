// The panoptic merger: one hand-made case per rule of docs/PANOPTIC.md "Algorithm", the centers
// against a direct max-pool, thread-count and grid invariance on random inputs (many centers, far
// and NaN points, ties), reused results, parameter parsing, errors, and the C API. The exhaustive
// comparison with an independent NumPy oracle is tests/python/test_panoptic_merger.py.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "atrous.h"
#include "models/panoptic_merger.h"

using namespace atrous;

namespace {

// Inputs owned by the test: labels [H,W], heatmap [1,H,W], offsets [2,H,W] (zero by default).
struct Case {
  int h, w;
  std::vector<int32_t> labels;
  std::vector<float> logits;  // optional [C,H,W]
  int classes = 0;
  std::vector<float> heat, offset;
  Case(int height, int width, int32_t fill)
      : h(height),
        w(width),
        labels(size_t(height * width), fill),
        heat(size_t(height * width), 0.f),
        offset(size_t(2 * height * width), 0.f) {}
  int32_t& label(int y, int x) { return labels[size_t(y * w + x)]; }
  float& center(int y, int x) { return heat[size_t(y * w + x)]; }
  void point(int y, int x, int ty, int tx) {  // offset of (y, x) to (ty, tx)
    offset[size_t(y * w + x)] = float(ty - y);
    offset[size_t(h * w + y * w + x)] = float(tx - x);
  }
  PanopticInputs inputs() {
    PanopticInputs in;
    if (logits.empty())
      in.semantic = {DType::dtype_i32, {h, w}, labels.data()};
    else
      in.semantic = {DType::dtype_f32, {classes, h, w}, logits.data()};
    in.center = {DType::dtype_f32, {1, h, w}, heat.data()};
    in.offset = {DType::dtype_f32, {2, h, w}, offset.data()};
    return in;
  }
};

PanopticParams make_params(PanopticConvention convention, std::vector<int32_t> things = {3, 4}) {
  PanopticParams p = panoptic_params_default(convention);
  p.thing_classes = std::move(things);
  p.nms_kernel = 3;
  p.stuff_area_limit = 0;
  return p;
}

PanopticResult merge(Case& c, const PanopticParams& p, int threads = 1) {
  PanopticResult r;
  Status s = panoptic_merge(c.inputs(), p, threads, &r);
  INFO(s.message());
  REQUIRE(s.ok());
  return r;
}

Case random_case(uint32_t seed, int h, int w, int peaks, int classes) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::normal_distribution<float> normal(0.f, 4.f);
  Case c(h, w, 0);
  c.classes = classes;
  c.logits.resize(size_t(classes * h * w));
  for (float& v : c.logits) v = normal(rng);
  for (float& v : c.heat) v = unit(rng) * 0.11f;
  for (int i = 0; i < peaks; ++i)
    c.center(int(rng() % unsigned(h)), int(rng() % unsigned(w))) = 0.2f + unit(rng);
  for (float& v : c.offset) v = normal(rng);
  return c;
}

}  // namespace

TEST_CASE("merger: threshold is strict, NMS keeps plateaus, top-k per convention", "[panoptic]") {
  for (PanopticConvention conv : {panoptic_convention_deeplab2, panoptic_convention_detectron2}) {
    Case c(10, 20, 3);
    c.center(1, 1) = 0.1f;                   // == threshold: not a center
    c.center(5, 5) = c.center(5, 6) = 0.5f;  // plateau: both survive
    c.center(8, 15) = 0.6f;
    c.center(8, 16) = 0.59f;  // suppressed by its neighbour
    PanopticParams p = make_params(conv);
    p.top_k = 0;
    PanopticResult r = merge(c, p);
    REQUIRE(r.centers.size() == 3);
    CHECK((r.centers[0].y == 5 && r.centers[0].x == 5 && r.centers[1].x == 6 &&
           r.centers[2].x == 15));
    // K == number of centers: deeplab2 keeps all (only N > K triggers); detectron2 keeps > K-th
    // (0.5, tied twice: only 0.6 stays).
    p.top_k = 3;
    CHECK(merge(c, p).centers.size() == (conv == panoptic_convention_deeplab2 ? 3u : 1u));
    // K = 2 with a tie at the K-th value (0.5, 0.5): both tied centers drop.
    p.top_k = 2;
    r = merge(c, p);
    REQUIRE(r.centers.size() == 1);
    CHECK(r.centers[0].x == 15);
  }
}

TEST_CASE("merger: equidistant pixels go to the first center; vote ties to the smaller class",
          "[panoptic]") {
  Case c(1, 11, 4);
  c.center(0, 2) = c.center(0, 8) = 0.5f;
  c.label(0, 0) = c.label(0, 1) = 3;  // instance 1: three 4s (x=2..4) vs... set below
  // instance of center 0 (x ≤ 5 by the tie rule): x=0,1 class 3; x=2..5 class 4 → class 4.
  PanopticParams p = make_params(panoptic_convention_deeplab2);
  p.nms_kernel = 1;
  PanopticResult r = merge(c, p);
  CHECK(r.instance[5] == 1);
  CHECK(r.panoptic[5] == r.panoptic[2]);
  CHECK(r.panoptic[2] / 1000 == 4);
  // make it a 3-3 tie inside instance 1: x=0..2 class 3, x=3..5 class 4 → class 3 wins
  c.label(0, 2) = 3;
  r = merge(c, p);
  CHECK(r.panoptic[0] == 3001);
  CHECK(r.panoptic[5] == 3001);
  CHECK(r.panoptic[8] == 4001);
}

TEST_CASE("merger: ids follow raster first appearance (deeplab2) or center index (detectron2)",
          "[panoptic]") {
  Case c(6, 12, 3);
  c.center(0, 10) = 0.9f;  // center 0
  c.center(5, 1) = 0.8f;   // center 1
  // pixel (0,0) (first in raster order) belongs to center 1; the rest to the nearest.
  c.point(0, 0, 5, 1);
  PanopticParams p = make_params(panoptic_convention_deeplab2);
  PanopticResult r = merge(c, p);
  CHECK(r.instance[0] == 2);
  CHECK(r.panoptic[0] == 3001);
  CHECK(r.panoptic[10] == 3002);
  p = make_params(panoptic_convention_detectron2);
  r = merge(c, p);
  CHECK(r.panoptic[0] == 3002);
  CHECK(r.panoptic[10] == 3001);
}

TEST_CASE("merger: stuff area limit, void values, thing pixels without centers", "[panoptic]") {
  for (PanopticConvention conv : {panoptic_convention_deeplab2, panoptic_convention_detectron2}) {
    Case c(4, 10, 0);
    for (int x = 0; x < 4; ++x) c.label(1, x) = 1;  // area 4 = limit − 1
    for (int x = 0; x < 5; ++x) c.label(2, x) = 2;  // area 5 = limit
    for (int x = 0; x < 6; ++x) c.label(3, x) = 6;  // area 6 = limit + 1
    c.label(0, 9) = 3;                              // a thing pixel, no centers
    PanopticParams p = make_params(conv);
    p.stuff_area_limit = 5;
    PanopticResult r = merge(c, p);
    const int32_t v = conv == panoptic_convention_deeplab2 ? 255000 : -1;
    CHECK(r.void_value == v);
    CHECK(r.panoptic[1 * 10 + 0] == v);
    CHECK(r.panoptic[2 * 10 + 0] == 2000);
    CHECK(r.panoptic[3 * 10 + 0] == 6000);
    CHECK(r.panoptic[9] == v);
    CHECK(r.panoptic[0] == 0);
    CHECK(r.centers.empty());
    REQUIRE(r.segments.size() == 3);  // classes 0, 2, 6; none for 1 or the thing pixel
    CHECK(r.segments[1].category_id == 2);
    CHECK(r.segments[1].area == 5);
    CHECK((r.segments[1].bbox[0] == 0 && r.segments[1].bbox[1] == 2 && r.segments[1].bbox[2] == 5 &&
           r.segments[1].bbox[3] == 1));
  }
}

// Found by fuzz/fuzz_params.cpp: with no thing class among the model's classes (an empty list,
// or ids past the last class) but centers above the threshold, the vote indexed an empty
// histogram (undefined behaviour, reported by the sanitizer builds).
TEST_CASE("merger: centers without any thing class give stuff only", "[panoptic]") {
  for (PanopticConvention conv : {panoptic_convention_deeplab2, panoptic_convention_detectron2}) {
    for (std::vector<int32_t> things : {std::vector<int32_t>{}, std::vector<int32_t>{7, 9}}) {
      Case c = random_case(5, 6, 7, 3, 4);
      PanopticParams p = make_params(conv, things);
      PanopticResult r = merge(c, p);
      CHECK(!r.centers.empty());
      for (const PanopticSegmentInfo& segment : r.segments) CHECK(!segment.isthing);
      for (size_t i = 0; i < r.panoptic.size(); ++i)
        CHECK(r.panoptic[i] == r.semantic[i] * p.label_divisor);
    }
  }
}

TEST_CASE("merger: detectron2's void_label -1 gives detectron2's void pixels", "[panoptic]") {
  // detectron2 fills void with void_label itself, and its Panoptic-DeepLab passes -1: the value
  // the detectron2 convention writes. A deeplab2 model's void_label (255) is not used there.
  Case c(4, 10, 0);
  for (int x = 0; x < 4; ++x) c.label(1, x) = 1;
  c.label(0, 9) = 3;  // a thing pixel without centers: void
  PanopticParams p = make_params(panoptic_convention_detectron2);
  p.stuff_area_limit = 5;
  CHECK(p.void_label == -1);  // the convention's default
  PanopticResult with_minus_one = merge(c, p);
  p.void_label = 255;
  PanopticResult with_255 = merge(c, p);
  CHECK(with_minus_one.void_value == -1);
  CHECK(with_minus_one.panoptic[9] == -1);
  CHECK(with_minus_one.panoptic == with_255.panoptic);
  Status s;
  PanopticParams from_json = panoptic_params_from_json(
      R"({"thing_classes": [3], "void_label": -1, "convention": "detectron2"})", &s);
  REQUIRE(s.ok());
  CHECK(from_json.void_label == -1);
  // deeplab2 multiplies void_label by label_divisor: a negative one stays an error.
  panoptic_params_from_json(R"({"thing_classes": [3], "void_label": -1})", &s);
  CHECK_THAT(s.message(), Catch::Contains("void_label must be >= 0 with the deeplab2 convention"));
  panoptic_params_from_json(
      R"({"thing_classes": [3], "void_label": -2, "convention": "detectron2"})", &s);
  CHECK_THAT(s.message(), Catch::Contains("void_label must be >= -1"));
}

TEST_CASE("merger: an unknown parameter key is an error naming the closest known key",
          "[panoptic]") {
  Status s;
  panoptic_params_from_json(R"({"thing_classes": [3], "nms_kernal": 7})", &s);
  CHECK_THAT(s.message(), Catch::Contains("params JSON: unknown key \"nms_kernal\""));
  CHECK_THAT(s.message(), Catch::Contains("closest known key is \"nms_kernel\""));
  panoptic_params_from_json(R"({"thing_classes": [3], "stuff_area": 2048})", &s);
  CHECK_THAT(s.message(), Catch::Contains("\"stuff_area_limit\""));
  panoptic_params_from_json(R"({"thing_class": [3]})", &s);
  CHECK_THAT(s.message(), Catch::Contains("unknown key \"thing_class\""));
  // The metadata holds other keys too: only near-misses of a merge key are refused there.
  AttributeMap m;
  m.set_ints("thing_classes", {3});
  m.set_string("producer", "test");
  m.set_string("training_dataset", "cityscapes");
  panoptic_params_from_metadata(m, panoptic_convention_deeplab2, &s);
  CHECK(s.ok());
  m.set_int("topk", 100);
  panoptic_params_from_metadata(m, panoptic_convention_deeplab2, &s);
  CHECK_THAT(s.message(), Catch::Contains("model metadata: unknown key \"topk\""));
  CHECK_THAT(s.message(), Catch::Contains("\"top_k\""));
}

TEST_CASE("merger: outputs are identical for any thread count and with or without the grid",
          "[panoptic][threads]") {
  for (PanopticConvention conv : {panoptic_convention_deeplab2, panoptic_convention_detectron2}) {
    Case c = random_case(5, 67, 93, 300, 7);
    PanopticParams p = make_params(conv, {2, 3, 4, 5});
    p.nms_kernel = conv == panoptic_convention_deeplab2 ? 4 : 5;
    PanopticResult one = merge(c, p, 1);
    CHECK(one.centers.size() > 100);
    for (int threads : {2, 5}) {
      PanopticResult many = merge(c, p, threads);
      CHECK(many.panoptic == one.panoptic);
      CHECK(many.instance == one.instance);
      REQUIRE(many.segments.size() == one.segments.size());
      for (size_t i = 0; i < one.segments.size(); ++i) {
        CHECK(many.segments[i].id == one.segments[i].id);
        CHECK(many.segments[i].score == one.segments[i].score);  // bitwise
      }
    }
    p.spatial_grid = false;
    PanopticResult brute = merge(c, p, 2);
    CHECK(brute.instance == one.instance);
    CHECK(brute.panoptic == one.panoptic);
  }
}

namespace {

// The centers by the definition (docs/PANOPTIC.md, "Algorithm" steps 3–4): threshold (≤ thr → 0 or
// −1), max-pool with the convention's padding (0 or −inf) over the kernel window, keep v > 0 where
// pooled == v, in raster order. No top-k.
std::vector<PanopticCenter> direct_centers(const Case& c, const PanopticParams& p) {
  const bool deeplab2 = p.convention == panoptic_convention_deeplab2;
  const float below = deeplab2 ? 0.f : -1.f;
  const float pad = deeplab2 ? 0.f : -std::numeric_limits<float>::infinity();
  const int before = (p.nms_kernel - 1) / 2, after = p.nms_kernel - 1 - before;
  auto value = [&](int y, int x) {
    if (y < 0 || y >= c.h || x < 0 || x >= c.w) return pad;
    const float v = c.heat[size_t(y * c.w + x)];
    return v > p.center_threshold ? v : below;
  };
  std::vector<PanopticCenter> out;
  for (int y = 0; y < c.h; ++y)
    for (int x = 0; x < c.w; ++x) {
      const float v = value(y, x);
      float pooled = -std::numeric_limits<float>::infinity();
      for (int dy = -before; dy <= after; ++dy)
        for (int dx = -before; dx <= after; ++dx) pooled = std::max(pooled, value(y + dy, x + dx));
      if (v > 0 && pooled == v) out.push_back({y, x, v});
    }
  return out;
}

}  // namespace

TEST_CASE("merger: centers equal the threshold and max-pool definition", "[panoptic]") {
  std::mt19937 rng(31);
  for (PanopticConvention conv : {panoptic_convention_deeplab2, panoptic_convention_detectron2}) {
    for (int trial = 0; trial < 40; ++trial) {
      Case c(1 + int(rng() % 40), 1 + int(rng() % 70), 3);
      // Few distinct values: plateaus and ties inside windows; a floor above or below 0.
      const int levels = 2 + int(rng() % 6);
      const float floor = rng() % 3 == 0 ? -0.3f : 0.f;
      for (float& v : c.heat) v = floor + float(int(rng() % unsigned(levels))) / float(levels);
      if (trial % 5 == 0) c.heat[rng() % c.heat.size()] = std::numeric_limits<float>::quiet_NaN();
      PanopticParams p = make_params(conv);
      p.top_k = 0;
      p.nms_kernel =
          conv == panoptic_convention_deeplab2 ? 1 + int(rng() % 8) : 1 + 2 * int(rng() % 5);
      p.center_threshold = trial % 7 == 0 ? -0.2f : float(int(rng() % 4)) * 0.2f;
      const std::vector<PanopticCenter> expected = direct_centers(c, p);
      for (int threads : {1, 3}) {
        const PanopticResult r = merge(c, p, threads);
        INFO("trial " << trial << " kernel " << p.nms_kernel << " threshold "
                      << p.center_threshold);
        REQUIRE(r.centers.size() == expected.size());
        for (size_t i = 0; i < expected.size(); ++i) {
          CHECK(r.centers[i].y == expected[i].y);
          CHECK(r.centers[i].x == expected[i].x);
          CHECK(r.centers[i].score == expected[i].score);
        }
      }
    }
  }
}

TEST_CASE("merger: the grid equals the scan of all centers on many centers, far points and ties",
          "[panoptic]") {
  std::mt19937 rng(37);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int trial = 0; trial < 12; ++trial) {
    const int h = 20 + int(rng() % 120), w = 20 + int(rng() % 200);
    const int classes = trial % 3 == 0 ? 40 : 8;  // over 32 classes: the thing test gathers
    Case c(h, w, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        c.label(y, x) = ((y / 7) * 5 + (x / 9) * 3 + int(rng() % 9 == 0)) % classes;
    const int peaks =
        trial % 4 == 0 ? int(rng() % 2) : int(rng() % 1500);  // 0 or 1 center, or many
    for (int i = 0; i < peaks; ++i)
      c.center(int(rng() % unsigned(h)), int(rng() % unsigned(w))) =
          0.2f + float(rng() % 50) * 0.01f;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float& dy = c.offset[size_t(y * w + x)];
        float& dx = c.offset[size_t(h * w + y * w + x)];
        switch (rng() % 6) {
          case 0:
            dy = float(int(rng() % 21) - 10) * 0.5f;
            dx = float(int(rng() % 21) - 10) * 0.5f;
            break;  // ties
          case 1:
            dy = float(h) * (rng() % 2 ? 3.f : -2.f);
            dx = 1e6f;
            break;  // far
          case 2:
            dy = nan;
            break;
          default:
            dy = float(int(rng() % 200) - 100) * 0.13f;
            dx = float(int(rng() % 200) - 100) * 0.17f;
            break;
        }
      }
    std::vector<int32_t> things;
    for (int k = 0; k < classes; ++k)
      if (rng() % 2) things.push_back(k);
    PanopticParams p = make_params(
        trial % 2 ? panoptic_convention_detectron2 : panoptic_convention_deeplab2, things);
    p.top_k = 0;
    p.nms_kernel = 1;
    const PanopticResult fast = merge(c, p, 1 + trial % 3);
    p.spatial_grid = false;
    const PanopticResult brute = merge(c, p, 1);
    INFO("trial " << trial << " centers " << brute.centers.size());
    REQUIRE(fast.centers.size() == brute.centers.size());
    CHECK(fast.instance == brute.instance);
    CHECK(fast.panoptic == brute.panoptic);
    REQUIRE(fast.segments.size() == brute.segments.size());
    for (size_t i = 0; i < fast.segments.size(); ++i) {
      CHECK(fast.segments[i].id == brute.segments[i].id);
      CHECK(fast.segments[i].area == brute.segments[i].area);
    }
  }
}

TEST_CASE("merger: a reused result is rewritten entirely, whatever the previous size",
          "[panoptic]") {
  Case big = random_case(41, 70, 90, 200, 6), small = random_case(43, 33, 41, 60, 6);
  PanopticParams p = make_params(panoptic_convention_deeplab2, {2, 3, 4});
  PanopticResult reused;
  for (Case* c : {&big, &small, &big, &small}) {
    REQUIRE(panoptic_merge(c->inputs(), p, 2, &reused).ok());
    const PanopticResult fresh = merge(*c, p, 1);
    CHECK(reused.semantic == fresh.semantic);
    CHECK(reused.instance == fresh.instance);
    CHECK(reused.panoptic == fresh.panoptic);
    CHECK(reused.segments.size() == fresh.segments.size());
  }
}

TEST_CASE("merger: scores are mean P(class) × center score, or the center score with labels",
          "[panoptic]") {
  Case c(2, 2, 3);
  c.classes = 5;
  c.logits.assign(size_t(5 * 4), 0.f);
  for (int i = 0; i < 4; ++i) c.logits[size_t(3 * 4 + i)] = std::log(3.f);  // P(3) = 3/7 everywhere
  c.center(0, 0) = 0.5f;
  PanopticParams p = make_params(panoptic_convention_deeplab2);
  PanopticResult r = merge(c, p);
  REQUIRE(r.segments.size() == 1);
  CHECK(r.segments[0].score == Approx(3.0 / 7.0 * 0.5).epsilon(1e-6));
  c.logits.clear();
  r = merge(c, p);
  CHECK(r.segments[0].score == Approx(0.5));
}

TEST_CASE("merger: parameters from metadata and JSON, with clear errors", "[panoptic]") {
  AttributeMap m;
  Status s;
  panoptic_params_from_metadata(m, panoptic_convention_deeplab2, &s);
  CHECK_THAT(s.message(), Catch::Contains("thing classes"));
  m.set_ints("thing_classes", {11, 12});
  m.set_int("label_divisor", 256);
  m.set_int("nms_kernel", 41);
  m.set_float("center_threshold", 0.2);
  PanopticParams p = panoptic_params_from_metadata(m, panoptic_convention_detectron2, &s);
  REQUIRE(s.ok());
  CHECK(p.label_divisor == 256);
  CHECK(p.nms_kernel == 41);
  CHECK(p.top_k == 200);  // detectron2 default
  CHECK(p.stuff_area_limit == 2048);
  CHECK(p.center_threshold == 0.2f);
  CHECK(p.thing_classes == std::vector<int32_t>{11, 12});
  m.set_string("top_k", "many");
  panoptic_params_from_metadata(m, panoptic_convention_deeplab2, &s);
  CHECK_THAT(s.message(), Catch::Contains("top_k must be an integer"));

  p = panoptic_params_from_json(R"({"thing_classes": [1, 2], "top_k": 7, "center_threshold": 1,
                                    "convention": "detectron2"})",
                                &s);
  REQUIRE(s.ok());
  CHECK(p.convention == panoptic_convention_detectron2);
  CHECK(p.top_k == 7);
  CHECK(p.center_threshold == 1.f);
  PanopticConvention d2 = panoptic_convention_deeplab2;
  p = panoptic_params_from_json(R"({"thing_classes": []})", &s, &d2);
  CHECK(s.ok());
  CHECK(p.top_k == 400);
  panoptic_params_from_json(R"({"thing_classes": [1,}")", &s);
  CHECK_THAT(s.message(), Catch::Contains("params JSON"));
  panoptic_params_from_json(
      R"({"thing_classes": [1], "nms_kernel": 4, "convention": "detectron2"})", &s);
  CHECK_THAT(s.message(), Catch::Contains("odd nms_kernel"));
}

TEST_CASE("merger: shape and dtype errors", "[panoptic]") {
  Case c(4, 5, 0);
  PanopticParams p = make_params(panoptic_convention_deeplab2);
  PanopticResult r;
  PanopticInputs in = c.inputs();
  in.center.shape = {1, 4, 6};
  CHECK_THAT(panoptic_merge(in, p, 1, &r).message(), Catch::Contains("H and W must agree"));
  in = c.inputs();
  in.offset.shape = {3, 4, 5};
  CHECK_THAT(panoptic_merge(in, p, 1, &r).message(), Catch::Contains("2 channels"));
  in = c.inputs();
  in.center.dtype = DType::dtype_i32;
  CHECK_THAT(panoptic_merge(in, p, 1, &r).message(), Catch::Contains("float32"));
  in = c.inputs();
  c.labels[3] = -2;
  CHECK_THAT(panoptic_merge(in, p, 1, &r).message(), Catch::Contains("outside"));
  c.labels[3] = 0;
  p.label_divisor = 0;
  CHECK_THAT(panoptic_merge(in, p, 1, &r).message(), Catch::Contains("label_divisor"));
}

TEST_CASE("merger: the C API returns the same map as the C++ API", "[panoptic][c_api]") {
  Case c = random_case(9, 30, 40, 40, 6);
  PanopticParams p = make_params(panoptic_convention_deeplab2, {3, 4, 5});
  PanopticResult expected = merge(c, p);
  atrous_panoptic_params cp = atrous_panoptic_params_default(ATROUS_PANOPTIC_CONVENTION_DEEPLAB2);
  const int32_t things[3] = {3, 4, 5};
  cp.thing_classes = things;
  cp.num_thing_classes = 3;
  cp.nms_kernel = 3;
  cp.threads = 2;
  const int64_t shape[3] = {6, 30, 40};
  atrous_panoptic_result out;
  REQUIRE(atrous_panoptic_merge(&cp, ATROUS_DTYPE_FLOAT32, shape, 3, c.logits.data(), c.heat.data(),
                                c.offset.data(), &out) == nullptr);
  CHECK(out.height == 30);
  CHECK(std::vector<int32_t>(out.panoptic, out.panoptic + 1200) == expected.panoptic);
  CHECK(std::vector<int32_t>(out.instance, out.instance + 1200) == expected.instance);
  REQUIRE(out.num_segments == int32_t(expected.segments.size()));
  CHECK(out.segments[0].score == expected.segments[0].score);
  CHECK(out.num_centers == int32_t(expected.centers.size()));
  atrous_panoptic_result_release(&out);
  CHECK(out.panoptic == nullptr);
  cp.num_thing_classes = -1;
  atrous_status* status = atrous_panoptic_merge(
      &cp, ATROUS_DTYPE_FLOAT32, shape, 3, c.logits.data(), c.heat.data(), c.offset.data(), &out);
  REQUIRE(status != nullptr);
  CHECK(atrous_status_code(status) == ATROUS_CODE_INVALID_ARGUMENT);
  atrous_status_release(status);
  const int64_t bad[2] = {30, 41};
  cp.num_thing_classes = 3;
  status = atrous_panoptic_merge(&cp, ATROUS_DTYPE_INT64, bad, 2, c.labels.data(), c.heat.data(),
                                 c.offset.data(), &out);
  REQUIRE(status != nullptr);
  CHECK_THAT(std::string(atrous_status_message(status)), Catch::Contains("INT32 labels"));
  atrous_status_release(status);
}
