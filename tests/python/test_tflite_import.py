"""TFLite import (atrous_convert/tflite_import.py, tflite_ops.py) on small flatbuffers written by
tflite_builder.py: each op mapping runs through `atrous run` and is compared with LiteRT's reference
kernels on the same model (MediaPipe's custom transposed convolution, which LiteRT lacks, with the
independent float64 interpreter of tflite_reference.py). Plus the contract around it: NHWC
interface, weight layouts, metadata, and the errors for quantized models and unsupported ops."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from atrous_cli import relative_l2
from atrous_convert import ConversionError, convert, convert_to_model
from atrous_convert.reader import read_model
from atrous_convert.writer import INTS, STRING
from tflite_builder import TFLiteModel, options, single_op_model
from tflite_reference import Reference

TOLERANCE = 1e-5
CONVERTER_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "weights_converter")
RNG = np.random.default_rng(1234)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def litert(model: bytes, inputs):
    interpreter = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], inputs[detail["name"]])
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}


def run_both(atrous, tmp_path, model: bytes, reference=litert, seed_inputs=None):
    path = str(tmp_path / "m.atrous")
    ir = convert(model, path)
    inputs = seed_inputs or {ir.tensors[i].name: rand(*ir.tensors[i].shape) for i in ir.inputs}
    return atrous(path, inputs), reference(model, inputs), ir


def assert_close(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        assert actual[name].shape == expected[name].shape, name
        error = relative_l2(actual[name], expected[name])
        assert error <= TOLERANCE, f"{name}: relative L2 {error:.3g}"


# -- one operator at a time, against LiteRT -------------------------------------------------------

CONV = "Conv2DOptions"
DW = "DepthwiseConv2DOptions"
POOL = "Pool2DOptions"
SAME, VALID = 0, 1
RELU, RELU_N1_TO_1, RELU6, TANH = 1, 2, 3, 4


def conv_case(x, w_shape, y, padding, stride, dilation=(1, 1), act=0, bias=True):
    o = options(CONV, Padding=padding, StrideH=stride[0], StrideW=stride[1], DilationHFactor=dilation[0],
                DilationWFactor=dilation[1], FusedActivationFunction=act)
    constants = [(1, rand(*w_shape)), (2, rand(w_shape[0]) if bias else None)]
    return single_op_model("CONV_2D", [x], y, constants, o)


def dw_case(x, w_shape, y, padding, stride, dilation=(1, 1), act=0, multiplier=1):
    o = options(DW, Padding=padding, StrideH=stride[0], StrideW=stride[1], DilationHFactor=dilation[0],
                DilationWFactor=dilation[1], FusedActivationFunction=act, DepthMultiplier=multiplier)
    return single_op_model("DEPTHWISE_CONV_2D", [x], y, [(1, rand(*w_shape)), (2, rand(w_shape[3]))], o)


def pool_case(op, x, y, padding, kernel, stride, act=0):
    o = options(POOL, Padding=padding, StrideH=stride[0], StrideW=stride[1], FilterHeight=kernel[0],
                FilterWidth=kernel[1], FusedActivationFunction=act)
    return single_op_model(op, [x], y, builtin_options=o)


def resize_case(op, x, size, align=False, half=False):
    name = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
    return single_op_model(op, [x], [x[0], size[0], size[1], x[3]], [(1, np.array(size, np.int32))],
                           options(name, AlignCorners=align, HalfPixelCenters=half))


def binary_case(op, a, b, y, act=0, constant=None):
    name = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}[op]
    if constant is None:
        return single_op_model(op, [a, b], y, builtin_options=options(name, FusedActivationFunction=act))
    return single_op_model(op, [a], y, [(1, constant)], options(name, FusedActivationFunction=act))


def transpose_conv_case(x, w_shape, out, padding, stride, bias=True):
    constants = [(0, np.array(out, np.int32)), (1, rand(*w_shape))]
    if bias:
        constants.append((3, rand(w_shape[0])))
    o = options("TransposeConvOptions", Padding=padding, StrideH=stride[0], StrideW=stride[1])
    return single_op_model("TRANSPOSE_CONV", [x], out, constants, o)


def mean_case(x, axes, keep, y):
    return single_op_model("MEAN", [x], y, [(1, np.array(axes, np.int32))],
                           options("ReducerOptions", KeepDims=keep))


def unary_case(op, shape=(1, 7, 9, 5)):
    return single_op_model(op, [shape], shape)


def concat_case(shapes, axis, y, act=0):
    o = options("ConcatenationOptions", Axis=axis, FusedActivationFunction=act)
    return single_op_model("CONCATENATION", shapes, y, builtin_options=o)


R = "RESIZE_BILINEAR"
N = "RESIZE_NEAREST_NEIGHBOR"
CASES = {
    # TF SAME with stride 2 on even sizes pads asymmetrically (0 before, 1 after).
    "conv_same_stride2_even_asymmetric":
        lambda: conv_case([1, 10, 12, 3], (4, 3, 3, 3), [1, 5, 6, 4], SAME, (2, 2)),
    "conv_same_stride2_odd_relu6":
        lambda: conv_case([1, 9, 11, 3], (5, 3, 3, 3), [1, 5, 6, 5], SAME, (2, 2), act=RELU6),
    "conv_same_stride_hw_differ":
        lambda: conv_case([1, 8, 9, 2], (3, 5, 3, 2), [1, 4, 3, 3], SAME, (2, 3)),
    "conv_valid_dilated":
        lambda: conv_case([1, 13, 12, 3], (4, 3, 3, 3), [1, 9, 8, 4], VALID, (1, 1), (2, 2)),
    "conv_same_dilated_relu_n1_to_1":
        lambda: conv_case([1, 11, 10, 2], (3, 3, 3, 2), [1, 11, 10, 3], SAME, (1, 1), (3, 2),
                          act=RELU_N1_TO_1),
    "conv_1x1":
        lambda: conv_case([1, 6, 7, 8], (5, 1, 1, 8), [1, 6, 7, 5], SAME, (1, 1)),
    "depthwise_same_stride2_relu6":
        lambda: dw_case([1, 9, 10, 4], (1, 3, 3, 4), [1, 5, 5, 4], SAME, (2, 2), act=RELU6),
    "depthwise_multiplier_2":
        lambda: dw_case([1, 7, 8, 3], (1, 3, 3, 6), [1, 7, 8, 6], SAME, (1, 1), multiplier=2),
    "depthwise_dilated_4":
        lambda: dw_case([1, 12, 12, 4], (1, 3, 3, 4), [1, 12, 12, 4], SAME, (1, 1), (4, 4)),
    "depthwise_valid_5x5":
        lambda: dw_case([1, 11, 9, 2], (1, 5, 5, 2), [1, 7, 5, 2], VALID, (1, 1), act=RELU),
    "average_pool_same_excludes_padding":
        lambda: pool_case("AVERAGE_POOL_2D", [1, 9, 10, 3], [1, 5, 5, 3], SAME, (3, 3), (2, 2)),
    "average_pool_global_valid":
        lambda: pool_case("AVERAGE_POOL_2D", [1, 7, 9, 4], [1, 1, 1, 4], VALID, (7, 9), (7, 9)),
    "average_pool_valid_relu":
        lambda: pool_case("AVERAGE_POOL_2D", [1, 8, 8, 2], [1, 4, 4, 2], VALID, (2, 2), (2, 2), act=RELU),
    "max_pool_same":
        lambda: pool_case("MAX_POOL_2D", [1, 9, 8, 3], [1, 5, 4, 3], SAME, (3, 3), (2, 2)),
    "mean_hw_keepdims": lambda: mean_case([1, 6, 7, 5], [1, 2], True, [1, 1, 1, 5]),
    "mean_hw_squeezed": lambda: mean_case([1, 6, 7, 5], [1, 2], False, [1, 5]),
    "mean_h_squeezed_reorders": lambda: mean_case([1, 6, 7, 5], [1], False, [1, 7, 5]),
    "mean_channels_keepdims": lambda: mean_case([1, 6, 7, 5], [-1], True, [1, 6, 7, 1]),
    "concat_channels": lambda: concat_case([[1, 5, 6, 3], [1, 5, 6, 4]], 3, [1, 5, 6, 7]),
    "concat_height": lambda: concat_case([[1, 2, 6, 3], [1, 5, 6, 3]], 1, [1, 7, 6, 3]),
    "concat_negative_axis": lambda: concat_case([[1, 5, 2, 3], [1, 5, 4, 3]], -2, [1, 5, 6, 3]),
    "add_broadcast_channels_const_relu":
        lambda: binary_case("ADD", [1, 5, 6, 4], None, [1, 5, 6, 4], RELU, constant=rand(4)),
    "add_broadcast_rank3_const":
        lambda: binary_case("ADD", [1, 5, 6, 4], None, [1, 5, 6, 4], constant=rand(5, 1, 4)),
    "mul_squeeze_excite": lambda: binary_case("MUL", [1, 5, 6, 4], [1, 1, 1, 4], [1, 5, 6, 4]),
    "mul_dynamic_rank1": lambda: binary_case("MUL", [1, 5, 6, 4], [4], [1, 5, 6, 4]),
    "sub_const_rank4_relu6":
        lambda: binary_case("SUB", [1, 5, 6, 4], None, [1, 5, 6, 4], RELU6, constant=rand(1, 5, 1, 4)),
    "div_const": lambda: binary_case("DIV", [1, 3, 4, 2], None, [1, 3, 4, 2], constant=rand(2) + 3),
    "add_rank2": lambda: binary_case("ADD", [3, 4], [4], [3, 4]),
    "hard_swish": lambda: unary_case("HARD_SWISH"),
    "logistic": lambda: unary_case("LOGISTIC"),
    "relu": lambda: unary_case("RELU"),
    "relu6": lambda: unary_case("RELU6"),
    "relu_n1_to_1": lambda: unary_case("RELU_N1_TO_1"),
    "tanh": lambda: unary_case("TANH"),
    "resize_bilinear_align_corners": lambda: resize_case(R, [1, 5, 7, 3], [13, 9], align=True),
    "resize_bilinear_half_pixel": lambda: resize_case(R, [1, 5, 7, 3], [13, 9], half=True),
    "resize_bilinear_half_pixel_down": lambda: resize_case(R, [1, 11, 13, 2], [4, 5], half=True),
    "resize_bilinear_legacy": lambda: resize_case(R, [1, 5, 7, 3], [13, 9]),
    "resize_bilinear_from_1x1": lambda: resize_case(R, [1, 1, 1, 4], [6, 5], align=True),
    "resize_nearest_legacy": lambda: resize_case(N, [1, 5, 7, 3], [12, 9]),
    "resize_nearest_half_pixel": lambda: resize_case(N, [1, 5, 7, 3], [12, 9], half=True),
    "resize_nearest_align_corners": lambda: resize_case(N, [1, 5, 7, 3], [12, 9], align=True),
    "transpose_conv_same_stride2":
        lambda: transpose_conv_case([1, 5, 6, 3], (4, 3, 3, 3), [1, 10, 12, 4], SAME, (2, 2)),
    "transpose_conv_same_odd_output":
        lambda: transpose_conv_case([1, 5, 6, 3], (2, 3, 3, 3), [1, 9, 11, 2], SAME, (2, 2)),
    "transpose_conv_valid":
        lambda: transpose_conv_case([1, 4, 5, 2], (3, 2, 2, 2), [1, 8, 10, 3], VALID, (2, 2)),
    "transpose_conv_valid_3x3_no_bias":
        lambda: transpose_conv_case([1, 4, 5, 2], (3, 3, 3, 2), [1, 9, 11, 3], VALID, (2, 2), bias=False),
    "softmax": lambda: single_op_model("SOFTMAX", [[1, 4, 5, 6]], [1, 4, 5, 6],
                                       builtin_options=options("SoftmaxOptions", Beta=1.0)),
    "softmax_beta_rank2": lambda: single_op_model("SOFTMAX", [[3, 10]], [3, 10],
                                                  builtin_options=options("SoftmaxOptions", Beta=0.5)),
    "reshape_flatten": lambda: single_op_model("RESHAPE", [[1, 3, 4, 5]], [1, 60],
                                               [(1, np.array([1, -1], np.int32))]),
    "reshape_4d_to_4d": lambda: single_op_model("RESHAPE", [[1, 3, 4, 6]], [1, 6, 2, 6],
                                                [(1, np.array([1, 6, 2, 6], np.int32))]),
    "reshape_squeezed_channels": lambda: single_op_model("RESHAPE", [[1, 1, 1, 7]], [1, 7],
                                                         [(1, np.array([1, 7], np.int32))]),
    "reshape_rank2_to_4d": lambda: single_op_model("RESHAPE", [[2, 12]], [1, 2, 3, 4],
                                                   [(1, np.array([1, 2, 3, 4], np.int32))]),
    "pad": lambda: single_op_model("PAD", [[1, 3, 4, 2]], [1, 6, 5, 3],
                                   [(1, np.array([[0, 0], [1, 2], [0, 1], [1, 0]], np.int32))]),
    "padv2_value": lambda: single_op_model("PADV2", [[1, 3, 4, 2]], [1, 4, 7, 2],
                                           [(1, np.array([[0, 0], [1, 0], [2, 1], [0, 0]], np.int32)),
                                            (2, np.array(-1.5, np.float32))]),
    "mirror_pad_reflect": lambda: single_op_model("MIRROR_PAD", [[1, 4, 5, 2]], [1, 6, 8, 2],
                                                  [(1, np.array([[0, 0], [1, 1], [2, 1], [0, 0]], np.int32))],
                                                  options("MirrorPadOptions", Mode=0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_litert(case, atrous, tmp_path):
    actual, expected, _ = run_both(atrous, tmp_path, CASES[case]())
    assert_close(actual, expected)


def reference(model, inputs):
    return Reference(model).run(inputs)


def test_grouped_conv_and_conv_without_bias(atrous, tmp_path):
    """LiteRT's reference kernels want a bias and one group; the float64 reference does not."""
    model = conv_case([1, 6, 7, 6], (4, 3, 3, 3), [1, 6, 7, 4], SAME, (1, 1))
    conv = next(n for n in convert_to_model(model).nodes if n.op == "conv")
    assert conv.attributes["group"].value == 2
    actual, expected, _ = run_both(atrous, tmp_path, model, reference=reference)
    assert_close(actual, expected)
    model = conv_case([1, 6, 7, 8], (5, 1, 1, 8), [1, 6, 7, 5], SAME, (1, 1), act=RELU_N1_TO_1, bias=False)
    actual, expected, ir = run_both(atrous, tmp_path, model, reference=reference)
    assert_close(actual, expected)
    assert len(next(n for n in ir.nodes if n.op == "conv").inputs) == 2


