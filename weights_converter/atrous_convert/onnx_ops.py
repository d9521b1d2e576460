"""ONNX op → IR op mappings (docs/OPS.md). One function per ONNX op family.

Each mapping reads the ONNX attributes with their opset-dependent defaults, takes parameters that
ONNX passes as inputs (Clip bounds, Pad pads, Resize sizes/scales, Slice starts/ends, axes from
opset 13/18) from constants, and emits IR nodes through the Importer (onnx_import.py). What the IR
cannot express exactly is an error naming the node, never a silent approximation.
"""
from __future__ import annotations

import math

import numpy as np

from .folding import normalize_axes, slice_parameters, squeeze_shape, unsqueeze_shape, FoldContext
from .shapes import resolve_reshape
from .writer import attr_float, attr_floats, attr_int, attr_ints, attr_string

_AUTO_PAD = {"NOTSET": "explicit", "SAME_UPPER": "same_upper", "SAME_LOWER": "same_lower",
             "VALID": "valid"}


def _window_attributes(ctx, node, kernel_rank=2):
    """strides/dilations/pads/auto_pad shared by Conv and the pools."""
    a = ctx.attrs(node)
    auto_pad = a.get("auto_pad", "NOTSET")
    if auto_pad not in _AUTO_PAD:
        raise ctx.fail(node, f"unknown auto_pad '{auto_pad}'")
    out = {"strides": attr_ints(a.get("strides", [1] * kernel_rank)),
           "auto_pad": attr_string(_AUTO_PAD[auto_pad])}
    pads = a.get("pads", [0] * 2 * kernel_rank)
    if len(out["strides"].value) != kernel_rank or len(pads) != 2 * kernel_rank:
        raise ctx.fail(node, "only 2-D windows (rank-4 input) are supported")
    if auto_pad == "NOTSET":
        out["pads"] = attr_ints(pads)
    return out


def conv(ctx, node):
    a = ctx.attrs(node)
    ctx.float_input(node, 0, rank=4)
    w_shape = ctx.shape(node, 1)
    if len(w_shape) != 4:
        raise ctx.fail(node, f"weights of shape {list(w_shape)}; only 2-D convolution is supported")
    if "kernel_shape" in a and list(a["kernel_shape"]) != list(w_shape[2:]):
        raise ctx.fail(node, f"kernel_shape {a['kernel_shape']} disagrees with weights {list(w_shape)}")
    attributes = _window_attributes(ctx, node)
    attributes["dilations"] = attr_ints(a.get("dilations", [1, 1]))
    attributes["group"] = attr_int(a.get("group", 1))
    ctx.emit(node, "conv", [ctx.tensor(node, i) for i in range(min(3, len(node.input)))], attributes)


def pool(ctx, node):
    a = ctx.attrs(node)
    ctx.float_input(node, 0, rank=4)
    if "kernel_shape" not in a or len(a["kernel_shape"]) != 2:
        raise ctx.fail(node, "needs a 2-D kernel_shape")
    attributes = _window_attributes(ctx, node)
    attributes["kernel_shape"] = attr_ints(a["kernel_shape"])
    attributes["ceil_mode"] = attr_int(a.get("ceil_mode", 0))
    dilations = a.get("dilations", [1, 1])
    if node.op_type == "AveragePool":
        attributes["count_include_pad"] = attr_int(a.get("count_include_pad", 0))
        if list(dilations) != [1, 1]:
            raise ctx.fail(node, "average pooling with dilations is not supported")
        op = "average_pool"
    else:
        attributes["dilations"] = attr_ints(dilations)
        op = "max_pool"
    ctx.emit(node, op, [ctx.tensor(node, 0)], attributes)


def unary(ir_op):
    def mapping(ctx, node):
        ctx.float_input(node, 0)
        ctx.emit(node, ir_op, [ctx.tensor(node, 0)], {})
    return mapping


def hard_sigmoid(ctx, node):
    a = ctx.attrs(node)
    ctx.float_input(node, 0)
    ctx.emit(node, "hard_sigmoid", [ctx.tensor(node, 0)],
             {"alpha": attr_float(a.get("alpha", 0.2)), "beta": attr_float(a.get("beta", 0.5))})


def clip(ctx, node):
    a = ctx.attrs(node)
    ctx.float_input(node, 0)
    if ctx.opset < 11:
        low, high = a.get("min"), a.get("max")
    else:
        low, high = ctx.constant(node, 1, "min"), ctx.constant(node, 2, "max")
    attributes = {}
    for key, bound in (("min", low), ("max", high)):
        if bound is not None:
            attributes[key] = attr_float(np.asarray(bound).reshape(()))
    ctx.emit(node, "clip", [ctx.tensor(node, 0)], attributes)


def binary(ir_op):
    def mapping(ctx, node):
        if "axis" in ctx.attrs(node):  # opset < 7 broadcasting along an axis: not NumPy rules
            raise ctx.fail(node, "legacy broadcast with 'axis' is not supported")
        ctx.float_input(node, 0)
        ctx.float_input(node, 1)
        ctx.emit(node, ir_op, [ctx.tensor(node, 0), ctx.tensor(node, 1)], {})
    return mapping


def concat(ctx, node):
    for i in range(len(node.input)):
        ctx.float_input(node, i)
    rank = len(ctx.shape(node, 0))
    axis = ctx.attrs(node)["axis"]
    ctx.emit(node, "concat", [ctx.tensor(node, i) for i in range(len(node.input))],
             {"axis": attr_int(axis + rank if axis < 0 else axis)})


def global_average_pool(ctx, node):
    ctx.float_input(node, 0, rank=4)
    ctx.emit(node, "global_average_pool", [ctx.tensor(node, 0)], {})


def batch_norm(ctx, node):
    a = ctx.attrs(node)
    if a.get("training_mode", 0):
        raise ctx.fail(node, "training_mode=1 (batch statistics) cannot run at inference")
    if a.get("spatial", 1) != 1:
        raise ctx.fail(node, "spatial=0 (per-activation statistics) is not supported")
    if len(ctx.float_input(node, 0)) < 2:
        raise ctx.fail(node, "input must have a channel axis")
    ctx.emit(node, "batch_norm", [ctx.tensor(node, i) for i in range(5)],
             {"epsilon": attr_float(a.get("epsilon", 1e-5))})


