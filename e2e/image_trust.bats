#!/usr/bin/env bats
# The image trust policy (containers-policy.json) enforced on pulls from the
# local registry: a rejected scope, and GPG simple signatures that skopeo
# writes into a file:// lookaside (registries.d), with keys made in a GnuPG
# home of the test's own.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup

  export GNUPGHOME=$TEST_ROOT/gnupg
  mkdir -m 0700 "$GNUPGHOME"
  local email
  for email in signer@example.com other@example.com; do
    gpg --batch --quiet --passphrase '' --quick-gen-key "Test <$email>" ed25519 sign never
  done
  gpg --batch --armor --export signer@example.com >"$TEST_ROOT/signer.asc"

  mkdir -p "$TEST_ROOT/registries.d" "$TEST_ROOT/sigs" "$TEST_ROOT/websigs"
  # trusted/web/* signatures are served over HTTP (busybox httpd on
  # loopback); skopeo writes them into the served dir (lookaside-staging).
  HTTPD_PORT=$(free_port)
  busybox httpd -f -p "127.0.0.1:$HTTPD_PORT" -h "$TEST_ROOT/websigs" 3>&- &
  HTTPD_PID=$!
  export HTTPD_PORT HTTPD_PID
  cat >"$TEST_ROOT/registries.d/default.yaml" <<EOF
default-docker:
  lookaside: file://$TEST_ROOT/sigs
docker:
  $REGISTRY/trusted/web:
    lookaside: http://127.0.0.1:$HTTPD_PORT
    lookaside-staging: file://$TEST_ROOT/websigs
EOF

  # trusted/* must be signed by signer@example.com; whiteouts is rejected.
  local trusted=$REGISTRY/trusted
  copy busybox:latest trusted/signed:latest --sign-by signer@example.com
  copy busybox:latest trusted/wrongkey:latest --sign-by other@example.com
  copy busybox:latest trusted/unsigned:latest
  copy busybox:latest trusted/web/signed:latest --sign-by signer@example.com
  copy busybox:latest trusted/web/wrongkey:latest --sign-by other@example.com
  # The same manifest under another name, with signed's signature: the
  # signed identity does not match.
  copy busybox:latest trusted/moved:latest
  cp -r "$(sig_dir signed)" "$(sig_dir moved)"
  # A signature with one byte changed.
  copy busybox:latest trusted/tampered:latest
  mkdir -p "$(sig_dir tampered)"
  local signature=$(sig_dir tampered)/signature-1 size byte
  cp "$(sig_dir signed)/signature-1" "$signature"
  size=$(stat -c %s "$signature")
  byte=$(od -An -tu1 -j $((size / 2)) -N 1 "$signature" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o' $((byte ^ 32)))" |
    dd of="$signature" bs=1 seek=$((size / 2)) conv=notrunc status=none
  cmp -s "$(sig_dir signed)/signature-1" "$signature" && return 1

  cat >"$TEST_ROOT/policy.json" <<EOF
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {
    "docker": {
      "$REGISTRY/whiteouts": [{"type": "reject"}],
      "$trusted": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$TEST_ROOT/signer.asc"}]
    },
    "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
  }
}
EOF
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" \
    --signature-policy "$TEST_ROOT/policy.json" --registries-d "$TEST_ROOT/registries.d"
  export OCID_PID
}

teardown_file() {
  ocid_stop
  if [[ -n "${HTTPD_PID:-}" ]]; then kill "$HTTPD_PID" 2>/dev/null || true; fi
  gpgconf --homedir "$TEST_ROOT/gnupg" --kill all 2>/dev/null || true
  registry_teardown
  ocid_teardown
}

# copy SRC DEST [skopeo copy flags]: within the test registry, signatures
# going to the lookaside.
copy() {
  local src=$1 dst=$2
  shift 2
  skopeo --insecure-policy --registries.d "$TEST_ROOT/registries.d" copy -q \
    --src-tls-verify=false --dest-tls-verify=false "$@" \
    "docker://$REGISTRY/$src" "docker://$REGISTRY/$dst"
}

