"""An independent float64 execution of a float TFLite flatbuffer, for checking the converter on
models stock LiteRT cannot run (MediaPipe's custom `Convolution2DTransposeBias`).

It shares no code with atrous_convert: it reads the flatbuffer with the `tflite` schema bindings and
runs the graph operator by operator in its own NHWC layout, each op written from the TFLite kernel
semantics (TF 'SAME' padding computed per op, pooling that divides by the in-image cells, TF's
resize-bilinear coordinate rules, MediaPipe's transposed-convolution padding rule). Convolutions
use torch in float64, so the reference is more precise than any float32 run.
"""
from __future__ import annotations

import math
import struct
from typing import Dict, List

import numpy as np
import tflite
import torch
import torch.nn.functional as F

NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
OPCODE_NAMES = {getattr(tflite.BuiltinOperator, n): n for n in dir(tflite.BuiltinOperator) if n.isupper()}


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1):
    """TF 'SAME': output ceil(size/stride); the odd pixel of padding goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def _activation(x: torch.Tensor, code: int) -> torch.Tensor:
    if code == 0:
        return x
    if code == 1:
        return torch.clamp(x, min=0)
    if code == 2:
        return torch.clamp(x, -1, 1)
    if code == 3:
        return torch.clamp(x, 0, 6)
    # TANH (4) and SIGN_BIT (5): TFLite's float kernels skip them, the schema says apply; the
    # converter refuses such models, and so does this reference.
    raise NotImplementedError(f"fused activation {code}")


def _options(op, cls):
    table = op.BuiltinOptions()
    if table is None:
        return None
    o = cls()
    o.Init(table.Bytes, table.Pos)
    return o


def _window(x: torch.Tensor, kernel, strides, dilations, padding: int) -> torch.Tensor:
    """Pads an NCHW tensor with zeros as TF does for 'SAME' (padding 0) and leaves 'VALID' alone."""
    if padding != 0:
        return x
    top, bottom = _same_pads(x.shape[2], kernel[0], strides[0], dilations[0])
    left, right = _same_pads(x.shape[3], kernel[1], strides[1], dilations[1])
    return F.pad(x, (left, right, top, bottom))


def _resize_bilinear(x: torch.Tensor, size, align_corners: bool, half_pixel: bool) -> torch.Tensor:
    """TF/TFLite resize-bilinear on NHWC: for each output index the source coordinate is
    y·scale or (y + 0.5)·scale − 0.5, scale = (in−1)/(out−1) with align_corners else in/out; the
    two neighbours floor and ceil are clamped into the image and weighted by the fractional part."""
    def taps(out_size: int, in_size: int):
        if align_corners and out_size > 1:
            scale = (in_size - 1) / (out_size - 1)
        else:
            scale = in_size / out_size
        coords = np.arange(out_size, dtype=np.float64)
        source = (coords + 0.5) * scale - 0.5 if half_pixel else coords * scale
        low = np.floor(source)
        lower = np.maximum(low, 0).astype(np.int64)
        upper = np.minimum(np.ceil(source), in_size - 1).astype(np.int64)
        frac = source - lower  # TFLite weighs against the clamped lower index
        return torch.from_numpy(lower), torch.from_numpy(upper), torch.from_numpy(frac)

    y0, y1, fy = taps(size[0], x.shape[1])
    x0, x1, fx = taps(size[1], x.shape[2])
    fy = fy.view(1, -1, 1, 1)
    fx = fx.view(1, 1, -1, 1)
    top = x[:, y0] * (1 - fy) + x[:, y1] * fy
    return top[:, :, x0] * (1 - fx) + top[:, :, x1] * fx


class Reference:
    def __init__(self, path_or_bytes):
        data = open(path_or_bytes, "rb").read() if isinstance(path_or_bytes, str) else path_or_bytes
        self.model = tflite.Model.GetRootAs(data, 0)
        self.graph = self.model.Subgraphs(0)

    def _name(self, i: int) -> str:
        return self.graph.Tensors(i).Name().decode()

    def _constant(self, i: int):
        t = self.graph.Tensors(i)
        buffer = self.model.Buffers(t.Buffer())
        if buffer.DataIsNone() or buffer.DataLength() == 0:
            return None
        array = np.frombuffer(buffer.DataAsNumpy().tobytes(), NP_TYPES[t.Type()])
        return array.reshape([int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else [])

    @property
    def input_names(self) -> List[str]:
        return [self._name(self.graph.Inputs(k)) for k in range(self.graph.InputsLength())]

    @property
    def output_names(self) -> List[str]:
        return [self._name(self.graph.Outputs(k)) for k in range(self.graph.OutputsLength())]

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        values: Dict[int, torch.Tensor] = {}
        for i in range(self.graph.TensorsLength()):
            array = self._constant(i)
            if array is not None:
                values[i] = torch.from_numpy(array.astype(np.float64) if array.dtype.kind == "f"
                                             else array.astype(np.int64))
        for k in range(self.graph.InputsLength()):
            index = self.graph.Inputs(k)
            values[index] = torch.from_numpy(np.asarray(inputs[self._name(index)], np.float64))
        with torch.no_grad():
            for n in range(self.graph.OperatorsLength()):
                op = self.graph.Operators(n)
                code = self.model.OperatorCodes(op.OpcodeIndex())
                name = OPCODE_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
                if name == "CUSTOM":
                    name = "custom:" + code.CustomCode().decode()
                args = [values[op.Inputs(k)] if op.Inputs(k) >= 0 else None for k in range(op.InputsLength())]
                result = self._op(name, op, args)
                values[op.Outputs(0)] = result
        return {self._name(self.graph.Outputs(k)): values[self.graph.Outputs(k)].numpy()
                for k in range(self.graph.OutputsLength())}

    def _op(self, name: str, op, a):
        if name == "DEQUANTIZE":
            return a[0].to(torch.float64)
        if name == "CONV_2D":
            o = _options(op, tflite.Conv2DOptions)
            w = a[1].permute(0, 3, 1, 2)  # OHWI → OIHW
            groups = a[0].shape[3] // w.shape[1]
            strides, dilations = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
            x = _window(_nchw(a[0]), w.shape[2:], strides, dilations, o.Padding())
            y = F.conv2d(x, w, a[2] if len(a) > 2 else None, strides, 0, dilations, groups)
            return _activation(_nhwc(y), o.FusedActivationFunction())
        if name == "DEPTHWISE_CONV_2D":
            o = _options(op, tflite.DepthwiseConv2DOptions)
            w = a[1].permute(3, 0, 1, 2)  # [1,kH,kW,C·M] → [C·M,1,kH,kW]
            strides, dilations = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
            x = _window(_nchw(a[0]), w.shape[2:], strides, dilations, o.Padding())
            y = F.conv2d(x, w, a[2] if len(a) > 2 else None, strides, 0, dilations, a[0].shape[3])
            return _activation(_nhwc(y), o.FusedActivationFunction())
        if name == "custom:Convolution2DTransposeBias":
            padding, stride_w, stride_h = struct.unpack("<3i", op.CustomOptionsAsNumpy().tobytes()[:12])
            x, w, bias = a
            # Scatter: input (h, w) adds x·W[o, i, j, c] at (h·s − pad + i, w·s − pad + j).
            full = F.conv_transpose2d(_nchw(x), w.permute(3, 0, 1, 2), None, (stride_h, stride_w))
            sizes, starts = [], []
            for axis, (s, k) in enumerate(((stride_h, w.shape[1]), (stride_w, w.shape[2]))):
                size = x.shape[1 + axis]
                total = max(0, k - (size - 1) % s - 1) if padding == 1 else 0
                sizes.append(s * (size - 1) + k - total)
                starts.append(total // 2)
            y = full[:, :, starts[0]:starts[0] + sizes[0], starts[1]:starts[1] + sizes[1]]
            return _nhwc(y) + bias
        if name == "TRANSPOSE_CONV":
            o = _options(op, tflite.TransposeConvOptions)
            out_shape, w, x = [int(v) for v in a[0]], a[1], a[2]
            strides = (o.StrideH(), o.StrideW())
            full = F.conv_transpose2d(_nchw(x), w.permute(3, 0, 1, 2), None, strides)
            starts = []
            for axis in range(2):
                out, k, s = out_shape[1 + axis], w.shape[1 + axis], strides[axis]
                forward = -(-out // s) if o.Padding() == 0 else (out - k + s) // s
                starts.append(max((forward - 1) * s + k - out, 0) // 2)
            full = F.pad(full, (0, max(0, starts[1] + out_shape[2] - full.shape[3]),
                                0, max(0, starts[0] + out_shape[1] - full.shape[2])))
            y = _nhwc(full[:, :, starts[0]:starts[0] + out_shape[1], starts[1]:starts[1] + out_shape[2]])
            if len(a) > 3 and a[3] is not None:
                y = y + a[3]
            return _activation(y, o.FusedActivationFunction())
        if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            o = _options(op, tflite.Pool2DOptions)
            kernel, strides = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            x = _nchw(a[0])
            if name == "MAX_POOL_2D":
                if o.Padding() == 0:  # SAME: padding cells never win
                    top, bottom = _same_pads(x.shape[2], kernel[0], strides[0])
                    left, right = _same_pads(x.shape[3], kernel[1], strides[1])
                    x = F.pad(x, (left, right, top, bottom), value=-math.inf)
                y = F.max_pool2d(x, kernel, strides)
            else:
                ones = torch.ones_like(x[:, :1])
                total = F.avg_pool2d(_window(x, kernel, strides, (1, 1), o.Padding()), kernel, strides,
                                     divisor_override=1)
                count = F.avg_pool2d(_window(ones, kernel, strides, (1, 1), o.Padding()), kernel, strides,
                                     divisor_override=1)
                y = total / count
            return _activation(_nhwc(y), o.FusedActivationFunction())
        if name == "MEAN":
            o = _options(op, tflite.ReducerOptions)
            axes = [int(v) for v in a[1].reshape(-1)]
            return a[0].mean(dim=axes, keepdim=bool(o.KeepDims()) if o is not None else False)
        if name in ("ADD", "SUB", "MUL", "DIV"):
            cls = {"ADD": tflite.AddOptions, "SUB": tflite.SubOptions, "MUL": tflite.MulOptions,
                   "DIV": tflite.DivOptions}[name]
            o = _options(op, cls)
            y = {"ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul, "DIV": torch.div}[name](a[0], a[1])
            return _activation(y, o.FusedActivationFunction() if o is not None else 0)
        if name == "CONCATENATION":
            o = _options(op, tflite.ConcatenationOptions)
            return _activation(torch.cat(a, dim=o.Axis()), o.FusedActivationFunction())
        if name == "HARD_SWISH":
            return a[0] * torch.clamp(a[0] + 3, 0, 6) / 6
        if name == "LOGISTIC":
            return torch.sigmoid(a[0])
        if name == "TANH":
            return torch.tanh(a[0])
        if name in ("RELU", "RELU6", "RELU_N1_TO_1"):
            return _activation(a[0], {"RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}[name])
        if name == "RESIZE_BILINEAR":
            o = _options(op, tflite.ResizeBilinearOptions)
            align = bool(o.AlignCorners()) if o is not None else False
            half = bool(o.HalfPixelCenters()) if o is not None else False
            return _resize_bilinear(a[0], [int(v) for v in a[1]], align, half)
        if name == "RESHAPE":
            return a[0].reshape([int(d) for d in self.graph.Tensors(op.Outputs(0)).ShapeAsNumpy()])
        raise NotImplementedError(f"reference has no TFLite op {name}")
