#!/usr/bin/env bash
# Wall time of the whole gtest CRI validation suite (e2e/cri) against ocid:
# builds everything first (not timed), then runs every suite binary once,
# uncached and one after another, as root. Prints each binary's own time
# (from its JUnit file) and the total wall time of the run.
# Target (issue 8): the whole suite under 60 s on a 2-core machine.
# Usage: bench/cri_suite_bench.sh [extra bazel flags]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

targets=$(bazel query 'tests(//e2e/cri/...)' 2>/dev/null)
# shellcheck disable=SC2086
bazel build -c opt "$@" $targets //cmd/ocid:all >/dev/null 2>&1
start=$(date +%s.%N)
# shellcheck disable=SC2086
bazel test -c opt --nocache_test_results "$@" $targets >/dev/null 2>&1 || status=$?
end=$(date +%s.%N)

testlogs=$(bazel info -c opt bazel-testlogs 2>/dev/null)
for target in $targets; do
  path=${target#//}
  xml="$testlogs/${path/://}/test.xml"
  # An sh_test's JUnit file carries no time: "?" (and no grep failure,
  # which would end the script under pipefail).
  t=$({ grep -o '<testsuites [^>]*time="[0-9.]*"' "$xml" 2>/dev/null || true; } |
    grep -o 'time="[0-9.]*"' | tr -dc '0-9.' || true)
  printf '%-45s %8s s\n' "$target" "${t:-?}"
done
printf 'cri suite wall time: %.1f s (bazel test of %d binaries, build excluded)%s\n' \
  "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$(wc -w <<<"$targets")" "${status:+, some tests FAILED}"