def mediapipe_transpose(x, w_shape, y, padding, stride, options_bytes=None):
    custom = options_bytes if options_bytes is not None else struct.pack("<3i", padding, stride[1], stride[0])
    constants = [(1, rand(*w_shape)), (2, rand(w_shape[0]))]
    return single_op_model("custom:Convolution2DTransposeBias", [x], y, constants, custom_options=custom)


# MediaPipe's kernel pads P = max(0, k − (in−1) mod s − 1) for SAME and outputs s·(in−1) + k − P:
# 2·in for the selfie models' even sizes, 2·in − 1 for odd ones.
@pytest.mark.parametrize("x, w_shape, y, padding, stride", [
    ([1, 8, 9, 5], (2, 2, 2, 5), [1, 16, 17, 2], 1, (2, 2)),   # the selfie models' 2×2 stride 2 SAME
    ([1, 5, 6, 3], (4, 3, 3, 3), [1, 9, 12, 4], 1, (2, 2)),    # SAME with padding P = 2 (H) / 1 (W)
    ([1, 5, 6, 3], (4, 4, 4, 3), [1, 9, 12, 4], 1, (2, 2)),    # P = 3 / 2: odd P, extra row at the end
    ([1, 4, 5, 2], (3, 3, 2, 2), [1, 9, 6, 3], 2, (2, 1)),     # VALID, different strides per axis
])
def test_mediapipe_transpose_conv_bias(x, w_shape, y, padding, stride, atrous, tmp_path):
    model = mediapipe_transpose(x, w_shape, y, padding, stride)
    actual, expected, ir = run_both(atrous, tmp_path, model, reference=reference)
    assert_close(actual, expected)
    node = next(n for n in ir.nodes if n.op == "conv_transpose")
    assert node.attributes["strides"].value == list(stride)


