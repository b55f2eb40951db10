#!/usr/bin/env bash
# Runs //bench:census_bench (root): --cycles pod lifecycles from --clients
# clients in one private ocid, and the census of what the node holds before,
# after --sample cycles and at the end (mounts, netns pins, veths, IPAM
# leases, cgroups, processes, ocid's fds, threads, zombies and RSS). Builds
# the bench and ocid (with ocid-pinns and ocid-infra beside it), starts a
# local registry, pushes the small test images, runs, stops the registry.
# Counts every pod cgroup on the node: run it under
# `flock -o /tmp/ocid-e2e.lock` so that no other ocid's pods are counted.
# Usage: bench/census_bench.sh [--cycles 1000] [--clients 2] [--sample 100]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:census_bench //cmd/ocid:all
out=$(e2e/registry/start_registry.sh)
eval "$out"
trap 'e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"' EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null
bin=$(bazel info -c opt bazel-bin)
(cd "$bin/bench/census_bench.runfiles/ocid" && "$bin/bench/census_bench" --registry "$REGISTRY" "$@")
