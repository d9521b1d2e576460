// gemm (ONNX Gemm: alpha·A'·B' + beta·C) and matmul (NumPy matmul, batch dims broadcast),
// float32.
// Products accumulate in double along K; the result is rounded to float once. The loops run
// over k outside n, so the innermost loop is a contiguous axpy over a row of B (or a strided
// one for trans_b).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/op_functions.h"
#include "ops/op_helpers.h"

namespace atrous {

namespace {

// acc[n] += a · b[n·stride] for n in [0, count).
void axpy_row(double a, const float* b, int64_t stride, double* acc, int64_t count) {
  if (stride == 1) {
    for (int64_t n = 0; n < count; ++n) acc[n] += a * double(b[n]);
  } else {
    for (int64_t n = 0; n < count; ++n) acc[n] += a * double(b[n * stride]);
  }
}

// ---- gemm ------------------------------------------------------------------------------------

struct GemmPlan {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  double alpha = 1.0, beta = 1.0;
  std::vector<int64_t> c_strides;  // broadcast strides of C over [M, N] (when present)
};

Status gemm_resolve(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                    GemmPlan* plan) {
  const char* op = "gemm";
  const TensorDesc& a = *inputs[0];
  const TensorDesc& b = *inputs[1];
  const TensorDesc* c = inputs.size() > 2 ? inputs[2] : nullptr;
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input A", a, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input B", b, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_rank(op, "input A", a, 2));
  ATROUS_RETURN_IF_ERROR(check_rank(op, "input B", b, 2));
  AttributeReader reader(op, attributes);
  int64_t trans_a = reader.get_int("trans_a", 0);
  int64_t trans_b = reader.get_int("trans_b", 0);
  plan->alpha = reader.get_float("alpha", 1.0);
  plan->beta = reader.get_float("beta", 1.0);
  ATROUS_RETURN_IF_ERROR(reader.status());
  ATROUS_RETURN_IF_ERROR(check_flag(op, "trans_a", trans_a));
  ATROUS_RETURN_IF_ERROR(check_flag(op, "trans_b", trans_b));
  plan->trans_a = trans_a != 0;
  plan->trans_b = trans_b != 0;
  plan->m = plan->trans_a ? a.shape[1] : a.shape[0];
  plan->k = plan->trans_a ? a.shape[0] : a.shape[1];
  const int64_t k_of_b = plan->trans_b ? b.shape[1] : b.shape[0];
  plan->n = plan->trans_b ? b.shape[0] : b.shape[1];
  if (k_of_b != plan->k)
    return op_error(op, "inner dims differ: A " + shape_to_string(a.shape) + ", B " +
                            shape_to_string(b.shape) + " (trans_a " + std::to_string(trans_a) +
                            ", trans_b " + std::to_string(trans_b) + ")");
  const Shape output = {plan->m, plan->n};
  if (c) {
    ATROUS_RETURN_IF_ERROR(check_dtype(op, "input C", *c, DType::dtype_f32));
    Shape broadcast;
    if (c->shape.size() > 2 || !broadcast_shapes(op, c->shape, output, &broadcast).ok() ||
        broadcast != output)
      return op_error(op, "C " + shape_to_string(c->shape) + " does not broadcast to " +
                              shape_to_string(output));
    plan->c_strides = broadcast_strides(c->shape, output);
  }
  return check_output_shape(op, output);
}

}  // namespace

Status gemm_infer(const AttributeMap& attributes, const std::vector<const TensorDesc*>& inputs,
                  std::vector<TensorDesc>* outputs) {
  GemmPlan plan;
  ATROUS_RETURN_IF_ERROR(gemm_resolve(attributes, inputs, &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, Shape{plan.m, plan.n}});
  return Status::success();
}

Status gemm_reference(const AttributeMap& attributes, const std::vector<const TensorView*>& inputs,
                      const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  GemmPlan plan;
  ATROUS_RETURN_IF_ERROR(gemm_resolve(attributes, descs.pointers(), &plan));
  const float* a = inputs[0]->f32();
  const float* b = inputs[1]->f32();
  const float* c = inputs.size() > 2 && inputs[2] ? inputs[2]->f32() : nullptr;
  float* y = outputs[0]->f32();
  // A'(m, k) and B'(k, n) as strided reads of the stored A and B.
  const int64_t a_row = plan.trans_a ? 1 : plan.k, a_col = plan.trans_a ? plan.m : 1;
  const int64_t b_row = plan.trans_b ? 1 : plan.n, b_col = plan.trans_b ? plan.k : 1;
  std::vector<double> acc(size_t(plan.n));
  for (int64_t m = 0; m < plan.m; ++m) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < plan.k; ++k)
      axpy_row(double(a[m * a_row + k * a_col]), b + k * b_row, b_col, acc.data(), plan.n);
    for (int64_t n = 0; n < plan.n; ++n) {
      double value = plan.alpha * acc[size_t(n)];
      if (c) value += plan.beta * double(c[m * plan.c_strides[0] + n * plan.c_strides[1]]);
      y[m * plan.n + n] = float(value);
    }
  }
  return Status::success();
}