# The lookaside dir of trusted/NAME's manifest (all are busybox:latest's).
sig_dir() {
  local digest
  digest=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/trusted/$1:latest" |
    sha256sum | cut -d' ' -f1)
  echo "$TEST_ROOT/sigs/trusted/$1@sha256=$digest"
}

stored_files() {
  find "$TEST_ROOT/root/storage/images" "$TEST_ROOT/root/storage/layers" \
    "$TEST_ROOT/root/storage/content/blobs" -type f 2>/dev/null | wc -l
}

@test "a rejected scope fails the pull with SignatureValidationFailed and stores nothing" {
  [ "$(stored_files)" -eq 0 ]
  run "$OCIC_BIN" image pull "$REGISTRY/whiteouts:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"FAILED_PRECONDITION"* ]]
  [[ "$output" == *"SignatureValidationFailed: image $REGISTRY/whiteouts:latest"* ]]
  [[ "$output" == *"transports.docker[\"$REGISTRY/whiteouts\"]"* ]]
  [[ "$output" == *"rejects it"* ]]
  [ "$(stored_files)" -eq 0 ]
  run ! "$OCIC_BIN" image status "$REGISTRY/whiteouts:latest"

  # Another scope (the default, insecureAcceptAnything) still pulls.
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:latest"
  [ "$status" -eq 0 ]
  "$OCIC_BIN" image status "$REGISTRY/busybox:latest"
}

@test "an image signed by the policy's key pulls" {
  [ -f "$(sig_dir signed)/signature-1" ]
  run "$OCIC_BIN" image pull "$REGISTRY/trusted/signed:latest"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/trusted/signed:latest"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Tags: "*"$REGISTRY/trusted/signed:latest"* ]]
}

@test "signatures from an http:// lookaside are checked too" {
  run "$OCIC_BIN" image pull "$REGISTRY/trusted/web/signed:latest"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image pull "$REGISTRY/trusted/web/wrongkey:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"SignatureValidationFailed: image $REGISTRY/trusted/web/wrongkey:latest"* ]]
  [[ "$output" == *"not one of the policy's keys"* ]]
  # Nothing there (HTTP 404): no signature.
  copy busybox:latest trusted/web/unsigned:latest
  run "$OCIC_BIN" image pull "$REGISTRY/trusted/web/unsigned:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"http://127.0.0.1:$HTTPD_PORT has none"* ]]
}

@test "unsigned, wrongly keyed, renamed and tampered images are refused and not recorded" {
  local name
  declare -A why=(
    [unsigned]="a signature is required (signedBy) but file://$TEST_ROOT/sigs has none"
    [wrongkey]="not one of the policy's keys"
    [moved]="signature is for \"$REGISTRY/trusted/signed:latest\""
    [tampered]="signature-1: "
  )
  for name in unsigned wrongkey moved tampered; do
    expect_pull_refused "$REGISTRY/trusted/$name:latest" "$REGISTRY/trusted" "${why[$name]}"
  done
  run "$OCIC_BIN" image list
  [[ "$output" != *"unsigned"* && "$output" != *"wrongkey"* && "$output" != *"moved"* ]]
}

@test "a malformed policy stops ocid at start, naming the file and the entry" {
  printf '{"default": [{"type": "trustEverything"}]}\n' >"$TEST_ROOT/bad-policy.json"
  # shellcheck disable=SC2046
  run "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
    --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
    --registries-conf "$TEST_ROOT/registries.conf" \
    --signature-policy "$TEST_ROOT/bad-policy.json" --registries-d "$TEST_ROOT/registries.d"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_ROOT/bad-policy.json: default[0]: unknown requirement type \"trustEverything\""* ]]

  run "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
    --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
    --signature-policy "$TEST_ROOT/no-such-policy.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"no-such-policy.json"* ]]
}

