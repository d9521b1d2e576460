"""TFLite flatbuffer (schema identifier "TFL3") → atrous IR: the driver.

TFLite image tensors are NHWC; the IR is NCHW (docs/OPS.md). The conversion keeps the model's
interface as the user sees it: a rank-4 graph input keeps its NHWC shape and TFLite name and is
followed by one `transpose` (perm [0,3,1,2]); a rank-4 graph output is produced by one `transpose`
(perm [0,2,3,1]) into a tensor with the TFLite name. Everything in between is NCHW: every rank-4
run-time tensor of the TFLite graph lives in the IR transposed to NCHW, tensors of other ranks keep
their layout, constants are permuted when they are registered (convolution weights OHWI → OIHW,
depthwise 1HWO → [O,1,H,W], element-wise operands to NCHW).

The driver parses the flatbuffer with the `tflite` package (generated schema bindings), rejects
quantized models and unsupported operators before converting anything (one message naming every
unsupported op), folds DEQUANTIZE of float16 constants to float32 constants, and hands every other
operator to its mapping in tflite_ops.py. After each operator the IR shape (seen in NHWC) is
checked against the shape the flatbuffer records, so a mapping error cannot go unnoticed.
"""
from __future__ import annotations

import dataclasses
import math
import os
import struct
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import passes, shapes
from .errors import ConversionError, UsageError
from .writer import Attr, Model, Tensor, attr_ints, dtype_name_of

try:
    import tflite
except ImportError:  # pragma: no cover - reported when a TFLite file is converted
    tflite = None

IDENTIFIER = b"TFL3"
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
# NHWC axis → NCHW axis (rank-4 tensors).
AXIS_TO_NCHW = (0, 2, 3, 1)

# TensorType code → (name, NumPy dtype or None when NumPy has none).
TENSOR_TYPES = {
    0: ("FLOAT32", np.float32), 1: ("FLOAT16", np.float16), 2: ("INT32", np.int32),
    3: ("UINT8", np.uint8), 4: ("INT64", np.int64), 5: ("STRING", None), 6: ("BOOL", np.bool_),
    7: ("INT16", np.int16), 8: ("COMPLEX64", np.complex64), 9: ("INT8", np.int8),
    10: ("FLOAT64", np.float64), 11: ("COMPLEX128", np.complex128), 12: ("UINT64", np.uint64),
    13: ("RESOURCE", None), 14: ("VARIANT", None), 15: ("UINT32", np.uint32),
    16: ("UINT16", np.uint16), 17: ("INT4", None), 18: ("BFLOAT16", None),
}


