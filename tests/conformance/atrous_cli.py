"""Runs the `atrous` command-line tool on NumPy inputs and reads its outputs back.

Contract (docs and DESIGN.md): `atrous run MODEL --input NAME=FILE.npy ... --output-dir DIR
[--backend B] [--threads N]` writes every graph output as DIR/<name>.npy, where characters other
than [A-Za-z0-9._-] in the name are replaced by '_'.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Dict, List, Optional

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_binary() -> str:
    return os.environ.get("ATROUS_BIN") or os.path.join(REPO_ROOT, "build", "atrous")


def output_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"


class AtrousError(RuntimeError):
    pass


def run_atrous(binary: str, model_path: str, inputs: Dict[str, np.ndarray], output_names: List[str],
               work_dir: str, backend: Optional[str] = None, threads: Optional[int] = None,
               timeout: float = 600) -> Dict[str, np.ndarray]:
    """Writes the inputs as .npy files, runs `atrous run`, returns {output name: array}."""
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise AtrousError(f"atrous binary not found or not executable: {binary} "
                          "(build the project into <repo>/build or set ATROUS_BIN)")
    os.makedirs(work_dir, exist_ok=True)
    command = [binary, "run", model_path]
    for k, (name, array) in enumerate(inputs.items()):
        path = os.path.join(work_dir, f"input{k}_{output_file_name(name)}")
        np.save(path, np.asarray(array, order="C"))  # ascontiguousarray makes a scalar [1]
        command += ["--input", f"{name}={path}"]
    out_dir = os.path.join(work_dir, "outputs")
    os.makedirs(out_dir, exist_ok=True)
    command += ["--output-dir", out_dir]
    if backend:
        command += ["--backend", backend]
    if threads:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AtrousError(f"`{' '.join(command)}` failed with status {result.returncode}:\n"
                          f"{result.stderr.strip() or result.stdout.strip()}")
    outputs = {}
    for name in output_names:
        path = os.path.join(out_dir, output_file_name(name))
        if not os.path.exists(path):
            raise AtrousError(f"atrous run wrote no {path} for output '{name}'")
        outputs[name] = np.load(path)
    return outputs


def relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    """||a - b||₂ / ||b||₂ in float64 (0 when both are zero)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shape {actual.shape} != expected {expected.shape}")
    denominator = np.linalg.norm(expected)
    difference = np.linalg.norm(actual - expected)
    if denominator == 0:
        return 0.0 if difference == 0 else float("inf")
    return float(difference / denominator)
