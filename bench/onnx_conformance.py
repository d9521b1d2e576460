#!/usr/bin/env python3
"""ONNX's backend test cases (node, simple, pytorch-operator, pytorch-converted, light) on atrous:
every case whose ops the converter claims, converted and run on the reference and CPU backends
(tests/python/onnx_backend_cases.py says how a case is judged). Writes the per-case results as
JSON and, with --markdown, the op table of docs/OPS.md ("ONNX conformance").

    python bench/onnx_conformance.py --binary build/atrous --json results.json \
        --update-doc docs/OPS.md --passing-list tests/python/onnx_backend_passing.txt

Needs the converter (pip install weights_converter/) and onnx. Exit status 1 when a case failed.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import re
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "conformance"))
try:
    import atrous_convert  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(REPO_ROOT, "weights_converter"))

import onnx_backend_cases as cases_module  # noqa: E402
from atrous_cli import default_binary  # noqa: E402

_CASES = {}
DOC_BEGIN = "<!-- bench/onnx_conformance.py table begin -->"
DOC_END = "<!-- bench/onnx_conformance.py table end -->"


def _run_one(key, binary, work_root):
    warnings.simplefilter("ignore")  # NumPy's warnings while folding the cases' constants
    case = _CASES[key]
    model, _ = case.load()
    ops = cases_module.operators(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    entry = {"kind": case.kind, "name": case.name, "ops": ops, "opset": opset}
    if not cases_module.is_claimed(ops):
        entry["claimed"] = False
        return entry
    entry["claimed"] = True
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=work_root) as work_dir:
        outcomes = cases_module.run_case(case, binary, work_dir)
    entry["seconds"] = round(time.perf_counter() - start, 3)
    entry["results"] = {b: {"status": o.status, "detail": o.detail} for b, o in outcomes.items()}
    constants = next(iter(outcomes.values())).constants
    if constants:
        entry["constants"] = list(constants)
    return entry


def _init(kinds):
    for case in cases_module.collect(kinds):
        _CASES[(case.kind, case.name)] = case


# A refusal's message names nodes and shapes; the table groups refusals by what was refused,
# with the element types or ops involved in parentheses.
_REASONS = [
    (r"element type (\w+), which the IR lacks", "an element type the IR lacks"),
    (r"input \d+ is (\w+); the IR op needs float32", "integer data where the op is mapped for float32"),
    (r"cast of a run-time \w+ tensor to (\w+)", "a cast to a type the IR lacks"),
    (r"rank 4 is supported|only 2-D|2-D convolution|2-D kernel_shape", "3-D data (2-D images and 1-D sequences are mapped)"),
    (r"\((\w+), '[^']*'\) must be a constant", "a data input computed at run time"),
    (r"select_last_index", "ArgMax select_last_index=1 (the IR keeps the first maximum)"),
    (r"training", "training mode"),
    (r"^(\w+) node .*is used, but the IR op has no such output", "an optional output the IR does not produce"),
    (r"empty output", "an empty output shape"),
    (r"is not a tensor", "a sequence or optional input"),
    (r"average pooling with dilations", "AveragePool with dilations"),
    (r"larger than the full output", "ConvTranspose output_shape beyond the full output"),
    (r"dynamic shape", "a dynamic input shape"),
    (r"unsupported ONNX operators?: (\w+)", "an op the converter does not map"),
]


def reason_category(message: str):
    """(category, detail) of a refusal: detail is the dtype or op it names, or ''."""
    for pattern, name in _REASONS:
        match = re.search(pattern, message)
        if match:
            detail = match.group(1) if match.groups() else ""
            return name, (detail if detail[:1].isupper() and not detail.isupper() else detail.lower())
    text = re.sub(r"^[A-Za-z]+ node '([^']|'[^:]*')*': ", "", message)
    return re.sub(r"-?\d+(\.\d+)?", "N", text)[:90], ""


def _reasons_cell(details) -> str:
    grouped = collections.defaultdict(collections.Counter)
    for message in details:
        category, detail = reason_category(message)
        grouped[category][detail] += 1
    parts = []
    for category, counter in sorted(grouped.items(), key=lambda kv: -sum(kv[1].values())):
        named = sorted(d for d in counter if d)
        parts.append(f"{category}{' (' + ', '.join(named) + ')' if named else ''}: {sum(counter.values())}")
    return "; ".join(parts)


def markdown(entries) -> str:
    """One row per ONNX op for the single-op node tests; multi-op cases (expanded functions and
    the model tests) are summarised by kind below."""
    claimed = [e for e in entries if e["claimed"]]
    by_op = collections.defaultdict(list)
    composite = collections.defaultdict(list)
    for e in claimed:
        mapped = [op for op in e["ops"] if op != "Constant"]
        if e["kind"] == "node" and len(mapped) == 1 and "_expanded" not in e["name"]:
            by_op[mapped[0]].append(e)
        else:
            composite["node (expanded functions)" if e["kind"] == "node" else e["kind"]].append(e)

    def status(e, backend):
        return e["results"][backend]["status"]

    def cells(group):
        ref = sum(status(e, "reference") == "passed" for e in group)
        cpu = sum(status(e, "cpu") == "passed" for e in group)
        frozen = sum(bool(e.get("constants")) and status(e, "cpu") == "passed" for e in group)
        failed = sum(any(status(e, b) == "failed" for b in e["results"]) for e in group)
        differs = sum(status(e, "reference") == "differs" for e in group)
        why = _reasons_cell(e["results"]["reference"]["detail"] for e in group
                            if status(e, "reference") == "unsupported")
        if differs:
            why = (why + "; " if why else "") + f"stored output differs from ONNX Runtime: {differs}"
        return f"{len(group)} | {ref} | {cpu} | {frozen or '—'} | {failed or '—'} | {why or '—'}"

    lines = ["| ONNX op | opsets of the cases | cases | passed, reference | passed, cpu | "
             "of them with parameter inputs made constant | failed | not run: why (count) |",
             "|---|---|---|---|---|---|---|---|"]
    for op in sorted(by_op):
        opsets = ", ".join(map(str, sorted({e["opset"] for e in by_op[op]})))
        lines.append(f"| {op} | {opsets} | {cells(by_op[op])} |")
    lines += ["", "Multi-op cases: the node tests named `*_expanded` (ops ONNX defines as functions, written "
              "out in primitive ops) and the model tests:", "",
              "| multi-op cases | cases | passed, reference | passed, cpu | "
              "of them with parameter inputs made constant | failed | not run: why (count) |",
              "|---|---|---|---|---|---|---|"]
    for kind, group in composite.items():
        lines.append(f"| {kind} | {cells(group)} |")
    tally = {b: collections.Counter(status(e, b) for e in claimed) for b in ("reference", "cpu")}
    lines += ["", f"{len(entries)} cases, {len(claimed)} of them claimed (every op mapped or folded). "
              + "; ".join(f"{b}: {t['passed']} passed, {t['failed']} failed, {t['differs']} differ, "
                          f"{t['unsupported']} not run" for b, t in tally.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=default_binary(), help="the atrous binary (default: $ATROUS_BIN "
                        "or build/atrous)")
    parser.add_argument("--kinds", default=",".join(cases_module.KINDS))
    parser.add_argument("--filter", default="", help="only cases whose name contains this")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="write every case's result here")
    parser.add_argument("--markdown", help="write the op table here")
    parser.add_argument("--update-doc", help="replace the table between the markers in this file "
                        "(docs/OPS.md)")
    parser.add_argument("--passing-list", help="write the cases that pass on every backend here "
                        "(tests/python/onnx_backend_passing.txt)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    start = time.perf_counter()
    _init(kinds)
    keys = [k for k in _CASES if args.filter in k[1]]
    with tempfile.TemporaryDirectory() as work_root, \
            concurrent.futures.ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(kinds,)) as pool:
        entries = list(pool.map(_run_one, keys, [args.binary] * len(keys), [work_root] * len(keys),
                                chunksize=8))
    elapsed = time.perf_counter() - start
    claimed = [e for e in entries if e["claimed"]]
    print(f"{len(entries)} cases, {len(claimed)} claimed, {elapsed:.0f} s with {args.jobs} jobs")
    for backend in cases_module.BACKENDS:
        tally = collections.Counter(e["results"][backend]["status"] for e in claimed)
        print(f"  {backend}: " + ", ".join(f"{k} {tally[k]}" for k in ("passed", "failed", "differs", "unsupported")))
    for e in claimed:
        for backend, result in e["results"].items():
            if result["status"] == "failed":
                print(f"FAILED {backend} {e['kind']}/{e['name']}: {result['detail'][:300]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(entries, f, indent=1, sort_keys=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(entries))
    if args.update_doc:
        with open(args.update_doc) as f:
            text = f.read()
        begin, end = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
        with open(args.update_doc, "w") as f:
            f.write(text[:begin] + "\n" + markdown(entries) + text[end:])
    if args.passing_list:
        with open(args.passing_list, "w") as f:
            f.write("# ONNX backend cases that pass on every backend; written by bench/onnx_conformance.py\n")
            for e in claimed:
                if all(r["status"] == "passed" for r in e["results"].values()):
                    f.write(f"{e['kind']}/{e['name']}\n")
    return 1 if any(r["status"] == "failed" for e in claimed for r in e["results"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
