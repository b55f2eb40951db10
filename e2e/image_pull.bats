#!/usr/bin/env bats
# Image pulls through ocid from a real registry (Debian's docker-registry on
# 127.0.0.1) holding images built from busybox-static: Docker schema 2, OCI,
# zstd, a multi-arch index, whiteouts, 111 layers.

load helpers
# `run !` (a negated command that fails the test; a bare `! cmd` never does).
bats_require_minimum_version 1.5.0

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup
  # Short names are searched for in the test registry; Docker Hub's official
  # images (docker.io/library/...) are served by it too. Nothing leaves
  # loopback.
  {
    printf 'unqualified-search-registries = ["%s"]\n' "$REGISTRY"
    cat "$TEST_ROOT/registries.conf"
    printf '[[registry]]\nprefix = "docker.io/library"\nlocation = "%s"\ninsecure = true\n' \
      "$REGISTRY"
  } >"$TEST_ROOT/registries-short.conf"
  mv "$TEST_ROOT/registries-short.conf" "$TEST_ROOT/registries.conf"
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  export OCID_PID
  # One mount point for the tests that look at an image's root file system.
  mkdir -p "$TEST_ROOT/mnt"
}

teardown_file() {
  umount "$TEST_ROOT/mnt" 2>/dev/null || true
  ocid_stop
  registry_teardown
  ocid_teardown
}

teardown() { umount "$TEST_ROOT/mnt" 2>/dev/null || true; }

layers_dir() { echo "$TEST_ROOT/root/storage/layers"; }

# Mounts the image's layers (from its record) at $TEST_ROOT/mnt, with a
# scratch upper dir. Short relative names keep 111 lower dirs within the
# one-page limit of mount(2)'s options.
mount_image() {
  local id=$1 record lower="" hex n=0
  record=$(cat "$TEST_ROOT/root/storage/images/${id#sha256:}.json")
  rm -rf "$TEST_ROOT/l" "$TEST_ROOT/upper" "$TEST_ROOT/work"
  mkdir -p "$TEST_ROOT/l" "$TEST_ROOT/upper" "$TEST_ROOT/work"
  for hex in $(grep -o '"layers":\[[^]]*\]' <<<"$record" | grep -o 'sha256:[0-9a-f]*' | cut -d: -f2); do
    n=$((n + 1))
    ln -s "$(layers_dir)/$hex/diff" "$TEST_ROOT/l/$n"
    lower="$n${lower:+:$lower}"
  done
  (cd "$TEST_ROOT/l" && mount -t overlay overlay \
    -o "lowerdir=$lower,upperdir=$TEST_ROOT/upper,workdir=$TEST_ROOT/work" "$TEST_ROOT/mnt")
}

image_id() {
  "$OCIC_BIN" --output json image status "$1" | grep -o '"id": "sha256:[0-9a-f]*"' | cut -d'"' -f4
}

@test "pull a Docker schema 2 image and list, inspect it" {
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
  [[ "$output" == *"sha256:"* ]]

  run "$OCIC_BIN" image list
  [ "$status" -eq 0 ]
  [[ "$output" == *"$REGISTRY/busybox"*"latest"* ]]

  run "$OCIC_BIN" image status "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Tags: $REGISTRY/busybox:latest"* ]]
  [[ "$output" == *"Digests: $REGISTRY/busybox@sha256:"* ]]

  mount_image "$(image_id "$REGISTRY/busybox:latest")"
  [ -x "$TEST_ROOT/mnt/bin/busybox" ]
  [ -L "$TEST_ROOT/mnt/bin/sh" ]
  grep -q '^nobody:x:65534' "$TEST_ROOT/mnt/etc/passwd"
  [ "$(stat -c %a "$TEST_ROOT/mnt/tmp")" = 1777 ]
}

@test "OCI gzip, OCI zstd and a multi-arch index give the same root file system" {
  for tag in oci zstd multiarch; do
    run "$OCIC_BIN" image pull "$REGISTRY/busybox:$tag"
    [ "$status" -eq 0 ]
  done
  # The index's linux/amd64 entry is busybox:oci itself.
  [ "$(image_id "$REGISTRY/busybox:multiarch")" = "$(image_id "$REGISTRY/busybox:oci")" ]
  mount_image "$(image_id "$REGISTRY/busybox:zstd")"
  [ -x "$TEST_ROOT/mnt/bin/busybox" ]
  cmp "$TEST_ROOT/mnt/bin/busybox" /bin/busybox
}

