"""Writes TensorFlow 2 checkpoints (tensor bundles) for the converter's tests, without TensorFlow.

The layout the converter's reader (weights_converter/atrous_convert/tf_checkpoint.py) parses:
`PREFIX.index`, a sorted table (one data block of key/value records, an empty meta-index block,
an index block, a 48-byte footer with the table magic) whose values are the bundle header (key
"") and one entry per tensor; `PREFIX.data-00000-of-00001`, the tensors' bytes. Block checksums
are written as zero (the reader does not check them). Test-only: the committed fixtures were
written by TensorFlow itself.
"""
import struct

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
          np.dtype("int64"): 9}


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, data: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry_proto(dtype: int, shape, offset: int, size: int) -> bytes:
    dims = b"".join(field_bytes(2, field_varint(1, d)) for d in shape)
    out = field_varint(1, dtype) + field_bytes(2, dims)
    if offset:
        out += field_varint(4, offset)
    if size:
        out += field_varint(5, size)
    return out


def block(records) -> bytes:
    body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in records)
    return body + struct.pack("<II", 0, 1)


def table(records) -> bytes:
    """An SSTable holding `records` (sorted (key, value) byte pairs)."""
    out = bytearray()

    def put(data: bytes):
        offset = len(out)
        out.extend(data + b"\0" + b"\0\0\0\0")  # compression none, checksum not checked
        return varint(offset) + varint(len(data))

    data_handle = put(block(records))
    meta_handle = put(block([]))
    last_key = records[-1][0] if records else b""
    index_handle = put(block([(last_key, data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out) + footer


def write_bundle(prefix: str, tensors, raw_entries=None) -> None:
    """Writes `tensors` (name -> array) as a checkpoint; `raw_entries` (name -> serialized entry
    bytes) are added as they are, for malformed cases."""
    data = bytearray()
    records = {b"": field_varint(1, 1) + field_bytes(3, field_varint(1, 1))}
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
        records[name.encode()] = entry_proto(DTYPES[array.dtype], array.shape, len(data),
                                             len(blob))
        data.extend(blob)
    for name, raw in (raw_entries or {}).items():
        records[name.encode()] = raw
    with open(prefix + ".index", "wb") as f:
        f.write(table(sorted(records.items())))
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(bytes(data))
