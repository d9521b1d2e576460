"""Evaluates ONNX nodes whose inputs are all constants with NumPy (constant folding).

Exporters leave shape arithmetic in the graph (`Shape → Gather → Unsqueeze → Concat → Resize` for
`F.interpolate(size=x.shape[-2:])`); once every input shape is static it is all constant, and the
IR has no ops for it, so it must be evaluated here. Results keep the ONNX element type (int64 shape
arithmetic stays int64; integer division truncates toward zero as ONNX specifies).
"""
from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import ConversionError
from .shapes import resolve_reshape, slice_bounds


def tensor_to_array(tensor: onnx.TensorProto, what: str) -> np.ndarray:
    """A TensorProto's value, with its dims checked first: NumPy would reshape empty data to a
    negative dim as 0 (silently an empty array) and fail with a bare ValueError on missing data."""
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise ConversionError(f"{what} has a negative dimension in {dims}")
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError, OSError) as error:
        # missing or short data, an unknown data_type, unreadable external data
        raise ConversionError(f"{what}: cannot read its data of shape {dims} ({error})") from None
    if list(array.shape) != dims:
        raise ConversionError(f"{what}: data of shape {list(array.shape)} for dims {dims}")
    return array


def node_attributes(node: onnx.NodeProto) -> Dict[str, object]:
    """Attributes as Python values; strings decoded, tensors as NumPy arrays."""
    out = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, onnx.TensorProto):
            value = tensor_to_array(value, f"attribute '{attribute.name}' of node "
                                           f"'{node.name or node.op_type}'")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8") for v in value]
        out[attribute.name] = value
    return out


class FoldContext:
    """What an evaluator sees: the node, its attributes, its inputs (None when absent), opset."""

    def __init__(self, node: onnx.NodeProto, inputs: List[Optional[np.ndarray]], opset: int):
        self.node = node
        self.attrs = node_attributes(node)
        self.inputs = inputs
        self.opset = opset

    def input(self, i: int) -> Optional[np.ndarray]:
        return self.inputs[i] if i < len(self.inputs) else None

    def ints_from(self, attr: str, input_index: int, since_opset: int) -> Optional[List[int]]:
        """A list given as an attribute before `since_opset` and as an input from it on."""
        if self.opset < since_opset:
            value = self.attrs.get(attr)
        else:
            value = self.input(input_index)
        return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]


def _constant(c: FoldContext):
    a = c.attrs
    if "value" in a:
        return a["value"]
    if "value_float" in a:
        return np.array(a["value_float"], np.float32)
    if "value_floats" in a:
        return np.array(a["value_floats"], np.float32)
    if "value_int" in a:
        return np.array(a["value_int"], np.int64)
    if "value_ints" in a:
        return np.array(a["value_ints"], np.int64)
    raise ConversionError("Constant with a string or sparse value is not supported")


def _shape(c: FoldContext):
    shape = np.array(c.input(0).shape, np.int64)
    return shape[slice(c.attrs.get("start", 0), c.attrs.get("end", None))]


def normalize_axes(axes, rank: int) -> List[int]:
    return [int(a) + rank if int(a) < 0 else int(a) for a in axes]


def unsqueeze_shape(shape, axes) -> tuple:
    rank = len(shape) + len(axes)
    out = list(shape)
    for axis in sorted(normalize_axes(axes, rank)):
        out.insert(axis, 1)
    return tuple(out)


def squeeze_shape(shape, axes) -> tuple:
    if axes is None:
        return tuple(d for d in shape if d != 1)
    axes = normalize_axes(axes, len(shape))
    for axis in axes:
        if shape[axis] != 1:
            raise ConversionError(f"Squeeze of axis {axis} with size {shape[axis]}")
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def slice_parameters(c: FoldContext, rank: int):
    """(starts, ends, axes, steps) of a Slice node from attributes (opset < 10) or inputs."""
    if c.opset < 10:
        starts, ends = list(c.attrs["starts"]), list(c.attrs["ends"])
        axes = c.attrs.get("axes")
        steps = None
    else:
        starts = [int(v) for v in c.input(1).reshape(-1)]
        ends = [int(v) for v in c.input(2).reshape(-1)]
        axes = None if c.input(3) is None else [int(v) for v in c.input(3).reshape(-1)]
        steps = None if c.input(4) is None else [int(v) for v in c.input(4).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else normalize_axes(axes, rank)
    steps = [1] * len(starts) if steps is None else steps
    return starts, ends, axes, steps


def _slice(c: FoldContext):
    x = c.input(0)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(*slice_parameters(c, x.ndim)):
        index[axis] = slice_bounds(x.shape[axis], start, end, step)
    return x[tuple(index)]


def _div(c: FoldContext):
    a, b = c.input(0), c.input(1)
    if np.issubdtype(a.dtype, np.integer):
        quotient = np.abs(a) // np.abs(b)
        return (quotient * np.sign(a) * np.sign(b)).astype(a.dtype)
    return (a / b).astype(a.dtype)


def _typed(fn: Callable) -> Callable:
    """Arithmetic whose result keeps the first input's dtype (as ONNX requires)."""
    return lambda c: np.asarray(fn(*[x for x in c.inputs if x is not None])).astype(c.input(0).dtype)


def _reduce(fn: Callable, axes_input_since: int) -> Callable:
    def evaluate(c: FoldContext):
        x = c.input(0)
        axes = c.ints_from("axes", 1, axes_input_since)
        if not axes:
            if c.attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.ndim))
        keep = bool(c.attrs.get("keepdims", 1))
        return np.asarray(fn(x, axis=tuple(normalize_axes(axes, x.ndim)), keepdims=keep)).astype(x.dtype)
    return evaluate


