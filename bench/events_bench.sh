#!/usr/bin/env bash
# Runs //bench:events_bench against a local registry holding busybox:
# builds the bench and ocid (with ocid-pinns and ocid-infra beside it),
# starts the registry, pushes the small test images, benchmarks, stops the
# registry. Boots ocid: run it under `flock -o /tmp/ocid-e2e.lock`.
# Usage: bench/events_bench.sh [--iterations 50] [--subscribers 10] [--metrics 1|0]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:events_bench //cmd/ocid:all
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/events_bench.runfiles/ocid" && "$bin/bench/events_bench" --registry "$REGISTRY" "$@")
