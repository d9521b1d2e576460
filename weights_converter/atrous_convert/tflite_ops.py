"""TFLite operator → IR op mappings (docs/OPS.md), one function per operator family.

The driver (tflite_import.py) keeps every rank-4 run-time tensor in NCHW; the mappings permute
constant weights into the IR layouts, remap NHWC axis numbers onto NCHW, translate TF padding
('SAME' → `same_upper`: TF puts the odd pixel of padding at the end; 'VALID' → `valid`), and emit a
fused activation as its own op after the main one. Anything the IR cannot express exactly is an
error naming the operator, never an approximation.
"""
from __future__ import annotations

import struct

import numpy as np

from .tflite_import import AXIS_TO_NCHW, NCHW_TO_NHWC, NHWC_TO_NCHW, Importer, Op, tflite
from .writer import attr_float, attr_int, attr_ints, attr_string

# tflite.BuiltinOptions codes of the options tables the mappings read.
OPTIONS = {
    "Conv2DOptions": 1, "DepthwiseConv2DOptions": 2, "Pool2DOptions": 5, "SoftmaxOptions": 9,
    "ConcatenationOptions": 10, "AddOptions": 11, "ResizeBilinearOptions": 15, "ReshapeOptions": 17,
    "MulOptions": 21, "PadOptions": 22, "ReducerOptions": 27, "SubOptions": 28, "DivOptions": 29,
    "PadV2Options": 43, "TransposeConvOptions": 49, "ResizeNearestNeighborOptions": 74,
    "MirrorPadOptions": 77,
}

SAME, VALID = 0, 1  # tflite.Padding
AUTO_PAD = {SAME: "same_upper", VALID: "valid"}

# Fused activations (tflite.ActivationFunctionType) → (IR op, attributes). A fused TANH (or
# SIGN_BIT) is refused: the schema says "apply it", but TFLite's float kernels derive only a clamp
# range from the fused activation and silently skip TANH (LiteRT 2.x computes the op without it), so
# such a file has no single meaning to reproduce. TFLite's converters never fuse TANH into these ops.
ACTIVATIONS = {
    1: ("relu", {}),
    2: ("clip", {"min": attr_float(-1.0), "max": attr_float(1.0)}),
    3: ("clip", {"min": attr_float(0.0), "max": attr_float(6.0)}),
}
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def _options(op: Op, name: str, required: bool = True):
    options = op.options(getattr(tflite, name), OPTIONS[name])
    if options is None and required:
        raise op.fail(f"has no {name}")
    return options


def emit_fused(ctx: Importer, op: Op, ir_op: str, inputs, attributes, fused: int) -> None:
    """The main op, then its fused activation as a separate op producing the TFLite output."""
    if fused == 0:
        ctx.emit(op, ir_op, inputs, attributes, output=op.outputs[0])
        return
    if fused == 4:
        raise op.fail("fused activation TANH is not supported (LiteRT's float kernels ignore it, the "
                      "schema says to apply it; use a separate TANH op)")
    if fused not in ACTIVATIONS:
        raise op.fail(f"fused activation {ACTIVATION_NAMES.get(fused, fused)} is not supported")
    result = ctx.emit(op, ir_op, inputs, attributes)
    act, act_attributes = ACTIVATIONS[fused]
    ctx.emit(op, act, result, dict(act_attributes), output=op.outputs[0])


def _padding(op: Op, code: int) -> str:
    if code not in AUTO_PAD:
        raise op.fail(f"unknown padding {code}")
    return AUTO_PAD[code]


def _positive(op: Op, what: str, *values) -> list:
    if any(v < 1 for v in values):
        raise op.fail(f"{what} {list(values)} must be ≥ 1")
    return [int(v) for v in values]


def _weights(op: Op, i: int, what: str) -> np.ndarray:
    w = op.constant(i, what)
    if w.dtype != np.float32:
        raise op.fail(f"{what} are {w.dtype}; float32 (or float16 behind DEQUANTIZE) is supported")
    if w.ndim != 4:
        raise op.fail(f"{what} have shape {list(w.shape)}; rank 4 is required")
    return w


