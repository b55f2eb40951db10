#!/usr/bin/env bash
# Writes to stdout the functions of an ocid binary in the order
# //cmd/ocid:ocid links them first (startup_symbols.txt, lld's
# --symbol-ordering-file), phase by phase:
#   1. start-up: from exec until one Version call has been served, and then
#      $IDLE_SECONDS (default 3) of idling, whose timer and watcher code an
#      idle ocid runs too (left to phase 2, it cost idle RSS 0.4 MB);
#   2. one image pull from a throw-away local registry;
#   3. one pod lifecycle with a busybox container (run, create, start,
#      status, list, stop, remove) over runc, conmon and loopback-only CNI;
#   4. shutdown, on SIGTERM.
# Each phase lists, sorted, the functions it ran that no phase before did.
# The kernel maps a binary's pages in 64 kB windows around each one touched,
# so code spread over the whole text made an idle ocid map most of it; start-up
# first keeps the idle set packed, and the pull and lifecycle code packed
# after it keeps what a node running pods adds small.
#
# What ran is counted by callgrind on OCID itself (not on the children it
# starts: ocid-pull, ocid-pinns, conmon, runc; Subprocess falls back to
# waitpid since valgrind lacks pidfd_open). valgrind 3.19 also lacks fsopen
# and openat2, which CreateContainer needs, so its container calls fail
# there; FNPROF_OCID, an ocid built with -finstrument-functions and the hook
# in startup_symbols_hook.c, runs the same phases natively and fills them in
# (its functions count only where OCID has them too).
#
# Stale lines are harmless (lld skips names it does not find), so regenerate
# after large changes, from an opt build and under the e2e lock (it starts
# ocid, a registry and a pod; needs root):
#   bazel build -c opt //cmd/ocid:all //cmd/ocic
#   cc -O2 -c cmd/ocid/startup_symbols_hook.c -o /tmp/fnprof_hook.o
#   bazel build -c opt --platform_suffix=-fnprof --copt=-finstrument-functions \
#     --copt=-finstrument-functions-exclude-file-list=/usr/include,external/ \
#     --linkopt=/tmp/fnprof_hook.o //cmd/ocid:ocid
#   flock -o /tmp/ocid-e2e.lock env \
#     FNPROF_OCID=bazel-out/k8-opt-fnprof/bin/cmd/ocid/ocid cmd/ocid/startup_symbols.sh \
#     bazel-bin/cmd/ocid/ocid bazel-bin/cmd/ocic/ocic >cmd/ocid/startup_symbols.txt
# (and `bazel build -c opt //cmd/ocid:ocid` again to link with the new list).
# Env: STARTUP_ONLY=1 profiles phase 1 alone (callgrind; no registry, pod
# or root needed). FNPROF_OCID unset: callgrind alone, container calls
# past CreateContainer left out (warned about).
set -euo pipefail
shopt -s inherit_errexit  # a failed call inside $(...) fails the run

ocid=$(realpath "$1")
ocic=$(realpath "$2")
fnprof_ocid=${FNPROF_OCID:+$(realpath "$FNPROF_OCID")}
e2e=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../e2e" && pwd)
startup_only=${STARTUP_ONLY:-0}
phases=(startup pull lifecycle shutdown)
command -v valgrind >/dev/null || { echo "startup_symbols: valgrind not found" >&2; exit 1; }
command -v callgrind_control >/dev/null ||
  { echo "startup_symbols: callgrind_control not found" >&2; exit 1; }
dir=$(mktemp -d /tmp/ocid-startup-symbols.XXXXXX)
cgroup_parent=/ocid-symbols-$$
pid=
run=
REGISTRY_PID=
REGISTRY_DIR=
# Calls are ~50x slower under callgrind.
ocic_() { "$ocic" --connect "$run/ocid.sock" --timeout 600 "$@"; }

# Stops the ocid of this run ($pid, $run), removing the pods a failure left.
stop_ocid() {
  local pod
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    for pod in $(ocic_ --output json pod list 2>/dev/null |
                 grep -o '"id": "[0-9a-f]*"' | cut -d'"' -f4); do
      ocic_ pod remove --id "$pod" >/dev/null 2>&1 || true  # and its containers
    done
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  pid=
}

