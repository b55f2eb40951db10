#!/usr/bin/env bash
# Stops a registry started by start_registry.sh and removes its temp dir.
# Usage: stop_registry.sh PID DIR
# Only kills PID if it is a registry serving DIR/config.yml; only removes
# DIR if it looks like one start_registry.sh made.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 PID DIR" >&2
  exit 2
fi
pid=$1 dir=$2
rc=0

if [[ -n $pid ]]; then
  if ! [[ $pid =~ ^[0-9]+$ ]]; then
    echo "stop_registry: bad PID: $pid" >&2
    exit 2
  fi
  if kill -0 "$pid" 2>/dev/null; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ -n $dir && $cmdline != *"$dir/config.yml"* ]]; then
      echo "stop_registry: PID $pid is not the registry of $dir ($cmdline); not killing it" >&2
      rc=1
    else
      kill -TERM "$pid" 2>/dev/null || true
      # Not necessarily our child: poll instead of wait.
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        # A zombie child of the calling shell counts as gone.
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.05
      done
      if kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        echo "stop_registry: PID $pid ignored SIGTERM, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.1
      fi
    fi
  fi
fi

if [[ -n $dir && -d $dir ]]; then
  if [[ -f $dir/config.yml && $(basename -- "$dir") == ocid-registry.* ]]; then
    rm -rf -- "$dir"
  else
    echo "stop_registry: $dir does not look like a start_registry.sh dir; not removing" >&2
    rc=1
  fi
fi
exit "$rc"