def test_mediapipe_transpose_conv_bias_checks_recorded_shape():
    model = mediapipe_transpose([1, 8, 8, 5], (2, 2, 2, 5), [1, 17, 16, 2], 1, (2, 2))
    with pytest.raises(ConversionError, match=r"TransposeBias.*\[1, 16, 16, 2\].*\[1, 17, 16, 2\]"):
        convert_to_model(model)
    model = mediapipe_transpose([1, 8, 8, 5], (2, 2, 2, 5), [1, 16, 16, 2], 1, (2, 2),
                                options_bytes=b"\x01\x00")
    with pytest.raises(ConversionError, match="TfLiteTransposeConvParams"):
        convert_to_model(model)
    model = mediapipe_transpose([1, 8, 8, 5], (2, 2, 2, 5), [1, 16, 16, 2], 7, (2, 2))
    with pytest.raises(ConversionError, match="padding 7"):
        convert_to_model(model)


# -- a small graph with fp16 weights, fused activations and a shared constant ---------------------


def small_network() -> bytes:
    m = TFLiteModel()
    x = m.input("image", [1, 12, 10, 3])
    w16 = m.constant("conv/kernel_fp16", rand(6, 3, 3, 3).astype(np.float16))
    b16 = m.constant("conv/bias_fp16", rand(6).astype(np.float16))
    w = m.tensor("conv/kernel", [6, 3, 3, 3])
    b = m.tensor("conv/bias", [6])
    m.op("DEQUANTIZE", [w16], [w])
    m.op("DEQUANTIZE", [b16], [b])
    c = m.tensor("conv", [1, 6, 5, 6])
    m.op("CONV_2D", [x, w, b], [c], options(CONV, Padding=SAME, StrideH=2, StrideW=2, DilationHFactor=1,
                                                DilationWFactor=1, FusedActivationFunction=0))
    h = m.tensor("hswish", [1, 6, 5, 6])
    m.op("HARD_SWISH", [c], [h])
    d = m.tensor("dw", [1, 6, 5, 6])
    dw_kernel, dw_bias = m.constant("dw/kernel", rand(1, 3, 3, 6)), m.constant("dw/bias", rand(6))
    m.op("DEPTHWISE_CONV_2D", [h, dw_kernel, dw_bias], [d],
         options(DW, Padding=SAME, StrideH=1, StrideW=1, DilationHFactor=2, DilationWFactor=2,
                 FusedActivationFunction=RELU, DepthMultiplier=1))
    p = m.tensor("pooled", [1, 1, 1, 6])
    axes = m.constant("axes", np.array([1, 2], np.int32))
    m.op("MEAN", [d, axes], [p], options("ReducerOptions", KeepDims=True))
    g = m.tensor("gate", [1, 1, 1, 6])
    m.op("LOGISTIC", [p], [g])
    s = m.tensor("scaled", [1, 6, 5, 6])
    m.op("MUL", [d, g], [s], options("MulOptions", FusedActivationFunction=0))
    u = m.tensor("upsampled", [1, 12, 10, 6])
    m.op("RESIZE_BILINEAR", [s, m.constant("size", np.array([12, 10], np.int32))], [u],
         options("ResizeBilinearOptions", AlignCorners=False, HalfPixelCenters=True))
    cat = m.tensor("concat", [1, 12, 10, 9])
    m.op("CONCATENATION", [u, x], [cat], options("ConcatenationOptions", Axis=3, FusedActivationFunction=0))
    logits = m.tensor("logits", [1, 12, 10, 2])
    head_kernel, head_bias = m.constant("head/kernel", rand(2, 1, 1, 9)), m.constant("head/bias", rand(2))
    m.op("CONV_2D", [cat, head_kernel, head_bias], [logits],
         options(CONV, Padding=VALID, StrideH=1, StrideW=1, DilationHFactor=1, DilationWFactor=1,
                 FusedActivationFunction=RELU6))
    vector = m.tensor("vector", [1, 6])
    m.op("RESHAPE", [p, m.constant("shape", np.array([1, 6], np.int32))], [vector])
    return m.finish([logits, vector])


