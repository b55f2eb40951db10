#!/usr/bin/env bash
# shellcheck disable=SC2034  # the OCI_IMG_* settings are read by oci_image_commit
# Builds stand-ins for every image that critest v1.29 (cri-tools' CRI
# validation suite and its benchmarks) pulls, and pushes them to REGISTRY
# (plain HTTP, e.g. one from start_registry.sh). A registries.conf maps
# registry.k8s.io, gcr.io, public.ecr.aws and docker.io onto REGISTRY's root
# with prefix/location rewrites, so that e.g.
# registry.k8s.io/e2e-test-images/busybox:1.29-2 is REGISTRY/e2e-test-images/busybox:1.29-2.
# What each image must hold: /work/shared/critest/README.md and cri-tools'
# pkg/validate/*.go.
#
# Usage: build_critest_images.sh REGISTRY [--pause BIN] [--nonewprivs BIN] [--list]
#   --list prints the NAME:TAG list and exits (no build, REGISTRY unused).
#
# Images (REGISTRY/...), all OCI, linux/amd64 (the host's arch):
#   e2e-test-images/busybox:1.29-2,1.29-4   the base: Debian's dynamic busybox
#       (its sh execs programs, so masking /bin/ls makes `sh -c ls` fail),
#       every applet a hard link in /bin, util-linux ipcs, a pgrep script,
#       glibc, busybox-style /etc/passwd and /etc/group (root, nobody, www-data)
#   library/busybox:1.28,latest  busybox:latest   = the base
#   docker/library/busybox:1,1-glibc,1-musl,1-uclibc,1.35.0-glibc
#       base + /etc/critest-variant (5 distinct images, for the benchmarks)
#   e2e-test-images/nginx:1.14-2,1.14-4   busybox httpd on :80 run as a
#       process named nginx whose PID 1 cmdline holds "master process",
#       /var/run/nginx.pid, stop signal SIGQUIT
#   k8s-staging-cri-tools/hostnet-nginx-amd64:latest   the same on :12003
#   e2e-test-images/httpd:2.4.39-4   logs "... Command line: 'httpd -D
#       FOREGROUND'", serves HTTP 200 on :80
#   e2e-test-images/nonewprivs:1.3   setuid-root entrypoint printing
#       "Effective uid: N" (e2e/images/nonewprivs.c)
#   pause:3.6,3.7,3.8,3.9,3.10   /pause alone (e2e/images/pause.c), USER 65535
#   k8s-staging-cri-tools/test-image-{latest,digest,1,2,3}:latest,
#       test-image-tag:test / :all, test-image-tags:1,2,3 (one image)
#       base + an empty file /NAME each (so IDs differ)
#   k8s-staging-cri-tools/test-image-user-{uid,username,uid-group,username-group}:latest
#       base with config User 1002, www-data, 1003:1004, www-data:1004
#   k8s-staging-cri-tools/test-image-predefined-group:latest   User 1000
#       (default-user) in group 50000 group-defined-in-image
# test-image-digest is pulled by upstream's digest, which no stand-in can have.
#
# Manifests are PUT with their exact bytes: digests are reproducible for the
# same inputs. Inputs besides this dir:
#   pause, nonewprivs  static binaries: --pause/--nonewprivs, env
#       CRITEST_PAUSE/CRITEST_NONEWPRIVS, else e2e/images/ in Bazel runfiles or
#       bazel-bin (bazel build //e2e/images:all)
#   CRITEST_BUSYBOX  dynamic busybox (default: what ci/setup.sh unpacks,
#       /var/cache/ocid-debs/busybox/root/bin/busybox)
#   CRITEST_IPCS     util-linux ipcs (default /usr/bin/ipcs)
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=oci_layout.bash
source "$here/oci_layout.bash"

die() { echo "build_critest_images: $*" >&2; exit 1; }
usage() { echo "usage: $0 REGISTRY [--pause BIN] [--nonewprivs BIN] [--list]" >&2; exit 2; }

