"""The ONNX ops real vision models need beyond the DeepLab set (issue #16): each mapping on tiny
hand-built graphs, converted, executed by `atrous run`, and compared with ONNX Runtime (relative
L2 ≤ 1e-5), over the opset forms each op has (attribute vs input) and broadcasting edge cases.
"""
import numpy as np
import pytest
from onnx import helper

from atrous_convert import ConversionError
from atrous_convert.onnx_import import convert_model
from onnx_helpers import check_against_onnxruntime, make_model

node = helper.make_node
RNG = np.random.default_rng(1616)


def w(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, np.int64)


def case(case_id, opset, nodes, inputs, outputs=("y",), inits=None, scale=1.0, positive=False):
    return pytest.param(dict(opset=opset, nodes=nodes, inputs=inputs, outputs=list(outputs),
                             inits=inits or {}, scale=scale, positive=positive), id=case_id)


X4 = {"x": (1, 3, 5, 6)}


def _conv_transpose_cases():
    cases = []
    for opset in (7, 11, 21):
        cases.append(case(f"conv_transpose_stride2_pads_opset{opset}", opset,
                          [node("ConvTranspose", ["x", "W", "B"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1])],
                          X4, inits={"W": w(3, 4, 3, 3), "B": w(4)}))
    cases += [
        case("conv_transpose_groups_dilations_output_padding", 13,
             [node("ConvTranspose", ["x", "W"], ["y"], group=2, strides=[3, 2], dilations=[2, 1],
                   output_padding=[2, 1], pads=[1, 1, 2, 0])],
             {"x": (2, 4, 4, 5)}, inits={"W": w(4, 3, 3, 2)}),
        case("conv_transpose_depthwise_4x4_stride2", 13,
             [node("ConvTranspose", ["x", "W", "B"], ["y"], group=3, strides=[2, 2], pads=[1, 1, 1, 1])],
             X4, inits={"W": w(3, 1, 4, 4), "B": w(3)}),
        case("conv_transpose_valid", 13,
             [node("ConvTranspose", ["x", "W"], ["y"], strides=[2, 2], auto_pad="VALID")],
             X4, inits={"W": w(3, 2, 3, 3)}),
        case("conv_transpose_output_shape", 13,
             [node("ConvTranspose", ["x", "W"], ["y"], strides=[2, 2], output_shape=[10, 11])],
             X4, inits={"W": w(3, 2, 3, 3)}),
        case("conv_transpose_output_shape_output_padding", 11,
             [node("ConvTranspose", ["x", "W"], ["y"], strides=[3, 3], output_padding=[1, 2],
                   output_shape=[13, 17])], X4, inits={"W": w(3, 2, 3, 3)}),
    ]
    for auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for kernel in (3, 4):
            cases.append(case(f"conv_transpose_{auto_pad.lower()}_k{kernel}", 13,
                              [node("ConvTranspose", ["x", "W"], ["y"], strides=[2, 2], auto_pad=auto_pad)],
                              X4, inits={"W": w(3, 2, kernel, kernel)}))
    return cases


def _split_cases():
    outs2, outs3 = ["a", "b"], ["a", "b", "c"]
    return [
        case("split_equal_opset7", 7, [node("Split", ["x"], outs3, axis=1)], X4, outputs=outs3),
        case("split_attribute_opset11", 11, [node("Split", ["x"], outs2, axis=-1, split=[2, 4])], X4,
             outputs=outs2),
        case("split_input_opset13", 13, [node("Split", ["x", "s"], outs3, axis=2)], X4, outputs=outs3,
             inits={"s": i64(1, 3, 1)}),
        case("split_equal_opset13", 13, [node("Split", ["x"], outs2, axis=3)], X4, outputs=outs2),
        case("split_num_outputs_uneven_opset18", 18, [node("Split", ["x"], outs2, axis=2, num_outputs=2)],
             X4, outputs=outs2),
        case("split_num_outputs_opset21", 21, [node("Split", ["x"], outs3, axis=3, num_outputs=3)], X4,
             outputs=outs3),
        case("split_one_output_unused", 13,
             [node("Split", ["x"], ["a", "b"], axis=1, name="sp"), node("Relu", ["b"], ["y"])],
             {"x": (1, 4, 2, 3)}),
    ]


