"""A reader for TensorFlow 2 checkpoints (the "tensor bundle" format), with NumPy only.

A checkpoint `PREFIX` is `PREFIX.index` plus `PREFIX.data-SSSSS-of-NNNNN` shards. The index is a
LevelDB-style sorted table ("SSTable"): uncompressed blocks of prefix-compressed key/value
records, an index block pointing at them and a 48-byte footer ending in a magic number. Its
values are protocol-buffer messages: under the empty key the bundle header (shard count,
endianness, version), under every other key the tensor's entry (dtype, shape, shard, offset and
size in the shard). The shards hold the raw little-endian tensor bytes.

Only what checkpoints written by `tf.train.Checkpoint` contain is read: dense tensors of the
numeric dtypes below, in one or more shards; string tensors (the object graph) are listed but not
read, sliced (partitioned) variables are refused. Every structural problem is a ConversionError
naming the file and what is wrong.
"""
from __future__ import annotations

import os
import struct
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .errors import ConversionError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type byte + masked CRC32C

# TensorFlow DataType enum values -> NumPy dtype (little endian).
NUMPY_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?",
                17: "<u2", 19: "<f2", 22: "<u4", 23: "<u8"}
DT_STRING = 7
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
               7: "string", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 19: "float16",
               22: "uint32", 23: "uint64"}


class TensorEntry:
    """One tensor of the bundle: where its bytes are and what they are."""

    __slots__ = ("name", "dtype", "shape", "shard", "offset", "size", "sliced")

    def __init__(self, name: str):
        self.name = name
        self.dtype = 0
        self.shape: Tuple[int, ...] = ()
        self.shard = 0
        self.offset = 0
        self.size = 0
        self.sliced = False

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES.get(self.dtype, f"DataType {self.dtype}")


# ---------------------------------------------------------------------------------------------
# Protocol-buffer wire format (only varint, 64-bit, length-delimited and 32-bit fields).