def test_small_network_matches_litert_and_reference(atrous, tmp_path):
    model = small_network()
    actual, expected, ir = run_both(atrous, tmp_path, model)
    assert_close(actual, expected)
    image = {"image": rand(1, 12, 10, 3)}
    assert_close(Reference(model).run(image), litert(model, image))


def tflite_constant(model: bytes, name: str) -> np.ndarray:
    reference = Reference(model)
    for i in range(reference.graph.TensorsLength()):
        if reference.graph.Tensors(i).Name().decode() == name:
            return reference._constant(i)
    raise KeyError(name)


def test_nhwc_interface_and_weight_layouts():
    model = small_network()
    ir = convert_to_model(model)
    # The interface keeps TFLite's names and NHWC shapes, with one transpose at each end.
    assert [(ir.tensors[i].name, ir.tensors[i].shape) for i in ir.inputs] == [("image", (1, 12, 10, 3))]
    assert [(ir.tensors[i].name, ir.tensors[i].shape) for i in ir.outputs] == [("logits", (1, 12, 10, 2)),
                                                                                ("vector", (1, 6))]
    first = ir.nodes[0]
    assert first.op == "transpose" and first.inputs == [ir.inputs[0]]
    assert first.attributes["perm"].value == [0, 3, 1, 2]
    last = next(n for n in ir.nodes if ir.outputs[0] in n.outputs)
    assert last.op == "transpose" and last.attributes["perm"].value == [0, 2, 3, 1]
    assert sum(n.op == "transpose" for n in ir.nodes) == 2
    # fp16 weights behind DEQUANTIZE become float32 constants in OIHW.
    conv = next(n for n in ir.nodes if n.op == "conv")
    weight = ir.tensors[conv.inputs[1]]
    assert weight.dtype == "float32" and weight.shape == (6, 3, 3, 3)
    np.testing.assert_array_equal(weight.data, tflite_constant(model, "conv/kernel_fp16")
                                  .astype(np.float32).transpose(0, 3, 1, 2))
    assert conv.attributes["auto_pad"].value == "same_upper" and conv.attributes["strides"].value == [2, 2]
    # Depthwise [1, kH, kW, C] → [C, 1, kH, kW], group = C, dilations kept, fused ReLU as its own op.
    dw = [n for n in ir.nodes if n.op == "conv"][1]
    dw_weight = ir.tensors[dw.inputs[1]]
    np.testing.assert_array_equal(dw_weight.data, tflite_constant(model, "dw/kernel").transpose(3, 0, 1, 2))
    assert dw_weight.shape == (6, 1, 3, 3)
    assert dw.attributes["group"].value == 6 and dw.attributes["dilations"].value == [2, 2]
    after_dw = next(n for n in ir.nodes if dw.outputs[0] in n.inputs)
    assert after_dw.op == "relu"
    # NHWC axes become NCHW axes; RELU6 → clip 0..6; half-pixel resize.
    concat = next(n for n in ir.nodes if n.op == "concat")
    assert concat.attributes["axis"].value == 1
    head = next(n for n in ir.nodes if concat.outputs[0] in n.inputs)
    clip = next(n for n in ir.nodes if head.outputs[0] in n.inputs)
    assert head.op == "conv" and head.attributes["auto_pad"].value == "valid"
    assert clip.op == "clip" and (clip.attributes["min"].value, clip.attributes["max"].value) == (0.0, 6.0)
    resize = next(n for n in ir.nodes if n.op == "resize")
    assert resize.attributes["coordinate_mode"].value == "half_pixel"
    assert resize.attributes["sizes"].value == [12, 10]
    assert any(n.op == "global_average_pool" for n in ir.nodes)
    assert not any(n.op == "DEQUANTIZE" or "fp16" in ir.tensors[i].name for n in ir.nodes for i in n.inputs)