@test "whiteouts and opaque dirs hide lower layers' files" {
  run "$OCIC_BIN" image pull "$REGISTRY/whiteouts:latest"
  [ "$status" -eq 0 ]
  mount_image "$(image_id "$REGISTRY/whiteouts:latest")"
  [ ! -e "$TEST_ROOT/mnt/bin/vi" ]
  [ ! -e "$TEST_ROOT/mnt/etc/delete-me" ]
  [ ! -e "$TEST_ROOT/mnt/opt/gone" ]
  [ -e "$TEST_ROOT/mnt/data/new" ]
  [ ! -e "$TEST_ROOT/mnt/data/old1" ]
  [ -x "$TEST_ROOT/mnt/bin/busybox" ]
}

@test "an image with 111 layers pulls and all its layers are there" {
  run "$OCIC_BIN" image pull "$REGISTRY/many-layers:latest"
  [ "$status" -eq 0 ]
  mount_image "$(image_id "$REGISTRY/many-layers:latest")"
  [ -e "$TEST_ROOT/mnt/layers/1" ]
  [ -e "$TEST_ROOT/mnt/layers/110" ]
}

@test "concurrent pulls of one image download each blob once" {
  "$OCIC_BIN" image remove "$REGISTRY/many-layers:latest"
  local before after
  before=$(grep -c 'GET /v2/many-layers/blobs/' "$REGISTRY_DIR/registry.log" || true)
  "$OCIC_BIN" image pull "$REGISTRY/many-layers:latest" >/dev/null &
  local first=$!
  "$OCIC_BIN" image pull "$REGISTRY/many-layers:latest" >/dev/null
  wait "$first"
  after=$(grep -c 'GET /v2/many-layers/blobs/' "$REGISTRY_DIR/registry.log" || true)
  # 110 layer blobs of its own + config; the busybox layer is shared and kept.
  [ $((after - before)) -le 111 ]
  run "$OCIC_BIN" image list
  [[ "$output" == *"many-layers"* ]]
}

@test "remove untags, then deletes the image and its unshared layers; it is idempotent" {
  local layers_before layers_after
  layers_before=$(ls "$(layers_dir)" | wc -l)
  run "$OCIC_BIN" image remove "$REGISTRY/many-layers:latest"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image list
  [[ "$output" != *"many-layers"* ]]
  layers_after=$(ls "$(layers_dir)" | wc -l)
  [ $((layers_before - layers_after)) -eq 110 ]
  run "$OCIC_BIN" image remove "$REGISTRY/many-layers:latest"
  [ "$status" -eq 0 ]
  # busybox's layer is still used by the busybox images.
  run "$OCIC_BIN" image status "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
}

@test "bad references and missing images give clear errors and record nothing" {
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:no-such-tag"
  [ "$status" -ne 0 ]
  [[ "$output" == *"NOT_FOUND"* ]]
  [[ "$output" == *"no-such-tag"* ]]

  run "$OCIC_BIN" image pull "Not/Valid"
  [ "$status" -ne 0 ]
  [[ "$output" == *"INVALID_ARGUMENT"* ]]

  run "$OCIC_BIN" image list
  [[ "$output" != *"no-such-tag"* ]]
}

@test "a blob whose bytes do not match its digest fails the pull and leaves no image" {
  # A layer only many-layers has (it was removed above, so ocid must fetch it).
  local manifest blob data
  manifest=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/many-layers/manifests/latest")
  blob=$(grep -o 'sha256:[0-9a-f]\{64\}' <<<"$manifest" | tail -n 1 | cut -d: -f2)
  data="$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/${blob:0:2}/$blob/data"
  [ -f "$data" ] || data=$(find "$REGISTRY_DIR" -path "*/blobs/sha256/${blob:0:2}/$blob/data")
  [ -f "$data" ]
  printf 'tampered' | dd of="$data" bs=1 seek=20 conv=notrunc 2>/dev/null

  run "$OCIC_BIN" image pull "$REGISTRY/many-layers:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"digest mismatch"* ]]
  run "$OCIC_BIN" image list
  [[ "$output" != *"many-layers"* ]]
  [ -z "$(ls "$TEST_ROOT/root/storage/content/ingest")" ]
}

