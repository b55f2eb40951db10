#!/usr/bin/env bash
# Builds the e2e test images from /bin/busybox (hand-made OCI layouts, see
# oci_layout.bash) and pushes them to REGISTRY (plain HTTP, e.g. one from
# start_registry.sh).
#
# Usage: build_images.sh REGISTRY [--with-big]
#
# Images (REGISTRY/...):
#   busybox:latest     Docker v2 schema 2 manifest, 1 gzip layer
#   busybox:oci        OCI manifest, 1 gzip layer
#   busybox:zstd       OCI manifest, 1 zstd layer
#   busybox:multiarch  OCI index: linux/<host arch> (= busybox:oci),
#                      linux/arm64/v8 dummy, unknown/unknown dummy
#                      (on an arm64 host the dummy is linux/amd64)
#   whiteouts:latest   OCI: busybox + populate + file/dir whiteouts + opaque dir
#   many-layers:latest OCI: busybox + 110 layers adding /layers/1../layers/110
#   unpadded:latest    OCI: busybox + a layer without end-of-archive records
#                      (/unpadded/eoa, 1000 bytes) + a layer that ends right
#                      after its last data byte (/unpadded/file, 1000 bytes),
#                      as umoci 0.4.7 writes them
#   truncated:latest   OCI: one layer whose last file's data is cut short
#                      (digests and diff ID match the cut bytes): bad input
#   big:latest         OCI: busybox + 8 x 25 MiB incompressible layers (gzip),
#                      only with --with-big
# OCI images are pushed with --preserve-digests, so their registry digests
# are the ones of the local layout (reproducible across runs).
# Env: BUSYBOX (default /bin/busybox).
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci_layout.bash
source "$here/oci_layout.bash"

usage() { echo "usage: $0 REGISTRY [--with-big]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
REG=$1; shift
with_big=0
for a in "$@"; do
  case $a in
    --with-big) with_big=1 ;;
    *) usage ;;
  esac
done
[[ $REG == 127.0.0.1:* ]] || { echo "build_images: only 127.0.0.1 registries are allowed: $REG" >&2; exit 2; }
BUSYBOX=${BUSYBOX:-/bin/busybox}
[[ -f $BUSYBOX && -x $BUSYBOX ]] || { echo "build_images: BUSYBOX=$BUSYBOX is not an executable file" >&2; exit 1; }
for t in skopeo tar gzip sha256sum curl; do
  command -v "$t" >/dev/null || { echo "build_images: $t not found" >&2; exit 1; }
done
have_zstd=1
command -v zstd >/dev/null || { have_zstd=0; echo "build_images: zstd not found, skipping busybox:zstd" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ocid-images.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
trap 'exit 130' INT TERM HUP
export TMPDIR=$work   # skopeo's temp files too
L=$work/layout
oci_init "$L"

case $(uname -m) in
  x86_64) ARCH=amd64 OTHER_ARCH=arm64 OTHER_VARIANT=v8 ;;
  aarch64) ARCH=arm64 OTHER_ARCH=amd64 OTHER_VARIANT= ;;
  *) echo "build_images: unsupported host arch $(uname -m)" >&2; exit 1 ;;
esac

t0=$SECONDS
PUSHED=()   # "NAME:TAG LAYERS"

push() { # push LAYOUT_TAG DEST(NAME:TAG) FORMAT(v2s2|oci) [skopeo flags...]
  local src=$1 dst=$2 fmt=$3
  shift 3
  local -a flags=(--insecure-policy copy -q --dest-tls-verify=false --format "$fmt")
  [[ $fmt == oci ]] && flags+=(--preserve-digests)
  if ! skopeo "${flags[@]}" "$@" "oci:$L:$src" "docker://$REG/$dst" >"$work/skopeo.log" 2>&1; then
    echo "build_images: pushing $dst failed:" >&2
    cat "$work/skopeo.log" >&2
    return 1
  fi
  PUSHED+=("$dst")
}

stage() { # stage NAME: sets D to a fresh empty staging dir
  D=$work/stage-$1
  rm -rf -- "$D"
  mkdir -p -- "$D"
}

# --- busybox base layer ------------------------------------------------------
oci_busybox_rootfs_tar "$work/base.tar" "$BUSYBOX"
[[ $have_zstd == 0 ]] || cp -- "$work/base.tar" "$work/base-zstd.tar"
oci_add_layer_tar "$L" "$work/base.tar" gzip
BASE=("$OCI_LAYER_MT" "$OCI_DIGEST" "$OCI_SIZE" "$OCI_DIFFID")

