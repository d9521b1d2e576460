"""The `.atrous` writer against docs/FORMAT.md: byte layout, round trip, validation, atomicity."""
import os
import struct

import numpy as np
import pytest

from atrous_convert import ConversionError
from atrous_convert.reader import read_bytes, read_model
from atrous_convert.writer import (ABSENT, ALIGNMENT, FLOAT, FLOATS, HEADER_SIZE, INT, INTS, MAGIC,
                                   NO_DATA, STRING, STRINGS, Attr, Model, Tensor, attr_float,
                                   attr_floats, attr_int, attr_ints, attr_string, attr_strings,
                                   serialize, write_model)


def sample_model() -> Model:
    model = Model()
    x = model.add_tensor(Tensor("x", "float32", (1, 3, 5, 7)))
    weight = model.add_constant("conv.weight", np.arange(4 * 3 * 9, dtype=np.float32).reshape(4, 3, 3, 3))
    bias = model.add_constant("conv.bias", np.array([1.5, -2, 0, 3], np.float32))
    y = model.add_tensor(Tensor("y", "float32", (1, 4, 5, 7)))
    z = model.add_tensor(Tensor("z", "int32", None))
    model.add_constant("scalar", np.array(7, np.int64))
    model.add_constant("bytes", np.array([1, 2, 255], np.uint8))
    model.add_constant("empty", np.zeros((0, 3), np.int32))
    model.add_node("conv", "conv0", [x, weight, bias], [y],
                   {"pads": attr_ints([1, 1, 1, 1]), "group": attr_int(1), "auto_pad": attr_string("explicit"),
                    "activation_params": attr_floats([0.0, 6.0])})
    model.add_node("argmax", "", [y, None], [z], {"axis": attr_int(1), "keepdims": attr_int(-1),
                                                  "scale": attr_float(-0.125),
                                                  "names": attr_strings(["a", "βγ", ""])})
    model.inputs = [x]
    model.outputs = [z, y]
    model.metadata = {"producer": attr_string("test"), "labels": attr_strings(["cat", "dog"]),
                      "input_mean": attr_floats([127.5, 127.5, 127.5]), "label_divisor": attr_int(1000),
                      "center_threshold": attr_float(0.1), "thing_classes": attr_ints([11, 12])}
    return model


def test_round_trip_preserves_everything():
    original = sample_model()
    parsed = read_bytes(serialize(original))
    assert parsed.inputs == original.inputs and parsed.outputs == original.outputs
    assert parsed.metadata == original.metadata
    assert list(parsed.metadata) == list(original.metadata)  # order kept
    for a, b in zip(parsed.tensors, original.tensors):
        assert (a.name, a.dtype) == (b.name, b.dtype)
        assert a.shape == (b.shape if b.shape is not None else ())
        if b.data is None:
            assert a.data is None
        else:
            assert a.data.dtype == b.data.dtype
            np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(parsed.nodes, original.nodes):
        assert (a.op, a.name, a.inputs, a.outputs, a.attributes) == (b.op, b.name, b.inputs, b.outputs, b.attributes)


def test_header_and_alignment_follow_the_format():
    data = serialize(sample_model())
    assert data[:8] == MAGIC == b"ATROUS\0\0"
    major, minor, file_size = struct.unpack_from("<IIQ", data, 8)
    assert (major, minor, file_size) == (1, 0, len(data))
    sections = [struct.unpack_from("<QQ", data, 24 + 16 * i) for i in range(4)]
    assert data[88:128] == bytes(40)
    assert sections[0][0] == HEADER_SIZE
    for (offset, size), (next_offset, _) in zip(sections[:3], sections[1:]):
        assert offset + size <= next_offset  # ordered, no overlap
    data_offset, data_size = sections[3]
    assert data_offset % ALIGNMENT == 0 and data_offset + data_size == len(data)
    # Walk the tensor table: every constant is 64-byte aligned within the data section.
    position = sections[1][0]
    (count,) = struct.unpack_from("<I", data, position)
    position += 4
    seen_constant = 0
    for _ in range(count):
        (length,) = struct.unpack_from("<I", data, position)
        position += 4 + length
        dtype, rank = data[position], data[position + 1]
        position += 2 + 8 * rank
        offset, size = struct.unpack_from("<QQ", data, position)
        position += 16
        assert dtype in (1, 2, 3, 4)
        if offset != NO_DATA:
            assert offset % ALIGNMENT == 0 and offset + size <= data_size
            seen_constant += 1
        else:
            assert size == 0
    assert seen_constant == 5


