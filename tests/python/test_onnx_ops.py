"""Each ONNX op mapping, on tiny hand-built graphs: converted, executed by `atrous run`, and
compared with ONNX Runtime (relative L2 ≤ 1e-5; integer outputs exactly).

A case is (opset, nodes, inputs, outputs, initializers, ...). Inputs are N(0,1)·scale from a fixed
seed; scale > 1 is used where an activation has interesting regions beyond ±1.
"""
import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper

from onnx_helpers import check_against_onnxruntime, make_model

node = helper.make_node
RNG = np.random.default_rng(1234)


def w(*shape, low=None, high=None):
    if low is not None:
        return RNG.uniform(low, high, shape).astype(np.float32)
    return RNG.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


def f32(*values):
    return np.array(values, np.float32)


def case(case_id, opset, nodes, inputs, outputs=("y",), inits=None, scale=1.0, int_outputs=()):
    return pytest.param(dict(opset=opset, nodes=nodes, inputs=inputs, outputs=list(outputs),
                             inits=inits or {}, scale=scale, int_outputs=int_outputs), id=case_id)


X4 = {"x": (1, 3, 9, 11)}

CONV_CASES = [
    case("conv_3x3_pad1_bias", 13, [node("Conv", ["x", "W", "B"], ["y"], pads=[1, 1, 1, 1])], X4,
         inits={"W": w(4, 3, 3, 3), "B": w(4)}),
    case("conv_stride2_asymmetric_pads", 11,
         [node("Conv", ["x", "W"], ["y"], strides=[2, 2], pads=[0, 1, 1, 0], kernel_shape=[3, 3])], X4,
         inits={"W": w(5, 3, 3, 3)}),
    case("conv_dilated_grouped", 13,
         [node("Conv", ["x", "W", "B"], ["y"], group=2, dilations=[2, 3], pads=[2, 3, 2, 3])],
         {"x": (1, 4, 13, 12)}, inits={"W": w(6, 2, 3, 3), "B": w(6)}),
    case("conv_depthwise_same_upper", 17,
         [node("Conv", ["x", "W"], ["y"], group=4, strides=[2, 2], auto_pad="SAME_UPPER")],
         {"x": (1, 4, 10, 9)}, inits={"W": w(4, 1, 3, 3)}),
    case("conv_same_lower_even_kernel", 13,
         [node("Conv", ["x", "W"], ["y"], strides=[2, 1], auto_pad="SAME_LOWER")],
         {"x": (1, 2, 8, 7)}, inits={"W": w(3, 2, 4, 4)}),
    case("conv_valid_1x1_stride2", 13, [node("Conv", ["x", "W"], ["y"], strides=[2, 2], auto_pad="VALID")],
         X4, inits={"W": w(2, 3, 1, 1)}),
    case("conv_1x7", 13, [node("Conv", ["x", "W", "B"], ["y"], pads=[0, 3, 0, 3])], X4,
         inits={"W": w(3, 3, 1, 7), "B": w(3)}),
    # 1-D (ECA attention's Conv1d over the channel axis): a 2-D conv over [N, C, 1, L]
    case("conv1d_eca_pad", 17, [node("Conv", ["x", "W"], ["y"], pads=[2, 2], kernel_shape=[5])],
         {"x": (1, 1, 24)}, inits={"W": w(1, 1, 5)}),
    case("conv1d_strided_dilated_grouped_bias", 13,
         [node("Conv", ["x", "W", "B"], ["y"], group=2, strides=[2], dilations=[2], pads=[1, 3])],
         {"x": (2, 4, 19)}, inits={"W": w(6, 2, 3), "B": w(6)}),
    case("conv1d_same_upper", 13, [node("Conv", ["x", "W"], ["y"], strides=[2], auto_pad="SAME_UPPER")],
         {"x": (1, 3, 10)}, inits={"W": w(2, 3, 4)}),
]

ACTIVATION_CASES = [
    case("relu", 13, [node("Relu", ["x"], ["y"])], X4),
    case("sigmoid", 13, [node("Sigmoid", ["x"], ["y"])], X4, scale=4),
    case("tanh", 13, [node("Tanh", ["x"], ["y"])], X4, scale=2),
    case("hard_swish", 14, [node("HardSwish", ["x"], ["y"])], X4, scale=4),
    case("hard_sigmoid_torch", 13, [node("HardSigmoid", ["x"], ["y"], alpha=1 / 6, beta=0.5)], X4, scale=4),
    case("hard_sigmoid_default", 11, [node("HardSigmoid", ["x"], ["y"])], X4, scale=4),
    case("clip11_relu6", 11, [node("Clip", ["x", "lo", "hi"], ["y"])], X4,
         inits={"lo": f32(0).reshape(()), "hi": f32(6).reshape(())}, scale=5),
    case("clip13_max_only", 13, [node("Clip", ["x", "", "hi"], ["y"])], X4,
         inits={"hi": f32(0.5).reshape(())}),
    case("clip6_attributes", 6, [node("Clip", ["x"], ["y"], min=-1.0, max=1.0)], X4),
]