def _bias(ctx: Importer, op: Op, i: int, channels: int):
    if not op.has_input(i):
        return None
    b = op.constant(i, "bias")
    if b.dtype != np.float32 or b.size != channels:
        raise op.fail(f"bias of shape {list(b.shape)} ({b.dtype}) for {channels} output channels")
    return ctx.register_constant(op.inputs[i], b.reshape(channels))


# -- convolutions ---------------------------------------------------------------------------------


def conv_2d(ctx: Importer, op: Op) -> None:
    o = _options(op, "Conv2DOptions")
    x = op.float_input(0, rank=4)
    w = _weights(op, 1, "weights")  # OHWI
    channels, per_group = x[3], w.shape[3]
    if per_group == 0 or channels % per_group or w.shape[0] % (channels // per_group):
        raise op.fail(f"input channels {channels} and weights {list(w.shape)} disagree")
    attributes = {
        "strides": attr_ints(_positive(op, "strides", o.StrideH(), o.StrideW())),
        "dilations": attr_ints(_positive(op, "dilations", o.DilationHFactor(), o.DilationWFactor())),
        "auto_pad": attr_string(_padding(op, o.Padding())),
        "group": attr_int(channels // per_group),
    }
    weights = ctx.register_constant(op.inputs[1], w.transpose(0, 3, 1, 2), "oihw")
    inputs = [ctx.ir_tensor(op, 0), weights]
    bias = _bias(ctx, op, 2, w.shape[0])
    if bias is not None:
        inputs.append(bias)
    emit_fused(ctx, op, "conv", inputs, attributes, o.FusedActivationFunction())


def depthwise_conv_2d(ctx: Importer, op: Op) -> None:
    o = _options(op, "DepthwiseConv2DOptions")
    x = op.float_input(0, rank=4)
    w = _weights(op, 1, "weights")  # [1, kH, kW, C·multiplier]
    channels = x[3]
    if w.shape[0] != 1 or channels == 0 or w.shape[3] % channels:
        raise op.fail(f"depthwise weights {list(w.shape)} do not fit {channels} input channels")
    # The multiplier follows from the shapes (output channel c·M + m reads input channel c);
    # the options field is informative only (converters leave it stale or zero).
    attributes = {
        "strides": attr_ints(_positive(op, "strides", o.StrideH(), o.StrideW())),
        "dilations": attr_ints(_positive(op, "dilations", o.DilationHFactor(), o.DilationWFactor())),
        "auto_pad": attr_string(_padding(op, o.Padding())),
        "group": attr_int(channels),
    }
    weights = ctx.register_constant(op.inputs[1], w.transpose(3, 0, 1, 2), "o1hw")
    inputs = [ctx.ir_tensor(op, 0), weights]
    bias = _bias(ctx, op, 2, w.shape[3])
    if bias is not None:
        inputs.append(bias)
    emit_fused(ctx, op, "conv", inputs, attributes, o.FusedActivationFunction())


def _emit_transposed(ctx: Importer, op: Op, x_input: int, w: np.ndarray, w_input: int,
                     bias_input: int, strides, pads, output_padding, fused: int) -> None:
    """conv_transpose with OHWI weights permuted to the IR's [C_in, C_out, kH, kW]."""
    x = op.float_input(x_input, rank=4)
    if w.shape[3] != x[3]:
        raise op.fail(f"weights {list(w.shape)} do not fit {x[3]} input channels")
    for p, s in zip(output_padding, strides):
        if p >= s:
            raise op.fail(f"the recorded output size needs {p} extra rows/columns beyond the "
                          f"scattered extent, more than stride {s} allows")
    weights = ctx.register_constant(op.inputs[w_input], w.transpose(3, 0, 1, 2), "iohw")
    inputs = [ctx.ir_tensor(op, x_input), weights]
    bias = _bias(ctx, op, bias_input, w.shape[0])
    if bias is not None:
        inputs.append(bias)
    attributes = {"strides": attr_ints(strides), "pads": attr_ints(pads),
                  "output_padding": attr_ints(output_padding)}
    emit_fused(ctx, op, "conv_transpose", inputs, attributes, fused)


def transpose_conv(ctx: Importer, op: Op) -> None:
    """Builtin TRANSPOSE_CONV: inputs (output_shape, weights OHWI, input[, bias])."""
    o = _options(op, "TransposeConvOptions")
    out = [int(d) for d in op.constant(0, "output_shape").reshape(-1)]
    x = op.float_input(2, rank=4)
    w = _weights(op, 1, "weights")
    if len(out) != 4:
        raise op.fail(f"output_shape {out} is not rank 4")
    strides = _positive(op, "strides", o.StrideH(), o.StrideW())
    padding = o.Padding()
    _padding(op, padding)
    pads, extra = [0, 0, 0, 0], [0, 0]
    for axis in range(2):
        size, k, s, out_size = x[1 + axis], w.shape[1 + axis], strides[axis], out[1 + axis]
        # TFLite pads as for the forward convolution whose *input* is this op's output.
        forward = -(-out_size // s) if padding == SAME else (out_size - k + s) // s
        total = max((forward - 1) * s + k - out_size, 0)
        begin = total // 2
        end = (size - 1) * s + k - begin - out_size
        if end < 0:
            end, extra[axis] = 0, -end
        pads[axis], pads[axis + 2] = begin, end
    fused = o.FusedActivationFunction() if hasattr(o, "FusedActivationFunction") else 0
    _emit_transposed(ctx, op, 2, w, 1, 3, strides, pads, extra, fused)


def convolution_2d_transpose_bias(ctx: Importer, op: Op) -> None:
    """MediaPipe's custom `Convolution2DTransposeBias`: inputs (input, weights OHWI, bias).

    Its custom options are the raw bytes of TfLiteTransposeConvParams: int32 padding
    (TfLitePadding: 1 = SAME, 2 = VALID), int32 stride_width, int32 stride_height. The kernel pads
    P = max(0, k − (in−1) mod s − 1) for SAME (0 for VALID), P//2 of it at the start, and
    produces s·(in−1) + k − P rows (likewise columns).
    """
    data = op.custom_options()
    if len(data) < 12 or any(data[12:]):
        raise op.fail(f"custom options of {len(data)} bytes ({data.hex()}) are not "
                      "TfLiteTransposeConvParams {padding, stride_width, stride_height}")
    padding, stride_w, stride_h = struct.unpack("<3i", data[:12])
    if padding not in (1, 2):
        raise op.fail(f"custom options padding {padding} is neither SAME (1) nor VALID (2)")
    strides = _positive(op, "strides", stride_h, stride_w)
    if len(op.inputs) != 3 or not op.has_input(2):
        raise op.fail("needs three inputs (input, weights, bias)")
    x = op.float_input(0, rank=4)
    w = _weights(op, 1, "weights")
    pads, expected = [0, 0, 0, 0], [x[0], 0, 0, w.shape[0]]
    for axis in range(2):
        size, k, s = x[1 + axis], w.shape[1 + axis], strides[axis]
        total = max(0, k - (size - 1) % s - 1) if padding == 1 else 0
        pads[axis], pads[axis + 2] = total // 2, total - total // 2
        expected[1 + axis] = s * (size - 1) + k - total
    recorded = op.output_shape()
    if recorded and list(recorded) != expected:
        raise op.fail(f"options (padding {'SAME' if padding == 1 else 'VALID'}, strides {strides}) "
                      f"give output {expected}, the model records {list(recorded)}")
    _emit_transposed(ctx, op, 0, w, 1, 2, strides, pads, [0, 0], 0)


# -- pooling and reductions -----------------------------------------------------------------------


def pool(ir_op: str):
    def mapping(ctx: Importer, op: Op) -> None:
        o = _options(op, "Pool2DOptions")
        x = op.float_input(0, rank=4)
        kernel = _positive(op, "filter size", o.FilterHeight(), o.FilterWidth())
        strides = _positive(op, "strides", o.StrideH(), o.StrideW())
        padding = _padding(op, o.Padding())
        if ir_op == "average_pool" and padding == "valid" and kernel == [x[1], x[2]]:
            # One window over the whole image: the same mean, spelled as the global op.
            emit_fused(ctx, op, "global_average_pool", [ctx.ir_tensor(op, 0)], {},
                       o.FusedActivationFunction())
            return
        attributes = {"kernel_shape": attr_ints(kernel), "strides": attr_ints(strides),
                      "auto_pad": attr_string(padding)}
        if ir_op == "average_pool":
            attributes["count_include_pad"] = attr_int(0)  # TF divides by the cells inside
        emit_fused(ctx, op, ir_op, [ctx.ir_tensor(op, 0)], attributes, o.FusedActivationFunction())
    return mapping


def mean(ctx: Importer, op: Op) -> None:
    o = _options(op, "ReducerOptions", required=False)
    keep = bool(o.KeepDims()) if o is not None else False
    x = op.float_input(0)
    rank = len(x)
    axes = sorted({int(a) % rank if rank else 0 for a in op.constant(1, "axes").reshape(-1)})
    if not axes:
        raise op.fail("MEAN over no axes is not supported")
    if rank != 4:
        ctx.emit(op, "reduce_mean", [ctx.ir_tensor(op, 0)],
                 {"axes": attr_ints(axes), "keepdims": attr_int(int(keep))}, output=op.outputs[0])
        return
    if keep and axes == [1, 2]:
        ctx.emit(op, "global_average_pool", [ctx.ir_tensor(op, 0)], {}, output=op.outputs[0])
        return
    ir_axes = sorted(AXIS_TO_NCHW[a] for a in axes)
    attributes = {"axes": attr_ints(ir_axes), "keepdims": attr_int(int(keep))}
    if keep:
        ctx.emit(op, "reduce_mean", [ctx.ir_tensor(op, 0)], attributes, output=op.outputs[0])
        return
    # Without keep_dims the result is not rank 4, so it must be in TFLite axis order: the IR
    # leaves the kept axes in NCHW order; permute them when that order differs.
    kept_ir = [a for a in range(4) if a not in ir_axes]
    kept_tfl = [AXIS_TO_NCHW[a] for a in range(4) if a not in axes]
    perm = [kept_ir.index(a) for a in kept_tfl]
    if perm == sorted(perm):
        ctx.emit(op, "reduce_mean", [ctx.ir_tensor(op, 0)], attributes, output=op.outputs[0])
        return
    reduced = ctx.emit(op, "reduce_mean", [ctx.ir_tensor(op, 0)], attributes)
    ctx.emit(op, "transpose", reduced, {"perm": attr_ints(perm)}, output=op.outputs[0])


# -- element-wise ---------------------------------------------------------------------------------


def unary(ir_op: str, attributes=None):
    def mapping(ctx: Importer, op: Op) -> None:
        op.float_input(0)
        ctx.emit(op, ir_op, [ctx.ir_tensor(op, 0)], dict(attributes or {}), output=op.outputs[0])
    return mapping


def binary(ir_op: str, options_name: str):
    def mapping(ctx: Importer, op: Op) -> None:
        o = _options(op, options_name, required=False)
        rank = max(len(op.float_input(0)), len(op.float_input(1)))
        inputs = [ctx.ir_tensor(op, 0, broadcast_rank=rank), ctx.ir_tensor(op, 1, broadcast_rank=rank)]
        emit_fused(ctx, op, ir_op, inputs, {}, o.FusedActivationFunction() if o is not None else 0)
    return mapping


def concatenation(ctx: Importer, op: Op) -> None:
    o = _options(op, "ConcatenationOptions")
    rank = len(op.float_input(0))
    for i in range(1, len(op.inputs)):
        if len(op.float_input(i)) != rank:
            raise op.fail("inputs of different ranks")
    axis = o.Axis() + rank if o.Axis() < 0 else o.Axis()
    if not 0 <= axis < rank:
        raise op.fail(f"axis {o.Axis()} out of range for rank {rank}")
    if rank == 4:
        axis = AXIS_TO_NCHW[axis]
    emit_fused(ctx, op, "concat", [ctx.ir_tensor(op, i) for i in range(len(op.inputs))],
               {"axis": attr_int(axis)}, o.FusedActivationFunction())


def softmax(ctx: Importer, op: Op) -> None:
    o = _options(op, "SoftmaxOptions", required=False)
    beta = float(o.Beta()) if o is not None else 1.0
    rank = len(op.float_input(0))
    x = [ctx.ir_tensor(op, 0)]
    if beta != 1.0:  # softmax(beta · x)
        scale = ctx.register_constant(None, np.array(beta, np.float32),
                                      name=f"{ctx.tensor_name(op.outputs[0])}/beta")
        x = ctx.emit(op, "mul", [x[0], scale], {})
    ctx.emit(op, "softmax", x, {"axis": attr_int(1 if rank == 4 else rank - 1)}, output=op.outputs[0])


# -- resize ---------------------------------------------------------------------------------------


def _size(op: Op) -> list:
    size = [int(v) for v in op.constant(1, "size").reshape(-1)]
    if len(size) != 2 or min(size) < 1:
        raise op.fail(f"size {size} must be two positive values")
    return size


def resize_bilinear(ctx: Importer, op: Op) -> None:
    o = _options(op, "ResizeBilinearOptions", required=False)
    op.float_input(0, rank=4)
    align = bool(o.AlignCorners()) if o is not None else False
    half = bool(o.HalfPixelCenters()) if o is not None else False
    if align and half:
        raise op.fail("align_corners together with half_pixel_centers is not supported")
    mode = "align_corners" if align else "half_pixel" if half else "asymmetric"
    ctx.emit(op, "resize", [ctx.ir_tensor(op, 0)],
             {"sizes": attr_ints(_size(op)), "mode": attr_string("linear"),
              "coordinate_mode": attr_string(mode)}, output=op.outputs[0])


def resize_nearest_neighbor(ctx: Importer, op: Op) -> None:
    o = _options(op, "ResizeNearestNeighborOptions", required=False)
    op.float_input(0, rank=4)
    align = bool(o.AlignCorners()) if o is not None else False
    half = bool(o.HalfPixelCenters()) if o is not None else False
    if align and half:
        raise op.fail("align_corners together with half_pixel_centers is not supported")
    # TF: legacy floor(x·in/out); half_pixel_centers floor((x + 0.5)·in/out), i.e. the half-pixel
    # coordinate rounded half up; align_corners rounds x·(in−1)/(out−1) half away from zero.
    mode, rounding = (("align_corners", "round_prefer_ceil") if align else
                      ("half_pixel", "round_prefer_ceil") if half else ("asymmetric", "floor"))
    ctx.emit(op, "resize", [ctx.ir_tensor(op, 0)],
             {"sizes": attr_ints(_size(op)), "mode": attr_string("nearest"),
              "coordinate_mode": attr_string(mode), "nearest_mode": attr_string(rounding)},
             output=op.outputs[0])


# -- data movement --------------------------------------------------------------------------------


def _same_data_order(nhwc: tuple) -> bool:
    """Whether NHWC and NCHW hold the elements in the same order (the non-unit dims keep theirs)."""
    order = [a for a in (0, 1, 2, 3) if nhwc[a] != 1]
    return order == [a for a in (0, 3, 1, 2) if nhwc[a] != 1]


def _to_tflite_layout(ctx: Importer, op: Op, index: int, nhwc: tuple) -> int:
    if _same_data_order(nhwc):
        return ctx.emit(op, "reshape", [index], {"shape": attr_ints(nhwc)})[0]
    return ctx.emit(op, "transpose", [index], {"perm": attr_ints(NCHW_TO_NHWC)})[0]


def reshape(ctx: Importer, op: Op) -> None:
    x = op.float_input(0)
    recorded = op.output_shape()
    if op.has_input(1):
        target = [int(d) for d in op.constant(1, "shape").reshape(-1)]
    else:
        o = _options(op, "ReshapeOptions", required=False)
        target = [int(d) for d in o.NewShapeAsNumpy()] if o is not None and o.NewShapeLength() else None
        if target is None:
            if recorded is None:
                raise op.fail("no target shape")
            target = list(recorded)
    count = int(np.prod(x))
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1]))
        if known == 0 or count % known:
            raise op.fail(f"cannot reshape {list(x)} to {target}")
        target[target.index(-1)] = count // known
    if any(d < 0 for d in target) or int(np.prod(target)) != count:
        raise op.fail(f"cannot reshape {list(x)} to {target}")
    index = ctx.ir_tensor(op, 0)
    if len(x) == 4:
        index = _to_tflite_layout(ctx, op, index, x)
    if len(target) != 4:
        ctx.emit(op, "reshape", [index], {"shape": attr_ints(target)}, output=op.outputs[0])
    elif _same_data_order(tuple(target)):
        ctx.emit(op, "reshape", [index], {"shape": attr_ints([target[a] for a in NHWC_TO_NCHW])},
                 output=op.outputs[0])
    else:
        nhwc = ctx.emit(op, "reshape", [index], {"shape": attr_ints(target)})
        ctx.emit(op, "transpose", nhwc, {"perm": attr_ints(NHWC_TO_NCHW)}, output=op.outputs[0])


