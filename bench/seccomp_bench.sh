#!/usr/bin/env bash
# Runs //bench:seccomp_bench (root): container create+start with seccomp
# RuntimeDefault vs Unconfined, the CreateContainer call alone, and ocid's
# spec + config.json in-process, sides alternated. Builds the bench and ocid
# (with ocid-pinns and ocid-infra beside it), starts a local registry, pushes
# the small test images, benchmarks, stops the registry. Boots ocid: run it
# under `flock -o /tmp/ocid-e2e.lock`.
# Usage: bench/seccomp_bench.sh [--runs 50] [--warmup 5] [--spec-runs 1000] [--no-new-privs 0|1]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:seccomp_bench //cmd/ocid:all
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/seccomp_bench.runfiles/ocid" && "$bin/bench/seccomp_bench" --registry "$REGISTRY" "$@")
