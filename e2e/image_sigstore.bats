#!/usr/bin/env bats
# Sigstore (cosign) signatures enforced on pulls from the local registry:
# policy.json's sigstoreSigned with a P-256 public key, registries.d's
# use-sigstore-attachments, and signatures attached beside the image as the
# sha256-<hex>.sig tag (e2e/registry/attach_sigstore.sh; keys and
# signatures made by our test signer, //pkg/trust:sigstore_test_signer).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  registry_setup
  SIGNER_BIN=${SIGNER_BIN:-$E2E_DIR/../pkg/trust/sigstore_test_signer}
  export SIGNER_BIN
  "$SIGNER_BIN" keygen "$TEST_ROOT/signer.key" "$TEST_ROOT/signer.pub"
  "$SIGNER_BIN" keygen "$TEST_ROOT/other.key" "$TEST_ROOT/other.pub"

  local name
  for name in signed opensslsigned wrongkey moved tampered wrongdigest unsigned malformed huge; do
    skopeo --insecure-policy copy -q --src-tls-verify=false --dest-tls-verify=false \
      "docker://$REGISTRY/busybox:latest" "docker://$REGISTRY/sigstore/$name:latest"
  done
  local digest other=sha256:0000000000000000000000000000000000000000000000000000000000000000
  digest=$(manifest_digest sigstore/signed)
  export DIGEST=$digest
  attach sigstore/signed "$digest" "$REGISTRY/sigstore/signed:latest" signer
  # Signed by the openssl command instead of our signer: the format is
  # the plain one (DER ECDSA over SHA-256, base64), not our signer's.
  attach sigstore/opensslsigned "$digest" "$REGISTRY/sigstore/opensslsigned:latest" signer openssl
  attach sigstore/wrongkey "$digest" "$REGISTRY/sigstore/wrongkey:latest" other
  # signed's signature, under another name: the identity does not match.
  attach sigstore/moved "$digest" "$REGISTRY/sigstore/signed:latest" signer
  # A payload changed after signing (the identity's tag).
  attach sigstore/tampered "$digest" "$REGISTRY/sigstore/tampered:latest" signer tamper
  # Signed, but for another manifest.
  attach sigstore/wrongdigest "$other" "$REGISTRY/sigstore/wrongdigest:latest" signer
  # A signature annotation that is not base64.
  attach sigstore/malformed "$digest" "$REGISTRY/sigstore/malformed:latest" signer garble
  # A payload over 4 MiB (padded with JSON whitespace).
  attach sigstore/huge "$digest" "$REGISTRY/sigstore/huge:latest" signer huge

  mkdir -p "$TEST_ROOT/registries.d"
  cat >"$TEST_ROOT/registries.d/default.yaml" <<YAML
docker:
  $REGISTRY/sigstore:
    use-sigstore-attachments: true
YAML
  cat >"$TEST_ROOT/policy.json" <<JSON
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {
    "docker": {
      "$REGISTRY/sigstore": [{"type": "sigstoreSigned", "keyPath": "$TEST_ROOT/signer.pub"}],
      "$REGISTRY/busybox": [{"type": "sigstoreSigned", "keyPath": "$TEST_ROOT/signer.pub"}]
    }
  }
}
JSON
  # Pods for the CreateContainer re-check get loopback only.
  printf '{"cniVersion": "1.0.0", "name": "lo-only", "plugins": [{"type": "loopback"}]}' \
    >"$TEST_ROOT/net.d/10-lo.conflist"
  seed_configs /ocid-e2e-sigstore "$REGISTRY/sigstore/signed:latest"
  ocid_start --registries-conf "$TEST_ROOT/registries.conf" \
    --signature-policy "$TEST_ROOT/policy.json" --registries-d "$TEST_ROOT/registries.d"
  export OCID_PID
}

