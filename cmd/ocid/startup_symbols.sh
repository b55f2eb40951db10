#!/usr/bin/env bash
# Writes to stdout the functions of an ocid binary that run from exec until it
# has served one Version call, as callgrind counts them: the list
# //cmd/ocid:ocid links first (startup_symbols.txt, lld's
# --symbol-ordering-file). The kernel maps a binary's pages in 64 kB windows
# around each one touched, so start-up code spread over the whole text made
# an idle ocid map most of it; packed together it maps what it runs.
# Stale lines are harmless (lld skips names it does not find), so regenerate
# after large changes, from an opt build and under the e2e lock (it starts ocid):
#   bazel build -c opt //cmd/ocid //cmd/ocic
#   flock -o /tmp/ocid-e2e.lock cmd/ocid/startup_symbols.sh \
#     bazel-bin/cmd/ocid/ocid bazel-bin/cmd/ocic/ocic >cmd/ocid/startup_symbols.txt
set -euo pipefail

ocid=$(realpath "$1")
ocic=$2
command -v valgrind >/dev/null || { echo "startup_symbols: valgrind not found" >&2; exit 1; }
dir=$(mktemp -d /tmp/ocid-startup-symbols.XXXXXX)
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf -- "$dir"
}
trap cleanup EXIT

touch "$dir/none.conf"
mkdir -p "$dir/none.d" "$dir/root" "$dir/run" "$dir/net.d"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$dir/callgrind.out" \
  "$ocid" --config "$dir/none.conf" --config-dir "$dir/none.d" --listen "$dir/ocid.sock" \
  --root "$dir/root" --runroot "$dir/run" --cni-config-dir "$dir/net.d" \
  >"$dir/ocid.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  "$ocic" --connect "$dir/ocid.sock" version >/dev/null 2>&1 && break
  sleep 0.5
done
"$ocic" --connect "$dir/ocid.sock" version >/dev/null
kill -TERM "$pid"
wait "$pid" || true
pid=

# callgrind names each object and function once, "ob=(N) name" or
# "fn=(N) name", and by "(N)" alone after that.
awk -v bin="$ocid" '
  function define(table, line,    id, name) {
    id = line; sub(/^[a-z]+=\(/, "", id); sub(/\).*$/, "", id)
    name = line; if (sub(/^[a-z]+=\([0-9]+\) /, "", name)) table[id] = name
    return id
  }
  /^ob=/  { current = obs[define(obs, $0)]; next }
  /^cob=/ { define(obs, $0); next }
  /^cfn=/ { define(fns, $0); next }
  /^fn=/  { id = define(fns, $0); if (current == bin) print fns[id] }
' "$dir/callgrind.out" | sort -u >"$dir/ran.txt"
nm --defined-only "$ocid" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$dir/text.txt"
comm -12 "$dir/ran.txt" "$dir/text.txt"
