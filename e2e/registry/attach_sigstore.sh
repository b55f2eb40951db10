#!/usr/bin/env bash
# Pushes a sigstore signature as an image's attachment, as cosign stores it:
# the manifest tagged sha256-<hex>.sig in REPO whose one layer is PAYLOAD
# (application/vnd.dev.cosign.simplesigning.v1+json) annotated with the
# base64 SIGNATURE (dev.cosignproject.cosign/signature).
# Usage: attach_sigstore.sh REGISTRY REPO MANIFEST_DIGEST PAYLOAD_FILE SIGNATURE
# (REGISTRY is a plain-HTTP 127.0.0.1:PORT, as start_registry.sh makes.)
set -euo pipefail
registry=$1 repo=$2 target=$3 payload=$4 signature=$5
[[ $registry == 127.0.0.1:* ]] || { echo "attach_sigstore: not a loopback registry" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/ocid-attach.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT

# A monolithic blob upload (distribution API v2); prints the digest.
push_blob() {
  local file=$1 digest location sep='?'
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  location=$(curl -fsS -X POST -D - -o /dev/null "http://$registry/v2/$repo/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
  [[ -n $location ]] || { echo "attach_sigstore: no upload location" >&2; return 1; }
  [[ $location == /* ]] && location=http://$registry$location
  [[ $location == *\?* ]] && sep='&'
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
    "$location${sep}digest=$digest" >/dev/null
  echo "$digest"
}

printf '{}' >"$dir/config"
config_digest=$(push_blob "$dir/config")
payload_digest=$(push_blob "$payload")
size=$(stat -c %s "$payload")
cat >"$dir/manifest" <<JSON
{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
   "digest": "$config_digest"},
 "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
   "size": $size, "digest": "$payload_digest",
   "annotations": {"dev.cosignproject.cosign/signature": "$signature"}}]}
JSON
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$dir/manifest" \
  "http://$registry/v2/$repo/manifests/sha256-${target#sha256:}.sig" >/dev/null
