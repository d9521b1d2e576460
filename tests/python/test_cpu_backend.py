"""Whole models on the fast CPU backend against the reference backend, and across thread counts.

Issue #4's contract: every model equal to the reference backend within relative L2 1e-5 (the
reference accumulates in double, the kernels in float), and results bitwise identical for 1, 2
and 3 threads. The models are the torchvision ones of the conformance check (random weights,
randomized BatchNorm) at 97×129 — not a multiple of 32, so every stride-2 stage rounds up — and a
small Panoptic-DeepLab (MobileNetV3-Small, output stride 32: depthwise 5×5, dilated ASPP, pooling,
decoders with upsample + concat, three heads).
"""
import os

import numpy as np
import pytest
import torch

import atrous_convert
from atrous_cli import run_atrous
from run_conformance import export_onnx, random_input
from torchvision_models import build_model

REL_L2 = 1e-5
SIZE = (97, 129)
TORCHVISION = ["mobilenet_v3_small", "mobilenet_v3_large", "lraspp_mobilenet_v3_large",
               "deeplabv3_mobilenet_v3_large"]


def relative_l2(actual, expected):
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300))


def export_torchvision(name, work, size=SIZE):
    path = os.path.join(work, f"{name}.onnx")
    export_onnx(build_model(name, 0), path, size, 17)
    atrous_convert.convert(path, path.replace(".onnx", ".atrous"))
    return path.replace(".onnx", ".atrous"), {"input": random_input(size, 1)}, ["out"]


def export_panoptic(work):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "models", "pytorch"))
    import export_panoptic as ep
    size = (65, 129)
    result = ep.export("mnv3s_os32", size, work, seed=3, crop=size)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, *size)).astype(np.float32)
    return result["atrous"], {"image": x}, list(ep.OUTPUT_NAMES)


# Sizes at which the first inverted-residual blocks' expanded tensors pass 1 MiB, so that the
# CPU backend runs them fused (cpu/fused_block.h): 225×225 fuses MobileNetV3-Large's 16→64 and
# 24→72 blocks (stride 2 and residual), 257×257 LR-ASPP's first three.
FUSED = ["mobilenet_v3_large@225x225", "lraspp_mobilenet_v3_large@257x257"]


@pytest.mark.parametrize("name", TORCHVISION + ["panoptic_mnv3s_os32"] + FUSED)
def test_cpu_backend_equals_reference_and_is_thread_invariant(atrous_bin, tmp_path, name):
    work = str(tmp_path)
    if name.startswith("panoptic"):
        model, inputs, outputs = export_panoptic(work)
    elif "@" in name:
        model_name, size = name.split("@")
        height, width = (int(v) for v in size.split("x"))
        model, inputs, outputs = export_torchvision(model_name, work, (height, width))
    else:
        model, inputs, outputs = export_torchvision(name, work)
    expected = run_atrous(atrous_bin, model, inputs, outputs, os.path.join(work, "ref"),
                          backend="reference")
    runs = {}
    for threads in (1, 2, 3):
        runs[threads] = run_atrous(atrous_bin, model, inputs, outputs, os.path.join(work, f"cpu{threads}"),
                                   backend="cpu", threads=threads)
    for output in outputs:
        error = relative_l2(runs[1][output], expected[output])
        print(f"{name} {output}: rel. L2 cpu vs reference {error:.2e}")
        assert error <= REL_L2, f"{output}: {error:.2e}"
        assert np.isfinite(runs[1][output]).all()
        for threads in (2, 3):
            assert np.array_equal(runs[1][output], runs[threads][output]), \
                f"{output}: {threads} threads differ from 1 thread"