BINARY_CASES = [
    case("add_broadcast_dynamic", 13, [node("Add", ["a", "b"], ["y"])], {"a": (1, 3, 4, 5), "b": (1, 3, 1, 1)}),
    case("sub_scalar_constant", 13, [node("Sub", ["x", "c"], ["y"])], X4, inits={"c": f32(0.25).reshape(())}),
    case("sub_constant_first", 13, [node("Sub", ["c", "x"], ["y"])], X4, inits={"c": w(3, 1, 1)}),
    case("mul_per_channel", 13, [node("Mul", ["x", "c"], ["y"])], X4, inits={"c": w(3, 1, 1)}),
    case("div_constant", 13, [node("Div", ["x", "c"], ["y"])], X4, inits={"c": w(1, 3, 1, 11, low=0.5, high=2)}),
    case("mul_dynamic_se_gate", 13,
         [node("GlobalAveragePool", ["x"], ["p"]), node("Sigmoid", ["p"], ["g"]), node("Mul", ["x", "g"], ["y"])], X4),
]

SHAPE_CASES = [
    case("concat_with_constant", 13, [node("Concat", ["x", "c"], ["y"], axis=1)], X4, inits={"c": w(1, 2, 9, 11)}),
    case("concat_negative_axis", 13, [node("Concat", ["a", "b"], ["y"], axis=-1)], {"a": (1, 2, 3, 4), "b": (1, 2, 3, 5)}),
    case("reshape_zero_minus_one", 13, [node("Reshape", ["x", "s"], ["y"])], X4, inits={"s": i64(0, -1)}),
    case("reshape_4d", 13, [node("Reshape", ["x", "s"], ["y"])], X4, inits={"s": i64(1, 3, 11, -1)}),
    case("flatten_axis1", 13, [node("Flatten", ["x"], ["y"])], X4),
    case("flatten_axis_negative", 13, [node("Flatten", ["x"], ["y"], axis=-1)], X4),
    case("transpose_nhwc", 13, [node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], X4),
    case("transpose_default", 13, [node("Transpose", ["x"], ["y"])], X4),
    case("slice_steps", 13, [node("Slice", ["x", "s", "e", "a", "t"], ["y"])], X4,
         inits={"s": i64(1, 0), "e": i64(-1, 100), "a": i64(2, 3), "t": i64(1, 2)}),
    case("slice_reverse", 13, [node("Slice", ["x", "s", "e", "a", "t"], ["y"])], X4,
         inits={"s": i64(-1), "e": i64(-1000), "a": i64(-1), "t": i64(-1)}),
    case("slice_opset9_attributes", 9, [node("Slice", ["x"], ["y"], starts=[1], ends=[3], axes=[1])], X4),
    case("unsqueeze13_dynamic", 13, [node("Unsqueeze", ["x", "a"], ["y"])], {"x": (3, 4, 5)}, inits={"a": i64(0)}),
    case("squeeze11_dynamic", 11, [node("Squeeze", ["x"], ["y"], axes=[0])], {"x": (1, 3, 4, 5)}),
    case("depth_to_space_dcr", 13, [node("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": (1, 8, 3, 4)}),
    case("depth_to_space_crd", 13, [node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")], {"x": (1, 8, 3, 4)}),
    case("space_to_depth", 13, [node("SpaceToDepth", ["x"], ["y"], blocksize=2)], {"x": (1, 2, 4, 6)}),
    case("pad11_constant_value", 11, [node("Pad", ["x", "p", "v"], ["y"])], X4,
         inits={"p": i64(0, 0, 1, 2, 0, 0, 2, 1), "v": f32(1.5).reshape(())}),
    case("pad13_reflect", 13, [node("Pad", ["x", "p"], ["y"], mode="reflect")], X4, inits={"p": i64(0, 0, 2, 1, 0, 0, 1, 3)}),
    case("pad13_edge", 13, [node("Pad", ["x", "p"], ["y"], mode="edge")], X4, inits={"p": i64(0, 0, 2, 1, 0, 0, 1, 3)}),
    case("pad13_negative_crop", 13, [node("Pad", ["x", "p"], ["y"])], X4, inits={"p": i64(0, 0, -1, 0, 0, 0, 2, -2)}),
    case("pad2_attributes", 2, [node("Pad", ["x"], ["y"], pads=[0, 0, 1, 1, 0, 0, 1, 1], value=-2.0)], X4),
    # EyeLike of a run-time tensor: only its shape matters, so it becomes a constant
    case("eye_like_of_runtime_tensor", 17, [node("EyeLike", ["x"], ["e"], k=-2), node("Mul", ["x", "e"], ["m"]),
                                            node("Add", ["m", "x"], ["y"])], {"x": (5, 7)}),
]

POOL_CASES = [
    case("global_average_pool", 13, [node("GlobalAveragePool", ["x"], ["y"])], X4),
    case("reduce_mean_hw_keepdims", 13, [node("ReduceMean", ["x"], ["y"], axes=[2, 3])], X4),
    case("reduce_mean_channel_no_keepdims", 13, [node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=0)], X4),
    case("reduce_mean18_axes_input", 18, [node("ReduceMean", ["x", "a"], ["y"])], X4, inits={"a": i64(-1)}),
    case("average_pool_exclude_pad", 13,
         [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], X4),
    case("average_pool_include_pad", 13,
         [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
               count_include_pad=1)], X4),
    case("average_pool_ceil_mode", 13,
         [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], {"x": (1, 2, 10, 12)}),
    case("max_pool_pad1", 13,
         [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], X4),
    case("max_pool_ceil_mode", 13,
         [node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)], X4),
    case("max_pool_dilated", 12,
         [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], dilations=[2, 2], pads=[2, 1, 2, 0])], X4),
    # (ONNX Runtime ignores dilations when it computes SAME padding for pools, so SAME is tested
    # without dilation.)
    case("max_pool_same_upper", 13,
         [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2], auto_pad="SAME_UPPER")], X4),
    case("average_pool_same_lower", 13,
         [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER")], X4),
    case("softmax13_axis1", 13, [node("Softmax", ["x"], ["y"], axis=1)], {"x": (1, 5, 3, 4)}, scale=3),
    case("softmax11_axis1_flattens", 11, [node("Softmax", ["x"], ["y"], axis=1)], {"x": (1, 5, 3, 4)}, scale=3),
    case("softmax11_last_axis", 11, [node("Softmax", ["x"], ["y"], axis=-1)], {"x": (2, 7)}, scale=3),
    case("argmax_keepdims", 13, [node("ArgMax", ["x"], ["y"], axis=1)], {"x": (1, 6, 5, 7)},
         int_outputs=("y",)),
    case("argmax_last_axis_no_keepdims", 13, [node("ArgMax", ["x"], ["y"], axis=-1, keepdims=0)],
         {"x": (2, 3, 9)}, int_outputs=("y",)),
    # Clipping makes ties, so the first and the last maximum differ.
    case("argmax_select_last_index_ties", 13,
         [node("Clip", ["x", "lo", "hi"], ["c"]), node("ArgMax", ["c"], ["y"], axis=1, select_last_index=1)],
         {"x": (2, 6, 5, 7)}, inits={"lo": f32(-0.2).reshape(()), "hi": f32(0.2).reshape(())},
         int_outputs=("y",)),
    case("argmax_select_last_index_last_axis_no_keepdims", 12,
         [node("Clip", ["x", "lo", "hi"], ["c"]),
          node("ArgMax", ["c"], ["y"], axis=-1, keepdims=0, select_last_index=1)],
         {"x": (3, 11)}, inits={"lo": f32(-0.5).reshape(()), "hi": f32(0.3).reshape(())}, int_outputs=("y",)),
]

MATRIX_CASES = [
    case("gemm_trans_b_bias", 13,
         [node("Gemm", ["a", "B", "C"], ["y"], transB=1, alpha=0.5, beta=2.0)], {"a": (2, 6)},
         inits={"B": w(5, 6), "C": w(5)}),
    case("gemm_trans_a", 11, [node("Gemm", ["a", "B"], ["y"], transA=1)], {"a": (6, 2)}, inits={"B": w(6, 5)}),
    case("matmul_constant", 13, [node("MatMul", ["a", "B"], ["y"])], {"a": (2, 3, 4)}, inits={"B": w(4, 5)}),
    case("matmul_batched_dynamic", 13, [node("MatMul", ["a", "b"], ["y"])], {"a": (1, 2, 3, 4), "b": (1, 2, 4, 6)}),
    # Einsum: MaxViT's attention products, a permuted output, a constant operand, implicit output
    case("einsum_attention_scores", 12, [node("Einsum", ["q", "k"], ["y"], equation="bghid,bghjd->bghij")],
         {"q": (1, 2, 3, 5, 4), "k": (1, 2, 3, 6, 4)}),
    case("einsum_attention_values", 12, [node("Einsum", ["a", "v"], ["y"], equation="bghij, bghjd -> bghid")],
         {"a": (1, 2, 3, 5, 6), "v": (1, 2, 3, 6, 4)}),
    case("einsum_permuted_output_constant", 17, [node("Einsum", ["x", "W"], ["y"], equation="nchw,kc->nwkh")],
         {"x": (2, 3, 4, 5)}, inits={"W": w(6, 3)}),
    case("einsum_implicit_outer", 12, [node("Einsum", ["a", "b"], ["y"], equation="ij,k")], {"a": (2, 3), "b": (4,)}),
    case("einsum_transpose", 12, [node("Einsum", ["x"], ["y"], equation="abc->cab")], {"x": (2, 3, 4)}),
]


def _resize(opset, mode, coordinate, sizes=None, scales=None, x=(1, 2, 5, 7), nearest=None):
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinate}
    if nearest:
        attrs["nearest_mode"] = nearest
    inits = {}
    if opset == 11:  # roi and scales are required inputs (empty when unused)
        inits = {"roi": f32(), "scales": f32(*scales) if scales else f32()}
        names = ["x", "roi", "scales"] + (["sizes"] if sizes else [])
    else:
        names = ["x", "", "scales"] if scales else ["x", "", "", "sizes"]
        if scales:
            inits["scales"] = f32(*scales)
    if sizes:
        inits["sizes"] = i64(*sizes)
    return dict(nodes=[node("Resize", names, ["y"], **attrs)], inputs={"x": x}, inits=inits, opset=opset)


