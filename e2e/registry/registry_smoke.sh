#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2012  # eval'd check bodies are single-quoted on purpose
# Smoke test of the e2e registry tooling: starts a private registry on
# 127.0.0.1, builds and pushes the test images (build_images.sh), checks
# every manifest over HTTP (status, Content-Type, digest, layer count),
# blobs (digests, compression magic, diff_ids), skopeo inspect, and
# unpacks images with umoci to check their contents (whiteouts applied,
# busybox rootfs sane). Stops the registry and removes all temp dirs.
#
# Usage: registry_smoke.sh [--with-big]
# Exits non-zero if any check fails.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci_layout.bash
source "$here/oci_layout.bash"

with_big=0
for a in "$@"; do
  case $a in
    --with-big) with_big=1 ;;
    *) echo "usage: $0 [--with-big]" >&2; exit 2 ;;
  esac
done

REGISTRY='' REGISTRY_PID='' REGISTRY_DIR=''
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocid-registry-smoke.XXXXXX")
cleanup() {
  local rc=$?
  if [[ -n $REGISTRY_PID || -n $REGISTRY_DIR ]]; then
    "$here/stop_registry.sh" "$REGISTRY_PID" "$REGISTRY_DIR" || rc=1
  fi
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
export TMPDIR=$tmp

case $(uname -m) in
  x86_64) ARCH=amd64 OTHER_ARCH=arm64 ;;
  aarch64) ARCH=arm64 OTHER_ARCH=amd64 ;;
  *) echo "unsupported host arch $(uname -m)" >&2; exit 1 ;;
esac
have_zstd=1
command -v zstd >/dev/null || { have_zstd=0; echo "# zstd not installed: busybox:zstd is not built or checked"; }

t0=$SECONDS
out=$("$here/start_registry.sh")
eval "$out"
[[ -n $REGISTRY && -n $REGISTRY_PID && -n $REGISTRY_DIR ]] || { echo "start_registry.sh printed no registry" >&2; exit 1; }
echo "# registry $REGISTRY (pid $REGISTRY_PID)"

build_args=("$REGISTRY")
[[ $with_big == 0 ]] || build_args+=(--with-big)
tb=$SECONDS
"$here/build_images.sh" "${build_args[@]}"
echo "# build_images.sh took $((SECONDS - tb)) s"

# --- check helpers ---------------------------------------------------------------

failures=0 checks=0
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; }
# check DESC CMD...: runs CMD; records ok/not ok (CMD prints why on
# failure). Always returns 0 (so set -e does not stop the run); CHECK_OK
# tells whether it passed.
check() {
  local desc=$1
  shift
  checks=$((checks + 1))
  if "$@"; then CHECK_OK=1; pass "$desc"; else CHECK_OK=0; fail "$desc"; fi
}

MT_V2S2=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LAYER_GZIP=application/vnd.docker.image.rootfs.diff.tar.gzip

