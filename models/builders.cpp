// Panoptic-DeepLab graphs in code; mirrors models/pytorch/panoptic_deeplab.py layer for layer.
#include "models/builders.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "ops/graph_rules.h"

namespace atrous {
namespace {

// A portable seeded generator (splitmix64 + Box–Muller): the same weights on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double r = std::sqrt(-2.0 * std::log(uniform())), angle = 6.283185307179586 * uniform();
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

struct Value {
  int32_t tensor = -1;
  int64_t channels = 0, height = 0, width = 0;
};

// Backbone/head settings of one architecture (panoptic_deeplab.py CONFIGS).
struct Architecture {
  std::string backbone;  // mnv3l, mnv3s, resnet50
  int output_stride = 16;
  std::vector<int64_t> aspp_rates;
  int64_t nms_kernel = 7;
  std::string config;  // the PyTorch config name
};

const std::vector<std::pair<std::string, Architecture>>& architectures() {
  static const std::vector<std::pair<std::string, Architecture>> table = {
      {"panoptic-deeplab-mnv3l-os16", {"mnv3l", 16, {6, 12, 18}, 7, "mnv3l_os16"}},
      {"panoptic-deeplab-mnv3l-os32", {"mnv3l", 32, {3, 6, 9}, 13, "mnv3l_os32"}},
      {"panoptic-deeplab-mnv3s-os16", {"mnv3s", 16, {6, 12, 18}, 7, "mnv3s_os16"}},
      {"panoptic-deeplab-mnv3s-os32", {"mnv3s", 32, {3, 6, 9}, 13, "mnv3s_os32"}},
      {"panoptic-deeplab-resnet50-os32", {"resnet50", 32, {3, 6, 9}, 13, "resnet50_os32"}},
  };
  return table;
}

// Inverted-bottleneck rows: kernel, expanded, output channels, SE, hard-swish, stride, endpoint.
struct BlockRow {
  int64_t kernel, expanded, out;
  bool se, hswish;
  int stride;
  const char* endpoint;
};

const std::vector<BlockRow> kMobileNetV3Large = {
    {3, 16, 16, false, false, 1, nullptr}, {3, 64, 24, false, false, 2, nullptr},
    {3, 72, 24, false, false, 1, "res2"},  {5, 72, 40, true, false, 2, nullptr},
    {5, 120, 40, true, false, 1, nullptr}, {5, 120, 40, true, false, 1, "res3"},
    {3, 240, 80, false, true, 2, nullptr}, {3, 200, 80, false, true, 1, nullptr},
    {3, 184, 80, false, true, 1, nullptr}, {3, 184, 80, false, true, 1, nullptr},
    {3, 480, 112, true, true, 1, nullptr}, {3, 672, 112, true, true, 1, "res4"},
    {5, 672, 160, true, true, 2, nullptr}, {5, 960, 160, true, true, 1, nullptr},
    {5, 960, 160, true, true, 1, nullptr},
};
const std::vector<BlockRow> kMobileNetV3Small = {
    {3, 16, 16, true, false, 2, "res2"},  {3, 72, 24, false, false, 2, nullptr},
    {3, 88, 24, false, false, 1, "res3"}, {5, 96, 40, true, true, 2, nullptr},
    {5, 240, 40, true, true, 1, nullptr}, {5, 240, 40, true, true, 1, nullptr},
    {5, 120, 48, true, true, 1, nullptr}, {5, 144, 48, true, true, 1, "res4"},
    {5, 288, 96, true, true, 2, nullptr}, {5, 576, 96, true, true, 1, nullptr},
    {5, 576, 96, true, true, 1, nullptr},
};

// DeepLab2's output-stride rule (DilationTracker in panoptic_deeplab.py).
class DilationTracker {
 public:
  explicit DilationTracker(int output_stride) : output_stride_(output_stride) {}
  std::pair<int, int> next(int stride) {
    if (stride > 1 && stride_ >= output_stride_) {
      int rate = rate_;
      rate_ *= stride;
      return {1, rate};
    }
    stride_ *= stride;
    return {stride, rate_};
  }

