#!/usr/bin/env bash
# //e2e:critest_test: upstream critest ($CRITEST, a path) against a private
# ocid, with the stand-in images and registry mirrors of the gtest CRI suite.
# Writes one JUnit case per validation spec (critest's full spec name) to
# $XML_OUTPUT_FILE, judged against e2e/cri/not_yet.txt (see
# critest_junit.jq): a listed spec that passes fails the target, an unlisted
# one that fails fails it. Without $CRITEST it is one skipped case.
#
#   flock /tmp/ocid-e2e.lock bazel test //e2e:critest_test --test_env=CRITEST=/path/to/critest
#
# Everything the run makes lives under one temp dir (ocid's root, runroot,
# socket, logs, CNI config and IPAM, critest's TMPDIR) plus the bridge
# ocrit0 (10.215.0.0/24, no masquerade) and the SysV shm segments of the
# HostIpc spec; all of it is removed on exit, pass or fail.
set -uo pipefail

runfiles=$PWD
E2E_DIR=$runfiles/e2e
OCID_BIN=$runfiles/cmd/ocid/ocid
OCIC_BIN=$runfiles/cmd/ocic/ocic
BRIDGE=ocrit0
SUBNET=10.215.0.0/24

# One test case that says why nothing ran; ci/test.sh counts it skipped.
write_skipped_report() {
  [[ -n ${XML_OUTPUT_FILE:-} ]] || return 0
  cat >"$XML_OUTPUT_FILE" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
<testsuite name="critest" tests="1" failures="0" errors="0" skipped="1" time="0">
<testcase name="critest" classname="critest" time="0"><skipped message="$1"/></testcase>
</testsuite>
</testsuites>
XML
}

if [[ -z ${CRITEST:-} ]]; then
  echo "critest_test: skipped: CRITEST is not set (bazel test //e2e:critest_test --test_env=CRITEST=/path/to/critest)"
  write_skipped_report "CRITEST is not set"
  exit 0
fi

die() {
  echo "critest_test: $*" >&2
  exit 1
}

[[ -f $CRITEST && -x $CRITEST ]] || die "CRITEST=$CRITEST is not an executable file"
[[ $(id -u) == 0 ]] || die "must run as root (pods, mounts, a bridge)"
specs=$E2E_DIR/cri/specs.txt
not_yet=$E2E_DIR/cri/not_yet.txt
[[ -f $specs ]] || die "$specs is missing"
for tool in jq ipcs ip; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
if [[ ! -f $not_yet ]]; then
  echo "critest_test: $not_yet is missing: every spec must pass" >&2
  not_yet=/dev/null
fi

