"""Hostile converter inputs: every failure is one line, `atrous-convert: error: ...` with exit
status 1 (a model that cannot be converted), never a Python traceback. The TFLite files are deterministic mutations of the bundled
models (seeded word changes in the flatbuffer's tables and truncations); the ONNX files are
generated here."""
import contextlib
import glob
import io
import os
import random

import onnx
import pytest
from onnx import TensorProto, helper

from atrous_convert import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(os.path.dirname(HERE), "assets", "models")


def convert_in_process(source, out):
    """cli.main in this process (200 subprocesses would be slow); an exception escaping main()
    is what a user would see as a traceback, so it fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main([str(source), "-o", str(out)])
    return code, err.getvalue()


def assert_clean_failure_or_success(code, stderr, out):
    if code == 0:
        assert out.exists()
        return
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1, stderr
    assert lines[0].startswith("atrous-convert: error: "), stderr
    # The converter's last-resort handler must not be what answered: every known cause has
    # its own message.
    assert "internal error" not in lines[0], stderr
    assert not out.exists()


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    if rng.random() < 0.2:
        return bytes(data[:rng.randrange(8, len(data))])
    # Flatbuffer tables, vectors' lengths and offsets sit at both ends of these files (the middle
    # is mostly weights): change 1-4 aligned 32-bit words there.
    span = max(64, len(data) // 50)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(span) if rng.random() < 0.5 else len(data) - 1 - rng.randrange(span)
        pos &= ~3
        word = int.from_bytes(data[pos:pos + 4], "little")
        choice = rng.random()
        if choice < 0.3:
            word ^= 1 << rng.randrange(32)
        elif choice < 0.6:
            word = (word + rng.choice([-8, -4, -1, 1, 4, 8, 256, 65536])) & 0xFFFFFFFF
        else:
            word = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, rng.randrange(1 << 32)])
        data[pos:pos + 4] = word.to_bytes(4, "little")
    return bytes(data)


def test_mutated_tflite_files_fail_cleanly(tmp_path):
    models = sorted(glob.glob(os.path.join(ASSETS, "*.tflite")))
    assert len(models) >= 5, ASSETS
    originals = [open(path, "rb").read() for path in models]
    rng = random.Random(14)
    failures = 0
    for k in range(200):
        source = tmp_path / f"mutant{k}.tflite"
        source.write_bytes(mutate(originals[k % len(originals)], rng))
        out = tmp_path / f"mutant{k}.atrous"
        code, stderr = convert_in_process(source, out)
        assert_clean_failure_or_success(code, stderr, out)
        failures += code != 0
        if out.exists():
            out.unlink()
        source.unlink()
    assert failures >= 40  # the mutations reach the parser, not only the weights


def _model_with_initializer(initializer, shape=(1, 2)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Add", ["x", initializer.name], ["y"])], "g", [x], [y],
                              [initializer])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _initializer(dims, values=None):
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    if values is not None:
        t.float_data.extend(values)
    return t


@pytest.mark.parametrize("dims,values,message", [
    ([1, 2], None, "initializer 'w': cannot read its data of shape [1, 2]"),
    ([1, 2], [1.0], "initializer 'w': cannot read its data of shape [1, 2]"),
    ([2, -1], None, "initializer 'w' has a negative dimension in [2, -1]"),
    ([-3], [], "initializer 'w' has a negative dimension in [-3]"),
])
def test_onnx_initializers_without_data_or_with_negative_dims(tmp_path, dims, values, message):
    source = tmp_path / "m.onnx"
    onnx.save(_model_with_initializer(_initializer(dims, values)), str(source))
    out = tmp_path / "m.atrous"
    code, stderr = convert_in_process(source, out)
    assert code == 1 and stderr.startswith("atrous-convert: error: " + message), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_inputs_beyond_the_runtime_limit_are_refused(tmp_path):
    # 10^12 pixels: the runtime refuses tensors above 2^34 elements (graph/tensor.h), so the
    # converter does not write such a model.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1000000, 1000000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    source = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(source))
    out = tmp_path / "big.atrous"
    code, stderr = convert_in_process(source, out)
    assert code == 1, stderr
    assert "shape [1, 1, 1000000, 1000000] has more than 2^34 elements, the runtime's limit" in stderr
    assert not out.exists()
    # At the limit itself a model is written (2^34 = 131072 x 131072).
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 131072, 131072])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(source))
    code, stderr = convert_in_process(source, out)
    assert code == 0, stderr