def test_metadata_of_tflite_and_onnx_conversions(tmp_path):
    ir = convert_to_model(small_network())
    assert tuple(ir.metadata["input_layout"]) == (STRING, "nhwc")
    assert tuple(ir.metadata["input_size"]) == (INTS, [12, 10])
    assert "TFLite" in ir.metadata["source"].value
    from onnx import helper
    from onnx_helpers import make_model
    onnx_model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (1, 3, 4, 4)}, ["y"])
    assert tuple(convert_to_model(onnx_model).metadata["input_layout"]) == (STRING, "nchw")


# -- errors ---------------------------------------------------------------------------------------


def run_cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = CONVERTER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "atrous_convert", *map(str, args)],
                          capture_output=True, text=True, env=env)


@pytest.mark.parametrize("name", ["deeplabv3_mnv2_pascal_quant.tflite",
                                  "deeplabv3_mnv2_dm05_pascal_quant.tflite", "v3-small_224_1.0_uint8.tflite"])
def test_quantized_models_are_rejected(name, test_assets, tmp_path):
    out = tmp_path / "m.atrous"
    result = run_cli(os.path.join(test_assets, "models", name), "-o", out)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atrous-convert: error: quantized TFLite models are not "
                                                   "supported yet"), result.stderr
    assert "UINT8" in lines[0] and "zero point 128" in lines[0]
    assert not out.exists()


