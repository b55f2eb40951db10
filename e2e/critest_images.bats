#!/usr/bin/env bats
# The critest stand-in images (registry/build_critest_images.sh): every tag
# critest v1.29 pulls is pushed, configs and IDs are as its specs expect, the
# programs in them behave (run chrooted in namespaces of the test's own, not
# through a runtime), the build is reproducible, and ocid pulls them under
# their public names through registries.conf prefix -> location rewrites.

load helpers

CRI_TOOLS=k8s-staging-cri-tools

setup_file() {
  ocid_setup
  export TEST_ROOT OCID_SOCKET OCIC_CONNECT
  local out
  out=$("$E2E_DIR/registry/start_registry.sh" 3>&-)
  eval "$out"
  export REGISTRY REGISTRY_PID REGISTRY_DIR
  local t0=$EPOCHREALTIME
  "$E2E_DIR/registry/build_critest_images.sh" "$REGISTRY" >"$TEST_ROOT/pushed.txt" 2>"$TEST_ROOT/build.log"
  printf '# build_critest_images.sh: %.1f s\n' "$(bc <<<"$EPOCHREALTIME - $t0")" >&3
  {
    echo 'unqualified-search-registries = ["docker.io"]'
    for prefix in registry.k8s.io gcr.io public.ecr.aws docker.io; do
      printf '\n[[registry]]\nprefix = "%s"\nlocation = "%s"\ninsecure = true\n' "$prefix" "$REGISTRY"
    done
  } >"$TEST_ROOT/registries.conf"
  mkdir -p "$TEST_ROOT/images"
}

teardown_file() {
  ocid_stop
  registry_teardown
  ocid_teardown
}

setup() {
  # shellcheck source=registry/oci_layout.bash
  source "$E2E_DIR/registry/oci_layout.bash"
}

# digest NAME:TAG: the manifest digest the registry serves.
digest() {
  reg_get_manifest "$REGISTRY" "${1%:*}" "${1##*:}" "$TEST_ROOT/m.json"
  [[ $REG_STATUS == 200 ]] || { echo "GET $1: HTTP $REG_STATUS" >&2; return 1; }
  echo "$REG_DIGEST"
}

# image_config NAME:TAG: the image's config JSON.
image_config() {
  local cfg
  digest "$1" >/dev/null
  cfg=$(json_digests "$TEST_ROOT/m.json" | head -n 1)
  reg_get_blob "$REGISTRY" "${1%:*}" "$cfg" "$TEST_ROOT/config.json"
  [[ $REG_STATUS == 200 ]] || return 1
  cat "$TEST_ROOT/config.json"
}

# rootfs NAME:TAG: unpacks the image's layers (ours have no whiteouts) into a
# fresh dir; prints it.
rootfs() {
  local dir d
  dir=$TEST_ROOT/images/$(tr '/:' '__' <<<"$1")
  rm -rf "$dir"
  mkdir -p "$dir/root"
  digest "$1" >/dev/null
  for d in $(json_digests "$TEST_ROOT/m.json" | tail -n +2); do
    reg_get_blob "$REGISTRY" "${1%:*}" "$d" "$dir/layer.tgz"
    tar -xzf "$dir/layer.tgz" -C "$dir/root"
  done
  rm -f "$dir/layer.tgz"
  echo "$dir/root"
}

# in_ctr ROOT [--userspec=UID:GID] CMD...: runs CMD chrooted in ROOT as PID 1
# of new PID and mount namespaces (with /proc and the host's /dev), like a
# container without a runtime.
in_ctr() {
  local root=$1
  local -a spec=()
  shift
  if [[ $1 == --userspec=* ]]; then
    spec=("$1")
    shift
  fi
  timeout 20 unshare -pf --mount-proc="$root/proc" \
    sh -c 'mount --rbind /dev "$0/dev" && exec chroot "$@"' "$root" "${spec[@]}" "$root" "$@"
}

