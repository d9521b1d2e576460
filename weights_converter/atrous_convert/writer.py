"""A small Python IR of the atrous graph and the `.atrous` writer (docs/FORMAT.md).

The IR mirrors the file: a tensor table (constants carry a NumPy array), nodes that refer to
tensors by index, graph inputs/outputs, and typed key/value lists for metadata and attributes.
`validate` checks the rules a reader enforces, so the converter fails before writing rather than
producing a file the runtime refuses; `write_model` writes to a temporary file in the destination
folder and renames it into place, so an error never leaves a half-written file behind.
"""
from __future__ import annotations

import dataclasses
import math
import os
import struct
import tempfile
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from .errors import ConversionError

MAGIC = b"ATROUS\0\0"
VERSION_MAJOR = 1
VERSION_MINOR = 0
HEADER_SIZE = 128
ALIGNMENT = 64
NO_DATA = 0xFFFFFFFFFFFFFFFF
ABSENT = 0xFFFFFFFF
MAX_RANK = 8
# The runtime's limit on a tensor's elements (kMaxTensorElements, graph/tensor.h): a model with a
# larger tensor would be written only to be refused at load.
MAX_TENSOR_ELEMENTS = 1 << 34
MAX_STRING = 1 << 20

# dtype name -> (code, NumPy dtype); codes from docs/FORMAT.md.
DTYPES = {
    "float32": (1, np.dtype("<f4")),
    "int32": (2, np.dtype("<i4")),
    "int64": (3, np.dtype("<i8")),
    "uint8": (4, np.dtype("u1")),
}
DTYPE_BY_CODE = {code: name for name, (code, _) in DTYPES.items()}

# Value type codes of docs/FORMAT.md.
INT, FLOAT, STRING, INTS, FLOATS, STRINGS = 1, 2, 3, 4, 5, 6
KIND_NAMES = {INT: "int", FLOAT: "float", STRING: "string", INTS: "ints", FLOATS: "floats",
              STRINGS: "strings"}


class Attr(NamedTuple):
    """A typed value of a key/value list (node attribute or metadata entry)."""
    kind: int
    value: Any


def attr_int(value) -> Attr:
    return Attr(INT, int(value))


def attr_float(value) -> Attr:
    return Attr(FLOAT, float(value))


def attr_string(value) -> Attr:
    return Attr(STRING, str(value))


def attr_ints(values) -> Attr:
    return Attr(INTS, [int(v) for v in values])


def attr_floats(values) -> Attr:
    return Attr(FLOATS, [float(v) for v in values])


def attr_strings(values) -> Attr:
    return Attr(STRINGS, [str(v) for v in values])


@dataclasses.dataclass
class Tensor:
    name: str
    dtype: str = "float32"
    shape: Optional[tuple] = None  # None: unknown (recorded as rank 0); -1 dims: unknown dim
    data: Optional[np.ndarray] = None  # constants only

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclasses.dataclass
class Node:
    op: str
    name: str
    inputs: List[Optional[int]]
    outputs: List[int]
    attributes: Dict[str, Attr] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Model:
    tensors: List[Tensor] = dataclasses.field(default_factory=list)
    nodes: List[Node] = dataclasses.field(default_factory=list)
    inputs: List[int] = dataclasses.field(default_factory=list)
    outputs: List[int] = dataclasses.field(default_factory=list)
    metadata: Dict[str, Attr] = dataclasses.field(default_factory=dict)

    def add_tensor(self, tensor: Tensor) -> int:
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def add_constant(self, name: str, array: np.ndarray) -> int:
        array = np.ascontiguousarray(array)
        dtype = dtype_name_of(array.dtype)
        return self.add_tensor(Tensor(name, dtype, tuple(array.shape), array.astype(DTYPES[dtype][1])))

    def add_node(self, op: str, name: str, inputs: Sequence[Optional[int]], outputs: Sequence[int],
                 attributes: Optional[Dict[str, Attr]] = None) -> Node:
        node = Node(op, name, list(inputs), list(outputs), dict(attributes or {}))
        self.nodes.append(node)
        return node

    def index_of(self, name: str) -> int:
        for i, tensor in enumerate(self.tensors):
            if tensor.name == name:
                return i
        raise KeyError(name)


