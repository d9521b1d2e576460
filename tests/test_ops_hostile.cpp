// Models come from untrusted files: every op's shape rule must turn any attribute and input
// combination into either an error or descs that its reference implementation can run without
// touching memory out of bounds or overflowing (run this under ATROUS_SANITIZE=ON to check the
// latter). Attributes are drawn from values that broke shape rules elsewhere: 0, negatives,
// 2^31, 2^62, INT64_MIN/MAX, NaN, wrong types.
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>

#include "runtime/session.h"
#include "test_ops_helpers.h"
#include "tests/graph_fixtures.h"

namespace atrous {
namespace {

using namespace ops_testing;

const char* const kAttributeNames[] = {"strides",
                                       "dilations",
                                       "pads",
                                       "kernel_shape",
                                       "group",
                                       "auto_pad",
                                       "axis",
                                       "axes",
                                       "perm",
                                       "shape",
                                       "starts",
                                       "ends",
                                       "steps",
                                       "blocksize",
                                       "sizes",
                                       "scales",
                                       "mode",
                                       "keepdims",
                                       "ceil_mode",
                                       "count_include_pad",
                                       "activation",
                                       "activation_params",
                                       "min",
                                       "max",
                                       "alpha",
                                       "beta",
                                       "trans_a",
                                       "trans_b",
                                       "epsilon",
                                       "value",
                                       "coordinate_mode",
                                       "nearest_mode",
                                       "gamma",
                                       "approximate",
                                       "to",
                                       "cubic_coeff_a",
                                       "exclude_outside",
                                       "antialias",
                                       "roi",
                                       "extrapolation_value"};

const char* const kStrings[] = {"explicit",
                                "valid",
                                "same_upper",
                                "same_lower",
                                "constant",
                                "reflect",
                                "edge",
                                "linear",
                                "nearest",
                                "DCR",
                                "CRD",
                                "half_pixel",
                                "asymmetric",
                                "align_corners",
                                "clip",
                                "relu",
                                "hard_sigmoid",
                                "floor",
                                "",
                                "bogus",
                                "none",
                                "tanh",
                                "cubic",
                                "tf_crop_and_resize",
                                "half_pixel_symmetric"};

int64_t hostile_int(std::mt19937& rng) {
  static const int64_t values[] = {0,
                                   1,
                                   2,
                                   3,
                                   -1,
                                   -2,
                                   4,
                                   5,
                                   int64_t(1) << 31,
                                   int64_t(1) << 62,
                                   std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min()};
  return values[std::uniform_int_distribution<size_t>(0, std::size(values) - 1)(rng)];
}

double hostile_float(std::mt19937& rng) {
  static const double values[] = {0.0,
                                  1.0,
                                  -1.0,
                                  0.5,
                                  2.0,
                                  1e-300,
                                  1e300,
                                  std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN()};
  return values[std::uniform_int_distribution<size_t>(0, std::size(values) - 1)(rng)];
}

// A valid starting point per op (in OpType order): inputs and attributes.
struct BaseCase {
  std::vector<Shape> inputs;
  AttributeMap attributes;
  std::vector<DType> dtypes = {};  // per input; float32 where absent
  DType dtype(size_t i) const { return i < dtypes.size() ? dtypes[i] : DType::dtype_f32; }
};

// Fills a hostile-test input with small values of its dtype.
void fill_small(Tensor* tensor, std::mt19937& rng) {
  std::uniform_int_distribution<int> value(-100, 100);
  for (int64_t e = 0; e < tensor->numel(); ++e) {
    switch (tensor->dtype()) {
      case DType::dtype_f32:
        tensor->f32()[e] = float(value(rng)) / 10.0f;
        break;
      case DType::dtype_i32:
        tensor->i32()[e] = value(rng);
        break;
      case DType::dtype_i64:
        tensor->view().i64()[e] = value(rng);
        break;
      case DType::dtype_u8:
        tensor->view().u8()[e] = uint8_t(value(rng) & 1);
        break;
    }
  }
}

std::vector<BaseCase> base_cases() {
  auto attrs = [](Attrs a) { return a.map; };
  const AttributeMap pool =
      Attrs().ints("kernel_shape", {3, 3}).ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}).map;
  std::vector<BaseCase> cases = {
      {{{1, 4, 5, 5}, {4, 2, 3, 3}, {4}},
       attrs(Attrs().integer("group", 2).ints("pads", {1, 1, 1, 1}))},
      {{{2, 3, 2, 2}, {3}, {3}, {3}, {3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs().real("min", 0).real("max", 6))},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs().real("alpha", 0.2))},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {2, 1}}, attrs(Attrs().integer("axis", 1))},
      {{{2, 3, 4}}, attrs(Attrs().ints("shape", {0, -1}))},
      {{{2, 3, 4}}, attrs(Attrs().integer("axis", 2))},
      {{{2, 3, 4}}, attrs(Attrs().ints("perm", {1, 0, 2}))},
      {{{3, 4}}, attrs(Attrs().ints("pads", {1, -1, 0, 2}).str("mode", "reflect"))},
      {{{5, 6}},
       attrs(Attrs().ints("starts", {1, -1}).ints("ends", {4, -6}).ints("steps", {1, -2}))},
      {{{1, 8, 2, 3}}, attrs(Attrs().integer("blocksize", 2))},
      {{{1, 2, 4, 6}}, attrs(Attrs().integer("blocksize", 2))},
      {{{1, 2, 3, 3}}, attrs(Attrs())},
      {{{2, 3, 4}}, attrs(Attrs().ints("axes", {1}))},
      {{{1, 2, 5, 5}}, pool},
      {{{1, 2, 5, 5}}, pool},
      {{{2, 5}}, attrs(Attrs())},
      {{{2, 5}}, attrs(Attrs().integer("axis", 1))},
      {{{1, 2, 3, 4}}, attrs(Attrs().ints("sizes", {5, 7}))},
      {{{3, 4}, {4, 5}, {5}}, attrs(Attrs())},
      {{{2, 3, 4}, {4, 5}}, attrs(Attrs())},
      {{{1, 4, 3, 3}, {4, 2, 3, 3}, {4}},
       attrs(Attrs()
                 .integer("group", 2)
                 .ints("strides", {2, 2})
                 .ints("pads", {1, 1, 1, 1})
                 .ints("output_padding", {1, 1}))},
      {{{2, 3}}, attrs(Attrs().real("alpha", 0.1))},
      {{{2, 3}}, attrs(Attrs().real("alpha", 0.5))},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs().str("approximate", "tanh"))},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{3, 1}}, attrs(Attrs().ints("shape", {2, 3, 4}))},
      {{{2, 3, 4}}, attrs(Attrs().ints("axes", {1}))},
      {{{2, 3, 4}}, attrs(Attrs().ints("axes", {0, 2}).integer("keepdims", 0))},
      {{{2, 3, 4}}, attrs(Attrs().ints("axes", {2}))},
      {{{2, 3, 4}}, attrs(Attrs().ints("axes", {1}))},
      {{{2, 3, 4}}, attrs(Attrs())},
      {{{2, 3, 4}}, attrs(Attrs().integer("axis", 1).real("epsilon", 1e-3))},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 3}, {2, 1}}, attrs(Attrs())},
      {{{2, 1}, {3}}, attrs(Attrs())},
      {{{2, 3}, {3}, {2, 1}}, attrs(Attrs()), {DType::dtype_u8}},
      {{{2, 3}}, attrs(Attrs().str("to", "int32"))},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs().real("alpha", 2.0))},
      {{{2, 3}}, attrs(Attrs().real("alpha", 0.5))},
      {{{2, 3}, {3}}, attrs(Attrs())},
      {{{2, 1}, {3}}, attrs(Attrs())},
      {{{2, 3}}, attrs(Attrs()), {DType::dtype_u8}},
      {{{2, 3}, {3}}, attrs(Attrs()), {DType::dtype_u8, DType::dtype_u8}},
      {{{2, 3}, {2, 1}}, attrs(Attrs()), {DType::dtype_u8, DType::dtype_u8}},
      {{{2, 1}, {3}}, attrs(Attrs()), {DType::dtype_u8, DType::dtype_u8}},
  };
  return cases;
}

