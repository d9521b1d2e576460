"""The C++ architecture builders (models/builders.cpp) against the PyTorch export.

Each config is exported and converted at a small size (export_panoptic.py: PyTorch → ONNX →
atrous-convert, BatchNorm folded), and `atrous info FILE --json --nodes` is compared with
`atrous info --arch NAME --size HxW --json --nodes`: the same op sequence with the same
attributes and input/output shapes (stored and after graph_optimize), the same parameter and
multiply-add counts, inputs, outputs and metadata (except producer/source). Full-size
(1025×2049) multiply-adds are compared with PyTorch's counter on the meta device, and
mnv3l_os32's with its documented value.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "models", "pytorch"))
import export_panoptic  # noqa: E402
import panoptic_deeplab as pdl  # noqa: E402

SIZE = (65, 129)
CONFIGS = ["mnv3l_os16", "mnv3l_os32", "mnv3s_os16", "mnv3s_os32", "resnet50_os32"]


def arch_name(config):
    return "panoptic-deeplab-" + config.replace("_", "-")


def info(binary, *args):
    result = subprocess.run([binary, "info", *args, "--json", "--nodes"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("config", CONFIGS)
def test_builder_matches_converted_export(config, atrous_bin, tmp_path):
    exported = export_panoptic.export(config, SIZE, str(tmp_path), seed=0)
    converted = info(atrous_bin, exported["atrous"])
    built = info(atrous_bin, "--arch", arch_name(config), "--size", f"{SIZE[0]}x{SIZE[1]}")
    for key in ("node_list", "node_list_optimized"):
        assert len(built[key]) == len(converted[key]), key
        for index, (b, c) in enumerate(zip(built[key], converted[key])):
            assert b == c, f"{key}[{index}]: builder {b} != converted {c}"
    for key in ("inputs", "outputs", "op_counts", "op_counts_optimized", "nodes",
                "nodes_optimized", "parameters", "parameters_optimized", "multiply_adds"):
        assert built[key] == converted[key], key
    assert built["multiply_adds"] == exported["counter"].total()
    meta_b = {k: v for k, v in built["metadata"].items() if k not in ("producer", "source")}
    meta_c = {k: v for k, v in converted["metadata"].items() if k not in ("producer", "source")}
    assert meta_b == meta_c


@pytest.mark.parametrize("config", CONFIGS)
def test_full_size_multiply_adds_match_pytorch(config, atrous_bin):
    size = pdl.DEFAULT_CROP
    model = pdl.build_model(config, size, seed=None).to("meta")
    with torch.no_grad(), pdl.MultiplyAddCounter(model) as counter:
        model(torch.zeros(1, 3, *size, device="meta"))
    result = subprocess.run([atrous_bin, "info", "--arch", arch_name(config), "--size",
                             f"{size[0]}x{size[1]}", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["multiply_adds"] == counter.total()


def test_mnv3l_os32_documented_multiply_adds(atrous_bin):
    result = subprocess.run([atrous_bin, "info", "--arch", "panoptic-deeplab-mnv3l-os32",
                             "--size", "1025x2049", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["multiply_adds"] == 70_930_295_160


@pytest.mark.parametrize("args,message", [
    (["--arch", "panoptic-deeplab-mnv3x-os8"], "unknown architecture 'panoptic-deeplab-mnv3x-os8'"),
    (["--arch", "panoptic-deeplab-mnv3l-os32", "--size", "0x129"], "--size wants HxW"),
    (["--arch", "panoptic-deeplab-mnv3l-os32", "--size", "65by129"], "--size wants HxW"),
    (["--arch", "panoptic-deeplab-mnv3l-os32", "--size", "99999x129"], "out of range"),
])
def test_info_arch_errors(args, message, atrous_bin):
    result = subprocess.run([atrous_bin, "info", *args], capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr
    if "unknown architecture" in message:  # the valid names are listed
        for config in CONFIGS:
            assert arch_name(config) in result.stderr