[[ $# -ge 1 ]] || usage
REG=$1; shift
PAUSE_BIN=${CRITEST_PAUSE:-}
NNP_BIN=${CRITEST_NONEWPRIVS:-}
list_only=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --pause) [[ $# -ge 2 ]] || usage; PAUSE_BIN=$2; shift 2 ;;
    --nonewprivs) [[ $# -ge 2 ]] || usage; NNP_BIN=$2; shift 2 ;;
    --list) list_only=1; shift ;;
    *) usage ;;
  esac
done

# --- what gets pushed: "NAME TAG..." per image (the build below follows it) --
BUSYBOX_VARIANTS=(1 1-glibc 1-musl 1-uclibc 1.35.0-glibc)
TEST_IMAGES=(test-image-latest test-image-digest test-image-1 test-image-2 test-image-3)
declare -A USER_IMAGES=(
  [test-image-user-uid]=1002
  [test-image-user-username]=www-data
  [test-image-user-uid-group]=1003:1004
  [test-image-user-username-group]=www-data:1004
)
CRI_TOOLS=k8s-staging-cri-tools

if [[ $list_only == 1 ]]; then
  {
    echo e2e-test-images/busybox:1.29-2 e2e-test-images/busybox:1.29-4
    echo library/busybox:1.28 library/busybox:latest busybox:latest
    for v in "${BUSYBOX_VARIANTS[@]}"; do echo "docker/library/busybox:$v"; done
    echo e2e-test-images/nginx:1.14-2 e2e-test-images/nginx:1.14-4
    echo "$CRI_TOOLS/hostnet-nginx-amd64:latest"
    echo e2e-test-images/httpd:2.4.39-4 e2e-test-images/nonewprivs:1.3
    for v in 3.6 3.7 3.8 3.9 3.10; do echo "pause:$v"; done
    for n in "${TEST_IMAGES[@]}"; do echo "$CRI_TOOLS/$n:latest"; done
    echo "$CRI_TOOLS/test-image-tag:test" "$CRI_TOOLS/test-image-tag:all"
    echo "$CRI_TOOLS/test-image-tags:1" "$CRI_TOOLS/test-image-tags:2" "$CRI_TOOLS/test-image-tags:3"
    for n in "${!USER_IMAGES[@]}"; do echo "$CRI_TOOLS/$n:latest"; done
    echo "$CRI_TOOLS/test-image-predefined-group:latest"
  } | tr ' ' '\n' | sort
  exit 0
fi

[[ $REG == 127.0.0.1:* ]] || die "only 127.0.0.1 registries are allowed: $REG"
for t in tar gzip sha256sum curl ldd; do
  command -v "$t" >/dev/null || die "$t not found"
done

# find_bin NAME GIVEN: the path of our static helper NAME.
find_bin() {
  local name=$1 given=$2 c
  if [[ -n $given ]]; then
    [[ -f $given && -x $given ]] || die "$name binary $given is not an executable file"
    echo "$given"
    return
  fi
  for c in "$here/../images/$name" "$here/../../bazel-bin/e2e/images/$name"; do
    if [[ -f $c && -x $c ]]; then echo "$c"; return; fi
  done
  die "no $name binary: build it (bazel build //e2e/images:$name) and pass --$name PATH or CRITEST_${name^^}=PATH"
}
PAUSE_BIN=$(find_bin pause "$PAUSE_BIN")
NNP_BIN=$(find_bin nonewprivs "$NNP_BIN")
BUSYBOX=${CRITEST_BUSYBOX:-/var/cache/ocid-debs/busybox/root/bin/busybox}
[[ -f $BUSYBOX && -x $BUSYBOX ]] ||
  die "no dynamic busybox at $BUSYBOX: run ci/setup.sh (it unpacks Debian's busybox there) or set CRITEST_BUSYBOX"
# busybox-static would run `ls` inside sh, and its binary needs no libc.
[[ $(ldd "$BUSYBOX" 2>/dev/null || true) == *libc.so* ]] ||
  die "$BUSYBOX is not a dynamically linked busybox (busybox-static's sh runs applets in-process)"
IPCS=${CRITEST_IPCS:-/usr/bin/ipcs}
[[ -f $IPCS && -x $IPCS ]] || die "no ipcs at $IPCS (util-linux) or set CRITEST_IPCS"

case $(uname -m) in
  x86_64) ARCH=amd64 ;;
  aarch64) ARCH=arm64 ;;
  *) die "unsupported host arch $(uname -m)" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/ocid-critest-images.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
trap 'exit 130' INT TERM HUP
export TMPDIR=$work
L=$work/layout
oci_init "$L"
t0=$SECONDS
PUSHED=()   # "NAME:TAG DIGEST"

# push NAME TAG...: pushes the image last committed (OCI_MANIFEST_DIGEST).
push() {
  local name=$1 tag
  shift
  reg_push_image "$L" "$REG" "$name" "$OCI_MANIFEST_DIGEST" "$@" || die "pushing $name failed"
  for tag in "$@"; do PUSHED+=("$name:$tag $OCI_MANIFEST_DIGEST"); done
}

