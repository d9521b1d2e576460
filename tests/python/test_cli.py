"""The `atrous-convert` command: metadata flags and their types, and its error contract (one line
`atrous-convert: error: ...` on stderr, exit status 2, no output file)."""
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from atrous_convert.reader import read_model
from atrous_convert.writer import FLOAT, FLOATS, INT, INTS, STRING, STRINGS
from onnx_helpers import make_model

CONVERTER_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "weights_converter")


def run_cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = CONVERTER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "atrous_convert", *map(str, args)],
                          capture_output=True, text=True, env=env)


@pytest.fixture
def relu_onnx(tmp_path):
    path = tmp_path / "relu.onnx"
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"], name="relu0")], {"x": (1, 3, 8, 8)}, ["y"]),
              str(path))
    return path


def test_metadata_flags_get_documented_types(relu_onnx, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("road\nsidewalk\nperson, rider\n\n")
    out = tmp_path / "m.atrous"
    result = run_cli(relu_onnx, "-o", out, "--task", "panoptic", "--labels-file", labels,
                     "--thing-classes", "11,12,13", "--input-mean", "127.5,127.5,127.5",
                     "--input-std", "127.5,127.5,127.5", "--input-size", "1025x2049",
                     "--meta", "label_divisor=1000", "--meta", "void_label=255", "--meta", "nms_kernel=7",
                     "--meta", "top_k=200", "--meta", "stuff_area_limit=2048.0",
                     "--meta", "center_threshold=1", "--meta", "dataset=cityscapes",
                     "--meta", "version=3", "--meta", "ratio=0.25", "--meta", "rates:ints=6,12,18",
                     "--meta", "weights:floats=0.5,1", "--meta", "names:strings=a,b c",
                     "--meta", "count:int=4", "--meta", "gain:float=2", "--meta", "tag:string=42")
    assert result.returncode == 0, result.stderr
    metadata = read_model(str(out)).metadata
    expected = {
        "task": (STRING, "panoptic"), "labels": (STRINGS, ["road", "sidewalk", "person, rider"]),
        "thing_classes": (INTS, [11, 12, 13]), "input_mean": (FLOATS, [127.5] * 3),
        "input_std": (FLOATS, [127.5] * 3), "input_size": (INTS, [1025, 2049]),
        "label_divisor": (INT, 1000), "void_label": (INT, 255), "nms_kernel": (INT, 7), "top_k": (INT, 200),
        "stuff_area_limit": (INT, 2048), "center_threshold": (FLOAT, 1.0), "dataset": (STRING, "cityscapes"),
        "version": (INT, 3), "ratio": (FLOAT, 0.25), "rates": (INTS, [6, 12, 18]),
        "weights": (FLOATS, [0.5, 1.0]), "names": (STRINGS, ["a", "b c"]), "count": (INT, 4),
        "gain": (FLOAT, 2.0), "tag": (STRING, "42"),
    }
    for key, (kind, value) in expected.items():
        assert tuple(metadata[key]) == (kind, value), key
        assert type(metadata[key].value) is type(value)
    assert metadata["producer"].kind == STRING and metadata["producer"].value.startswith("atrous-convert ")
    assert metadata["source"].kind == STRING and "relu.onnx" in metadata["source"].value
    assert "opset 13" in metadata["source"].value


def test_labels_flag_and_source_override(relu_onnx, tmp_path):
    out = tmp_path / "m.atrous"
    result = run_cli(relu_onnx, "-o", out, "--labels", "a,b,c", "--task", "semantic",
                     "--meta", "source=my network")
    assert result.returncode == 0, result.stderr
    assert out.name in result.stdout
    metadata = read_model(str(out)).metadata
    assert tuple(metadata["labels"]) == (STRINGS, ["a", "b", "c"])
    assert metadata["source"].value == "my network"


@pytest.mark.parametrize("args, message", [
    (["--meta", "label_divisor=abc"], "label_divisor"),
    (["--meta", "center_threshold:string=x"], "center_threshold"),
    (["--meta", "top_k=2.5"], "top_k"),
    (["--meta", "novalue"], "KEY=VALUE"),
    (["--meta", "k:complex=1"], "unknown type"),
    (["--meta", "producer=me"], "producer"),
    (["--task", "detection"], "detection"),
    (["--task", "semantic", "--meta", "task=semantic"], "twice"),
    (["--meta", "task=detection"], "task"),
    (["--input-size", "224"], "HxW"),
    (["--thing-classes", "1,x"], "thing_classes"),
    (["--labels", "a", "--labels-file", "f"], "not allowed with"),
    (["--labels-file", "/nonexistent/labels.txt"], "labels file"),
    (["--input-shape", "y=1x3x8x8"], "not a graph input"),
    (["--input-shape", "x=1x3x9x8"], "conflicts"),
    (["--bogus"], "unrecognized"),
])
def test_bad_arguments_fail_with_one_line_and_no_file(relu_onnx, tmp_path, args, message):
    out = tmp_path / "m.atrous"
    result = run_cli(relu_onnx, "-o", out, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atrous-convert: error: "), result.stderr
    assert message in lines[0]
    assert not out.exists()
    assert os.listdir(tmp_path) == ["relu.onnx"]


def test_unsupported_op_names_op_and_node_and_keeps_old_file(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["r"], name="relu0"),
                        helper.make_node("Hardmax", ["r"], ["y"], name="head/hardmax")],
                       {"x": (1, 2, 4, 4)}, ["y"])
    source = tmp_path / "leaky.onnx"
    onnx.save(model, str(source))
    out = tmp_path / "m.atrous"
    out.write_bytes(b"previous")
    result = run_cli(source, "-o", out)
    assert result.returncode == 1
    assert result.stderr.strip() == \
        "atrous-convert: error: unsupported ONNX operator: Hardmax ×1 (opset 13; first node: 'head/hardmax')"
    assert out.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["leaky.onnx", "m.atrous"]


