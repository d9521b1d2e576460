#!/usr/bin/env python3
"""Writes an `.atrous` model as a float32 TFLite flatbuffer, so LiteRT (with its default XNNPACK
delegate) can run the same network as the other peers in bench/compare_peers.py.

TensorFlow's converters (onnx2tf, ai-edge-torch) need TensorFlow itself; this writer needs only
the `tflite` schema bindings and `flatbuffers` (through tests/python/tflite_builder.py). It maps
the ops the benchmark models use and refuses anything else by name.

Layout: TFLite is NHWC, so every rank-4 tensor is transposed: the input becomes [1,H,W,C] (the
caller feeds x.transpose(0,2,3,1)), constants [1,C,1,1] become [1,1,1,C], channel axes become 3,
and conv weights become OHWI (depthwise: 1HWO). Explicit conv/pool pads that equal TFLite's SAME
padding map to SAME, zero pads to VALID, others to a PAD op before the VALID op. ReLU and
clip(0,6) right after a conv with one reader are fused into it as TFLite's own converter does.

    .venv/bin/python bench/tflite_export.py MODEL.atrous MODEL.tflite
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
sys.path.insert(0, os.path.join(REPO, "weights_converter"))

from atrous_convert.reader import read_model  # noqa: E402
from tflite_builder import TFLiteModel, options  # noqa: E402

NONE, RELU, RELU6 = 0, 1, 3
SAME, VALID = 0, 1


class ExportError(RuntimeError):
    pass


def attribute(node, key, default):
    attr = node.attributes.get(key)
    return default if attr is None else attr.value


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> Tuple[int, int]:
    """TFLite's SAME padding for one axis: (begin, end)."""
    effective = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class Exporter:
    def __init__(self, model):
        self.model = model
        self.out = TFLiteModel("atrous export for benchmarking")
        self.index: Dict[int, int] = {}  # atrous tensor -> tflite tensor
        self.readers: Dict[int, int] = {}
        for node in model.nodes:
            for t in node.inputs:
                if t is not None:
                    self.readers[t] = self.readers.get(t, 0) + 1
        for t in model.outputs:
            self.readers[t] = self.readers.get(t, 0) + 1

    # -- tensors ------------------------------------------------------------------------------
    def shape(self, t: int) -> Tuple[int, ...]:
        return tuple(self.model.tensors[t].shape)

    @staticmethod
    def nhwc(shape: Sequence[int]) -> List[int]:
        return [shape[0], shape[2], shape[3], shape[1]] if len(shape) == 4 else list(shape)

    def constant_data(self, t: int) -> Optional[np.ndarray]:
        return self.model.tensors[t].data

    def tensor(self, t: int) -> int:
        if t in self.index:
            return self.index[t]
        data = self.constant_data(t)
        if data is None:
            raise ExportError(f"tensor {self.model.tensors[t].name} used before it is produced")
        array = np.asarray(data)
        if array.ndim == 4:
            array = array.transpose(0, 2, 3, 1)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.index[t] = self.out.constant(self.model.tensors[t].name, np.ascontiguousarray(array))
        return self.index[t]

    def new(self, t: int, shape_override: Optional[Sequence[int]] = None) -> int:
        shape = shape_override if shape_override is not None else self.nhwc(self.shape(t))
        self.index[t] = self.out.tensor(self.model.tensors[t].name, shape)
        return self.index[t]

    def temp(self, name: str, shape: Sequence[int]) -> int:
        return self.out.tensor(name, list(shape))

    # -- ops ----------------------------------------------------------------------------------
    def padded_input(self, x: int, in_shape, pads, name: str) -> Tuple[int, int, Sequence[int]]:
        """(tensor, padding code, its NCHW shape) after an explicit PAD when needed."""
        top, left, bottom, right = pads
        if top == left == bottom == right == 0:
            return x, VALID, in_shape
        n, c, h, w = in_shape
        shape = [n, h + top + bottom, w + left + right, c]
        paddings = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
        padded = self.temp(name + "/pad", shape)
        self.out.op("PAD", [x, self.out.constant(name + "/paddings", paddings)], [padded])
        return padded, VALID, [n, c, shape[1], shape[2]]

    def window_padding(self, node, in_shape, kernel, strides, dilations):
        pads = list(attribute(node, "pads", [0, 0, 0, 0]))
        auto_pad = attribute(node, "auto_pad", "explicit")
        if auto_pad in ("same_upper", "SAME_UPPER"):
            return None, SAME
        if auto_pad not in ("explicit", "NOTSET", "valid", "VALID"):
            raise ExportError(f"{node.name}: auto_pad {auto_pad} not mapped")
        same = [same_pads(in_shape[2 + a], kernel[a], strides[a], dilations[a]) for a in range(2)]
        if pads == [same[0][0], same[1][0], same[0][1], same[1][1]] and any(pads):
            return None, SAME
        return pads, VALID

    def fused_activation(self, node) -> Tuple[int, int]:
        """(TFLite activation code, the tensor the fused op writes) for conv → relu/relu6."""
        out = node.outputs[0]
        if self.readers.get(out, 0) != 1:
            return NONE, out
        for later in self.model.nodes:
            if out in later.inputs:
                if later.op == "relu":
                    self.skipped.add(id(later))
                    return RELU, later.outputs[0]
                if later.op == "clip":
                    low = attribute(later, "min", None)
                    high = attribute(later, "max", None)
                    if len(later.inputs) > 1:
                        low = float(self.constant_data(later.inputs[1])) if later.inputs[1] is not None else low
                        high = float(self.constant_data(later.inputs[2])) if len(later.inputs) > 2 and later.inputs[2] is not None else high
                    if low == 0 and high == 6:
                        self.skipped.add(id(later))
                        return RELU6, later.outputs[0]
                break
        return NONE, out

    def conv(self, node) -> None:
        x_t, w_t = node.inputs[0], node.inputs[1]
        b_t = node.inputs[2] if len(node.inputs) > 2 else None
        in_shape = list(self.shape(x_t))
        weight = np.asarray(self.constant_data(w_t), np.float32)
        m, cg, kh, kw = weight.shape
        group = attribute(node, "group", 1)
        strides = list(attribute(node, "strides", [1, 1]))
        dilations = list(attribute(node, "dilations", [1, 1]))
        act = attribute(node, "activation", "none")
        if act not in ("none",):
            raise ExportError(f"{node.name}: fused activation {act} in the file is not mapped")
        pads, padding = self.window_padding(node, in_shape, (kh, kw), strides, dilations)
        x = self.tensor(x_t)
        if pads is not None:
            x, padding, in_shape = self.padded_input(x, in_shape, pads, node.name)
        bias = (np.asarray(self.constant_data(b_t), np.float32) if b_t is not None
                else np.zeros(m, np.float32))
        fused, out_t = self.fused_activation(node)
        y = self.new(out_t, self.nhwc(self.shape(node.outputs[0])))
        self.index[node.outputs[0]] = y
        b = self.out.constant(node.name + "/bias", bias)
        if group == 1:
            w = self.out.constant(node.name + "/weight", np.ascontiguousarray(weight.transpose(0, 2, 3, 1)))
            self.out.op("CONV_2D", [x, w, b], [y], options(
                "Conv2DOptions", Padding=padding, StrideH=strides[0], StrideW=strides[1],
                DilationHFactor=dilations[0], DilationWFactor=dilations[1], FusedActivationFunction=fused))
        elif group == in_shape[1] and cg == 1:
            w = self.out.constant(node.name + "/weight", np.ascontiguousarray(weight.transpose(1, 2, 3, 0)))
            self.out.op("DEPTHWISE_CONV_2D", [x, w, b], [y], options(
                "DepthwiseConv2DOptions", Padding=padding, StrideH=strides[0], StrideW=strides[1],
                DepthMultiplier=m // group, DilationHFactor=dilations[0], DilationWFactor=dilations[1],
                FusedActivationFunction=fused))
        else:
            raise ExportError(f"{node.name}: grouped conv with {group} groups is not mapped")

    def average_pool(self, node) -> None:
        in_shape = list(self.shape(node.inputs[0]))
        kernel = list(attribute(node, "kernel_shape", [1, 1]))
        strides = list(attribute(node, "strides", [1, 1]))
        pads, padding = self.window_padding(node, in_shape, kernel, strides, [1, 1])
        if pads is not None and any(pads):
            raise ExportError(f"{node.name}: padded average pool is not mapped")
        y = self.new(node.outputs[0])
        self.out.op("AVERAGE_POOL_2D", [self.tensor(node.inputs[0])], [y], options(
            "Pool2DOptions", Padding=padding, StrideH=strides[0], StrideW=strides[1],
            FilterHeight=kernel[0], FilterWidth=kernel[1]))

    def resize(self, node) -> None:
        out_shape = self.shape(node.outputs[0])
        mode = attribute(node, "mode", "nearest")
        coordinates = attribute(node, "coordinate_mode", "half_pixel")
        size = self.out.constant(node.name + "/size", np.array(out_shape[2:], np.int32))
        y = self.new(node.outputs[0])
        align = coordinates == "align_corners"
        half = coordinates in ("half_pixel", "pytorch_half_pixel")
        if mode in ("linear", "bilinear"):
            self.out.op("RESIZE_BILINEAR", [self.tensor(node.inputs[0]), size], [y], options(
                "ResizeBilinearOptions", AlignCorners=align, HalfPixelCenters=half))
        else:
            self.out.op("RESIZE_NEAREST_NEIGHBOR", [self.tensor(node.inputs[0]), size], [y], options(
                "ResizeNearestNeighborOptions", AlignCorners=align, HalfPixelCenters=half))

    def elementwise(self, node, name: str, opts: str) -> None:
        inputs = [self.tensor(t) for t in node.inputs]
        y = self.new(node.outputs[0])
        self.out.op(name, inputs, [y], options(opts))

    def hard_sigmoid(self, node) -> None:
        alpha = float(attribute(node, "alpha", 0.2))
        beta = float(attribute(node, "beta", 0.5))
        shape = self.nhwc(self.shape(node.outputs[0]))
        x = self.tensor(node.inputs[0])
        # max(0, min(1, alpha·x + beta)) = relu_0_1(alpha·x + beta)
        scaled = self.temp(node.name + "/scaled", shape)
        shifted = self.temp(node.name + "/shifted", shape)
        self.out.op("MUL", [x, self.out.constant(node.name + "/alpha", np.array([alpha], np.float32))],
                    [scaled], options("MulOptions"))
        self.out.op("ADD", [scaled, self.out.constant(node.name + "/beta", np.array([beta], np.float32))],
                    [shifted], options("AddOptions"))
        self.out.op("RELU_0_TO_1", [shifted], [self.new(node.outputs[0])])

    def export(self) -> bytes:
        self.skipped = set()
        for t in self.model.inputs:
            self.index[t] = self.out.input(self.model.tensors[t].name, self.nhwc(self.shape(t)))
        for node in self.model.nodes:
            if id(node) in self.skipped:
                continue
            op = node.op
            if op == "conv":
                self.conv(node)
            elif op == "relu":
                self.out.op("RELU", [self.tensor(node.inputs[0])], [self.new(node.outputs[0])])
            elif op == "clip":
                self.out.op("RELU6", [self.tensor(node.inputs[0])], [self.new(node.outputs[0])])
            elif op == "hard_swish":
                self.out.op("HARD_SWISH", [self.tensor(node.inputs[0])], [self.new(node.outputs[0])])
            elif op == "hard_sigmoid":
                self.hard_sigmoid(node)
            elif op == "sigmoid":
                self.out.op("LOGISTIC", [self.tensor(node.inputs[0])], [self.new(node.outputs[0])])
            elif op in ("add", "mul", "sub", "div"):
                self.elementwise(node, op.upper(), op.capitalize() + "Options")
            elif op in ("global_average_pool", "reduce_mean"):
                axes = self.out.constant(node.name + "/axes", np.array([1, 2], np.int32))
                self.out.op("MEAN", [self.tensor(node.inputs[0]), axes], [self.new(node.outputs[0])],
                            options("ReducerOptions", KeepDims=True))
            elif op == "average_pool":
                self.average_pool(node)
            elif op == "resize":
                self.resize(node)
            elif op == "concat":
                axis = attribute(node, "axis", 1)
                rank = len(self.shape(node.outputs[0]))
                axis = axis % rank
                if rank == 4:
                    axis = [0, 3, 1, 2][axis]
                self.out.op("CONCATENATION", [self.tensor(t) for t in node.inputs], [self.new(node.outputs[0])],
                            options("ConcatenationOptions", Axis=axis))
            elif op == "flatten":
                in_shape = self.shape(node.inputs[0])
                if len(in_shape) != 4 or in_shape[2] * in_shape[3] != 1:
                    raise ExportError(f"{node.name}: flatten of a spatial map is not mapped")
                out_shape = list(self.shape(node.outputs[0]))
                self.out.op("RESHAPE", [self.tensor(node.inputs[0]),
                                        self.out.constant(node.name + "/shape", np.array(out_shape, np.int32))],
                            [self.new(node.outputs[0])])
            elif op == "pad":
                pads = list(attribute(node, "pads", []))
                rank = len(self.shape(node.inputs[0]))
                if attribute(node, "mode", "constant") != "constant" or attribute(node, "value", 0.0) != 0.0 \
                        or len(node.inputs) > 1 or len(pads) != 2 * rank or min(pads) < 0:
                    raise ExportError(f"{node.name}: only zero constant padding is mapped")
                pairs = [[pads[a], pads[a + rank]] for a in range(rank)]
                if rank == 4:
                    pairs = [pairs[0], pairs[2], pairs[3], pairs[1]]
                self.out.op("PAD", [self.tensor(node.inputs[0]),
                                    self.out.constant(node.name + "/paddings", np.array(pairs, np.int32))],
                            [self.new(node.outputs[0])])
            elif op == "gemm":
                if attribute(node, "trans_a", 0) or not attribute(node, "trans_b", 0) or \
                        attribute(node, "alpha", 1.0) != 1.0 or attribute(node, "beta", 1.0) != 1.0:
                    raise ExportError(f"{node.name}: only gemm with transB=1, alpha=beta=1 is mapped")
                self.out.op("FULLY_CONNECTED", [self.tensor(t) for t in node.inputs], [self.new(node.outputs[0])],
                            options("FullyConnectedOptions"))
            else:
                raise ExportError(f"op '{op}' ({node.name}) is not mapped to TFLite")
        return self.out.finish([self.index[t] for t in self.model.outputs])


def export(atrous_path: str, tflite_path: str) -> None:
    data = Exporter(read_model(atrous_path)).export()
    with open(tflite_path, "wb") as handle:
        handle.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    export(sys.argv[1], sys.argv[2])