def _unary(op, opset=13, positive=False, scale=1.0, **attributes):
    suffix = "_".join(f"{k}{v}" for k, v in attributes.items())
    return case(f"{op.lower()}{'_' + suffix if suffix else ''}_opset{opset}", opset,
                [node(op, ["x"], ["y"], **attributes)], X4, positive=positive, scale=scale)


UNARY_CASES = [
    _unary("LeakyRelu", 6), _unary("LeakyRelu", 16, alpha=0.2),
    _unary("Elu", 6, scale=3), _unary("Elu", 13, alpha=0.5, scale=3),
    _unary("Selu", 6, scale=3), _unary("Selu", 13, alpha=1.5, gamma=2.0, scale=3),
    _unary("Gelu", 20, scale=3), _unary("Gelu", 20, approximate="tanh", scale=3),
    _unary("Erf", 9, scale=2), _unary("Erf", 13, scale=2),
    _unary("Sqrt", 6, positive=True), _unary("Sqrt", 13, positive=True),
    _unary("Exp", 6, scale=3), _unary("Exp", 13, scale=3),
    _unary("Log", 6, positive=True), _unary("Log", 13, positive=True),
    _unary("Abs", 6), _unary("Abs", 13), _unary("Neg", 6), _unary("Neg", 13),
    _unary("Reciprocal", 6, positive=True), _unary("Reciprocal", 13, positive=True),
    _unary("Softplus", 1, scale=5), _unary("Softplus", 13, scale=30), _unary("Softsign", 1, scale=3),
    _unary("Mish", 18, scale=5), _unary("Celu", 12, scale=3), _unary("Celu", 12, alpha=2.0, scale=3),
    _unary("ThresholdedRelu", 10), _unary("ThresholdedRelu", 10, alpha=0.3),
]

