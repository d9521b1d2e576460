// Helpers of the operator tests (tests/test_ops_*.cpp): build attributes and tensors tersely,
// run one op through the checked registry entry points, compare results.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/ops.h"

namespace atrous {
namespace ops_testing {

// Attributes in one expression: Attrs().ints("strides", {2, 2}).str("auto_pad", "valid").
struct Attrs {
  AttributeMap map;
  Attrs& integer(const char* name, int64_t value) {
    map.set_int(name, value);
    return *this;
  }
  Attrs& real(const char* name, double value) {
    map.set_float(name, value);
    return *this;
  }
  Attrs& str(const char* name, const std::string& value) {
    map.set_string(name, value);
    return *this;
  }
  Attrs& ints(const char* name, const std::vector<int64_t>& value) {
    map.set_ints(name, value);
    return *this;
  }
  Attrs& reals(const char* name, const std::vector<double>& value) {
    map.set_floats(name, value);
    return *this;
  }
  operator const AttributeMap&() const { return map; }
};

inline Tensor make_f32(const Shape& shape, const std::vector<float>& values) {
  Tensor tensor(DType::dtype_f32, shape);
  REQUIRE(int64_t(values.size()) == tensor.numel());
  if (!values.empty()) std::memcpy(tensor.data(), values.data(), values.size() * sizeof(float));
  return tensor;
}

// 0, 1, 2, ... (or start, start + 1, ...) in row-major order.
inline Tensor iota_f32(const Shape& shape, float start = 0.0f) {
  Tensor tensor(DType::dtype_f32, shape);
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = start + float(i);
  return tensor;
}

// Uniform in [low, high): with a continuous distribution the data is never all zeros.
inline Tensor random_f32(const Shape& shape, std::mt19937& rng, float low = -1.0f,
                         float high = 1.0f) {
  Tensor tensor(DType::dtype_f32, shape);
  std::uniform_real_distribution<float> distribution(low, high);
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.f32()[i] = distribution(rng);
  return tensor;
}

inline std::vector<float> values_of(const Tensor& tensor) {
  return std::vector<float>(tensor.f32(), tensor.f32() + tensor.numel());
}

struct OpRun {
  Status status;
  std::vector<Tensor> outputs;
};

// Infers the output descs, allocates the outputs and runs the reference implementation.
inline OpRun run_op(OpType type, const AttributeMap& attributes,
                    const std::vector<const Tensor*>& inputs) {
  OpRun run;
  std::vector<TensorDesc> input_descs(inputs.size());
  std::vector<const TensorDesc*> desc_pointers(inputs.size(), nullptr);
  std::vector<const TensorView*> views(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    input_descs[i] = TensorDesc{inputs[i]->dtype(), inputs[i]->shape()};
    desc_pointers[i] = &input_descs[i];
    views[i] = &inputs[i]->view();
  }
  std::vector<TensorDesc> output_descs;
  run.status = op_infer(type, attributes, desc_pointers, &output_descs);
  if (!run.status.ok()) return run;
  std::vector<TensorView*> output_views;
  for (const TensorDesc& desc : output_descs) run.outputs.emplace_back(desc.dtype, desc.shape);
  for (Tensor& output : run.outputs) output_views.push_back(&output.view());
  run.status = op_run_reference(type, attributes, views, output_views);
  return run;
}

// Runs an op that must succeed and returns its single output.
inline Tensor run_ok(OpType type, const AttributeMap& attributes,
                     const std::vector<const Tensor*>& inputs) {
  OpRun run = run_op(type, attributes, inputs);
  INFO(op_type_name(type) << ": " << run.status.message());
  REQUIRE(run.status.ok());
  REQUIRE(run.outputs.size() == 1);
  return std::move(run.outputs[0]);
}

// The shape rule alone, on descs (no data needed).
inline Status infer_only(OpType type, const AttributeMap& attributes,
                         const std::vector<TensorDesc>& inputs,
                         std::vector<TensorDesc>* outputs = nullptr) {
  std::vector<const TensorDesc*> pointers;
  for (const TensorDesc& desc : inputs) pointers.push_back(&desc);
  std::vector<TensorDesc> local;
  return op_infer(type, attributes, pointers, outputs ? outputs : &local);
}

inline TensorDesc f32_desc(const Shape& shape) { return TensorDesc{DType::dtype_f32, shape}; }

// Element-wise |actual − expected| <= tolerance · max(1, |expected|).
inline void check_close(const Tensor& actual, const Shape& shape,
                        const std::vector<float>& expected, double tolerance = 1e-6) {
  REQUIRE(actual.shape() == shape);
  REQUIRE(actual.dtype() == DType::dtype_f32);
  REQUIRE(int64_t(expected.size()) == actual.numel());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i << ": got " << actual.f32()[i] << ", expected " << expected[i]);
    CHECK(std::fabs(double(actual.f32()[i]) - double(expected[i])) <=
          tolerance * std::max(1.0, std::fabs(double(expected[i]))));
  }
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

}  // namespace ops_testing
}  // namespace atrous