# serve_check ROOT PORT STOPSIG CMD...: in a new network namespace (run it
# under unshare -n), starts CMD in ROOT as in_ctr does, then prints
# "http CODE" for GET / on 127.0.0.1:PORT, PID 1's comm and cmdline, what
# `pidof nginx` and /var/run/nginx.pid give inside, and whether PID 1 stopped
# within 5 s of STOPSIG.
serve_check() {
  local root=$1 port=$2 sig=$3 code ns init i
  shift 3
  set -m  # a background job's SIGQUIT would be ignored otherwise
  ip link set lo up
  unshare -pf --mount-proc="$root/proc" \
    sh -c 'mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"' "$root" "$@" \
    >"$root/../serve.log" 2>&1 &
  ns=$!
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/") || true
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  echo "http $code"
  init=$(pgrep -P "$ns")
  echo "comm $(cat "/proc/$init/comm")"
  echo "cmdline $(tr '\0' ' ' <"/proc/$init/cmdline")"
  echo "pidof $(nsenter -t "$init" -m -p -r /bin/pidof nginx 2>&1)"
  echo "pidfile $(nsenter -t "$init" -m -p -r /bin/cat /var/run/nginx.pid 2>&1)"
  kill "-$sig" "$init"
  for ((i = 0; i < 50; i++)); do
    kill -0 "$init" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$init" 2>/dev/null; then
    echo "stop: still running"
    kill -KILL "$init"
  else
    echo "stop: exited"
  fi
  wait "$ns" || true
  echo "log: $(cat "$root/../serve.log")"
}

# has_line PATTERN: some line of $output matches the glob PATTERN.
has_line() {
  local l
  for l in "${lines[@]}"; do
    # shellcheck disable=SC2053  # a glob on purpose
    [[ $l == $1 ]] && return 0
  done
  echo "no line matches: $1" >&2
  return 1
}

@test "every image critest pulls is pushed under its path" {
  local ref n=0
  for ref in $("$E2E_DIR/registry/build_critest_images.sh" - --list); do
    digest "$ref" >/dev/null
    grep -qF "$REGISTRY/$ref " "$TEST_ROOT/pushed.txt"
    n=$((n + 1))
  done
  [ "$n" -eq 35 ]
  # The default test image under the name the CRI suite's fixture uses.
  digest e2e-test-images/busybox:1.29-2
}

@test "image IDs: distinct where critest counts images, shared where it counts tags" {
  local a b c
  a=$(digest "$CRI_TOOLS/test-image-1:latest")
  b=$(digest "$CRI_TOOLS/test-image-2:latest")
  c=$(digest "$CRI_TOOLS/test-image-3:latest")
  [ "$a" != "$b" ] && [ "$b" != "$c" ] && [ "$a" != "$c" ]
  a=$(digest "$CRI_TOOLS/test-image-tags:1")
  [ "$a" = "$(digest "$CRI_TOOLS/test-image-tags:2")" ]
  [ "$a" = "$(digest "$CRI_TOOLS/test-image-tags:3")" ]
  [ "$(digest "$CRI_TOOLS/test-image-tag:test")" != "$(digest "$CRI_TOOLS/test-image-tag:all")" ]
  local v seen=""
  for v in 1 1-glibc 1-musl 1-uclibc 1.35.0-glibc; do
    a=$(digest "docker/library/busybox:$v")
    [[ $seen != *"$a"* ]]
    seen+=" $a"
  done
}

@test "configs: users, entrypoints, stop signals" {
  run image_config "$CRI_TOOLS/test-image-user-uid:latest"
  [[ $output == *'"User":"1002"'* ]]
  run image_config "$CRI_TOOLS/test-image-user-username:latest"
  [[ $output == *'"User":"www-data"'* ]]
  run image_config "$CRI_TOOLS/test-image-user-uid-group:latest"
  [[ $output == *'"User":"1003:1004"'* ]]
  run image_config "$CRI_TOOLS/test-image-user-username-group:latest"
  [[ $output == *'"User":"www-data:1004"'* ]]
  run image_config "$CRI_TOOLS/test-image-predefined-group:latest"
  [[ $output == *'"User":"1000"'* ]]
  run image_config pause:3.6
  [[ $output == *'"User":"65535:65535"'* && $output == *'"Entrypoint":["/pause"]'* ]]
  run image_config e2e-test-images/nginx:1.14-2
  [[ $output == *'"StopSignal":"SIGQUIT"'* && $output == *'"Cmd":["nginx","-g","daemon off;"]'* ]]
  run image_config "$CRI_TOOLS/hostnet-nginx-amd64:latest"
  [[ $output == *'NGINX_PORT=12003'* ]]
  run image_config e2e-test-images/nonewprivs:1.3
  [[ $output == *'"Entrypoint":["/usr/local/bin/nnp"]'* ]]
  run image_config e2e-test-images/busybox:1.29-2
  [[ $output == *'"Cmd":["sh"]'* && $output != *'"User"'* ]]
}

