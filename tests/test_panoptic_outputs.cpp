// The panoptic pipeline's helpers and writers (models/panoptic_pipeline.h,
// models/panoptic_writers.h), the panoptic overlay and atrous_session_segment_panoptic, on
// random data against direct computations. End to end on an exported network:
// tests/python/test_segment_panoptic.py.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "atrous.h"
#include "graph/format.h"
#include "graph/json_io.h"
#include "graph/thread_pool.h"
#include "models/overlay.h"
#include "models/panoptic_pipeline.h"
#include "models/panoptic_writers.h"
#include "runtime/session.h"
#include "tests/graph_fixtures.h"

using namespace atrous;

namespace {

const int kCityscapesLabelOfTrainId[19] = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 31, 32, 33};

// A random panoptic map of `width`×`height`: stuff classes 0..2 (value class·1000), things
// 11 and 13 with instances 1..4, and void (255000) pixels; `segments` lists every value used
// (with made-up scores) plus one value that is absent from the map.
PanopticResult random_panoptic(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  PanopticResult r;
  r.width = width, r.height = height;
  r.void_value = 255000;
  std::vector<int32_t> values = {0, 1000, 2000, 11001, 11002, 11003, 13001, 13004, 255000};
  std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
  // Blocky maps (runs of 1..5 pixels) so that segments have shapes.
  r.panoptic.resize(size_t(width) * size_t(height));
  for (size_t i = 0; i < r.panoptic.size();) {
    int32_t v = values[pick(rng)];
    size_t run = 1 + rng() % 5;
    for (size_t k = 0; k < run && i < r.panoptic.size(); ++k) r.panoptic[i++] = v;
  }
  r.semantic.resize(r.panoptic.size());
  for (size_t i = 0; i < r.panoptic.size(); ++i)
    r.semantic[i] = r.panoptic[i] == 255000 ? 5 : r.panoptic[i] / 1000;
  for (int32_t v : {11001, 11002, 11003, 13001, 13004, 0, 1000, 2000, 14001}) {
    PanopticSegmentInfo s;
    s.id = v;
    s.category_id = v / 1000;
    s.isthing = v >= 11000;
    s.score = s.isthing ? 0.25 + 0.001 * (v % 1000) : 1.0;
    r.segments.push_back(s);
  }
  panoptic_recount_segments(&r);
  return r;
}

int64_t png_id(const Image& png, size_t i) {
  return int64_t(png.pixels[i * 3]) + 256 * int64_t(png.pixels[i * 3 + 1]) +
         65536 * int64_t(png.pixels[i * 3 + 2]);
}

}  // namespace

TEST_CASE("resize_planes_align_corners matches the align_corners formula", "[panoptic]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-3.f, 3.f);
  const int shapes[][4] = {{5, 7, 9, 13}, {9, 13, 5, 7},  {1, 1, 3, 4},  {3, 4, 1, 1},
                           {1, 6, 2, 11}, {17, 3, 17, 3}, {2, 2, 31, 1}, {30, 50, 60, 100}};
  for (const auto& s : shapes) {
    const int h = s[0], w = s[1], oh = s[2], ow = s[3], channels = 3;
    std::vector<float> in(size_t(channels * h * w));
    for (float& v : in) v = value(rng);
    std::vector<float> out = resize_planes_align_corners(in.data(), channels, h, w, oh, ow);
    REQUIRE(out.size() == size_t(channels * oh * ow));
    for (int c = 0; c < channels; ++c)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          double sy = oh > 1 ? double(y) * (h - 1) / (oh - 1) : 0,
                 sx = ow > 1 ? double(x) * (w - 1) / (ow - 1) : 0;
          int y0 = std::min(int(sy), h - 1), x0 = std::min(int(sx), w - 1);
          int y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
          double fy = sy - y0, fx = sx - x0;
          auto at = [&](int yy, int xx) { return double(in[size_t((c * h + yy) * w + xx)]); };
          double expected = (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) +
                            (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
          INFO(h << "x" << w << " -> " << oh << "x" << ow << " at " << c << "," << y << "," << x);
          REQUIRE(out[size_t((c * oh + y) * ow + x)] == Approx(expected).margin(1e-5));
        }
    if (h == oh && w == ow) REQUIRE(out == in);  // same size: unchanged
  }
}