// Overwrites 0..3 attributes with hostile values; names come from the op's own attributes
// half of the time so the mutations reach its checks.
void mutate_attributes(std::mt19937& rng, AttributeMap* map) {
  auto pick = [&rng](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(rng);
  };
  std::vector<std::string> own;
  for (const Attribute& attribute : map->items()) own.push_back(attribute.name);
  const int count = pick(0, 3);
  for (int i = 0; i < count; ++i) {
    const std::string name = !own.empty() && pick(0, 1)
                                 ? own[size_t(pick(0, int(own.size()) - 1))]
                                 : kAttributeNames[pick(0, int(std::size(kAttributeNames)) - 1)];
    switch (pick(0, 4)) {
      case 0:
        map->set_int(name, pick(0, 3) ? pick(-2, 4) : hostile_int(rng));
        break;
      case 1:
        map->set_float(name, hostile_float(rng));
        break;
      case 2:
        map->set_string(name, kStrings[pick(0, int(std::size(kStrings)) - 1)]);
        break;
      case 3: {
        std::vector<int64_t> values(size_t(pick(0, 5)));
        for (int64_t& v : values) v = pick(0, 3) ? pick(-2, 4) : hostile_int(rng);
        map->set_ints(name, values);
        break;
      }
      default: {
        std::vector<double> values(size_t(pick(0, 3)));
        for (double& v : values) v = pick(0, 1) ? double(pick(-2, 4)) : hostile_float(rng);
        map->set_floats(name, values);
        break;
      }
    }
  }
}

