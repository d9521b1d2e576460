#!/usr/bin/env bash
# Every subcommand that `atrous --help` lists answers --help and -h with its usage on stdout and
# exit 0; usage errors exit 2 with one line on stderr. Usage: test_help.sh path/to/atrous
set -u
atrous=$1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

top=$("$atrous" --help) || fail "atrous --help exited $?"
[[ $top == *"Usage: atrous"* ]] || fail "atrous --help prints no usage line"
# The subcommands, from the "Subcommands:" block of the top-level help.
mapfile -t commands < <(printf '%s\n' "$top" | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
for expected in info run segment merge eval bench help version; do
  printf '%s\n' "${commands[@]}" | grep -qx "$expected" || fail "atrous --help does not list '$expected'"
done
for command in "${commands[@]}"; do
  for flag in --help -h; do
    out=$("$atrous" "$command" "$flag" 2>/tmp/atrous_help_err.$$)
    rc=$?
    [[ $rc == 0 ]] || fail "atrous $command $flag exited $rc: $(cat /tmp/atrous_help_err.$$)"
    [[ $out == *"Usage: atrous $command"* ]] || fail "atrous $command $flag prints no usage line"
  done
  out=$("$atrous" help "$command") || fail "atrous help $command exited $?"
  [[ $out == *"Usage: atrous $command"* ]] || fail "atrous help $command prints no usage line"
done
rm -f /tmp/atrous_help_err.$$

usage_error() {
  local err rc
  err=$("$atrous" "$@" 2>&1 >/dev/null)
  rc=$?
  [[ $rc == 2 ]] || fail "atrous $* exited $rc, expected 2 (usage error)"
  [[ $(printf '%s\n' "$err" | wc -l) == 1 && $err == "atrous: error: "* ]] ||
    fail "atrous $*: expected one 'atrous: error:' line, got: $err"
}
usage_error frobnicate
usage_error info --frobnicate
usage_error run --threads
usage_error bench --arch panoptic-deeplab-mnv3s-os32 --runs 0
usage_error merge --semantic
usage_error eval --format xml
usage_error help nosuchcommand

[[ $failures == 0 ]] && echo "all subcommands answer --help" || exit 1