@test "layers without end-of-archive records or final padding unpack (umoci 0.4.7)" {
  run "$OCIC_BIN" image pull "$REGISTRY/unpadded:latest"
  [ "$status" -eq 0 ]
  mount_image "$(image_id "$REGISTRY/unpadded:latest")"
  [ "$(stat -c %s "$TEST_ROOT/mnt/unpadded/eoa")" = 1000 ]
  [ "$(stat -c %s "$TEST_ROOT/mnt/unpadded/file")" = 1000 ]
  [ "$(tr -d x <"$TEST_ROOT/mnt/unpadded/file" | wc -c)" = 0 ]
  [ -x "$TEST_ROOT/mnt/bin/busybox" ]
}

@test "a layer whose data is cut short is DATA_LOSS and stores nothing" {
  local layers_before
  layers_before=$(ls "$(layers_dir)" | wc -l)
  run "$OCIC_BIN" image pull "$REGISTRY/truncated:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"DATA_LOSS"* ]]
  [[ "$output" == *"truncated"* ]]
  [ "$(ls "$(layers_dir)" | wc -l)" -eq "$layers_before" ]
  run "$OCIC_BIN" image list
  [[ "$output" != *"truncated"* ]]
  run "$OCIC_BIN" image status "$REGISTRY/truncated:latest"
  [ "$status" -ne 0 ]
  run ! grep -l '"truncated' "$TEST_ROOT/root/storage/images/"*.json
}

@test "a short name pulled through a search registry is found again by that name" {
  run "$OCIC_BIN" image pull busybox:zstd
  [ "$status" -eq 0 ]
  # Recorded under the registry it came from.
  run "$OCIC_BIN" image status "$REGISTRY/busybox:zstd"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Tags: $REGISTRY/busybox:zstd"* ]]
  local id
  id=$(image_id "$REGISTRY/busybox:zstd")
  [ "$(image_id busybox:zstd)" = "$id" ]
  run "$OCIC_BIN" image list busybox:zstd
  [ "$status" -eq 0 ]
  [[ "$output" == *"$REGISTRY/busybox"*"zstd"* ]]
  run "$OCIC_BIN" image status busybox:no-such-tag
  [ "$status" -ne 0 ]

  run "$OCIC_BIN" image remove busybox:zstd
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:zstd"
  [ "$status" -ne 0 ]
  [ ! -e "$TEST_ROOT/root/storage/images/${id#sha256:}.json" ]
}

@test "docker.io names are normalised: busybox, library/busybox, docker.io/busybox" {
  run "$OCIC_BIN" image pull docker.io/busybox:oci
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status docker.io/library/busybox:oci
  [ "$status" -eq 0 ]
  [[ "$output" == *"docker.io/library/busybox:oci"* ]]
  [[ "$output" == *"Digests: "*"docker.io/library/busybox@sha256:"* ]]
  local id
  id=$(image_id docker.io/library/busybox:oci)
  for name in busybox:oci library/busybox:oci docker.io/busybox:oci index.docker.io/busybox:oci; do
    [ "$(image_id "$name")" = "$id" ]
  done
  # The Docker Hub form comes first, before the search registries: the one
  # image has both names, and untagging one keeps the other.
  [ "$(image_id "$REGISTRY/busybox:oci")" = "$id" ]
  run "$OCIC_BIN" image remove busybox:oci
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status docker.io/library/busybox:oci
  [ "$status" -ne 0 ]
  [ "$(image_id "$REGISTRY/busybox:oci")" = "$id" ]
}

# The digest the registry gives for NAME's manifest REF, fetched as MEDIA_TYPE.
registry_digest() {
  curl -sf -o /dev/null -D - -H "Accept: $3" "http://$REGISTRY/v2/$1/manifests/$2" |
    tr -d '\r' | grep -i '^docker-content-digest:' | cut -d' ' -f2
}

# The image IDs ListImages returns for the filter $1, one per line.
listed_ids() {
  "$OCIC_BIN" --output json image list "$1" | grep -o '"id": "sha256:[0-9a-f]*"' | cut -d'"' -f4
}