stage() { # stage NAME: sets D to a fresh empty staging dir
  D=$work/stage-$1
  rm -rf -- "$D"
  mkdir -p -- "$D"
}

# put_script DEST: writes stdin to DEST, mode 0755.
put_script() {
  mkdir -p -- "$(dirname -- "$1")"
  cat >"$1"
  chmod 0755 "$1"
}

# copy_libs ROOT ELF...: copies the shared libraries (and the loader) the ELF
# files need to the same paths under ROOT.
copy_libs() {
  local root=$1 lib
  shift
  for lib in $(ldd "$@" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u); do
    mkdir -p -- "$root$(dirname -- "$lib")"
    cp -L -- "$lib" "$root$lib"
  done
}

# image_begin_on_base: a new image whose first layer is the busybox base.
image_begin_on_base() {
  oci_image_begin
  oci_image_reuse_layer "${BASE[@]}" "busybox rootfs (critest stand-in)"
}

# reset_config: back to the default config (Cmd sh, Env PATH).
reset_config() {
  unset OCI_IMG_CMD OCI_IMG_ENV OCI_IMG_ENTRYPOINT OCI_IMG_USER OCI_IMG_STOPSIGNAL OCI_IMG_PORTS
}

# add_marker_layer NAME PATH: adds a layer holding the empty file PATH.
add_marker_layer() {
  stage "marker-$1"
  mkdir -p -- "$D/$(dirname -- "$2")"
  : >"$D/$2"
  oci_image_add_layer "$L" "$D" gzip "add $2"
}

