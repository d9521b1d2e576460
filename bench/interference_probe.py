#!/usr/bin/env python3
"""How much one runtime's idle threads cost the next one in bench/compare_peers.py's setting.

Loads atrous and ONNX Runtime into one process, as compare_peers.py does, and times them three
ways at the same thread count: each alone, back to back (after warmup); alternating, each run
right after the other runtime's; and alternating with ONNX Runtime's spinning workers turned off
(`session.intra_op.allow_spinning` = 0; compare_peers.py keeps ONNX Runtime's default, 1).
Prints medians in ms.

Usage: bench/interference_probe.py [--model mnv3l] [--threads 2] [--runs 150]
       [--cache build/peers]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_peers as cp  # noqa: E402  (bench/compare_peers.py, beside this script)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mnv3l", help="one of " + ", ".join(cp.MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--cache", default=os.path.join(cp.REPO, "build", "peers"))
    parser.add_argument("--library", default=os.path.join(cp.REPO, "build", "libatrous.so"))
    parser.add_argument("--atrous", default=os.path.join(cp.REPO, "build", "atrous"))
    args = parser.parse_args()
    if args.model not in cp.MODELS:
        parser.error(f"unknown model '{args.model}'")
    if args.threads < 1 or args.runs < 1:
        parser.error("--threads and --runs must be at least 1")
    if not os.path.exists(args.library):
        parser.error(f"{args.library} not found: build first (scripts/build.sh)")
    _, height, width = cp.MODELS[args.model]
    files = cp.export_models(args.model, (height, width), args.cache, args.atrous)
    runtimes = cp.make_runtimes(files, (height, width), args.threads, args.library,
                                ["atrous", "onnxruntime"])
    runtimes["onnxruntime (no spinning)"] = cp.OrtRuntime(files["onnx"], args.threads,
                                                          spinning=False)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (1, 3, height, width)).astype(np.float32)
    for runtime in runtimes.values():
        runtime.set_input(x)
    print(f"{cp.MODELS[args.model][0]} {height}x{width}, {args.threads} thread(s), "
          f"{args.runs} runs each; medians in ms")
    for name, runtime in runtimes.items():
        for _ in range(10):
            runtime.run()
        times = [timed(runtime.run) for _ in range(args.runs)]
        print(f"  {name} alone, back to back: {statistics.median(times):.2f}")
    for peer in ("onnxruntime", "onnxruntime (no spinning)"):
        mine, theirs = [], []
        for _ in range(args.runs):
            theirs.append(timed(runtimes[peer].run))
            mine.append(timed(runtimes["atrous"].run))
        print(f"  alternating with {peer}: atrous {statistics.median(mine):.2f}, "
              f"{peer} {statistics.median(theirs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