def dtype_name_of(dtype) -> str:
    """Maps a NumPy dtype onto a file dtype name; raises ConversionError when there is none."""
    dtype = np.dtype(dtype)
    for name, (_, np_dtype) in DTYPES.items():
        if dtype.kind == np_dtype.kind and dtype.itemsize == np_dtype.itemsize:
            return name
    raise ConversionError(f"dtype {dtype} has no .atrous equivalent (float32, int32, int64, uint8)")


# ---------------------------------------------------------------------------------------------
# Validation


def _check_attr(where: str, key: str, attr) -> None:
    if not isinstance(attr, Attr) or attr.kind not in KIND_NAMES:
        raise ConversionError(f"{where}: value of '{key}' is not a typed Attr ({attr!r})")
    kind, value = attr
    if kind == INT and not -(1 << 63) <= value < (1 << 63):
        raise ConversionError(f"{where}: int '{key}' out of the i64 range")
    if kind == INTS and any(not -(1 << 63) <= v < (1 << 63) for v in value):
        raise ConversionError(f"{where}: ints '{key}' out of the i64 range")


def validate(model: Model) -> None:
    """Checks the structural rules of docs/FORMAT.md; raises ConversionError naming the problem."""
    names = set()
    for i, tensor in enumerate(model.tensors):
        where = f"tensor {i} '{tensor.name}'"
        if not tensor.name:
            raise ConversionError(f"tensor {i} has an empty name")
        if tensor.name in names:
            raise ConversionError(f"{where}: duplicate tensor name")
        names.add(tensor.name)
        if tensor.dtype not in DTYPES:
            raise ConversionError(f"{where}: unknown dtype {tensor.dtype!r}")
        shape = tensor.shape if tensor.shape is not None else ()
        if len(shape) > MAX_RANK:
            raise ConversionError(f"{where}: rank {len(shape)} exceeds {MAX_RANK}")
        if tensor.is_constant:
            if tuple(tensor.data.shape) != tuple(shape) or any(d < 0 for d in shape):
                raise ConversionError(f"{where}: data shape {tensor.data.shape} != recorded {shape}")
            if tensor.data.dtype != DTYPES[tensor.dtype][1]:
                raise ConversionError(f"{where}: data dtype {tensor.data.dtype} != {tensor.dtype}")
        elif any(d < -1 for d in shape):
            raise ConversionError(f"{where}: negative dim in {shape}")
        known = all(d >= 0 for d in shape)
        if known and 0 not in shape and math.prod(shape) > MAX_TENSOR_ELEMENTS:
            raise ConversionError(f"{where}: shape {list(shape)} has more than 2^34 elements, the "
                                  "runtime's limit per tensor")
    count = len(model.tensors)

    def check_index(index, where):
        if not isinstance(index, int) or not 0 <= index < count:
            raise ConversionError(f"{where}: tensor index {index!r} out of range")

    available = set()
    for index in model.inputs:
        check_index(index, "graph input")
        tensor = model.tensors[index]
        if tensor.is_constant or tensor.shape is None or any(d < 0 for d in tensor.shape):
            raise ConversionError(f"graph input '{tensor.name}' must be data-less with known dims")
        available.add(index)
    available.update(i for i, t in enumerate(model.tensors) if t.is_constant)
    produced = set()
    for n, node in enumerate(model.nodes):
        where = f"node {n} ({node.op} '{node.name}')"
        if not node.op:
            raise ConversionError(f"{where}: empty op name")
        for index in node.inputs:
            if index is None:
                continue
            check_index(index, where)
            if index not in available:
                raise ConversionError(f"{where}: input '{model.tensors[index].name}' is used before "
                                      "it is produced (nodes must be in topological order)")
        for index in node.outputs:
            check_index(index, where)
            if index in available or index in produced:
                raise ConversionError(f"{where}: output '{model.tensors[index].name}' is a graph "
                                      "input, a constant, or produced twice")
            produced.add(index)
            available.add(index)
        for key, attr in node.attributes.items():
            _check_attr(where, key, attr)
    for index in model.outputs:
        check_index(index, "graph output")
        if index not in available:
            raise ConversionError(f"graph output '{model.tensors[index].name}' is never produced")
    for key, attr in model.metadata.items():
        _check_attr("metadata", key, attr)