@test "a manifest list pull records both digests; either digest, the ID and an ID prefix find it" {
  local list platform id
  list=$(registry_digest busybox multiarch application/vnd.oci.image.index.v1+json)
  platform=$(registry_digest busybox oci application/vnd.oci.image.manifest.v1+json)
  [[ "$list" == sha256:* && "$platform" == sha256:* && "$list" != "$platform" ]]

  run "$OCIC_BIN" image pull "$REGISTRY/busybox:multiarch"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:multiarch"
  [[ "$output" == *"Digests: "*"$REGISTRY/busybox@$list"* ]]
  [[ "$output" == *"Digests: "*"$REGISTRY/busybox@$platform"* ]]
  id=$(image_id "$REGISTRY/busybox:multiarch")
  for name in "$REGISTRY/busybox@$list" "$REGISTRY/busybox@$platform" "busybox@$list" \
    "busybox@$platform" "$id" "${id#sha256:}" "${id:0:19}" "${id:7:12}"; do
    [ "$(image_id "$name")" = "$id" ]
    [ "$(listed_ids "$name")" = "$id" ]
  done
  run "$OCIC_BIN" image status "$REGISTRY/busybox@sha256:$(printf '0%.0s' {1..64})"
  [ "$status" -ne 0 ]

  # Pulled by the list's digest alone: no tag, both digests.
  "$OCIC_BIN" image remove "$id"
  run "$OCIC_BIN" image status "$id"
  [ "$status" -ne 0 ]
  run "$OCIC_BIN" image pull "$REGISTRY/busybox@$list"
  [ "$status" -eq 0 ]
  [ "$(image_id "$REGISTRY/busybox@$platform")" = "$id" ]
  run "$OCIC_BIN" image status "$id"
  [ -z "$(field Tags <<<"$output")" ]
  [[ "$output" == *"$REGISTRY/busybox@$list"* ]]
  [[ "$output" == *"$REGISTRY/busybox@$platform"* ]]
  # Removing it drops its platform manifest blob too: nothing is left of it.
  "$OCIC_BIN" image remove "busybox@$list"
  [ ! -e "$TEST_ROOT/root/storage/content/blobs/sha256/${platform#sha256:}" ]
  [ -z "$(find "$TEST_ROOT/root/storage/content" -name "${platform#sha256:}*")" ]
  # What the other tests pulled under these names, back again.
  for tag in latest oci multiarch; do "$OCIC_BIN" image pull "$REGISTRY/busybox:$tag" >/dev/null; done
}

@test "images survive an ocid restart" {
  ocid_stop
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  run "$OCIC_BIN" image status "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Tags: $REGISTRY/busybox:latest"* ]]
}

@test "metrics: pulls count the bytes fetched, the layers reused and their time" {
  ocid_stop
  port=$(free_port)
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" --metrics-port "$port"
  metric() { curl -sS --max-time 10 "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 //p"; }
  [ "$(metric ocid_image_pulls_bytes_total)" = 0 ]
  [ "$(metric ocid_image_pulls_duration_seconds_count)" = 0 ]

  # Its own layers are fetched again once it is removed.
  "$OCIC_BIN" image remove "$REGISTRY/whiteouts:latest"
  "$OCIC_BIN" image pull "$REGISTRY/whiteouts:latest" >/dev/null
  fetched=$(metric ocid_image_pulls_bytes_total)
  [ "${fetched%.*}" -gt 0 ]
  [ "$(metric ocid_image_pulls_duration_seconds_count)" = 1 ]
  reused=$(metric ocid_image_layer_reuse_total)

  # Everything of busybox is stored: nothing fetched, every layer reused.
  "$OCIC_BIN" image pull "$REGISTRY/busybox:latest" >/dev/null
  [ "$(metric ocid_image_pulls_bytes_total)" = "$fetched" ]
  [ "$(metric ocid_image_layer_reuse_total)" -gt "$reused" ]
  [ "$(metric ocid_image_pulls_duration_seconds_count)" = 2 ]
  # A failed pull is an operation error, not a pull.
  run "$OCIC_BIN" image pull "$REGISTRY/no-such-image:latest"
  [ "$status" -ne 0 ]
  [ "$(metric ocid_image_pulls_duration_seconds_count)" = 2 ]
}
