#!/usr/bin/env bash
# Issue 15's one table: runs startup_bench (start-up, idle RSS),
# lifecycle_bench (per-phase p50/p99 on runc and crun against the
# conmon+runtime floor; RSS with 10, 50, 200 running pods) and census_bench
# (leaks and RSS growth over the lifecycles), then prints every number the
# issue asks for with its target and met/MISSED (bench/lean_bench_report,
# from the benches' "result:" lines). Root; run it under the e2e lock:
#   flock -o /tmp/ocid-e2e.lock bench/lean_bench.sh [--quick] [--logs DIR]
# The default is the issue's full run (20 start-ups, 30 iterations per
# runtime, 10/50/200 pods, 1000 census cycles from 2 clients, sampled at
# 100); --quick: 10 start-ups, 10 iterations, 10/50 pods, 200 cycles.
# --logs DIR keeps each bench's output there (the temp copy goes at exit).
# Every bench removes what it made, also on failure or SIGINT/SIGTERM (sent
# on to the bench running); this script stops its registry and removes its
# temp dir. Exit status: 0 when every target was met, 1 otherwise (a missed
# target, or a bench that failed: its rows say NO DATA), 130 on a signal.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

quick=0
keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --logs) [[ $# -ge 2 ]] || { echo "lean_bench: --logs needs a DIR" >&2; exit 2; }
            keep=$2; shift 2 ;;
    *) echo "usage: bench/lean_bench.sh [--quick] [--logs DIR]" >&2; exit 2 ;;
  esac
done
if [[ $quick == 1 ]]; then
  startup_args=(--runs 10)
  lifecycle_args=(--runtimes "runc,crun" --iterations 10 --rss-pods "10,50" --list-pods 0)
  census_args=(--cycles 200 --clients 2 --sample 100)
else
  startup_args=(--runs 20)
  lifecycle_args=(--runtimes "runc,crun" --iterations 30 --rss-pods "10,50,200" --list-pods 0)
  census_args=(--cycles 1000 --clients 2 --sample 100)
fi

bazel build -c opt //bench:startup_bench //bench:lifecycle_bench //bench:census_bench \
  //bench:lean_bench_report //cmd/ocid:all
bin=$(bazel info -c opt bazel-bin)

logs=$(mktemp -d "${TMPDIR:-/tmp}/ocid-lean-bench.XXXXXX")
child=
REGISTRY_PID='' REGISTRY_DIR=''
# shellcheck disable=SC2317  # called from the traps
cleanup() {
  if [[ -n $child ]]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true  # the bench's own teardown
  fi
  if [[ -n $REGISTRY_PID ]]; then
    e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR" || true
  fi
  if [[ -n $keep ]]; then
    if mkdir -p -- "$keep"; then cp -- "$logs"/*.log "$keep"/ 2>/dev/null || true; fi
  fi
  rm -rf -- "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

out=$(e2e/registry/start_registry.sh)
eval "$out"
e2e/registry/build_images.sh "$REGISTRY" >/dev/null

# run NAME ARGS...: one bench from its runfiles dir, stdout into
# $logs/NAME.log (shown on stderr when it ends), in the background so that
# a signal reaches this script's trap, which passes it on.
failed=()
run() {
  local name=$1
  shift
  echo "lean_bench: $name $*" >&2
  (cd "$bin/bench/$name.runfiles/ocid" && exec "$bin/bench/$name" "$@") >"$logs/$name.log" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=
  grep -v '^result: ' "$logs/$name.log" >&2 || true
  # census_bench also exits 1 for a missed target; its numbers still count.
  if [[ $rc != 0 ]] && ! grep -q '^result: ' "$logs/$name.log"; then failed+=("$name"); fi
  return 0
}

# Start-up first, while nothing else of ours runs.
run startup_bench "${startup_args[@]}"
run lifecycle_bench --registry "$REGISTRY" "${lifecycle_args[@]}"
run census_bench --registry "$REGISTRY" "${census_args[@]}"

mode=full
[[ $quick == 1 ]] && mode=quick
echo
echo "issue 15, lean_bench ($mode run, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)):"
rc=0
"$bin/bench/lean_bench_report" "$logs"/startup_bench.log "$logs"/lifecycle_bench.log \
  "$logs"/census_bench.log || rc=$?
cat <<'EOF'
floors (lifecycle_bench, interleaved with ocid's iterations in the same run):
  (a) ocid-pinns --net --ipc --uts alone. ocid's RunPodSandbox also execs the
      CNI loopback plugin (ADD), and writes its records, the pod's files and
      /dev/shm mount; no ocid-infra (a PID namespace per container). The
      external floor adds the loopback plugin's ADD, exec'd directly.
  (b) conmon + runtime create + start of the config.json ocid builds for the
      same request, on a plain-dir rootfs (no overlay mount); ocid runs no
      other program here, so the external floor is the same.
  (c) runtime kill SIGKILL + conmon's exit file + runtime delete + the unpin;
      the external floor adds the loopback plugin's DEL.
EOF
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "lean_bench: failed without results: ${failed[*]}" >&2
  rc=1
fi
exit "$rc"