// Changes a dim, the rank, the dtype or the count of the inputs, sometimes.
void mutate_inputs(std::mt19937& rng, const OpDefinition& definition, const BaseCase& base,
                   std::vector<Shape>* shapes, std::vector<DType>* dtypes) {
  auto pick = [&rng](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(rng);
  };
  dtypes->clear();
  for (size_t i = 0; i < shapes->size(); ++i) dtypes->push_back(base.dtype(i));
  const int mutations = pick(0, 2);
  for (int m = 0; m < mutations; ++m) {
    Shape& shape = (*shapes)[size_t(pick(0, int(shapes->size()) - 1))];
    switch (pick(0, 4)) {
      case 0:
        if (!shape.empty()) shape[size_t(pick(0, int(shape.size()) - 1))] = pick(0, 6);
        break;
      case 1:
        if (shape.size() < 6) shape.push_back(pick(1, 3));
        break;
      case 2:
        if (!shape.empty()) shape.pop_back();
        break;
      case 3:
        (*dtypes)[size_t(pick(0, int(dtypes->size()) - 1))] = DType::dtype_i32;
        break;
      default: {
        const int max_inputs = definition.max_inputs < 0 ? 4 : definition.max_inputs;
        const int count = pick(definition.min_inputs, max_inputs);
        shapes->resize(size_t(count), Shape{2});
        dtypes->resize(size_t(count), DType::dtype_f32);
        break;
      }
    }
  }
}

TEST_CASE("every op: hostile attributes and shapes give errors or safe runs", "[ops][hostile]") {
  std::mt19937 rng(4242);
  const std::vector<BaseCase> bases = base_cases();
  REQUIRE(bases.size() == size_t(OpType::op_count));
  for (int op_index = 0; op_index < int(OpType::op_count); ++op_index) {
    const OpType op = OpType(op_index);
    const OpDefinition& definition = op_definition(op);
    INFO(op_type_name(definition.type));
    int ran = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      std::vector<Shape> shapes = bases[size_t(op_index)].inputs;
      std::vector<DType> dtypes;
      AttributeMap attributes = bases[size_t(op_index)].attributes;
      if (trial > 0) {
        mutate_inputs(rng, definition, bases[size_t(op_index)], &shapes, &dtypes);
        mutate_attributes(rng, &attributes);
      } else {
        for (size_t i = 0; i < shapes.size(); ++i)
          dtypes.push_back(bases[size_t(op_index)].dtype(i));
      }
      std::vector<Tensor> inputs;
      for (size_t i = 0; i < shapes.size(); ++i) {
        inputs.emplace_back(dtypes[i], shapes[i]);
        fill_small(&inputs.back(), rng);
      }
      std::vector<TensorDesc> descs;
      for (const Tensor& tensor : inputs)
        descs.push_back(TensorDesc{tensor.dtype(), tensor.shape()});
      std::vector<const TensorDesc*> desc_pointers;
      for (const TensorDesc& desc : descs) desc_pointers.push_back(&desc);
      std::vector<TensorDesc> outputs;
      Status status = op_infer(op, attributes, desc_pointers, &outputs);
      if (trial == 0) {
        INFO(status.message());
        REQUIRE(status.ok());  // the base case itself is valid
      }
      if (!status.ok()) {
        CHECK(status.message().find('\n') == std::string::npos);
        CHECK(status.message().rfind(std::string(op_type_name(definition.type)) + ": ", 0) == 0);
        continue;
      }
      // Valid but slow combinations (e.g. sizes 2^31) are skipped; the rest run, and a
      // sanitizer build reports any out-of-bounds access or overflow.
      if (shape_numel(outputs[0].shape) > 20000) continue;
      if (op_multiply_adds(op, attributes, desc_pointers, outputs) > 1000000) continue;
      std::vector<const Tensor*> pointers;
      for (const Tensor& tensor : inputs) pointers.push_back(&tensor);
      OpRun run = run_op(op, attributes, pointers);
      CHECK(run.status.ok());
      ++ran;
    }
    CHECK(ran >= 20);  // the mutations must leave enough valid cases to run
  }
}