# ---------------------------------------------------------------------------------------------
# Serialization


class _Buffer:
    def __init__(self):
        self.parts: List[bytes] = []

    def raw(self, data: bytes):
        self.parts.append(data)

    def u8(self, v):
        self.parts.append(struct.pack("<B", v))

    def u32(self, v):
        self.parts.append(struct.pack("<I", v))

    def u64(self, v):
        self.parts.append(struct.pack("<Q", v))

    def i64(self, v):
        self.parts.append(struct.pack("<q", v))

    def f64(self, v):
        self.parts.append(struct.pack("<d", v))

    def string(self, s: str):
        data = s.encode("utf-8")
        if len(data) > MAX_STRING:
            raise ConversionError(f"string of {len(data)} bytes exceeds 1 MiB: {s[:40]!r}...")
        self.u32(len(data))
        self.parts.append(data)

    def value(self, attr: Attr):
        kind, value = attr
        self.u8(kind)
        if kind == INT:
            self.i64(value)
        elif kind == FLOAT:
            self.f64(value)
        elif kind == STRING:
            self.string(value)
        elif kind == INTS:
            self.u32(len(value))
            self.raw(struct.pack(f"<{len(value)}q", *value))
        elif kind == FLOATS:
            self.u32(len(value))
            self.raw(struct.pack(f"<{len(value)}d", *value))
        else:
            self.u32(len(value))
            for s in value:
                self.string(s)

    def key_values(self, items: Dict[str, Attr]):
        self.u32(len(items))
        for key, attr in items.items():
            self.string(key)
            self.value(attr)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def serialize(model: Model) -> bytes:
    """Returns the whole file as bytes (after validating the model)."""
    validate(model)
    metadata = _Buffer()
    metadata.key_values(model.metadata)

    tensors = _Buffer()
    tensors.u32(len(model.tensors))
    blobs = []  # (offset in the data section, bytes)
    data_end = 0
    for tensor in model.tensors:
        tensors.string(tensor.name)
        tensors.u8(DTYPES[tensor.dtype][0])
        shape = tensor.shape if tensor.shape is not None else ()
        tensors.u8(len(shape))
        for dim in shape:
            tensors.i64(int(dim))
        if tensor.is_constant:
            blob = np.ascontiguousarray(tensor.data).tobytes()
            offset = _align(data_end)
            blobs.append((offset, blob))
            data_end = offset + len(blob)
            tensors.u64(offset)
            tensors.u64(len(blob))
        else:
            tensors.u64(NO_DATA)
            tensors.u64(0)

    graph = _Buffer()
    for indices in (model.inputs, model.outputs):
        graph.u32(len(indices))
        for index in indices:
            graph.u32(index)
    graph.u32(len(model.nodes))
    for node in model.nodes:
        graph.string(node.op)
        graph.string(node.name)
        graph.u32(len(node.inputs))
        for index in node.inputs:
            graph.u32(ABSENT if index is None else index)
        graph.u32(len(node.outputs))
        for index in node.outputs:
            graph.u32(index)
        graph.key_values(node.attributes)

    sections = [metadata.getvalue(), tensors.getvalue(), graph.getvalue()]
    offsets = []
    position = HEADER_SIZE
    for section in sections:
        offsets.append(position)
        position += len(section)
    data_offset = _align(position)
    data_size = _align(data_end)
    data = bytearray(data_size)
    for offset, blob in blobs:
        data[offset:offset + len(blob)] = blob
    file_size = data_offset + data_size

    header = _Buffer()
    header.raw(MAGIC)
    header.u32(VERSION_MAJOR)
    header.u32(VERSION_MINOR)
    header.u64(file_size)
    for offset, section in zip(offsets, sections):
        header.u64(offset)
        header.u64(len(section))
    header.u64(data_offset)
    header.u64(data_size)
    header.raw(bytes(HEADER_SIZE - 88))
    out = header.getvalue() + b"".join(sections)
    out += bytes(data_offset - len(out))
    out += bytes(data)
    assert len(out) == file_size
    return out


def write_model(model: Model, path: str) -> None:
    """Writes the file atomically: a temporary file in the same folder, renamed at the end."""
    data = serialize(model)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".atrous-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
