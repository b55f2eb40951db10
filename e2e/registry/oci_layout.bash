# shellcheck shell=bash disable=SC2034  # results are returned in globals
# Helpers to hand-build OCI image layouts with bash + coreutils + tar +
# gzip/zstd + sha256sum only (no jq, no python). Source this file.
#
# Layout model: one layout dir holds many images; each top-level image or
# index is tagged in index.json via org.opencontainers.image.ref.name, so
# `skopeo copy oci:DIR:TAG ...` finds it. Tags are kept in DIR/.oci-refs
# (TAG<TAB>MEDIATYPE<TAB>DIGEST<TAB>SIZE) and index.json is rebuilt from it.
#
# Functions return values through globals (no subshells needed):
#   OCI_DIGEST / OCI_SIZE          last blob stored
#   OCI_LAYER_MT / OCI_DIFFID      last layer stored
#   OCI_BATCH_{MT,DIGEST,SIZE,DIFFID}  arrays, from oci_add_layer_tars
#   OCI_MANIFEST_DIGEST / _SIZE    last manifest or index written
#
# Process creation is slow on some machines (~10 ms per exec), so the
# helpers keep forks per blob low and offer batch variants
# (oci_put_blobs, oci_add_layer_tars) that cost a handful of forks for any
# number of blobs.
#
# Typical use:
#   oci_init "$L"
#   oci_image_begin
#   oci_image_add_layer "$L" "$rootfs" gzip "base rootfs"
#   oci_image_commit "$L" mytag amd64 linux
#   skopeo copy oci:"$L":mytag docker://...

OCI_MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_MT_INDEX=application/vnd.oci.image.index.v1+json
OCI_MT_CONFIG=application/vnd.oci.image.config.v1+json
OCI_MT_LAYER_TAR=application/vnd.oci.image.layer.v1.tar
OCI_MT_LAYER_GZIP=application/vnd.oci.image.layer.v1.tar+gzip
OCI_MT_LAYER_ZSTD=application/vnd.oci.image.layer.v1.tar+zstd

# Fixed timestamp used in configs so that digests are reproducible.
OCI_CREATED=${OCI_CREATED:-1970-01-01T00:00:00Z}
# Flags for reproducible layer tars (use with explicit, sorted member lists
# and --no-recursion, as oci_tar_dir does).
OCI_TAR_FLAGS=(--format=gnu --mtime=@0 --owner=0 --group=0 --numeric-owner)
# gzip level for layers (e.g. -1 for big incompressible data).
OCI_GZIP_LEVEL=${OCI_GZIP_LEVEL:--6}
OCI_TMP_N=0

oci_die() {
  echo "oci_layout: $*" >&2
  return 1
}

# oci_tmp DIR: sets OCI_TMP to a fresh temp file name in DIR (no fork).
oci_tmp() {
  OCI_TMP_N=$((OCI_TMP_N + 1))
  OCI_TMP=$1/.tmp.$$.$OCI_TMP_N
}

