# Shared by the bats suites: a private ocid per test, on its own socket and
# state dirs, never the machine's /etc/ocid or /run/ocid.

ocid_setup() {
  TEST_ROOT=$(mktemp -d /tmp/ocid-e2e.XXXXXX)
  OCID_SOCKET=$TEST_ROOT/ocid.sock
  OCID_PID=
  mkdir -p "$TEST_ROOT/ocid.conf.d" "$TEST_ROOT/net.d"
  export OCIC_CONNECT=$OCID_SOCKET
}

# Flags that keep an ocid away from the machine's config and state.
ocid_private_flags() {
  echo --config "$TEST_ROOT/ocid.conf" --config-dir "$TEST_ROOT/ocid.conf.d" \
    --listen "$OCID_SOCKET" --root "$TEST_ROOT/root" --runroot "$TEST_ROOT/run" \
    --cni-config-dir "$TEST_ROOT/net.d" --log-dir "$TEST_ROOT/logs" \
    --signature-policy-dir "$TEST_ROOT/policies"
}

# Starts ocid in the background and waits (up to 10 s) until it answers.
ocid_start() {
  # shellcheck disable=SC2046
  # 3>&-: bats waits for fd 3 to close before it reports; a daemon must not hold it.
  "$OCID_BIN" $(ocid_private_flags) "$@" >"$TEST_ROOT/ocid.log" 2>&1 3>&- &
  OCID_PID=$!
  # A test that restarts ocid runs in a subshell of its own: later tests and
  # teardown find the running one here.
  echo "$OCID_PID" >"$TEST_ROOT/ocid.pid"
  for _ in $(seq 1 100); do
    if "$OCIC_BIN" version >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$OCID_PID" 2>/dev/null; then
      cat "$TEST_ROOT/ocid.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "ocid did not answer within 10 s" >&2
  return 1
}

# Stops the ocid this test started (by PID), waiting for it to exit.
ocid_stop() {
  local pid=${OCID_PID:-}
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    pid=$(cat "$TEST_ROOT/ocid.pid" 2>/dev/null || true)
  fi
  if [[ -n "$pid" ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == ocid ]]; then
    kill -TERM "$pid"
    # Not our child when another test's subshell started it: poll.
    wait "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  OCID_PID=
  rm -f "$TEST_ROOT/ocid.pid"
}

ocid_teardown() {
  ocid_stop
  if [[ -n "${TEST_ROOT:-}" ]]; then
    # Mounts ocid left under the test's dirs (the namespace pin dir is a
    # mount of its own), deepest first.
    awk -v root="$TEST_ROOT/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
      while read -r mount; do umount -l "$mount" || true; done
    rm -rf "$TEST_ROOT"
  fi
}

# Starts a local registry with the test images and points a registries.conf
# ($TEST_ROOT/registries.conf) at it; exports REGISTRY*.
registry_setup() {
  local out
  out=$("$E2E_DIR/registry/start_registry.sh" 3>&-)
  eval "$out"
  export REGISTRY REGISTRY_PID REGISTRY_DIR
  "$E2E_DIR/registry/build_images.sh" "$REGISTRY" >"$TEST_ROOT/build.log" 2>&1
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$TEST_ROOT/registries.conf"
}

registry_teardown() {
  if [[ -n "${REGISTRY_PID:-}" ]]; then
    "$E2E_DIR/registry/stop_registry.sh" "$REGISTRY_PID" "$REGISTRY_DIR" || true
  fi
}

# The seed's pod and container configs, pointed at this test's log dir,
# cgroup parent and registry: $TEST_ROOT/sandbox.json, container.json.
# The image becomes $REGISTRY/busybox:latest unless `image` says otherwise
# ("busybox:latest" keeps the seed's short name).
seed_configs() {
  local cgroup_parent=$1 image=${2:-$REGISTRY/busybox:latest}
  sed -e "s|/var/log/ocid/pods/redhat-test-ocid|$TEST_ROOT/logs|" \
    -e "s|\"cgroup_parent\": \"/ocid-test\"|\"cgroup_parent\": \"$cgroup_parent\"|" \
    "$E2E_DIR/testdata/sandbox_config.json" >"$TEST_ROOT/sandbox.json"
  sed -e "s|\"busybox:latest\"|\"$image\"|" \
    "$E2E_DIR/testdata/container_busybox.json" >"$TEST_ROOT/container.json"
}

# A copy of sandbox.json with its own name and uid; prints its path.
pod_config() {
  local name=$1 file="$TEST_ROOT/pod-$1.json"
  sed -e "s|\"name\": \"podsandbox1\"|\"name\": \"$name\"|" \
    -e "s|\"uid\": \"redhat-test-ocid\"|\"uid\": \"uid-$name\"|" \
    "$TEST_ROOT/sandbox.json" >"$file"
  echo "$file"
}

# The value of "Key: value" in ocic's status output on stdin.
field() { grep "^$1: " | head -n 1 | sed 's/^[^:]*: //'; }

# Removes every pod a failed test left (and with them their containers).
remove_all_pods() {
  local pod
  for pod in $("$OCIC_BIN" --output json pod list 2>/dev/null | grep -o '"id": "[0-9a-f]*"' | cut -d'"' -f4); do
    "$OCIC_BIN" pod remove --id "$pod" >/dev/null 2>&1 || true
  done
}

# A loopback port nothing listens on.
free_port() {
  local port
  for port in $(seq 19090 19190); do
    if [[ -z "$(ss -ltnH "sport = :$port")" ]]; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# A pull the trust policy refuses: FAILED_PRECONDITION naming the image, the
# policy scope (a registry/namespace prefix) and why; nothing recorded.
expect_pull_refused() {
  local image=$1 scope=$2 why=$3
  run "$OCIC_BIN" image pull "$image"
  echo "$image: $output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"FAILED_PRECONDITION"* ]]
  [[ "$output" == *"SignatureValidationFailed: image $image"* ]]
  [[ "$output" == *"scope transports.docker[\"$scope\"]"* ]]
  [[ "$output" == *"$why"* ]]
  run ! "$OCIC_BIN" image status "$image"
}

# Sends SIGHUP to the running ocid (as ocid_start recorded it) and waits up
# to 5 s for one more log line matching PATTERN.
hup_and_wait() {
  local pattern=$1 before
  before=$(grep -c -- "$pattern" "$TEST_ROOT/ocid.log" || true)
  kill -HUP "$(cat "$TEST_ROOT/ocid.pid")"
  for _ in $(seq 1 50); do
    if (($(grep -c -- "$pattern" "$TEST_ROOT/ocid.log" || true) > before)); then return 0; fi
    sleep 0.1
  done
  echo "no new \"$pattern\" in ocid.log" >&2
  return 1
}
