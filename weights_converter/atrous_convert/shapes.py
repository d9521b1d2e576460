"""Shape rules of the IR ops (docs/OPS.md), used by the converter to know every tensor's static
shape: ONNX `Shape` nodes fold to constants from these, and the file records them. The runtime
checks every recorded shape against its own C++ rules when it loads a file and refuses a mismatch
(docs/FORMAT.md), so a rule here that drifts from docs/OPS.md is caught on the first model it touches.

Every graph input has a fully known shape, so every shape here is fully known as well.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import ConversionError
from .writer import Attr

Shape = Tuple[int, ...]


def get(attributes: Dict[str, Attr], key: str, default):
    attr = attributes.get(key)
    return default if attr is None else attr.value


def broadcast(a: Shape, b: Shape) -> Shape:
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ConversionError(f"shapes {a} and {b} do not broadcast") from None


def _window_output(size, kernel, stride, dilation, pad_begin, pad_end, ceil_mode=False) -> int:
    span = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_begin:  # the last window must start inside
            out -= 1
    else:
        out = span // stride + 1
    if out < 1:
        raise ConversionError(f"window (kernel {kernel}, stride {stride}, dilation {dilation}) "
                              f"does not fit an input of size {size} with pads {pad_begin},{pad_end}")
    return out


def spatial_output(in_hw, kernel, attributes) -> Tuple[int, int]:
    strides = get(attributes, "strides", [1, 1])
    dilations = get(attributes, "dilations", [1, 1])
    pads = get(attributes, "pads", [0, 0, 0, 0])
    auto_pad = get(attributes, "auto_pad", "explicit")
    ceil_mode = bool(get(attributes, "ceil_mode", 0))
    out = []
    for axis in range(2):
        size, k, s, d = in_hw[axis], kernel[axis], strides[axis], dilations[axis]
        if auto_pad in ("same_upper", "same_lower"):
            out.append(-(-size // s))
        elif auto_pad == "valid":
            out.append(_window_output(size, k, s, d, 0, 0, ceil_mode))
        else:
            out.append(_window_output(size, k, s, d, pads[axis], pads[axis + 2], ceil_mode))
    return tuple(out)


def _conv(a, shapes):
    x, w = shapes[0], shapes[1]
    if len(x) != 4 or len(w) != 4:
        raise ConversionError(f"conv needs rank-4 input and weights, got {x} and {w}")
    group = get(a, "group", 1)
    if x[1] != w[1] * group or w[0] % group:
        raise ConversionError(f"conv: input channels {x[1]}, weights {w}, group {group} disagree")
    return [(x[0], w[0]) + spatial_output(x[2:], w[2:], a)]


def _conv_transpose(a, shapes):
    x, w = shapes[0], shapes[1]
    if len(x) != 4 or len(w) != 4:
        raise ConversionError(f"conv_transpose needs rank-4 input and weights, got {x} and {w}")
    group = get(a, "group", 1)
    if x[1] != w[0] or x[1] % group:
        raise ConversionError(f"conv_transpose: input channels {x[1]}, weights {w}, group {group} disagree")
    strides = get(a, "strides", [1, 1])
    dilations = get(a, "dilations", [1, 1])
    pads = get(a, "pads", [0, 0, 0, 0])
    output_padding = get(a, "output_padding", [0, 0])
    out = []
    for axis in range(2):
        s, d, p = strides[axis], dilations[axis], output_padding[axis]
        if s < 1 or d < 1 or min(pads) < 0 or not 0 <= p < max(s, d):
            raise ConversionError(f"conv_transpose: invalid strides {strides}, dilations {dilations}, "
                                  f"pads {pads} or output_padding {output_padding}")
        size = ((x[2 + axis] - 1) * s - pads[axis] - pads[axis + 2] + d * (w[2 + axis] - 1) + p + 1)
        if size < 1:
            raise ConversionError(f"conv_transpose: output size {size} < 1")
        out.append(size)
    return [(x[0], w[1] * group) + tuple(out)]


def _pool(a, shapes):
    x = shapes[0]
    if len(x) != 4:
        raise ConversionError(f"pooling needs a rank-4 input, got {x}")
    return [x[:2] + spatial_output(x[2:], get(a, "kernel_shape", None), a)]


def _concat(a, shapes):
    rank = len(shapes[0])
    axis = get(a, "axis", 0) % rank
    total = 0
    for s in shapes:
        if len(s) != rank or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise ConversionError(f"concat: shapes {shapes} do not match outside axis {axis}")
        total += s[axis]
    return [shapes[0][:axis] + (total,) + shapes[0][axis + 1:]]


def resolve_reshape(in_shape: Shape, target: Sequence[int], allow_zero: bool = False) -> Shape:
    """ONNX Reshape: 0 copies the input dim (unless allow_zero), one -1 is inferred."""
    out = [in_shape[i] if (d == 0 and not allow_zero) else d for i, d in enumerate(target)]
    count = math.prod(in_shape)
    if out.count(-1) > 1:
        raise ConversionError(f"reshape target {list(target)} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or count % known:
            raise ConversionError(f"cannot reshape {in_shape} to {list(target)}")
        out[out.index(-1)] = count // known
    if math.prod(out) != count:
        raise ConversionError(f"cannot reshape {in_shape} to {list(target)}")
    return tuple(out)


def slice_bounds(dim: int, start: int, end: int, step: int) -> slice:
    """ONNX Slice clamping for one axis as a Python slice."""
    if step == 0:
        raise ConversionError("slice step 0")
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return slice(start, end, step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


def _slice(a, shapes):
    x = list(shapes[0])
    starts, ends = get(a, "starts", None), get(a, "ends", None)
    axes = get(a, "axes", list(range(len(starts))))
    steps = get(a, "steps", [1] * len(starts))
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= len(x)
        x[axis] = len(range(*slice_bounds(x[axis], start, end, step).indices(x[axis])))
    return [tuple(x)]


def _pad(a, shapes):
    x = shapes[0]
    pads = get(a, "pads", None)
    if len(pads) != 2 * len(x):
        raise ConversionError(f"pad: {len(pads)} pads for rank {len(x)}")
    return [tuple(d + pads[i] + pads[i + len(x)] for i, d in enumerate(x))]


def _reduce(a, shapes, keep_default=1):
    x = shapes[0]
    axes = [ax % len(x) for ax in get(a, "axes", list(range(len(x))))]
    keep = get(a, "keepdims", keep_default)
    if keep:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _gemm(a, shapes):
    sa, sb = shapes[0], shapes[1]
    m, k = (sa[1], sa[0]) if get(a, "trans_a", 0) else sa
    k2, n = (sb[1], sb[0]) if get(a, "trans_b", 0) else sb
    if k != k2:
        raise ConversionError(f"gemm: inner dims of {sa} and {sb} differ")
    return [(m, n)]


def _matmul(a, shapes):
    sa, sb = tuple(shapes[0]), tuple(shapes[1])
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    if a2[-1] != b2[-2]:
        raise ConversionError(f"matmul: inner dims of {sa} and {sb} differ")
    out = broadcast(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(sa) == 1:
        out = out[:-2] + out[-1:]
    if len(sb) == 1:
        out = out[:-1]
    return [out]


def _depth_to_space(a, shapes):
    n, c, h, w = shapes[0]
    b = get(a, "blocksize", None)
    return [(n, c // (b * b), h * b, w * b)]


def _space_to_depth(a, shapes):
    n, c, h, w = shapes[0]
    b = get(a, "blocksize", None)
    return [(n, c * b * b, h // b, w // b)]


def _transpose(a, shapes):
    x = shapes[0]
    perm = get(a, "perm", list(reversed(range(len(x)))))
    return [tuple(x[p] for p in perm)]


def _flatten(a, shapes):
    x = shapes[0]
    axis = get(a, "axis", 1)
    return [(math.prod(x[:axis]), math.prod(x[axis:]))]


def _argmax(a, shapes):
    x = shapes[0]
    axis = get(a, "axis", 0) % len(x)
    if get(a, "keepdims", 1):
        return [x[:axis] + (1,) + x[axis + 1:]]
    return [x[:axis] + x[axis + 1:]]


_SAME = lambda a, shapes: [tuple(shapes[0])]  # noqa: E731

UNARY_OPS = ("leaky_relu", "elu", "selu", "gelu", "erf", "sqrt", "exp", "log", "abs", "neg",
             "reciprocal", "softplus", "softsign", "mish", "celu", "thresholded_relu")


def _prelu(a, shapes):
    if broadcast(shapes[0], shapes[1]) != tuple(shapes[0]):
        raise ConversionError(f"prelu: slope {tuple(shapes[1])} does not broadcast to X {tuple(shapes[0])}")
    return [tuple(shapes[0])]

_RULES = {
    "conv": _conv, "conv_transpose": _conv_transpose, "batch_norm": _SAME, "relu": _SAME,
    "clip": _SAME, "hard_swish": _SAME,
    "hard_sigmoid": _SAME, "sigmoid": _SAME, "tanh": _SAME, "softmax": _SAME,
    "add": lambda a, s: [broadcast(s[0], s[1])], "sub": lambda a, s: [broadcast(s[0], s[1])],
    "mul": lambda a, s: [broadcast(s[0], s[1])], "div": lambda a, s: [broadcast(s[0], s[1])],
    "concat": _concat,
    "reshape": lambda a, s: [resolve_reshape(s[0], get(a, "shape", None))],
    "flatten": _flatten, "transpose": _transpose, "pad": _pad, "slice": _slice,
    "depth_to_space": _depth_to_space, "space_to_depth": _space_to_depth,
    "global_average_pool": lambda a, s: [tuple(s[0][:2]) + (1, 1)],
    "reduce_mean": _reduce, "average_pool": _pool, "max_pool": _pool, "argmax": _argmax,
    "resize": lambda a, s: [tuple(s[0][:2]) + tuple(get(a, "sizes", None))],
    "gemm": _gemm, "matmul": _matmul,
    "pow": lambda a, s: [broadcast(s[0], s[1])], "min": lambda a, s: [broadcast(s[0], s[1])],
    "max": lambda a, s: [broadcast(s[0], s[1])], "prelu": _prelu,
    "expand": lambda a, s: [broadcast(s[0], get(a, "shape", None))],
    "reduce_max": _reduce, "reduce_min": _reduce, "reduce_sum": _reduce, "reduce_prod": _reduce,
    "reduce_l2": _reduce, "normalize": _SAME,
}
_RULES.update({op: _SAME for op in UNARY_OPS})
COMPARISONS = ("equal", "less", "greater", "less_or_equal", "greater_or_equal",
               "logical_and", "logical_or", "logical_xor")
_RULES.update({op: lambda a, s: [broadcast(s[0], s[1])] for op in COMPARISONS})
_RULES["logical_not"] = _SAME
_RULES["where"] = lambda a, s: [broadcast(broadcast(s[0], s[1]), s[2])]
_RULES["cast"] = _SAME

_OUTPUT_DTYPES = {"argmax": "int32", "logical_not": "uint8", **{op: "uint8" for op in COMPARISONS}}

IR_OPS = frozenset(_RULES)


def infer(op: str, attributes: Dict[str, Attr], shapes: List[Optional[Shape]]) -> List[Tuple[str, Shape]]:
    """Returns (dtype, shape) of each output of an IR node; inputs that are absent are None."""
    present = [tuple(s) for s in shapes if s is not None]
    out = _RULES[op](attributes, present)
    dtype = get(attributes, "to", "float32") if op == "cast" else _OUTPUT_DTYPES.get(op, "float32")
    return [(dtype, tuple(int(d) for d in s)) for s in out]
