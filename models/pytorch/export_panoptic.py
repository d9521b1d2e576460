#!/usr/bin/env python3
"""Exports Panoptic-DeepLab (panoptic_deeplab.py) to ONNX and converts it to `.atrous`.

    .venv/bin/python models/pytorch/export_panoptic.py --config mnv3l_os32 --size 1025x2049 \\
        --out /tmp/panoptic [--seed 0] [--opset 17] [--crop 1025x2049] [--check]

Builds the network with random weights from --seed (BatchNorm statistics randomized so that the
converter's folding is exercised), exports DIR/<config>.onnx (static shapes; input `image`
[1,3,H,W] in [−1,1]; outputs `semantic` [1,19,H,W], `center` [1,1,H,W], `offset` [1,2,H,W];
BatchNorm kept in the ONNX by TrainingMode.PRESERVE on the eval-mode model), converts it with
`python -m atrous_convert` into DIR/<config>.atrous with the panoptic metadata (Cityscapes labels,
thing classes 11..18, input mean/std 127.5, label divisor 1000, void 255, center threshold 0.1,
NMS kernel 7 or 13, top-k 400, stuff area 2048, architecture), then prints the parameter and
multiply-add counts of PyTorch (forward hooks on every Conv2d) next to those of
`atrous info --json` ($ATROUS_BIN or <repo>/build/atrous). Exit status 1 if the multiply-adds
differ. --check also runs `atrous run` on a random input and prints the relative L2 error of each
output against PyTorch.

--crop sets the training crop that defines the ASPP pooling window ((n−1)//OS + 1 per axis);
it defaults to --size, so the pooled map is 1×1 at the export size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import panoptic_deeplab as pdl  # noqa: E402

INPUT_NAME = "image"
OUTPUT_NAMES = ("semantic", "center", "offset")


def default_binary() -> str:
    return os.environ.get("ATROUS_BIN") or os.path.join(REPO_ROOT, "build", "atrous")


def parse_size(text: str) -> Tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def export_onnx(model: torch.nn.Module, path: str, size: Tuple[int, int], opset: int = 17) -> None:
    dummy = torch.zeros(1, 3, *size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PRESERVE-mode constant-folding notice, tracer warnings
        torch.onnx.export(model, dummy, path, opset_version=opset, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.PRESERVE,
                          input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES))


def converter_arguments(config: str, size: Tuple[int, int]) -> List[str]:
    """atrous-convert flags that record the panoptic metadata of `config`."""
    cfg = pdl.CONFIGS[config]
    post = dict(pdl.POSTPROCESS, nms_kernel=cfg.nms_kernel)
    args = ["--task", "panoptic", "--labels", ",".join(pdl.CITYSCAPES_LABELS),
            "--thing-classes", ",".join(str(c) for c in pdl.THING_CLASSES),
            "--input-mean", "127.5,127.5,127.5", "--input-std", "127.5,127.5,127.5",
            "--input-size", f"{size[0]}x{size[1]}"]
    for key in ("label_divisor", "void_label", "center_threshold", "nms_kernel", "top_k",
                "stuff_area_limit"):
        args += ["--meta", f"{key}={post[key]}"]
    args += ["--meta", f"architecture=panoptic_deeplab_{config}"]
    return args


def convert(onnx_path: str, atrous_path: str, config: str, size: Tuple[int, int]) -> None:
    command = [sys.executable, "-m", "atrous_convert", onnx_path, "-o", atrous_path]
    command += converter_arguments(config, size)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous-convert failed: {result.stderr.strip() or result.stdout.strip()}")


def atrous_info(binary: str, path: str) -> Dict:
    result = subprocess.run([binary, "info", path, "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous info failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def export(config: str, size: Tuple[int, int], out_dir: str, seed: int = 0, opset: int = 17,
           crop: Optional[Tuple[int, int]] = None) -> Dict:
    """Builds, exports, converts; returns paths, the model and the PyTorch counts."""
    os.makedirs(out_dir, exist_ok=True)
    model = pdl.build_model(config, crop or size, seed)
    onnx_path = os.path.join(out_dir, f"{config}.onnx")
    atrous_path = os.path.join(out_dir, f"{config}.atrous")
    # The hooks see the tracing forward of the export; each module's count is set, not summed.
    with pdl.MultiplyAddCounter(model) as counter:
        export_onnx(model, onnx_path, size, opset)
    convert(onnx_path, atrous_path, config, size)
    return {"model": model, "onnx": onnx_path, "atrous": atrous_path, "counter": counter,
            **pdl.count_parameters(model)}


def relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300))


def check_outputs(binary: str, model: torch.nn.Module, path: str, size: Tuple[int, int],
                  work_dir: str, seed: int = 0) -> Dict[str, float]:
    """Relative L2 of each output of `atrous run` against PyTorch on a uniform [−1,1] input."""
    x = np.random.default_rng(seed).uniform(-1, 1, (1, 3, *size)).astype(np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in model(torch.from_numpy(x))]
    os.makedirs(work_dir, exist_ok=True)
    np.save(os.path.join(work_dir, "image.npy"), x)
    result = subprocess.run([binary, "run", path, "--input",
                             f"{INPUT_NAME}={os.path.join(work_dir, 'image.npy')}",
                             "--output-dir", work_dir], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"atrous run failed: {result.stderr.strip()}")
    return {name: relative_l2(np.load(os.path.join(work_dir, name + ".npy")), e)
            for name, e in zip(OUTPUT_NAMES, expected)}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, choices=sorted(pdl.CONFIGS))
    parser.add_argument("--size", default="1025x2049", help="HxW of the (padded) input")
    parser.add_argument("--out", required=True, help="folder for <config>.onnx and .atrous")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--crop", default=None,
                        help="HxW training crop for the ASPP pool window (default: --size)")
    parser.add_argument("--atrous", default=default_binary(), help="path of the atrous binary")
    parser.add_argument("--check", action="store_true",
                        help="also compare `atrous run` with PyTorch on a random input")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    crop = parse_size(args.crop) if args.crop else size
    start = time.time()
    result = export(args.config, size, args.out, args.seed, args.opset, crop)
    info = atrous_info(args.atrous, result["atrous"])
    counter, torch_madds = result["counter"], result["counter"].total()
    print(f"config        {args.config}  input {size[0]}x{size[1]}  ASPP pool window "
          f"{result['model'].pool_window[0]}x{result['model'].pool_window[1]}  opset {args.opset}")
    print(f"onnx          {result['onnx']} ({os.path.getsize(result['onnx']) / 1e6:.1f} MB)")
    print(f"atrous        {result['atrous']} ({os.path.getsize(result['atrous']) / 1e6:.1f} MB)")
    print(f"parameters    PyTorch {result['parameters']:,} (incl. {result['batch_norm_channels']:,} "
          f"BN channels × γ,β); after BN folding "
          f"{result['parameters'] - result['batch_norm_channels']:,}; atrous {info['parameters']:,}")
    print(f"multiply-adds PyTorch {torch_madds:,} ({torch_madds / 1e9:.3f} G); atrous "
          f"{info['multiply_adds']:,} ({info['multiply_adds'] / 1e9:.3f} G)  "
          f"{'EQUAL' if torch_madds == info['multiply_adds'] else 'DIFFERENT'}")
    for part, value in counter.by_prefix(1).items():
        print(f"  {part:<18} {value / 1e9:8.3f} G  {100 * value / torch_madds:5.1f} %")
    if args.check:
        errors = check_outputs(args.atrous, result["model"], result["atrous"], size,
                               os.path.join(args.out, f"{args.config}_run"), args.seed)
        print("relative L2   " + "  ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    print(f"({time.time() - start:.0f} s)")
    return 0 if torch_madds == info["multiply_adds"] else 1


if __name__ == "__main__":
    sys.exit(main())
