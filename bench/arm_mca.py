#!/usr/bin/env python3
"""Cycles per inner-loop iteration of the NEON kernels on modelled ARM cores (llvm-mca).

Kernels: the gemm tile (pointwise, implicit-GEMM convolutions and the fused blocks), the
depthwise band, row, several-rows and channel-lanes loops (the first two also in the fused
blocks), the one-pixel gemv, the direct dense convolution and the stems' row-tile convolution.

Compiles the aarch64 kernel translation units to assembly with the cross compiler and the
project's Release flags, finds every innermost loop (a label and the conditional branch back to
it, with no label between) that holds vector FMAs in the named kernel functions, and runs
LLVM's machine-code analyzer on each loop body for each CPU model. The FMA-bound ideal of a loop
is its count of vector FMAs times the cycles one independent FMA costs on the same model
(measured with llvm-mca on a block of independent `fmla`, so ideal and loop come from one model).

Usage: bench/arm_mca.sh [--cpus cortex-a76,cortex-a55] [--markdown]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, translation unit, regex on the demangled function name, required). The label is what
# the table shows; every innermost loop with vector FMAs in a matching function is analysed. A
# required kernel without such a loop fails the script (the test stage runs it).
KERNELS = [
    ("gemm 6x8 (pointwise, dense conv)", "cpu/kernels_neon.cpp", r"atrous::gemm_(block_with<xsimd::neon64, 6, 2, |tile<xsimd::neon64, 6, [12], )\(atrous::ActivationKind\)0>", True),
    ("depthwise band", "cpu/kernels_neon.cpp", r"atrous::depthwise_band<", True),
    ("depthwise row", "cpu/kernels_neon.cpp", r"atrous::depthwise_row<", True),
    # The several-rows kernel (4 output rows × 2 vectors, 3×3 and 5×5 fully unrolled; its
    # epilogue's activation switch puts labels in the column loop, so its largest straight run
    # of FMAs, one block of 4 × 8 outputs, is analysed as the iteration) and the channel-lanes
    # path (small planes, a vector of channels per pixel): its sliding window for square 3×3 and
    # 5×5 kernels at stride 1 or 2 (each block straight code, its largest run analysed: one
    # block of 7 or 8 pixels) and its blocks of 2 rows × 7 pixels for the other geometries.
    ("depthwise 4 rows", "cpu/kernels_neon.cpp", r"atrous::depthwise_rows(_k)?<", True),
    # Stride 2: the same 4 rows from pairs of vectors split by vld2q (even and odd columns).
    ("depthwise 4 rows stride 2", "cpu/kernels_neon.cpp", r"atrous::depthwise_rows_s2_k<", True),
    ("depthwise lanes window", "cpu/kernels_neon.cpp", r"atrous::depthwise_lanes_window<", True),
    ("depthwise lanes", "cpu/kernels_neon.cpp", r"atrous::depthwise_lanes(_s)?<", True),
    # Pixel tiles of small 1×1 layers (7 pixels broadcast × 2 vectors of output channels).
    ("gemm pixels 7x8 (small images)", "cpu/kernels_neon.cpp", r"atrous::gemm_pixels_with<xsimd::neon64, 2, \(atrous::ActivationKind\)0>", True),
    ("gemv (one-pixel 1x1)", "cpu/kernels_neon.cpp", r"atrous::gemv_block<", True),
    # The direct convolution's full tile (1 row × 6 pixels × 4 vectors; pixel steps 1 (NCHW),
    # 16 (the interleaved input copy) and any (strided)); the stacked-row variants for narrow
    # border segments are left out.
    ("direct conv 6x16", "cpu/kernels_neon.cpp", r"atrous::direct_conv_tile_fixed<xsimd::neon64, 1, 6, 4, ", True),
    # The row-tile convolution (8 output channels × 3 vectors of columns per tap) with the
    # plan's channel and tap counts; the RGB stems' instantiation (3 channels, 3×3 taps as
    # constants) is straight code without an inner loop, so it has no row here.
    ("row conv 8x12 (runtime taps)", "cpu/kernels_neon.cpp", r"atrous::row_conv_tile_fixed<xsimd::neon64, 8, [123], 0, 0>", True),
]
# The fused inverted-residual blocks (cpu/fused_block.cpp) run the gemm and depthwise loops
# above on their row window, so their rows cover them.

FMA_RE = re.compile(r"^\s*(fmla|fmls)\s+v\d+\.(4s|2d|8h)")
LABEL_RE = re.compile(r"^(\.L\w+|[A-Za-z_$][\w$.]*):")
BRANCH_RE = re.compile(r"^\s*(b\.?\w*|cbn?z|tbn?z)\s+(?:[^,]+,\s*)*(\.L\w+)\s*$")


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs).stdout


def compile_to_asm(source, cxx, out_dir):
    asm = os.path.join(out_dir, os.path.basename(source) + ".s")
    if not os.path.exists(asm):
        run([cxx, "-std=c++17", "-O3", "-DNDEBUG", "-I" + REPO, "-S", os.path.join(REPO, source),
             "-o", asm])
    return asm


def functions(asm_path):
    """(demangled name, [lines]) for every function in the assembly file."""
    with open(asm_path) as f:
        lines = f.read().splitlines()
    starts = [(i, line[:-1]) for i, line in enumerate(lines)
              if re.match(r"^_Z\w+:$", line)]
    names = run(["c++filt"], input="\n".join(name for _, name in starts)).splitlines()
    result = []
    for (i, _), name in zip(starts, names):
        end = i + 1
        while end < len(lines) and not lines[end].lstrip().startswith(".size"):
            end += 1
        result.append((name, lines[i + 1:end]))
    return result


def innermost_loops(body):
    """Instruction lists of the innermost loops: label ... branch back to that label."""
    loops = []
    label_at = {}
    for i, line in enumerate(body):
        m = LABEL_RE.match(line)
        if m:
            label_at[m.group(1)] = i
            continue
        b = BRANCH_RE.match(line)
        if b and b.group(2) in label_at and label_at[b.group(2)] < i:
            start = label_at[b.group(2)]
            inner = body[start + 1:i + 1]
            if any(LABEL_RE.match(x) for x in inner):
                continue  # holds another block: not innermost
            instructions = [x.strip() for x in inner
                            if x.strip() and not x.strip().startswith((".", "//", "#"))]
            loops.append(instructions)
    return loops


def largest_block(body):
    """The longest run of instructions without a label or branch that holds vector FMAs."""
    best, current = [], []
    for line in body:
        text = line.strip()
        if LABEL_RE.match(line) or BRANCH_RE.match(line) or re.match(r"^(b|ret|br)\b", text):
            if sum(bool(FMA_RE.match(x)) for x in current) > sum(bool(FMA_RE.match(x)) for x in best):
                best = current
            current = []
            continue
        if text and not text.startswith((".", "//", "#")):
            current.append(text)
    if sum(bool(FMA_RE.match(x)) for x in current) > sum(bool(FMA_RE.match(x)) for x in best):
        best = current
    return [best] if best else []


def mca(instructions, cpu, iterations=400):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write("\n".join(instructions) + "\n")
        path = f.name
    try:
        out = run(["llvm-mca-14" if shutil_which("llvm-mca-14") else "llvm-mca",
                   "-mtriple=aarch64-linux-gnu", "-mcpu=" + cpu, "-iterations=%d" % iterations,
                   path])
    finally:
        os.unlink(path)
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    return cycles / iterations


def shutil_which(name):
    from shutil import which
    return which(name)


def fma_cycles(cpu):
    """Cycles per independent 128-bit FMA on this model: 24 FMAs into 24 accumulators."""
    block = ["fmla v%d.4s, v30.4s, v31.4s" % i for i in range(24)]
    return mca(block, cpu) / len(block)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", default="cortex-a76,cortex-a55")
    parser.add_argument("--cxx", default="aarch64-linux-gnu-g++")
    parser.add_argument("--keep", help="folder for the assembly (default: a temporary one)")
    args = parser.parse_args()
    cpus = args.cpus.split(",")
    out_dir = args.keep or tempfile.mkdtemp(prefix="arm_mca_")
    os.makedirs(out_dir, exist_ok=True)
    per_fma = {cpu: fma_cycles(cpu) for cpu in cpus}
    print("llvm-mca (%s), %s; cycles per loop iteration against the FMA-bound ideal "
          "(vector FMAs × cycles per independent FMA on the same model: %s)" %
          (run(["llvm-mca-14" if shutil_which("llvm-mca-14") else "llvm-mca", "--version"])
           .split("\n")[0].strip(), run([args.cxx, "--version"]).split("\n")[0],
           ", ".join("%s %.2f" % (c, per_fma[c]) for c in cpus)))
    print()
    header = "| kernel | function | loop | instructions | vector FMAs |"
    rule = "|---|---|---|---|---|"
    for cpu in cpus:
        header += " %s cycles/iter | %s ideal | %s of ideal |" % (cpu, cpu, cpu)
        rule += "---|---|---|"
    print(header)
    print(rule)
    missing = []
    for label, source, pattern, required in KERNELS:
        found = False
        asm = compile_to_asm(source, args.cxx, out_dir)
        for name, body in functions(asm):
            if not re.search(pattern, name):
                continue
            short = re.sub(r"\(.*", "", name).replace("atrous::", "").replace("void ", "")
            short = short.replace("<xsimd::neon64>", "").replace("xsimd::neon64, ", "")
            loops = [l for l in innermost_loops(body) if sum(bool(FMA_RE.match(x)) for x in l) >= 4]
            if not loops and (label.startswith("depthwise 4 rows") or
                              label == "depthwise lanes window"):
                loops = [l for l in largest_block(body)
                         if sum(bool(FMA_RE.match(x)) for x in l) >= 4]
            for index, loop in enumerate(loops):
                found = True
                fmas = sum(bool(FMA_RE.match(x)) for x in loop)
                row = "| %s | `%s` | %d | %d | %d |" % (label, short, index, len(loop), fmas)
                for cpu in cpus:
                    cycles = mca(loop, cpu)
                    ideal = fmas * per_fma[cpu]
                    row += " %.2f | %.2f | %.0f %% |" % (cycles, ideal, 100.0 * ideal / cycles)
                print(row, flush=True)
        if required and not found:
            missing.append(label)
    if missing:
        sys.exit("no inner loop with vector FMAs found for: %s (did the kernel names change?)" %
                 ", ".join(missing))


if __name__ == "__main__":
    main()
