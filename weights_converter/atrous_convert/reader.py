"""Parses a `.atrous` file back into the Python IR of writer.py (round-trip tests, inspection).

It checks what it needs to parse safely (bounds, alignment, sizes, trailing bytes) and raises
ValueError with the section and byte offset on a malformed file; the full validation of a file the
runtime will execute is the C++ reader's job.
"""
from __future__ import annotations

import struct
from typing import Dict

import numpy as np

from .writer import (ABSENT, ALIGNMENT, DTYPE_BY_CODE, DTYPES, FLOAT, FLOATS, HEADER_SIZE, INT,
                     INTS, MAGIC, MAX_RANK, NO_DATA, STRING, STRINGS, VERSION_MAJOR, Attr, Model,
                     Node, Tensor)


class _Cursor:
    def __init__(self, data: bytes, offset: int, size: int, section: str):
        self.data = data
        self.start = offset
        self.end = offset + size
        self.position = offset
        self.section = section

    def fail(self, what: str):
        raise ValueError(f"{self.section} section: {what} (at byte {self.position})")

    def take(self, n: int) -> bytes:
        if n < 0 or self.position + n > self.end:
            self.fail(f"needs {n} bytes, {self.end - self.position} left")
        chunk = self.data[self.position:self.position + n]
        self.position += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u8(self):
        return self.unpack("<B")

    def u32(self):
        return self.unpack("<I")

    def u64(self):
        return self.unpack("<Q")

    def i64(self):
        return self.unpack("<q")

    def f64(self):
        return self.unpack("<d")

    def string(self) -> str:
        n = self.u32()
        if n > (1 << 20):
            self.fail(f"string length {n} exceeds 1 MiB")
        return self.take(n).decode("utf-8")

    def count(self, smallest_record: int) -> int:
        n = self.u32()
        if n * smallest_record > self.end - self.position:
            self.fail(f"count {n} exceeds the bytes left")
        return n

    def value(self) -> Attr:
        kind = self.u8()
        if kind == INT:
            return Attr(INT, self.i64())
        if kind == FLOAT:
            return Attr(FLOAT, self.f64())
        if kind == STRING:
            return Attr(STRING, self.string())
        if kind == INTS:
            return Attr(INTS, [self.i64() for _ in range(self.count(8))])
        if kind == FLOATS:
            return Attr(FLOATS, [self.f64() for _ in range(self.count(8))])
        if kind == STRINGS:
            return Attr(STRINGS, [self.string() for _ in range(self.count(4))])
        self.fail(f"unknown value type {kind}")

    def key_values(self) -> Dict[str, Attr]:
        items: Dict[str, Attr] = {}
        for _ in range(self.count(5)):
            key = self.string()
            if key in items:
                self.fail(f"duplicate key '{key}'")
            items[key] = self.value()
        return items

    def finish(self):
        if self.position != self.end:
            self.fail(f"{self.end - self.position} trailing bytes")


def read_bytes(data: bytes) -> Model:
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        raise ValueError("not an .atrous file (bad magic or shorter than the header)")
    major, _minor, file_size = struct.unpack_from("<IIQ", data, 8)
    if major != VERSION_MAJOR:
        raise ValueError(f"unsupported major version {major}")
    if file_size != len(data):
        raise ValueError(f"header file_size {file_size} != real size {len(data)}")
    if any(data[88:HEADER_SIZE]):
        raise ValueError("reserved header bytes are not zero")
    ranges = [struct.unpack_from("<QQ", data, 24 + 16 * i) for i in range(4)]
    names = ["metadata", "tensor", "graph", "data"]
    for name, (offset, size) in zip(names, ranges):
        if offset < HEADER_SIZE or offset + size > len(data):
            raise ValueError(f"{name} section [{offset}, +{size}) lies outside the file")
    data_offset, data_size = ranges[3]
    if data_offset % ALIGNMENT:
        raise ValueError(f"data section offset {data_offset} is not a multiple of {ALIGNMENT}")

    model = Model()
    cursor = _Cursor(data, *ranges[0], "metadata")
    model.metadata = cursor.key_values()
    cursor.finish()

    cursor = _Cursor(data, *ranges[1], "tensor")
    for _ in range(cursor.count(22)):
        name = cursor.string()
        code = cursor.u8()
        if code not in DTYPE_BY_CODE:
            cursor.fail(f"tensor '{name}': unknown dtype {code}")
        rank = cursor.u8()
        if rank > MAX_RANK:
            cursor.fail(f"tensor '{name}': rank {rank} exceeds {MAX_RANK}")
        shape = tuple(cursor.i64() for _ in range(rank))
        offset, size = cursor.u64(), cursor.u64()
        dtype = DTYPE_BY_CODE[code]
        array = None
        if offset != NO_DATA:
            np_dtype = DTYPES[dtype][1]
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if any(d < 0 for d in shape) or size != count * np_dtype.itemsize:
                cursor.fail(f"tensor '{name}': data size {size} does not match {shape} {dtype}")
            if offset % ALIGNMENT or offset + size > data_size:
                cursor.fail(f"tensor '{name}': data [{offset}, +{size}) misaligned or outside")
            start = data_offset + offset
            array = np.frombuffer(data, np_dtype, count, start).reshape(shape).copy()
        elif size != 0:
            cursor.fail(f"tensor '{name}': data-less tensor with data_size {size}")
        model.tensors.append(Tensor(name, dtype, shape, array))
    cursor.finish()

    cursor = _Cursor(data, *ranges[2], "graph")
    model.inputs = [cursor.u32() for _ in range(cursor.count(4))]
    model.outputs = [cursor.u32() for _ in range(cursor.count(4))]
    for _ in range(cursor.count(20)):
        op = cursor.string()
        name = cursor.string()
        inputs = [cursor.u32() for _ in range(cursor.count(4))]
        outputs = [cursor.u32() for _ in range(cursor.count(4))]
        attributes = cursor.key_values()
        model.nodes.append(Node(op, name, [None if i == ABSENT else i for i in inputs], outputs,
                                attributes))
    cursor.finish()
    return model


def read_model(path: str) -> Model:
    with open(path, "rb") as f:
        return read_bytes(f.read())
