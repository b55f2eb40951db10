#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds ocid and ocic (optimized), installs
# them to /usr/local/bin and starts ocid with its default config in the
# background (log: /var/log/ocid/ocid.log). Run again to rebuild and restart.
# `ci/start.sh --foreground` runs ocid --debug in the terminal instead.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

if [[ $(id -u) != 0 ]]; then
  echo "start: run as root (ocid manages namespaces, mounts and cgroups)" >&2
  exit 1
fi

"$top/ci/setup.sh"
bazel build -c opt //cmd/ocid:all //cmd/ocic
bin=$(bazel info -c opt bazel-bin)
# ocid finds ocid-pinns, ocid-infra and ocid-pull beside itself.
for tool in ocid ocid-pinns ocid-infra ocid-pull; do
  install -m 0755 "$bin/cmd/ocid/$tool" "/usr/local/bin/$tool"
done
install -m 0755 "$bin/cmd/ocic/ocic" /usr/local/bin/ocic

# A default pod network when the machine has none: a bridge with host-local
# addresses, port mappings and loopback, and no masquerading to the outside.
if ! ls /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist /etc/cni/net.d/*.json >/dev/null 2>&1; then
  mkdir -p /etc/cni/net.d
  install -m 0644 "$top/ci/cni/10-ocid-bridge.conflist" /etc/cni/net.d/10-ocid-bridge.conflist
  echo "start: installed the default pod network /etc/cni/net.d/10-ocid-bridge.conflist"
fi

if [[ "${1:-}" == "--foreground" ]]; then
  exec /usr/local/bin/ocid --debug
fi

pidfile=/run/ocid-start.pid
if [[ -s $pidfile ]] && old=$(cat "$pidfile") && [[ "$(cat /proc/"$old"/comm 2>/dev/null)" == ocid ]]; then
  echo "start: stopping the ocid started before (pid $old)"
  kill -TERM "$old"
  for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
fi

mkdir -p /var/log/ocid
setsid /usr/local/bin/ocid </dev/null >>/var/log/ocid/ocid.log 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
for _ in $(seq 1 100); do
  if /usr/local/bin/ocic version >/dev/null 2>&1; then
    echo "start: ocid is running (pid $pid) on /run/ocid/ocid.sock; log /var/log/ocid/ocid.log"
    /usr/local/bin/ocic version
    echo "try: ocic info; stop it with: kill $pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "start: ocid did not come up; the end of its log:" >&2
tail -n 20 /var/log/ocid/ocid.log >&2
exit 1