teardown_file() {
  remove_all_pods  # whatever a failed test left
  ocid_stop
  rmdir /sys/fs/cgroup/*/ocid-e2e-sigstore 2>/dev/null || true
  registry_teardown
  ocid_teardown
}

# manifest_digest REPO: the digest of REPO:latest's manifest.
manifest_digest() {
  echo "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$1:latest" |
    sha256sum | cut -d' ' -f1)"
}

# attach REPO DIGEST IDENTITY KEY [tamper|garble|huge|openssl]: signs the cosign payload
# for DIGEST and IDENTITY with KEY and attaches it to REPO's manifest
# $DIGEST (e2e/registry/attach_sigstore.sh).
attach() {
  local repo=$1 digest=$2 identity=$3 key=$4 how=${5:-} payload signature
  payload=$(mktemp "$TEST_ROOT/payload.XXXXXX")
  "$SIGNER_BIN" payload "$digest" "$identity" >"$payload"
  signature=$("$SIGNER_BIN" sign "$TEST_ROOT/$key.key" "$payload")
  case $how in
    tamper) sed -i 's/:latest"/:other"/' "$payload" ;;
    garble) signature="not*base64" ;;
    huge) head -c $((5 << 20)) /dev/zero | tr '\0' ' ' >>"$payload" ;;
    openssl) signature=$(openssl dgst -sha256 -sign "$TEST_ROOT/$key.key" "$payload" | base64 -w0) ;;
  esac
  "$E2E_DIR/registry/attach_sigstore.sh" "$REGISTRY" "$repo" "$DIGEST" "$payload" "$signature"
}

stored_files() {
  find "$TEST_ROOT/root/storage/images" "$TEST_ROOT/root/storage/layers" \
    "$TEST_ROOT/root/storage/content/blobs" -type f 2>/dev/null | wc -l
}

@test "unsigned, wrongly keyed, renamed, tampered, misdigested, malformed and oversized signatures are refused, nothing stored" {
  [ "$(stored_files)" -eq 0 ]
  local name
  declare -A why=(
    [unsigned]="the registry has none for $DIGEST (no tag sha256-${DIGEST#sha256:}.sig)"
    [wrongkey]="sigstore signature 1: the signature does not verify with the key"
    [moved]="the signature is for \"$REGISTRY/sigstore/signed:latest\""
    [tampered]="sigstore signature 1: the signature does not verify with the key"
    [wrongdigest]="the signature is for manifest sha256:0000"
    [malformed]="the signature annotation is not base64"
    [huge]="layers[0] is a payload of 5243"
  )
  for name in unsigned wrongkey moved tampered wrongdigest malformed huge; do
    expect_pull_refused "$REGISTRY/sigstore/$name:latest" "$REGISTRY/sigstore" "${why[$name]}"
  done
  [ "$(stored_files)" -eq 0 ]
}

@test "sigstoreSigned without use-sigstore-attachments for the scope is refused" {
  run "$OCIC_BIN" image pull "$REGISTRY/busybox:latest"
  [ "$status" -ne 0 ]
  [[ "$output" == *"SignatureValidationFailed: image $REGISTRY/busybox:latest"* ]]
  [[ "$output" == *"registries.d does not set use-sigstore-attachments: true"* ]]
  [ "$(stored_files)" -eq 0 ]
}

@test "an image with a sigstore signature by the policy's key pulls" {
  local name
  for name in signed opensslsigned; do
    run "$OCIC_BIN" image pull "$REGISTRY/sigstore/$name:latest"
    echo "$name: $output"
    [ "$status" -eq 0 ]
    run "$OCIC_BIN" image status "$REGISTRY/sigstore/$name:latest"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Tags: "*"$REGISTRY/sigstore/$name:latest"* ]]
  done
  [ "$(stored_files)" -gt 0 ]
}

@test "a policy with fulcio or a key that is not P-256 stops ocid at start" {
  printf '{"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem"}}]}\n' \
    >"$TEST_ROOT/fulcio-policy.json"
  openssl ecparam -name secp384r1 -genkey -noout 2>/dev/null | openssl ec -pubout 2>/dev/null \
    >"$TEST_ROOT/p384.pub"
  printf '{"default": [{"type": "sigstoreSigned", "keyPath": "%s"}]}\n' "$TEST_ROOT/p384.pub" \
    >"$TEST_ROOT/p384-policy.json"
  local policy
  for policy in fulcio p384; do
    # shellcheck disable=SC2046
    # shellcheck disable=SC2046
  run timeout 20 "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
      --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
      --signature-policy "$TEST_ROOT/$policy-policy.json" --registries-d "$TEST_ROOT/registries.d"
    echo "$policy: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$TEST_ROOT/$policy-policy.json: default[0]: "* ]]
  done
  # shellcheck disable=SC2046
  run timeout 20 "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
    --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
    --signature-policy "$TEST_ROOT/fulcio-policy.json"
  [[ "$output" == *"\"fulcio\" is not supported"* ]]
  # shellcheck disable=SC2046
  run timeout 20 "$OCID_BIN" $(ocid_private_flags) --listen "$TEST_ROOT/bad.sock" \
    --root "$TEST_ROOT/bad-root" --runroot "$TEST_ROOT/bad-run" \
    --signature-policy "$TEST_ROOT/p384-policy.json"
  [[ "$output" == *"not P-256"* ]]
}

@test "CreateContainer checks the sigstore signature again: a key changed since the pull refuses it" {
  run "$OCIC_BIN" image pull "$REGISTRY/sigstore/signed:latest"
  [ "$status" -eq 0 ]
  pod=$("$OCIC_BIN" pod run --config "$(pod_config recheck)")
  # Accepted again from the registry's attachment, as at the pull.
  ctr=$("$OCIC_BIN" ctr create --pod "$pod" --config "$TEST_ROOT/container.json")
  "$OCIC_BIN" ctr remove --id "$ctr"

  cp "$TEST_ROOT/policy.json" "$TEST_ROOT/policy.json.orig"
  sed -i "s|$TEST_ROOT/signer.pub|$TEST_ROOT/other.pub|" "$TEST_ROOT/policy.json"
  hup_and_wait "got SIGHUP: reloaded"
  run "$OCIC_BIN" ctr create --pod "$pod" --config "$TEST_ROOT/container.json"
  mv "$TEST_ROOT/policy.json.orig" "$TEST_ROOT/policy.json"
  hup_and_wait "got SIGHUP: reloaded"
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"FAILED_PRECONDITION"*"SignatureValidationFailed: image $REGISTRY/sigstore/signed:latest"* ]]
  [[ "$output" == *"the signature does not verify with the key"* ]]
  run "$OCIC_BIN" --output json ctr list --pod "$pod"
  [ "$status" -eq 0 ]
  [[ "$output" != *'"id"'* ]]
  "$OCIC_BIN" pod remove --id "$pod"
}