def softmax(ctx, node):
    shape = ctx.float_input(node, 0)
    rank = len(shape)
    axis = ctx.attrs(node).get("axis", -1 if ctx.opset >= 13 else 1)
    axis = axis + rank if axis < 0 else axis
    if ctx.opset >= 13 or axis == rank - 1 or all(d == 1 for d in shape[axis + 1:]):
        ctx.emit(node, "softmax", [ctx.tensor(node, 0)], {"axis": attr_int(axis)})
        return
    # Before opset 13 the input is seen as 2-D [prod(dims < axis), prod(dims >= axis)]: softmax
    # over all of the trailing dims at once, which the IR spells flatten → softmax → reshape.
    flat = ctx.emit(node, "flatten", [ctx.tensor(node, 0)], {"axis": attr_int(axis)}, bind=False)
    soft = ctx.emit(node, "softmax", flat, {"axis": attr_int(1)}, bind=False)
    ctx.emit(node, "reshape", soft, {"shape": attr_ints(shape)})


def argmax(ctx, node):
    a = ctx.attrs(node)
    rank = len(ctx.float_input(node, 0))
    axis = a.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    attributes = {"axis": attr_int(axis), "keepdims": attr_int(a.get("keepdims", 1))}
    if not a.get("select_last_index", 0):
        ctx.emit(node, "argmax", [ctx.tensor(node, 0)], attributes)
        return
    # The last maximum is the first one of the reversed axis, counted from the end: dim − 1 − k,
    # computed in float32 (exact for dims up to 2^24) and cast back to int32.
    dim = ctx.shape(node, 0)[axis] if 0 <= axis < rank else 0
    if not 1 <= dim <= 1 << 24:
        raise ctx.fail(node, f"select_last_index=1 over an axis of {dim} entries (1 to 2^24 are supported)")
    limit = (1 << 63) - 1
    reversed_ = ctx.emit(node, "slice", [ctx.tensor(node, 0)],
                         {"starts": attr_ints([-1]), "ends": attr_ints([-limit]), "axes": attr_ints([axis]),
                          "steps": attr_ints([-1])}, bind=False)
    first = ctx.emit(node, "argmax", reversed_, attributes, bind=False)
    as_float = ctx.emit(node, "cast", first, {"to": attr_string("float32")}, bind=False)[0]
    last = ctx.constant_tensor(f"{node.output[0]}/last_index", np.array(dim - 1, np.float32))
    counted = ctx.emit(node, "sub", [last, as_float], {}, bind=False)
    ctx.emit(node, "cast", counted, {"to": attr_string("int32")})


def pad(ctx, node):
    a = ctx.attrs(node)
    rank = len(ctx.float_input(node, 0))
    mode = a.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise ctx.fail(node, f"pad mode '{mode}' is not supported")
    if ctx.opset < 11:
        pads, value = list(a.get("pads", a.get("paddings", []))), a.get("value", 0.0)
    else:
        pads = [int(p) for p in ctx.constant(node, 1, "pads").reshape(-1)]
        value = ctx.constant(node, 2, "constant_value")
        value = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
        axes = ctx.constant(node, 3, "axes")
        if axes is not None:  # opset 18: pads only for the listed axes
            axes = normalize_axes(axes.reshape(-1), rank)
            full = [0] * (2 * rank)
            for k, axis in enumerate(axes):
                full[axis], full[axis + rank] = pads[k], pads[k + len(axes)]
            pads = full
    if len(pads) != 2 * rank:
        raise ctx.fail(node, f"{len(pads)} pads for an input of rank {rank}")
    ctx.emit(node, "pad", [ctx.tensor(node, 0)],
             {"pads": attr_ints(pads), "mode": attr_string(mode), "value": attr_float(value)})


def reshape_to(ctx, node, shape):
    ctx.emit(node, "reshape", [ctx.tensor(node, 0)], {"shape": attr_ints(shape)})


def reshape(ctx, node):
    a = ctx.attrs(node)
    target = a["shape"] if ctx.opset < 5 else ctx.constant(node, 1, "shape").reshape(-1)
    in_shape = ctx.shape(node, 0)
    try:
        shape = resolve_reshape(in_shape, [int(d) for d in target], bool(a.get("allowzero", 0)))
    except Exception as error:
        raise ctx.fail(node, str(error)) from None
    if 0 in shape:
        raise ctx.fail(node, f"an empty output {list(shape)}: the IR reshape reads 0 as 'copy the input dim'")
    reshape_to(ctx, node, shape)


def squeeze_unsqueeze(ctx, node):
    context = FoldContext(node, [None, ctx.constant(node, 1, "axes")], ctx.opset)
    axes = context.ints_from("axes", 1, 13)
    in_shape = ctx.shape(node, 0)
    try:
        if node.op_type == "Squeeze":
            shape = squeeze_shape(in_shape, axes)
        else:
            shape = unsqueeze_shape(in_shape, axes)
    except Exception as error:
        raise ctx.fail(node, str(error)) from None
    reshape_to(ctx, node, shape)


def flatten(ctx, node):
    rank = len(ctx.shape(node, 0))
    axis = ctx.attrs(node).get("axis", 1)
    ctx.emit(node, "flatten", [ctx.tensor(node, 0)], {"axis": attr_int(axis + rank if axis < 0 else axis)})


def transpose(ctx, node):
    rank = len(ctx.shape(node, 0))
    perm = ctx.attrs(node).get("perm", list(reversed(range(rank))))
    ctx.emit(node, "transpose", [ctx.tensor(node, 0)], {"perm": attr_ints(perm)})


def slice_(ctx, node):
    rank = len(ctx.shape(node, 0))
    inputs = [None] + [ctx.constant(node, i, "slice parameter") for i in range(1, len(node.input))]
    starts, ends, axes, steps = slice_parameters(FoldContext(node, inputs, ctx.opset), rank)
    limit = (1 << 63) - 1
    clamp = lambda v: max(min(int(v), limit), -limit)  # noqa: E731 (INT64_MAX sentinels)
    ctx.emit(node, "slice", [ctx.tensor(node, 0)],
             {"starts": attr_ints(map(clamp, starts)), "ends": attr_ints(map(clamp, ends)),
              "axes": attr_ints(axes), "steps": attr_ints(steps)})


def gemm(ctx, node):
    a = ctx.attrs(node)
    if len(ctx.shape(node, 0)) != 2 or len(ctx.shape(node, 1)) != 2:
        raise ctx.fail(node, "Gemm needs rank-2 A and B")
    ctx.emit(node, "gemm", [ctx.tensor(node, i) for i in range(len(node.input))],
             {"alpha": attr_float(a.get("alpha", 1.0)), "beta": attr_float(a.get("beta", 1.0)),
              "trans_a": attr_int(a.get("transA", 0)), "trans_b": attr_int(a.get("transB", 0))})


def matmul(ctx, node):
    ctx.float_input(node, 0)
    ctx.float_input(node, 1)
    ctx.emit(node, "matmul", [ctx.tensor(node, 0), ctx.tensor(node, 1)], {})


