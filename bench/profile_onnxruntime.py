#!/usr/bin/env python3
"""ONNX Runtime's own per-op profile of an ONNX model, to set beside `atrous bench --profile`.

Runs the model with ONNX Runtime's profiler on (`SessionOptions.enable_profiling`), a fixed
thread count and a random input, drops the warmup runs, and prints the mean milliseconds per run
of each op type and of the slowest nodes, from the profiler's "kernel_time" events.

Usage: bench/profile_onnxruntime.py MODEL.onnx [--threads 1] [--runs 3] [--warmup 1] [--top 12]
"""
import argparse
import collections
import json
import os
import sys
import tempfile

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("onnxruntime is not installed (pip install -r bench/requirements-peers.txt)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="ort_profile_"), "profile")
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    feeds = {}
    rng = np.random.default_rng(0)
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in value.shape]
        feeds[value.name] = rng.standard_normal(shape).astype(np.float32)
    for _ in range(args.warmup + args.runs):
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as handle:
        events = json.load(handle)
    runs = [e for e in events if e.get("name") == "model_run"]
    if len(runs) < args.warmup + args.runs:
        sys.exit("the profile has %d model runs, expected %d" % (len(runs), args.warmup + args.runs))
    first_timed = runs[args.warmup]["ts"]
    by_op = collections.Counter()
    by_node = collections.Counter()
    node_op = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        if event["ts"] < first_timed:
            continue
        op = event.get("args", {}).get("op_name", "?")
        node = event["name"][: -len("_kernel_time")]
        by_op[op] += event["dur"]
        by_node[node] += event["dur"]
        node_op[node] = op
    total_ms = sum(r["dur"] for r in runs[args.warmup:]) / 1000.0 / args.runs
    print("ONNX Runtime %s, %s, %d thread(s), %d runs after %d warmup: %.1f ms per run" %
          (ort.__version__, os.path.basename(args.model), args.threads, args.runs, args.warmup,
           total_ms))
    print()
    print("| op type | ms/run | share |")
    print("|---|---|---|")
    for op, microseconds in by_op.most_common():
        ms = microseconds / 1000.0 / args.runs
        print("| %s | %.3f | %.1f %% |" % (op, ms, 100.0 * ms / total_ms))
    print()
    print("| node | op | ms/run |")
    print("|---|---|---|")
    for node, microseconds in by_node.most_common(args.top):
        print("| %s | %s | %.3f |" % (node, node_op[node], microseconds / 1000.0 / args.runs))


if __name__ == "__main__":
    main()
