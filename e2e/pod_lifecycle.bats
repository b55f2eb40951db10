#!/usr/bin/env bats
# The seed README's walkthrough and the pod/container lifecycle, through ocic
# against a real ocid running busybox containers with runc (and crun) under
# conmon. Images come from a local registry (e2e/registry).

load helpers
# `run !` (a negated command that fails the test; a bare `! cmd` never does).
bats_require_minimum_version 1.5.0

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup
  # Networking is pod_network.bats's subject: here pods get loopback only.
  printf '{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}' \
    >"$TEST_ROOT/net.d/10-lo.conflist"
  # crun refuses this host's hybrid cgroup layout unless hugetlb is a v1
  # controller at exactly this path (MACHINE-NOTES).
  if [[ ! -d /sys/fs/cgroup/hugetlb ]]; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  fi
  # The walkthrough's short name, busybox:latest, is searched for in the test
  # registry, as a newcomer's registries.conf would have it.
  {
    printf 'unqualified-search-registries = ["%s"]\n' "$REGISTRY"
    cat "$TEST_ROOT/registries.conf"
  } >"$TEST_ROOT/registries-short.conf"
  mv "$TEST_ROOT/registries-short.conf" "$TEST_ROOT/registries.conf"
  METRICS_PORT=$(free_port)
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" --metrics-port "$METRICS_PORT"
  export OCID_PID METRICS_PORT
  "$OCIC_BIN" image pull busybox:latest >/dev/null
  seed_configs /ocid-e2e busybox:latest
}

