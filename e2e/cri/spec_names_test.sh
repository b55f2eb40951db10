#!/usr/bin/env bash
# Checks that the suite's binaries implement every critest spec of specs.txt
# exactly once, and that not_yet.txt names only specs (so the list of what
# is not built yet cannot drift from the code).
# Usage: spec_names_test.sh SPECS NOT_YET BINARY...
set -euo pipefail
specs=$1 not_yet=$2
shift 2

implemented=$(mktemp)
trap 'rm -f "$implemented"' EXIT
for binary in "$@"; do
  # --gtest_list_tests prints "Suite." lines, then "  Name" lines.
  # Without GTEST_OUTPUT and XML_OUTPUT_FILE (gtest reads both): Bazel sets
  # them for this test, and a listing gtest writes its list there as a
  # passing JUnit file that ci/test.sh would count instead of our result.
  env -u GTEST_OUTPUT -u XML_OUTPUT_FILE "$binary" --gtest_list_tests | awk '
    /^[^ ]/ { suite = $1; next }
    { print suite $1 }' >>"$implemented"
done

failed=0
while IFS=$'\t' read -r name _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  count=$(grep -cxF -- "$name" "$implemented" || true)
  if [[ "$count" != 1 ]]; then
    echo "spec $name is implemented $count times (want 1)" >&2
    failed=1
  fi
done <"$specs"
while read -r name _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  # Not grep -q: it exits at the first match, and cut's SIGPIPE then fails
  # the pipeline under pipefail (a flaky "no spec").
  if ! cut -f1 "$specs" | grep -xF -- "$name" >/dev/null; then
    echo "not_yet.txt names $name, which is no spec of specs.txt" >&2
    failed=1
  fi
done <"$not_yet"
if ((failed == 0)); then
  echo "all $(grep -cv '^#' "$specs") specs implemented once; $(grep -cvE '^(#|$)' "$not_yet") not yet built"
fi
exit "$failed"