# busybox:latest (v2s2) and busybox:oci (OCI) come from the same image.
oci_image_begin
oci_image_reuse_layer "${BASE[@]}" "busybox rootfs"
oci_image_commit "$L" busybox "$ARCH" linux
BUSYBOX_MANIFEST=("$OCI_MANIFEST_DIGEST" "$OCI_MANIFEST_SIZE")
push busybox busybox:latest v2s2
push busybox busybox:oci oci

# --- busybox:zstd --------------------------------------------------------------
if [[ $have_zstd == 1 ]]; then
  oci_image_begin
  oci_add_layer_tar "$L" "$work/base-zstd.tar" zstd
  oci_image_push_last_layer "busybox rootfs (zstd)"
  oci_image_commit "$L" busybox-zstd "$ARCH" linux
  push busybox-zstd busybox:zstd oci
fi

# --- busybox:multiarch -------------------------------------------------------------
stage dummy-$OTHER_ARCH; d=$D
printf 'dummy linux/%s image, not runnable here\n' "$OTHER_ARCH" >"$d/README"
oci_image_begin
oci_image_add_layer "$L" "$d" gzip "dummy $OTHER_ARCH"
OCI_IMG_CMD=(/bin/cat /README)
oci_image_commit "$L" "" "$OTHER_ARCH" linux "$OTHER_VARIANT"
unset OCI_IMG_CMD
OTHER_MANIFEST=("$OCI_MANIFEST_DIGEST" "$OCI_MANIFEST_SIZE")

stage dummy-unknown; d=$D
printf 'dummy unknown/unknown entry (like a build attestation)\n' >"$d/README"
oci_image_begin
oci_image_add_layer "$L" "$d" gzip "dummy unknown"
OCI_IMG_CMD=(/bin/cat /README)
oci_image_commit "$L" "" unknown unknown
unset OCI_IMG_CMD
UNKNOWN_MANIFEST=("$OCI_MANIFEST_DIGEST" "$OCI_MANIFEST_SIZE")

oci_index_commit "$L" busybox-multiarch \
  "${BUSYBOX_MANIFEST[*]} $ARCH linux" \
  "${OTHER_MANIFEST[*]} $OTHER_ARCH linux $OTHER_VARIANT" \
  "${UNKNOWN_MANIFEST[*]} unknown unknown"
push busybox-multiarch busybox:multiarch oci --all

# --- whiteouts:latest ----------------------------------------------------------------
# layer 1: busybox
# layer 2: /data/{old1,old2,sub/old3}, /etc/{delete-me,keep-me}, /opt/gone/file
# layer 3: whiteouts: /bin/.wh.vi, /etc/.wh.delete-me, /opt/.wh.gone (a dir)
# layer 4: opaque /data (/data/.wh..wh..opq) + /data/new
# Expected result: no /bin/vi, /etc/delete-me, /opt/gone; /etc/keep-me kept;
# /data holds only "new".
oci_image_begin
oci_image_reuse_layer "${BASE[@]}" "busybox rootfs"

stage wh1; d=$D
mkdir -p "$d/data/sub" "$d/etc" "$d/opt/gone"
echo old1 >"$d/data/old1"
echo old2 >"$d/data/old2"
echo old3 >"$d/data/sub/old3"
echo "delete me" >"$d/etc/delete-me"
echo "keep me" >"$d/etc/keep-me"
echo gone >"$d/opt/gone/file"
oci_image_add_layer "$L" "$d" gzip "populate /data /etc /opt"

stage wh2; d=$D
mkdir -p "$d/bin" "$d/etc" "$d/opt"
: >"$d/bin/.wh.vi"
: >"$d/etc/.wh.delete-me"
: >"$d/opt/.wh.gone"
oci_image_add_layer "$L" "$d" gzip "whiteout /bin/vi /etc/delete-me /opt/gone"

stage wh3; d=$D
mkdir -p "$d/data"
: >"$d/data/.wh..wh..opq"
echo new >"$d/data/new"
oci_image_add_layer "$L" "$d" gzip "opaque /data, add /data/new"
oci_image_commit "$L" whiteouts "$ARCH" linux
push whiteouts whiteouts:latest oci

# --- many-layers:latest --------------------------------------------------------------
oci_image_begin
oci_image_reuse_layer "${BASE[@]}" "busybox rootfs"
# Batched: one tar per layer, then one gzip/sha256sum/stat for all of them.
stage many; d=$D
mkdir -p "$d/layers" "$work/many-tars"
tars=()
for ((n = 1; n <= 110; n++)); do
  echo "$n" >"$d/layers/$n"
  tar -C "$d" --no-recursion "${OCI_TAR_FLAGS[@]}" -cf "$work/many-tars/$n.tar" layers "layers/$n"
  tars+=("$work/many-tars/$n.tar")