# Like busybox's official image.
PASSWD=(
  'root:x:0:0:root:/root:/bin/sh'
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false'
  'bin:x:2:2:bin:/bin:/bin/false'
  'sys:x:3:3:sys:/dev:/bin/false'
  'sync:x:4:100:sync:/bin:/bin/sync'
  'mail:x:8:8:mail:/var/spool/mail:/bin/false'
  'www-data:x:33:33:www-data:/var/www:/bin/false'
  'operator:x:37:37:Operator:/var:/bin/false'
  'nobody:x:65534:65534:nobody:/home:/bin/false'
)
GROUP=(
  'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:'
  'disk:x:6:' 'lp:x:7:' 'mail:x:8:' 'kmem:x:9:' 'wheel:x:10:' 'cdrom:x:11:'
  'dialout:x:18:' 'floppy:x:19:' 'video:x:28:' 'audio:x:29:' 'tape:x:32:'
  'www-data:x:33:' 'operator:x:37:' 'utmp:x:43:' 'plugdev:x:46:' 'staff:x:50:'
  'lock:x:54:' 'netdev:x:82:' 'users:x:100:' 'nogroup:x:65534:'
)
PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# --- the busybox base layer ------------------------------------------------------
stage base; R=$D
mkdir -p "$R"/{bin,etc,home,root,proc,sys,dev,tmp,usr/bin,usr/sbin,var/run,var/www}
chmod 0700 "$R/root"
chmod 1777 "$R/tmp"
cp -- "$BUSYBOX" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"
# Hard links, not symlinks: a runtime masking /bin/ls mounts over that one
# name; through a symlink it would mask /bin/busybox, i.e. every applet.
"$R/bin/busybox" --install "$R/bin"
cp -- "$IPCS" "$R/usr/bin/ipcs"
copy_libs "$R" "$R/bin/busybox" "$R/usr/bin/ipcs"
# Neither busybox build has pgrep; critest runs `pgrep sleep || true` and
# wants no output at all when no sleep is left.
put_script "$R/bin/pgrep" <<'EOF'
#!/bin/sh
# pgrep PATTERN: the PIDs of the processes whose name matches the extended
# regular expression PATTERN, except this one (procps' pgrep with no options).
# Exits 1 when none matches.
if [ $# -ne 1 ]; then
  echo "usage: pgrep PATTERN" >&2
  exit 2
fi
for d in /proc/[0-9]*; do
  { read -r comm <"$d/comm"; } 2>/dev/null && echo "${d#/proc/} $comm"
done | awk -v self="$$" -v pat="$1" '
  $1 != self && substr($0, index($0, " ") + 1) ~ pat { print $1; n++ }
  END { exit n ? 0 : 1 }'
EOF
printf '%s\n' "${PASSWD[@]}" >"$R/etc/passwd"
printf '%s\n' "${GROUP[@]}" >"$R/etc/group"
# glibc's lookups (busybox's id -nu, ls -l) read these, not NIS or systemd.
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' >"$R/etc/nsswitch.conf"
printf '%s\n' 'root:*:19000:0:99999:7:::' >"$R/etc/shadow"
chmod 0640 "$R/etc/shadow"
oci_add_layer "$L" "$R" gzip
BASE=("$OCI_LAYER_MT" "$OCI_DIGEST" "$OCI_SIZE" "$OCI_DIFFID")
rm -rf -- "$R"

reset_config
image_begin_on_base
oci_image_commit "$L" "" "$ARCH" linux
push e2e-test-images/busybox 1.29-2 1.29-4
push library/busybox 1.28 latest
push busybox latest

# --- public.ecr.aws/docker/library/busybox: 5 distinct ones ---------------------
for v in "${BUSYBOX_VARIANTS[@]}"; do
  image_begin_on_base
  stage "variant-$v"
  mkdir -p "$D/etc"
  printf '%s\n' "$v" >"$D/etc/critest-variant"
  oci_image_add_layer "$L" "$D" gzip "busybox variant $v"
  oci_image_commit "$L" "" "$ARCH" linux
  push docker/library/busybox "$v"
done

# --- nginx (and hostnet-nginx) ------------------------------------------------------
# critest finds nginx by its process name (pidof nginx), by "master process"
# in PID 1's cmdline (ContainerPID) and by /var/run/nginx.pid (HostPID). The
# master is a shell running as busybox under the name nginx (a symlink's
# name is the process name); it forwards SIGQUIT/SIGTERM/SIGINT to its one
# worker, busybox httpd, also named nginx.
stage nginx; d=$D
mkdir -p "$d/usr/lib/nginx" "$d/usr/share/nginx/html" "$d/var/run" "$d/var/log/nginx"
ln -s /bin/busybox "$d/usr/lib/nginx/nginx"
put_script "$d/usr/sbin/nginx" <<'EOF'
#!/bin/sh
# Stand-in for `nginx -g 'daemon off;'` (critest images): becomes the
# "nginx: master process" with this PID, which it leaves in /var/run/nginx.pid.
echo $$ >/var/run/nginx.pid
exec -a "busybox nginx: master process nginx $*" /usr/lib/nginx/nginx sh /usr/lib/nginx/master.sh
EOF
put_script "$d/usr/lib/nginx/master.sh" <<'EOF'
# The stand-in nginx master: one busybox httpd worker on $NGINX_PORT (80),
# stopped on SIGQUIT (nginx's graceful stop), SIGTERM or SIGINT.
(exec -a "busybox nginx: worker process" /usr/lib/nginx/nginx httpd -f -p "${NGINX_PORT:-80}" -h /usr/share/nginx/html) &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker"; rm -f /var/run/nginx.pid; exit 0' QUIT TERM INT
wait "$worker"
EOF
chmod 0644 "$d/usr/lib/nginx/master.sh"
printf '%s\n' '<!DOCTYPE html>' '<html><head><title>Welcome to nginx!</title></head>' \
  '<body><h1>Welcome to nginx!</h1><p>(ocid critest stand-in)</p></body></html>' \
  >"$d/usr/share/nginx/html/index.html"
oci_add_layer "$L" "$d" gzip
NGINX=("$OCI_LAYER_MT" "$OCI_DIGEST" "$OCI_SIZE" "$OCI_DIFFID")

image_begin_on_base
oci_image_reuse_layer "${NGINX[@]}" "nginx stand-in"
OCI_IMG_CMD=(nginx -g "daemon off;") OCI_IMG_STOPSIGNAL=SIGQUIT OCI_IMG_PORTS=(80/tcp)
oci_image_commit "$L" "" "$ARCH" linux
push e2e-test-images/nginx 1.14-2 1.14-4

image_begin_on_base
oci_image_reuse_layer "${NGINX[@]}" "nginx stand-in"
OCI_IMG_ENV=("$PATH_ENV" NGINX_PORT=12003) OCI_IMG_PORTS=(12003/tcp)
oci_image_commit "$L" "" "$ARCH" linux
push "$CRI_TOOLS/hostnet-nginx-$ARCH" latest
reset_config

# --- httpd ----------------------------------------------------------------------------
stage httpd; d=$D
mkdir -p "$d/usr/local/apache2/htdocs"
put_script "$d/usr/local/apache2/bin/httpd-foreground" <<'EOF'
#!/bin/sh
# Stand-in for Apache httpd in the foreground (critest images): logs Apache's
# start lines, serves htdocs on :80 with busybox httpd, stops on SIGWINCH
# (httpd's graceful stop), SIGTERM or SIGINT.
echo "[mpm_event:notice] [pid $$:tid 1] AH00489: Apache/2.4.39 (Unix) configured -- resuming normal operations" >&2
echo "[core:notice] [pid $$:tid 1] AH00094: Command line: 'httpd -D FOREGROUND'" >&2
httpd -f -p 80 -h /usr/local/apache2/htdocs &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker"; exit 0' WINCH TERM INT
wait "$worker"
EOF
printf '%s\n' '<html><body><h1>It works!</h1></body></html>' >"$d/usr/local/apache2/htdocs/index.html"
image_begin_on_base
oci_image_add_layer "$L" "$d" gzip "httpd stand-in"
OCI_IMG_ENV=("PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
OCI_IMG_CMD=(httpd-foreground) OCI_IMG_STOPSIGNAL=SIGWINCH OCI_IMG_PORTS=(80/tcp)
oci_image_commit "$L" "" "$ARCH" linux
push e2e-test-images/httpd 2.4.39-4
reset_config

# --- nonewprivs ---------------------------------------------------------------------
stage nnp; d=$D
mkdir -p "$d/usr/local/bin"
cp -- "$NNP_BIN" "$d/usr/local/bin/nnp"
chmod 4755 "$d/usr/local/bin/nnp"
image_begin_on_base
oci_image_add_layer "$L" "$d" gzip "setuid-root nnp"
OCI_IMG_ENTRYPOINT=(/usr/local/bin/nnp) OCI_IMG_CMD=()
oci_image_commit "$L" "" "$ARCH" linux
push e2e-test-images/nonewprivs 1.3
reset_config

# --- pause ------------------------------------------------------------------------------
stage pause; d=$D
cp -- "$PAUSE_BIN" "$d/pause"
chmod 0755 "$d/pause"
oci_image_begin
oci_image_add_layer "$L" "$d" gzip "pause"
OCI_IMG_ENTRYPOINT=(/pause) OCI_IMG_CMD=() OCI_IMG_USER=65535:65535
oci_image_commit "$L" "" "$ARCH" linux
push pause 3.6 3.7 3.8 3.9 3.10
reset_config

# --- gcr.io/k8s-staging-cri-tools test images --------------------------------------
# Like upstream's image-test Dockerfile: busybox + an empty file named after
# the image (or tag), so that each has its own ID.
for n in "${TEST_IMAGES[@]}"; do
  image_begin_on_base
  add_marker_layer "$n" "$n"
  oci_image_commit "$L" "" "$ARCH" linux
  push "$CRI_TOOLS/$n" latest
done
for t in test all; do
  image_begin_on_base
  add_marker_layer "tag-$t" "$t"
  oci_image_commit "$L" "" "$ARCH" linux
  push "$CRI_TOOLS/test-image-tag" "$t"
done
image_begin_on_base
add_marker_layer same-image same-image
oci_image_commit "$L" "" "$ARCH" linux
push "$CRI_TOOLS/test-image-tags" 1 2 3

for n in "${!USER_IMAGES[@]}"; do
  image_begin_on_base
  OCI_IMG_USER=${USER_IMAGES[$n]}
  oci_image_commit "$L" "" "$ARCH" linux
  push "$CRI_TOOLS/$n" latest
done
reset_config

# Upstream: adduser -u 1000 -D default-user; addgroup -g 50000
# group-defined-in-image; addgroup default-user group-defined-in-image.
stage predefined-group; d=$D
mkdir -p "$d/etc" "$d/home/default-user"
printf '%s\n' "${PASSWD[@]}" 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >"$d/etc/passwd"
printf '%s\n' "${GROUP[@]}" 'default-user:x:1000:' 'group-defined-in-image:x:50000:default-user' >"$d/etc/group"
image_begin_on_base
oci_image_add_layer "$L" "$d" gzip "default-user in group-defined-in-image"
OCI_IMG_USER=1000
oci_image_commit "$L" "" "$ARCH" linux
push "$CRI_TOOLS/test-image-predefined-group" latest
reset_config

# --- summary -------------------------------------------------------------------------
for p in "${PUSHED[@]}"; do printf '%s/%s\n' "$REG" "$p"; done
echo "build_critest_images: ${#PUSHED[@]} tags pushed in $((SECONDS - t0)) s" >&2
