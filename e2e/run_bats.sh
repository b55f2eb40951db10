#!/usr/bin/env bash
# Runs one bats suite under `bazel test`: the binaries come from runfiles, and
# the JUnit report goes where Bazel reads per-case results (XML_OUTPUT_FILE).
set -euo pipefail

suite=$1
export OCID_BIN=$PWD/cmd/ocid/ocid
export OCIC_BIN=$PWD/cmd/ocic/ocic
export E2E_DIR=$PWD/e2e

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
# bats 1.8's --report-formatter can exit before writing its file, so the
# JUnit report is the main output, shown in the test log as well.
bats --formatter junit "$suite" >"$report" || status=$?
cat "$report"
if [[ -n "${XML_OUTPUT_FILE:-}" ]]; then cp "$report" "$XML_OUTPUT_FILE"; fi
exit "$status"
