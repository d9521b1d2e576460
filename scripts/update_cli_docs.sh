#!/usr/bin/env bash
# Rewrites the generated reference section of docs/CLI.md from `atrous help --markdown` (the
# CLI11 definitions that parse the command line). Usage: scripts/update_cli_docs.sh [path/to/atrous]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python3 - "$root/docs/CLI.md" "${1:-$root/build/atrous}" <<'PY'
import subprocess, sys
path, atrous = sys.argv[1], sys.argv[2]
generated = subprocess.run([atrous, "help", "--markdown"], check=True, capture_output=True,
                           text=True).stdout
begin, end = "<!-- BEGIN GENERATED: atrous help --markdown -->\n", "<!-- END GENERATED -->"
text = open(path).read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + generated + end + tail)
PY