BINARY_CASES = [
    case("prelu_channel_slopes", 9, [node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": w(3, 1, 1)}),
    case("prelu_scalar_slope", 16, [node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": w(1)}),
    case("prelu_per_element_slope_opset7", 7, [node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": w(3, 5, 6)}),
    case("prelu_last_axis_slope", 13, [node("PRelu", ["x", "s"], ["y"])], X4, inits={"s": w(6)}),
    case("pow_scalar_exponent", 13, [node("Pow", ["x", "e"], ["y"])], X4, inits={"e": np.float32(2.0)},
         positive=True),
    case("pow_int_exponent_opset12", 12, [node("Pow", ["x", "e"], ["y"])], X4, inits={"e": np.int64(3)}),
    case("pow_broadcast_both", 7, [node("Pow", ["x", "e"], ["y"])], {"x": (1, 3, 1, 6)},
         inits={"e": np.abs(w(2, 1, 5, 1)) + 0.5}, positive=True),
    case("pow_runtime_exponent", 15, [node("Pow", ["x", "x2"], ["y"])], {"x": (2, 3), "x2": (3,)},
         positive=True),
    case("min_two_broadcast", 13, [node("Min", ["x", "m"], ["y"])], X4, inits={"m": w(3, 1, 1)}),
    case("max_three_opset8", 8, [node("Max", ["x", "m", "n"], ["y"])], X4, inits={"m": w(6), "n": w(1, 1, 5, 1)}),
    case("max_one_input", 13, [node("Max", ["x"], ["y"])], X4),
    case("min_same_shape_opset6", 6, [node("Min", ["x", "x2"], ["y"])], {"x": (2, 3), "x2": (2, 3)}),
    case("max_scalar_relu6_style", 12, [node("Max", ["x", "z"], ["y"])], X4, inits={"z": np.float32(0)}),
    case("sum_three", 13, [node("Sum", ["x", "m", "n"], ["y"])], X4, inits={"m": w(3, 1, 1), "n": w(6)}),
    case("sum_one", 6, [node("Sum", ["x"], ["y"])], X4),
    case("mean_two", 13, [node("Mean", ["x", "m"], ["y"])], X4, inits={"m": w(1, 3, 5, 6)}),
    case("mean_one", 8, [node("Mean", ["x"], ["y"])], X4),
]

SHAPE_CASES = [
    case("expand_constant_shape", 13, [node("Expand", ["x", "s"], ["y"])], {"x": (3, 1)},
         inits={"s": i64(2, 3, 4)}),
    case("expand_shape_with_ones", 8, [node("Expand", ["x", "s"], ["y"])], {"x": (1, 3, 1, 6)},
         inits={"s": i64(2, 1, 5, 1)}),
    case("expand_lower_rank_shape_is_identity", 13, [node("Expand", ["x", "s"], ["y"])], X4,
         inits={"s": i64(1, 6)}),
    # The shape comes from Shape of another run-time tensor (what the models had).
    case("expand_shape_from_shape_node", 13,
         [node("Shape", ["t"], ["s"]), node("Expand", ["x", "s"], ["e"]), node("Add", ["e", "t"], ["y"])],
         {"x": (3, 1, 1), "t": (2, 3, 4, 5)}),
    case("tile_two_axes", 13, [node("Tile", ["x", "r"], ["y"])], X4, inits={"r": i64(1, 2, 1, 3)}),
    case("tile_ones_is_identity", 6, [node("Tile", ["x", "r"], ["y"])], {"x": (2, 3)}, inits={"r": i64(1, 1)}),
]


def _reduce(op, opset, axes=None, keepdims=None, as_input=False, noop=None):
    attributes = {}
    inits = {}
    inputs = ["x"]
    if axes is not None and as_input:
        inits["axes"] = i64(*axes)
        inputs.append("axes")
    elif axes is not None:
        attributes["axes"] = axes
    if keepdims is not None:
        attributes["keepdims"] = keepdims
    if noop is not None:
        attributes["noop_with_empty_axes"] = noop
    name = f"{op.lower()}_opset{opset}_axes{'' if axes is None else '_'.join(map(str, axes))}_keep{keepdims}"
    return case(name, opset, [node(op, inputs, ["y"], **attributes)], X4, inits=inits, positive=op == "ReduceProd")


REDUCE_CASES = [
    _reduce("ReduceMax", 13, [2, 3]), _reduce("ReduceMax", 18, [1], 0, as_input=True),
    _reduce("ReduceMax", 20, [-1], as_input=True), _reduce("ReduceMin", 11, [-1, 1], 0),
    _reduce("ReduceMin", 18), _reduce("ReduceSum", 11, [1]), _reduce("ReduceSum", 13, [2, 3], 0, as_input=True),
    _reduce("ReduceSum", 13), _reduce("ReduceSum", 13, noop=1), _reduce("ReduceProd", 13, [1]),
    _reduce("ReduceProd", 18, [3], 0, as_input=True), _reduce("ReduceL2", 13, [2, 3]),
    _reduce("ReduceL2", 18, [0, 1], 0, as_input=True),
    case("global_max_pool", 13, [node("GlobalMaxPool", ["x"], ["y"])], X4),
    case("global_max_pool_opset1", 1, [node("GlobalMaxPool", ["x"], ["y"])], X4),
]

NORM_CASES = [
    case("instance_norm_opset6", 6, [node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)],
         X4, inits={"s": w(3), "b": w(3)}, scale=3),
    case("instance_norm_opset13_default_eps", 13,
         [node("InstanceNormalization", ["x", "s", "b"], ["y"])], {"x": (2, 4, 3, 5)},
         inits={"s": w(4), "b": w(4)}),
    case("layer_norm_last_axis", 17, [node("LayerNormalization", ["x", "s", "b"], ["y"])], X4,
         inits={"s": w(6), "b": w(6)}),
    case("layer_norm_axis1_no_bias", 17, [node("LayerNormalization", ["x", "s"], ["y"], axis=1, epsilon=1e-3)],
         X4, inits={"s": w(3, 5, 6)}),
    case("layer_norm_broadcast_scale", 17, [node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-2)], X4,
         inits={"s": w(1, 6), "b": w(5, 1)}),
    case("layer_norm_mean_inv_std_dev_outputs", 17,
         [node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], axis=2, epsilon=1e-2)], X4,
         outputs=("y", "mean", "inv"), inits={"s": w(5, 6), "b": w(6)}),
    case("layer_norm_inv_std_dev_only", 17,
         [node("LayerNormalization", ["x", "s"], ["y", "", "inv"])], X4, outputs=("y", "inv"),
         inits={"s": w(6)}),
    case("group_norm_opset18_per_group", 18, [node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)],
         {"x": (2, 4, 3, 5)}, inits={"s": w(2), "b": w(2)}),
    case("group_norm_opset21_per_channel", 21,
         [node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-3)],
         {"x": (2, 4, 3, 5)}, inits={"s": w(4), "b": w(4)}),
]