cleanup() {
  stop_ocid
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

# The end of phase $1 of run $run: callgrind writes what it counted since
# the last dump (callgrind.out.N); the hook's list is cut at its length now.
mark() {
  if [[ $run == "$dir/callgrind" ]]; then
    callgrind_control --dump="$1" "$pid" >/dev/null
  else
    stat -c %s "$run/fnprof.out" >>"$run/marks"
  fi
}

# Container calls after CreateContainer; skipped (0) where valgrind cannot
# mount the rootfs.
container_calls() {
  local ctr
  if ! ctr=$(ocic_ ctr create --pod "$1" --config "$dir/container.json" \
      --pod-config "$dir/sandbox.json" 2>"$run/create.err"); then
    grep -q 'Function not implemented' "$run/create.err" && [[ $run == "$dir/callgrind" ]] &&
      return 0
    cat "$run/create.err" >&2
    return 1
  fi
  ocic_ ctr start --id "$ctr" >/dev/null
  ocic_ ctr status --id "$ctr" >/dev/null
  ocic_ ctr list >/dev/null
  ocic_ ctr stop --id "$ctr" --timeout 10 >/dev/null
  ocic_ ctr remove --id "$ctr" >/dev/null
  echo 1
}

# Runs the phases on `$@` (an ocid command line prefix) in $run.
profile() {
  local pod ran_containers
  mkdir -p "$run/root" "$run/run" "$run/logs"
  "$@" --config "$dir/none.conf" --config-dir "$dir/none.d" --listen "$run/ocid.sock" \
    --root "$run/root" --runroot "$run/run" --cni-config-dir "$dir/net.d" "${flags[@]}" \
    >"$run/ocid.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    ocic_ version >/dev/null 2>&1 && break
    sleep 0.5
  done
  ocic_ version >/dev/null
  sleep "${IDLE_SECONDS:-3}"
  if [[ $startup_only != 1 ]]; then
    mark startup
    ocic_ image pull "$REGISTRY/busybox:latest" >/dev/null
    mark pull
    pod=$(ocic_ pod run --config "$dir/sandbox.json")
    ran_containers=$(container_calls "$pod")
    if [[ -z $ran_containers && -z $fnprof_ocid ]]; then
      echo "startup_symbols: valgrind cannot run CreateContainer here and FNPROF_OCID" \
        "is unset: container start, status, stop and remove are not profiled" >&2
    fi
    ocic_ pod list >/dev/null
    ocic_ pod stop --id "$pod" >/dev/null
    ocic_ pod remove --id "$pod" >/dev/null
    mark lifecycle
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}

touch "$dir/none.conf"
mkdir -p "$dir/none.d" "$dir/net.d" "$dir/policies"
flags=()
if [[ $startup_only != 1 ]]; then
  out=$("$e2e/registry/start_registry.sh")
  eval "$out"
  "$e2e/registry/build_images.sh" "$REGISTRY" >"$dir/build.log" 2>&1
  # This host's registries configuration plus the test registry: ocid parses
  # it at start-up (the short-name aliases of registries.conf.d, each one an
  # image reference to check), so a start-up phase profiled without it
  # leaves out code every idle ocid has run.
  host_conf=/etc/containers/registries.conf
  { if [[ -f $host_conf ]]; then cat "$host_conf"; fi
    printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY"; } >"$dir/registries.conf"
  if [[ -d $host_conf.d ]]; then cp -r "$host_conf.d" "$dir/registries.conf.d"; fi
  printf '{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}' \
    >"$dir/net.d/10-lo.conflist"
  sed -e "s|/var/log/ocid/pods/redhat-test-ocid|$dir/logs|" \
    -e "s|\"cgroup_parent\": \"/ocid-test\"|\"cgroup_parent\": \"$cgroup_parent\"|" \
    "$e2e/testdata/sandbox_config.json" >"$dir/sandbox.json"
  sed -e "s|\"busybox:latest\"|\"$REGISTRY/busybox:latest\"|" \
    "$e2e/testdata/container_busybox.json" >"$dir/container.json"
  mkdir -p "$dir/logs"
  flags=(--registries-conf "$dir/registries.conf" --log-dir "$dir/logs")
fi

run=$dir/callgrind
profile valgrind --tool=callgrind --demangle=no --callgrind-out-file="$run/callgrind.out" "$ocid"
if [[ -n $fnprof_ocid && $startup_only != 1 ]]; then
  # Beside ocid's helpers, which it finds next to /proc/self/exe.
  run=$dir/fnprof
  mkdir -p "$run/bin"
  cp "$fnprof_ocid" "$run/bin/ocid"
  for helper in "$(dirname "$ocid")"/ocid-*; do ln -s "$helper" "$run/bin/"; done
  : >"$run/fnprof.out"
  profile env OCID_FNPROF_OUT="$run/fnprof.out" "$run/bin/ocid"
  stat -c %s "$run/fnprof.out" >>"$run/marks"
fi

# The names of the functions in ocid's text.
nm --defined-only "$ocid" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u >"$dir/text.txt"

# Phase N's functions by callgrind (callgrind.out.N, the last at exit is
# callgrind.out). callgrind names each object and function once,
# "ob=(N) name" or "fn=(N) name", and by "(N)" alone after that.
callgrind_ran() {
  local file=$dir/callgrind/callgrind.out.$1
  if [[ $startup_only == 1 || $1 == "${#phases[@]}" ]]; then file=$dir/callgrind/callgrind.out; fi
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
  ' "$file"
}

# Phase N's functions by the hook: its 8-byte offsets from the binary's
# start between marks N-1 and N, named by the instrumented binary's symbols
# (nm's addresses are from address 0; __executable_start's is added).
fnprof_ran() {
  [[ -f $dir/fnprof/marks ]] || return 0
  local from to base offset
  from=0
  (($1 > 1)) && from=$(sed -n "$(($1 - 1))p" "$dir/fnprof/marks")
  to=$(sed -n "$1p" "$dir/fnprof/marks")
  base=$(awk '$3 == "__executable_start" { print $1 }' "$dir/fnprof/nm.txt")
  od -An -v -t x8 -w8 -j "$from" -N "$((to - from))" "$dir/fnprof/fnprof.out" |
    while read -r offset; do printf '%016x\n' "$((16#$offset + 16#${base:-0}))"; done |
    awk 'NR == FNR { if ($2 ~ /^[tTwW]$/) name[$1] = $3; next } $1 in name { print name[$1] }' \
      "$dir/fnprof/nm.txt" -
}
if [[ -f $dir/fnprof/marks ]]; then nm --defined-only "$fnprof_ocid" >"$dir/fnprof/nm.txt"; fi

: >"$dir/listed.txt"
for ((n = 1; n <= ${#phases[@]}; n++)); do
  { callgrind_ran "$n"; fnprof_ran "$n"; } | sort -u | comm -12 - "$dir/text.txt" |
    comm -23 - "$dir/listed.txt" >"$dir/new.txt"
  cat "$dir/new.txt"
  sort -u "$dir/listed.txt" "$dir/new.txt" -o "$dir/listed.txt"
  if [[ $startup_only == 1 ]]; then break; fi
done