TEST_CASE("resize_planes_align_corners: the per-pixel float expressions, any thread count",
          "[panoptic]") {
  // The bits of the plain per-pixel loop this function replaced (segment outputs must not
  // change): along x on both rows, then along y, in float.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-30.f, 30.f);
  const int shapes[][4] = {{5, 7, 9, 13},     {9, 13, 5, 7},     {1, 6, 2, 11},
                           {33, 65, 65, 129}, {65, 129, 33, 65}, {2, 3, 1, 1}};
  ThreadPool one(1), two(2), three(3);
  for (const auto& s : shapes) {
    const int h = s[0], w = s[1], oh = s[2], ow = s[3], channels = 4;
    std::vector<float> in(size_t(channels * h * w));
    for (float& v : in) v = value(rng);
    auto tap = [](int i, int in_size, int out_size, int* i0, int* i1) {
      double p = out_size > 1 ? double(i) * (in_size - 1) / (out_size - 1) : 0.0;
      *i0 = std::min(int(p), in_size - 1);
      *i1 = std::min(*i0 + 1, in_size - 1);
      return float(p - *i0);
    };
    std::vector<float> expected(size_t(channels * oh * ow));
    for (int c = 0; c < channels; ++c)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          int y0, y1, x0, x1;
          const float fy = tap(y, h, oh, &y0, &y1), fx = tap(x, w, ow, &x0, &x1);
          const float* r0 = in.data() + size_t((c * h + y0) * w);
          const float* r1 = in.data() + size_t((c * h + y1) * w);
          float top = r0[x0] + (r0[x1] - r0[x0]) * fx;
          float bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
          expected[size_t((c * oh + y) * ow + x)] = top + (bottom - top) * fy;
        }
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &one, &two, &three}) {
      INFO(h << "x" << w << " -> " << oh << "x" << ow << ", threads "
             << (pool ? pool->threads() : 0));
      std::vector<float> out = resize_planes_align_corners(in.data(), channels, h, w, oh, ow, pool);
      REQUIRE(std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("panoptic_recount_segments: areas and boxes from the map", "[panoptic]") {
  for (int size : {1, 2, 7, 33}) {
    PanopticResult r = random_panoptic(size + 3, size, uint32_t(size));
    std::map<int32_t, std::vector<int64_t>> expected;  // area, x0, y0, x1, y1
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width; ++x) {
        int32_t v = r.panoptic[size_t(y * r.width + x)];
        auto it = expected.find(v);
        if (it == expected.end())
          it = expected.emplace(v, std::vector<int64_t>{0, x, y, x, y}).first;
        auto& e = it->second;
        ++e[0];
        e[1] = std::min<int64_t>(e[1], x), e[2] = std::min<int64_t>(e[2], y);
        e[3] = std::max<int64_t>(e[3], x), e[4] = std::max<int64_t>(e[4], y);
      }
    size_t listed_present = 0;
    for (auto& e : expected) listed_present += e.first != 255000;
    REQUIRE(r.segments.size() == listed_present);  // 14001 (absent) and void are not segments
    for (const PanopticSegmentInfo& s : r.segments) {
      const auto& e = expected.at(s.id);
      CHECK(s.area == e[0]);
      CHECK(s.bbox[0] == e[1]);
      CHECK(s.bbox[1] == e[2]);
      CHECK(s.bbox[2] == e[3] - e[1] + 1);
      CHECK(s.bbox[3] == e[4] - e[2] + 1);
    }
  }
}

TEST_CASE("COCO panoptic PNG: id = value + 1, void 0", "[panoptic]") {
  PanopticResult r = random_panoptic(23, 11, 3);
  Image png;
  std::vector<PanopticSegmentOut> segments;
  REQUIRE(coco_panoptic_encode(r, &png, &segments).ok());
  REQUIRE(png.channels == 3);
  REQUIRE(png.width == 23);
  REQUIRE(png.height == 11);
  for (size_t i = 0; i < r.panoptic.size(); ++i)
    REQUIRE(png_id(png, i) == (r.panoptic[i] == r.void_value ? 0 : int64_t(r.panoptic[i]) + 1));
  REQUIRE(segments.size() == r.segments.size());
  for (size_t k = 0; k < segments.size(); ++k) {
    CHECK(segments[k].id == r.segments[k].id + 1);
    CHECK(segments[k].category_id == r.segments[k].category_id);
    CHECK(segments[k].area == r.segments[k].area);
    CHECK(segments[k].score == r.segments[k].score);
  }
  // A value whose id needs more than 24 bits is an error, not a wrapped id.
  r.segments[0].id = (1 << 24) - 1;
  CHECK_FALSE(coco_panoptic_encode(r, &png, &segments).ok());
}

TEST_CASE("Cityscapes panoptic PNG: label ids, label·1000 + instance for things", "[panoptic]") {
  std::vector<int> label_ids;
  CHECK_FALSE(cityscapes_label_ids_for_train_ids(21, &label_ids).ok());
  REQUIRE(cityscapes_label_ids_for_train_ids(19, &label_ids).ok());
  for (int t = 0; t < 19; ++t) REQUIRE(label_ids[size_t(t)] == kCityscapesLabelOfTrainId[t]);
  PanopticResult r = random_panoptic(19, 13, 5);
  Image png;
  std::vector<PanopticSegmentOut> segments;
  REQUIRE(cityscapes_panoptic_encode(r, label_ids, 1000, &png, &segments).ok());
  for (size_t i = 0; i < r.panoptic.size(); ++i) {
    int32_t v = r.panoptic[i];
    int64_t expected = v == 255000  ? 0
                       : v >= 11000 ? int64_t(kCityscapesLabelOfTrainId[v / 1000]) * 1000 + v % 1000
                                    : kCityscapesLabelOfTrainId[v / 1000];
    REQUIRE(png_id(png, i) == expected);
  }
  for (const PanopticSegmentOut& s : segments)
    CHECK(s.category_id == (s.isthing ? s.id / 1000 : s.id));
  std::vector<PanopticCategory> categories = cityscapes_panoptic_categories();
  REQUIRE(categories.size() == 19);
  CHECK(std::count_if(categories.begin(), categories.end(),
                      [](const PanopticCategory& c) { return c.isthing; }) == 8);
  // An instance id that does not fit label·1000 + instance.
  r.segments[0].id = 11000 * 2 + 1500;
  CHECK_FALSE(cityscapes_panoptic_encode(r, label_ids, 2000, &png, &segments).ok());
}

TEST_CASE("label map PNG, instance masks and the panoptic JSON", "[panoptic]") {
  PanopticResult r = random_panoptic(17, 9, 11);
  Image png;
  std::vector<int> map(14, 0);
  for (int i = 0; i < 14; ++i) map[size_t(i)] = 40 + i;
  REQUIRE(label_map_png(r.semantic, r.width, r.height, &map, &png).ok());
  for (size_t i = 0; i < r.semantic.size(); ++i) REQUIRE(png.pixels[i] == 40 + r.semantic[i]);
  std::vector<int32_t> too_big = {3, 256};
  CHECK_FALSE(label_map_png(too_big, 2, 1, nullptr, &png).ok());
  std::vector<int32_t> unmapped = {14};
  CHECK_FALSE(label_map_png(unmapped, 1, 1, &map, &png).ok());

  std::vector<InstanceMask> masks = instance_masks(r);
  std::vector<const PanopticSegmentInfo*> things;
  for (const PanopticSegmentInfo& s : r.segments)
    if (s.isthing) things.push_back(&s);
  REQUIRE(masks.size() == things.size());
  for (size_t k = 0; k < masks.size(); ++k) {
    CHECK(masks[k].category_id == things[k]->category_id);
    CHECK(masks[k].score == things[k]->score);
    for (size_t i = 0; i < r.panoptic.size(); ++i)
      REQUIRE(masks[k].mask.pixels[i] == (r.panoptic[i] == things[k]->id ? 255 : 0));
  }

  std::vector<PanopticSegmentOut> segments;
  REQUIRE(coco_panoptic_encode(r, &png, &segments).ok());
  PanopticAnnotation ann;
  ann.image_id = "a \"quoted\" name";
  ann.file_name = "a.png";
  ann.image_file = "a.jpg";
  ann.width = 17, ann.height = 9;
  ann.segments = segments;
  std::vector<std::string> labels = {"zero", "one"};
  std::vector<PanopticCategory> categories = model_categories(14, labels, {11, 13});
  nlohmann::json root;
  REQUIRE(json_parse(panoptic_json({ann}, categories), "panoptic JSON", &root).ok());
  const nlohmann::json& a = root.at("annotations").at(0);
  CHECK(a.at("image_id") == ann.image_id);
  CHECK(a.at("file_name") == "a.png");
  const nlohmann::json& info = a.at("segments_info");
  REQUIRE(info.size() == segments.size());
  for (size_t k = 0; k < segments.size(); ++k) {
    const nlohmann::json& s = info[k];
    CHECK(s.at("id") == segments[k].id);
    CHECK(s.at("area") == segments[k].area);
    CHECK(s.at("iscrowd") == 0);
    CHECK(s.at("bbox").at(2) == segments[k].bbox[2]);
    CHECK(s.at("score").get<double>() == segments[k].score);
  }
  CHECK(root.at("images").at(0).at("file_name") == "a.jpg");
  const nlohmann::json& cats = root.at("categories");
  REQUIRE(cats.size() == 14);
  CHECK(cats[1].at("name") == "one");
  CHECK(cats[5].at("name") == "class 5");
  CHECK(cats[11].at("isthing") == 1);
  CHECK(cats[12].at("isthing") == 0);
}

TEST_CASE("panoptic overlay: instance shades, white outlines, void untouched", "[panoptic]") {
  const int W = 160, H = 100;
  std::mt19937 rng(2);
  Image image;
  image.width = W, image.height = H, image.channels = 3;
  image.pixels.resize(size_t(W * H * 3));
  for (uint8_t& p : image.pixels) p = uint8_t(rng() % 256);
  PanopticResult r;
  r.width = W, r.height = H;
  r.panoptic.assign(size_t(W * H), 255000);
  // Right of the legend (top-left corner): two instances of class 13 side by side, stuff class
  // 0 below them, void elsewhere.
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      int32_t& v = r.panoptic[size_t(y * W + x)];
      if (y >= 70)
        v = 0;
      else if (x >= 100 && x < 120 && y >= 10 && y < 50)
        v = 13001;
      else if (x >= 120 && x < 140 && y >= 10 && y < 50)
        v = 13002;
    }
  for (int32_t v : {13001, 13002, 0}) {
    PanopticSegmentInfo s;
    s.id = v, s.category_id = v / 1000, s.isthing = v != 0;
    r.segments.push_back(s);
  }
  panoptic_recount_segments(&r);
  Image out = render_panoptic_overlay(image, r.panoptic, r.segments, {});
  REQUIRE(out.width == W);
  REQUIRE(out.height == H);
  auto pixel = [&](const Image& im, int x, int y) {
    const uint8_t* p = &im.pixels[size_t(y * W + x) * 3];
    return std::vector<int>{p[0], p[1], p[2]};
  };
  const std::vector<int> white = {255, 255, 255};
  // Each instance is outlined inside its own pixels, also where the two touch.
  CHECK(pixel(out, 100, 30) == white);
  CHECK(pixel(out, 119, 30) == white);
  CHECK(pixel(out, 120, 30) == white);
  CHECK(pixel(out, 110, 10) == white);
  CHECK(pixel(out, 130, 49) == white);
  // Inner pixels: blended 65 % with the instance's shade; the two shades differ, the first is
  // the class colour.
  uint8_t a[3], b[3], base[3];
  panoptic_instance_shade(13, 0, a);
  panoptic_instance_shade(13, 1, b);
  panoptic_class_color(13, base);
  CHECK(std::vector<int>(a, a + 3) != std::vector<int>(b, b + 3));
  CHECK(std::vector<int>(a, a + 3) == std::vector<int>(base, base + 3));
  for (int k = 0; k < 3; ++k) {
    int in_a = int(image.pixels[size_t(30 * W + 110) * 3 + size_t(k)]);
    int in_b = int(image.pixels[size_t(30 * W + 130) * 3 + size_t(k)]);
    CHECK(pixel(out, 110, 30)[size_t(k)] == (in_a * 35 + int(a[k]) * 65 + 50) / 100);
    CHECK(pixel(out, 130, 30)[size_t(k)] == (in_b * 35 + int(b[k]) * 65 + 50) / 100);
    // Stuff: 50 % of the class colour.
    int in_s = int(image.pixels[size_t(85 * W + 110) * 3 + size_t(k)]);
    uint8_t stuff[3];
    panoptic_class_color(0, stuff);
    CHECK(pixel(out, 110, 85)[size_t(k)] == (in_s * 50 + int(stuff[k]) * 50 + 50) / 100);
  }
  // Void keeps the image.
  CHECK(pixel(out, 150, 60) == pixel(image, 150, 60));
  CHECK(pixel(out, 155, 5) == pixel(image, 155, 5));
}