TP = __import__("onnx").TensorProto
LOGIC_CASES = [
    case("where_less_broadcast", 13,
         [node("Less", ["x", "t"], ["c"]), node("Where", ["c", "x", "z"], ["y"])], X4,
         inits={"t": w(3, 1, 1), "z": w(6)}),
    case("where_greater_opset9", 9,
         [node("Greater", ["x", "t"], ["c"]), node("Where", ["c", "t", "x"], ["y"])], X4, inits={"t": w(1, 5, 1)}),
    case("where_constant_condition", 16, [node("Where", ["c", "x", "z"], ["y"])], X4,
         inits={"c": RNG.standard_normal((5, 6)) > 0, "z": np.float32(0)}),
    case("equal_cast_to_float_mul", 13,
         [node("Equal", ["x", "x2"], ["c"]), node("Cast", ["c"], ["f"], to=TP.FLOAT),
          node("Mul", ["f", "x"], ["y"])], {"x": (2, 3), "x2": (2, 3)}),
    case("greater_opset7_cast_opset6", 7,
         [node("Greater", ["x", "t"], ["c"]), node("Cast", ["c"], ["y"], to=TP.FLOAT)], X4, inits={"t": np.float32(0.3)}),
    case("less_or_equal_ties_where", 16,
         [node("Min", ["x", "t"], ["m"]), node("LessOrEqual", ["x", "m"], ["c"]),
          node("Where", ["c", "x", "z"], ["y"])], X4, inits={"t": w(3, 1, 1), "z": np.float32(-3)}),
    case("greater_or_equal_ties_opset12", 12,
         [node("Max", ["x", "t"], ["m"]), node("GreaterOrEqual", ["x", "m"], ["c"]),
          node("Cast", ["c"], ["y"], to=TP.FLOAT)], X4, inits={"t": w(1, 5, 1)}),
    case("and_or_xor_not_of_comparisons", 9,
         [node("Greater", ["x", "lo"], ["a"]), node("Less", ["x", "hi"], ["b"]),
          node("And", ["a", "b"], ["inside"]), node("Or", ["a", "b"], ["either"]),
          node("Xor", ["inside", "either"], ["one"]), node("Not", ["one"], ["c"]),
          node("Where", ["c", "x", "lo"], ["y"])], X4, inits={"lo": w(3, 1, 1), "hi": np.float32(0.5)}),
    case("and_broadcast_constant_mask", 13,
         [node("Greater", ["x", "t"], ["a"]), node("And", ["a", "mask"], ["c"]),
          node("Cast", ["c"], ["y"], to=TP.FLOAT)], X4,
         inits={"t": np.float32(0), "mask": RNG.standard_normal((1, 6)) > 0}),
    case("dropout12_mask_output_all_true", 12,
         [node("Dropout", ["x"], ["d", "mask"]), node("Cast", ["mask"], ["m"], to=TP.FLOAT),
          node("Add", ["d", "m"], ["y"])], X4),
    case("cast_float_int32_float_truncates", 13,
         [node("Cast", ["x"], ["i"], to=TP.INT32), node("Cast", ["i"], ["y"], to=TP.FLOAT)], X4, scale=20),
    case("cast_float_int64_float_opset19", 19,
         [node("Cast", ["x"], ["i"], to=TP.INT64), node("Cast", ["i"], ["y"], to=TP.FLOAT)], X4, scale=20),
]