def is_tflite_file(path: str) -> bool:
    """True for a `.tflite` name or a file whose flatbuffer identifier (bytes 4..8) is TFL3."""
    if path.lower().endswith(".tflite"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and head[4:8] == IDENTIFIER


def _builtin_names() -> Dict[int, str]:
    return {getattr(tflite.BuiltinOperator, name): name for name in dir(tflite.BuiltinOperator)
            if not name.startswith("_") and isinstance(getattr(tflite.BuiltinOperator, name), int)}


@dataclasses.dataclass
class Dynamic:
    """A run-time TFLite tensor: its IR tensor (NCHW when rank 4) and its TFLite (NHWC) shape."""
    index: int
    dtype: str
    shape: tuple  # the TFLite shape (NHWC for rank 4)

    @property
    def rank(self) -> int:
        return len(self.shape)


Value = Union[np.ndarray, Dynamic]


def to_ir_shape(shape: Sequence[int]) -> tuple:
    shape = tuple(shape)
    return tuple(shape[p] for p in NHWC_TO_NCHW) if len(shape) == 4 else shape


def to_tflite_shape(shape: Sequence[int]) -> tuple:
    shape = tuple(shape)
    return tuple(shape[p] for p in NCHW_TO_NHWC) if len(shape) == 4 else shape


class Op:
    """One TFLite operator as the mappings see it."""

    def __init__(self, importer: "Importer", position: int, operator):
        self.importer = importer
        self.position = position
        self.operator = operator
        self.inputs = [int(operator.Inputs(k)) for k in range(operator.InputsLength())]
        self.outputs = [int(operator.Outputs(k)) for k in range(operator.OutputsLength())]
        self.name, self.custom_code = importer.op_name(operator)

    @property
    def label(self) -> str:
        return f"custom op '{self.custom_code}'" if self.custom_code is not None else self.name

    def describe(self) -> str:
        out = self.importer.tensor_name(self.outputs[0]) if self.outputs else "?"
        return f"TFLite {self.label} (operator {self.position}, output '{out}')"

    def fail(self, message: str) -> ConversionError:
        return ConversionError(f"{self.describe()}: {message}")

    def options(self, cls, type_code: int):
        """The builtin options table as an instance of `cls`, or None when the op has none."""
        if self.operator.BuiltinOptionsType() == 0:
            return None
        if self.operator.BuiltinOptionsType() != type_code:
            raise self.fail(f"unexpected builtin options type {self.operator.BuiltinOptionsType()}")
        table = self.operator.BuiltinOptions()
        if table is None:
            return None
        options = cls()
        options.Init(table.Bytes, table.Pos)
        return options

    def custom_options(self) -> bytes:
        if self.operator.CustomOptionsIsNone() or self.operator.CustomOptionsLength() == 0:
            if self.operator.LargeCustomOptionsSize():
                start = self.operator.LargeCustomOptionsOffset()
                return bytes(self.importer.buffer[start:start + self.operator.LargeCustomOptionsSize()])
            return b""
        return bytes(self.operator.CustomOptionsAsNumpy().tobytes())

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] >= 0

    def value(self, i: int) -> Optional[Value]:
        return self.importer.values[self.inputs[i]] if self.has_input(i) else None

    def tflite_shape(self, i: int) -> tuple:
        return tuple(self.value(i).shape)

    def constant(self, i: int, what: str) -> np.ndarray:
        value = self.value(i)
        if value is None:
            raise self.fail(f"input {i} ({what}) is missing")
        if isinstance(value, Dynamic):
            raise self.fail(f"input {i} ({what}, '{self.importer.tensor_name(self.inputs[i])}') "
                            "must be a constant")
        return value

    def float_input(self, i: int, rank: Optional[int] = None) -> tuple:
        value = self.value(i)
        if value is None:
            raise self.fail(f"input {i} is missing")
        dtype = value.dtype if isinstance(value, Dynamic) else str(value.dtype)
        if dtype != "float32":
            raise self.fail(f"input {i} ('{self.importer.tensor_name(self.inputs[i])}') is {dtype}; "
                            "the IR op needs float32")
        if rank is not None and len(value.shape) != rank:
            raise self.fail(f"input {i} has shape {list(value.shape)}; rank {rank} is supported")
        return tuple(value.shape)

    def output_shape(self, k: int = 0) -> Optional[tuple]:
        """The recorded TFLite shape of output k (None when the flatbuffer records none)."""
        return self.importer.recorded_shape(self.outputs[k])


