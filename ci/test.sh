#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (pinned packages) and runs every test:
# `bazel test //...`. Ends with one line: "tests: N passed, N failed", summed
# over the test cases of every test target (a target that failed to build or
# wrote no result counts as one failed test).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

if ! "$top/ci/setup.sh"; then
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

bazel test //... "$@"
bazel_status=$?

testlogs=$(bazel info bazel-testlogs 2>/dev/null)
passed=0
failed=0
skipped=0
for target in $(bazel query 'tests(//...)' 2>/dev/null); do
  path=${target#//}
  xml="$testlogs/${path/://}/test.xml"
  if [[ ! -s "$xml" ]]; then
    echo "no result for $target" >&2
    failed=$((failed + 1))
    continue
  fi
  # Every <testsuite> element carries its own counts; sum them.
  read -r tests failures skips < <(
    grep -o '<testsuite [^>]*' "$xml" | awk '
      function attr(name,   m) {
        if (match($0, name "=\"[0-9]+\"")) {
          m = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", m); return m + 0
        }
        return 0
      }
      { t += attr("tests"); f += attr("failures") + attr("errors");
        s += attr("skipped") + attr("disabled") }
      END { print t + 0, f + 0, s + 0 }')
  if ((tests == 0)); then
    echo "no test cases ran in $target" >&2
    failed=$((failed + 1))
    continue
  fi
  passed=$((passed + tests - failures - skips))
  failed=$((failed + failures))
  skipped=$((skipped + skips))
done

if ((bazel_status != 0 && failed == 0)); then
  echo "bazel test exited $bazel_status" >&2
  failed=1
fi
if ((skipped > 0)); then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
((failed == 0 && bazel_status == 0))
