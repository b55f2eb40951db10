#!/usr/bin/env bats
# Pod networking through CNI: a bridge network of this test's own (bridge
# ocide2e0, 10.212.0.0/24, no masquerade), never the machine's
# /etc/cni/net.d. Traffic goes only to addresses inside the netns the test's
# pods get, and to 127.0.0.1.

load helpers

BRIDGE=ocide2e0
SUBNET_PREFIX=10.212.0.

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup
  cat >"$TEST_ROOT/net.d/10-e2e.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "ocid-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$TEST_ROOT/ipam",
              "ranges": [[{"subnet": "${SUBNET_PREFIX}0/24"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CONF
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  export OCID_PID
  "$OCIC_BIN" image pull "$REGISTRY/busybox:latest" >/dev/null
  seed_configs /ocid-e2e-net
}

teardown_file() {
  remove_all_pods
  ocid_stop
  ip link del "$BRIDGE" 2>/dev/null || true
  registry_teardown
  rmdir /sys/fs/cgroup/*/ocid-e2e-net 2>/dev/null || true
  ocid_teardown
}

# A pod running busybox httpd on :8080 serving "hello from NAME".
web_pod() {
  local name=$1 config=${2:-$(pod_config "$1")} ctr_config="$TEST_ROOT/ctr-$1.json"
  sed -e "s|\"name\": \"busybox\"|\"name\": \"web-$name\"|" \
    -e "s|\"args\": \\[.*\\]|\"args\": [\"mkdir -p /www; echo hello from $name > /www/index.html; exec httpd -f -p 8080 -h /www\"]|" \
    -e "s|\"log_path\": \"busybox.log\"|\"log_path\": \"web-$name.log\"|" \
    "$TEST_ROOT/container.json" >"$ctr_config"
  local pod ctr
  pod=$("$OCIC_BIN" pod run --config "$config")
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$ctr_config")
  "$OCIC_BIN" ctr start --id "$ctr" >/dev/null
  echo "$pod $ctr"
}

pod_ip() { "$OCIC_BIN" pod status --id "$1" | field 'IP Addresses'; }

wait_http() {
  for _ in $(seq 1 50); do
    curl -sf --max-time 1 "$1" && return 0
    sleep 0.1
  done
  return 1
}

@test "ocid reports the network ready with the test's config" {
  run "$OCIC_BIN" info
  [[ "$output" == *"NetworkReady: true"* ]]
}

@test "a pod gets an IP on the test bridge and the host reaches its httpd" {
  read -r pod ctr < <(web_pod alpha)
  ip=$(pod_ip "$pod")
  [[ "$ip" == "$SUBNET_PREFIX"* ]]
  run wait_http "http://$ip:8080/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from alpha"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "two pods reach each other" {
  read -r pod_a ctr_a < <(web_pod one)
  read -r pod_b ctr_b < <(web_pod two)
  ip_a=$(pod_ip "$pod_a")
  wait_http "http://$ip_a:8080/" >/dev/null
  run "$OCIC_BIN" ctr exec --id "$ctr_b" -- wget -qO- "http://$ip_a:8080/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from one"* ]]
  "$OCIC_BIN" pod remove --id "$pod_a"
  "$OCIC_BIN" pod remove --id "$pod_b"
}

@test "a hostPort mapping reaches the pod" {
  config=$(pod_config mapped)
  sed -i 's|"port_mappings": \[\]|"port_mappings": [{"protocol": 0, "container_port": 8080, "host_port": 30880, "host_ip": "127.0.0.1"}]|' "$config"
  read -r pod ctr < <(web_pod mapped "$config")
  wait_http "http://$(pod_ip "$pod"):8080/" >/dev/null
  run wait_http "http://127.0.0.1:30880/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from mapped"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
  run curl -sf --max-time 1 "http://127.0.0.1:30880/"
  [ "$status" -ne 0 ]
}

@test "a mapping with only a container port runs the pod; a port out of range is refused" {
  config=$(pod_config portonly)
  sed -i 's|"port_mappings": \[\]|"port_mappings": [{"protocol": 0, "container_port": 8080}, {"protocol": 1, "container_port": 53, "host_port": 0}]|' "$config"
  read -r pod ctr < <(web_pod portonly "$config")
  [ -n "$pod" ]
  run wait_http "http://$(pod_ip "$pod"):8080/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from portonly"* ]]
  "$OCIC_BIN" pod remove --id "$pod"

  config=$(pod_config badport)
  sed -i 's|"port_mappings": \[\]|"port_mappings": [{"container_port": 8080, "host_port": 70000}]|' "$config"
  run "$OCIC_BIN" pod run --config "$config"
  [ "$status" -ne 0 ]
  [[ "$output" == *"INVALID_ARGUMENT"*"config.port_mappings[0].host_port"* ]]
  run "$OCIC_BIN" pod list
  [[ "$output" != *"badport"* ]]
}

@test "a hostNetwork pod sees the host's interfaces and gets no CNI address" {
  config=$(pod_config hostnet)
  sed -i 's|"network": 0|"network": 2|' "$config"
  pod=$("$OCIC_BIN" pod run --config "$config")
  [ -z "$(pod_ip "$pod")" ]
  ctr_config="$TEST_ROOT/ctr-hostnet.json"
  sed -e 's|"name": "busybox"|"name": "hostnet"|' -e 's|"log_path": "busybox.log"|"log_path": "hostnet.log"|' \
    "$TEST_ROOT/container.json" >"$ctr_config"
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$ctr_config")
  "$OCIC_BIN" ctr start --id "$ctr"
  run "$OCIC_BIN" ctr exec --id "$ctr" -- ip link
  [[ "$output" == *"$BRIDGE"* ]]
  "$OCIC_BIN" pod remove --id "$pod"
}

@test "after removal no veth, netns pin or IPAM reservation is left" {
  veths_before=$(ip -o link show master "$BRIDGE" 2>/dev/null | wc -l)
  read -r pod ctr < <(web_pod leaky)
  ip=$(pod_ip "$pod")
  [ -e "$TEST_ROOT/ipam/ocid-e2e/$ip" ]
  [ "$(ip -o link show master "$BRIDGE" | wc -l)" -eq $((veths_before + 1)) ]
  "$OCIC_BIN" pod remove --id "$pod"
  [ "$(ip -o link show master "$BRIDGE" 2>/dev/null | wc -l)" -eq "$veths_before" ]
  [ ! -e "$TEST_ROOT/ipam/ocid-e2e/$ip" ]
  [ ! -e "$TEST_ROOT/run/ns/net/$pod" ]
  [ ! -e "$TEST_ROOT/root/cni/results/$pod-eth0.json" ]
}

@test "a failing plugin fails RunPodSandbox with its message and leaves nothing" {
  printf '{"cniVersion":"1.0.0","name":"broken","plugins":[{"type":"no-such-plugin"}]}' \
    >"$TEST_ROOT/net.d/00-broken.conflist"
  sleep 1  # ocid reloads the dir on change
  pins_before=$(ls "$TEST_ROOT/run/ns/net" | wc -l)
  run "$OCIC_BIN" pod run --config "$(pod_config broken)"
  [ "$status" -ne 0 ]
  [[ "$output" == *"no-such-plugin"* ]]
  [ "$(ls "$TEST_ROOT/run/ns/net" | wc -l)" -eq "$pins_before" ]
  run "$OCIC_BIN" info
  [[ "$output" == *"NetworkReady: false"*"no-such-plugin"* ]]
  rm "$TEST_ROOT/net.d/00-broken.conflist"
  sleep 1
  run "$OCIC_BIN" info
  [[ "$output" == *"NetworkReady: true"* ]]
}

@test "DEL after an ocid restart uses the cached result" {
  read -r pod ctr < <(web_pod restarted)
  ip=$(pod_ip "$pod")
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  export OCID_PID
  [ "$(pod_ip "$pod")" = "$ip" ]
  "$OCIC_BIN" pod remove --id "$pod"
  [ ! -e "$TEST_ROOT/ipam/ocid-e2e/$ip" ]
}