@test "busybox: sh execs programs, so a masked /bin/ls fails as critest expects" {
  local root
  root=$(rootfs e2e-test-images/busybox:1.29-2)
  # Hard links: masking one applet's name leaves busybox and sh alone.
  [ "$(stat -c %i "$root/bin/ls")" = "$(stat -c %i "$root/bin/sh")" ]
  [ ! -L "$root/bin/ls" ]
  run in_ctr "$root" /bin/sh -c 'ls /etc'
  [ "$status" -eq 0 ] && [[ $output == *passwd* ]]
  run unshare -m sh -c 'mount --bind /dev/null "$0/bin/ls" && exec chroot "$0" /bin/sh -c ls' "$root"
  [ "$status" -ne 0 ]
  [ "$output" = "/bin/sh: ls: Permission denied" ]
}

@test "busybox: the applets and users critest's specs use" {
  local root
  root=$(rootfs e2e-test-images/busybox:1.29-2)
  run in_ctr "$root" /bin/sh -c 'for a in ipcs pgrep pidof hostname id cat echo sleep top nc wget chmod ls mount grep ps netstat touch; do command -v $a >/dev/null || echo "missing $a"; done'
  [ "$status" -eq 0 ] && [ -z "$output" ]
  run in_ctr "$root" --userspec=65534:65534 /bin/id -nu
  [ "$output" = nobody ]
  run in_ctr "$root" --userspec=33:33 /bin/id -nu
  [ "$output" = www-data ]
  run in_ctr "$root" /bin/sh -c 'ipcs -m'
  [ "$status" -eq 0 ] && [[ $output == *"Shared Memory Segments"* ]]
  # critest: a killed exec'd sleep leaves `pgrep sleep || true` silent.
  # (The background child may not have exec'd sleep yet: look until it has.)
  run in_ctr "$root" /bin/sh -c 'sleep 100 & p=$!; n=0; while ! pgrep sleep >/dev/null && [ $n -lt 1000 ]; do n=$((n+1)); done; echo "before: $(pgrep sleep)"; kill $p; wait $p; echo "after: [$(pgrep sleep || true)]"'
  [ "$status" -eq 0 ]
  [[ $output =~ before:\ [0-9]+ ]]
  [[ $output == *"after: []"* ]]
}

@test "predefined-group: uid 1000 is in group 50000 of the image" {
  local root
  root=$(rootfs "$CRI_TOOLS/test-image-predefined-group:latest")
  run in_ctr "$root" /bin/id default-user
  [ "$output" = "uid=1000(default-user) gid=1000(default-user) groups=1000(default-user),50000(group-defined-in-image)" ]
}

@test "nginx: PID 1 is the master process named nginx, serves :80, stops on SIGQUIT" {
  local root
  root=$(rootfs e2e-test-images/nginx:1.14-2)
  run unshare -n bash -c "$(declare -f serve_check); serve_check \"\$@\"" _ \
    "$root" 80 QUIT env PATH=/usr/sbin:/usr/bin:/bin nginx -g 'daemon off;'
  echo "$output"
  has_line "http 200"
  has_line "comm nginx"
  has_line "cmdline busybox nginx: master process nginx -g daemon off;*"
  [[ $output =~ $'\n'pidof\ ([0-9]+\ )*1( [0-9]+)*$'\n' ]]
  has_line "pidfile 1"
  has_line "stop: exited"
}

@test "hostnet-nginx: serves :12003" {
  local root
  root=$(rootfs "$CRI_TOOLS/hostnet-nginx-amd64:latest")
  run unshare -n bash -c "$(declare -f serve_check); serve_check \"\$@\"" _ \
    "$root" 12003 QUIT env PATH=/usr/sbin:/usr/bin:/bin NGINX_PORT=12003 nginx -g 'daemon off;'
  echo "$output"
  has_line "http 200"
  has_line "stop: exited"
}

