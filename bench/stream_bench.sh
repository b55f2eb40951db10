#!/usr/bin/env bash
# Runs //bench:stream_bench (root): exec round trip (`exec true`) against
# `runc exec` of the same container, and port-forward throughput into a
# pod's busybox nc against a direct TCP copy inside the pod's netns. Builds
# the bench and ocid (with ocid-pinns and ocid-infra beside it), starts a
# local registry, pushes the small test images, benchmarks, stops the
# registry. The bench makes bridge ocidstream0 (10.214.0.0/24, no masquerade)
# and removes it, its pod and its temp dir on the way out. Boots ocid: run it
# under `flock -o /tmp/ocid-e2e.lock`.
# Usage: bench/stream_bench.sh [--runs 100] [--warmup 5] [--megabytes 100] [--copies 5]
#        [--sink cat|nc]   (cat: nc -ll hands each connection to a cat; nc: nc reads)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:stream_bench //cmd/ocid:all
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/stream_bench.runfiles/ocid" && "$bin/bench/stream_bench" --registry "$REGISTRY" "$@")
