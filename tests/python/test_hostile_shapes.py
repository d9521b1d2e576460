"""Hostile shapes and memory needs through the `atrous` CLI (issue 14), every model and `.npy`
generated here: empty tensors whose other dims are huge, dims whose product overflows int64,
models that need more memory than --max-memory allows, and an allocation beyond the process's
address space. Each is one line on stderr with exit 1 (2 for usage), never an abort or a hang.
"""
import os
import resource
import struct
import subprocess

import numpy as np
import pytest

from atrous_convert import writer
from atrous_convert.writer import INT, INTS, Attr, Model, Tensor, write_model


def run(atrous_bin, args, timeout=60, preexec_fn=None):
    r = subprocess.run([atrous_bin, *args], capture_output=True, text=True, errors="replace",
                       timeout=timeout, preexec_fn=preexec_fn)
    assert "terminate called" not in r.stderr and "Traceback" not in r.stderr
    assert r.returncode in (0, 1, 2), f"exit {r.returncode}: {r.stderr}"
    return r


def one_line_error(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atrous: error: "), r.stderr
    return lines[0]


def concat_model(path, constant_shape):
    """Constants a, b of `constant_shape` → concat (axis 0) → relu; x → relu as the input."""
    m = Model()
    x = m.add_tensor(Tensor("x", "float32", (1,)))
    m.inputs = [x]
    a = m.add_constant("a", np.zeros(constant_shape, np.float32))
    b = m.add_constant("b", np.zeros(constant_shape, np.float32))
    joined = m.add_tensor(Tensor("joined"))
    y = m.add_tensor(Tensor("y"))
    z = m.add_tensor(Tensor("z"))
    m.add_node("concat", "concat", [a, b], [joined], {"axis": Attr(INT, 0)})
    m.add_node("relu", "relu", [joined], [y])
    m.add_node("relu", "relu_x", [x], [z])
    m.outputs = [y, z]
    write_model(m, path)
    return path


def resize_model(path, sizes, input_shape=(1, 1, 4, 4)):
    """x → resize to `sizes` → relu."""
    m = Model()
    x = m.add_tensor(Tensor("x", "float32", input_shape))
    m.inputs = [x]
    big = m.add_tensor(Tensor("big"))
    y = m.add_tensor(Tensor("y"))
    m.add_node("resize", "resize", [x], [big], {"sizes": Attr(INTS, list(sizes))})
    m.add_node("relu", "relu", [big], [y])
    m.outputs = [y]
    write_model(m, path)
    return path


def input_model(path, shape):
    """A graph input of `shape` → relu (the writer allows any dims on data-less tensors)."""
    m = Model()
    x = m.add_tensor(Tensor("x", "float32", tuple(shape)))
    m.inputs = [x]
    y = m.add_tensor(Tensor("y"))
    m.add_node("relu", "relu", [x], [y])
    m.outputs = [y]
    # The writer refuses such shapes itself; a hostile file is written without its checks.
    checks = writer.validate
    writer.validate = lambda model: None
    try:
        write_model(m, path)
    finally:
        writer.validate = checks
    return path


def npy_with_shape(path, shape, dtype="<f4"):
    """A .npy header declaring `shape`, followed by no data."""
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join(f"{d}, " for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
    return path


def test_empty_constant_concat_with_huge_dims_is_quick(atrous_bin, tmp_path):
    model = concat_model(str(tmp_path / "m.atrous"), (0, 2 ** 17, 2 ** 17))
    r = run(atrous_bin, ["info", model], timeout=30)
    assert r.returncode == 0, r.stderr
    np.save(tmp_path / "x.npy", np.ones((1,), np.float32))
    for backend in ("reference", "cpu"):
        r = run(atrous_bin, ["run", model, "--input", f"x={tmp_path / 'x.npy'}", "--backend",
                             backend, "--output-dir", str(tmp_path / backend)], timeout=30)
        assert r.returncode == 0, r.stderr
        assert np.load(tmp_path / backend / "y.npy").shape == (0, 2 ** 17, 2 ** 17)


@pytest.mark.parametrize("shape", [(0, 2 ** 40, 2 ** 40), (2 ** 31, 2 ** 31, 2 ** 31, 0),
                                   (2 ** 62, 4), (2 ** 35,)])
def test_overflowing_model_shapes_are_refused(atrous_bin, tmp_path, shape):
    model = input_model(str(tmp_path / "m.atrous"), shape)
    r = run(atrous_bin, ["info", model])
    assert r.returncode == 1
    one_line_error(r)


@pytest.mark.parametrize("shape", [(0, 2 ** 62, 2 ** 62), (2 ** 40, 2 ** 40), (2 ** 63 - 1,),
                                   (3, 2 ** 62)])
def test_overflowing_npy_shapes_are_refused(atrous_bin, tmp_path, shape):
    model = input_model(str(tmp_path / "m.atrous"), (1, 2))
    npy = npy_with_shape(str(tmp_path / "x.npy"), shape)
    assert os.path.getsize(npy) <= 128
    r = run(atrous_bin, ["run", model, "--input", f"x={npy}", "--output-dir", str(tmp_path / "o")])
    assert r.returncode == 1
    one_line_error(r)


def test_model_over_the_memory_limit_is_one_line(atrous_bin, tmp_path):
    # 65536×98304 float32 = 24 GiB of activations, over the default 16 GiB.
    model = resize_model(str(tmp_path / "m.atrous"), (65536, 98304))
    np.save(tmp_path / "x.npy", np.ones((1, 1, 4, 4), np.float32))
    args = ["run", model, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "o")]
    for backend in ("reference", "cpu"):
        r = run(atrous_bin, args + ["--backend", backend])
        assert r.returncode == 1
        line = one_line_error(r)
        assert "24.0 GiB" in line and "over the limit of 16.0 GiB" in line, line
        assert "--max-memory" in line
    r = run(atrous_bin, args + ["--max-memory", "512M"])
    assert r.returncode == 1
    assert "over the limit of 512.0 MiB" in one_line_error(r)
    assert not os.path.exists(tmp_path / "o")
    for bad in ("0", "12Q", "-1G", "100"):
        r = run(atrous_bin, args + ["--max-memory", bad])
        assert r.returncode == 2, (bad, r.stderr)
        assert "--max-memory" in one_line_error(r)


def test_max_memory_on_bench_and_segment(atrous_bin, tmp_path):
    model = resize_model(str(tmp_path / "m.atrous"), (16384, 16384), (1, 3, 4, 4))  # 3 GiB
    r = run(atrous_bin, ["bench", model, "--max-memory", "1G", "--runs", "1"])
    assert r.returncode == 1
    assert "over the limit of 1.0 GiB" in one_line_error(r)
    for command in ("bench", "segment"):
        r = run(atrous_bin, [command, model, "--max-memory", "lots"])
        assert r.returncode == 2
        assert "--max-memory" in one_line_error(r)


def test_allocation_beyond_the_address_space_is_one_line(atrous_bin, tmp_path):
    # The limit lifted past what the process may map: the allocation itself fails, and the
    # top-level handler turns std::bad_alloc into one line instead of an abort.
    model = resize_model(str(tmp_path / "m.atrous"), (16384, 16384))  # 1 GiB per tensor
    np.save(tmp_path / "x.npy", np.ones((1, 1, 4, 4), np.float32))

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))

    r = run(atrous_bin, ["run", model, "--input", f"x={tmp_path / 'x.npy'}", "--max-memory", "1T",
                         "--output-dir", str(tmp_path / "o")], preexec_fn=limit_address_space)
    assert r.returncode == 1
    assert "out of memory" in one_line_error(r)
