"""ONNX → atrous IR: the driver.

Walks the ONNX graph in topological order keeping, for every ONNX value name, either a NumPy array
(a constant: initializer, Constant node, or anything computed only from constants) or a
`Dynamic` value (an IR tensor with a static shape). A node whose inputs are all constant is
evaluated with NumPy (folding.py); `Shape`/`Size` of a dynamic value fold from its static shape;
`Identity`/`Dropout` become aliases; every other node goes to its mapping in onnx_ops.py, which
emits IR nodes. Afterwards passes.py folds BatchNorm into convolutions and drops dead code.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import folding, passes, shapes
from .errors import ConversionError, UsageError
from .writer import Attr, Model, Tensor, attr_ints, dtype_name_of


# Opsets 22 to 28 changed the mapped ops only in the element types they admit (bfloat16, 4-, 6-
# and 8-bit floats, 2- and 4-bit integers); attributes, inputs and their meaning are those of 21,
# except SpaceToDepth's `mode` (28, read by its mapping) and attributes that only concern types
# the IR lacks (test_onnx_opset_ceiling.py compares the schemas).
MAX_OPSET = 28


@dataclasses.dataclass
class Dynamic:
    index: int  # IR tensor index
    dtype: str
    shape: tuple


Value = Union[np.ndarray, Dynamic]


def _unique(name: str, taken: set) -> str:
    candidate, n = name or "tensor", 1
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


def topological_order(graph: onnx.GraphProto, available: set) -> List[onnx.NodeProto]:
    """Nodes in an order where every input is available first (stable for sorted graphs)."""
    ready, order, pending = set(available), [], list(graph.node)
    while pending:
        remaining = []
        for node in pending:
            if all(not name or name in ready for name in node.input):
                order.append(node)
                ready.update(name for name in node.output if name)
            else:
                remaining.append(node)
        if len(remaining) == len(pending):
            node = remaining[0]
            missing = [name for name in node.input if name and name not in ready]
            raise ConversionError(f"{node.op_type} node '{node.name}' uses '{missing[0]}', which no "
                                  "node, input or initializer produces (or the graph has a cycle)")
        pending = remaining
    return order


class Importer:
    def __init__(self, model: onnx.ModelProto, input_shapes: Optional[Dict[str, Sequence[int]]] = None):
        self.model = model
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if not 1 <= self.opset <= MAX_OPSET:
            raise ConversionError(f"ONNX opset {self.opset} is not supported (1 to {MAX_OPSET} are read)")
        self.input_shapes = dict(input_shapes or {})
        self.ir = Model()
        self.values: Dict[str, Value] = {}
        self.constant_index: Dict[str, int] = {}
        self.ir_names = set()  # names already in the IR tensor table
        self.taken = set()
        self.consumed = {o.name for o in self.graph.output}
        for node in self.graph.node:
            self.taken.update(n for n in list(node.input) + list(node.output) if n)
            self.consumed.update(n for n in node.input if n)
        self.taken.update(t.name for t in self.graph.initializer)
        self.taken.update(i.name for i in self.graph.input)
        self._attribute_cache: Dict[int, dict] = {}

    # -- helpers for the op mappings ------------------------------------------------------------

    def describe(self, node: onnx.NodeProto) -> str:
        name = node.name or f"<unnamed, output '{node.output[0] if node.output else ''}'>"
        return f"{node.op_type} node '{name}'"

    def fail(self, node: onnx.NodeProto, message: str) -> ConversionError:
        return ConversionError(f"{self.describe(node)}: {message}")

    def attrs(self, node: onnx.NodeProto) -> dict:
        key = id(node)
        if key not in self._attribute_cache:
            self._attribute_cache[key] = folding.node_attributes(node)
        return self._attribute_cache[key]

    def value(self, node: onnx.NodeProto, i: int) -> Optional[Value]:
        if i >= len(node.input) or not node.input[i]:
            return None
        return self.values[node.input[i]]

    def constant(self, node: onnx.NodeProto, i: int, what: str) -> Optional[np.ndarray]:
        """Input i as an array (None when absent); error when it is computed at run time."""
        value = self.value(node, i)
        if isinstance(value, Dynamic):
            raise self.fail(node, f"input {i} ({what}, '{node.input[i]}') must be a constant")
        return value

    def shape(self, node: onnx.NodeProto, i: int) -> tuple:
        value = self.value(node, i)
        return tuple(value.shape)

    def float_input(self, node: onnx.NodeProto, i: int, rank: Optional[int] = None) -> tuple:
        """Checks that input i is a float32 tensor (of the given rank) and returns its shape."""
        value = self.value(node, i)
        if isinstance(value, Dynamic):
            ok, dtype = value.dtype == "float32", value.dtype
        else:
            ok, dtype = value.dtype.kind == "f", str(value.dtype)
        if not ok:
            raise self.fail(node, f"input {i} is {dtype}; the IR op needs float32")
        if rank is not None and len(value.shape) != rank:
            raise self.fail(node, f"input {i} has shape {list(value.shape)}; rank {rank} is supported")
        return tuple(value.shape)

    def tensor(self, node: onnx.NodeProto, i: int) -> Optional[int]:
        """IR tensor index of input i, registering a constant on first use (floats as float32)."""
        value = self.value(node, i)
        if value is None:
            return None
        if isinstance(value, Dynamic):
            return value.index
        return self.constant_tensor(node.input[i], value)

    def constant_tensor(self, name: str, array: np.ndarray) -> int:
        if name in self.constant_index:
            return self.constant_index[name]
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif array.dtype == np.bool_:
            array = array.astype(np.uint8)
        ir_name = _unique(name, self.taken) if name in self.ir_names else name
        index = self.ir.add_constant(ir_name, array)
        self.ir_names.add(ir_name)
        self.constant_index[name] = index
        return index

    def emit(self, node: onnx.NodeProto, op: str, inputs: Sequence[Optional[int]],
             attributes: Dict[str, Attr], bind: bool = True) -> List[int]:
        """Adds an IR node; its outputs are the ONNX outputs (bind) or new intermediate tensors."""
        in_shapes = [None if i is None else self.ir.tensors[i].shape for i in inputs]
        try:
            out_descs = shapes.infer(op, attributes, in_shapes)
        except ConversionError as error:
            raise self.fail(node, str(error)) from None
        except (TypeError, IndexError, ValueError, ZeroDivisionError) as error:
            raise self.fail(node, f"invalid {op} parameters ({error})") from None
        outputs = []
        for k, (dtype, shape) in enumerate(out_descs):
            if any(d < 0 for d in shape):
                raise self.fail(node, f"negative output dim in {list(shape)}")
            bound = bind and k < len(node.output) and bool(node.output[k])
            name = node.output[k] if bound else _unique(f"{node.output[0] or node.op_type}/{op}", self.taken)
            if name in self.ir_names:
                raise self.fail(node, f"output '{name}' is produced twice")
            self.ir_names.add(name)
            index = self.ir.add_tensor(Tensor(name, dtype, shape))
            outputs.append(index)
            if bound:
                self.values[name] = Dynamic(index, dtype, shape)
        node_name = node.name if bind else (f"{node.name}/{op}" if node.name else "")
        self.ir.add_node(op, node_name, inputs, outputs, attributes)
        return outputs

    def bind(self, node: onnx.NodeProto, output: int, index: int) -> None:
        """Makes IR tensor `index` (an intermediate from emit(bind=False)) ONNX output `output`,
        named after it."""
        tensor = self.ir.tensors[index]
        name = node.output[output]
        if name not in self.ir_names:
            self.ir_names.discard(tensor.name)
            tensor.name = name
            self.ir_names.add(name)
        self.values[name] = Dynamic(index, tensor.dtype, tensor.shape)

    def alias(self, node: onnx.NodeProto, value: Value, output: int = 0) -> None:
        self.values[node.output[output]] = value

    # -- the conversion -------------------------------------------------------------------------

    def run(self) -> Model:
        from .onnx_ops import HANDLERS  # the mapping table imports this module's helpers

        initializers = set()
        for init in self.graph.initializer:
            self.values[init.name] = folding.tensor_to_array(init, f"initializer '{init.name}'")
            initializers.add(init.name)
        self._add_inputs(initializers)
        unknown = set(self.input_shapes) - {i.name for i in self.graph.input}
        if unknown:
            raise UsageError(f"--input-shape names '{sorted(unknown)[0]}', which is not a graph input")
        order = topological_order(self.graph, set(self.values))
        self._check_operators(order, HANDLERS)
        for node in order:
            self._convert_node(node, HANDLERS)
        self._add_outputs()
        return self.ir

    def _add_inputs(self, initializers: set) -> None:
        for value_info in self.graph.input:
            if value_info.name in initializers:
                continue
            name = value_info.name
            type_proto = value_info.type
            if not type_proto.HasField("tensor_type"):
                raise ConversionError(f"graph input '{name}' is not a tensor")
            elem = type_proto.tensor_type.elem_type
            try:
                # The IR stores bool as uint8 (0/1), which is what the logical ops and `where` read.
                dtype = "uint8" if elem == onnx.TensorProto.BOOL else \
                    dtype_name_of(helper.tensor_dtype_to_np_dtype(elem))
            except (ConversionError, KeyError):
                raise ConversionError(f"graph input '{name}' has element type "
                                      f"{onnx.TensorProto.DataType.Name(elem)}, which the IR lacks") from None
            dims = [d.dim_value if d.HasField("dim_value") else -1
                    for d in type_proto.tensor_type.shape.dim]
            fixed = self.input_shapes.get(name)
            if fixed is not None:
                fixed = [int(d) for d in fixed]
                if len(fixed) != len(dims) or any(d >= 0 and d != f for d, f in zip(dims, fixed)):
                    raise UsageError(f"--input-shape {name}={'x'.join(map(str, fixed))} conflicts "
                                          f"with the model's shape {self._dims_text(type_proto)}")
                dims = fixed
            if any(d < 0 for d in dims) or not type_proto.tensor_type.HasField("shape"):
                raise ConversionError(f"graph input '{name}' has a dynamic shape "
                                      f"{self._dims_text(type_proto)}; fix it with "
                                      f"--input-shape {name}=1x3xHxW (one value per dim)")
            index = self.ir.add_tensor(Tensor(name, dtype, tuple(dims)))
            self.ir_names.add(name)
            self.ir.inputs.append(index)
            self.values[name] = Dynamic(index, dtype, tuple(dims))

    @staticmethod
    def _dims_text(type_proto) -> str:
        if not type_proto.tensor_type.HasField("shape"):
            return "(unknown rank)"
        dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?")
                for d in type_proto.tensor_type.shape.dim]
        return "[" + ",".join(dims) + "]"

    def _check_operators(self, order: List[onnx.NodeProto], handlers) -> None:
        """Refuses a graph with ops the converter has no mapping for, listing every such op with
        its count at once (not just the first), so a user sees the whole gap. An op that only
        constant folding knows counts as unsupported where its inputs are computed at run time."""
        constant = {name for name, value in self.values.items() if not isinstance(value, Dynamic)}
        missing: Dict[str, List[str]] = {}
        for node in order:
            inputs = [name for name in node.input if name]
            foldable = node.op_type in folding.EVALUATORS and all(name in constant for name in inputs)
            if node.domain not in ("", "ai.onnx"):
                op, supported = f"{node.domain}.{node.op_type}", False
            else:
                op = node.op_type
                supported = foldable or op in handlers or op in folding.SHAPE_ONLY
            if not supported:
                missing.setdefault(op, []).append(node.name or (node.output[0] if node.output else ""))
            if foldable or (supported and op in folding.SHAPE_ONLY):
                constant.update(name for name in node.output if name)
        if missing:
            counts = ", ".join(f"{op} ×{len(nodes)}" for op, nodes in missing.items())
            firsts = ", ".join(f"'{nodes[0]}'" for nodes in missing.values())
            plural = "s" if len(missing) > 1 else ""
            raise ConversionError(f"unsupported ONNX operator{plural}: {counts} (opset {self.opset}; "
                                  f"first node{plural}: {firsts})")

    def _convert_node(self, node: onnx.NodeProto, handlers) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise ConversionError(f"unsupported ONNX op '{node.domain}.{node.op_type}' "
                                  f"(node '{node.name}')")
        op = node.op_type
        inputs = [self.value(node, i) for i in range(len(node.input))]
        all_constant = all(not isinstance(v, Dynamic) for v in inputs)
        if op in folding.SHAPE_ONLY and isinstance(inputs[0], Dynamic):
            dims = inputs[0].shape
            if op == "Size":
                result = np.array(math.prod(dims), np.int64)
            elif op == "EyeLike":
                result = folding.eye_like(dims, np.dtype(inputs[0].dtype), self.attrs(node))
            else:
                a = self.attrs(node)
                result = np.array(dims, np.int64)[slice(a.get("start", 0), a.get("end", None))]
            self.values[node.output[0]] = result
        elif all_constant and op in folding.EVALUATORS:
            for name, result in zip(node.output, folding.evaluate(node, inputs, self.opset)):
                if name:
                    self.values[name] = result
        elif op in handlers:
            handlers[op](self, node)
        else:
            raise ConversionError(f"unsupported ONNX op '{op}' (node '{node.name or node.output[0]}')")
        for k, name in enumerate(node.output):
            if name and name not in self.values and name in self.consumed:
                raise self.fail(node, f"output {k} ('{name}') is used, but the IR op has no such output")

    def _add_outputs(self) -> None:
        ir, used_as_output = self.ir, set()
        for output in self.graph.output:
            name = output.name
            value = self.values[name]
            if isinstance(value, np.ndarray):
                index = self.constant_tensor(name, value)
            else:
                index = value.index
                tensor = ir.tensors[index]
                produced = any(index in n.outputs for n in ir.nodes)
                if tensor.name != name and produced and index not in used_as_output \
                        and name not in self.ir_names:
                    self.ir_names.discard(tensor.name)
                    tensor.name = name  # e.g. an Identity at the end: keep the ONNX output name
                    self.ir_names.add(name)
                elif tensor.name != name or index in used_as_output:
                    if name in self.ir_names:
                        raise ConversionError(f"graph output name '{name}' is already taken")
                    self.ir_names.add(name)
                    copy = ir.add_tensor(Tensor(name, tensor.dtype, tensor.shape))
                    ir.add_node("reshape", f"{name}/copy", [index], [copy],
                                {"shape": attr_ints(tensor.shape)})
                    index = copy
            used_as_output.add(index)
            ir.outputs.append(index)


def load_onnx(path: str) -> onnx.ModelProto:
    try:
        return onnx.load(path)
    except Exception as error:  # protobuf and IO errors have their own types
        raise ConversionError(f"cannot read ONNX model '{path}': {error}") from None


def convert_model(model: Union[str, onnx.ModelProto],
                  input_shapes: Optional[Dict[str, Sequence[int]]] = None,
                  fold_batch_norm: bool = True) -> Model:
    """ONNX model (path or ModelProto) → IR Model (no metadata); raises ConversionError."""
    if isinstance(model, str):
        model = load_onnx(model)
    ir = Importer(model, input_shapes).run()
    if fold_batch_norm:
        passes.fold_batch_norm(ir)
    return passes.remove_dead_code(ir)
