"""The converter records the shape of every intermediate and output tensor it infers with its
Python shape rules (atrous_convert/shapes.py); the runtime checks each record against its own C++
shape rules when it loads a model, so the two sets of rules cannot drift apart unnoticed."""
import subprocess

import numpy as np
from onnx import helper

from atrous_convert import convert, shapes
from atrous_convert.reader import read_model
from onnx_helpers import make_model


def conv_model():
    weight = np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["y"], ["z"], name="relu0")]
    return make_model(nodes, {"x": (1, 3, 5, 5)}, ["z"], {"w": weight})


def info(atrous_bin, path):
    return subprocess.run([atrous_bin, "info", str(path)], capture_output=True, text=True)


def recorded_shapes(path):
    model = read_model(str(path))
    return {t.name: tuple(t.shape) for t in model.tensors if t.data is None}


def test_recorded_shapes_agree_with_the_runtime(atrous_bin, tmp_path):
    path = tmp_path / "conv.atrous"
    convert(conv_model(), str(path))
    recorded = recorded_shapes(path)
    assert recorded["y"] == (1, 8, 5, 5) and recorded["z"] == (1, 8, 5, 5)
    result = info(atrous_bin, path)
    assert result.returncode == 0, result.stderr


def test_a_drifted_python_shape_rule_is_refused_at_load(atrous_bin, tmp_path, monkeypatch):
    right_rule = shapes._RULES["conv"]

    def conv_forgetting_pads(attributes, input_shapes):
        return right_rule({k: v for k, v in attributes.items() if k != "pads"}, input_shapes)

    monkeypatch.setitem(shapes._RULES, "conv", conv_forgetting_pads)
    path = tmp_path / "drifted.atrous"
    convert(conv_model(), str(path))
    assert recorded_shapes(path)["y"] == (1, 8, 3, 3)
    result = info(atrous_bin, path)
    assert result.returncode != 0
    assert ("tensor 'y' (output of conv 'conv0'): the file records [1,8,3,3] but the shape rules "
            "give [1,8,5,5]; the converter and the runtime disagree") in result.stderr, result.stderr