# Ops that were mapped before issue #16, in the opset forms test_onnx_ops.py does not cover.
EXISTING_FORMS = [
    case("clip12_min_only", 12, [node("Clip", ["x", "lo"], ["y"])], X4, inits={"lo": np.float32(-0.5)}),
    case("clip13_no_bounds", 13, [node("Clip", ["x"], ["y"])], X4),
    case("clip6_min_attribute_only", 6, [node("Clip", ["x"], ["y"], min=0.0)], X4),
    case("unsqueeze11_attribute", 11, [node("Unsqueeze", ["x"], ["y"], axes=[1, -1])], {"x": (3, 4)}),
    case("squeeze13_input", 13, [node("Squeeze", ["x", "a"], ["y"])], {"x": (1, 3, 1, 5)}, inits={"a": i64(2)}),
    case("squeeze13_all_ones", 13, [node("Squeeze", ["x"], ["y"])], {"x": (1, 3, 1, 5)}),
    case("depth_to_space_opset1", 1, [node("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": (1, 8, 3, 4)}),
    case("space_to_depth_opset1_block3", 1, [node("SpaceToDepth", ["x"], ["y"], blocksize=3)], {"x": (1, 2, 6, 9)}),
    case("upsample9_linear_scales_input", 9, [node("Upsample", ["x", "s"], ["y"], mode="linear")],
         {"x": (1, 2, 5, 7)}, inits={"s": np.array([1, 1, 2, 3], np.float32)}),
    case("upsample7_linear_attribute", 7, [node("Upsample", ["x"], ["y"], mode="linear", scales=[1.0, 1.0, 2.0, 2.0])],
         {"x": (1, 2, 5, 7)}),
]

F32 = lambda *v: np.array(v, np.float32)  # noqa: E731
EMPTY = np.zeros(0, np.float32)
RESIZE_CASES = [
    case("resize11_cubic_half_pixel", 11, [node("Resize", ["x", "roi", "s"], ["y"], mode="cubic")],
         {"x": (1, 2, 5, 7)}, inits={"roi": EMPTY, "s": F32(1, 1, 2, 1.5)}),
    case("resize13_cubic_a_half_exclude_outside_down", 13,
         [node("Resize", ["x", "", "s"], ["y"], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1)],
         {"x": (1, 2, 9, 8)}, inits={"s": F32(1, 1, 0.6, 0.5)}),
    case("resize13_cubic_align_corners_sizes", 13,
         [node("Resize", ["x", "", "", "sz"], ["y"], mode="cubic", coordinate_transformation_mode="align_corners")],
         {"x": (1, 1, 4, 6)}, inits={"sz": i64(1, 1, 7, 5)}),
    case("resize13_cubic_asymmetric_up", 13,
         [node("Resize", ["x", "", "s"], ["y"], mode="cubic", coordinate_transformation_mode="asymmetric")],
         {"x": (1, 2, 4, 4)}, inits={"s": F32(1, 1, 2, 3)}),
    case("resize18_linear_antialias_down", 18,
         [node("Resize", ["x", "", "s"], ["y"], mode="linear", antialias=1)],
         {"x": (1, 2, 12, 10)}, inits={"s": F32(1, 1, 0.4, 0.5)}),
    case("resize18_cubic_antialias_sizes", 18,
         [node("Resize", ["x", "", "", "sz"], ["y"], mode="cubic", antialias=1)],
         {"x": (1, 2, 13, 11)}, inits={"sz": i64(1, 2, 5, 4)}),
    case("resize13_tf_crop_and_resize_extrapolation", 13,
         [node("Resize", ["x", "roi", "", "sz"], ["y"], mode="linear",
               coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-2.0)],
         {"x": (1, 2, 6, 6)}, inits={"roi": F32(0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4), "sz": i64(1, 2, 5, 4)}),
    case("resize19_half_pixel_symmetric", 19,
         [node("Resize", ["x", "", "s"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel_symmetric")],
         {"x": (1, 2, 5, 7)}, inits={"s": F32(1, 1, 1.7, 0.7)}),
    case("resize18_axes_3_2_nearest", 18,
         [node("Resize", ["x", "", "s"], ["y"], mode="nearest", axes=[3, 2])],
         {"x": (1, 2, 4, 5)}, inits={"s": F32(2, 3)}),
    case("resize18_not_larger_policy", 18,
         [node("Resize", ["x", "", "", "sz"], ["y"], mode="linear", axes=[2, 3], keep_aspect_ratio_policy="not_larger")],
         {"x": (1, 2, 6, 9)}, inits={"sz": i64(9, 9)}),
    case("resize18_not_smaller_policy_cubic", 18,
         [node("Resize", ["x", "", "", "sz"], ["y"], mode="cubic", axes=[2, 3], keep_aspect_ratio_policy="not_smaller")],
         {"x": (1, 2, 6, 9)}, inits={"sz": i64(4, 4)}),
]

X3 = {"x": (2, 4, 11)}
ONE_D_CASES = [
    case("conv1d_eca_style_same_pads", 13, [node("Conv", ["x", "W"], ["y"], pads=[2, 2])],
         {"x": (1, 1, 16)}, inits={"W": w(1, 1, 5)}),
    case("conv1d_grouped_dilated_strided_bias", 11,
         [node("Conv", ["x", "W", "B"], ["y"], group=2, dilations=[2], strides=[2], pads=[1, 2])], X3,
         inits={"W": w(6, 2, 3), "B": w(6)}),
    case("conv1d_same_upper", 17, [node("Conv", ["x", "W"], ["y"], auto_pad="SAME_UPPER", strides=[3])], X3,
         inits={"W": w(3, 4, 4)}),
    case("conv_transpose1d_output_padding", 13,
         [node("ConvTranspose", ["x", "W", "B"], ["y"], strides=[2], pads=[1, 0], output_padding=[1])], X3,
         inits={"W": w(4, 3, 3), "B": w(3)}),
    case("max_pool1d_ceil_dilated", 12,
         [node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], dilations=[2], ceil_mode=1)], X3),
    case("average_pool1d_pads_count_include_pad", 11,
         [node("AveragePool", ["x"], ["y"], kernel_shape=[4], pads=[1, 2], count_include_pad=1)], X3),
    case("global_average_pool1d", 13, [node("GlobalAveragePool", ["x"], ["y"])], X3),
]

GATHER_CASES = [
    case("gather_scalar_index_opset1", 1, [node("Gather", ["x", "i"], ["y"], axis=1)], X4, inits={"i": np.int64(2)}),
    case("gather_negative_scalar_last_axis", 13, [node("Gather", ["x", "i"], ["y"], axis=-1)], X4,
         inits={"i": np.int64(-1)}),
    case("gather_vector_repeats", 11, [node("Gather", ["x", "i"], ["y"], axis=2)], X4,
         inits={"i": np.array([4, 0, 0, -2], np.int64)}),
    case("gather_matrix_indices_int32", 13, [node("Gather", ["x", "i"], ["y"], axis=0)], {"x": (5, 3)},
         inits={"i": np.array([[1, 0], [4, 4]], np.int32)}),
    case("gather_class_token", 13, [node("Gather", ["x", "i"], ["y"], axis=1)], {"x": (2, 7, 8)},
         inits={"i": np.int64(0)}),
]

ALL_CASES = (ONE_D_CASES + RESIZE_CASES + GATHER_CASES + LOGIC_CASES + EXISTING_FORMS + _conv_transpose_cases() + _split_cases() + UNARY_CASES + BINARY_CASES + SHAPE_CASES
             + REDUCE_CASES + NORM_CASES)


@pytest.mark.parametrize("spec", ALL_CASES)
def test_op_matches_onnxruntime(spec, atrous, workdir):
    model = make_model(spec["nodes"], spec["inputs"], spec["outputs"], spec["inits"], spec["opset"])
    feeds = {name: (RNG.standard_normal(shape) * spec["scale"]).astype(np.float32)
             for name, shape in spec["inputs"].items()}
    if spec["positive"]:
        feeds = {name: np.abs(value) + 0.1 for name, value in feeds.items()}
    check_against_onnxruntime(model, atrous, workdir, feeds=feeds)


def test_split_becomes_slices():
    model = make_model([node("Split", ["x"], ["a", "b"], axis=1)], {"x": (1, 4, 2, 2)}, ["a", "b"], opset=13)
    ir = convert_model(model)
    assert [n.op for n in ir.nodes] == ["slice", "slice"]
    assert [ir.tensors[i].name for i in ir.outputs] == ["a", "b"]


def test_every_unsupported_operator_is_listed_with_counts():
    nodes = [node("Hardmax", ["x"], ["h1"], name="hm1"), node("Hardmax", ["h1"], ["h2"], name="hm2"),
             node("LpNormalization", ["h2"], ["l1"], name="lp"), node("Relu", ["l1"], ["r"]),
             node("Hardmax", ["r"], ["h3"], name="hm3"),
             node("FusedConv", ["h3"], ["y"], name="fc", domain="com.microsoft")]
    model = make_model(nodes, {"x": (1, 2, 4, 4)}, ["y"], opset=13)
    with pytest.raises(ConversionError) as info:
        convert_model(model)
    assert str(info.value) == ("unsupported ONNX operators: Hardmax ×3, LpNormalization ×1, "
                               "com.microsoft.FusedConv ×1 (opset 13; first nodes: 'hm1', 'lp', 'fc')")


def test_folding_only_op_on_run_time_data_is_unsupported():
    # Mod folds when its inputs are constants; on a run-time tensor it has no IR mapping.
    nodes = [node("Mod", ["c", "c"], ["k"]), node("Add", ["x", "k"], ["s"]),
             node("Mod", ["s", "c"], ["y"], name="mod", fmod=1)]
    model = make_model(nodes, {"x": (2,)}, ["y"], {"c": np.array([3, 5], np.float32)}, opset=13)
    with pytest.raises(ConversionError, match=r"^unsupported ONNX operator: Mod ×1 \(opset 13; first node: 'mod'\)$"):
        convert_model(model)