TEST_ROOT=$(mktemp -d /tmp/ocid-critest.XXXXXX)
OCID_SOCKET=$TEST_ROOT/ocid.sock
export OCIC_CONNECT=$OCID_SOCKET
OCID_PID=
REGISTRY_PID=
REGISTRY_DIR=
bridge_made=0
# SysV shm segments that existed before the run: the ones made during it
# (critest's HostIpc spec makes one in the host's IPC namespace) are removed.
shm_ids() { ipcs -m | awk '$2 ~ /^[0-9]+$/ {print $2}' | sort; }
shm_before=$(shm_ids)

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  set +e
  if [[ -n $OCID_PID ]] && kill -0 "$OCID_PID" 2>/dev/null; then
    # Pods critest left (failed specs can skip their cleanup), with their
    # containers, through ocid itself so that CNI DEL and unmounts run.
    local pod
    for pod in $("$OCIC_BIN" --output json pod list 2>/dev/null |
      jq -r '.items[]?.id // empty' 2>/dev/null); do
      "$OCIC_BIN" --timeout 30 pod stop --id "$pod" >/dev/null 2>&1
      "$OCIC_BIN" --timeout 30 pod remove --id "$pod" >/dev/null 2>&1
    done
    kill -TERM "$OCID_PID"
    wait "$OCID_PID"
  fi
  # Processes of this run that outlived ocid (conmon, containers of pods that
  # could not be removed): their command lines name this run's dirs.
  local pid leaked=()
  while read -r pid; do
    # (grep itself names the dir on its command line, and is gone by now.)
    kill -0 "$pid" 2>/dev/null && leaked+=("$pid")
  done < <(grep -lsF "$TEST_ROOT/" /proc/[0-9]*/cmdline | cut -d/ -f3)
  if ((${#leaked[@]} > 0)); then
    echo "critest_test: killing processes left by the run: ${leaked[*]}" >&2
    kill -KILL "${leaked[@]}" 2>/dev/null
  fi
  # Mounts under the run's dirs (rootfs overlays, netns pins, critest's
  # propagation mounts), deepest first.
  awk -v root="$TEST_ROOT/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mount; do umount -l "$mount"; done
  local id
  for id in $(comm -13 <(echo "$shm_before") <(shm_ids)); do
    # Only detached ones: a segment in use belongs to someone running now.
    if [[ $(ipcs -m -i "$id" 2>/dev/null | awk '/nattch=/ {sub(/.*nattch=/, ""); print $1}') == 0 ]]; then
      ipcrm -m "$id"
    fi
  done
  if ((bridge_made)); then ip link del "$BRIDGE" 2>/dev/null; fi
  if [[ -n $REGISTRY_PID ]]; then
    "$E2E_DIR/registry/stop_registry.sh" "$REGISTRY_PID" "$REGISTRY_DIR"
  fi
  rm -rf "$TEST_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip link show "$BRIDGE" >/dev/null 2>&1 && die "bridge $BRIDGE exists already (a run that was killed?): ip link del $BRIDGE"
bridge_made=1

out=$("$E2E_DIR/registry/start_registry.sh") || die "could not start a registry"
eval "$out"
builder=$E2E_DIR/registry/build_critest_images.sh
[[ -x $builder ]] || die "$builder is missing"
if ! "$builder" "$REGISTRY" >"$TEST_ROOT/build.log" 2>&1; then
  cat "$TEST_ROOT/build.log" >&2
  die "building the stand-in images failed"
fi

# The public registries critest pulls from, all served by the stand-in
# registry; short names go to docker.io, as on a default node.
{
  echo 'unqualified-search-registries = ["docker.io"]'
  printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY"
  for prefix in registry.k8s.io gcr.io public.ecr.aws docker.io; do
    printf '\n[[registry]]\nprefix = "%s"\nlocation = "%s"\ninsecure = true\n' "$prefix" "$REGISTRY"
  done
} >"$TEST_ROOT/registries.conf"

mkdir -p "$TEST_ROOT/ocid.conf.d" "$TEST_ROOT/net.d" "$TEST_ROOT/tmp"
cat >"$TEST_ROOT/net.d/10-critest.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "ocid-critest",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$TEST_ROOT/ipam",
              "ranges": [[{"subnet": "$SUBNET"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CONF

"$OCID_BIN" --config "$TEST_ROOT/ocid.conf" --config-dir "$TEST_ROOT/ocid.conf.d" \
  --listen "$OCID_SOCKET" --root "$TEST_ROOT/root" --runroot "$TEST_ROOT/run" \
  --cni-config-dir "$TEST_ROOT/net.d" --log-dir "$TEST_ROOT/logs" \
  --registries-conf "$TEST_ROOT/registries.conf" >"$TEST_ROOT/ocid.log" 2>&1 &
OCID_PID=$!
for _ in $(seq 1 100); do
  "$OCIC_BIN" version >/dev/null 2>&1 && break
  if ! kill -0 "$OCID_PID" 2>/dev/null; then
    cat "$TEST_ROOT/ocid.log" >&2
    die "ocid exited at startup"
  fi
  sleep 0.1
done
"$OCIC_BIN" version >/dev/null 2>&1 || die "ocid did not answer within 10 s"

report=$TEST_ROOT/critest.json
echo "critest_test: running $CRITEST against ocid (pid $OCID_PID) at $OCID_SOCKET"
start=$SECONDS
# critest's own exit status only says whether some spec failed; the verdicts
# come from its report. Its --ginkgo.timeout stays below Bazel's 900 s so that
# a hung spec still leaves a report.
(cd "$TEST_ROOT" && TMPDIR=$TEST_ROOT/tmp "$CRITEST" \
  --runtime-endpoint "unix://$OCID_SOCKET" --image-endpoint "unix://$OCID_SOCKET" \
  --ginkgo.no-color --ginkgo.timeout=13m --ginkgo.json-report="$report" \
  ${CRITEST_FOCUS:+"--ginkgo.focus=$CRITEST_FOCUS"})
critest_status=$?
echo "critest_test: critest exited $critest_status after $((SECONDS - start)) s"
if [[ -n ${TEST_UNDECLARED_OUTPUTS_DIR:-} ]]; then
  cp "$report" "$TEST_ROOT/ocid.log" "$TEST_UNDECLARED_OUTPUTS_DIR/" 2>/dev/null
fi
[[ -s $report ]] || die "critest wrote no report ($report)"

convert() {
  jq -r -f "$E2E_DIR/critest_junit.jq" --rawfile specs "$specs" --rawfile notyet "$not_yet" \
    --arg out "$1" "$report"
}
xml=$(convert xml) || die "could not convert critest's report"
if [[ -n ${XML_OUTPUT_FILE:-} ]]; then printf '%s\n' "$xml" >"$XML_OUTPUT_FILE"; fi
convert text
# The target fails exactly when the JUnit report has a failed case.
[[ $xml != *"<failure "* ]]