def _pads(op: Op, rank: int) -> list:
    paddings = op.constant(1, "paddings")
    if paddings.shape != (rank, 2):
        raise op.fail(f"paddings of shape {list(paddings.shape)} for rank {rank}")
    order = NHWC_TO_NCHW if rank == 4 else tuple(range(rank))
    begins = [int(paddings[a, 0]) for a in order]
    ends = [int(paddings[a, 1]) for a in order]
    if min(begins + ends) < 0:
        raise op.fail("negative paddings")
    return begins + ends


def pad(ctx: Importer, op: Op) -> None:
    rank = len(op.float_input(0))
    value = 0.0
    if op.name == "PADV2" and op.has_input(2):
        constant = op.constant(2, "constant_values").reshape(-1)
        if constant.size != 1:
            raise op.fail("constant_values must hold one value")
        value = float(constant[0])
    ctx.emit(op, "pad", [ctx.ir_tensor(op, 0)],
             {"pads": attr_ints(_pads(op, rank)), "mode": attr_string("constant"),
              "value": attr_float(value)}, output=op.outputs[0])


def mirror_pad(ctx: Importer, op: Op) -> None:
    o = _options(op, "MirrorPadOptions", required=False)
    if o is not None and o.Mode() != 0:
        raise op.fail("SYMMETRIC mirror padding is not supported (REFLECT is)")
    rank = len(op.float_input(0))
    ctx.emit(op, "pad", [ctx.ir_tensor(op, 0)],
             {"pads": attr_ints(_pads(op, rank)), "mode": attr_string("reflect")}, output=op.outputs[0])


HANDLERS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "TRANSPOSE_CONV": transpose_conv,
    ("CUSTOM", "Convolution2DTransposeBias"): convolution_2d_transpose_bias,
    "AVERAGE_POOL_2D": pool("average_pool"),
    "MAX_POOL_2D": pool("max_pool"),
    "MEAN": mean,
    "ADD": binary("add", "AddOptions"),
    "SUB": binary("sub", "SubOptions"),
    "MUL": binary("mul", "MulOptions"),
    "DIV": binary("div", "DivOptions"),
    "CONCATENATION": concatenation,
    "RELU": unary("relu"),
    "RELU6": unary("clip", {"min": attr_float(0.0), "max": attr_float(6.0)}),
    "RELU_N1_TO_1": unary("clip", {"min": attr_float(-1.0), "max": attr_float(1.0)}),
    "TANH": unary("tanh"),
    "LOGISTIC": unary("sigmoid"),
    "HARD_SWISH": unary("hard_swish"),
    "SOFTMAX": softmax,
    "RESIZE_BILINEAR": resize_bilinear,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "RESHAPE": reshape,
    "PAD": pad,
    "PADV2": pad,
    "MIRROR_PAD": mirror_pad,
}
