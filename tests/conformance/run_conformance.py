#!/usr/bin/env python3
"""Conformance of atrous against PyTorch on torchvision models this project did not write.

For each model and input size: build it (torchvision_models.py: random weights, randomized
BatchNorm, eval mode), export it to ONNX (static shapes, do_constant_folding=True; BatchNorm
nodes are kept in the ONNX graph so that the converter's folding is what gets tested, unless
--torch-folds-bn), convert it with atrous_convert, run `atrous run` on an N(0,1) input from a
fixed seed, and compare with PyTorch's output on the same input:

  * relative L2 error ||atrous - torch||₂ / ||torch||₂ ≤ 1e-5;
  * argmax over the class axis (dim 1) identical, except where PyTorch's two largest logits differ
    by less than 1e-4 (a near-tie, where float32 rounding order may legitimately flip the winner).

Prints one line per (model, size) and exits with status 1 when any case fails. Full set:

    .venv/bin/python tests/conformance/run_conformance.py
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from atrous_cli import REPO_ROOT, default_binary, relative_l2, run_atrous  # noqa: E402
from torchvision_models import MODEL_NAMES, build_model, task_of  # noqa: E402

try:
    import atrous_convert
except ImportError:  # not pip-installed: use the checkout
    sys.path.insert(0, os.path.join(REPO_ROOT, "weights_converter"))
    import atrous_convert

from atrous_convert.writer import attr_ints, attr_string  # noqa: E402

REL_L2_TOLERANCE = 1e-5
NEAR_TIE = 1e-4
DEFAULT_SIZES = "224x224,257x385"


@dataclasses.dataclass
class CaseResult:
    model: str
    size: Tuple[int, int]
    opset: int
    rel_l2: float
    equal: int
    total: int
    near_ties: int
    passed: bool
    seconds: float

    def line(self) -> str:
        h, w = self.size
        return (f"{self.model:<30} {h}x{w:<5} opset {self.opset:<3} rel_l2={self.rel_l2:.3e}  "
                f"argmax: {self.equal}/{self.total} equal ({self.near_ties} near-ties)  "
                f"{'PASS' if self.passed else 'FAIL'}")


def compare_argmax(actual: np.ndarray, expected: np.ndarray) -> Tuple[int, int, int, bool]:
    """(equal, total, near_ties, ok) for argmax over axis 1; mismatches must all be near-ties."""
    expected64 = expected.astype(np.float64)
    top_two = -np.sort(-expected64, axis=1)[:, :2]
    near_tie = (top_two[:, 0] - top_two[:, 1]) < NEAR_TIE
    same = np.argmax(actual, axis=1) == np.argmax(expected, axis=1)
    ok = bool(np.all(same | near_tie))
    return int(same.sum()), int(same.size), int(near_tie.sum()), ok


def export_onnx(model: torch.nn.Module, path: str, size: Tuple[int, int], opset: int,
                torch_folds_bn: bool = False) -> None:
    dummy = torch.zeros(1, 3, *size)
    mode = torch.onnx.TrainingMode.EVAL if torch_folds_bn else torch.onnx.TrainingMode.PRESERVE
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about constant folding in PRESERVE mode even for eval-mode models, and
        # about missing shape inference for prim::Constant; neither applies here.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, dummy, path, opset_version=opset, do_constant_folding=True,
                          training=mode, input_names=["input"], output_names=["out"])


def random_input(size: Tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, 3, *size)).astype(np.float32)


class Runner:
    """Builds each model once and runs (model, size) cases in a work folder."""

    def __init__(self, atrous: str, work_dir: str, opset: int = 17, backend: Optional[str] = None,
                 threads: Optional[int] = None, seed: int = 0, torch_folds_bn: bool = False,
                 converter_folds_bn: bool = True):
        self.atrous, self.work_dir, self.opset = atrous, work_dir, opset
        self.backend, self.threads, self.seed = backend, threads, seed
        self.torch_folds_bn = torch_folds_bn
        self.converter_folds_bn = converter_folds_bn
        self._models: Dict[str, torch.nn.Module] = {}
        self.created: List[str] = []  # work files and folders, for cleanup

    def model(self, name: str) -> torch.nn.Module:
        if name not in self._models:
            self._models[name] = build_model(name, self.seed)
        return self._models[name]

    def run_case(self, name: str, size: Tuple[int, int]) -> CaseResult:
        start = time.time()
        model = self.model(name)
        stem = os.path.join(self.work_dir, f"{name}_{size[0]}x{size[1]}_opset{self.opset}")
        self.created += [stem + ".onnx", stem + ".atrous", stem + "_run"]
        export_onnx(model, stem + ".onnx", size, self.opset, self.torch_folds_bn)
        metadata = {"task": attr_string(task_of(name)), "input_size": attr_ints(size)}
        ir = atrous_convert.convert(stem + ".onnx", stem + ".atrous", metadata=metadata,
                                    fold_batch_norm=self.converter_folds_bn)
        batch_norms = sum(node.op == "batch_norm" for node in ir.nodes)
        if self.converter_folds_bn and batch_norms:
            raise AssertionError(f"{name}: the converter left {batch_norms} batch_norm nodes")
        if not self.converter_folds_bn and not self.torch_folds_bn and not batch_norms:
            raise AssertionError(f"{name}: --no-fold file has no batch_norm node")
        x = random_input(size, self.seed)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        outputs = run_atrous(self.atrous, stem + ".atrous", {"input": x}, ["out"], stem + "_run",
                             backend=self.backend, threads=self.threads)
        actual = outputs["out"]
        if actual.shape != expected.shape:
            raise AssertionError(f"{name}: atrous output {actual.shape} != PyTorch {expected.shape}")
        error = relative_l2(actual, expected)
        equal, total, near_ties, argmax_ok = compare_argmax(actual, expected)
        passed = error <= REL_L2_TOLERANCE and argmax_ok
        return CaseResult(name, size, self.opset, error, equal, total, near_ties, passed,
                          time.time() - start)


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        h, w = part.lower().split("x")
        sizes.append((int(h), int(w)))
    return sizes


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODEL_NAMES),
                        help="comma-separated subset of " + ", ".join(MODEL_NAMES))
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated HxW list")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--atrous", default=default_binary(), help="path of the atrous binary")
    parser.add_argument("--backend", default=None, help="passed to `atrous run --backend`")
    parser.add_argument("--threads", type=int, default=None, help="passed to `atrous run --threads`")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="folder for the .onnx/.atrous/.npy files")
    parser.add_argument("--keep", action="store_true", help="keep the work files")
    parser.add_argument("--torch-folds-bn", action="store_true",
                        help="let torch.onnx.export fold BatchNorm instead of the converter")
    parser.add_argument("--no-fold", action="store_true",
                        help="convert with --no-fold: batch_norm nodes are left to the runtime")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for name in names:
        if name not in MODEL_NAMES:
            parser.error(f"unknown model '{name}'")
    work_dir = args.workdir or tempfile.mkdtemp(prefix="atrous-conformance-")
    os.makedirs(work_dir, exist_ok=True)
    runner = Runner(args.atrous, work_dir, args.opset, args.backend, args.threads, args.seed,
                    args.torch_folds_bn, not args.no_fold)
    failures = 0
    try:
        for name in names:
            for size in parse_sizes(args.sizes):
                try:
                    result = runner.run_case(name, size)
                    print(result.line() + f"  ({result.seconds:.1f} s)", flush=True)
                    failures += not result.passed
                except Exception as error:  # report and go on with the other cases
                    print(f"{name:<30} {size[0]}x{size[1]:<5} opset {args.opset:<3} ERROR: "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__}  FAIL",
                          flush=True)
                    failures += 1
    finally:
        if args.keep:
            print(f"work files kept in {work_dir}")
        elif args.workdir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            for path in runner.created:
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.unlink(path)
    print(f"{failures} failing case(s)" if failures else "all cases pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