def _varint(data: bytes, pos: int, end: int, what: str) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ConversionError(f"{what}: truncated or malformed varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes, what: str) -> Iterator[Tuple[int, int, object]]:
    """Yields (field number, wire type, value) of a serialized message."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos, end, what)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos, end, what)
        elif wire == 1:
            if pos + 8 > end:
                raise ConversionError(f"{what}: truncated 64-bit field")
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos, end, what)
            if pos + length > end:
                raise ConversionError(f"{what}: truncated length-delimited field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            if pos + 4 > end:
                raise ConversionError(f"{what}: truncated 32-bit field")
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ConversionError(f"{what}: unsupported protobuf wire type {wire}")
        yield number, wire, value


def _parse_shape(data: bytes, what: str) -> Tuple[int, ...]:
    dims: List[int] = []
    for number, wire, value in _fields(data, what):
        if number == 2 and wire == 2:  # TensorShapeProto.dim
            size = 0
            for n, w, v in _fields(value, what):
                if n == 1 and w == 0:
                    size = v - (1 << 64) if v >= 1 << 63 else v
            dims.append(size)
        elif number == 3 and wire == 0 and value:  # unknown_rank
            raise ConversionError(f"{what}: tensor of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, data: bytes, what: str) -> TensorEntry:
    entry = TensorEntry(name)
    for number, wire, value in _fields(data, what):
        if number == 1 and wire == 0:
            entry.dtype = value
        elif number == 2 and wire == 2:
            entry.shape = _parse_shape(value, what)
        elif number == 3 and wire == 0:
            entry.shard = value
        elif number == 4 and wire == 0:
            entry.offset = value
        elif number == 5 and wire == 0:
            entry.size = value
        elif number == 7:
            entry.sliced = True
    if any(d < 0 for d in entry.shape):
        raise ConversionError(f"{what}: negative dimension in shape {list(entry.shape)}")
    return entry


# ---------------------------------------------------------------------------------------------
# The sorted table of the index file.


def _block(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset + size + BLOCK_TRAILER > len(data):
        raise ConversionError(f"{what}: block at {offset} (+{size}) runs past the end of the file "
                              f"({len(data)} bytes): truncated?")
    compression = data[offset + size]
    if compression != 0:
        raise ConversionError(f"{what}: compressed table block (type {compression}) is not "
                              "supported")
    return data[offset:offset + size]


def _block_records(block: bytes, what: str) -> Iterator[Tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ConversionError(f"{what}: table block too short")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    if restarts == 0 or end < 0:
        raise ConversionError(f"{what}: malformed table block (restart count {restarts})")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos, end, what)
        unshared, pos = _varint(block, pos, end, what)
        length, pos = _varint(block, pos, end, what)
        if shared > len(key) or pos + unshared + length > end:
            raise ConversionError(f"{what}: malformed record in table block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def _handle(data: bytes, pos: int, what: str) -> Tuple[int, int, int]:
    offset, pos = _varint(data, pos, len(data), what)
    size, pos = _varint(data, pos, len(data), what)
    return offset, size, pos


def read_table(data: bytes, what: str) -> Iterator[Tuple[bytes, bytes]]:
    """Yields the (key, value) records of an SSTable held in `data`, in key order."""
    if len(data) < FOOTER_SIZE:
        raise ConversionError(f"{what}: {len(data)} bytes is too short for a checkpoint index "
                              "(truncated?)")
    footer = data[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != TABLE_MAGIC:
        raise ConversionError(f"{what}: not a TensorFlow checkpoint index (bad table magic; "
                              "truncated or another file?)")
    _, _, pos = _handle(footer, 0, what)  # the meta-index block: nothing in it is needed
    index_offset, index_size, _ = _handle(footer, pos, what)
    body = data[:-FOOTER_SIZE]
    for _, handle in _block_records(_block(body, index_offset, index_size, what), what):
        offset, size, _ = _handle(handle, 0, what)
        yield from _block_records(_block(body, offset, size, what), what)


# ---------------------------------------------------------------------------------------------


class Checkpoint:
    """The tensors of a checkpoint `prefix`: `entries` by name; `read(name)` gives the array."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        for suffix in (".index", ".data-00000-of-00001"):
            if prefix.endswith(suffix):  # accept the name of either file for the prefix
                self.prefix = prefix = prefix[:-len(suffix)]
        index_path = prefix + ".index"
        try:
            with open(index_path, "rb") as f:
                index = f.read()
        except OSError as error:
            raise ConversionError(f"cannot read checkpoint index '{index_path}': "
                                  f"{error.strerror}") from None
        what = f"checkpoint index '{index_path}'"
        self.entries: Dict[str, TensorEntry] = {}
        self.num_shards: Optional[int] = None
        for key, value in read_table(index, what):
            if key == b"":
                self._header(value, what)
                continue
            name = key.decode("utf-8", "replace")
            self.entries[name] = _parse_entry(name, value, f"{what}, entry '{name}'")
        if self.num_shards is None:
            raise ConversionError(f"{what}: no bundle header (not a TensorFlow 2 checkpoint?)")
        self._shards: Dict[int, bytes] = {}

    def _header(self, value: bytes, what: str) -> None:
        self.num_shards = 1
        for number, wire, field in _fields(value, what + " header"):
            if number == 1 and wire == 0:
                self.num_shards = field
            elif number == 2 and wire == 0 and field != 0:  # 0 little, 1 big endian
                raise ConversionError(f"{what}: big-endian checkpoints are not supported")
        if not 1 <= self.num_shards <= 100000:
            raise ConversionError(f"{what}: implausible shard count {self.num_shards}")

    def shard_path(self, shard: int) -> str:
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def _shard(self, shard: int) -> bytes:
        if shard not in self._shards:
            path = self.shard_path(shard)
            try:
                with open(path, "rb") as f:
                    self._shards[shard] = f.read()
            except OSError as error:
                raise ConversionError(f"cannot read checkpoint data '{path}': "
                                      f"{error.strerror}") from None
        return self._shards[shard]

    def read(self, name: str) -> np.ndarray:
        entry = self.entries[name]
        what = f"checkpoint tensor '{name}'"
        if entry.sliced:
            raise ConversionError(f"{what} is partitioned into slices; not supported")
        if entry.dtype not in NUMPY_DTYPES:
            raise ConversionError(f"{what} has dtype {entry.dtype_name}; not supported")
        if entry.shard >= self.num_shards:
            raise ConversionError(f"{what}: shard {entry.shard} of {self.num_shards}")
        dtype = np.dtype(NUMPY_DTYPES[entry.dtype])
        count = int(np.prod(entry.shape, dtype=np.int64)) if entry.shape else 1
        if entry.size != count * dtype.itemsize:
            raise ConversionError(f"{what}: {entry.size} bytes for shape {list(entry.shape)} of "
                                  f"{entry.dtype_name}")
        data = self._shard(entry.shard)
        if entry.offset + entry.size > len(data):
            raise ConversionError(f"{what}: bytes {entry.offset}..{entry.offset + entry.size} lie "
                                  f"past the end of '{self.shard_path(entry.shard)}' ({len(data)} "
                                  "bytes): truncated?")
        array = np.frombuffer(data, dtype, count, entry.offset).reshape(entry.shape)
        return array.astype(dtype.newbyteorder("="))


def is_checkpoint_prefix(path: str) -> bool:
    return os.path.exists(path + ".index") or path.endswith(".index")