teardown_file() {
  remove_all_pods  # whatever a failed test left
  ocid_stop
  registry_teardown
  rmdir /sys/fs/cgroup/*/ocid-e2e 2>/dev/null || true
  ocid_teardown
}

# A container config running `sh -c SCRIPT`, with a name of its own.
container_config() {
  local name=$1 script=$2 file="$TEST_ROOT/$1.json"
  sed -e "s|\"name\": \"busybox\"|\"name\": \"$name\"|" \
    -e "s|\"args\": \\[.*\\]|\"args\": [\"$script\"]|" \
    -e "s|\"log_path\": \"busybox.log\"|\"log_path\": \"$name.log\"|" \
    "$TEST_ROOT/container.json" >"$file"
  echo "$file"
}

wait_for_state() {
  local id=$1 want=$2
  for _ in $(seq 1 100); do
    [[ "$("$OCIC_BIN" ctr status --id "$id" | field State)" == "$want" ]] && return 0
    sleep 0.1
  done
  "$OCIC_BIN" ctr status --id "$id" >&2
  return 1
}

@test "the seed walkthrough: pod run, ctr create/start/status/stop/remove, pod stop/remove/list" {
  run "$OCIC_BIN" pod run --config "$TEST_ROOT/sandbox.json"
  [ "$status" -eq 0 ]
  pod=$output
  [ "$("$OCIC_BIN" pod status --id "$pod" | field State)" = SANDBOX_READY ]

  grep -q '"image": "busybox:latest"' "$TEST_ROOT/container.json"  # the short name, verbatim
  run "$OCIC_BIN" ctr create --pod "$pod" --config "$TEST_ROOT/container.json"
  [ "$status" -eq 0 ]
  ctr=$output
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field State)" = CONTAINER_CREATED ]
  # What kubelet shows: the repo tag the short name found, and a repo digest.
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field Image)" = "$REGISTRY/busybox:latest" ]
  [[ "$("$OCIC_BIN" ctr status --id "$ctr" | field ImageRef)" == "$REGISTRY/busybox@sha256:"* ]]
  run "$OCIC_BIN" ctr start --id "$ctr"
  [ "$status" -eq 0 ]
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field State)" = CONTAINER_RUNNING ]

  run "$OCIC_BIN" ctr exec --id "$ctr" -- sh -c 'echo $GREETING; hostname; cat /etc/resolv.conf'
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from ocid"* ]]
  [[ "$output" == *"ocid_sandbox"* ]]
  [[ "$output" == *"nameserver 10.88.0.1"* ]]
  run "$OCIC_BIN" ctr exec --id "$ctr" -- sh -c 'exit 4'
  [ "$status" -eq 4 ]

  run "$OCIC_BIN" ctr logs --id "$ctr"
  [[ "$output" == *"started"* ]]
  grep -q ' stdout F started' "$TEST_ROOT/logs/busybox.log"

  run "$OCIC_BIN" ctr list
  [[ "$output" == *"CONTAINER_RUNNING"* ]]
  # The daemonized conmon was reparented to ocid, a subreaper.
  conmon=$(pgrep -f "conmon --syslog -b .* -c $ctr")
  [ "$(ps -o ppid= -p "$conmon" | tr -d ' ')" = "$OCID_PID" ]
  run "$OCIC_BIN" ctr stop --id "$ctr" --timeout 1
  [ "$status" -eq 0 ]
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field State)" = CONTAINER_EXITED ]
  run "$OCIC_BIN" ctr remove --id "$ctr"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" ctr status --id "$ctr"
  [ "$status" -ne 0 ]
  [[ "$output" == *"NOT_FOUND"* ]]

  run "$OCIC_BIN" pod stop --id "$pod"
  [ "$status" -eq 0 ]
  [ "$("$OCIC_BIN" pod status --id "$pod" | field State)" = SANDBOX_NOTREADY ]
  run "$OCIC_BIN" pod stop --id "$pod"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" pod remove --id "$pod"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" pod list
  [[ "$output" != *"${pod:0:13}"* ]]

  # Nothing of the pod is left: mounts, pins, conmon, files.
  run ! grep -q "$pod" /proc/mounts
  run ! grep -q "$ctr" /proc/mounts
  run ! pgrep -f "conmon.*$ctr"
  [ -z "$(ls "$TEST_ROOT/run/ns/net" 2>/dev/null)" ]
  [ ! -e "$TEST_ROOT/run/containers/$ctr" ]
  [ ! -e "$TEST_ROOT/root/containers/$ctr" ]
  # ocid is a subreaper: the exited conmon (and ocid-infra) came back to it
  # and were reaped, none is left a zombie.
  for _ in $(seq 1 20); do
    [ -z "$(ps -o stat= --ppid "$OCID_PID" | grep Z)" ] && break
    sleep 0.1
  done
  [ -z "$(ps -o pid=,stat=,comm= --ppid "$OCID_PID" | grep Z)" ]
}

@test "a container that ignores SIGTERM is killed after the stop timeout" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config stubborn)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config stubborn 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  start=$(date +%s)
  run "$OCIC_BIN" ctr stop --id "$ctr" --timeout 2
  [ "$status" -eq 0 ]
  [ $(($(date +%s) - start)) -ge 2 ]
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field 'Exit Code')" = 137 ]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "a container that exits by itself reports its exit code and reason" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config quitter)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config quitter 'echo bye; exit 3')")
  "$OCIC_BIN" ctr start --id "$ctr"
  wait_for_state "$ctr" CONTAINER_EXITED
  status_text=$("$OCIC_BIN" ctr status --id "$ctr")
  [ "$(field 'Exit Code' <<<"$status_text")" = 3 ]
  [ "$(field Reason <<<"$status_text")" = Error ]
  [ -n "$(field Finished <<<"$status_text")" ]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "a container over its memory limit is OOM killed" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config hungry)")
  config=$(container_config hungry 'tail /dev/zero')
  sed -i 's|"memory_limit_in_bytes": 67108864|"memory_limit_in_bytes": 16777216|' "$config"
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$config")
  "$OCIC_BIN" ctr start --id "$ctr"
  wait_for_state "$ctr" CONTAINER_EXITED
  [ "$("$OCIC_BIN" ctr status --id "$ctr" | field Reason)" = OOMKilled ]
  # Counted from the stop event, by another thread: give it a moment.
  for _ in $(seq 1 50); do
    curl -sS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$TEST_ROOT/metrics.txt"
    grep -q '^ocid_containers_oom_total{name="hungry"} 1$' "$TEST_ROOT/metrics.txt" && break
    sleep 0.1
  done
  grep -q '^ocid_containers_oom_total{name="hungry"} 1$' "$TEST_ROOT/metrics.txt"
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "ocid killed with SIGKILL restarts and manages what runs, including exits while it was down" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config survivor)")
  long=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config long 'exec sleep 3600')")
  short=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config short 'sleep 2; exit 9')")
  "$OCIC_BIN" ctr start --id "$long"
  "$OCIC_BIN" ctr start --id "$short"
  kill -KILL "$OCID_PID"
  wait "$OCID_PID" 2>/dev/null || true
  OCID_PID=
  sleep 3  # the short one exits while ocid is down
  METRICS_PORT=$(free_port)
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" --metrics-port "$METRICS_PORT"
  export OCID_PID METRICS_PORT
  [ "$("$OCIC_BIN" ctr status --id "$long" | field State)" = CONTAINER_RUNNING ]
  [ "$("$OCIC_BIN" ctr status --id "$short" | field State)" = CONTAINER_EXITED ]
  [ "$("$OCIC_BIN" ctr status --id "$short" | field 'Exit Code')" = 9 ]
  run "$OCIC_BIN" ctr stop --id "$long" --timeout 0
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" pod remove --id "$pod"
  [ "$status" -eq 0 ]
  run ! pgrep -f "conmon.*$long"
}

@test "pods run with crun as a second runtime handler" {
  run "$OCIC_BIN" pod run --config "$(pod_config crunpod)" --runtime crun
  [ "$status" -eq 0 ]
  pod=$output
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config cruncontainer 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  run "$OCIC_BIN" ctr exec --id "$ctr" -- echo from-crun
  [ "$status" -eq 0 ]
  [[ "$output" == *from-crun* ]]
  [[ "$("$OCIC_BIN" pod status --id "$pod" | field 'Runtime Handler')" == crun ]]
  "$OCIC_BIN" pod remove --id "$pod"

  run "$OCIC_BIN" pod run --config "$(pod_config nohandler)" --runtime kata
  [ "$status" -ne 0 ]
  [[ "$output" == *'runtime_handler "kata" is not configured'* ]]
}

teardown() {
  # The reload test's drop-in must not outlive it, even when it fails.
  if [[ -e "$TEST_ROOT/ocid.conf.d/50-runtime.conf" ]]; then
    rm "$TEST_ROOT/ocid.conf.d/50-runtime.conf"
    hup_and_wait "got SIGHUP: reloaded"
    remove_all_pods
  fi
}

# The runtime conmon was started with for container ID (its -r).
runtime_of() {
  pgrep -a conmon | grep -- "-c $1 " | sed -e 's/.* -r \([^ ]*\) .*/\1/'
}

