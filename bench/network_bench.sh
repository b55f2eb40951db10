#!/usr/bin/env bash
# Runs //bench:network_bench (root): RunPodSandbox on a bridge network
# (ocidbench0, 10.213.0.0/24) against the same CNI plugin chain invoked
# directly. Builds the bench and ocid (with ocid-pinns and ocid-infra beside
# it), then runs the bench from its runfiles dir. The bench cleans up its own
# pods, pins, bridge and temp dir.
# Usage: bench/network_bench.sh [--pods N] [--warmup N]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:network_bench //cmd/ocid:all
bin=$(bazel info -c opt bazel-bin)
cd "$bin/bench/network_bench.runfiles/ocid"
exec "$bin/bench/network_bench" "$@"