namespace {

// A tiny "panoptic network": input [1,3,13,17] → three 3×3 convolutions (padding 1, so the
// padding of the input reaches the image's border pixels) with random weights,
// outputs semantic [1,4,13,17], center [1,1,13,17], offset [1,2,13,17]; classes 2 and 3 are
// things. Random weights give many centers and every class.
Graph make_panoptic_graph() {
  std::mt19937 rng(4);
  Graph graph;
  graph.metadata.set_string("task", "panoptic");
  graph.metadata.set_strings("labels", {"road", "sky", "car", "person"});
  graph.metadata.set_ints("thing_classes", {2, 3});
  graph.metadata.set_floats("input_mean", {127.5, 127.5, 127.5});
  graph.metadata.set_floats("input_std", {127.5, 127.5, 127.5});
  graph.metadata.set_int("label_divisor", 1000);
  graph.metadata.set_int("nms_kernel", 3);
  int32_t input = graph.add_tensor("image", DType::dtype_f32, {1, 3, 13, 17});
  graph.inputs.push_back(input);
  const char* names[3] = {"semantic", "center", "offset"};
  const int channels[3] = {4, 1, 2};
  const float scale[3] = {2.f, 1.f, 3.f};
  for (int k = 0; k < 3; ++k) {
    int32_t w = graph.add_constant(
        std::string(names[k]) + ".weight",
        testing::random_tensor({channels[k], 3, 3, 3}, rng, -scale[k] / 3, scale[k] / 3));
    int32_t b = graph.add_constant(std::string(names[k]) + ".bias",
                                   testing::random_tensor({channels[k]}, rng));
    int32_t out = graph.add_tensor(names[k], DType::dtype_f32, {});
    AttributeMap conv;
    conv.set_ints("pads", {1, 1, 1, 1});
    testing::add_node(graph, OpType::op_conv, names[k], {input, w, b}, {out}, conv);
    graph.outputs.push_back(out);
  }
  return graph;
}

}  // namespace