def einsum(ctx, node):
    """Einsum with one operand that it permutes, or two operands without repeated or ellipsis
    indices (the batched products of attention layers, e.g. torchvision's MaxViT): transpose each
    operand to [batch, free, contracted] / [batch, contracted, free], reshape to one matrix per
    batch entry, `matmul`, reshape and transpose to the output's order."""
    equation = ctx.attrs(node)["equation"].replace(" ", "")
    if "." in equation:
        raise ctx.fail(node, f"equation '{equation}': ellipsis is not supported")
    terms, _, out = equation.partition("->")
    terms = terms.split(",")
    if "->" not in equation:  # implicit output: the indices seen once, alphabetically
        out = "".join(sorted(c for c in set("".join(terms)) if "".join(terms).count(c) == 1))
    if len(terms) != len(node.input) or len(terms) not in (1, 2):
        raise ctx.fail(node, f"equation '{equation}': one or two operands are supported")
    dims = {}
    for i, term in enumerate(terms):
        shape = ctx.float_input(node, i)
        if len(term) != len(shape) or len(set(term)) != len(term):
            raise ctx.fail(node, f"equation '{equation}': term '{term}' for shape {list(shape)} "
                                 "(repeated indices are not supported)")
        for c, d in zip(term, shape):
            if dims.setdefault(c, d) != d:
                raise ctx.fail(node, f"equation '{equation}': index '{c}' is {dims[c]} and {d}")
    if len(set(out)) != len(out) or any(c not in dims for c in out):
        raise ctx.fail(node, f"equation '{equation}': bad output term '{out}'")

    def permuted(index, term, order, bind=False):
        if list(term) == list(order):
            return index
        perm = [term.index(c) for c in order]
        return ctx.emit(node, "transpose", [index], {"perm": attr_ints(perm)}, bind=bind)[0]

    def reshaped(index, shape, bind=False):
        return ctx.emit(node, "reshape", [index], {"shape": attr_ints(shape)}, bind=bind)[0]

    if len(terms) == 1:
        if sorted(terms[0]) != sorted(out):
            raise ctx.fail(node, f"equation '{equation}': a one-operand Einsum must be a permutation")
        perm = [terms[0].index(c) for c in out]
        ctx.emit(node, "transpose", [ctx.tensor(node, 0)], {"perm": attr_ints(perm)})
        return
    a, b = terms
    batch = [c for c in a if c in b and c in out]
    contracted = [c for c in a if c in b and c not in out]
    free_a, free_b = [c for c in a if c not in b], [c for c in b if c not in a]
    if any(c not in out for c in free_a + free_b):
        raise ctx.fail(node, f"equation '{equation}': an index summed within one operand is not supported")
    size = lambda letters: math.prod(dims[c] for c in letters)  # noqa: E731
    batch_dims = [dims[c] for c in batch]
    left = permuted(ctx.tensor(node, 0), a, batch + free_a + contracted)
    left = reshaped(left, batch_dims + [size(free_a), size(contracted)])
    right = permuted(ctx.tensor(node, 1), b, batch + contracted + free_b)
    right = reshaped(right, batch_dims + [size(contracted), size(free_b)])
    product = ctx.emit(node, "matmul", [left, right], {}, bind=False)[0]
    natural = batch + free_a + free_b
    full = reshaped(product, [dims[c] for c in natural], bind=list(natural) == list(out))
    if list(natural) != list(out):
        permuted(full, natural, out, bind=True)


def depth_to_space(ctx, node):
    a = ctx.attrs(node)
    ctx.float_input(node, 0, rank=4)
    ctx.emit(node, "depth_to_space", [ctx.tensor(node, 0)],
             {"blocksize": attr_int(a["blocksize"]), "mode": attr_string(a.get("mode", "DCR"))})