// Dims that broke shape rules: a product of two of them overflows int64, and a few are
// accepted only when another dim of the tensor is 0.
int64_t hostile_dim(std::mt19937& rng) {
  static const int64_t values[] = {0,
                                   1,
                                   3,
                                   int64_t(1) << 17,
                                   int64_t(1) << 31,
                                   int64_t(1) << 33,
                                   int64_t(1) << 34,
                                   (int64_t(1) << 34) + 1,
                                   int64_t(1) << 40,
                                   int64_t(1) << 62,
                                   std::numeric_limits<int64_t>::max()};
  return values[std::uniform_int_distribution<size_t>(0, std::size(values) - 1)(rng)];
}

TEST_CASE("every op: huge and overflowing input shapes are errors or valid descs, never UB",
          "[ops][hostile]") {
  // Shape rules only (no data): under ATROUS_SANITIZE=ON, any signed overflow aborts the test.
  std::mt19937 rng(1414);
  const std::vector<BaseCase> bases = base_cases();
  for (int op_index = 0; op_index < int(OpType::op_count); ++op_index) {
    const OpType op = OpType(op_index);
    INFO(op_type_name(op));
    int accepted = 0;
    for (int trial = 0; trial < 400; ++trial) {
      std::vector<TensorDesc> descs;
      const BaseCase& base = bases[size_t(op_index)];
      for (size_t i = 0; i < base.inputs.size(); ++i)
        descs.push_back(TensorDesc{base.dtype(i), base.inputs[i]});
      for (TensorDesc& desc : descs)
        for (int64_t& dim : desc.shape)
          if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) dim = hostile_dim(rng);
      AttributeMap attributes = bases[size_t(op_index)].attributes;
      if (trial % 2) mutate_attributes(rng, &attributes);
      std::vector<const TensorDesc*> pointers;
      for (const TensorDesc& desc : descs) pointers.push_back(&desc);
      std::vector<TensorDesc> outputs;
      Status status = op_infer(op, attributes, pointers, &outputs);
      if (!status.ok()) {
        CHECK(status.message().find('\n') == std::string::npos);
        continue;
      }
      ++accepted;
      for (const TensorDesc& output : outputs) {
        int64_t count = 0;
        CHECK(shape_element_count(output.shape, &count));
      }
      (void)op_multiply_adds(op, attributes, pointers, outputs);
    }
    CHECK(accepted > 0);
  }
}

// Each base case with one input dim set to 0 and another to the largest value the shape rule
// allows (the product of the non-zero dims stays within kMaxTensorElements).
std::vector<Shape> empty_with_huge_dims(const std::vector<Shape>& inputs, size_t which,
                                        size_t zero_axis, size_t huge_axis) {
  std::vector<Shape> shapes = inputs;
  Shape& shape = shapes[which];
  shape[zero_axis] = 0;
  if (huge_axis != zero_axis) {
    int64_t others = 1;
    for (size_t i = 0; i < shape.size(); ++i)
      if (i != zero_axis && i != huge_axis && shape[i] > 0) others *= shape[i];
    shape[huge_axis] = kMaxTensorElements / others;
  }
  return shapes;
}