class Importer:
    def __init__(self, buffer: bytes, path: Optional[str] = None,
                 input_shapes: Optional[Dict[str, Sequence[int]]] = None):
        if tflite is None:
            raise ConversionError("reading TFLite models needs the Python package 'tflite' "
                                  "(pip install tflite)")
        self.buffer = buffer
        self.path = path
        if len(buffer) < 8 or buffer[4:8] != IDENTIFIER:
            raise ConversionError(f"'{path or 'model'}' is not a TFLite flatbuffer (no 'TFL3' identifier)")
        try:
            self.model = tflite.Model.GetRootAs(buffer, 0)
            count = self.model.SubgraphsLength()
        except Exception as error:  # flatbuffers raises plain Python errors on corrupt input
            raise ConversionError(f"cannot parse TFLite model '{path or 'model'}': {error}") from None
        if count < 1:
            raise ConversionError("the TFLite model has no subgraph")
        self.graph = self.model.Subgraphs(0)
        self.names = _builtin_names()
        self.input_shapes = dict(input_shapes or {})
        self.ir = Model()
        self.values: Dict[int, Value] = {}
        self.constant_index: Dict[tuple, int] = {}
        self.input_index: Dict[int, int] = {}  # TFLite graph input → its (NHWC) IR input tensor
        self.taken = set()
        self.graph_inputs = [int(self.graph.Inputs(k)) for k in range(self.graph.InputsLength())]
        self.graph_outputs = [int(self.graph.Outputs(k)) for k in range(self.graph.OutputsLength())]
        for index in self.graph_inputs + self.graph_outputs:
            self.taken.add(self.tensor_name(index))

    # -- flatbuffer access ------------------------------------------------------------------------

    def op_name(self, operator) -> Tuple[str, Optional[str]]:
        index = operator.OpcodeIndex()
        if not 0 <= index < self.model.OperatorCodesLength():
            raise ConversionError(f"operator refers to operator code {index}, which does not exist")
        code = self.model.OperatorCodes(index)
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = self.names.get(builtin, f"builtin #{builtin}")
        if name == "CUSTOM":
            custom = code.CustomCode()
            return name, custom.decode("utf-8", "replace") if custom is not None else ""
        return name, None

    def tensor(self, index: int):
        if not 0 <= index < self.graph.TensorsLength():
            raise ConversionError(f"TFLite tensor index {index} out of range")
        return self.graph.Tensors(index)

    def tensor_name(self, index: int) -> str:
        name = self.tensor(index).Name()
        return name.decode("utf-8", "replace") if name else f"tensor_{index}"

    def tensor_type(self, index: int) -> str:
        code = self.tensor(index).Type()
        return TENSOR_TYPES.get(code, (f"type #{code}", None))[0]

    def recorded_shape(self, index: int) -> Optional[tuple]:
        t = self.tensor(index)
        if t.ShapeIsNone():
            return None
        return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def _buffer_bytes(self, index: int) -> Optional[bytes]:
        t = self.tensor(index)
        b = t.Buffer()
        if b <= 0 or b >= self.model.BuffersLength():
            return None
        buf = self.model.Buffers(b)
        if buf.Offset() > 1:  # large models keep buffers after the flatbuffer
            start, size = int(buf.Offset()), int(buf.Size())
            if start + size > len(self.buffer):
                raise ConversionError(f"tensor '{self.tensor_name(index)}': buffer data outside the file")
            return bytes(self.buffer[start:start + size])
        if buf.DataIsNone() or buf.DataLength() == 0:
            return None
        try:
            return buf.DataAsNumpy().tobytes()
        except ValueError:  # NumPy: the vector runs past the end of the buffer
            raise ConversionError(f"cannot read the data of tensor '{self.tensor_name(index)}' "
                                  "(truncated file?)") from None

    def constant_array(self, index: int) -> Optional[np.ndarray]:
        data = self._buffer_bytes(index)
        if data is None:
            return None
        t = self.tensor(index)
        name, np_dtype = TENSOR_TYPES.get(t.Type(), (f"type #{t.Type()}", None))
        if np_dtype is None:
            raise ConversionError(f"constant tensor '{self.tensor_name(index)}' has type {name}, "
                                  "which the converter cannot read")
        if t.Sparsity() is not None:
            raise ConversionError(f"constant tensor '{self.tensor_name(index)}' is sparse; "
                                  "sparse TFLite weights are not supported")
        shape = self.recorded_shape(index) or ()
        dtype = np.dtype(np_dtype).newbyteorder("<")
        if len(data) != math.prod(shape) * dtype.itemsize:
            raise ConversionError(f"constant tensor '{self.tensor_name(index)}': {len(data)} bytes for "
                                  f"shape {list(shape)} of {name}")
        return np.frombuffer(data, dtype).reshape(shape).astype(np_dtype)

    # -- checks done before converting anything ----------------------------------------------------

    def _quantization(self, index: int) -> Optional[str]:
        t = self.tensor(index)
        q = t.Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        scale = q.ScaleAsNumpy() if q.ScaleLength() else []
        zero = q.ZeroPointAsNumpy() if q.ZeroPointLength() else []
        text = ", ".join(f"{key} {values[0]:g}" + (f" (+{len(values) - 1} more)" if len(values) > 1 else "")
                         for key, values in (("scale", scale), ("zero point", zero)) if len(values))
        return text

    def check_supported(self, operators: List[Op], handlers: dict) -> None:
        quantized = None
        for op in operators:
            if op.name == "QUANTIZE":
                quantized = f"it has a QUANTIZE operator (operator {op.position})"
            elif op.name == "DEQUANTIZE" and op.inputs and self.tensor_type(op.inputs[0]) != "FLOAT16":
                quantized = (f"DEQUANTIZE operator {op.position} reads {self.tensor_type(op.inputs[0])} "
                             f"tensor '{self.tensor_name(op.inputs[0])}'")
            else:
                for index in op.inputs + op.outputs:
                    if index < 0:
                        continue
                    kind = self.tensor_type(index)
                    params = self._quantization(index)
                    if params is not None and kind not in ("FLOAT32", "FLOAT16"):
                        quantized = (f"tensor '{self.tensor_name(index)}' of {op.name} operator "
                                     f"{op.position} is {kind} with quantization {params}")
                        break
            if quantized:
                raise ConversionError(f"quantized TFLite models are not supported yet ({quantized}); "
                                      "convert a float32 model (float16 weights are fine)")
        unsupported = []
        for op in operators:
            key = ("CUSTOM", op.custom_code) if op.custom_code is not None else op.name
            if key not in handlers and op.name != "DEQUANTIZE":
                unsupported.append(op.describe().replace("TFLite ", "", 1))
        if unsupported:
            more = f" and {len(unsupported) - 5} more" if len(unsupported) > 5 else ""
            raise ConversionError("unsupported TFLite op" + ("s: " if len(unsupported) > 1 else ": ")
                                  + "; ".join(unsupported[:5]) + more)

    # -- helpers for the op mappings ------------------------------------------------------------

    def unique(self, name: str) -> str:
        candidate, n = name or "tensor", 1
        while candidate in self.taken:
            candidate = f"{name}_{n}"
            n += 1
        self.taken.add(candidate)
        return candidate

    def register_constant(self, tfl_index: Optional[int], array: np.ndarray, variant: str = "",
                          name: Optional[str] = None) -> int:
        """Adds an IR constant once per (TFLite tensor, variant); floats become float32."""
        key = (tfl_index, variant) if tfl_index is not None else None
        if key is not None and key in self.constant_index:
            return self.constant_index[key]
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif array.dtype == np.bool_:
            array = array.astype(np.uint8)
        try:
            dtype_name_of(array.dtype)
        except ConversionError as error:
            raise ConversionError(f"constant '{name or self.tensor_name(tfl_index)}': {error}") from None
        base = name or self.tensor_name(tfl_index)
        index = self.ir.add_constant(self.unique(base), array)
        if key is not None:
            self.constant_index[key] = index
        return index

    def ir_tensor(self, op: Op, i: int, broadcast_rank: Optional[int] = None) -> Optional[int]:
        """IR index of input i in the IR layout (NCHW when rank 4).

        With `broadcast_rank` = 4, an operand of lower rank (NumPy-broadcast against an NHWC tensor)
        is first given leading 1s up to rank 4 and then permuted, so it broadcasts in NCHW.
        """
        value = op.value(i)
        if value is None:
            return None
        rank = len(value.shape)
        lift = broadcast_rank == 4 and rank < 4
        if isinstance(value, Dynamic):
            if not lift:
                return value.index
            nhwc = (1,) * (4 - rank) + tuple(value.shape)
            reshaped = self.emit(op, "reshape", [value.index], {"shape": attr_ints(nhwc)})
            return self.emit(op, "transpose", reshaped, {"perm": attr_ints(NHWC_TO_NCHW)})[0]
        array = value
        if lift:
            array = array.reshape((1,) * (4 - rank) + array.shape)
        if array.ndim == 4:
            return self.register_constant(op.inputs[i], array.transpose(NHWC_TO_NCHW), "nchw")
        return self.register_constant(op.inputs[i], array)

    def emit(self, op: Op, ir_op: str, inputs: Sequence[Optional[int]], attributes: Dict[str, Attr],
             output: Optional[int] = None) -> List[int]:
        """Adds an IR node. `output` = TFLite tensor index it produces (bound, named after it and
        checked against its recorded shape); None: a new intermediate tensor."""
        in_shapes = [None if i is None else self.ir.tensors[i].shape for i in inputs]
        try:
            descs = shapes.infer(ir_op, attributes, in_shapes)
        except ConversionError as error:
            raise op.fail(str(error)) from None
        except (TypeError, IndexError, ValueError, ZeroDivisionError, KeyError) as error:
            raise op.fail(f"invalid {ir_op} parameters ({error})") from None
        (dtype, shape), = descs
        if any(d < 0 for d in shape):
            raise op.fail(f"negative output dim in {list(shape)}")
        if output is None:
            base = self.tensor_name(op.outputs[0]) if op.outputs else op.name
            name = self.unique(f"{base}/{ir_op}")
        else:
            tfl_shape = to_tflite_shape(shape)
            recorded = self.recorded_shape(output)
            if recorded and (len(recorded) != len(tfl_shape)
                             or any(r >= 0 and r != s for r, s in zip(recorded, tfl_shape))):
                raise op.fail(f"the converted op computes shape {list(tfl_shape)} for "
                              f"'{self.tensor_name(output)}', the model records {list(recorded)}")
            tfl_name = self.tensor_name(output)
            if output in self.graph_outputs and len(shape) == 4:
                name = self.unique(f"{tfl_name}/nchw")  # the NHWC output is a transpose of it
            elif output in self.graph_outputs and tfl_name not in self.ir_names():
                name = tfl_name
            else:
                name = self.unique(tfl_name)
        index = self.ir.add_tensor(Tensor(name, dtype, shape))
        if output is not None:
            self.values[output] = Dynamic(index, dtype, to_tflite_shape(shape))
        # Node names: the TFLite output for the op that produces it, the new tensor's name for
        # the helpers around it (a fused activation's main op, broadcasting reshapes, ...).
        node_name = self.tensor_name(output) if output is not None else name
        self.ir.add_node(ir_op, node_name, inputs, [index], attributes)
        return [index]

    def ir_names(self) -> set:
        return {t.name for t in self.ir.tensors}

    # -- the conversion -------------------------------------------------------------------------

    def run(self) -> Model:
        from .tflite_ops import HANDLERS

        operators = [Op(self, k, self.graph.Operators(k)) for k in range(self.graph.OperatorsLength())]
        self.check_supported(operators, HANDLERS)
        for k in range(self.graph.TensorsLength()):
            if k in self.graph_inputs:
                continue
            array = self.constant_array(k)
            if array is not None:
                self.values[k] = array
        self._add_inputs()
        for op in operators:
            if any(i >= 0 and i not in self.values for i in op.inputs):
                missing = next(i for i in op.inputs if i >= 0 and i not in self.values)
                raise op.fail(f"uses '{self.tensor_name(missing)}', which no earlier operator, input "
                              "or constant provides")
            if op.name == "DEQUANTIZE":
                self._dequantize(op)
            else:
                key = ("CUSTOM", op.custom_code) if op.custom_code is not None else op.name
                HANDLERS[key](self, op)
            for k in op.outputs:
                if k >= 0 and k not in self.values:
                    raise op.fail(f"output '{self.tensor_name(k)}' was not produced")
        self._add_outputs()
        return self.ir

    def _dequantize(self, op: Op) -> None:
        value = op.value(0)
        if isinstance(value, Dynamic) or value is None:
            raise op.fail("DEQUANTIZE of a run-time tensor (quantized activations) is not supported")
        self.values[op.outputs[0]] = value.astype(np.float32)

    def _add_inputs(self) -> None:
        unknown = set(self.input_shapes) - {self.tensor_name(i) for i in self.graph_inputs}
        if unknown:
            raise UsageError(f"--input-shape names '{sorted(unknown)[0]}', which is not a graph input")
        for k in self.graph_inputs:
            name = self.tensor_name(k)
            kind = self.tensor_type(k)
            np_dtype = TENSOR_TYPES.get(self.tensor(k).Type(), (None, None))[1]
            try:
                dtype = dtype_name_of(np_dtype) if np_dtype is not None else None
            except ConversionError:
                dtype = None
            if dtype is None:
                raise ConversionError(f"graph input '{name}' has element type {kind}, which the IR lacks")
            dims = self.recorded_shape(k)
            if dims is None or any(d < 0 for d in dims):
                raise ConversionError(f"graph input '{name}' has no static shape in the flatbuffer")
            fixed = self.input_shapes.get(name)
            if fixed is not None and tuple(int(d) for d in fixed) != tuple(dims):
                raise UsageError(f"--input-shape {name}={'x'.join(map(str, fixed))}: TFLite models "
                                      f"are converted with their recorded static shape "
                                      f"{'x'.join(map(str, dims))}")
            index = self.ir.add_tensor(Tensor(name, dtype, tuple(dims)))
            self.ir.inputs.append(index)
            self.input_index[k] = index
            if len(dims) == 4:
                nchw = self.ir.add_tensor(Tensor(self.unique(f"{name}/nchw"), dtype, to_ir_shape(dims)))
                self.ir.add_node("transpose", f"{name}/to_nchw", [index], [nchw],
                                 {"perm": attr_ints(NHWC_TO_NCHW)})
                index = nchw
            self.values[k] = Dynamic(index, dtype, tuple(dims))

    def _add_outputs(self) -> None:
        for k in self.graph_outputs:
            name = self.tensor_name(k)
            value = self.values.get(k)
            if value is None:
                raise ConversionError(f"graph output '{name}' is never produced")
            if isinstance(value, np.ndarray):
                index = self.register_constant(k, value, "output", name=name)
            elif k in self.input_index:
                index = self.input_index[k]
            elif value.rank == 4:
                index = self.ir.add_tensor(Tensor(name, value.dtype, tuple(value.shape)))
                self.ir.add_node("transpose", f"{name}/to_nhwc", [value.index], [index],
                                 {"perm": attr_ints(NCHW_TO_NHWC)})
            else:
                index = value.index
            self.ir.outputs.append(index)


