#!/usr/bin/env bats
# ocid as a daemon: its socket, config, signals, and the calls it answers,
# driven through ocic as a user would.

load helpers

setup() { ocid_setup; }
teardown() {
  # A second ocid a test started by itself, by PID.
  if [[ -n "${SECOND_PID:-}" ]]; then kill -TERM "$SECOND_PID" 2>/dev/null && wait "$SECOND_PID"; fi
  ocid_teardown
}

@test "ocic version and info answer from a running ocid" {
  ocid_start
  run "$OCIC_BIN" version
  [ "$status" -eq 0 ]
  [[ "$output" == *"RuntimeName: ocid"* ]]
  [[ "$output" == *"RuntimeApiVersion: v1"* ]]

  run "$OCIC_BIN" info
  [ "$status" -eq 0 ]
  [[ "$output" == *"RuntimeReady: true"* ]]
  [[ "$output" == *"NetworkReady: false (NetworkPluginNotReady)"* ]]
  [[ "$output" == *"$TEST_ROOT/net.d"* ]]

  run "$OCIC_BIN" --output json version
  [ "$status" -eq 0 ]
  [[ "$output" == *'"runtime_name": "ocid"'* ]]
}

@test "the socket is mode 0660 and is removed on SIGTERM" {
  ocid_start
  [ "$(stat -c %a "$OCID_SOCKET")" = 660 ]
  kill -TERM "$OCID_PID"
  wait "$OCID_PID"
  OCID_PID=
  [ ! -e "$OCID_SOCKET" ]
  grep -q "shutting down" "$TEST_ROOT/ocid.log"
}

@test "a second ocid on a live socket exits with a clear error" {
  ocid_start
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags)
  [ "$status" -ne 0 ]
  [[ "$output" == *"another server is already listening on $OCID_SOCKET"* ]]
  run "$OCIC_BIN" version
  [ "$status" -eq 0 ]
}

@test "a stale socket left by a killed ocid is replaced" {
  ocid_start
  kill -KILL "$OCID_PID"
  wait "$OCID_PID" || true
  OCID_PID=
  [ -S "$OCID_SOCKET" ]
  ocid_start
  run "$OCIC_BIN" version
  [ "$status" -eq 0 ]
}

@test "a fresh ocid lists no pods, containers or images" {
  ocid_start
  run "$OCIC_BIN" pod list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]  # the header only
  run "$OCIC_BIN" ctr list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  run "$OCIC_BIN" image list
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
}

@test "ocid config prints the effective config: file, drop-ins in order, then flags" {
  printf '[ocid]\nroot = "/from-main"\nlog_level = "warn"\n' >"$TEST_ROOT/ocid.conf"
  printf '[ocid]\nroot = "/from-10"\n' >"$TEST_ROOT/ocid.conf.d/10-a.conf"
  printf '[ocid]\nroot = "/from-20"\n[ocid.runtime]\ndefault_runtime = "crun"\n' \
    >"$TEST_ROOT/ocid.conf.d/20-b.conf"
  run "$OCID_BIN" --config "$TEST_ROOT/ocid.conf" --config-dir "$TEST_ROOT/ocid.conf.d" \
    --runroot /flag/run config
  [ "$status" -eq 0 ]
  [[ "$output" == *'root = "/from-20"'* ]]
  [[ "$output" == *'log_level = "warn"'* ]]
  [[ "$output" == *'runroot = "/flag/run"'* ]]
  [[ "$output" == *'default_runtime = "crun"'* ]]

  # What it prints is itself a valid config.
  echo "$output" >"$TEST_ROOT/printed.conf"
  run "$OCID_BIN" --config "$TEST_ROOT/printed.conf" --config-dir "$TEST_ROOT/none" config
  [ "$status" -eq 0 ]
  [[ "$output" == *'root = "/from-20"'* ]]
}

@test "a malformed config file names the file, line and key" {
  printf '[ocid]\nroot = "/x"\n[ocid.api]\nlisten_here = "/y"\n' >"$TEST_ROOT/ocid.conf"
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags)
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_ROOT/ocid.conf:4: unknown key \"ocid.api.listen_here\""* ]]
  [ ! -e "$OCID_SOCKET" ]

  printf '[ocid]\nroot = \n' >"$TEST_ROOT/ocid.conf"
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags)
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_ROOT/ocid.conf:2"* ]]

  rm "$TEST_ROOT/ocid.conf"
  printf '[ocid.runtime]\ndefault_runtime = "kata"\n' >"$TEST_ROOT/ocid.conf.d/50-x.conf"
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags)
  [ "$status" -ne 0 ]
  [[ "$output" == *'ocid.runtime.default_runtime: "kata" is not a configured runtime'* ]]
}

