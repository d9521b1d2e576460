"""Constant folding: ONNX nodes whose inputs are all constants are evaluated with NumPy. Each case
is a graph on initializers only; the converted model's output is then a constant, compared with
what ONNX Runtime computes for the same graph (exactly, element types included)."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from atrous_convert import convert_to_model
from onnx_helpers import make_model, run_onnxruntime

node = helper.make_node
I64 = TensorProto.INT64


def i64(*v):
    return np.array(v, np.int64)


DATA = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) - 7.5

CASES = [
    ("gather_negative_index", 13, [node("Gather", ["d", "i"], ["y"], axis=1)], {"d": DATA, "i": i64(-1, 0)}, None),
    ("gather_scalar_index", 13, [node("Gather", ["s", "i"], ["y"])], {"s": i64(1, 3, 97, 129), "i": np.array(2)}, I64),
    ("unsqueeze13_negative_axes", 13, [node("Unsqueeze", ["d", "a"], ["y"])], {"d": DATA, "a": i64(-1, 0)}, None),
    ("unsqueeze11_attribute", 11, [node("Unsqueeze", ["d"], ["y"], axes=[1])], {"d": DATA}, None),
    ("squeeze13_all_ones", 13, [node("Squeeze", ["d"], ["y"])], {"d": DATA.reshape(1, 2, 1, 12)}, None),
    ("concat_ints", 13, [node("Concat", ["a", "b"], ["y"], axis=0)], {"a": i64(1, 3), "b": i64(97, 129)}, I64),
    ("slice_negative_step", 13, [node("Slice", ["d", "s", "e", "a", "t"], ["y"])],
     {"d": DATA, "s": i64(-1), "e": i64(-(2 ** 63)), "a": i64(2), "t": i64(-2)}, None),
    ("slice_clamped_ends", 13, [node("Slice", ["d", "s", "e"], ["y"])],
     {"d": DATA, "s": i64(1, -100), "e": i64(2 ** 62, 2)}, None),
    ("slice_opset9", 9, [node("Slice", ["d"], ["y"], starts=[0, 1], ends=[1, 1000], axes=[0, -1])], {"d": DATA}, None),
    ("cast_float_to_int", 13, [node("Cast", ["d"], ["y"], to=TensorProto.INT64)], {"d": DATA}, I64),
    ("constant_of_shape", 13, [node("ConstantOfShape", ["s"], ["y"],
                                    value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5]))],
     {"s": i64(2, 3)}, None),
    ("range_int", 13, [node("Range", ["a", "b", "c"], ["y"])],
     {"a": np.array(1, np.int64), "b": np.array(11, np.int64), "c": np.array(3, np.int64)}, I64),
    ("reshape_zero_minus_one", 13, [node("Reshape", ["d", "s"], ["y"])], {"d": DATA, "s": i64(0, -1)}, None),
    ("integer_div_truncates", 13, [node("Div", ["a", "b"], ["y"])], {"a": i64(7, -7, 7, -7), "b": i64(2, 2, -2, -2)}, I64),
    ("float_arithmetic", 13, [node("Mul", ["d", "d"], ["m"]), node("Sqrt", ["m"], ["s"]), node("Floor", ["s"], ["f"]),
                              node("Ceil", ["d"], ["c"]), node("Sub", ["f", "c"], ["y"])], {"d": DATA}, None),
    ("shape_with_start_end", 15, [node("Shape", ["d"], ["y"], start=1, end=-1)], {"d": DATA}, I64),
    ("size", 13, [node("Size", ["d"], ["y"])], {"d": DATA}, I64),
    ("expand", 13, [node("Expand", ["a", "s"], ["y"])], {"a": DATA[:, :1], "s": i64(3, 1)}, None),
    ("tile", 13, [node("Tile", ["d", "r"], ["y"])], {"d": DATA, "r": i64(1, 2, 1)}, None),
    ("transpose", 13, [node("Transpose", ["d"], ["y"], perm=[2, 0, 1])], {"d": DATA}, None),
    ("split13_first", 13, [node("Split", ["d", "s"], ["y", "z"], axis=2)], {"d": DATA, "s": i64(1, 3)}, None),
    ("where_equal", 13, [node("Equal", ["a", "b"], ["e"]), node("Where", ["e", "a", "b"], ["y"])],
     {"a": i64(1, 2, 3), "b": i64(1, 5, 3)}, I64),
    ("reduce_prod_keepdims0", 13, [node("ReduceProd", ["s"], ["y"], keepdims=0)], {"s": i64(2, 3, 4)}, I64),
    ("reduce_sum13_axes_input", 13, [node("ReduceSum", ["d", "a"], ["y"])], {"d": DATA, "a": i64(1)}, None),
    ("eye_like_dtype_k", 13, [node("EyeLike", ["d"], ["y"], k=1, dtype=TensorProto.INT64)], {"d": DATA[0]}, I64),
    ("scatter_nd_slices", 13, [node("ScatterND", ["d", "i", "u"], ["y"])],
     {"d": DATA, "i": np.array([[[1, 2]], [[0, -1]]], np.int64), "u": np.arange(8, dtype=np.float32).reshape(2, 1, 4)},
     None),
    ("scatter_nd_add_duplicates", 16, [node("ScatterND", ["d", "i", "u"], ["y"], reduction="add")],
     {"d": DATA, "i": np.array([[0, 1, 2], [0, 1, 2], [1, 0, 3]], np.int64), "u": np.array([1, 2, 4], np.float32)},
     None),
    ("identity_of_initializer", 13, [node("Identity", ["d"], ["y"])], {"d": DATA}, None),
    ("min_max_variadic", 13, [node("Max", ["d", "z"], ["m"]), node("Min", ["m", "o"], ["y"])],
     {"d": DATA, "z": np.float32(0).reshape(()), "o": np.full((4,), 3, np.float32)}, None),
]


@pytest.mark.parametrize("case_id, opset, nodes, inits, out_type", CASES, ids=[c[0] for c in CASES])
def test_folds_like_onnxruntime(case_id, opset, nodes, inits, out_type):
    types = {"y": out_type} if out_type is not None else None
    model = make_model(nodes, {}, ["y"], inits, opset, types)
    expected = run_onnxruntime(model, {})["y"]
    ir = convert_to_model(model)
    assert ir.nodes == [] and len(ir.outputs) == 1
    output = ir.tensors[ir.outputs[0]]
    assert output.name == "y" and output.is_constant
    assert output.data.dtype == expected.dtype
    np.testing.assert_array_equal(output.data, expected)


@pytest.mark.parametrize("opset, training", [(15, 1), (15, 0), (9, 0)])
def test_batch_norm_of_a_constant_folds(opset, training):
    """timm's weight-standardized convolutions export a training-mode BatchNormalization of the
    weights; the converter folds it (in float64, so compared within float32 rounding)."""
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((1, 6, 12)).astype(np.float32) * 0.3 + 0.1
    inits = {"x": weights, "s": rng.uniform(0.5, 1.5, 6).astype(np.float32),
             "b": rng.standard_normal(6).astype(np.float32), "m": rng.standard_normal(6).astype(np.float32),
             "v": rng.uniform(0.5, 2, 6).astype(np.float32)}
    attributes = {"epsilon": 1e-3, **({"training_mode": training} if opset >= 14 else {})}
    outputs = ["y", "running_mean", "running_var"] if training else ["y"]  # as torch exports it
    model = make_model([node("BatchNormalization", ["x", "s", "b", "m", "v"], outputs, **attributes)],
                       {}, ["y"], inits, opset)
    expected = run_onnxruntime(model, {})["y"]
    ir = convert_to_model(model)
    assert ir.nodes == []
    output = ir.tensors[ir.outputs[0]].data
    assert output.dtype == np.float32 and output.shape == expected.shape
    assert np.linalg.norm(output - expected) / np.linalg.norm(expected) <= 1e-6