 private:
  int output_stride_, stride_ = 1, rate_ = 1;
};

int64_t make_divisible(double value, int64_t divisor = 8) {
  int64_t rounded = std::max(divisor, int64_t(value + double(divisor) / 2) / divisor * divisor);
  if (double(rounded) < 0.9 * value) rounded += divisor;
  return rounded;
}

enum class Act { none, relu, hswish, sigmoid };

class Builder {
 public:
  Builder(Graph* graph, uint64_t seed) : graph_(graph), random_(seed) {}

  Value input(const std::string& name, int64_t height, int64_t width) {
    int32_t t = graph_->add_tensor(name, DType::dtype_f32, {1, 3, height, width});
    graph_->inputs.push_back(t);
    return {t, 3, height, width};
  }

  // k×k convolution with bias (BatchNorm folded), symmetric padding dilation·(k−1)/2, then the
  // activation as its own node (as the converter emits it).
  Value conv(const Value& x, int64_t out, int64_t kernel, int stride = 1, int dilation = 1,
             int64_t groups = 1, Act act = Act::relu) {
    int64_t pad = int64_t(dilation) * (kernel - 1) / 2;
    int64_t per_group = x.channels / groups;
    std::string name = "conv" + std::to_string(++convs_);
    int32_t weight = constant(name + ".weight", {out, per_group, kernel, kernel},
                              std::sqrt(2.0 / double(per_group * kernel * kernel)));
    int32_t bias = constant(name + ".bias", {out}, 0.1);
    auto extent = [&](int64_t n) {
      return (n + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
    };
    Value y{0, out, extent(x.height), extent(x.width)};
    y.tensor = intermediate(name, y);
    AttributeMap attributes;
    attributes.set_ints("strides", {stride, stride});
    attributes.set_string("auto_pad", "explicit");
    attributes.set_ints("pads", {pad, pad, pad, pad});
    attributes.set_ints("dilations", {dilation, dilation});
    attributes.set_int("group", groups);
    add_node(OpType::op_conv, name, {x.tensor, weight, bias}, y.tensor, std::move(attributes));
    return activation(y, act);
  }

  Value activation(const Value& x, Act act) {
    if (act == Act::none) return x;
    OpType op = act == Act::relu     ? OpType::op_relu
                : act == Act::hswish ? OpType::op_hard_swish
                                     : OpType::op_sigmoid;
    return unary(op, x, AttributeMap());
  }

  Value unary(OpType op, const Value& x, AttributeMap attributes, Value shape = Value()) {
    if (shape.channels == 0) shape = x;
    std::string name = std::string(op_type_name(op)) + std::to_string(++others_);
    Value y = shape;
    y.tensor = intermediate(name, y);
    add_node(op, name, {x.tensor}, y.tensor, std::move(attributes));
    return y;
  }

  Value binary(OpType op, const Value& a, int32_t b) {
    std::string name = std::string(op_type_name(op)) + std::to_string(++others_);
    Value y = a;
    y.tensor = intermediate(name, y);
    add_node(op, name, {a.tensor, b}, y.tensor, AttributeMap());
    return y;
  }

  Value concat(const std::vector<Value>& parts) {
    Value y = parts[0];
    y.channels = 0;
    std::vector<int32_t> inputs;
    for (const Value& v : parts) {
      y.channels += v.channels;
      inputs.push_back(v.tensor);
    }
    std::string name = "concat" + std::to_string(++others_);
    y.tensor = intermediate(name, y);
    AttributeMap attributes;
    attributes.set_int("axis", 1);
    add_node(OpType::op_concat, name, inputs, y.tensor, std::move(attributes));
    return y;
  }

  // Bilinear align_corners resize to (height, width).
  Value resize(const Value& x, int64_t height, int64_t width) {
    AttributeMap attributes;
    attributes.set_string("mode", "linear");
    attributes.set_string("coordinate_mode", "align_corners");
    attributes.set_ints("sizes", {height, width});
    return unary(OpType::op_resize, x, std::move(attributes), {0, x.channels, height, width});
  }

  Value squeeze_excite(const Value& x) {
    AttributeMap mean;
    mean.set_ints("axes", {2, 3});
    mean.set_int("keepdims", 1);
    Value s = unary(OpType::op_reduce_mean, x, std::move(mean), {0, x.channels, 1, 1});
    // int(expanded · 0.25) truncates, as DeepLab2 does, before rounding to a multiple of 8.
    const int64_t squeeze = x.channels / 4;
    s = conv(s, make_divisible(double(squeeze)), 1, 1, 1, 1, Act::relu);
    s = conv(s, x.channels, 1, 1, 1, 1, Act::sigmoid);
    return binary(OpType::op_mul, x, s.tensor);
  }

  // MobileNetV3 encoder: fills res2, res3, res5.
  void mobilenet_v3(Value x, const std::vector<BlockRow>& table, int64_t last, int output_stride,
                    std::map<std::string, Value>* features) {
    DilationTracker tracker(output_stride);
    auto sd = tracker.next(2);
    x = conv(x, 16, 3, sd.first, sd.second, 1, Act::hswish);
    for (const BlockRow& row : table) {
      sd = tracker.next(row.stride);
      Act act = row.hswish ? Act::hswish : Act::relu;
      Value y = row.expanded != x.channels ? conv(x, row.expanded, 1, 1, 1, 1, act) : x;
      Value depthwise = conv(y, row.expanded, row.kernel, sd.first, sd.second, row.expanded, act);
      y = row.se ? squeeze_excite(depthwise) : depthwise;
      y = conv(y, row.out, 1, 1, 1, 1, Act::none);
      if (sd.first == 1 && x.channels == row.out) y = binary(OpType::op_add, y, x.tensor);
      if (row.endpoint) (*features)[row.endpoint] = depthwise;
      x = y;
    }
    (*features)["res5"] = conv(x, last, 1, 1, 1, 1, Act::hswish);
  }

  void resnet50(Value x, int output_stride, std::map<std::string, Value>* features) {
    struct Stage {
      int blocks;
      int64_t width, out;
      const char* name;
    };
    const Stage stages[] = {{3, 64, 256, "res2"},
                            {4, 128, 512, "res3"},
                            {6, 256, 1024, "res4"},
                            {3, 512, 2048, "res5"}};
    DilationTracker tracker(output_stride);
    auto sd = tracker.next(2);
    x = conv(x, 64, 7, sd.first, sd.second);
    for (const Stage& stage : stages) {
      for (int b = 0; b < stage.blocks; ++b) {
        sd = tracker.next(b == 0 ? 2 : 1);
        Value y = conv(x, stage.width, 1);
        y = conv(y, stage.width, 3, sd.first, sd.second);
        y = conv(y, stage.out, 1, 1, 1, 1, Act::none);
        // The projection shortcut is a 1×1 convolution with the block's stride (no dilation).
        Value shortcut = (sd.first != 1 || x.channels != stage.out)
                             ? conv(x, stage.out, 1, sd.first, 1, 1, Act::none)
                             : x;
        x = activation(binary(OpType::op_add, y, shortcut.tensor), Act::relu);
      }
      (*features)[stage.name] = x;
    }
  }

  // `pooled` caches the pooling of the shared res5 input: the ONNX export computes the (padded)
  // average pool once for both ASPPs, and the builder reproduces that graph node for node.
  Value aspp(const Value& x, const std::vector<int64_t>& rates, Value* pooled) {
    std::vector<Value> branches = {conv(x, 256, 1)};
    for (int64_t rate : rates) branches.push_back(conv(x, 256, 3, 1, int(rate)));
    if (pooled->tensor < 0) *pooled = average_pool(x);
    branches.push_back(resize(conv(*pooled, 256, 1), x.height, x.width));
    return conv(concat(branches), 256, 1);
  }

  // The ASPP image pooling as exported: a zero `pad` (PyTorch's avg_pool2d export emits one for
  // padding=0) and an average pool whose window, that of export_panoptic.py's default crop
  // (= the input size), covers the whole map.
  Value average_pool(const Value& x) {
    AttributeMap pad;
    pad.set_ints("pads", {0, 0, 0, 0, 0, 0, 0, 0});
    pad.set_string("mode", "constant");
    pad.set_float("value", 0.0);
    Value padded = unary(OpType::op_pad, x, std::move(pad));
    AttributeMap pool;
    pool.set_ints("strides", {1, 1});
    pool.set_string("auto_pad", "explicit");
    pool.set_ints("pads", {0, 0, 0, 0});
    pool.set_ints("kernel_shape", {x.height, x.width});
    pool.set_int("ceil_mode", 0);
    pool.set_int("count_include_pad", 0);
    return unary(OpType::op_average_pool, padded, std::move(pool), {0, x.channels, 1, 1});
  }

  Value separable(const Value& x, int64_t out) {
    return conv(conv(x, x.channels, 5, 1, 1, x.channels), out, 1);
  }

  Value decoder(Value x, const Value& res3, const Value& res2, int64_t p8, int64_t p4,
                int64_t channels) {
    Value up = resize(x, res3.height, res3.width);
    x = separable(concat({up, conv(res3, p8, 1)}), channels);
    up = resize(x, res2.height, res2.width);
    return separable(concat({up, conv(res2, p4, 1)}), channels);
  }

  Value head(const Value& x, int64_t channels, int64_t outputs) {
    return conv(separable(x, channels), outputs, 1, 1, 1, 1, Act::none);
  }

  int32_t constant(const std::string& name, const Shape& shape, double stddev) {
    Tensor tensor(DType::dtype_f32, shape);
    for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = float(stddev * random_.normal());
    return graph_->add_constant(name, std::move(tensor));
  }

  int32_t constant_values(const std::string& name, const Shape& shape,
                          const std::vector<float>& values) {
    Tensor tensor(DType::dtype_f32, shape);
    for (size_t i = 0; i < values.size(); ++i) tensor.f32()[i] = values[i];
    return graph_->add_constant(name, std::move(tensor));
  }

  // Renames the tensor of `value` (graph outputs carry the export's names) and marks it output.
  void output(const Value& value, const std::string& name) {
    graph_->tensors[size_t(value.tensor)].name = name;
    graph_->outputs.push_back(value.tensor);
  }

 private:
  int32_t intermediate(const std::string& name, const Value& v) {
    return graph_->add_tensor(name, DType::dtype_f32, {1, v.channels, v.height, v.width});
  }
  void add_node(OpType op, const std::string& name, std::vector<int32_t> inputs, int32_t output,
                AttributeMap attributes) {
    Node node;
    node.op = op;
    node.name = name;
    node.inputs = std::move(inputs);
    node.outputs = {output};
    node.attributes = std::move(attributes);
    graph_->nodes.push_back(std::move(node));
  }

  Graph* graph_;
  Random random_;
  int convs_ = 0, others_ = 0;
};

void set_metadata(const std::string& name, const Architecture& arch, int64_t height, int64_t width,
                  Graph* graph) {
  AttributeMap& m = graph->metadata;
  m.set_string("producer", "atrous builder (models/builders.cpp)");
  m.set_string("source", name);
  m.set_string("input_layout", "nchw");
  m.set_string("task", "panoptic");
  m.set_strings("labels", {"road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                           "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                           "truck", "bus", "train", "motorcycle", "bicycle"});
  m.set_ints("thing_classes", {11, 12, 13, 14, 15, 16, 17, 18});
  m.set_floats("input_mean", {127.5, 127.5, 127.5});
  m.set_floats("input_std", {127.5, 127.5, 127.5});
  m.set_ints("input_size", {height, width});
  m.set_int("label_divisor", 1000);
  m.set_int("void_label", 255);
  m.set_float("center_threshold", 0.1);
  m.set_int("nms_kernel", arch.nms_kernel);
  m.set_int("top_k", 400);
  m.set_int("stuff_area_limit", 2048);
  m.set_string("architecture", "panoptic_deeplab_" + arch.config);
}

}  // namespace

bool parse_image_size(const std::string& text, int64_t* height, int64_t* width) {
  size_t x = text.find_first_of("xX");
  if (x == std::string::npos || x == 0 || x + 1 >= text.size() || x > 9 || text.size() - x > 10)
    return false;
  int64_t values[2] = {0, 0};
  std::string parts[2] = {text.substr(0, x), text.substr(x + 1)};
  for (int i = 0; i < 2; ++i) {
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return false;
      values[i] = values[i] * 10 + (c - '0');
    }
    if (values[i] < 1) return false;
  }
  *height = values[0];
  *width = values[1];
  return true;
}

std::vector<std::string> architecture_names() {
  std::vector<std::string> names;
  for (const auto& entry : architectures()) names.push_back(entry.first);
  return names;
}

Status build_architecture(const std::string& name, int64_t height, int64_t width, uint64_t seed,
                          Graph* graph) {
  const Architecture* arch = nullptr;
  std::string valid;
  for (const auto& entry : architectures()) {
    if (entry.first == name) arch = &entry.second;
    valid += (valid.empty() ? "" : ", ") + entry.first;
  }
  if (!arch) return Status::error("unknown architecture '" + name + "' (one of: " + valid + ")");
  constexpr int64_t kMaxSide = 16384;
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide)
    return Status::error("architecture input size " + std::to_string(height) + "x" +
                         std::to_string(width) + " out of range [1, " + std::to_string(kMaxSide) +
                         "] per side");
  *graph = Graph();
  set_metadata(name, *arch, height, width, graph);
  Builder b(graph, seed);
  Value image = b.input("image", height, width);
  std::map<std::string, Value> f;
  if (arch->backbone == "resnet50")
    b.resnet50(image, arch->output_stride, &f);
  else if (arch->backbone == "mnv3l")
    b.mobilenet_v3(image, kMobileNetV3Large, 960, arch->output_stride, &f);
  else
    b.mobilenet_v3(image, kMobileNetV3Small, 576, arch->output_stride, &f);
  const Value &res2 = f["res2"], &res3 = f["res3"], &res5 = f["res5"];
  Value pooled;
  Value semantic =
      b.head(b.decoder(b.aspp(res5, arch->aspp_rates, &pooled), res3, res2, 64, 32, 256), 256, 19);
  Value instance = b.decoder(b.aspp(res5, arch->aspp_rates, &pooled), res3, res2, 32, 16, 128);
  Value center = b.head(instance, 32, 1);
  Value offset = b.head(instance, 32, 2);
  // Offsets are in stride-4 pixels: scale each axis to input pixels (as PyTorch does, in double
  // then rounded to float32), then resize.
  std::vector<float> scale = {
      float(double(height - 1) / double(std::max<int64_t>(offset.height - 1, 1))),
      float(double(width - 1) / double(std::max<int64_t>(offset.width - 1, 1)))};
  int32_t scale_tensor = b.constant_values("offset_scale", {1, 2, 1, 1}, scale);
  b.output(b.resize(semantic, height, width), "semantic");
  b.output(b.resize(center, height, width), "center");
  b.output(b.resize(b.binary(OpType::op_mul, offset, scale_tensor), height, width), "offset");
  ATROUS_RETURN_IF_ERROR(graph_validate(*graph));
  return graph_infer_shapes(graph);
}

}  // namespace atrous
