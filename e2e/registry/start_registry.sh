#!/usr/bin/env bash
# Starts a throw-away docker-registry (distribution 2.8) on 127.0.0.1 at a
# free port, with its config and storage in a new temp dir. Prints eval-able
#   REGISTRY=127.0.0.1:PORT
#   REGISTRY_PID=N
#   REGISTRY_DIR=/tmp/ocid-registry.XXXXXX
# Stop it with: stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"
# Usage: out=$(e2e/registry/start_registry.sh) && eval "$out"
#   (not eval "$(...)" alone: under set -e a failure would go unnoticed,
#   as eval of an empty string succeeds)
# Env: REGISTRY_BIN (default docker-registry), REGISTRY_START_TIMEOUT (s, 15).
set -euo pipefail

bin=${REGISTRY_BIN:-docker-registry}
timeout_s=${REGISTRY_START_TIMEOUT:-15}
command -v "$bin" >/dev/null || { echo "start_registry: $bin not found" >&2; exit 1; }
command -v curl >/dev/null || { echo "start_registry: curl not found" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ocid-registry.XXXXXX")
pid=
ok=0
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  if [[ $ok != 1 ]]; then
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    rm -rf -- "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port_in_use() {
  [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# One attempt: pick a port that looks free, start the registry, and wait
# until it answers /v2/. Returns 2 if the registry died (e.g. lost a bind
# race) so that the caller can retry on another port.
try_start() {
  local port=$1 i
  cat >"$dir/config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
CFG
  mkdir -p "$dir/storage"
  "$bin" serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
  pid=$!
  for ((i = 0; i < timeout_s * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=
      return 2
    fi
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
            "http://127.0.0.1:$port/v2/" 2>/dev/null) == 200 ]]; then
      # Make sure it is our process that answered (not someone who got
      # the port first): it must be the one listening there.
      # (ss shows no pid= for sockets of other users when not root.)
      local listeners
      listeners=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
      if [[ $listeners == *"pid=$pid,"* ]] ||
         { [[ $listeners != *pid=* ]] && kill -0 "$pid" 2>/dev/null; }; then
        return 0
      fi
    fi
    sleep 0.05
  done
  echo "start_registry: registry did not answer on 127.0.0.1:$port within ${timeout_s}s" >&2
  cat "$dir/registry.log" >&2 || true
  return 1
}

for attempt in $(seq 1 20); do
  port=$((20000 + RANDOM % 20001))
  port_in_use "$port" && continue
  rc=0
  try_start "$port" || rc=$?
  if [[ $rc == 0 ]]; then
    ok=1
    printf 'REGISTRY=127.0.0.1:%s\nREGISTRY_PID=%s\nREGISTRY_DIR=%s\n' "$port" "$pid" "$dir"
    exit 0
  fi
  [[ $rc == 2 ]] || exit 1
  echo "start_registry: registry exited on port $port (attempt $attempt), retrying" >&2
done
echo "start_registry: could not start a registry; last log:" >&2
tail -n 20 "$dir/registry.log" >&2 || true
exit 1
