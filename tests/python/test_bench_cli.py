"""`atrous bench`: the report (text and --json) for a built architecture and for a model file,
and its errors (unknown architecture, bad size, --size on a fixed-shape file, missing model)."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from onnx_helpers import make_model

CONVERTER_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "weights_converter")
ARCH = "panoptic-deeplab-mnv3s-os32"


def bench(binary, *args):
    return subprocess.run([binary, "bench", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def conv_model(tmp_path):
    """A converted two-conv model with a fixed [1,3,17,23] input."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="c2")]
    initializers = {"w1": rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32),
                    "b1": rng.normal(0, 0.1, 8).astype(np.float32),
                    "w2": rng.normal(0, 0.5, (4, 8, 1, 1)).astype(np.float32)}
    onnx_path, out = tmp_path / "conv.onnx", tmp_path / "conv.atrous"
    onnx.save(make_model(nodes, {"x": (1, 3, 17, 23)}, ["y"], initializers), str(onnx_path))
    env = dict(os.environ)
    env["PYTHONPATH"] = CONVERTER_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "atrous_convert", str(onnx_path), "-o", str(out)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return out


def test_bench_arch_text_and_json(atrous_bin, tmp_path):
    report = tmp_path / "bench.json"
    result = bench(atrous_bin, "--arch", ARCH, "--size", "65x129", "--runs", 2, "--warmup", 1,
                   "--profile", "--json", report)
    assert result.returncode == 0, result.stderr
    for word in ("median", "p90", "GFLOP/s", "arena", "unplanned", "peak RSS", "top nodes"):
        assert word in result.stdout
    data = json.loads(report.read_text())
    assert data["arch"] == ARCH and data["input_shape"] == [1, 3, 65, 129]
    assert data["runs"] == 2 and data["warmup"] == 1 and len(data["latency_ms"]["all"]) == 2
    latency = data["latency_ms"]
    assert 0 < latency["min"] <= latency["median"] <= latency["p90"] == max(latency["all"])
    # The same count `atrous info --arch` reports.
    info = subprocess.run([atrous_bin, "info", "--arch", ARCH, "--size", "65x129", "--json"],
                          capture_output=True, text=True)
    assert data["multiply_adds"] == json.loads(info.stdout)["multiply_adds"] > 0
    assert data["gflops"] == pytest.approx(2 * data["multiply_adds"] / latency["median"] / 1e6)
    assert 0 < data["arena_bytes"] < data["unplanned_bytes"]
    assert data["peak_rss_bytes"] > data["arena_bytes"]
    by_op = data["profile"]["by_op"]
    assert sum(g["percent"] for g in by_op) == pytest.approx(100, abs=1e-6)
    assert [g["ms_per_run"] for g in by_op] == sorted((g["ms_per_run"] for g in by_op), reverse=True)
    ops = {g["op"] for g in by_op}
    assert {"conv", "resize", "concat", "average_pool"} <= ops
    # Every node of the optimized graph is counted once.
    assert sum(g["nodes"] for g in by_op) == json.loads(info.stdout)["nodes_optimized"]
    top = data["profile"]["top_nodes"]
    assert len(top) == min(15, data_nodes := sum(g["nodes"] for g in by_op))
    # --top: the table's length; 0 lists every node, slowest first.
    for count, expected in ((3, 3), (0, data_nodes)):
        result = bench(atrous_bin, "--arch", ARCH, "--size", "65x129", "--runs", 1, "--warmup", 0,
                       "--profile", "--top", count, "--json", report)
        assert result.returncode == 0, result.stderr
        top = json.loads(report.read_text())["profile"]["top_nodes"]
        assert len(top) == expected
        times = [n["ms_per_run"] for n in top]
        assert times == sorted(times, reverse=True)


def test_bench_model_file_reference_backend(atrous_bin, conv_model, tmp_path):
    report = tmp_path / "r.json"
    result = bench(atrous_bin, conv_model, "--backend", "reference", "--runs", 3, "--warmup", 0,
                   "--threads", 2, "--json", report)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["backend"] == "reference" and data["threads"] == 2 and data["runs"] == 3
    assert data["input_shape"] == [1, 3, 17, 23]
    assert data["multiply_adds"] == 8 * 17 * 23 * 27 + 4 * 17 * 23 * 8
    assert "profile" not in data
    # --size that equals the file's input is accepted.
    assert bench(atrous_bin, conv_model, "--size", "17x23", "--runs", 1).returncode == 0


@pytest.mark.parametrize("args,message", [
    (["--arch", "panoptic-deeplab-nope"], "unknown architecture 'panoptic-deeplab-nope'"),
    (["--arch", ARCH, "--size", "65x"], "--size wants HxW"),
    (["--arch", ARCH, "--size", "-65x129"], "--size wants HxW"),
    (["--arch", ARCH, "--size", "0x129"], "--size wants HxW"),
    (["--arch", ARCH, "--runs", "0"], "--runs needs a number"),
    (["--arch", ARCH, "--top", "-1"], "--top needs a number"),
    (["--arch", ARCH, "--threads", "x"], "--threads needs a number"),
    (["--arch", ARCH, "--backend", "gpu"], "--backend must be"),
    (["--arch", ARCH, "--frobnicate"], "unknown option '--frobnicate'"),
    ([], "give a model file or --arch"),
    (["no/such/model.atrous"], "no/such/model.atrous"),
])
def test_bench_errors(atrous_bin, args, message):
    result = bench(atrous_bin, *args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


def test_bench_size_on_fixed_file_and_both_sources(atrous_bin, conv_model):
    result = bench(atrous_bin, conv_model, "--size", "33x65")
    assert result.returncode != 0
    assert "fixed input shape [1,3,17,23]" in result.stderr and "--size 33x65" in result.stderr
    result = bench(atrous_bin, conv_model, "--arch", ARCH)
    assert result.returncode != 0 and "not both" in result.stderr