# manifest_ok NAME TAG ACCEPT EXPECTED_CONTENT_TYPE EXPECTED_COUNT
# GET with only ACCEPT; saves the body as $tmp/m-NAME-TAG.json.
manifest_ok() {
  local name=$1 tag=$2 accept=$3 want_ct=$4 want_n=$5 f body_digest n
  f=$tmp/m-${name//\//_}-$tag.json
  reg_get_manifest "$REGISTRY" "$name" "$tag" "$f" "$accept"
  if [[ $REG_STATUS != 200 ]]; then
    echo "#   GET $name:$tag: HTTP $REG_STATUS (want 200)"
    return 1
  fi
  if [[ $REG_CONTENT_TYPE != "$want_ct" ]]; then
    echo "#   GET $name:$tag: Content-Type $REG_CONTENT_TYPE (want $want_ct)"
    return 1
  fi
  body_digest=sha256:$(sha256sum <"$f" | cut -d' ' -f1)
  if [[ $REG_DIGEST != "$body_digest" ]]; then
    echo "#   Docker-Content-Digest $REG_DIGEST != sha256 of body $body_digest"
    return 1
  fi
  if ! grep -q "\"mediaType\":[[:space:]]*\"$want_ct\"" "$f"; then
    echo "#   body has no mediaType $want_ct"
    return 1
  fi
  n=$(json_layer_count "$f")
  if [[ $n != "$want_n" ]]; then
    echo "#   $n layers/manifests (want $want_n)"
    return 1
  fi
}

# inspect_ok REF WANT [skopeo global flags...]: skopeo inspect must print
# WANT for '{{.Os}}/{{.Architecture}} {{len .Layers}}'.
inspect_ok() {
  local ref=$1 want=$2 got
  shift 2
  if ! got=$(skopeo "$@" inspect --tls-verify=false \
      --format '{{.Os}}/{{.Architecture}} {{len .Layers}}' "docker://$REGISTRY/$ref" 2>&1); then
    echo "#   skopeo inspect $ref failed: $got"
    return 1
  fi
  if [[ $got != "$want" ]]; then
    echo "#   skopeo inspect $ref: '$got' (want '$want')"
    return 1
  fi
}

# blob_ok NAME DIGEST [MAGIC_HEX]: the blob's sha256 matches its digest and
# its first bytes are MAGIC_HEX. Leaves it as $tmp/blob-HEX.
blob_ok() {
  local name=$1 digest=$2 magic=${3:-} f got
  f=$tmp/blob-${digest#sha256:}
  reg_get_blob "$REGISTRY" "$name" "$digest" "$f"
  if [[ $REG_STATUS != 200 ]]; then
    echo "#   GET blob $digest: HTTP $REG_STATUS"
    return 1
  fi
  got=sha256:$(sha256sum <"$f" | cut -d' ' -f1)
  if [[ $got != "$digest" ]]; then
    echo "#   blob $digest has sha256 $got"
    return 1
  fi
  if [[ -n $magic ]]; then
    got=$(head -c $((${#magic} / 2)) "$f" | od -An -tx1 | tr -d ' \n')
    if [[ $got != "$magic" ]]; then
      echo "#   blob $digest starts with $got (want $magic)"
      return 1
    fi
  fi
}

# layers_have_mediatype FILE MT: every layer of the manifest has type MT.
layers_have_mediatype() {
  local f=$1 mt=$2 total n
  total=$(json_layer_count "$f")
  n=$(grep -o "\"mediaType\":[[:space:]]*\"$mt\"" "$f" | wc -l)
  if [[ $n != "$total" ]]; then
    echo "#   $n of $total layers are $mt"
    return 1
  fi
}

# diffids_ok NAME MANIFEST_FILE DECOMPRESS_CMD: every layer decompresses
# to the diff_id listed in the config.
diffids_ok() {
  local name=$1 f=$2 decomp=$3 cfg i got
  local -a digests diffids
  mapfile -t digests < <(json_digests "$f")
  blob_ok "$name" "${digests[0]}" || return 1
  cfg=$tmp/blob-${digests[0]#sha256:}
  mapfile -t diffids < <(grep -o '"diff_ids":\[[^]]*\]' "$cfg" | grep -o 'sha256:[0-9a-f]*')
  if [[ ${#diffids[@]} != $((${#digests[@]} - 1)) ]]; then
    echo "#   config has ${#diffids[@]} diff_ids for $((${#digests[@]} - 1)) layers"
    return 1
  fi
  for ((i = 1; i < ${#digests[@]}; i++)); do
    blob_ok "$name" "${digests[i]}" || return 1
    got=sha256:$($decomp <"$tmp/blob-${digests[i]#sha256:}" | sha256sum | cut -d' ' -f1)
    if [[ $got != "${diffids[i - 1]}" ]]; then
      echo "#   layer ${digests[i]} decompresses to $got, config says ${diffids[i - 1]}"
      return 1
    fi
  done
}

# layer_lists NAME DIGEST ENTRY...: the (gzip) layer's tar has these entries.
layer_lists() {
  local name=$1 digest=$2 e list
  shift 2
  blob_ok "$name" "$digest" 1f8b || return 1
  list=$(tar -tzf "$tmp/blob-${digest#sha256:}") || return 1
  for e in "$@"; do
    if ! grep -qxF -- "$e" <<<"$list"; then
      echo "#   layer $digest has no entry $e; it has: $(tr '\n' ' ' <<<"$list")"
      return 1
    fi
  done
}

# unpack REF TAG: copies REGISTRY/REF to a local OCI layout and unpacks it
# with umoci (an independent implementation of layer/whiteout semantics)
# into $tmp/bundle-TAG/rootfs.
unpack() {
  local ref=$1 tag=$2 log=$tmp/unpack-$2.log
  local -a rootless=()
  [[ $EUID == 0 ]] || rootless=(--rootless)
  if ! skopeo --insecure-policy copy -q --src-tls-verify=false \
      "docker://$REGISTRY/$ref" "oci:$tmp/pulled:$tag" >"$log" 2>&1 ||
     ! umoci unpack "${rootless[@]}" --image "$tmp/pulled:$tag" "$tmp/bundle-$tag" >>"$log" 2>&1; then
    sed 's/^/#   /' "$log"
    return 1
  fi
}

# fs_ok ROOTFS TEST...: each TEST is "e PATH" (exists), "n PATH" (absent),
# "l PATH TARGET" (symlink to), "m PATH MODE" (octal mode), "c PATH TEXT"
# (file contains TEXT), "ls PATH NAMES" (dir holds exactly NAMES).
fs_ok() {
  local root=$1 t op p arg got
  shift
  for t in "$@"; do
    read -r op p arg <<<"$t"
    case $op in
      e) [[ -e $root$p || -L $root$p ]] || { echo "#   $p missing"; return 1; } ;;
      n) [[ ! -e $root$p && ! -L $root$p ]] || { echo "#   $p should not exist"; return 1; } ;;
      l) got=$(readlink -- "$root$p" 2>/dev/null || true)
         [[ $got == "$arg" ]] || { echo "#   $p -> '$got' (want $arg)"; return 1; } ;;
      m) got=$(stat -c %a -- "$root$p" 2>/dev/null || true)
         [[ $got == "$arg" ]] || { echo "#   $p mode '$got' (want $arg)"; return 1; } ;;
      c) grep -qxF -- "$arg" "$root$p" 2>/dev/null || { echo "#   $p lacks line '$arg'"; return 1; } ;;
      ls) got=$(ls -A -- "$root$p" 2>/dev/null | tr '\n' ' ')
          [[ ${got% } == "$arg" ]] || { echo "#   ls $p: '${got% }' (want '$arg')"; return 1; } ;;
      *) echo "#   bad fs test $t"; return 1 ;;
    esac
  done
}

# same_diffids MANIFEST_A MANIFEST_B: both configs (already fetched by
# diffids_ok) list the same diff_ids.
same_diffids() {
  local a b
  a=$(grep -o '"diff_ids":\[[^]]*\]' "$tmp/blob-$(digest_at "$1" 0 | cut -d: -f2)")
  b=$(grep -o '"diff_ids":\[[^]]*\]' "$tmp/blob-$(digest_at "$2" 0 | cut -d: -f2)")
  if [[ -z $a || "$a" != "$b" ]]; then
    echo "#   diff_ids differ: $a vs $b"
    return 1
  fi
}

digest_at() { # digest_at MANIFEST_FILE N: Nth digest (0 = config)
  local -a d
  mapfile -t d < <(json_digests "$1")
  echo "${d[$2]:-}"
}

# --- the checks -------------------------------------------------------------------

echo "# manifests"
check "busybox:latest is Docker v2s2 with 1 gzip layer" \
  manifest_ok busybox latest "$MT_V2S2" "$MT_V2S2" 1
check "busybox:latest layers are $MT_DOCKER_LAYER_GZIP" \
  layers_have_mediatype "$tmp/m-busybox-latest.json" "$MT_DOCKER_LAYER_GZIP"
check "busybox:latest config is a Docker image config" \
  grep -q '"mediaType":"application/vnd.docker.container.image.v1+json"' "$tmp/m-busybox-latest.json"
check "busybox:oci is an OCI manifest with 1 layer" \
  manifest_ok busybox oci "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 1
check "busybox:oci layers are $OCI_MT_LAYER_GZIP" \
  layers_have_mediatype "$tmp/m-busybox-oci.json" "$OCI_MT_LAYER_GZIP"
if [[ $have_zstd == 1 ]]; then
  check "busybox:zstd is an OCI manifest with 1 layer" \
    manifest_ok busybox zstd "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 1
  check "busybox:zstd layers are $OCI_MT_LAYER_ZSTD" \
    layers_have_mediatype "$tmp/m-busybox-zstd.json" "$OCI_MT_LAYER_ZSTD"
fi
check "busybox:multiarch is an OCI index with 3 manifests" \
  manifest_ok busybox multiarch "$OCI_MT_INDEX" "$OCI_MT_INDEX" 3
check "whiteouts:latest is an OCI manifest with 4 layers" \
  manifest_ok whiteouts latest "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 4
check "many-layers:latest is an OCI manifest with 111 layers" \
  manifest_ok many-layers latest "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 111
if [[ $with_big == 1 ]]; then
  check "big:latest is an OCI manifest with 9 layers" \
    manifest_ok big latest "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 9
fi
check "a missing tag answers 404" \
  eval 'reg_get_manifest "$REGISTRY" busybox no-such-tag "$tmp/404.json"; [[ $REG_STATUS == 404 ]] || { echo "#   HTTP $REG_STATUS"; false; }'

echo "# multiarch index"
idx=$tmp/m-busybox-multiarch.json
check "index platforms: linux/$ARCH, linux/$OTHER_ARCH, unknown/unknown" \
  eval 'grep -q "\"architecture\":\"$ARCH\",\"os\":\"linux\"" "$idx" &&
        grep -q "\"architecture\":\"$OTHER_ARCH\"[^}]*\"os\":\"linux\"" "$idx" &&
        grep -q "\"architecture\":\"unknown\",\"os\":\"unknown\"" "$idx"'
oci_digest=$(sha256sum <"$tmp/m-busybox-oci.json" | cut -d' ' -f1)
check "index's linux/$ARCH entry is busybox:oci" grep -q "sha256:$oci_digest" "$idx"
mapfile -t idx_digests < <(json_digests "$idx")
for d in "${idx_digests[@]}"; do
  check "index child $d resolves by digest" \
    manifest_ok busybox "$d" "$OCI_MT_MANIFEST" "$OCI_MT_MANIFEST" 1
done

echo "# skopeo inspect"
check "inspect busybox:latest" inspect_ok busybox:latest "linux/$ARCH 1"
check "inspect busybox:oci" inspect_ok busybox:oci "linux/$ARCH 1"
[[ $have_zstd == 0 ]] || check "inspect busybox:zstd" inspect_ok busybox:zstd "linux/$ARCH 1"
check "inspect busybox:multiarch (host)" inspect_ok busybox:multiarch "linux/$ARCH 1"
check "inspect busybox:multiarch ($OTHER_ARCH)" \
  inspect_ok busybox:multiarch "linux/$OTHER_ARCH 1" --override-arch "$OTHER_ARCH"
check "inspect busybox:multiarch (unknown)" \
  inspect_ok busybox:multiarch "unknown/unknown 1" --override-arch unknown --override-os unknown
check "inspect whiteouts:latest" inspect_ok whiteouts:latest "linux/$ARCH 4"
check "inspect many-layers:latest" inspect_ok many-layers:latest "linux/$ARCH 111"
[[ $with_big == 0 ]] || check "inspect big:latest" inspect_ok big:latest "linux/$ARCH 9"

echo "# blobs"
check "busybox:latest layer is gzip and matches its diff_id" \
  diffids_ok busybox "$tmp/m-busybox-latest.json" "gzip -dc"
check "busybox:latest and busybox:oci share the layer blob" \
  eval 'a=$(digest_at "$tmp/m-busybox-latest.json" 1); [[ -n $a && $a == "$(digest_at "$tmp/m-busybox-oci.json" 1)" ]]'
if [[ $have_zstd == 1 ]]; then
  check "busybox:zstd layer has zstd magic" \
    blob_ok busybox "$(digest_at "$tmp/m-busybox-zstd.json" 1)" 28b52ffd
  check "busybox:zstd layer matches its diff_id (same as the gzip one)" \
    eval 'diffids_ok busybox "$tmp/m-busybox-zstd.json" "zstd -dc" &&
          same_diffids "$tmp/m-busybox-zstd.json" "$tmp/m-busybox-latest.json"'
fi
check "whiteouts:latest layers match their diff_ids" \
  diffids_ok whiteouts "$tmp/m-whiteouts-latest.json" "gzip -dc"
wm=$tmp/m-whiteouts-latest.json
check "whiteouts layer 3 has .wh. entries" \
  layer_lists whiteouts "$(digest_at "$wm" 3)" bin/.wh.vi etc/.wh.delete-me opt/.wh.gone
check "whiteouts layer 4 has an opaque /data" \
  layer_lists whiteouts "$(digest_at "$wm" 4)" data/.wh..wh..opq data/new
check "many-layers:latest layers match their diff_ids" \
  diffids_ok many-layers "$tmp/m-many-layers-latest.json" "gzip -dc"
check "many-layers layer 111 adds /layers/110" \
  layer_lists many-layers "$(digest_at "$tmp/m-many-layers-latest.json" 111)" layers/110
if [[ $with_big == 1 ]]; then
  check "big:latest layers match their diff_ids" \
    diffids_ok big "$tmp/m-big-latest.json" "gzip -dc"
  check "big:latest has >= 200 MiB of layers" \
    eval 'total=0; for sz in $(grep -o "\"size\":[0-9]*" "$tmp/m-big-latest.json" | cut -d: -f2); do
            total=$((total + sz)); done
          (( total >= 200 * 1024 * 1024 )) || { echo "#   only $total bytes"; false; }'
  rm -f -- "$tmp"/blob-*
fi

echo "# unpacked contents (umoci)"
check "unpack busybox:latest" unpack busybox:latest busybox
if [[ $CHECK_OK == 1 ]]; then
  check "busybox rootfs" fs_ok "$tmp/bundle-busybox/rootfs" \
    "m /bin/busybox 755" "l /bin/sh busybox" "l /bin/vi busybox" "l /bin/ls busybox" \
    "m /tmp 1777" "c /etc/passwd root:x:0:0:root:/root:/bin/sh" \
    "c /etc/passwd nobody:x:65534:65534:nobody:/nonexistent:/bin/false" \
    "c /etc/group root:x:0:" "c /etc/group nobody:x:65534:" "e /root" "n /bin/bin"
  check "busybox rootfs has a link for every applet" \
    eval '[[ $(find "$tmp/bundle-busybox/rootfs/bin" -type l | wc -l) == "$("${BUSYBOX:-/bin/busybox}" --list | grep -vx busybox | wc -l)" ]]'
  check "busybox rootfs runs (bin/busybox true)" "$tmp/bundle-busybox/rootfs/bin/busybox" true
fi
check "unpack whiteouts:latest" unpack whiteouts:latest whiteouts
if [[ $CHECK_OK == 1 ]]; then
  check "whiteouts applied" fs_ok "$tmp/bundle-whiteouts/rootfs" \
    "n /bin/vi" "l /bin/sh busybox" "n /etc/delete-me" "e /etc/keep-me" \
    "n /opt/gone" "ls /opt" "ls /data new" "c /data/new new" "e /etc/group"
fi
check "unpack many-layers:latest" unpack many-layers:latest many
if [[ $CHECK_OK == 1 ]]; then
  check "many-layers has /layers/1../layers/110" \
    eval '[[ $(ls "$tmp/bundle-many/rootfs/layers" | wc -l) == 110 ]] &&
          grep -qx 110 "$tmp/bundle-many/rootfs/layers/110" &&
          grep -qx 1 "$tmp/bundle-many/rootfs/layers/1"'
fi
rm -rf -- "$tmp/pulled" "$tmp"/bundle-* "$tmp"/blob-*

echo "1..$checks"
echo "# $((checks - failures))/$checks passed in $((SECONDS - t0)) s"
[[ $failures == 0 ]]