@test "bad flags and bad socket paths give clear errors" {
  run "$OCID_BIN" --no-such-flag
  [ "$status" -ne 0 ]
  [[ "$output" == *"unknown flag --no-such-flag"* ]]

  touch "$TEST_ROOT/a-file"
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/a-file/ocid.sock"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_ROOT/a-file exists and is not a directory"* ]]

  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/new/dirs/ocid.sock" --version
  [ "$status" -eq 0 ]
}

@test "the socket's parent dirs are created" {
  OCID_SOCKET=$TEST_ROOT/deep/er/ocid.sock
  export OCIC_CONNECT=$OCID_SOCKET
  ocid_start
  [ -S "$TEST_ROOT/deep/er/ocid.sock" ]
}

@test "ocic without ocid names the socket it tried" {
  run "$OCIC_BIN" --connect "$TEST_ROOT/nothing.sock" version
  [ "$status" -ne 0 ]
  [[ "$output" == *"no ocid socket at $TEST_ROOT/nothing.sock"* ]]
}

@test "metrics: off by default; --metrics-port alone serves counted and timed calls" {
  ocid_start
  [[ "$(grep -c 'metrics on' "$TEST_ROOT/ocid.log")" -eq 0 ]]
  ocid_stop

  port=$(free_port)
  ocid_start --metrics-port "$port"
  grep -q "metrics on http://127.0.0.1:$port/metrics" "$TEST_ROOT/ocid.log"
  "$OCIC_BIN" version >/dev/null
  "$OCIC_BIN" version >/dev/null
  run "$OCIC_BIN" pod status --id 0123456789ab  # NOT_FOUND: an error, counted by code
  [ "$status" -ne 0 ]
  run curl -sS --max-time 10 "http://127.0.0.1:$port/metrics"
  [ "$status" -eq 0 ]
  echo "$output" >"$TEST_ROOT/metrics.txt"
  # ocid_start's own Version calls count too: at least the two above.
  version_calls=$(sed -n 's/^ocid_operations_total{operation="Version"} //p' "$TEST_ROOT/metrics.txt")
  [ "${version_calls:-0}" -ge 2 ]
  grep -q '^ocid_operations_errors_total{code="NOT_FOUND",operation="PodSandboxStatus"} 1$' \
    "$TEST_ROOT/metrics.txt"
  grep -q '^ocid_operations_latency_seconds_bucket{operation="Version",le="+Inf"} ' \
    "$TEST_ROOT/metrics.txt"
  grep -q '^# TYPE ocid_operations_latency_seconds histogram$' "$TEST_ROOT/metrics.txt"
  grep -q '^ocid_pods_ready 0$' "$TEST_ROOT/metrics.txt"
  grep -q '^ocid_containers_running 0$' "$TEST_ROOT/metrics.txt"
  grep -q '^ocid_containers_events_dropped_total 0$' "$TEST_ROOT/metrics.txt"
  grep -q '^ocid_processes_defunct 0$' "$TEST_ROOT/metrics.txt"
  rss=$(sed -n 's/^ocid_process_resident_memory_bytes //p' "$TEST_ROOT/metrics.txt")
  [ "${rss%.*}" -gt 1000000 ]
  # Every sample line is "name{labels} value" or "name value" (the text
  # format's numbers, NaN and +Inf included).
  run grep -viE '^(#.*|[a-z_]+(\{[^}]*\})? ([-+0-9.e]+|[-+]?inf|nan))$' "$TEST_ROOT/metrics.txt"
  [ "$status" -eq 1 ]

  run "$OCIC_BIN" metrics --address "127.0.0.1:$port"
  [ "$status" -eq 0 ]
  [[ "$output" == *'ocid_operations_total{operation="Version"}'* ]]
  run "$OCIC_BIN" metrics --address "localhost"
  [ "$status" -ne 0 ]
  [[ "$output" == *'--address: "localhost" is not IPv4ADDRESS:PORT'* ]]
}

# promtool from the pinned prometheus package (fetched by ci/setup.sh).
PROMTOOL=${PROMTOOL:-/var/cache/ocid-debs/prometheus/root/usr/bin/promtool}