@test "SIGHUP reloads the policy and registries.conf; a broken file keeps the old ones" {
  run ! "$OCIC_BIN" image pull "$REGISTRY/whiteouts:latest"
  cp "$TEST_ROOT/policy.json" "$TEST_ROOT/policy.json.orig"
  grep -v '/whiteouts"' "$TEST_ROOT/policy.json.orig" >"$TEST_ROOT/policy.json"
  hup_and_wait "got SIGHUP: reloaded"
  run "$OCIC_BIN" image pull "$REGISTRY/whiteouts:latest"
  [ "$status" -eq 0 ]

  # A broken policy: logged, and the one before stays in force.
  printf '{"default": [{"type": "reject"}], "transports": {"docker": {"x.io": []}}}\n' \
    >"$TEST_ROOT/policy.json"
  hup_and_wait "reload failed, keeping the old configuration"
  grep -q "reload failed.*$TEST_ROOT/policy.json" "$TEST_ROOT/ocid.log"
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:oci"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image pull "$REGISTRY/trusted/unsigned:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"SignatureValidationFailed"* ]]

  # registries.conf blocking the registry applies to the next pull.
  cp "$TEST_ROOT/policy.json.orig" "$TEST_ROOT/policy.json"
  cp "$TEST_ROOT/registries.conf" "$TEST_ROOT/registries.conf.orig"
  printf 'blocked = true\n' >>"$TEST_ROOT/registries.conf"
  hup_and_wait "got SIGHUP: reloaded"
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:zstd"
  [ "$status" -ne 0 ]
  [[ "$output" == *"blocked in registries.conf"* ]]
  cp "$TEST_ROOT/registries.conf.orig" "$TEST_ROOT/registries.conf"
  hup_and_wait "got SIGHUP: reloaded"
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:zstd"
  [ "$status" -eq 0 ]
  kill -0 "$OCID_PID"
}

@test "SIGHUP applies ocid.conf's pinned_images and log_level; a pinned image is reported and not removed" {
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:oci"
  [ "$status" -eq 0 ]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:oci"
  [[ "$output" == *"Pinned: false"* ]]
  mkdir -p "$TEST_ROOT/ocid.conf.d"
  printf '[ocid.image]\npinned_images = ["%s/busybox:oc*"]\n' "$REGISTRY" \
    >"$TEST_ROOT/ocid.conf.d/50-pins.conf"
  hup_and_wait "got SIGHUP: reloaded"
  run "$OCIC_BIN" image status "$REGISTRY/busybox:oci"
  [[ "$output" == *"Pinned: true"* ]]
  run "$OCIC_BIN" image remove "$REGISTRY/busybox:oci"
  [ "$status" -ne 0 ]
  [[ "$output" == *"is pinned (ocid.image.pinned_images)"* ]]
  run "$OCIC_BIN" image status "$REGISTRY/busybox:oci"
  [ "$status" -eq 0 ]

  # A bad pattern keeps the old configuration; a key that needs a restart
  # is named.
  printf '[ocid.image]\npinned_images = ["a*b"]\n' >"$TEST_ROOT/ocid.conf.d/50-pins.conf"
  hup_and_wait "reload failed, keeping the old configuration"
  grep -q 'reload failed.*ocid.image.pinned_images' "$TEST_ROOT/ocid.log"
  run "$OCIC_BIN" image remove "$REGISTRY/busybox:oci"
  [ "$status" -ne 0 ]
  printf '[ocid]\nlog_level = "debug"\n[ocid.network]\ndefault_network = "elsewhere"\n' \
    >"$TEST_ROOT/ocid.conf.d/50-pins.conf"
  hup_and_wait "got SIGHUP: reloaded"
  grep -q "reload: ocid.network.default_network changed; it takes effect when ocid restarts" \
    "$TEST_ROOT/ocid.log"
  run "$OCIC_BIN" image remove "$REGISTRY/busybox:oci"
  [ "$status" -eq 0 ]
  rm "$TEST_ROOT/ocid.conf.d/50-pins.conf"
  hup_and_wait "got SIGHUP: reloaded"
  kill -0 "$OCID_PID"
}