def space_to_depth(ctx, node):
    """SpaceToDepth; opset 28's CRD mode (channel-major blocks) becomes reshape → transpose →
    reshape: y[n, c·b² + i·b + j, h, w] = x[n, c, h·b + i, w·b + j]."""
    a = ctx.attrs(node)
    n, c, h, w = ctx.float_input(node, 0, rank=4)
    b = int(a["blocksize"])
    mode = a.get("mode", "DCR")
    if mode == "DCR":
        ctx.emit(node, "space_to_depth", [ctx.tensor(node, 0)], {"blocksize": attr_int(b)})
        return
    if mode != "CRD":
        raise ctx.fail(node, f"unknown mode '{mode}'")
    if b < 1 or h % b or w % b:
        raise ctx.fail(node, f"blocksize {b} does not divide H {h} and W {w}")
    blocks = ctx.emit(node, "reshape", [ctx.tensor(node, 0)],
                      {"shape": attr_ints([n, c, h // b, b, w // b, b])}, bind=False)
    moved = ctx.emit(node, "transpose", blocks, {"perm": attr_ints([0, 1, 3, 5, 2, 4])}, bind=False)
    ctx.emit(node, "reshape", moved, {"shape": attr_ints([n, c * b * b, h // b, w // b])})


def cast(ctx, node):
    """Cast of a run-time tensor between float32, int32, int64 and bool (uint8 in the IR); a
    float32 → float32 Cast disappears. Cast to bool needs x ≠ 0, which `cast` (truncation) is
    not, so it is accepted only from bool."""
    from onnx import TensorProto
    value = ctx.value(node, 0)
    to = ctx.attrs(node)["to"]
    names = {TensorProto.FLOAT: "float32", TensorProto.INT32: "int32", TensorProto.INT64: "int64",
             TensorProto.BOOL: "uint8"}
    if to not in names or value.dtype not in names.values():
        raise ctx.fail(node, f"cast of a run-time {value.dtype} tensor to "
                             f"{TensorProto.DataType.Name(to)} is not supported")
    if names[to] == value.dtype:
        ctx.alias(node, value)
        return
    if to == TensorProto.BOOL:
        raise ctx.fail(node, f"cast of a run-time {value.dtype} tensor to BOOL is not supported")
    ctx.emit(node, "cast", [ctx.tensor(node, 0)], {"to": attr_string(names[to])})


def compare(ir_op):
    def mapping(ctx, node):
        if "axis" in ctx.attrs(node) or ctx.attrs(node).get("broadcast"):
            raise ctx.fail(node, "legacy broadcast with 'axis' is not supported")
        ctx.float_input(node, 0)
        ctx.float_input(node, 1)
        ctx.emit(node, ir_op, [ctx.tensor(node, 0), ctx.tensor(node, 1)], {})
    return mapping


def _bool_input(ctx, node, i):
    dtype = str(ctx.value(node, i).dtype)
    if dtype not in ("uint8", "bool"):
        raise ctx.fail(node, f"input {i} is {dtype}; bool is supported")


def logical(ir_op):
    """Not, And, Or, Xor (opset 1–21) on bool tensors (uint8 in the IR, non-zero is true)."""
    def mapping(ctx, node):
        if "axis" in ctx.attrs(node) or ctx.attrs(node).get("broadcast"):
            raise ctx.fail(node, "legacy broadcast with 'axis' is not supported")
        for i in range(len(node.input)):
            _bool_input(ctx, node, i)
        ctx.emit(node, ir_op, [ctx.tensor(node, i) for i in range(len(node.input))], {})
    return mapping


def where(ctx, node):
    condition = ctx.value(node, 0)
    if getattr(condition, "dtype", None) not in ("uint8", np.dtype(np.bool_), np.dtype(np.uint8)):
        raise ctx.fail(node, f"condition is {condition.dtype}; bool is supported")
    ctx.float_input(node, 1)
    ctx.float_input(node, 2)
    ctx.emit(node, "where", [ctx.tensor(node, k) for k in range(3)], {})


def identity(ctx, node):
    ctx.alias(node, ctx.value(node, 0))


def dropout(ctx, node):
    """Inference Dropout is the identity; so is a training-mode one with ratio 0 (the scale
    1/(1 − ratio) is 1 and nothing is dropped), as torchvision's Swin exports its attention dropout."""
    training = ctx.constant(node, 2, "training_mode")
    ratio = ctx.constant(node, 1, "ratio")
    dropping = ratio is None or float(np.asarray(ratio).reshape(())) != 0
    if dropping and ((training is not None and bool(training)) or ctx.attrs(node).get("is_test", 1) == 0):
        raise ctx.fail(node, "training-mode dropout cannot run at inference")
    ctx.alias(node, ctx.value(node, 0))
    if len(node.output) > 1 and node.output[1] and node.output[1] in ctx.consumed:
        # At inference every element is kept: the bool mask (opset 10 on) is all true. Before
        # opset 10 the mask has the data's type and no defined value (ONNX Runtime gives zeros).
        if ctx.opset < 10:
            raise ctx.fail(node, "the mask output before opset 10 has no defined value at inference")
        ctx.alias(node, np.ones(ctx.shape(node, 0), np.bool_), output=1)


_COORDINATE_MODES = ("align_corners", "half_pixel", "pytorch_half_pixel", "asymmetric",
                     "half_pixel_symmetric", "tf_crop_and_resize")


def _resize_per_axis(ctx, node, values, axes, rank, fill, what):
    """Resize-18's scales/sizes/roi given for `axes` only, as full per-axis lists."""
    values = [v for v in np.asarray(values).reshape(-1)]
    if len(values) != len(axes) * (2 if what == "roi" else 1):
        raise ctx.fail(node, f"{what} has {len(values)} values for axes {axes}")
    if what == "roi":
        starts, ends = [0.0] * rank, [1.0] * rank
        for k, axis in enumerate(axes):
            starts[axis], ends[axis] = values[k], values[k + len(axes)]
        return starts + ends
    full = [fill[axis] for axis in range(rank)]
    for k, axis in enumerate(axes):
        full[axis] = values[k]
    return full


def resize(ctx, node):
    """Resize (opset 10–21) and Upsample (7–9): every mode, coordinate transformation, `axes`
    and `keep_aspect_ratio_policy`, with constant scales/sizes/roi over the H and W axes."""
    a = ctx.attrs(node)
    shape = ctx.float_input(node, 0, rank=4)
    mode = {"bilinear": "linear"}.get(a.get("mode", "nearest"), a.get("mode", "nearest"))
    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.fail(node, f"resize mode '{mode}' is not supported (nearest, linear, cubic)")
    roi = None
    if node.op_type == "Upsample" or ctx.opset < 11:
        # Upsample and Resize-10 compute x' = x / scale (asymmetric), nearest rounds down.
        scales = a.get("scales") if ctx.opset < 9 else ctx.constant(node, 1, "scales")
        sizes, coordinate, nearest = None, "asymmetric", "floor"
        if mode == "cubic":
            raise ctx.fail(node, "cubic mode needs opset 11")
    else:
        scales, sizes = ctx.constant(node, 2, "scales"), ctx.constant(node, 3, "sizes")
        coordinate = a.get("coordinate_transformation_mode", "half_pixel")
        nearest = a.get("nearest_mode", "round_prefer_floor")
        if coordinate == "tf_crop_and_resize":
            roi = ctx.constant(node, 1, "roi")
    if coordinate not in _COORDINATE_MODES:
        raise ctx.fail(node, f"coordinate_transformation_mode '{coordinate}' is not supported")
    axes = [int(axis) % 4 if -4 <= int(axis) < 4 else None for axis in a.get("axes", range(4))]
    if None in axes or len(set(axes)) != len(axes):
        raise ctx.fail(node, f"axes {list(a['axes'])} are not distinct axes of a rank-4 input")
    attributes = {"mode": attr_string(mode), "coordinate_mode": attr_string(coordinate)}
    if mode == "nearest":
        attributes["nearest_mode"] = attr_string(nearest)
    if mode == "cubic":
        attributes["cubic_coeff_a"] = attr_float(a.get("cubic_coeff_a", -0.75))
    if a.get("exclude_outside", 0):
        attributes["exclude_outside"] = attr_int(1)
    if a.get("antialias", 0) and mode != "nearest":  # ONNX: antialias only affects linear, cubic
        attributes["antialias"] = attr_int(1)
    if coordinate == "tf_crop_and_resize":
        if roi is None or not np.size(roi):
            raise ctx.fail(node, "tf_crop_and_resize needs a constant roi")
        roi = _resize_per_axis(ctx, node, roi, axes, 4, None, "roi")
        if roi[:2] != [0, 0] or roi[4:6] != [1, 1]:
            raise ctx.fail(node, f"roi {roi} crops N or C")
        attributes["roi"] = attr_floats([roi[2], roi[3], roi[6], roi[7]])
        attributes["extrapolation_value"] = attr_float(a.get("extrapolation_value", 0.0))
    policy = a.get("keep_aspect_ratio_policy", "stretch")
    if sizes is not None and sizes.size:
        sizes = [int(s) for s in _resize_per_axis(ctx, node, sizes, axes, 4, shape, "sizes")]
        if tuple(sizes[:2]) != tuple(shape[:2]):
            raise ctx.fail(node, f"sizes {sizes} must keep N and C of {list(shape)}")
        if policy in ("not_larger", "not_smaller"):
            # One scale for the listed axes, the output rounded from it (ONNX Resize-18).
            ratios = [sizes[axis] / shape[axis] for axis in axes if axis >= 2]
            scale = min(ratios) if policy == "not_larger" else max(ratios)
            out = [int(math.floor(shape[k] * scale + 0.5)) if k in axes else shape[k] for k in (2, 3)]
            attributes["scales"] = attr_floats([scale if k in axes else 1.0 for k in (2, 3)])
        elif policy != "stretch":
            raise ctx.fail(node, f"keep_aspect_ratio_policy '{policy}' is not supported")
        else:
            out = sizes[2:]
    elif scales is not None and np.size(scales):
        scales = np.asarray(_resize_per_axis(ctx, node, scales, axes, 4, [1.0] * 4, "scales"), np.float32)
        if scales[0] != 1 or scales[1] != 1:
            raise ctx.fail(node, f"scales {scales.tolist()} must be [1, 1, sH, sW]")
        # ONNX Runtime: out = floor(in * scale) computed in float32.
        out = [int(math.floor(np.float32(shape[2 + k]) * scales[2 + k])) for k in range(2)]
        attributes["scales"] = attr_floats(scales[2:])
    else:
        raise ctx.fail(node, "needs constant scales or sizes")
    attributes["sizes"] = attr_ints(out)
    # What the IR op refuses, refused here with the node's name (docs/OPS.md, resize).
    floats = [a.get("cubic_coeff_a", -0.75)] + list(attributes.get("roi", attr_floats([])).value)
    if not all(math.isfinite(v) for v in floats) or math.isnan(a.get("extrapolation_value", 0.0)):
        raise ctx.fail(node, "cubic_coeff_a and roi must be finite, extrapolation_value not NaN")
    if "antialias" in attributes:
        if "scales" in attributes:
            ratios = [1 / s if s > 0 else math.inf for s in attributes["scales"].value]
        else:
            ratios = [shape[2 + k] / out[k] if out[k] > 0 else math.inf for k in range(2)]
        if max(ratios) > 32768:
            raise ctx.fail(node, "antialias: a downscale by more than 32768 is not supported")
    ctx.emit(node, "resize", [ctx.tensor(node, 0)], attributes)


def conv_transpose(ctx, node):
    """ConvTranspose (opset 1–21, 2-D): auto_pad and output_shape become explicit IR pads."""
    a = ctx.attrs(node)
    x_shape = ctx.float_input(node, 0, rank=4)
    w_shape = ctx.shape(node, 1)
    if len(w_shape) != 4:
        raise ctx.fail(node, f"weights of shape {list(w_shape)}; only 2-D transposed convolution is supported")
    if "kernel_shape" in a and list(a["kernel_shape"]) != list(w_shape[2:]):
        raise ctx.fail(node, f"kernel_shape {a['kernel_shape']} disagrees with weights {list(w_shape)}")
    strides = list(a.get("strides", [1, 1]))
    dilations = list(a.get("dilations", [1, 1]))
    output_padding = list(a.get("output_padding", [0, 0]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    auto_pad = a.get("auto_pad", "NOTSET")
    if auto_pad not in _AUTO_PAD:
        raise ctx.fail(node, f"unknown auto_pad '{auto_pad}'")
    if len(strides) != 2 or len(dilations) != 2 or len(output_padding) != 2 or len(pads) != 4:
        raise ctx.fail(node, "only 2-D windows (rank-4 input) are supported")
    output_shape = a.get("output_shape")
    if output_shape is not None:
        output_shape = list(output_shape)[-2:]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and output_shape is None:
        output_shape = [x_shape[2 + k] * strides[k] for k in range(2)]
    if auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif output_shape is not None:
        # The padding that trims the full output to output_shape. An odd total trims one more
        # pixel at the end for SAME_UPPER and at the start for SAME_LOWER and NOTSET (ONNX
        # Runtime's rule, checked by the tests).
        for k in range(2):
            full = (strides[k] * (x_shape[2 + k] - 1) + output_padding[k]
                    + (w_shape[2 + k] - 1) * dilations[k] + 1)
            total = full - int(output_shape[k])
            if total < 0:
                raise ctx.fail(node, f"output_shape {output_shape} is larger than the full output")
            if auto_pad == "SAME_UPPER":
                pads[k], pads[k + 2] = total // 2, total - total // 2
            else:
                pads[k], pads[k + 2] = total - total // 2, total // 2
    ctx.emit(node, "conv_transpose", [ctx.tensor(node, i) for i in range(min(3, len(node.input)))],
             {"strides": attr_ints(strides), "dilations": attr_ints(dilations), "pads": attr_ints(pads),
              "group": attr_int(a.get("group", 1)), "output_padding": attr_ints(output_padding)})


def split(ctx, node):
    """Split (opset 1–21): one IR slice per used output; sizes from the attribute (< 13), the
    input (≥ 13), num_outputs (≥ 18, the last part smaller) or equal parts."""
    a = ctx.attrs(node)
    shape = ctx.shape(node, 0)
    rank = len(shape)
    axis = a.get("axis", 0)
    if not -rank <= axis < rank:
        raise ctx.fail(node, f"axis {axis} out of range for rank {rank}")
    axis %= rank
    dim = shape[axis]
    if ctx.opset < 13:
        sizes = a.get("split")
    else:
        sizes = ctx.constant(node, 1, "split")
    parts = len(node.output)
    if sizes is not None and np.size(sizes):
        sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
    elif "num_outputs" in a:
        chunk = -(-dim // int(a["num_outputs"]))
        sizes = [min(chunk, max(dim - k * chunk, 0)) for k in range(int(a["num_outputs"]))]
    else:
        if dim % parts:
            raise ctx.fail(node, f"dim {dim} does not split into {parts} equal parts")
        sizes = [dim // parts] * parts
    if len(sizes) != parts or sum(sizes) != dim or min(sizes) < 0:
        raise ctx.fail(node, f"split sizes {sizes} do not cover dim {dim} with {parts} outputs")
    start = 0
    for k, size in enumerate(sizes):
        if node.output[k]:
            out = ctx.emit(node, "slice", [ctx.tensor(node, 0)],
                           {"starts": attr_ints([start]), "ends": attr_ints([start + size]),
                            "axes": attr_ints([axis]), "steps": attr_ints([1])}, bind=False)[0]
            ctx.bind(node, k, out)
        start += size


_UNARY_ATTRIBUTES = {"LeakyRelu": {"alpha": 0.01}, "Elu": {"alpha": 1.0}, "Celu": {"alpha": 1.0},
                     "ThresholdedRelu": {"alpha": 1.0},
                     "Selu": {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
}


def unary_with_attributes(ir_op):
    def mapping(ctx, node):
        a = ctx.attrs(node)
        ctx.float_input(node, 0)
        attributes = {key: attr_float(a.get(key, default))
                      for key, default in _UNARY_ATTRIBUTES[node.op_type].items()}
        ctx.emit(node, ir_op, [ctx.tensor(node, 0)], attributes)
    return mapping


def gelu(ctx, node):
    ctx.float_input(node, 0)
    approximate = ctx.attrs(node).get("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise ctx.fail(node, f"unknown approximate '{approximate}'")
    ctx.emit(node, "gelu", [ctx.tensor(node, 0)], {"approximate": attr_string(approximate)})


def prelu(ctx, node):
    x_shape = ctx.float_input(node, 0)
    slope_shape = ctx.float_input(node, 1)
    if ctx.opset < 7 and len(slope_shape) == 1 and len(x_shape) >= 2 and slope_shape[0] == x_shape[1] > 1:
        # Before opset 7 (no NumPy broadcasting) a [C] slope is per channel, as PyTorch exports it.
        slope = _per_channel(ctx, node, 1, len(x_shape), x_shape[1], "slope")
        ctx.emit(node, "prelu", [ctx.tensor(node, 0), slope], {})
        return
    if not _broadcasts(x_shape, slope_shape) or np.broadcast_shapes(x_shape, slope_shape) != tuple(x_shape):
        raise ctx.fail(node, f"slope {list(slope_shape)} does not broadcast to X {list(x_shape)}")
    ctx.emit(node, "prelu", [ctx.tensor(node, 0), ctx.tensor(node, 1)], {})


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(tuple(a), tuple(b))
        return True
    except ValueError:
        return False


def pow_(ctx, node):
    ctx.float_input(node, 0)
    exponent = ctx.value(node, 1)
    if not hasattr(exponent, "index") and exponent.dtype.kind in "iub":
        # An integer exponent (ONNX allows T1 ≠ T2): exact in float32 for the small values used.
        index = ctx.constant_tensor(f"{node.input[1]}/float", exponent.astype(np.float32))
    else:
        ctx.float_input(node, 1)
        index = ctx.tensor(node, 1)
    ctx.emit(node, "pow", [ctx.tensor(node, 0), index], {})


def variadic(ir_op):
    """Min, Max, Sum (opset 1–21): a chain of binary IR ops, left to right; Mean: Sum ÷ n."""
    def mapping(ctx, node):
        names = [k for k in range(len(node.input)) if node.input[k]]
        for k in names:
            ctx.float_input(node, k)
        if ctx.opset < 8 and len({ctx.shape(node, k) for k in names}) > 1:
            raise ctx.fail(node, "inputs of different shapes before opset 8 (no broadcasting)")
        mean = node.op_type == "Mean"
        if len(names) == 1 and not mean:
            ctx.alias(node, ctx.value(node, names[0]))
            return
        acc = ctx.tensor(node, names[0])
        for step, k in enumerate(names[1:]):
            last = step == len(names) - 2 and not mean
            acc = ctx.emit(node, ir_op, [acc, ctx.tensor(node, k)], {}, bind=last)[0]
        if mean:
            count = ctx.constant_tensor(f"{node.output[0]}/count", np.array(len(names), np.float32))
            if len(names) == 1:
                acc = ctx.tensor(node, names[0])
            ctx.emit(node, "div", [acc, count], {})
    return mapping


def expand(ctx, node):
    x_shape = ctx.float_input(node, 0)
    target = [int(d) for d in ctx.constant(node, 1, "shape").reshape(-1)]
    if not _broadcasts(x_shape, target):
        raise ctx.fail(node, f"shape {target} does not broadcast with input {list(x_shape)}")
    if tuple(np.broadcast_shapes(tuple(x_shape), tuple(target))) == tuple(x_shape):
        ctx.alias(node, ctx.value(node, 0))
        return
    ctx.emit(node, "expand", [ctx.tensor(node, 0)], {"shape": attr_ints(target)})


def tile(ctx, node):
    """Tile (opset 6–21) with constant repeats: one concat of copies per repeated axis."""
    shape = ctx.float_input(node, 0)
    repeats = [int(r) for r in ctx.constant(node, 1, "repeats").reshape(-1)]
    if len(repeats) != len(shape) or min(repeats, default=1) < 1:
        raise ctx.fail(node, f"repeats {repeats} for an input of shape {list(shape)}")
    axes = [axis for axis, r in enumerate(repeats) if r > 1]
    if not axes:
        ctx.alias(node, ctx.value(node, 0))
        return
    current = ctx.tensor(node, 0)
    for k, axis in enumerate(axes):
        current = ctx.emit(node, "concat", [current] * repeats[axis], {"axis": attr_int(axis)},
                           bind=k == len(axes) - 1)[0]


_REDUCE_OPS = {"ReduceMean": ("reduce_mean", 18), "ReduceSum": ("reduce_sum", 13),
               "ReduceMax": ("reduce_max", 18), "ReduceMin": ("reduce_min", 18),
               "ReduceProd": ("reduce_prod", 18), "ReduceL2": ("reduce_l2", 18)}


_EMPTY_REDUCTION = {"ReduceMean": np.nan, "ReduceSum": 0.0, "ReduceMax": -np.inf, "ReduceMin": np.inf,
                    "ReduceProd": 1.0, "ReduceL2": 0.0}


def reduce(ctx, node):
    ir_op, axes_input_since = _REDUCE_OPS[node.op_type]
    rank = len(ctx.float_input(node, 0))
    context = FoldContext(node, [None, ctx.constant(node, 1, "axes")], ctx.opset)
    axes = context.ints_from("axes", 1, axes_input_since)
    if not axes:
        if ctx.attrs(node).get("noop_with_empty_axes", 0):
            ctx.alias(node, ctx.value(node, 0))
            return
        axes = list(range(rank))
    axes = normalize_axes(axes, rank)
    shape = ctx.shape(node, 0)
    if any(shape[axis] == 0 for axis in axes):
        # No element is reduced: ONNX gives the operation's identity, which needs no run time
        # (the IR ops refuse an empty reduction).
        keep = ctx.attrs(node).get("keepdims", 1)
        out = [1 if axis in axes else d for axis, d in enumerate(shape) if keep or axis not in axes]
        ctx.alias(node, np.full(out, _EMPTY_REDUCTION[node.op_type], np.float32))
        return
    ctx.emit(node, ir_op, [ctx.tensor(node, 0)],
             {"axes": attr_ints(normalize_axes(axes, rank)),
              "keepdims": attr_int(ctx.attrs(node).get("keepdims", 1))})


def global_max_pool(ctx, node):
    rank = len(ctx.float_input(node, 0))
    if rank < 3:
        raise ctx.fail(node, "input must have spatial axes")
    ctx.emit(node, "reduce_max", [ctx.tensor(node, 0)],
             {"axes": attr_ints(range(2, rank)), "keepdims": attr_int(1)})


def _per_channel(ctx, node, i, rank, channels, what):
    """Input i (a [C] vector) as an IR tensor of shape [C, 1, ...] that broadcasts over the
    channel axis 1 of a rank-`rank` tensor."""
    shape = ctx.float_input(node, i)
    if tuple(shape) != (channels,):
        raise ctx.fail(node, f"{what} has shape {list(shape)}; expected [{channels}]")
    target = [channels] + [1] * (rank - 2)
    value = ctx.value(node, i)
    if isinstance(value, np.ndarray):
        return ctx.constant_tensor(f"{node.input[i]}/channels", value.reshape(target))
    return ctx.emit(node, "reshape", [ctx.tensor(node, i)], {"shape": attr_ints(target)}, bind=False)[0]


def _affine(ctx, node, normalized, scale, bias):
    """normalized · scale (+ bias), the last op bound to the ONNX output."""
    scaled = ctx.emit(node, "mul", [normalized, scale], {}, bind=bias is None)[0]
    if bias is not None:
        ctx.emit(node, "add", [scaled, bias], {})


def instance_norm(ctx, node):
    shape = ctx.float_input(node, 0)
    if len(shape) < 3:
        raise ctx.fail(node, "input must have spatial axes")
    normalized = ctx.emit(node, "normalize", [ctx.tensor(node, 0)],
                          {"axis": attr_int(2), "epsilon": attr_float(ctx.attrs(node).get("epsilon", 1e-5))},
                          bind=False)[0]
    scale = _per_channel(ctx, node, 1, len(shape), shape[1], "scale")
    bias = _per_channel(ctx, node, 2, len(shape), shape[1], "B")
    _affine(ctx, node, normalized, scale, bias)


def layer_norm(ctx, node):
    """LayerNormalization (opset 17); the optional Mean and InvStdDev outputs, when used, are
    computed by separate IR ops: reduce_mean, sub, mul, reduce_mean, add ε, sqrt, reciprocal
    (float32 throughout, which is what stash_type 1 asks for)."""
    a = ctx.attrs(node)
    shape = ctx.float_input(node, 0)
    axis = a.get("axis", -1)
    if not -len(shape) <= axis < len(shape):
        raise ctx.fail(node, f"axis {axis} out of range for rank {len(shape)}")
    axis %= len(shape)
    for i in range(1, len(node.input)):
        if node.input[i] and not _broadcasts(shape[axis:], ctx.float_input(node, i)) or                 node.input[i] and len(ctx.shape(node, i)) > len(shape) - axis:
            raise ctx.fail(node, f"input {i} does not broadcast to the normalized dims {list(shape[axis:])}")
    normalized = ctx.emit(node, "normalize", [ctx.tensor(node, 0)],
                          {"axis": attr_int(axis), "epsilon": attr_float(a.get("epsilon", 1e-5))},
                          bind=False)[0]
    bias = ctx.tensor(node, 2) if len(node.input) > 2 and node.input[2] else None
    _affine(ctx, node, normalized, ctx.tensor(node, 1), bias)
    if any(len(node.output) > k and node.output[k] for k in (1, 2)):
        _layer_norm_statistics(ctx, node, shape, axis, a.get("epsilon", 1e-5))


def _layer_norm_statistics(ctx, node, shape, axis, epsilon):
    reduce = {"axes": attr_ints(range(axis, len(shape))), "keepdims": attr_int(1)}
    mean = ctx.emit(node, "reduce_mean", [ctx.tensor(node, 0)], reduce, bind=False)[0]
    if len(node.output) > 1 and node.output[1]:
        ctx.bind(node, 1, mean)
    if len(node.output) > 2 and node.output[2]:
        centred = ctx.emit(node, "sub", [ctx.tensor(node, 0), mean], {}, bind=False)
        squared = ctx.emit(node, "mul", centred * 2, {}, bind=False)
        variance = ctx.emit(node, "reduce_mean", squared, reduce, bind=False)[0]
        eps = ctx.constant_tensor(f"{node.output[2]}/epsilon", np.array(epsilon, np.float32))
        shifted = ctx.emit(node, "add", [variance, eps], {}, bind=False)
        deviation = ctx.emit(node, "sqrt", shifted, {}, bind=False)
        ctx.bind(node, 2, ctx.emit(node, "reciprocal", deviation, {}, bind=False)[0])


def group_norm(ctx, node):
    """GroupNormalization: scale and bias per group (opset 18, must be constant) or per channel
    (opset 21)."""
    a = ctx.attrs(node)
    shape = ctx.float_input(node, 0)
    if len(shape) < 3:
        raise ctx.fail(node, "input must have spatial axes")
    groups = int(a["num_groups"])
    channels = shape[1]
    if groups < 1 or channels % groups:
        raise ctx.fail(node, f"num_groups {groups} does not divide {channels} channels")
    grouped = ctx.emit(node, "reshape", [ctx.tensor(node, 0)],
                       {"shape": attr_ints([shape[0], groups, -1])}, bind=False)
    normalized = ctx.emit(node, "normalize", grouped,
                          {"axis": attr_int(2), "epsilon": attr_float(a.get("epsilon", 1e-5))},
                          bind=False)
    restored = ctx.emit(node, "reshape", normalized, {"shape": attr_ints(shape)}, bind=False)[0]
    params = []
    for i, what in ((1, "scale"), (2, "bias")):
        if ctx.opset < 21 and ctx.shape(node, i) == (groups,) and groups != channels:
            per_group = ctx.constant(node, i, what).astype(np.float32)
            per_channel = np.repeat(per_group, channels // groups)
            params.append(ctx.constant_tensor(f"{node.input[i]}/channels",
                                              per_channel.reshape([channels] + [1] * (len(shape) - 2))))
        else:
            params.append(_per_channel(ctx, node, i, len(shape), channels, what))
    _affine(ctx, node, restored, params[0], params[1])


_GATHER_SLICE_LIMIT = 256


def gather(ctx, node):
    """Gather (opset 1–21) of a run-time tensor with constant indices: one slice per index,
    a concat when there are several, and a reshape to the output shape (exact: only copies)."""
    shape = ctx.float_input(node, 0)
    indices = ctx.constant(node, 1, "indices")
    rank = len(shape)
    axis = ctx.attrs(node).get("axis", 0)
    if not -rank <= axis < rank:
        raise ctx.fail(node, f"axis {axis} out of range for rank {rank}")
    axis %= rank
    flat = [int(i) for i in np.asarray(indices).reshape(-1)]
    if any(not -shape[axis] <= i < shape[axis] for i in flat):
        raise ctx.fail(node, f"indices {flat} out of range for dim {shape[axis]}")
    if not flat or len(flat) > _GATHER_SLICE_LIMIT:
        raise ctx.fail(node, f"{len(flat)} indices; 1 to {_GATHER_SLICE_LIMIT} are supported")
    flat = [i % shape[axis] for i in flat]
    parts = [ctx.emit(node, "slice", [ctx.tensor(node, 0)],
                      {"starts": attr_ints([i]), "ends": attr_ints([i + 1]), "axes": attr_ints([axis]),
                       "steps": attr_ints([1])}, bind=False)[0] for i in flat]
    if len(parts) > 1:
        parts = ctx.emit(node, "concat", parts, {"axis": attr_int(axis)}, bind=False)
    out_shape = list(shape[:axis]) + list(np.shape(indices)) + list(shape[axis + 1:])
    if 0 in out_shape:  # the IR reshape reads 0 as "copy the input dim"
        raise ctx.fail(node, f"empty output {out_shape} is not supported")
    ctx.emit(node, "reshape", parts, {"shape": attr_ints(out_shape)})


# Window attributes of a 1-D op and their 2-D form over an [N, C, 1, L] image.
_LIFTED_ATTRIBUTES = {"strides": lambda v: [1] + v, "dilations": lambda v: [1] + v,
                      "kernel_shape": lambda v: [1] + v, "output_padding": lambda v: [0] + v,
                      "output_shape": lambda v: [1] + v, "pads": lambda v: [0, v[0], 0, v[1]]}


def lift_1d(mapping):
    """A 1-D Conv, ConvTranspose or pool ([N, C, L] data, [M, C/g, k] weights) runs as the 2-D op
    on [N, C, 1, L] with every window attribute extended by a unit H axis, then reshapes back;
    H = 1 with a unit kernel, stride, dilation and no padding along it is exactly the 1-D op."""
    def lifted(ctx, node):
        x = ctx.value(node, 0)
        if x is None or len(x.shape) != 3:
            return mapping(ctx, node)
        from onnx import helper
        from .onnx_import import Dynamic, _unique
        ctx.float_input(node, 0)
        copy = helper.make_node(node.op_type, list(node.input), list(node.output), name=node.name,
                                domain=node.domain)
        for attribute in node.attribute:
            if attribute.name in _LIFTED_ATTRIBUTES:
                value = _LIFTED_ATTRIBUTES[attribute.name](list(attribute.ints))
                if attribute.name == "pads" and len(attribute.ints) != 2:
                    raise ctx.fail(node, f"pads {list(attribute.ints)} for a 1-D window")
                copy.attribute.append(helper.make_attribute(attribute.name, value))
            else:
                copy.attribute.append(attribute)
        for i in range(len(node.input) if node.op_type in ("Conv", "ConvTranspose") else 1):
            value = ctx.value(node, i)
            if value is None or i == 2:  # the bias stays [M]
                continue
            name = _unique(f"{node.input[i]}/2d", ctx.taken)
            shape = tuple(value.shape[:2]) + (1,) + tuple(value.shape[2:])
            if isinstance(value, Dynamic):
                index = ctx.emit(node, "reshape", [ctx.tensor(node, i)], {"shape": attr_ints(shape)},
                                 bind=False)[0]
                ctx.values[name] = Dynamic(index, value.dtype, shape)
            else:
                ctx.values[name] = value.reshape(shape)
            copy.input[i] = name
        copy.output[0] = _unique(f"{node.output[0]}/2d", ctx.taken)
        mapping(ctx, copy)
        result = ctx.values[copy.output[0]]
        ctx.emit(node, "reshape", [result.index],
                 {"shape": attr_ints(tuple(result.shape[:2]) + tuple(result.shape[3:]))})
    return lifted


HANDLERS = {
    "Conv": lift_1d(conv), "AveragePool": lift_1d(pool), "MaxPool": lift_1d(pool),
    "Relu": unary("relu"), "Sigmoid": unary("sigmoid"), "Tanh": unary("tanh"),
    "HardSwish": unary("hard_swish"), "HardSigmoid": hard_sigmoid, "Clip": clip,
    "Add": binary("add"), "Sub": binary("sub"), "Mul": binary("mul"), "Div": binary("div"),
    "Concat": concat, "GlobalAveragePool": lift_1d(global_average_pool), "ReduceMean": reduce,
    "BatchNormalization": batch_norm, "Softmax": softmax, "ArgMax": argmax, "Pad": pad,
    "Reshape": reshape, "Squeeze": squeeze_unsqueeze, "Unsqueeze": squeeze_unsqueeze,
    "Flatten": flatten, "Transpose": transpose, "Slice": slice_, "Gemm": gemm, "MatMul": matmul,
    "Einsum": einsum,
    "DepthToSpace": depth_to_space, "SpaceToDepth": space_to_depth, "Cast": cast,
    "Identity": identity, "Dropout": dropout, "Resize": resize, "Upsample": resize,
    "ConvTranspose": lift_1d(conv_transpose), "Split": split,
    "LeakyRelu": unary_with_attributes("leaky_relu"), "Elu": unary_with_attributes("elu"),
    "Selu": unary_with_attributes("selu"), "Gelu": gelu, "PRelu": prelu, "Pow": pow_,
    "Erf": unary("erf"), "Sqrt": unary("sqrt"), "Exp": unary("exp"), "Log": unary("log"),
    "Abs": unary("abs"), "Neg": unary("neg"), "Reciprocal": unary("reciprocal"),
    "Min": variadic("min"), "Max": variadic("max"), "Sum": variadic("add"), "Mean": variadic("add"),
    "Expand": expand, "Tile": tile, "ReduceSum": reduce, "ReduceMax": reduce, "ReduceMin": reduce,
    "ReduceProd": reduce, "ReduceL2": reduce, "GlobalMaxPool": global_max_pool,
    "InstanceNormalization": instance_norm, "LayerNormalization": layer_norm,
    "GroupNormalization": group_norm,
    "Equal": compare("equal"), "Less": compare("less"), "Greater": compare("greater"), "Where": where,
    "LessOrEqual": compare("less_or_equal"), "GreaterOrEqual": compare("greater_or_equal"),
    "Not": logical("logical_not"), "And": logical("logical_and"), "Or": logical("logical_or"),
    "Xor": logical("logical_xor"),
    "Gather": gather,
    "Softplus": unary("softplus"), "Softsign": unary("softsign"), "Mish": unary("mish"),
    "Celu": unary_with_attributes("celu"), "ThresholdedRelu": unary_with_attributes("thresholded_relu"),
}

SUPPORTED_OPS = sorted(HANDLERS)