@test "SIGHUP's default_runtime takes new pods to it; pods made before keep their runtime" {
  before=$("$OCIC_BIN" pod run --config "$(pod_config beforehup)")
  printf '[ocid.runtime]\ndefault_runtime = "crun"\n' >"$TEST_ROOT/ocid.conf.d/50-runtime.conf"
  hup_and_wait "got SIGHUP: reloaded"
  after=$("$OCIC_BIN" pod run --config "$(pod_config afterhup)")
  old=$("$OCIC_BIN" ctr create --pod "$before" --config "$(container_config inold 'exec sleep 3600')")
  new=$("$OCIC_BIN" ctr create --pod "$after" --config "$(container_config innew 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$old"
  "$OCIC_BIN" ctr start --id "$new"
  [[ "$(runtime_of "$old")" == */runc ]]
  [[ "$(runtime_of "$new")" == */crun ]]
  # kubelet named no handler for either: both report the one it sent.
  [[ "$("$OCIC_BIN" pod status --id "$after" | field 'Runtime Handler')" == "" ]]

  # A default that is not one of the runtimes ocid started with is refused
  # and the old one kept.
  printf '[ocid.runtime]\ndefault_runtime = "kata"\n[ocid.runtime.runtimes.kata]\nruntime_path = "/usr/bin/true"\nruntime_root = "/run/kata"\n' \
    >"$TEST_ROOT/ocid.conf.d/50-runtime.conf"
  hup_and_wait "reload failed, keeping the old configuration"
  grep -q 'default_runtime: "kata" is not one of the runtimes ocid started with' "$TEST_ROOT/ocid.log"
  rm "$TEST_ROOT/ocid.conf.d/50-runtime.conf"
  hup_and_wait "got SIGHUP: reloaded"
  third=$("$OCIC_BIN" pod run --config "$(pod_config backtorunc)")
  ctr=$("$OCIC_BIN" ctr create --pod "$third" --config "$(container_config inthird 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  [[ "$(runtime_of "$ctr")" == */runc ]]
  for pod in "$before" "$after" "$third"; do "$OCIC_BIN" pod remove --id "$pod"; done
}

@test "bad requests name the field and leave nothing behind" {
  printf '{"metadata": {"name": "x"}}' >"$TEST_ROOT/bad-pod.json"
  run "$OCIC_BIN" pod run --config "$TEST_ROOT/bad-pod.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"INVALID_ARGUMENT"*"config.metadata.namespace is empty"* ]]

  pod=$("$OCIC_BIN" pod run --config "$(pod_config badinput)")
  config=$(container_config escape 'true')
  sed -i 's|"log_path": "escape.log"|"log_path": "../../etc/evil.log"|' "$config"
  run "$OCIC_BIN" ctr create --pod "$pod" --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"config.log_path"* ]]

  config=$(container_config noimage 'true')
  sed -i 's|"busybox:latest"|"not-pulled:latest"|' "$config"
  run "$OCIC_BIN" ctr create --pod "$pod" --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"NOT_FOUND"*"is not pulled"* ]]

  config=$(container_config grouponly 'true')
  sed -i 's|"readonly_rootfs": false|"readonly_rootfs": false, "run_as_group": {"value": 55}|' "$config"
  run "$OCIC_BIN" ctr create --pod "$pod" --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"INVALID_ARGUMENT"*"config.linux.security_context.run_as_group: set without run_as_user"* ]]
  run "$OCIC_BIN" ctr list --pod "$pod"
  [[ "$output" != *"grouponly"* ]]
  run ! grep -q grouponly /proc/mounts

  run "$OCIC_BIN" ctr start --id does-not-exist
  [[ "$output" == *"NOT_FOUND"* ]]
  run "$OCIC_BIN" ctr list --pod "$pod"
  [[ "$output" != *"escape"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "a pod without a hostname gets the node's, even with a name longer than 64 bytes" {
  # critest's pod names are 74 characters: too long for sethostname.
  name="PodSandbox-for-hostname-test-0123456789abcdef0123456789abcdef0123456789"
  config=$(pod_config "$name")
  sed -i '/"hostname": "ocid_sandbox",/d' "$config"
  pod=$("$OCIC_BIN" pod run --config "$config")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config nohost 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  node=$(uname -n)
  run "$OCIC_BIN" ctr exec --id "$ctr" -- sh -c 'hostname; cat /etc/hostname; grep 127.0.1.1 /etc/hosts; echo $HOSTNAME'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n%s\n127.0.1.1 %s\n%s' "$node" "$node" "$node" "$node")" ]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "a hostname over 64 bytes is refused before anything is made" {
  config=$(pod_config longhost)
  sed -i "s|\"hostname\": \"ocid_sandbox\"|\"hostname\": \"$(printf 'h%.0s' $(seq 65))\"|" "$config"
  run "$OCIC_BIN" pod run --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"INVALID_ARGUMENT"*"config.hostname"*"longer than 64 bytes"* ]]
  run "$OCIC_BIN" pod list
  [[ "$output" != *"longhost"* ]]
  [ -z "$(ls "$TEST_ROOT/run/ns/uts" 2>/dev/null)" ]
  # Its name is not held either: the same pod with a good hostname runs.
  sed -i "s|\"hostname\": \"h*\"|\"hostname\": \"longhost\"|" "$config"
  pod=$("$OCIC_BIN" pod run --config "$config")
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "a container created by image ID, as kubelet does, reports a repo tag and digest" {
  local id
  id=$("$OCIC_BIN" --output json image status busybox:latest | grep -o '"id": "sha256:[0-9a-f]*"' | cut -d'"' -f4)
  pod=$("$OCIC_BIN" pod run --config "$(pod_config byid)")
  config=$(container_config byid 'exec sleep 3600')
  sed -i "s|\"busybox:latest\"|\"$id\"|" "$config"
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$config")
  run "$OCIC_BIN" ctr status --id "$ctr"
  [ "$(field Image <<<"$output")" = "$REGISTRY/busybox:latest" ]
  [[ "$(field ImageRef <<<"$output")" == "$REGISTRY/busybox@sha256:"* ]]
  run "$OCIC_BIN" --output json ctr status --id "$ctr"
  [[ "$output" == *"\"image_id\": \"$id\""* ]]
  run "$OCIC_BIN" ctr list --pod "$pod"
  [ "$status" -eq 0 ]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "an exec that times out is killed and reaped, not left in the container" {
  # critest's pods share one PID namespace (POD is the default mode).
  config=$(pod_config exectimeout)
  sed -i 's|"pid": 1|"pid": 0|' "$config"
  pod=$("$OCIC_BIN" pod run --config "$config")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config exectimeout 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  start=$(date +%s)
  run "$OCIC_BIN" ctr exec --timeout 1 --id "$ctr" -- sleep 31337
  [ "$status" -ne 0 ]
  [[ "$output" == *"DEADLINE_EXCEEDED"* ]]
  [ $(($(date +%s) - start)) -lt 10 ]
  # critest checks with pgrep, which sees zombies too: read every stat.
  run "$OCIC_BIN" ctr exec --id "$ctr" -- sh -c 'cat /proc/[0-9]*/stat'
  [ "$status" -eq 0 ]
  [[ "$output" == *"(sleep)"* ]]  # the container's own sleep 3600
  [[ "$output" != *"(sleep) Z"* ]]
  [ "$(grep -c '(sleep)' <<<"$output")" -eq 1 ]
  run ! pgrep -f "sleep 31337"
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "verbose ContainerStatus carries what crictl inspect reads" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config inspect)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config inspect 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  run "$OCIC_BIN" --output json ctr status --id "$ctr"
  [ "$status" -eq 0 ]
  # info.info is a JSON string: its quotes come escaped.
  [[ "$output" == *'\"sandboxID\":\"'"$pod"'\"'* ]]
  [[ "$output" == *'\"pid\":'[1-9]* ]]
  [[ "$output" == *'\"privileged\":false'* ]]
  [[ "$output" == *'\"runtimeSpec\":{'*'\"ociVersion\":'* ]]
  [[ "$output" == *'\"args\":[\"/bin/sh\",\"-c\",\"exec sleep 3600\"]'* ]]
  [[ "$output" == *'\"runtimeType\":\"runc\"'* ]]
  # Not verbose: no info.
  run "$OCIC_BIN" ctr status --id "$ctr"
  [[ "$output" != *"runtimeSpec"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "an image in use by a container cannot be removed" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config holder)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config holder 'exec sleep 3600')")
  for name in "$REGISTRY/busybox:latest" busybox:latest; do
    run "$OCIC_BIN" image remove "$name"
    [ "$status" -ne 0 ]
    [[ "$output" == *"in use"* ]]
  done
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "kubelet's retry of RunPodSandbox gets the same pod; a different pod with its name is refused" {
  config=$(pod_config retry)
  first=$("$OCIC_BIN" pod run --config "$config")
  second=$("$OCIC_BIN" pod run --config "$config")
  [ "$first" = "$second" ]
  sed -i 's|"hostname": "ocid_sandbox"|"hostname": "other"|' "$config"
  run "$OCIC_BIN" pod run --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"ALREADY_EXISTS"*"is reserved for $first"* ]]
  "$OCIC_BIN" pod remove --id "$first"
}

