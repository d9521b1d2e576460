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
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_name():
    fields = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if ":" in line:
                    key, value = (part.strip() for part in line.split(":", 1))
                    fields.setdefault(key, value)
    except OSError:
        return "unknown CPU"
    return "%s, family %s model %s" % (fields.get("model name", "?"), fields.get("cpu family", "?"),
                                       fields.get("model", "?"))


def run_program(path, bench_filter, repetitions, min_time):
    command = [path, "--benchmark_format=json", "--benchmark_repetitions=%d" % repetitions,
               "--benchmark_report_aggregates_only=true", "--benchmark_min_time=%g" % min_time]
    if bench_filter:
        command.append("--benchmark_filter=(%s)|limits_" % bench_filter)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    medians = {}
    for entry in json.loads(out)["benchmarks"]:
        if entry.get("aggregate_name") == "median":
            medians[entry["run_name"]] = entry
    return medians


def threads_of(name):
    """The benchmarks put the thread count last among their arguments."""
    numbers = re.findall(r"/(\d+)", name.replace("/real_time", ""))
    return int(numbers[-1]) if numbers else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(REPO, "build"))
    parser.add_argument("--programs", default="bench_pointwise,bench_dense_conv,bench_depthwise")
    parser.add_argument("--filter", default="", help="regex on benchmark names (limits always run)")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    args = parser.parse_args()
    print("CPU: %s (%d cores), %s, load average %.2f" %
          (cpu_name(), os.cpu_count(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           os.getloadavg()[0]))
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
            threads = threads_of(name)
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