done
oci_add_layer_tars "$L" gzip "${tars[@]}"
for ((n = 1; n <= 110; n++)); do
  oci_image_reuse_layer "${OCI_BATCH_MT[n - 1]}" "${OCI_BATCH_DIGEST[n - 1]}" \
    "${OCI_BATCH_SIZE[n - 1]}" "${OCI_BATCH_DIFFID[n - 1]}" "add /layers/$n"
done
oci_image_commit "$L" many-layers "$ARCH" linux
push many-layers many-layers:latest oci

# --- unpadded:latest, truncated:latest ----------------------------------------------
# Each layer: the directory "unpadded" and one file of 1000 bytes, in GNU
# format with short names, so the file's data starts at byte 1024 and the
# tar can be cut at a known place with head -c.
unpadded_layer() { # unpadded_layer FILE-NAME BYTES-TO-KEEP OUT
  stage unpadded-$1; d=$D
  mkdir -p "$d/unpadded"
  head -c 1000 /dev/zero | tr '\0' x >"$d/unpadded/$1"
  oci_tar_dir "$d" "$work/unpadded-$1.full.tar"
  head -c "$2" "$work/unpadded-$1.full.tar" >"$3"
  rm -f -- "$work/unpadded-$1.full.tar"
}
oci_image_begin
oci_image_reuse_layer "${BASE[@]}" "busybox rootfs"
unpadded_layer eoa $((1024 + 1024)) "$work/unpadded-eoa.tar"
oci_add_layer_tar "$L" "$work/unpadded-eoa.tar" gzip
oci_image_push_last_layer "no end-of-archive records"
unpadded_layer file $((1024 + 1000)) "$work/unpadded-file.tar"
oci_add_layer_tar "$L" "$work/unpadded-file.tar" gzip
oci_image_push_last_layer "no padding after the last data"
oci_image_commit "$L" unpadded "$ARCH" linux
push unpadded unpadded:latest oci

oci_image_begin
unpadded_layer cut $((1024 + 990)) "$work/truncated.tar"
oci_add_layer_tar "$L" "$work/truncated.tar" gzip
oci_image_push_last_layer "last file's data cut short by 10 bytes"
oci_image_commit "$L" truncated "$ARCH" linux
push truncated truncated:latest oci

# --- big:latest ----------------------------------------------------------------------
if [[ $with_big == 1 ]]; then
  command -v openssl >/dev/null || { echo "build_images: --with-big needs openssl" >&2; exit 1; }
  oci_image_begin
  oci_image_reuse_layer "${BASE[@]}" "busybox rootfs"
  for ((n = 1; n <= 8; n++)); do
    stage big; d=$D
    printf -v iv %032x "$n"
    mkdir -p "$d/big"
    # Deterministic, incompressible: AES-CTR keystream with a fixed key.
    head -c $((25 * 1024 * 1024)) /dev/zero |
      openssl enc -aes-128-ctr -nosalt \
        -K 000102030405060708090a0b0c0d0e0f -iv "$iv" \
        >"$d/big/$n.bin"
    OCI_GZIP_LEVEL=-1 oci_image_add_layer "$L" "$d" gzip "add /big/$n.bin (25 MiB)"
  done
  rm -rf -- "$work/stage-big"
  oci_image_commit "$L" big "$ARCH" linux
  push big big:latest oci
fi

# --- summary -------------------------------------------------------------------------
printf '%-36s %-52s %6s  %s\n' IMAGE "MANIFEST MEDIA TYPE" LAYERS DIGEST
for ref in "${PUSHED[@]}"; do
  name=${ref%:*} tag=${ref##*:}
  reg_get_manifest "$REG" "$name" "$tag" "$work/m.json"
  if [[ $REG_STATUS != 200 ]]; then
    echo "build_images: $REG/$ref: HTTP $REG_STATUS after push" >&2
    exit 1
  fi
  n=$(json_layer_count "$work/m.json")
  [[ $REG_CONTENT_TYPE == *index* || $REG_CONTENT_TYPE == *list* ]] && n="$n mf"
  printf '%-36s %-52s %6s  %s\n' "$REG/$ref" "$REG_CONTENT_TYPE" "$n" "$REG_DIGEST"
done
echo "build_images: done in $((SECONDS - t0)) s" >&2