TEST_CASE("every op: empty inputs with huge other dims run without work or huge tables",
          "[ops][hostile]") {
  const std::vector<BaseCase> bases = base_cases();
  int ran = 0;
  for (int op_index = 0; op_index < int(OpType::op_count); ++op_index) {
    const OpType op = OpType(op_index);
    const BaseCase& base = bases[size_t(op_index)];
    for (size_t which = 0; which < base.inputs.size(); ++which) {
      const size_t rank = base.inputs[which].size();
      for (size_t zero_axis = 0; zero_axis < rank; ++zero_axis) {
        for (size_t huge_axis = 0; huge_axis < rank; ++huge_axis) {
          const std::vector<Shape> shapes =
              empty_with_huge_dims(base.inputs, which, zero_axis, huge_axis);
          std::vector<Tensor> inputs;
          std::mt19937 fill_rng(7);
          for (size_t i = 0; i < shapes.size(); ++i) {
            inputs.emplace_back(base.dtype(i), shapes[i]);
            fill_small(&inputs.back(), fill_rng);
          }
          std::vector<TensorDesc> descs;
          for (const Tensor& tensor : inputs) descs.push_back({tensor.dtype(), tensor.shape()});
          std::vector<TensorDesc> outputs;
          if (!infer_only(op, base.attributes, descs, &outputs).ok()) continue;
          bool small = true;
          for (const TensorDesc& output : outputs) small &= shape_numel(output.shape) <= 20000;
          if (!small) continue;
          INFO(op_type_name(op) << " input " << which << " " << shape_to_string(shapes[which]));
          std::vector<const Tensor*> pointers;
          for (const Tensor& tensor : inputs) pointers.push_back(&tensor);
          OpRun run = run_op(op, base.attributes, pointers);
          CHECK(run.status.ok());
          // The same node as a model: the CPU backend's kernels, and constant folding when
          // every input is a constant.
          for (int as_constants = 0; as_constants < 2; ++as_constants) {
            for (Backend backend : {Backend::backend_reference, Backend::backend_cpu}) {
              Graph graph;
              std::vector<int32_t> node_inputs;
              std::vector<NamedInput> named;
              for (size_t i = 0; i < inputs.size(); ++i) {
                const std::string name = "x" + std::to_string(i);
                if (as_constants) {
                  Tensor copy(inputs[i].dtype(), inputs[i].shape());
                  std::memcpy(copy.data(), inputs[i].data(), inputs[i].byte_size());
                  node_inputs.push_back(graph.add_constant(name, std::move(copy)));
                } else {
                  node_inputs.push_back(graph.add_tensor(name, inputs[i].dtype(), shapes[i]));
                  graph.inputs.push_back(node_inputs.back());
                  named.push_back({name, &inputs[i].view()});
                }
              }
              std::vector<int32_t> node_outputs;
              for (size_t o = 0; o < outputs.size(); ++o)
                node_outputs.push_back(
                    graph.add_tensor("y" + std::to_string(o), DType::dtype_f32, outputs[o].shape));
              testing::add_node(graph, op, "node", node_inputs, node_outputs, base.attributes);
              graph.outputs = node_outputs;
              Tensor dummy(DType::dtype_f32, {1});
              if (as_constants) {  // a model needs an input
                const int32_t in = graph.add_tensor("dummy", DType::dtype_f32, {1});
                const int32_t out = graph.add_tensor("dummy_out", DType::dtype_f32, {1});
                testing::add_node(graph, OpType::op_relu, "dummy", {in}, {out});
                graph.inputs.push_back(in);
                graph.outputs.push_back(out);
                named.push_back({"dummy", &dummy.view()});
              }
              std::shared_ptr<const Model> model;
              Status status = Model::from_graph(std::move(graph), &model);
              INFO(status.message());
              REQUIRE(status.ok());
              SessionOptions options;
              options.backend = backend;
              std::unique_ptr<Session> session;
              status = Session::create(model, options, &session);
              INFO(status.message());
              REQUIRE(status.ok());
              std::vector<Tensor> results;
              status = session->run(named, &results);
              INFO(status.message());
              CHECK(status.ok());
              ++ran;
            }
          }
        }
      }
    }
  }
  CHECK(ran > 100);
}

}  // namespace
}  // namespace atrous