@test "httpd: logs the Apache command line, serves :80, stops on SIGWINCH" {
  local root
  root=$(rootfs e2e-test-images/httpd:2.4.39-4)
  run unshare -n bash -c "$(declare -f serve_check); serve_check \"\$@\"" _ \
    "$root" 80 WINCH /usr/local/apache2/bin/httpd-foreground
  echo "$output"
  has_line "http 200"
  has_line "stop: exited"
  [[ $output == *"AH00094: Command line: 'httpd -D FOREGROUND'"* ]]
}

@test "nonewprivs: setuid root takes effect unless no_new_privs is set" {
  local root
  root=$(rootfs e2e-test-images/nonewprivs:1.3)
  [ "$(stat -c %a:%u "$root/usr/local/bin/nnp")" = 4755:0 ]
  run in_ctr "$root" --userspec=1000:1000 /usr/local/bin/nnp
  [ "$output" = "Effective uid: 0" ]
  run setpriv --no-new-privs chroot --userspec=1000:1000 "$root" /usr/local/bin/nnp
  [ "$output" = "Effective uid: 1000" ]
}

@test "pause: waits as PID 1, reaps orphans, exits 0 on SIGTERM" {
  local root ns init i
  root=$(rootfs pause:3.10)
  [ "$(ls "$root")" = pause ]
  # The pause image has no shell: an orphan comes from a process that
  # nsenter starts inside and that leaves a child behind.
  mkdir "$root/proc"  # a runtime would make it
  set -m
  unshare -pf --mount-proc="$root/proc" chroot "$root" /pause >"$TEST_ROOT/pause.log" 2>&1 &
  ns=$!
  for ((i = 0; i < 50; i++)); do
    init=$(pgrep -P "$ns") && [ -n "$init" ] && break
    sleep 0.1
  done
  [ "$(cat "/proc/$init/comm")" = pause ]
  nsenter -t "$init" -p -m sh -c 'sleep 0.5 & exit 0'
  # The orphaned sleep is reparented to pause, then reaped when it exits
  # (a zombie would still be listed as its child).
  run pgrep -P "$init" sleep
  [ -n "$output" ]
  for ((i = 0; i < 30; i++)); do
    [ -z "$(pgrep -P "$init")" ] && break
    sleep 0.1
  done
  [ -z "$(pgrep -P "$init")" ]
  kill -TERM "$init"
  for ((i = 0; i < 50; i++)); do
    kill -0 "$init" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$init" 2>/dev/null; then
    kill -KILL "$init"
    false
  fi
  local rc=0
  wait "$ns" || rc=$?
  [ "$rc" -eq 0 ]
  grep -q "got signal 15" "$TEST_ROOT/pause.log"
}

@test "a second build pushes the same digests" {
  "$E2E_DIR/registry/build_critest_images.sh" "$REGISTRY" >"$TEST_ROOT/pushed2.txt" 2>/dev/null
  diff "$TEST_ROOT/pushed.txt" "$TEST_ROOT/pushed2.txt"
}

@test "ocid pulls them by their public names through prefix rewrites" {
  ocid_start --registries-conf "$TEST_ROOT/registries.conf"
  local ref
  for ref in registry.k8s.io/e2e-test-images/busybox:1.29-2 \
    gcr.io/k8s-staging-cri-tools/test-image-user-uid busybox \
    public.ecr.aws/docker/library/busybox:1-musl registry.k8s.io/pause:3.6; do
    run "$OCIC_BIN" image pull "$ref"
    [ "$status" -eq 0 ] || { echo "$ref: $output"; false; }
  done
  run "$OCIC_BIN" --output json image status gcr.io/k8s-staging-cri-tools/test-image-user-uid
  [[ $output == *'"value": "1002"'* ]]
  run "$OCIC_BIN" image status docker.io/library/busybox:latest
  [[ $output == *"ID: $(digest e2e-test-images/busybox:1.29-2 >/dev/null; json_digests "$TEST_ROOT/m.json" | head -n 1)"* ]]
  run "$OCIC_BIN" image list
  [[ $output == *registry.k8s.io/e2e-test-images/busybox* ]]
  [[ $output == *docker.io/library/busybox* ]]
  [[ $output == *registry.k8s.io/pause* ]]
}