RESIZE_CASES = [
    pytest.param(_resize(11, "linear", "half_pixel", sizes=(1, 2, 9, 13)), id="resize11_linear_half_pixel_sizes"),
    pytest.param(_resize(13, "linear", "align_corners", sizes=(1, 2, 17, 25)), id="resize13_linear_align_corners"),
    pytest.param(_resize(17, "linear", "pytorch_half_pixel", sizes=(1, 2, 1, 4), x=(1, 2, 7, 9)),
                 id="resize17_linear_pytorch_half_pixel_down"),
    pytest.param(_resize(13, "linear", "half_pixel", scales=(1, 1, 2, 2)), id="resize13_linear_scales2"),
    pytest.param(_resize(13, "linear", "half_pixel", scales=(1, 1, 1.5, 0.6)), id="resize13_linear_fractional_scales"),
    pytest.param(_resize(17, "linear", "asymmetric", sizes=(1, 2, 8, 20)), id="resize17_linear_asymmetric"),
    pytest.param(_resize(13, "nearest", "asymmetric", scales=(1, 1, 2, 2), nearest="floor"),
                 id="resize13_nearest_asymmetric_floor"),
    pytest.param(_resize(13, "nearest", "half_pixel", sizes=(1, 2, 8, 12), nearest="round_prefer_ceil"),
                 id="resize13_nearest_half_pixel_round_prefer_ceil"),
    pytest.param(_resize(11, "nearest", "align_corners", sizes=(1, 2, 9, 4)),
                 id="resize11_nearest_align_corners"),
    pytest.param(_resize(17, "nearest", "pytorch_half_pixel", sizes=(1, 2, 3, 15), nearest="ceil"),
                 id="resize17_nearest_pytorch_half_pixel_ceil"),
    pytest.param(dict(nodes=[node("Upsample", ["x", "s"], ["y"], mode="nearest")], inputs={"x": (1, 2, 5, 7)},
                      inits={"s": f32(1, 1, 2, 3)}, opset=9), id="upsample9_nearest"),
    pytest.param(dict(nodes=[node("Upsample", ["x"], ["y"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])],
                      inputs={"x": (1, 2, 5, 7)}, inits={}, opset=7), id="upsample7_nearest_attribute"),
    pytest.param(dict(nodes=[node("Resize", ["x", "s"], ["y"], mode="linear")], inputs={"x": (1, 2, 5, 7)},
                      inits={"s": f32(1, 1, 2, 2)}, opset=10), id="resize10_linear"),
]

ALL_CASES = CONV_CASES + ACTIVATION_CASES + BINARY_CASES + SHAPE_CASES + POOL_CASES + MATRIX_CASES


def _run(spec, atrous, workdir):
    output_types = {name: TensorProto.INT64 for name in spec.get("int_outputs", ())}
    model = make_model(spec["nodes"], spec["inputs"], spec.get("outputs", ["y"]), spec["inits"],
                       spec["opset"], output_types)
    return check_against_onnxruntime(model, atrous, workdir, scale=spec.get("scale", 1.0))


@pytest.mark.parametrize("spec", ALL_CASES)
def test_op_matches_onnxruntime(spec, atrous, workdir):
    _run(spec, atrous, workdir)


@pytest.mark.parametrize("spec", RESIZE_CASES)
def test_resize_matches_onnxruntime(spec, atrous, workdir):
    ir = _run(spec, atrous, workdir)
    assert [n.op for n in ir.nodes] == ["resize"]