def _split(c: FoldContext):
    x = c.input(0)
    axis = c.attrs.get("axis", 0) % x.ndim
    sizes = c.ints_from("split", 1, 13)
    if not sizes:
        parts = len(c.node.output)
        size = -(-x.shape[axis] // parts)
        sizes = [min(size, x.shape[axis] - i * size) for i in range(parts)]
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _cast(c: FoldContext):
    return c.input(0).astype(helper.tensor_dtype_to_np_dtype(c.attrs["to"]))


def _constant_of_shape(c: FoldContext):
    value = c.attrs.get("value", np.zeros(1, np.float32)).reshape(-1)
    return np.full(tuple(int(d) for d in c.input(0)), value[0], value.dtype)


def _range(c: FoldContext):
    start, limit, delta = (x.reshape(()) for x in c.inputs[:3])
    return np.arange(start, limit, delta).astype(c.input(0).dtype)


def _gather(c: FoldContext):
    data, indices = c.input(0), c.input(1).astype(np.int64)
    axis = c.attrs.get("axis", 0) % data.ndim
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    return np.take(data, indices, axis=axis)


def _clip(c: FoldContext):
    x = c.input(0)
    low = c.attrs.get("min") if c.opset < 11 else c.input(1)
    high = c.attrs.get("max") if c.opset < 11 else c.input(2)
    if low is not None:
        x = np.maximum(x, np.asarray(low, x.dtype))
    if high is not None:
        x = np.minimum(x, np.asarray(high, x.dtype))
    return x


def _expand(c: FoldContext):
    x = c.input(0)
    shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in c.input(1)))
    return np.broadcast_to(x, shape).copy()


# Ops whose output depends only on the input's shape (known statically), so they become constants
# even where the input is computed at run time.
SHAPE_ONLY = ("Shape", "Size", "EyeLike")


def eye_like(shape, dtype: np.dtype, attrs: dict) -> np.ndarray:
    """EyeLike: ones on diagonal k of a 2-D tensor of `shape`, in `dtype` unless the attribute
    says otherwise (timm's bottleneck attention builds its relative-position masks with it)."""
    if len(shape) != 2:
        raise ConversionError(f"EyeLike needs a 2-D input, not shape {list(shape)}")
    if "dtype" in attrs:
        dtype = helper.tensor_dtype_to_np_dtype(attrs["dtype"])
    return np.eye(shape[0], shape[1], k=int(attrs.get("k", 0)), dtype=dtype)


def _scatter_nd(c: FoldContext):
    """ScatterND of constants (torchvision's Swin builds its shifted-window mask by slice
    assignment, which exports as ScatterND)."""
    data, indices, updates = c.input(0).copy(), c.input(1).astype(np.int64), c.input(2)
    depth = indices.shape[-1]
    where = tuple(indices.reshape(-1, depth).T)
    updates = updates.reshape((-1,) + data.shape[depth:])
    reduction = c.attrs.get("reduction", "none")
    if reduction == "none":
        data[where] = updates
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]
        ufunc.at(data, where, updates)
    return data


def _batch_norm(c: FoldContext):
    """BatchNormalization of a constant. In training mode (training_mode=1 from opset 14; extra
    outputs before it) it normalizes with the input's own statistics over every axis but 1: timm's
    weight-standardized convolutions (StdConv2d) export that on their weights. Computed in float64."""
    x, scale, bias, mean, var = (c.input(i).astype(np.float64) for i in range(5))
    epsilon, momentum = c.attrs.get("epsilon", 1e-5), c.attrs.get("momentum", 0.9)
    training = c.attrs.get("training_mode", 0) if c.opset >= 14 else len(c.node.output) > 1
    channel = [-1 if axis == 1 else 1 for axis in range(x.ndim)]
    if training:
        axes = tuple(axis for axis in range(x.ndim) if axis != 1)
        batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
    else:
        batch_mean, batch_var = mean, var
    y = (x - batch_mean.reshape(channel)) / np.sqrt(batch_var.reshape(channel) + epsilon) \
        * scale.reshape(channel) + bias.reshape(channel)
    results = [y.astype(c.input(0).dtype)]
    if training:
        results += [(mean * momentum + batch_mean * (1 - momentum)).astype(c.input(3).dtype),
                    (var * momentum + batch_var * (1 - momentum)).astype(c.input(4).dtype)]
    return results