TEST_CASE("panoptic pipeline and C API: one pass equals the merger on the padded network outputs",
          "[panoptic]") {
  std::shared_ptr<const Model> model;
  REQUIRE(Model::from_graph(make_panoptic_graph(), &model).ok());
  std::unique_ptr<Session> session;
  REQUIRE(Session::create(model, SessionOptions(), &session).ok());
  PanopticModelInfo info;
  REQUIRE(panoptic_model_info(model->graph(), panoptic_convention_deeplab2, &info).ok());
  REQUIRE(info.num_classes == 4);
  REQUIRE(info.params.thing_classes == std::vector<int32_t>{2, 3});

  std::vector<uint8_t> bytes = format_write_memory(make_panoptic_graph());
  atrous_model* c_model = nullptr;
  REQUIRE(atrous_model_load_memory(bytes.data(), bytes.size(), &c_model) == nullptr);
  atrous_session_options session_options = atrous_session_options_default();
  atrous_session* c_session = nullptr;
  REQUIRE(atrous_session_create(c_model, &session_options, &c_session) == nullptr);

  std::mt19937 rng(9);
  const int sizes[][2] = {{13, 17}, {5, 9}, {1, 1}, {12, 3}};  // height, width: all fit the input
  size_t things_seen = 0;
  for (const auto& size : sizes) {
    const int h = size[0], w = size[1];
    Image image;
    image.width = w, image.height = h, image.channels = 3;
    image.pixels.resize(size_t(w * h * 3));
    for (uint8_t& p : image.pixels) p = uint8_t(rng() % 256);
    // Expected: the merger on the outputs for the padded input, cropped to the image.
    Tensor input(DType::dtype_f32, {1, 3, 13, 17});
    std::fill(input.f32(), input.f32() + input.numel(), 0.f);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          input.f32()[(c * 13 + y) * 17 + x] =
              (float(image.pixels[size_t((y * w + x) * 3 + c)]) - 127.5f) / 127.5f;
    std::vector<Tensor> outputs;
    REQUIRE(session->run({{"image", &input.view()}}, &outputs).ok());
    Tensor semantic(DType::dtype_f32, {4, h, w}), center(DType::dtype_f32, {1, h, w}),
        offset(DType::dtype_f32, {2, h, w});
    Tensor* crops[3] = {&semantic, &center, &offset};
    for (int k = 0; k < 3; ++k)
      for (int64_t c = 0; c < crops[k]->shape()[0]; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            crops[k]->f32()[(c * h + y) * w + x] = outputs[size_t(k)].f32()[(c * 13 + y) * 17 + x];
    PanopticResult expected;
    REQUIRE(
        panoptic_merge({semantic.view(), center.view(), offset.view()}, info.params, 1, &expected)
            .ok());

    PanopticPipelineResult result;
    PanopticPipelineOptions options;
    REQUIRE(segment_panoptic(*session, info, image, options, &result).ok());
    INFO(h << "x" << w);
    REQUIRE(result.passes == 1);
    CHECK(result.panoptic.panoptic == expected.panoptic);
    CHECK(result.panoptic.semantic == expected.semantic);
    REQUIRE(result.panoptic.segments.size() == expected.segments.size());
    for (const PanopticSegmentInfo& s : expected.segments) things_seen += s.isthing;

    atrous_image c_image{w, h, 3, image.pixels.data()};
    atrous_panoptic_segment_options c_options = atrous_panoptic_segment_options_default();
    atrous_panoptic_result c_result;
    REQUIRE(atrous_session_segment_panoptic(c_session, &c_image, &c_options, &c_result) == nullptr);
    REQUIRE(c_result.width == w);
    REQUIRE(c_result.height == h);
    CHECK(std::vector<int32_t>(c_result.panoptic, c_result.panoptic + w * h) == expected.panoptic);
    REQUIRE(c_result.num_segments == int32_t(expected.segments.size()));
    for (size_t k = 0; k < expected.segments.size(); ++k) {
      CHECK(c_result.segments[k].id == expected.segments[k].id);
      CHECK(c_result.segments[k].area == expected.segments[k].area);
      CHECK(c_result.segments[k].score == expected.segments[k].score);
    }
    atrous_panoptic_result_release(&c_result);
  }
  CHECK(things_seen >= 3);
  // The larger image on the model input; flip TTA keeps the size; errors are statuses.
  {
    Image image;
    image.width = 40, image.height = 20, image.channels = 3;
    image.pixels.resize(40 * 20 * 3);
    for (uint8_t& p : image.pixels) p = uint8_t(rng() % 256);
    PanopticPipelineResult result;
    PanopticPipelineOptions options;
    options.flip = true;
    options.keep_maps = true;
    REQUIRE(segment_panoptic(*session, info, image, options, &result).ok());
    CHECK(result.passes == 2);
    CHECK(result.work_height == 9);  // 20×40 fitted into 13×17: scale 17/40
    CHECK(result.work_width == 17);
    CHECK(result.panoptic.panoptic.size() == 40 * 20);
    CHECK(result.semantic.shape() == Shape{4, 9, 17});
    options.scales = {1.5};
    CHECK_FALSE(segment_panoptic(*session, info, image, options, &result).ok());
    options.scales = {};
    CHECK_FALSE(segment_panoptic(*session, info, image, options, &result).ok());
    options.scales = {-1};
    CHECK_FALSE(segment_panoptic(*session, info, image, options, &result).ok());

    atrous_image c_image{40, 20, 3, image.pixels.data()};
    atrous_panoptic_segment_options c_options = atrous_panoptic_segment_options_default();
    double scales[1] = {2.0};
    c_options.scales = scales;
    c_options.num_scales = 1;
    atrous_panoptic_result c_result;
    atrous_status* status =
        atrous_session_segment_panoptic(c_session, &c_image, &c_options, &c_result);
    REQUIRE(status != nullptr);
    CHECK(std::string(atrous_status_message(status)).find("larger than the model input") !=
          std::string::npos);
    atrous_status_release(status);
    CHECK(c_result.panoptic == nullptr);
  }
  atrous_session_release(c_session);
  atrous_model_release(c_model);

  // A semantic model is refused by the panoptic pipeline.
  PanopticModelInfo semantic_info;
  CHECK_FALSE(
      panoptic_model_info(testing::make_test_graph(), panoptic_convention_deeplab2, &semantic_info)
          .ok());
}