def test_hybrid_int8_weights_and_quantize_op_are_rejected():
    m = TFLiteModel()
    x = m.input("x", [1, 4, 4, 2])
    w = m.constant("w_int8", RNG.integers(-100, 100, (3, 1, 1, 2)).astype(np.int8), quantization=(0.01, 0))
    y = m.tensor("y", [1, 4, 4, 3])
    m.op("CONV_2D", [x, w, -1], [y], options(CONV, Padding=SAME, StrideH=1, StrideW=1))
    with pytest.raises(ConversionError, match=r"not supported yet.*'w_int8'.*INT8"):
        convert_to_model(m.finish([y]))
    m = TFLiteModel()
    x = m.input("x", [1, 4])
    q = m.tensor("q", [1, 4], np.int8, quantization=(0.1, 3))
    m.op("QUANTIZE", [x], [q])
    with pytest.raises(ConversionError, match="quantized TFLite models are not supported yet"):
        convert_to_model(m.finish([q]))


def test_unsupported_ops_are_named(tmp_path):
    m = TFLiteModel()
    x = m.input("x", [1, 4, 4, 2])
    a = m.tensor("a", [1, 4, 4, 2])
    m.op("RELU", [x], [a])
    b = m.tensor("b", [1, 4, 4, 2])
    m.op("LEAKY_RELU", [a], [b])
    c = m.tensor("c", [1, 4, 4, 2])
    m.op("custom:MyFancyOp", [b], [c], custom_options=b"\x00")
    source = tmp_path / "bad.tflite"
    source.write_bytes(m.finish([c]))
    out = tmp_path / "m.atrous"
    result = run_cli(source, "-o", out)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "atrous-convert: error: unsupported TFLite ops: LEAKY_RELU (operator 1, output 'b'); "
        "custom op 'MyFancyOp' (operator 2, output 'c')")
    assert not out.exists()