EVALUATORS: Dict[str, Callable[[FoldContext], object]] = {
    "BatchNormalization": _batch_norm,
    "EyeLike": lambda c: eye_like(c.input(0).shape, c.input(0).dtype, c.attrs),
    "ScatterND": _scatter_nd,
    "Constant": _constant,
    "Identity": lambda c: c.input(0),
    "Dropout": lambda c: c.input(0),
    "Shape": _shape,
    "Size": lambda c: np.array(c.input(0).size, np.int64),
    "Gather": _gather,
    "Unsqueeze": lambda c: c.input(0).reshape(unsqueeze_shape(c.input(0).shape, c.ints_from("axes", 1, 13))),
    "Squeeze": lambda c: c.input(0).reshape(squeeze_shape(c.input(0).shape, c.ints_from("axes", 1, 13))),
    "Concat": lambda c: np.concatenate([x for x in c.inputs if x is not None], axis=c.attrs["axis"]),
    "Slice": _slice,
    "Cast": _cast,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Reshape": lambda c: c.input(0).reshape(resolve_reshape(
        c.input(0).shape, [int(d) for d in (c.input(1) if c.opset >= 5 else c.attrs["shape"])],
        bool(c.attrs.get("allowzero", 0)))),
    "Flatten": lambda c: c.input(0).reshape(
        int(np.prod(c.input(0).shape[:c.attrs.get("axis", 1)])), -1),
    "Transpose": lambda c: np.transpose(c.input(0), c.attrs.get("perm")),
    "Expand": _expand,
    "Tile": lambda c: np.tile(c.input(0), [int(r) for r in c.input(1)]),
    "Split": _split,
    "Where": lambda c: np.where(c.input(0), c.input(1), c.input(2)),
    "Add": _typed(np.add), "Sub": _typed(np.subtract), "Mul": _typed(np.multiply), "Div": _div,
    "Pow": _typed(np.power), "Min": _typed(lambda *xs: functools.reduce(np.minimum, xs)),
    "Max": _typed(lambda *xs: functools.reduce(np.maximum, xs)),
    "Mod": lambda c: (np.fmod if c.attrs.get("fmod", 0) else np.mod)(c.input(0), c.input(1)),
    "Neg": _typed(np.negative), "Abs": _typed(np.abs), "Floor": _typed(np.floor),
    "Ceil": _typed(np.ceil), "Round": _typed(np.round), "Sqrt": _typed(np.sqrt),
    "Reciprocal": _typed(np.reciprocal), "Exp": _typed(np.exp), "Log": _typed(np.log),
    "Sign": _typed(np.sign), "Relu": _typed(lambda x: np.maximum(x, 0)),
    "Sigmoid": _typed(lambda x: 1 / (1 + np.exp(-x))), "Tanh": _typed(np.tanh),
    "Clip": _clip, "MatMul": _typed(np.matmul),
    "Equal": lambda c: np.equal(c.input(0), c.input(1)),
    "Less": lambda c: np.less(c.input(0), c.input(1)),
    "LessOrEqual": lambda c: np.less_equal(c.input(0), c.input(1)),
    "Greater": lambda c: np.greater(c.input(0), c.input(1)),
    "GreaterOrEqual": lambda c: np.greater_equal(c.input(0), c.input(1)),
    "Not": lambda c: np.logical_not(c.input(0)),
    "And": lambda c: np.logical_and(c.input(0), c.input(1)),
    "Or": lambda c: np.logical_or(c.input(0), c.input(1)),
    "ReduceSum": _reduce(np.sum, 13), "ReduceProd": _reduce(np.prod, 18),
    "ReduceMean": _reduce(np.mean, 18), "ReduceMin": _reduce(np.min, 18),
    "ReduceMax": _reduce(np.max, 18),
}


def evaluate(node: onnx.NodeProto, inputs: List[Optional[np.ndarray]], opset: int) -> List[np.ndarray]:
    """Folds one node; returns one array per output. Raises ConversionError on bad input."""
    context = FoldContext(node, inputs, opset)
    try:
        result = EVALUATORS[node.op_type](context)
    except ConversionError:
        raise
    except Exception as error:  # NumPy's message says what did not fit
        raise ConversionError(f"cannot fold {node.op_type} node '{node.name}' on constants: "
                              f"{error}") from None
    results = result if isinstance(result, list) else [result]
    return [np.asarray(r) for r in results]
