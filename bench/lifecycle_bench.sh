#!/usr/bin/env bash
# Runs //bench:lifecycle_bench against a local registry holding busybox:
# builds the bench and ocid (with ocid-pinns and ocid-infra beside it),
# starts the registry, pushes the small test images, benchmarks, stops the
# registry. Usage: bench/lifecycle_bench.sh [--iterations N] [...]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:lifecycle_bench //cmd/ocid:all
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/lifecycle_bench.runfiles/ocid" && "$bin/bench/lifecycle_bench" --registry "$REGISTRY" "$@")
