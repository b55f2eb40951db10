#!/usr/bin/env bash
# Runs //bench:trust_bench against a local registry holding the busybox
# stand-in image: signs it with a GPG key of a temporary GnuPG home
# (skopeo standalone-sign, into a file:// lookaside) and with a P-256 key
# (//pkg/trust:sigstore_test_signer, attached as sha256-<hex>.sig), writes
# the three policies, benchmarks, stops the registry. Boots ocid: run it
# under `flock -o /tmp/ocid-e2e.lock`.
# Usage: bench/trust_bench.sh [--runs 20]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bazel build -c opt //bench:trust_bench //cmd/ocid //pkg/trust:sigstore_test_signer
bin=$(bazel info -c opt bazel-bin)
setup=$(mktemp -d /tmp/ocid-bench-trust-setup.XXXXXX)
out=$(e2e/registry/start_registry.sh)
eval "$out"
cleanup() {
  e2e/registry/stop_registry.sh "$REGISTRY_PID" "$REGISTRY_DIR"
  gpgconf --homedir "$setup/gnupg" --kill all 2>/dev/null || true
  rm -rf -- "$setup"
}
trap cleanup EXIT
e2e/registry/build_images.sh "$REGISTRY" >/dev/null

image=$REGISTRY/busybox:latest
skopeo inspect --raw --tls-verify=false "docker://$image" >"$setup/manifest.json"
digest=sha256:$(sha256sum "$setup/manifest.json" | cut -d' ' -f1)

# signedBy: a GPG simple signature in a file:// lookaside.
export GNUPGHOME=$setup/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "Bench <bench@example.com>" ed25519 sign never
gpg --batch --armor --export bench@example.com >"$setup/gpg.asc"
fingerprint=$(gpg --batch --with-colons --list-keys bench@example.com | awk -F: '$1 == "fpr" {print $10; exit}')
sigs=$setup/sigs/busybox@sha256=${digest#sha256:}
mkdir -p "$sigs"
skopeo standalone-sign "$setup/manifest.json" "$image" "$fingerprint" --output "$sigs/signature-1"

# sigstoreSigned: a cosign-format signature attached in the registry.
signer=$bin/pkg/trust/sigstore_test_signer
"$signer" keygen "$setup/sigstore.key" "$setup/sigstore.pub"
"$signer" payload "$digest" "$image" >"$setup/payload.json"
e2e/registry/attach_sigstore.sh "$REGISTRY" busybox "$digest" "$setup/payload.json" \
  "$("$signer" sign "$setup/sigstore.key" "$setup/payload.json")"

printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$setup/registries.conf"
mkdir -p "$setup/registries.d"
cat >"$setup/registries.d/bench.yaml" <<YAML
docker:
  $REGISTRY:
    lookaside: file://$setup/sigs
    use-sigstore-attachments: true
YAML
printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' >"$setup/accept.json"
printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "%s"}]}}}\n' \
  "$REGISTRY" "$setup/gpg.asc" >"$setup/signedBy.json"
printf '{"default": [{"type": "reject"}], "transports": {"docker": {"%s": [{"type": "sigstoreSigned", "keyPath": "%s"}]}}}\n' \
  "$REGISTRY" "$setup/sigstore.pub" >"$setup/sigstore.json"

(cd "$bin/bench/trust_bench.runfiles/ocid" &&
  "$bin/bench/trust_bench" --registry "$REGISTRY" --setup-dir "$setup" "$@")