# Escapes a string for use inside a JSON string literal (enough for the
# ASCII we write: backslash, double quote, control chars rejected).
oci_json_str() {
  local s=$1
  if [[ $s == *[[:cntrl:]]* ]]; then
    oci_die "control character in JSON string: ${s@Q}"
    return 1
  fi
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

oci_init() {
  local dir=$1
  mkdir -p "$dir/blobs/sha256"
  printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  : >"$dir/.oci-refs"
  oci_write_index_json "$dir"
}

# oci_hash_files OUTVAR_DIGESTS OUTVAR_SIZES FILE...: sha256 digests
# ("sha256:HEX") and byte sizes of the files, into two arrays, in order.
oci_hash_files() {
  local -n _digests=$1 _sizes=$2
  shift 2
  local list h _f
  _digests=() _sizes=()
  oci_tmp "${TMPDIR:-/tmp}"; list=$OCI_TMP
  # GNU sha256sum escapes odd names with a leading backslash; we only
  # use the hash column, in argument order.
  sha256sum -- "$@" >"$list"
  while read -r h _f; do _digests+=("sha256:${h#\\}"); done <"$list"
  stat -c %s -- "$@" >"$list"
  while read -r h; do _sizes+=("$h"); done <"$list"
  rm -f -- "$list"
  [[ ${#_digests[@]} == "$#" && ${#_sizes[@]} == "$#" ]] ||
    oci_die "hashing failed for $*"
}

# oci_put_blobs DIR FILE...: moves the files into the blob store. Sets the
# arrays OCI_BATCH_DIGEST and OCI_BATCH_SIZE (in order), and
# OCI_DIGEST/OCI_SIZE to the last one.
oci_put_blobs() {
  local dir=$1 i src dst
  shift
  oci_hash_files OCI_BATCH_DIGEST OCI_BATCH_SIZE "$@"
  local simple=1
  for src in "$@"; do [[ ${src##*/} =~ ^[A-Za-z0-9_.-]+$ ]] || simple=0; done
  if [[ $# == 1 || $simple == 0 ]]; then
    for ((i = 1; i <= $#; i++)); do
      mv -f -- "${!i}" "$dir/blobs/sha256/${OCI_BATCH_DIGEST[i - 1]#sha256:}"
    done
  else
    # One tar pipe renames all files (an mv per file would cost a fork
    # each). All files must be in one directory, with plain names (so
    # that they need no escaping in the --transform regexes).
    local -a xf=() names=()
    src=.
    [[ $1 == */* ]] && src=${1%/*}
    for ((i = 1; i <= $#; i++)); do
      if [[ ${!i} == */* && ${!i%/*} != "$src" ]] || [[ ${!i} != */* && $src != . ]]; then
        oci_die "oci_put_blobs: files must share one directory: $1 ${!i}"
        return 1
      fi
      dst=${!i##*/}
      names+=("$dst")
      dst=${dst//./\\.}
      xf+=(--transform "s,^$dst\$,${OCI_BATCH_DIGEST[i - 1]#sha256:},")
    done
    tar -C "$src" -cf - "${xf[@]}" -- "${names[@]}" |
      tar -C "$dir/blobs/sha256" -xf -
    rm -f -- "$@"
  fi
  OCI_DIGEST=${OCI_BATCH_DIGEST[-1]}
  OCI_SIZE=${OCI_BATCH_SIZE[-1]}
}

# oci_put_blob DIR FILE: moves FILE into the blob store; sets OCI_DIGEST,
# OCI_SIZE.
oci_put_blob() {
  oci_put_blobs "$1" "$2"
}

# oci_put_string DIR STRING: stores STRING (exact bytes, no newline).
oci_put_string() {
  oci_tmp "$1"
  printf '%s' "$2" >"$OCI_TMP"
  oci_put_blob "$1" "$OCI_TMP"
}

# oci_tar_dir SRCDIR OUT [TAR ARGS...]: reproducible uncompressed tar of
# SRCDIR's contents (entries relative without "./", sorted by name, owned
# by 0:0, mtime 0). Extra args go to tar (e.g. --transform).
oci_tar_dir() {
  local src=$1 out=$2
  shift 2
  (cd "$src" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z) |
    tar -C "$src" --null --no-recursion -T - "${OCI_TAR_FLAGS[@]}" "$@" -cf "$out"
}

# oci_add_layer_tars DIR COMPRESSION(gzip|zstd|none) TAR...
# Compresses the uncompressed layer tars (consumed; all in one directory)
# and stores them. Sets arrays OCI_BATCH_MT, OCI_BATCH_DIGEST,
# OCI_BATCH_SIZE, OCI_BATCH_DIFFID (in order) and OCI_LAYER_MT,
# OCI_DIGEST, OCI_SIZE, OCI_DIFFID for the last one.
oci_add_layer_tars() {
  local dir=$1 comp=$2 mt ext t
  shift 2
  local -a outs=() sizes_unused=()
  case $comp in
    gzip) mt=$OCI_MT_LAYER_GZIP ext=.gz ;;
    zstd) mt=$OCI_MT_LAYER_ZSTD ext=.zst
          command -v zstd >/dev/null || oci_die "zstd is not installed" || return 1 ;;
    none) mt=$OCI_MT_LAYER_TAR ext=.raw ;;
    *) oci_die "unknown compression: $comp"; return 1 ;;
  esac
  oci_hash_files OCI_BATCH_DIFFID sizes_unused "$@"
  for t in "$@"; do outs+=("$t$ext"); done
  case $comp in
    gzip) gzip -n -k -f "$OCI_GZIP_LEVEL" -- "$@" ;;
    zstd) zstd -q -3 -k -f --no-progress -- "$@" ;;
    none) for t in "$@"; do mv -- "$t" "$t$ext"; done ;;
  esac
  rm -f -- "$@"
  oci_put_blobs "$dir" "${outs[@]}"
  OCI_BATCH_MT=()
  for t in "${outs[@]}"; do OCI_BATCH_MT+=("$mt"); done
  OCI_LAYER_MT=$mt
  OCI_DIFFID=${OCI_BATCH_DIFFID[-1]}
}

# oci_add_layer_tar DIR TARFILE COMPRESSION: one layer from an existing
# uncompressed tar (consumed).
oci_add_layer_tar() {
  oci_add_layer_tars "$1" "$3" "$2"
}

# oci_add_layer DIR SRCDIR COMPRESSION: tars SRCDIR and stores it as a layer.
oci_add_layer() {
  local dir=$1 src=$2 comp=$3
  oci_tmp "$dir"
  local tar=$OCI_TMP.tar
  oci_tar_dir "$src" "$tar"
  oci_add_layer_tars "$dir" "$comp" "$tar"
}

# --- building one image -----------------------------------------------------

oci_image_begin() {
  OCI_IMG_LAYERS=()   # "MT DIGEST SIZE"
  OCI_IMG_DIFFIDS=()
  OCI_IMG_HISTORY=()
}

# oci_image_add_layer DIR SRCDIR COMPRESSION [COMMENT]
oci_image_add_layer() {
  oci_add_layer "$1" "$2" "$3"
  oci_image_push_last_layer "${4:-layer ${#OCI_IMG_LAYERS[@]}}"
}

# oci_image_push_last_layer [COMMENT]: appends the layer described by
# OCI_LAYER_MT/OCI_DIGEST/OCI_SIZE/OCI_DIFFID to the image being built.
oci_image_push_last_layer() {
  OCI_IMG_LAYERS+=("$OCI_LAYER_MT $OCI_DIGEST $OCI_SIZE")
  OCI_IMG_DIFFIDS+=("$OCI_DIFFID")
  OCI_IMG_HISTORY+=("${1:-layer ${#OCI_IMG_HISTORY[@]}}")
}

# oci_image_reuse_layer MT DIGEST SIZE DIFFID [COMMENT]: appends an already
# stored layer (e.g. a shared base layer).
oci_image_reuse_layer() {
  OCI_LAYER_MT=$1 OCI_DIGEST=$2 OCI_SIZE=$3 OCI_DIFFID=$4
  oci_image_push_last_layer "${5:-}"
}

# oci_image_commit DIR TAG ARCH OS [VARIANT]
# Writes config + manifest for the layers added since oci_image_begin.
# TAG may be "" to not tag it in index.json (e.g. an index child).
# OCI_IMG_CMD / OCI_IMG_ENV (arrays) override the default config. Optional,
# left out of the config when unset: OCI_IMG_ENTRYPOINT (array),
# OCI_IMG_USER, OCI_IMG_STOPSIGNAL (e.g. SIGQUIT), OCI_IMG_PORTS (array of
# "80/tcp").
oci_image_commit() {
  local dir=$1 tag=$2 arch=$3 os=$4 variant=${5:-}
  local i sep json diffids="" history="" layers="" cmd="" env="" mt dg sz
  local user="" entry="" stop="" ports=""
  local -a c e
  if declare -p OCI_IMG_CMD >/dev/null 2>&1; then c=("${OCI_IMG_CMD[@]}"); else c=(sh); fi
  if declare -p OCI_IMG_ENV >/dev/null 2>&1; then
    e=("${OCI_IMG_ENV[@]}")
  else
    e=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  fi
  sep=""; for i in "${c[@]}"; do cmd+=$sep$(oci_json_str "$i"); sep=,; done
  sep=""; for i in "${e[@]}"; do env+=$sep$(oci_json_str "$i"); sep=,; done
  [[ -z ${OCI_IMG_USER:-} ]] || user='"User":'$(oci_json_str "$OCI_IMG_USER")','
  if declare -p OCI_IMG_PORTS >/dev/null 2>&1; then
    sep=""; for i in "${OCI_IMG_PORTS[@]}"; do ports+=$sep$(oci_json_str "$i")':{}'; sep=,; done
    ports='"ExposedPorts":{'$ports'},'
  fi
  if declare -p OCI_IMG_ENTRYPOINT >/dev/null 2>&1; then
    sep=""; for i in "${OCI_IMG_ENTRYPOINT[@]}"; do entry+=$sep$(oci_json_str "$i"); sep=,; done
    entry='"Entrypoint":['$entry'],'
  fi
  [[ -z ${OCI_IMG_STOPSIGNAL:-} ]] || stop=',"StopSignal":'$(oci_json_str "$OCI_IMG_STOPSIGNAL")
  sep=""; for i in "${OCI_IMG_DIFFIDS[@]}"; do diffids+=$sep\"$i\"; sep=,; done
  sep=""
  for i in "${OCI_IMG_HISTORY[@]}"; do
    history+=$sep'{"created":"'$OCI_CREATED'","created_by":'$(oci_json_str "$i")'}'
    sep=,
  done
  json='{"created":"'$OCI_CREATED'","architecture":'$(oci_json_str "$arch")
  [[ -n $variant ]] && json+=',"variant":'$(oci_json_str "$variant")
  json+=',"os":'$(oci_json_str "$os")
  json+=',"config":{'$user$ports'"Env":['$env'],'$entry'"Cmd":['$cmd'],"WorkingDir":"/"'$stop'}'
  json+=',"rootfs":{"type":"layers","diff_ids":['$diffids']}'
  json+=',"history":['$history']}'
  oci_put_string "$dir" "$json"
  local cfg_digest=$OCI_DIGEST cfg_size=$OCI_SIZE

  sep=""
  for i in "${OCI_IMG_LAYERS[@]}"; do
    read -r mt dg sz <<<"$i"
    layers+=$sep'{"mediaType":"'$mt'","digest":"'$dg'","size":'$sz'}'
    sep=,
  done
  json='{"schemaVersion":2,"mediaType":"'$OCI_MT_MANIFEST'"'
  json+=',"config":{"mediaType":"'$OCI_MT_CONFIG'","digest":"'$cfg_digest'","size":'$cfg_size'}'
  json+=',"layers":['$layers']}'
  oci_put_string "$dir" "$json"
  OCI_MANIFEST_DIGEST=$OCI_DIGEST
  OCI_MANIFEST_SIZE=$OCI_SIZE
  if [[ -n $tag ]]; then
    oci_ref_add "$dir" "$tag" "$OCI_MT_MANIFEST" "$OCI_MANIFEST_DIGEST" "$OCI_MANIFEST_SIZE"
  fi
}

# oci_platform_json ARCH OS [VARIANT]: a descriptor "platform" object.
oci_platform_json() {
  local p
  p='{"architecture":'$(oci_json_str "$1")',"os":'$(oci_json_str "$2")
  [[ -n ${3:-} ]] && p+=',"variant":'$(oci_json_str "$3")
  printf '%s}' "$p"
}

# oci_index_commit DIR TAG ENTRY...
# ENTRY is "DIGEST SIZE ARCH OS [VARIANT]" of a manifest already stored
# (ARCH/OS may be "-" to omit the platform). Writes an image index.
oci_index_commit() {
  local dir=$1 tag=$2 e dg sz arch os variant sep="" manifests="" json
  shift 2
  for e in "$@"; do
    read -r dg sz arch os variant <<<"$e"
    manifests+=$sep'{"mediaType":"'$OCI_MT_MANIFEST'","digest":"'$dg'","size":'$sz
    if [[ $arch != - ]]; then
      manifests+=',"platform":'$(oci_platform_json "$arch" "$os" "${variant:-}")
    fi
    manifests+='}'
    sep=,
  done
  json='{"schemaVersion":2,"mediaType":"'$OCI_MT_INDEX'","manifests":['$manifests']}'
  oci_put_string "$dir" "$json"
  OCI_MANIFEST_DIGEST=$OCI_DIGEST
  OCI_MANIFEST_SIZE=$OCI_SIZE
  [[ -z $tag ]] || oci_ref_add "$dir" "$tag" "$OCI_MT_INDEX" "$OCI_DIGEST" "$OCI_SIZE"
}

# --- index.json -----------------------------------------------------------------

# oci_ref_add DIR TAG MEDIATYPE DIGEST SIZE: (re)tags a manifest/index.
oci_ref_add() {
  local dir=$1 tag=$2 refs=$1/.oci-refs t
  [[ $tag != *[[:space:]]* ]] || oci_die "bad tag: ${tag@Q}" || return 1
  local tmp
  oci_tmp "$dir"; tmp=$OCI_TMP
  if [[ -s $refs ]]; then
    while IFS=$'\t' read -r t rest; do
      [[ $t == "$tag" ]] || printf '%s\t%s\n' "$t" "$rest"
    done <"$refs" >"$tmp"
  fi
  printf '%s\t%s\t%s\t%s\n' "$tag" "$3" "$4" "$5" >>"$tmp"
  mv -- "$tmp" "$refs"
  oci_write_index_json "$dir"
}

oci_write_index_json() {
  local dir=$1 tag mt dg sz sep="" m=""
  if [[ -s $dir/.oci-refs ]]; then
    while IFS=$'\t' read -r tag mt dg sz; do
      m+=$sep'{"mediaType":"'$mt'","digest":"'$dg'","size":'$sz
      m+=',"annotations":{"org.opencontainers.image.ref.name":'$(oci_json_str "$tag")'}}'
      sep=,
    done <"$dir/.oci-refs"
  fi
  printf '%s' '{"schemaVersion":2,"mediaType":"'$OCI_MT_INDEX'","manifests":['"$m"']}' \
    >"$dir/index.json"
}

# --- rootfs helpers ---------------------------------------------------------------

# oci_busybox_rootfs_tar OUT [BUSYBOX]: writes a reproducible tar of a
# minimal rootfs: /bin/busybox with a symlink /bin/APPLET -> busybox for
# each applet of `busybox --list`, /etc/passwd (root, nobody 65534),
# /etc/group, /tmp 1777, and empty /root /proc /sys /dev.
oci_busybox_rootfs_tar() {
  local out=$1 bb=${2:-/bin/busybox} root real
  oci_tmp "$(dirname -- "$out")"
  root=$OCI_TMP.rootfs
  mkdir -p "$root"/{bin,etc,root,proc,sys,dev,tmp}
  chmod 0755 "$root" "$root"/{bin,etc,proc,sys,dev}
  chmod 0700 "$root/root"
  chmod 1777 "$root/tmp"
  cp -- "$bb" "$root/bin/busybox"
  chmod 0755 "$root/bin/busybox"
  # `busybox --install -s DIR` makes every applet link in one process (an
  # ln per applet would cost ~270 forks); the links point to the running
  # binary's real path, rewritten to "busybox" by tar below.
  real=$(readlink -f -- "$bb")
  "$bb" --install -s "$root/bin"
  printf '%s\n' \
    'root:x:0:0:root:/root:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  oci_tar_dir "$root" "$out" --transform "s,^${real//./\\.}\$,busybox,RHs"
  rm -rf -- "$root"
}

# --- registry helpers (curl) ---------------------------------------------------

# Every manifest media type we push; registries answer 404 for a manifest
# whose type is not listed in Accept.
OCI_ACCEPT_ALL="application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

# reg_get_manifest REGISTRY NAME REF OUTFILE [ACCEPT]
# GETs /v2/NAME/manifests/REF over plain HTTP. Sets REG_STATUS,
# REG_CONTENT_TYPE, REG_DIGEST (Docker-Content-Digest header).
reg_get_manifest() {
  local reg=$1 name=$2 ref=$3 out=$4 accept=${5:-$OCI_ACCEPT_ALL} hdr w
  hdr=$(mktemp "${TMPDIR:-/tmp}/reg-hdr.XXXXXX")
  w=$(curl -s --max-time 30 -o "$out" -D "$hdr" -H "Accept: $accept" \
        -w '%{http_code} %{content_type}' \
        "http://$reg/v2/$name/manifests/$ref") || w="000 "
  REG_STATUS=${w%% *}
  REG_CONTENT_TYPE=${w#* }
  REG_DIGEST=$(tr -d '\r' <"$hdr" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p' | head -n 1)
  rm -f -- "$hdr"
}

# reg_get_blob REGISTRY NAME DIGEST OUTFILE: sets REG_STATUS.
reg_get_blob() {
  REG_STATUS=$(curl -s -L --max-time 300 -o "$4" -w '%{http_code}' \
    "http://$1/v2/$2/blobs/$3") || REG_STATUS=000
}

# --- pushing a layout's images with curl ----------------------------------------
# Faster than one `skopeo copy` per tag (~0.4 s each): a blob goes up once and
# other repositories mount it; a manifest is PUT with its exact bytes, so the
# registry's digest is the layout's.

# What this shell pushed: digest -> the first repository that got it, and
# "NAME@digest" -> 1 for every repository that has it.
declare -gA REG_BLOB_HOME=() REG_BLOB_IN=()

# reg_push_blob REGISTRY NAME FILE DIGEST: makes blob DIGEST (the contents of
# FILE) exist in repository NAME, by a cross-repository mount from where it
# was pushed before, else by a monolithic upload.
reg_push_blob() {
  local reg=$1 name=$2 file=$3 digest=$4 from=${REG_BLOB_HOME[$4]:-} hdr w loc
  [[ -z ${REG_BLOB_IN[$name@$digest]:-} ]] || return 0
  hdr=$(mktemp "${TMPDIR:-/tmp}/reg-hdr.XXXXXX")
  local url="http://$reg/v2/$name/blobs/uploads/"
  [[ -z $from ]] || url+="?mount=$digest&from=$from"
  w=$(curl -s --max-time 30 -X POST -o /dev/null -D "$hdr" -w '%{http_code}' "$url") || w=000
  if [[ $w == 201 ]]; then
    rm -f -- "$hdr"
    REG_BLOB_IN[$name@$digest]=1
    return 0
  fi
  loc=$(tr -d '\r' <"$hdr" | sed -n 's/^[Ll]ocation: *//p' | head -n 1)
  rm -f -- "$hdr"
  if [[ $w != 202 || -z $loc ]]; then
    oci_die "POST $url: HTTP $w (no upload session)"
    return 1
  fi
  [[ $loc == http* ]] || loc=http://$reg$loc
  [[ $loc == *\?* ]] && loc+="&digest=$digest" || loc+="?digest=$digest"
  w=$(curl -s --max-time 120 -X PUT -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$loc") || w=000
  if [[ $w != 201 ]]; then
    oci_die "uploading blob $digest to $reg/$name: HTTP $w"
    return 1
  fi
  REG_BLOB_HOME[$digest]=$name
  REG_BLOB_IN[$name@$digest]=1
}

# reg_push_manifest REGISTRY NAME REF FILE MEDIATYPE: PUTs a manifest.
reg_push_manifest() {
  local w
  w=$(curl -s --max-time 30 -X PUT -o /dev/null -w '%{http_code}' \
        -H "Content-Type: $5" --data-binary "@$4" "http://$1/v2/$2/manifests/$3") || w=000
  [[ $w == 201 ]] || oci_die "PUT manifest $1/$2:$3: HTTP $w"
}

# reg_push_image LAYOUT REGISTRY NAME MANIFEST_DIGEST TAG...: pushes an image
# manifest of LAYOUT (config and layers first) under NAME with every TAG.
# (Image manifests only; an index would need its children pushed first.)
reg_push_image() {
  local dir=$1 reg=$2 name=$3 mdigest=$4 d tag blobs=$1/blobs/sha256
  shift 4
  for d in $(json_digests "$blobs/${mdigest#sha256:}"); do
    reg_push_blob "$reg" "$name" "$blobs/${d#sha256:}" "$d" || return 1
  done
  for tag in "$@"; do
    reg_push_manifest "$reg" "$name" "$tag" "$blobs/${mdigest#sha256:}" "$OCI_MT_MANIFEST" || return 1
  done
}

# json_digests FILE: prints every "digest" value of a manifest/index, in
# order (config first for an image manifest). Works for compact and
# pretty-printed JSON.
json_digests() {
  grep -o '"digest"[[:space:]]*:[[:space:]]*"[^"]*"' -- "$1" | sed 's/.*"\([^"]*\)"$/\1/'
}

# json_layer_count FILE: number of layers of an image manifest, or of
# manifests of an index.
json_layer_count() {
  local n
  n=$(json_digests "$1" | wc -l)
  if grep -q '"config"' -- "$1"; then n=$((n - 1)); fi
  echo "$n"
}
