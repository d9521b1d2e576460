#!/usr/bin/env python3
"""atrous next to ONNX Runtime, OpenVINO, LiteRT (XNNPACK) and ncnn on the models of issue #4, side by side.

For each model it exports one ONNX file (torchvision models with random weights and randomized
BatchNorm, as in tests/conformance; Panoptic-DeepLab from models/pytorch), converts it to
`.atrous` with the project's converter and, for ncnn, with pnnx. Then, for each thread count, it
loads every runtime in this one process and times single inferences on the same random input in
interleaved rounds (the order of runtimes is shuffled every round), after warmup runs, and prints
the median of each, the ratio atrous / peer, and atrous / fastest peer. Outputs are compared
with ONNX Runtime's (relative L2) so a fast wrong answer cannot pass unnoticed.

atrous runs in-process through its C API (libatrous.so, ctypes), on the `cpu` backend.

    .venv/bin/python bench/compare_peers.py                       # every model, 1 and 2 threads
    .venv/bin/python bench/compare_peers.py --models mnv3l,mnv3s --runs 20
    .venv/bin/python bench/compare_peers.py --memory --models panoptic   # peak RSS per runtime

Peers are pip packages (bench/requirements-peers.txt): onnxruntime and openvino are required;
LiteRT (ai-edge-litert, on a TFLite file that bench/tflite_export.py writes from the same
`.atrous` model, since TensorFlow's converters need TensorFlow) and ncnn (converted from the ONNX
file with pnnx) are used when they import.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from machine import machine_description  # bench/machine.py, beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "conformance"))
sys.path.insert(0, os.path.join(REPO, "models", "pytorch"))
sys.path.insert(0, HERE)

# name: (description, input H, W, multiply-adds as given by issue #4)
MODELS: Dict[str, Tuple[str, int, int]] = {
    "mnv3l": ("MobileNetV3-Large", 224, 224),
    "mnv3s": ("MobileNetV3-Small", 224, 224),
    "lraspp": ("LR-ASPP MobileNetV3-Large", 1024, 2048),
    "deeplabv3": ("DeepLabV3 MobileNetV3-Large", 512, 1024),
    "panoptic": ("Panoptic-DeepLab MobileNetV3-Large OS32", 1025, 2049),
}
TORCHVISION_NAMES = {
    "mnv3l": "mobilenet_v3_large",
    "mnv3s": "mobilenet_v3_small",
    "lraspp": "lraspp_mobilenet_v3_large",
    "deeplabv3": "deeplabv3_mobilenet_v3_large",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- model files ----------------------------------------------------------------------------

def export_models(name: str, size: Tuple[int, int], cache: str, atrous_bin: str) -> Dict[str, str]:
    """ONNX + .atrous for one model, cached; returns their paths."""
    os.makedirs(cache, exist_ok=True)
    stem = f"{name}_{size[0]}x{size[1]}"
    onnx_path = os.path.join(cache, stem + ".onnx")
    atrous_path = os.path.join(cache, stem + ".atrous")
    if not (os.path.exists(onnx_path) and os.path.exists(atrous_path)):
        import torch
        log(f"exporting {name} at {size[0]}x{size[1]} ...")
        if name == "panoptic":
            import export_panoptic
            import panoptic_deeplab as pdl
            model = pdl.build_model("mnv3l_os32", size, 0)
            export_panoptic.export_onnx(model, onnx_path, size)
            export_panoptic.convert(onnx_path, atrous_path, "mnv3l_os32", size)
        else:
            import torchvision_models
            model = torchvision_models.build_model(TORCHVISION_NAMES[name], seed=0)
            dummy = torch.zeros(1, 3, *size)
            torch.onnx.export(model, dummy, onnx_path, input_names=["input"], output_names=["output"],
                              opset_version=17, do_constant_folding=True)
            subprocess.run([sys.executable, "-m", "atrous_convert", onnx_path, "-o", atrous_path],
                           check=True, stdout=subprocess.DEVNULL)
    return {"onnx": onnx_path, "atrous": atrous_path}


def ncnn_files(onnx_path: str, size: Tuple[int, int]) -> Optional[Tuple[str, str]]:
    """pnnx conversion of the ONNX file to ncnn param/bin (cached), or None when unavailable."""
    base = os.path.splitext(onnx_path)[0]
    param, binary = base + ".ncnn.param", base + ".ncnn.bin"
    if os.path.exists(param) and os.path.exists(binary):
        return param, binary
    pnnx = shutil.which("pnnx") or os.path.join(os.path.dirname(sys.executable), "pnnx")
    if not os.path.exists(pnnx):
        return None
    work = base + "_pnnx"
    os.makedirs(work, exist_ok=True)
    local = os.path.join(work, os.path.basename(onnx_path))
    if not os.path.exists(local):
        os.symlink(os.path.abspath(onnx_path), local)
    result = subprocess.run([pnnx, os.path.basename(local), f"inputshape=[1,3,{size[0]},{size[1]}]"],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stem = os.path.splitext(os.path.basename(local))[0]
    made_param = os.path.join(work, stem + ".ncnn.param")
    made_bin = os.path.join(work, stem + ".ncnn.bin")
    if result.returncode != 0 or not os.path.exists(made_param):
        log(f"pnnx failed on {onnx_path}: {result.stdout[-400:]}")
        return None
    shutil.move(made_param, param)
    shutil.move(made_bin, binary)
    return param, binary


# ---- runtimes ---------------------------------------------------------------------------------

class AtrousRuntime:
    """The C API through ctypes: load, create a cpu session, set the input, run."""

    class Info(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                    ("shape", ctypes.c_int64 * 8)]

    class Options(ctypes.Structure):
        _fields_ = [("threads", ctypes.c_int32), ("backend", ctypes.c_int), ("optimize", ctypes.c_int32),
                    ("max_memory_bytes", ctypes.c_int64)]

    def __init__(self, library: str, model_path: str, threads: int, backend: int = 1):
        lib = ctypes.CDLL(library)
        lib.atrous_status_message.restype = ctypes.c_char_p
        for fn in ("atrous_model_load_file", "atrous_session_create", "atrous_session_set_input",
                   "atrous_session_run", "atrous_session_output", "atrous_model_input_info"):
            getattr(lib, fn).restype = ctypes.c_void_p
        lib.atrous_status_message.argtypes = [ctypes.c_void_p]
        lib.atrous_status_release.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.model = ctypes.c_void_p()
        self._check(lib.atrous_model_load_file(model_path.encode(), ctypes.byref(self.model)))
        info = self.Info()
        self._check(lib.atrous_model_input_info(self.model, 0, ctypes.byref(info)))
        self.input_name = info.name
        options = self.Options(threads, backend, 1)
        self.session = ctypes.c_void_p()
        self._check(lib.atrous_session_create(self.model, ctypes.byref(options), ctypes.byref(self.session)))
        self.input: Optional[np.ndarray] = None

    def _check(self, status) -> None:
        if status:
            message = self.lib.atrous_status_message(status).decode()
            self.lib.atrous_status_release(status)
            raise RuntimeError("atrous: " + message)

    def set_input(self, x: np.ndarray) -> None:
        self.input = np.ascontiguousarray(x, dtype=np.float32)
        shape = (ctypes.c_int64 * x.ndim)(*x.shape)
        self._check(self.lib.atrous_session_set_input(self.session, self.input_name, 1, shape, x.ndim,
                                                      self.input.ctypes.data_as(ctypes.c_void_p)))

    def run(self) -> None:
        self._check(self.lib.atrous_session_run(self.session))

    def output(self) -> np.ndarray:
        info = self.Info()
        data = ctypes.c_void_p()
        self._check(self.lib.atrous_session_output(self.session, 0, ctypes.byref(info), ctypes.byref(data)))
        shape = tuple(info.shape[i] for i in range(info.rank))
        count = int(np.prod(shape))
        array = np.ctypeslib.as_array(ctypes.cast(data, ctypes.POINTER(ctypes.c_float)), shape=(count,))
        return array.reshape(shape).copy()


class OrtRuntime:
    # spinning: ONNX Runtime's default (its idle workers spin before they sleep); the comparison
    # keeps it, bench/interference_probe.py also measures without.
    def __init__(self, onnx_path: str, threads: int, spinning: bool = True):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name
        self.feed: Dict[str, np.ndarray] = {}
        self.result = None

    def set_input(self, x: np.ndarray) -> None:
        self.feed = {self.name: x}

    def run(self) -> None:
        self.result = self.session.run(None, self.feed)

    def output(self) -> np.ndarray:
        return self.result[0]


class OpenVinoRuntime:
    def __init__(self, onnx_path: str, threads: int):
        import openvino as ov
        core = ov.Core()
        model = core.read_model(onnx_path)
        self.compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()
        self.x = None

    def set_input(self, x: np.ndarray) -> None:
        self.x = x

    def run(self) -> None:
        self.request.infer({0: self.x})

    def output(self) -> np.ndarray:
        return self.request.get_output_tensor(0).data.copy()


class LiteRtRuntime:
    """LiteRT (ai-edge-litert) with its default XNNPACK delegate, on a TFLite file written from
    the same `.atrous` model by bench/tflite_export.py (NHWC input and outputs)."""

    def __init__(self, tflite_path: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter
        self.interpreter = Interpreter(model_path=tflite_path, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def set_input(self, x: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input_index, np.ascontiguousarray(x.transpose(0, 2, 3, 1)))

    def run(self) -> None:
        self.interpreter.invoke()

    def output(self) -> np.ndarray:
        y = self.interpreter.get_tensor(self.output_index)
        return y.transpose(0, 3, 1, 2) if y.ndim == 4 else y


def tflite_file(atrous_path: str) -> str:
    path = os.path.splitext(atrous_path)[0] + ".tflite"
    if not os.path.exists(path):
        import tflite_export
        tflite_export.export(atrous_path, path)
    return path


class NcnnRuntime:
    def __init__(self, param: str, binary: str, threads: int):
        import ncnn
        self.ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.num_threads = threads
        self.net.opt.use_fp16_packed = False
        self.net.opt.use_fp16_storage = False
        self.net.opt.use_fp16_arithmetic = False
        self.net.opt.use_bf16_storage = False
        self.net.opt.use_int8_inference = False
        if self.net.load_param(param) != 0 or self.net.load_model(binary) != 0:
            raise RuntimeError("ncnn could not load " + param)
        self.input_name = self.net.input_names()[0]
        self.output_name = self.net.output_names()[0]
        self.mat = None
        self.result = None

    def set_input(self, x: np.ndarray) -> None:
        self.mat = self.ncnn.Mat(np.ascontiguousarray(x[0]))

    def run(self) -> None:
        with self.net.create_extractor() as extractor:
            extractor.input(self.input_name, self.mat)
            _, out = extractor.extract(self.output_name)
            self.result = np.array(out)

    def output(self) -> np.ndarray:
        return self.result[None] if self.result.ndim == 3 else self.result


# ---- measurement ------------------------------------------------------------------------------

def relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = actual.reshape(expected.shape).astype(np.float64)
    expected = expected.astype(np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def make_runtimes(files: Dict[str, str], size: Tuple[int, int], threads: int, library: str,
                  wanted: Sequence[str]) -> Dict[str, object]:
    runtimes: Dict[str, object] = {}
    for name in wanted:
        try:
            if name == "atrous":
                runtimes[name] = AtrousRuntime(library, files["atrous"], threads)
            elif name == "onnxruntime":
                runtimes[name] = OrtRuntime(files["onnx"], threads)
            elif name == "openvino":
                runtimes[name] = OpenVinoRuntime(files["onnx"], threads)
            elif name == "litert":
                runtimes[name] = LiteRtRuntime(tflite_file(files["atrous"]), threads)
            elif name == "ncnn":
                converted = ncnn_files(files["onnx"], size)
                if converted is None:
                    log("ncnn: no pnnx conversion; skipped")
                    continue
                runtimes[name] = NcnnRuntime(converted[0], converted[1], threads)
        except ImportError as error:
            log(f"{name}: not installed ({error}); skipped")
        except Exception as error:  # a peer that cannot load the model is reported, not fatal
            log(f"{name}: failed to load: {error}; skipped")
    return runtimes


def time_interleaved(runtimes: Dict[str, object], runs: int, warmup: int, seed: int,
                     settle_ms: float = 0.0) -> Dict[str, List[float]]:
    """Medians come from these rounds: every runtime once per round, in a shuffled order.
    settle_ms > 0 sleeps that long (untimed) before each timed run, so that threads another
    runtime left spinning after its own run have gone to sleep (ONNX Runtime's keep spinning
    for tens of milliseconds; bench/RESULTS.md)."""
    times: Dict[str, List[float]] = {name: [] for name in runtimes}
    for name, runtime in runtimes.items():
        for _ in range(warmup):
            runtime.run()
    order = list(runtimes)
    shuffle = random.Random(seed)
    for round_index in range(runs):
        shuffle.shuffle(order)
        for name in order:
            if settle_ms > 0:
                time.sleep(settle_ms / 1e3)
            start = time.perf_counter()
            runtimes[name].run()
            times[name].append((time.perf_counter() - start) * 1e3)
        log(f"  round {round_index + 1}/{runs}: " +
            ", ".join(f"{n} {times[n][-1]:.1f}" for n in runtimes))
    return times


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM: reset by exec, unlike getrusage's ru_maxrss,
    which a child started from a large parent inherits)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_child(args: argparse.Namespace, model: str, runtime: str, threads: int) -> Optional[float]:
    """Peak RSS (MiB) of a child process that loads one runtime and runs the model 3 times."""
    command = [sys.executable, os.path.abspath(__file__), "--models", model, "--threads", str(threads),
               "--only", runtime, "--runs", "3", "--warmup", "0", "--cache", args.cache,
               "--library", args.library, "--report-rss"]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("peak_rss_mib "):
            return float(line.split()[1])
    return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma list of " + ", ".join(MODELS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peers", default="onnxruntime,openvino,litert,ncnn")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--report-rss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help="also measure each runtime's peak RSS in a child process")
    parser.add_argument("--cache", default=os.path.join(REPO, "build", "peers"), help="folder for exported models")
    parser.add_argument("--library", default=os.path.join(REPO, "build", "libatrous.so"))
    parser.add_argument("--atrous", default=os.path.join(REPO, "build", "atrous"))
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settle-ms", type=float, default=0.0,
                        help="sleep this long (untimed) before each timed run, so that one runtime's idle "
                             "spinning threads do not slow the next (default 0: back to back)")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]

    models = [m for m in args.models.split(",") if m]
    for model in models:
        if model not in MODELS:
            parser.error(f"unknown model '{model}' (known: {', '.join(MODELS)})")
    thread_counts = [int(t) for t in args.threads.split(",")]
    wanted = [args.only] if args.only else ["atrous"] + [p for p in args.peers.split(",") if p]
    if not os.path.exists(args.library) and "atrous" in wanted:
        parser.error(f"{args.library} not found: build first (scripts/build.sh)")

    results = []
    for model in models:
        title, height, width = MODELS[model]
        files = export_models(model, (height, width), args.cache, args.atrous)
        x = np.random.default_rng(args.seed).uniform(-1.0, 1.0, (1, 3, height, width)).astype(np.float32)
        for threads in thread_counts:
            runtimes = make_runtimes(files, (height, width), threads, args.library, wanted)
            for runtime in runtimes.values():
                runtime.set_input(x)
            if args.report_rss:
                for runtime in runtimes.values():
                    for _ in range(args.runs):
                        runtime.run()
                print(f"peak_rss_mib {peak_rss_mib():.1f}")
                return 0
            log(f"{title} {height}x{width}, {threads} thread(s): {', '.join(runtimes)}")
            times = time_interleaved(runtimes, args.runs, args.warmup, args.seed, args.settle_ms)
            medians = {name: statistics.median(values) for name, values in times.items()}
            errors = {}
            if "onnxruntime" in runtimes:
                reference = runtimes["onnxruntime"].output()
                for name, runtime in runtimes.items():
                    if name != "onnxruntime":
                        try:
                            errors[name] = relative_l2(runtime.output(), reference)
                        except Exception as error:
                            errors[name] = f"not comparable: {error}"
            row = {"model": model, "title": title, "size": f"{height}x{width}", "threads": threads,
                   "median_ms": medians, "runs": args.runs, "rel_l2_vs_onnxruntime": errors}
            peers = {n: t for n, t in medians.items() if n != "atrous"}
            if "atrous" in medians and peers:
                fastest = min(peers, key=peers.get)
                row["fastest_peer"] = fastest
                row["ratio_vs_fastest"] = medians["atrous"] / peers[fastest]
            if args.memory:
                row["peak_rss_mib"] = {name: peak_rss_child(args, model, name, threads) for name in runtimes}
            results.append(row)
            del runtimes

    print()
    machine = machine_description()
    print(f"CPU: {machine['cpu']} ({machine['cores']} cores), {machine['date']}, load average "
          f"{load_start:.2f} at the start and {os.getloadavg()[0]:.2f} at the end")
    print("command: " + " ".join(["bench/compare_peers.py"] + list(argv if argv is not None else sys.argv[1:])))
    print()
    header = "| model | input | threads | " + " | ".join(f"{w} ms" for w in wanted) + " | atrous / fastest peer |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in results:
        cells = []
        for name in wanted:
            value = row["median_ms"].get(name)
            cells.append("–" if value is None else f"{value:.1f}")
        ratio = row.get("ratio_vs_fastest")
        ratio_text = f"{ratio:.2f} ({row['fastest_peer']})" if ratio is not None else "–"
        print(f"| {row['title']} | {row['size']} | {row['threads']} | " + " | ".join(cells) + f" | {ratio_text} |")
    for row in results:
        if row["rel_l2_vs_onnxruntime"]:
            print(f"{row['model']} {row['threads']}t rel. L2 vs onnxruntime: " +
                  ", ".join(f"{k} {v:.1e}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in row["rel_l2_vs_onnxruntime"].items()))
        if "peak_rss_mib" in row:
            print(f"{row['model']} {row['threads']}t peak RSS MiB: " +
                  ", ".join(f"{k} {v}" for k, v in row["peak_rss_mib"].items()))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine, "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