def test_unsupported_variants_fail_with_the_operator_named():
    model = single_op_model("CONV_2D", [[1, 4, 4, 2]], [1, 4, 4, 3], [(1, rand(3, 1, 1, 2)), (2, None)],
                            options(CONV, Padding=SAME, StrideH=1, StrideW=1, FusedActivationFunction=5))
    with pytest.raises(ConversionError, match=r"CONV_2D \(operator 0, output 'y'\).*SIGN_BIT"):
        convert_to_model(model)
    # LiteRT's float kernels skip a fused TANH although the schema says to apply it: refused.
    model = binary_case("ADD", [1, 3, 4, 2], [1, 3, 4, 2], [1, 3, 4, 2], act=TANH)
    with pytest.raises(ConversionError, match=r"ADD \(operator 0, output 'y'\): fused activation TANH"):
        convert_to_model(model)
    model = resize_case("RESIZE_BILINEAR", [1, 3, 3, 1], [5, 5], align=True, half=True)
    with pytest.raises(ConversionError, match="RESIZE_BILINEAR.*half_pixel_centers"):
        convert_to_model(model)
    # A mapping whose result contradicts the shape the flatbuffer records is caught.
    model = conv_case([1, 9, 11, 3], (5, 3, 3, 3), [1, 4, 6, 5], SAME, (2, 2))
    with pytest.raises(ConversionError, match=r"computes shape \[1, 5, 6, 5\].*records \[1, 4, 6, 5\]"):
        convert_to_model(model)


