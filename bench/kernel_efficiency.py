#!/usr/bin/env python3
"""The per-kernel efficiency table of bench/RESULTS.md: each kernel microbenchmark against the
machine limits measured by the same program in the same run (bench/bench_limits.h).

Runs every given Google Benchmark program with repetitions, takes medians, and prints one
markdown row per benchmark: time, its rate (GFLOP/s or GB/s, as the benchmark counts it) and the
fraction of the matching limit: FMA peak × threads for GFLOP/s, the copy bandwidth of the
layer-sized buffer (36 MiB) for GB/s. The limits row of each program is printed first.

Usage: bench/kernel_efficiency.py [--build build] [--filter REGEX] [--repetitions 5]
                                  [--programs bench_pointwise,bench_dense_conv,bench_depthwise]
"""
import argparse
import json
import os
import re
import subprocess
import sys

from machine import machine_description  # bench/machine.py, beside this script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_program(path, bench_filter, repetitions, min_time):
    command = [path, "--benchmark_format=json", "--benchmark_repetitions=%d" % repetitions,
               "--benchmark_report_aggregates_only=true", "--benchmark_min_time=%g" % min_time]
    if bench_filter:
        command.append("--benchmark_filter=(%s)|limits_" % bench_filter)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    medians = {}
    for entry in json.loads(out)["benchmarks"]:
        # With one repetition Google Benchmark writes no aggregates: the single run is the median.
        if entry.get("aggregate_name") == "median" or (repetitions == 1 and
                                                       entry.get("run_type") == "iteration"):
            medians[entry["run_name"]] = entry
    return medians


def threads_of(name):
    """Without a "threads" counter: the thread count as the last argument."""
    numbers = re.findall(r"/(\d+)", name.replace("/real_time", ""))
    return int(numbers[-1]) if numbers else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--programs",
                        default="bench_pointwise,bench_dense_conv,bench_depthwise,bench_fused_block")
    parser.add_argument("--filter", default="", help="regex on benchmark names (limits always run)")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    args = parser.parse_args()
    machine = machine_description()
    print("CPU: %s (%d cores), %s, load average %.2f" %
          (machine["cpu"], machine["cores"], machine["date"], os.getloadavg()[0]))
    print("command: bench/kernel_efficiency.py " + " ".join(sys.argv[1:]))
    print()
    print("| program | benchmark | kernel | median ms | rate | of the limit |")
    print("|---|---|---|---|---|---|")
    for program in args.programs.split(","):
        path = os.path.join(args.build, program)
        if not os.path.exists(path):
            sys.exit("%s not built (cmake --build %s --target %s)" % (path, args.build, program))
        medians = run_program(path, args.filter, args.repetitions, args.min_time)
        peak = next((e["GFLOP/s"] for n, e in medians.items()
                     if n.startswith("atrous_bench::limits_fma_peak")), None)
        copy = next((e["GB/s"] for n, e in medians.items()
                     if n.startswith("atrous_bench::limits_copy/36/")), None)
        for name, entry in medians.items():
            if not name.startswith("atrous_bench::"):
                continue
            rate = entry.get("GFLOP/s", 0) or entry.get("GB/s", 0)
            unit = "GFLOP/s" if "GFLOP/s" in entry else "GB/s"
            print("| %s | %s | limit | %.2f | %.1f %s | |" %
                  (program, name.replace("atrous_bench::", "").replace("/real_time", ""),
                   entry["real_time"], rate, unit))
        for name, entry in medians.items():
            if name.startswith("atrous_bench::"):
                continue
            threads = int(entry["threads"]) if "threads" in entry else threads_of(name)
            if "GFLOP/s" in entry and peak:
                rate = entry["GFLOP/s"]
                share = "%.0f %% of %d× FMA peak" % (100 * rate / (peak * threads), threads)
                rate_text = "%.1f GFLOP/s" % rate
            elif "GB/s" in entry and copy:
                rate = entry["GB/s"]
                share = "%.0f %% of copy bandwidth (1 thread)" % (100 * rate / copy)
                rate_text = "%.1f GB/s" % rate
            else:
                share, rate_text = "", ""
            print("| %s | %s | %s | %.3f | %s | %s |" %
                  (program, name.replace("/real_time", ""), entry.get("label", ""),
                   entry["real_time"], rate_text, share))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
