#!/usr/bin/env bash
# Writes to stdout the functions of an ocid binary in the order
# //cmd/ocid:ocid links them first (startup_symbols.txt, lld's
# --symbol-ordering-file), as callgrind counts them in three phases:
#   1. start-up: from exec until one Version call has been served;
#   2. one image pull from a throw-away local registry;
#   3. one pod lifecycle with a busybox container (run, create, start,
#      status, list, stop, remove) over runc, conmon and loopback-only CNI;
#   4. shutdown, on SIGTERM.
# Each phase lists the functions the ones before it did not run, sorted.
# The kernel maps a binary's pages in 64 kB windows around each one touched,
# so code spread over the whole text made an idle ocid map most of it; start-up
# first keeps the idle set packed, and the pull and lifecycle code packed
# after it keeps what a node running pods adds small.
# Only ocid runs under valgrind (not the children it starts: ocid-pull,
# ocid-pinns, conmon, runc), which works because Subprocess falls back to
# waitpid where valgrind lacks pidfd_open.
# Stale lines are harmless (lld skips names it does not find), so regenerate
# after large changes, from an opt build and under the e2e lock (it starts
# ocid, a registry and a pod; needs root):
#   bazel build -c opt //cmd/ocid:all //cmd/ocic
#   flock -o /tmp/ocid-e2e.lock cmd/ocid/startup_symbols.sh \
#     bazel-bin/cmd/ocid/ocid bazel-bin/cmd/ocic/ocic >cmd/ocid/startup_symbols.txt
# Env: STARTUP_ONLY=1 profiles phase 1 alone (no registry, pod or root).
set -euo pipefail

ocid=$(realpath "$1")
ocic=$(realpath "$2")
e2e=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../e2e" && pwd)
startup_only=${STARTUP_ONLY:-0}
command -v valgrind >/dev/null || { echo "startup_symbols: valgrind not found" >&2; exit 1; }
command -v callgrind_control >/dev/null ||
  { echo "startup_symbols: callgrind_control not found" >&2; exit 1; }
dir=$(mktemp -d /tmp/ocid-startup-symbols.XXXXXX)
cgroup_parent=/ocid-symbols-$$
pid=
REGISTRY_PID=
REGISTRY_DIR=
# Calls are ~50x slower under callgrind.
ocic_() { "$ocic" --connect "$dir/ocid.sock" --timeout 600 "$@"; }

cleanup() {
  local pod
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    # What a failed run left: removing a pod removes its containers too.
    for pod in $(ocic_ --output json pod list 2>/dev/null |
                 grep -o '"id": "[0-9a-f]*"' | cut -d'"' -f4); do
      ocic_ pod remove --id "$pod" >/dev/null 2>&1 || true
    done
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  # Mounts left under our dir (pins, shm, rootfs), deepest first.
  awk -v root="$dir/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount" || true; done
  if [[ -n $REGISTRY_PID ]]; then
    "$e2e/registry/stop_registry.sh" "$REGISTRY_PID" "$REGISTRY_DIR" || true
  fi
  rmdir /sys/fs/cgroup/*"$cgroup_parent" /sys/fs/cgroup"$cgroup_parent" 2>/dev/null || true
  rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Asks callgrind to write what it counted since the last dump (callgrind.out.N).
dump() {
  callgrind_control --dump="$1" "$pid" >/dev/null
}

touch "$dir/none.conf"
mkdir -p "$dir/none.d" "$dir/root" "$dir/run" "$dir/net.d" "$dir/logs" "$dir/policies"
flags=()
if [[ $startup_only != 1 ]]; then
  out=$("$e2e/registry/start_registry.sh")
  eval "$out"
  "$e2e/registry/build_images.sh" "$REGISTRY" >"$dir/build.log" 2>&1
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$dir/registries.conf"
  printf '{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}' \
    >"$dir/net.d/10-lo.conflist"
  flags=(--registries-conf "$dir/registries.conf" --log-dir "$dir/logs")
fi

valgrind --tool=callgrind --demangle=no --callgrind-out-file="$dir/callgrind.out" \
  "$ocid" --config "$dir/none.conf" --config-dir "$dir/none.d" --listen "$dir/ocid.sock" \
  --root "$dir/root" --runroot "$dir/run" --cni-config-dir "$dir/net.d" "${flags[@]}" \
  >"$dir/ocid.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  ocic_ version >/dev/null 2>&1 && break
  sleep 0.5
done
ocic_ version >/dev/null

if [[ $startup_only != 1 ]]; then
  dump startup
  ocic_ image pull "$REGISTRY/busybox:latest" >/dev/null
  dump pull

  sed -e "s|/var/log/ocid/pods/redhat-test-ocid|$dir/logs|" \
    -e "s|\"cgroup_parent\": \"/ocid-test\"|\"cgroup_parent\": \"$cgroup_parent\"|" \
    "$e2e/testdata/sandbox_config.json" >"$dir/sandbox.json"
  sed -e "s|\"busybox:latest\"|\"$REGISTRY/busybox:latest\"|" \
    "$e2e/testdata/container_busybox.json" >"$dir/container.json"
  pod=$(ocic_ pod run --config "$dir/sandbox.json")
  # valgrind 3.19 lacks the new mount API (fsopen, fsconfig, fsmount), which
  # the rootfs overlay needs (lowerdir+): there CreateContainer fails after
  # its checks and undoes itself, and the container calls after it are left
  # out of the list (warned about), the pod's are not.
  if ctr=$(ocic_ ctr create --pod "$pod" --config "$dir/container.json" \
      --pod-config "$dir/sandbox.json" 2>"$dir/create.err"); then
    ocic_ ctr start --id "$ctr" >/dev/null
    ocic_ ctr status --id "$ctr" >/dev/null
    ocic_ ctr list >/dev/null
    ocic_ pod list >/dev/null
    ocic_ ctr stop --id "$ctr" --timeout 10 >/dev/null
    ocic_ ctr remove --id "$ctr" >/dev/null
  elif grep -q 'fsopen overlay: Function not implemented' "$dir/create.err"; then
    echo "startup_symbols: this valgrind cannot mount the rootfs (no fsopen):" \
      "container start, status, stop and remove are not profiled" >&2
    ocic_ ctr list >/dev/null
    ocic_ pod list >/dev/null
  else
    cat "$dir/create.err" >&2
    exit 1
  fi
  ocic_ pod stop --id "$pod" >/dev/null
  ocic_ pod remove --id "$pod" >/dev/null
  dump lifecycle
fi
kill -TERM "$pid"
wait "$pid" || true
pid=

# The functions in ocid's text that one callgrind file counts. callgrind
# names each object and function once, "ob=(N) name" or "fn=(N) name", and
# by "(N)" alone after that.
ran() {
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
  ' "$1" | sort -u | comm -12 - "$dir/text.txt"
}
nm --defined-only "$ocid" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$dir/text.txt"
# Dumps are callgrind.out.1, .2, ... in order and the last (at exit) is
# callgrind.out; with no dump, callgrind.out alone.
parts=()
for ((n = 1; ; n++)); do
  [[ -f $dir/callgrind.out.$n ]] || break
  parts+=("$dir/callgrind.out.$n")
done
parts+=("$dir/callgrind.out")
: >"$dir/listed.txt"
for part in "${parts[@]}"; do
  ran "$part" | comm -23 - "$dir/listed.txt" >"$dir/new.txt"
  cat "$dir/new.txt"
  sort -u "$dir/listed.txt" "$dir/new.txt" -o "$dir/listed.txt"
done
