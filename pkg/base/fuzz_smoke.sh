#!/usr/bin/env bash
# A short fuzz smoke run under `bazel test`: the target replays its corpus
# (the dir given) and a bounded number of mutations.
set -euo pipefail
exec "$@"