@test "metrics: OpenMetrics when the scrape's Accept asks for it; promtool lints the text format" {
  [ -x "$PROMTOOL" ] || {
    echo "no promtool at $PROMTOOL: run ci/setup.sh" >&2
    return 1
  }
  port=$(free_port)
  ocid_start --metrics-port "$port"
  "$OCIC_BIN" version >/dev/null
  run "$OCIC_BIN" pod status --id 0123456789ab  # an error, so the errors family has a sample
  [ "$status" -ne 0 ]
  local url="http://127.0.0.1:$port/metrics"

  # What Prometheus 2.x sends.
  curl -sS --max-time 10 -D "$TEST_ROOT/om.headers" -o "$TEST_ROOT/om.txt" \
    -H 'Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' \
    "$url"
  grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8' \
    "$TEST_ROOT/om.headers"
  [ "$(tail -n 1 "$TEST_ROOT/om.txt")" = "# EOF" ]
  [ "$(grep -c '^# EOF$' "$TEST_ROOT/om.txt")" -eq 1 ]
  # Counters: the family without _total, the sample with it.
  grep -q '^# TYPE ocid_operations counter$' "$TEST_ROOT/om.txt"
  grep -q '^ocid_operations_total{operation="Version"} [0-9]' "$TEST_ROOT/om.txt"
  grep -q '^# TYPE ocid_operations_errors counter$' "$TEST_ROOT/om.txt"
  grep -q '^# TYPE ocid_containers_events_dropped counter$' "$TEST_ROOT/om.txt"
  grep -q '^ocid_containers_events_dropped_total 0$' "$TEST_ROOT/om.txt"
  run grep -E '^# TYPE [a-z_]+_total counter$' "$TEST_ROOT/om.txt"
  [ "$status" -eq 1 ]
  grep -q '^# UNIT ocid_operations_latency_seconds seconds$' "$TEST_ROOT/om.txt"
  grep -q '^ocid_operations_latency_seconds_bucket{operation="Version",le="1.0"} ' "$TEST_ROOT/om.txt"
  # Every line is metadata or "name{labels} value", nothing else (no blank line).
  run grep -vE '^(# (TYPE|UNIT|HELP) [a-z_]+ .*|# EOF|[a-z_]+(\{[^}]*\})? ([-+0-9.e]+|[-+]Inf|NaN))$' \
    "$TEST_ROOT/om.txt"
  [ "$status" -eq 1 ]

  # Without an Accept header, or with curl's */*: the Prometheus text format,
  # which promtool parses and lints.
  curl -sS --max-time 10 -D "$TEST_ROOT/text.headers" -o "$TEST_ROOT/text.txt" "$url"
  grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$TEST_ROOT/text.headers"
  run grep -c '^# EOF' "$TEST_ROOT/text.txt"
  [ "$output" -eq 0 ]
  grep -q '^# TYPE ocid_operations_total counter$' "$TEST_ROOT/text.txt"
  run "$PROMTOOL" check metrics <"$TEST_ROOT/text.txt"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "metrics: a taken port leaves CRI serving, unless metrics_required" {
  port=$(free_port)
  ocid_start --metrics-port "$port"  # holds the port
  # A second ocid of its own (socket, root, runroot) asks for the same port.
  local other=$TEST_ROOT/other
  # shellcheck disable=SC2046
  "$OCID_BIN" $(ocid_private_flags) --listen "$other/ocid.sock" --root "$other/root" \
    --runroot "$other/run" --metrics-port "$port" >"$TEST_ROOT/other.log" 2>&1 3>&- &
  SECOND_PID=$!
  for _ in $(seq 1 100); do
    "$OCIC_BIN" --connect "$other/ocid.sock" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  run "$OCIC_BIN" --connect "$other/ocid.sock" version
  [ "$status" -eq 0 ]
  grep -q "metrics endpoint on 127.0.0.1:$port cannot start" "$TEST_ROOT/other.log"
  kill -TERM "$SECOND_PID"
  wait "$SECOND_PID"
  SECOND_PID=
  # shellcheck disable=SC2046
  run timeout 20 "$OCID_BIN" $(ocid_private_flags) --listen "$other/ocid.sock" \
    --root "$other/root" --runroot "$other/run" --metrics-port "$port" --metrics-required
  [ "$status" -ne 0 ]
  [[ "$output" == *"metrics endpoint on 127.0.0.1:$port cannot start"* ]]
  [ ! -e "$other/ocid.sock" ]
}