def test_missing_model_and_unwritable_output(tmp_path, relu_onnx):
    result = run_cli(tmp_path / "missing.onnx", "-o", tmp_path / "m.atrous")
    assert result.returncode == 1 and "missing.onnx" in result.stderr
    result = run_cli(relu_onnx, "-o", tmp_path / "no" / "such" / "dir" / "m.atrous")
    assert result.returncode == 1 and result.stderr.startswith("atrous-convert: error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_dynamic_input_needs_input_shape(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ("N", 3, "H", "W")}, ["y"])
    source = tmp_path / "dynamic.onnx"
    onnx.save(model, str(source))
    out = tmp_path / "m.atrous"
    result = run_cli(source, "-o", out)
    assert result.returncode == 1
    assert "'x'" in result.stderr and "--input-shape" in result.stderr and "[N,3,H,W]" in result.stderr
    assert not out.exists()
    result = run_cli(source, "-o", out, "--input-shape", "x=1x3x17x23")
    assert result.returncode == 0, result.stderr
    ir = read_model(str(out))
    assert ir.tensors[ir.inputs[0]].shape == (1, 3, 17, 23)


def test_no_fold_flag_keeps_batch_norm(tmp_path):
    rng = np.random.default_rng(0)
    inits = {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)}
    for name, low in (("s", 0.5), ("b", -1), ("m", -1), ("v", 0.5)):
        inits[name] = rng.uniform(low, 1.5, 4).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "W"], ["c"]),
                        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])],
                       {"x": (1, 3, 8, 8)}, ["y"], inits)
    source = tmp_path / "convbn.onnx"
    onnx.save(model, str(source))
    for flag, ops in (([], ["conv"]), (["--no-fold"], ["conv", "batch_norm"])):
        result = run_cli(source, "-o", tmp_path / "m.atrous", *flag)
        assert result.returncode == 0, result.stderr
        assert [n.op for n in read_model(str(tmp_path / "m.atrous")).nodes] == ops
