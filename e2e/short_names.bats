#!/usr/bin/env bats
# Short names (containers-registries.conf(5)): short-name-mode, [aliases],
# registries.conf.d drop-ins (reloaded on SIGHUP) and the short-name alias
# cache under ocid's root. Two search registries: a dead one on 127.0.0.1:1
# first, then the test registry.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup
  DEAD=127.0.0.1:1
  export DEAD
  {
    printf 'unqualified-search-registries = ["%s", "%s"]\n' "$DEAD" "$REGISTRY"
    cat "$TEST_ROOT/registries.conf"
    printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$DEAD"
  } >"$TEST_ROOT/registries-short.conf"
  mv "$TEST_ROOT/registries-short.conf" "$TEST_ROOT/registries.conf"
  mkdir -p "$TEST_ROOT/registries.conf.d"
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  export OCID_PID
}

teardown_file() {
  ocid_stop
  registry_teardown
  ocid_teardown
}

cache_file() { echo "$TEST_ROOT/root/short-name-aliases.conf"; }

# Writes drop-in NAME (stdin), or removes it with no stdin given ("-"), then
# SIGHUPs ocid and waits for the reload to be logged.
drop_in() {
  local name=$1
  if [[ "${2:-}" == "-" ]]; then
    rm -f "$TEST_ROOT/registries.conf.d/$name"
  else
    cat >"$TEST_ROOT/registries.conf.d/$name"
  fi
  hup_and_wait "got SIGHUP: reloaded"
}

@test "enforcing (the default) refuses a short name two search registries could mean, listing them" {
  run "$OCIC_BIN" image pull busybox:latest
  [ "$status" -ne 0 ]
  [[ "$output" == *"FAILED_PRECONDITION"* ]]
  [[ "$output" == *"short name \"busybox:latest\" is ambiguous: it may be $DEAD/busybox:latest, $REGISTRY/busybox:latest"* ]]
  [[ "$output" == *"short-name-mode is enforcing"* ]]
  [ ! -e "$(cache_file)" ]
  run ! "$OCIC_BIN" image status "$REGISTRY/busybox:latest"
  # A qualified name is no question.
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
}

@test "an alias in a registries.conf.d drop-in resolves the short name after SIGHUP" {
  run ! "$OCIC_BIN" image pull bb:oci
  printf '[aliases]\n"bb" = "%s/busybox"\n' "$REGISTRY" | drop_in 50-aliases.conf
  run "$OCIC_BIN" image pull bb:oci
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:oci"
  [ "$status" -eq 0 ]
  # Found again by the alias, and not recorded: it was never searched for.
  run "$OCIC_BIN" image status bb:oci
  [ "$status" -eq 0 ]
  [[ "$output" == *"Tags: "*"$REGISTRY/busybox:oci"* ]]
  run ! grep -q '"bb"' "$(cache_file)"
  drop_in 50-aliases.conf -
}

@test "permissive tries the search registries in order and records the alias in ocid's cache" {
  printf 'short-name-mode = "permissive"\n' | drop_in 60-mode.conf
  run "$OCIC_BIN" image pull busybox:zstd
  [ "$status" -eq 0 ]
  [ -f "$(cache_file)" ]
  grep -qx "\"busybox\" = \"$REGISTRY/busybox\"" "$(cache_file)"
  # Back to enforcing: the cached alias answers the question.
  drop_in 60-mode.conf -
  run "$OCIC_BIN" image pull busybox:multiarch
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:multiarch"
  [ "$status" -eq 0 ]
  # It survives a restart (it is a file under the root).
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  run "$OCIC_BIN" image pull busybox:latest
  [ "$status" -eq 0 ]
}

@test "registries.conf's aliases win over the cache" {
  grep -q '"busybox"' "$(cache_file)"
  printf '[aliases]\n"busybox" = "%s/busybox"\n' "$DEAD" | drop_in 70-dead.conf
  run "$OCIC_BIN" image pull busybox:latest
  [ "$status" -ne 0 ]
  [[ "$output" == *"pull $DEAD/busybox:latest"* ]]
  drop_in 70-dead.conf -
  run "$OCIC_BIN" image pull busybox:latest
  [ "$status" -eq 0 ]
}

@test "disabled tries the search registries in order and records nothing" {
  printf 'short-name-mode = "disabled"\n' | drop_in 60-mode.conf
  run "$OCIC_BIN" image pull whiteouts:latest
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/whiteouts:latest"
  [ "$status" -eq 0 ]
  run ! grep -q '"whiteouts"' "$(cache_file)"
  drop_in 60-mode.conf -
}

@test "an invalid short-name-mode: a reload keeps the old config, a start fails, naming the file and key" {
  printf '\nshort-name-mode = "sometimes"\n' >"$TEST_ROOT/registries.conf.d/80-bad.conf"
  hup_and_wait "reload failed, keeping the old configuration"
  grep -q "reload failed.*$TEST_ROOT/registries.conf.d/80-bad.conf:2: key \"short-name-mode\" is \"sometimes\"" \
    "$TEST_ROOT/ocid.log"
  kill -0 "$(cat "$TEST_ROOT/ocid.pid")"
  run "$OCIC_BIN" image pull busybox:latest  # the cached alias, as before
  [ "$status" -eq 0 ]

  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
    --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
    --registries-conf "$TEST_ROOT/registries.conf"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_ROOT/registries.conf.d/80-bad.conf:2: key \"short-name-mode\" is \"sometimes\"; it must be enforcing, permissive or disabled"* ]]
  rm -f "$TEST_ROOT/registries.conf.d/80-bad.conf"
}
