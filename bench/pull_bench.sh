#!/usr/bin/env bash
# Runs //bench:pull_bench against a local registry holding the ~200 MB test
# image: starts the registry, builds the images (--with-big), benchmarks,
# stops the registry. Usage: bench/pull_bench.sh [--runs N]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:pull_bench
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" --with-big >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/pull_bench.runfiles/ocid" && "$bin/bench/pull_bench" --registry "$REGISTRY" "$@")