def load_tflite(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise ConversionError(f"cannot read TFLite model '{path}': {error.strerror}") from None


def source_description(buffer: bytes, path: Optional[str]) -> str:
    name = os.path.basename(path) if path else "model.tflite"
    try:
        model = tflite.Model.GetRootAs(buffer, 0)
        version = model.Version()
        description = (model.Description() or b"").decode("utf-8", "replace").strip()
    except Exception:
        return f"{name} (TFLite)"
    return f"{name} (TFLite schema v{version}" + (f", {description})" if description else ")")


def convert_model(model: Union[str, bytes], input_shapes: Optional[Dict[str, Sequence[int]]] = None,
                  path: Optional[str] = None) -> Model:
    """TFLite model (path or flatbuffer bytes) → IR Model (no metadata); raises ConversionError.
    `path` names the file in messages when `model` is bytes."""
    if isinstance(model, str):
        path = model
    buffer = load_tflite(model) if isinstance(model, str) else bytes(model)
    try:
        ir = Importer(buffer, path, input_shapes).run()
    except struct.error as error:  # the flatbuffer reader ran past the end: a truncated file
        raise ConversionError(f"cannot parse TFLite model '{path or 'model'}': {error}") from None
    except (TypeError, ValueError, IndexError, OverflowError) as error:
        # The flatbuffers reader does no bounds checks of its own: a corrupt offset makes it compute
        # a negative or too large position (TypeError "bad number ... for type uint32") and a
        # corrupt vector length makes NumPy refuse the view (ValueError "buffer is smaller than
        # requested size"). Those come from every accessor, so they are recognised by where they
        # were raised; the same exception types raised by the converter itself are bugs and stay so.
        if not _raised_by_flatbuffer_reader(error):
            raise
        raise ConversionError(f"cannot parse TFLite model '{path or 'model'}': corrupt flatbuffer "
                              f"({error})") from None
    return passes.remove_dead_code(ir)


def _raised_by_flatbuffer_reader(error: BaseException) -> bool:
    """True when the innermost frame of `error`'s traceback is in the flatbuffers runtime or the
    generated `tflite` schema bindings (or NumPy called by them)."""
    frame_modules = []
    tb = error.__traceback__
    while tb is not None:
        frame_modules.append(str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    # The innermost frames that are not NumPy's own.
    while frame_modules and frame_modules[-1].split(".")[0] == "numpy":
        frame_modules.pop()
    return bool(frame_modules) and frame_modules[-1].split(".")[0] in ("flatbuffers", "tflite")