@test "containers of a pod with a shared PID namespace see each other, under our infra process" {
  config=$(pod_config shared)
  sed -i 's|"pid": 1|"pid": 0|' "$config"
  pod=$("$OCIC_BIN" pod run --config "$config")
  one=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config one 'exec sleep 3601')")
  two=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config two 'exec sleep 3602')")
  "$OCIC_BIN" ctr start --id "$one"
  "$OCIC_BIN" ctr start --id "$two"
  run "$OCIC_BIN" ctr exec --id "$two" -- ps
  [ "$status" -eq 0 ]
  [[ "$output" == *"sleep 3601"* ]]
  [[ "$output" == *"ocid-infra"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
  run ! pgrep -f "sleep 360[12]"
}

@test "ocic events prints a container's lifecycle as it happens" {
  "$OCIC_BIN" events --count 6 >"$TEST_ROOT/events.out" 2>"$TEST_ROOT/events.err" &
  watcher=$!
  # Subscribed once it says so; what happens from then on is in its stream.
  for _ in $(seq 1 100); do
    grep -q "watching events" "$TEST_ROOT/events.err" && break
    sleep 0.1
  done
  pod=$("$OCIC_BIN" pod run --config "$(pod_config watched)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config watched 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  "$OCIC_BIN" ctr stop --id "$ctr" --timeout 0
  "$OCIC_BIN" ctr remove --id "$ctr"
  run timeout 30 tail --pid "$watcher" -f /dev/null  # it ends after 6 events
  [ "$status" -eq 0 ]
  wait "$watcher"
  "$OCIC_BIN" pod remove --id "$pod"
  cat "$TEST_ROOT/events.out" >&2
  [ "$(grep -c " pod $pod\$" "$TEST_ROOT/events.out")" -eq 6 ]
  [ "$(grep "CONTAINER_.*_EVENT $ctr " "$TEST_ROOT/events.out" | awk '{print $2}' | tr '\n' ' ')" = \
    "CONTAINER_CREATED_EVENT CONTAINER_STARTED_EVENT CONTAINER_STOPPED_EVENT CONTAINER_DELETED_EVENT " ]
}

@test "ocic ctr exec -i/-t, ctr attach and pod port-forward go through the streaming server" {
  pod=$("$OCIC_BIN" pod run --config "$(pod_config streamed)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config streamed 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"

  run sh -c "echo hello-stdin | '$OCIC_BIN' ctr exec -i --id '$ctr' -- cat"
  [ "$status" -eq 0 ]
  [ "$output" = hello-stdin ]
  run sh -c "echo hello-websocket | '$OCIC_BIN' ctr exec -i --transport websocket --id '$ctr' -- cat"
  [ "$status" -eq 0 ]
  [ "$output" = hello-websocket ]
  run "$OCIC_BIN" ctr exec -i --id "$ctr" -- sh -c 'exit 5' </dev/null
  [ "$status" -eq 5 ]
  run "$OCIC_BIN" ctr exec -t --id "$ctr" -- tty
  [ "$status" -eq 0 ]
  [[ "$output" == /dev/pts/* ]]

  web=$("$OCIC_BIN" ctr create --pod "$pod" \
    --config "$(container_config streamweb 'echo served > /tmp/index.html; exec httpd -f -p 8080 -h /tmp')")
  "$OCIC_BIN" ctr start --id "$web"
  # SPDY, and SPDY inside a WebSocket as kubectl >= 1.30 sends it.
  for transport in spdy websocket; do
    port=$(free_port)
    "$OCIC_BIN" pod port-forward --transport "$transport" --id "$pod" "$port:8080" \
      >"$TEST_ROOT/pf.out" 2>&1 &
    forwarder=$!
    for _ in $(seq 1 50); do grep -q Forwarding "$TEST_ROOT/pf.out" && break; sleep 0.1; done
    body=""
    for _ in $(seq 1 50); do
      body=$(curl -sf "http://127.0.0.1:$port/index.html") && break
      sleep 0.1
    done
    kill "$forwarder"
    wait "$forwarder" || true
    [ "$body" = served ]
  done
  run "$OCIC_BIN" pod port-forward --transport carrier-pigeon --id "$pod" 1:1
  [ "$status" -ne 0 ]
  [[ "$output" == *"--transport \"carrier-pigeon\" is neither spdy nor websocket"* ]]

  ticker=$("$OCIC_BIN" ctr create --pod "$pod" \
    --config "$(container_config streamtick 'while true; do echo tick; sleep 0.2; done')")
  "$OCIC_BIN" ctr start --id "$ticker"
  run timeout 2 "$OCIC_BIN" ctr attach --id "$ticker"
  [[ "$output" == *tick* ]]
  [ "$("$OCIC_BIN" ctr status --id "$ticker" | field State)" = CONTAINER_RUNNING ]

  "$OCIC_BIN" pod remove --id "$pod"
}

@test "with stream_tls_cert and stream_tls_key the streaming server speaks TLS" {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -keyout "$TEST_ROOT/stream.key" -out "$TEST_ROOT/stream.crt" 2>/dev/null
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" \
    --stream-tls-cert "$TEST_ROOT/stream.crt" --stream-tls-key "$TEST_ROOT/stream.key"
  grep -q "streaming server on 127.0.0.1:[0-9]* (TLS)" "$TEST_ROOT/ocid.log"
  port=$(sed -n 's/.*streaming server on 127.0.0.1:\([0-9]*\) (TLS).*/\1/p' "$TEST_ROOT/ocid.log")
  # Plain HTTP on it gets no answer a client could use.
  run curl -s --max-time 5 "http://127.0.0.1:$port/exec/x"
  [[ "$output" != *"404"* ]]
  pod=$("$OCIC_BIN" pod run --config "$(pod_config tlspod)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config tlsctr 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  run sh -c "echo over-tls | '$OCIC_BIN' ctr exec -i --id '$ctr' -- cat"
  [ "$status" -eq 0 ]
  [ "$output" = over-tls ]
  "$OCIC_BIN" pod remove --id "$pod"
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" --metrics-port "$METRICS_PORT"
}

@test "default_capabilities and default_sysctls shape every pod and container" {
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" \
    --default-capabilities CAP_CHOWN --default-capabilities net_bind_service \
    --default-sysctls net.ipv4.ip_unprivileged_port_start=5
  pod=$("$OCIC_BIN" pod run --config "$(pod_config defaultspod)")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$(container_config defaultsctr 'exec sleep 3600')")
  "$OCIC_BIN" ctr start --id "$ctr"
  run "$OCIC_BIN" ctr exec --id "$ctr" -- cat /proc/sys/net/ipv4/ip_unprivileged_port_start
  [ "$output" = 5 ]
  run "$OCIC_BIN" ctr exec --id "$ctr" -- grep CapEff /proc/self/status
  # CAP_CHOWN (bit 0) and CAP_NET_BIND_SERVICE (bit 10) only.
  [[ "$output" == *0000000000000401 ]]
  "$OCIC_BIN" pod remove --id "$pod"
  ocid_stop
  # A host-level sysctl would change the node: ocid refuses to start.
  run "$OCID_BIN" $(ocid_private_flags) --default-sysctls kernel.panic=1
  [ "$status" -ne 0 ]
  [[ "$output" == *'ocid.runtime.default_sysctls[0]: "kernel.panic=1": not a namespaced sysctl'* ]]
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" --metrics-port "$METRICS_PORT"
}
