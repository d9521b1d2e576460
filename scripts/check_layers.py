#!/usr/bin/env python3
"""Checks that every #include of ours points down the layers of DESIGN.md ("Who may include whom").

Prints each upward include as `file:line: folder/ may not include path` and exits 1 if there is one
that the allow-list below does not name. Reads only the source tree; runs in well under a second.
Usage: scripts/check_layers.py [REPO_ROOT]
"""
import os
import re
import sys

ENGINE = {"graph", "ops", "cpu", "cuda", "runtime"}
# What each folder may include (its own folder is always allowed). `include` is the public C header
# (include/atrous.h), part of the API facade.
ALLOWED = {
    "graph": set(),
    "ops": {"graph"},
    "cpu": {"graph", "ops"},
    "cuda": {"graph", "ops"},
    "runtime": {"graph", "ops", "cpu", "cuda"},
    "models": ENGINE,
    "eval": {"graph"},
    "include": set(),
    "api": ENGINE | {"models", "eval", "include"},
}
# Above everything: the CLI, benchmarks, tests, the fuzz target and the examples.
TOP = {"tools", "bench", "tests", "fuzz", "examples"}
FOLDERS = set(ALLOWED) | TOP

# Upward includes being removed by a change in progress, each as (including file or folder
# prefix, included path) with a comment saying which change removes it. Empty: every include of
# the tree points down; keep it that way.
KNOWN_UPWARD = []

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh")


def folder_of_include(path, root):
    if "/" in path:
        head = path.split("/", 1)[0]
        return head if head in FOLDERS else None
    if os.path.exists(os.path.join(root, "include", path)):
        return "include"
    return None  # same folder (e.g. "test_ops_helpers.h") or a third-party header


def main():
    default_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default_root)
    violations, allowed_hits = [], set()
    for folder in sorted(FOLDERS):
        for directory, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                full = os.path.join(directory, name)
                relative = os.path.relpath(full, root)
                with open(full, encoding="utf-8", errors="replace") as source:
                    for number, line in enumerate(source, 1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        included = match.group(1)
                        target = folder_of_include(included, root)
                        if target is None or target == folder or folder in TOP:
                            continue
                        if target in ALLOWED[folder]:
                            continue
                        known = [k for k in KNOWN_UPWARD if relative.startswith(k[0]) and included == k[1]]
                        if known:
                            allowed_hits.update(known)
                            continue
                        violations.append(f"{relative}:{number}: {folder}/ may not include {included}")
    for entry in KNOWN_UPWARD:
        if entry not in allowed_hits:
            print(f"check_layers: allow-list entry {entry} no longer occurs: remove it", file=sys.stderr)
    if violations:
        print("upward includes (DESIGN.md, 'Who may include whom'):", file=sys.stderr)
        for violation in violations:
            print("  " + violation, file=sys.stderr)
        return 1
    allowed = f" ({len(KNOWN_UPWARD)} known ones still allowed)" if KNOWN_UPWARD else ""
    print(f"check_layers: no upward includes{allowed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