def test_absent_input_is_encoded_as_all_ones():
    data = serialize(sample_model())
    offset, size = struct.unpack_from("<QQ", data, 56)
    assert struct.pack("<I", ABSENT) in data[offset:offset + size]


def test_value_encodings_are_typed():
    model = Model(metadata={"i": Attr(INT, -5), "f": Attr(FLOAT, 0.5), "s": Attr(STRING, "é"),
                            "is": Attr(INTS, [1, -2]), "fs": Attr(FLOATS, [1.0]), "ss": Attr(STRINGS, ["a", "bc"])})
    data = serialize(model)
    offset, size = struct.unpack_from("<QQ", data, 24)
    expected = (struct.pack("<I", 6)
                + struct.pack("<I", 1) + b"i" + b"\x01" + struct.pack("<q", -5)
                + struct.pack("<I", 1) + b"f" + b"\x02" + struct.pack("<d", 0.5)
                + struct.pack("<I", 1) + b"s" + b"\x03" + struct.pack("<I", 2) + "é".encode()
                + struct.pack("<I", 2) + b"is" + b"\x04" + struct.pack("<Iqq", 2, 1, -2)
                + struct.pack("<I", 2) + b"fs" + b"\x05" + struct.pack("<Id", 1, 1.0)
                + struct.pack("<I", 2) + b"ss" + b"\x06" + struct.pack("<I", 2)
                + struct.pack("<I", 1) + b"a" + struct.pack("<I", 2) + b"bc")
    assert data[offset:offset + size] == expected


def test_model_without_constants_has_an_empty_data_section():
    model = Model()
    x = model.add_tensor(Tensor("x", "float32", (2, 2)))
    y = model.add_tensor(Tensor("y", "float32", (2, 2)))
    model.add_node("relu", "r", [x], [y])
    model.inputs, model.outputs = [x], [y]
    data = serialize(model)
    offset, size = struct.unpack_from("<QQ", data, 72)
    assert size == 0 and offset == len(data) and offset % ALIGNMENT == 0
    assert read_bytes(data).nodes[0].op == "relu"


@pytest.mark.parametrize("breakage, message", [
    (lambda m: setattr(m.tensors[3], "name", "x"), "duplicate tensor name"),
    (lambda m: setattr(m.tensors[3], "name", ""), "empty name"),
    (lambda m: m.nodes.reverse(), "topological order"),
    (lambda m: m.nodes[1].outputs.append(3), "produced twice"),
    (lambda m: m.nodes[0].outputs.__setitem__(0, 1), "constant"),
    (lambda m: setattr(m.tensors[0], "shape", (1, -1, 5, 7)), "known dims"),
    (lambda m: m.nodes[0].inputs.append(99), "out of range"),
    (lambda m: m.nodes[0].attributes.__setitem__("bad", 3), "typed Attr"),
    (lambda m: setattr(m.tensors[0], "dtype", "float16"), "unknown dtype"),
    (lambda m: setattr(m.tensors[1], "shape", (4, 3, 3)), "data shape"),
    (lambda m: m.outputs.append(m.add_tensor(Tensor("orphan"))), "never produced"),
])
def test_validation_rejects_broken_models(breakage, message):
    model = sample_model()
    breakage(model)
    with pytest.raises(ConversionError, match=message):
        serialize(model)


def test_write_is_atomic(tmp_path):
    path = tmp_path / "model.atrous"
    write_model(sample_model(), str(path))
    good = path.read_bytes()
    assert read_model(str(path)).metadata["producer"].value == "test"
    broken = sample_model()
    broken.nodes.reverse()
    with pytest.raises(ConversionError):
        write_model(broken, str(path))
    assert path.read_bytes() == good  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["model.atrous"]  # no temporary left behind


def test_reader_rejects_truncation_and_trailing_bytes():
    data = serialize(sample_model())
    with pytest.raises(ValueError, match="file_size"):
        read_bytes(data[:-1])
    corrupt = bytearray(data)
    offset, size = struct.unpack_from("<QQ", data, 24)
    struct.pack_into("<QQ", corrupt, 24, offset, size + 1)  # metadata claims one more byte
    with pytest.raises(ValueError):
        read_bytes(bytes(corrupt))