def test_tflite_is_detected_by_identifier(tmp_path):
    source = tmp_path / "model.bin"
    source.write_bytes(small_network())
    out = tmp_path / "m.atrous"
    result = run_cli(source, "-o", out)
    assert result.returncode == 0, result.stderr
    assert read_model(str(out)).metadata["input_layout"].value == "nhwc"
    for broken in (b"\x00" * 4 + b"TFL3" + b"\x00" * 8, small_network()[:1500]):
        source.write_bytes(broken)
        result = run_cli(source, "-o", out)
        assert result.returncode == 1 and result.stderr.startswith("atrous-convert: error: ")
        assert len(result.stderr.strip().splitlines()) == 1


def test_input_shape_must_repeat_the_static_shape():
    model = conv_case([1, 9, 11, 3], (5, 3, 3, 3), [1, 5, 6, 5], SAME, (2, 2))
    ir = convert_to_model(model, input_shapes={"x0": [1, 9, 11, 3]})
    assert ir.tensors[ir.inputs[0]].shape == (1, 9, 11, 3)
    with pytest.raises(ConversionError, match=r"--input-shape x0=1x18x22x3: .*static shape 1x9x11x3"):
        convert_to_model(model, input_shapes={"x0": [1, 18, 22, 3]})
    with pytest.raises(ConversionError, match="'y0', which is not a graph input"):
        convert_to_model(model, input_shapes={"y0": [1, 9, 11, 3]})