int64_t gemm_multiply_adds(const AttributeMap& attributes,
                           const std::vector<const TensorDesc*>& inputs,
                           const std::vector<TensorDesc>&) {
  GemmPlan plan;
  if (!gemm_resolve(attributes, inputs, &plan).ok()) return 0;
  return saturating_mul(saturating_mul(plan.m, plan.n), plan.k);
}

// ---- matmul ----------------------------------------------------------------------------------

namespace {

struct MatmulPlan {
  int64_t m = 0, n = 0, k = 0;
  Shape batch;                            // broadcast batch dims
  std::vector<int64_t> a_batch, b_batch;  // matrix-index strides of A and B over `batch`
  Shape output;
};

Status matmul_resolve(const std::vector<const TensorDesc*>& inputs, MatmulPlan* plan) {
  const char* op = "matmul";
  const TensorDesc& a = *inputs[0];
  const TensorDesc& b = *inputs[1];
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input A", a, DType::dtype_f32));
  ATROUS_RETURN_IF_ERROR(check_dtype(op, "input B", b, DType::dtype_f32));
  if (a.shape.empty() || b.shape.empty()) return op_error(op, "inputs must have rank >= 1");
  // NumPy: a vector A is a row [1, K], a vector B a column [K, 1]; the added dim is dropped.
  Shape a_shape = a.shape.size() == 1 ? Shape{1, a.shape[0]} : a.shape;
  Shape b_shape = b.shape.size() == 1 ? Shape{b.shape[0], 1} : b.shape;
  plan->m = a_shape[a_shape.size() - 2];
  plan->k = a_shape.back();
  plan->n = b_shape.back();
  if (b_shape[b_shape.size() - 2] != plan->k)
    return op_error(
        op, "inner dims differ: A " + shape_to_string(a.shape) + ", B " + shape_to_string(b.shape));
  const Shape a_batch(a_shape.begin(), a_shape.end() - 2);
  const Shape b_batch(b_shape.begin(), b_shape.end() - 2);
  ATROUS_RETURN_IF_ERROR(broadcast_shapes(op, a_batch, b_batch, &plan->batch));
  plan->a_batch = broadcast_strides(a_batch, plan->batch);
  plan->b_batch = broadcast_strides(b_batch, plan->batch);
  plan->output = plan->batch;
  if (a.shape.size() > 1) plan->output.push_back(plan->m);
  if (b.shape.size() > 1) plan->output.push_back(plan->n);
  return check_output_shape(op, plan->output);
}

}  // namespace

Status matmul_infer(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,
                    std::vector<TensorDesc>* outputs) {
  MatmulPlan plan;
  ATROUS_RETURN_IF_ERROR(matmul_resolve(inputs, &plan));
  outputs->push_back(TensorDesc{DType::dtype_f32, plan.output});
  return Status::success();
}

Status matmul_reference(const AttributeMap&, const std::vector<const TensorView*>& inputs,
                        const std::vector<TensorView*>& outputs) {
  ViewDescs descs(inputs);
  MatmulPlan plan;
  ATROUS_RETURN_IF_ERROR(matmul_resolve(descs.pointers(), &plan));
  const int64_t batches = shape_numel(plan.batch);
  const int64_t a_matrix = plan.m * plan.k, b_matrix = plan.k * plan.n;
  std::vector<double> acc(size_t(plan.n));
  std::vector<int64_t> index(plan.batch.size(), 0);
  int64_t a_offset = 0, b_offset = 0;  // in matrices
  for (int64_t batch = 0; batch < batches; ++batch) {
    const float* a = inputs[0]->f32() + a_offset * a_matrix;
    const float* b = inputs[1]->f32() + b_offset * b_matrix;
    float* y = outputs[0]->f32() + batch * plan.m * plan.n;
    for (int64_t m = 0; m < plan.m; ++m) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < plan.k; ++k)
        axpy_row(double(a[m * plan.k + k]), b + k * plan.n, 1, acc.data(), plan.n);
      for (int64_t n = 0; n < plan.n; ++n) y[m * plan.n + n] = float(acc[size_t(n)]);
    }
    for (size_t d = plan.batch.size(); d-- > 0;) {
      a_offset += plan.a_batch[d];
      b_offset += plan.b_batch[d];
      if (++index[d] < plan.batch[d]) break;
      a_offset -= plan.a_batch[d] * plan.batch[d];
      b_offset -= plan.b_batch[d] * plan.batch[d];
      index[d] = 0;
    }
  }
  return Status::success();
}

int64_t matmul_multiply_adds(const AttributeMap&, const std::vector<const TensorDesc*>& inputs,
                             const std::vector<TensorDesc>&) {
  MatmulPlan plan;
  if (!matmul_resolve(inputs, &plan).ok()) return 0;
  int64_t total = saturating_mul(saturating_mul(plan.m, plan.n), plan.k);
  for (int64_t dim : plan.batch) total = saturating_mul(total, dim);
  return total;
}

}  // namespace atrous
