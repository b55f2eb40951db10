#!/usr/bin/env bash
# Installs exactly the Debian packages pinned in third_party/debian-packages.lock.
# Entries marked "fetch" are not installed: their .deb is downloaded and
# unpacked under $OCID_DEB_CACHE/NAME/root (for files that test images need
# but that conflict with an installed package, e.g. the dynamic busybox).
# Idempotent: when every pinned version is already there it only checks
# (well under 5 s) and touches nothing.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$top/third_party/debian-packages.lock"

cache=${OCID_DEB_CACHE:-/var/cache/ocid-debs}

declare -A want=()
order=()
fetch=()
while read -r name version mode _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  want[$name]=$version
  if [[ "$mode" == fetch ]]; then fetch+=("$name"); else order+=("$name"); fi
done <"$lock"

# fetch_deb NAME: downloads NAME=want[NAME] and unpacks it (not installs it)
# into $cache/NAME/root, stamped with its version.
fetch_deb() {
  local name=$1 version=${want[$1]} dir=$cache/$1 deb
  rm -rf -- "$dir"
  mkdir -p -- "$dir"
  # As root, apt would try to drop to _apt, who cannot write here.
  if ! (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$name=$version" 2>/dev/null); then
    apt-get update -qq
    (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$name=$version") || {
      echo "setup: cannot download $name=$version; update third_party/debian-packages.lock" >&2
      return 1
    }
  fi
  deb=$(ls "$dir"/*.deb)
  dpkg-deb -x "$deb" "$dir/root"
  printf '%s\n' "$version" >"$dir/version"
}

for name in "${fetch[@]}"; do
  if [[ $(cat "$cache/$name/version" 2>/dev/null) != "${want[$name]}" ]]; then
    if [[ $(id -u) != 0 ]]; then
      echo "setup: must run as root to fetch $name into $cache" >&2
      exit 1
    fi
    echo "setup: fetching $name=${want[$name]} into $cache/$name"
    fetch_deb "$name"
  fi
done

missing=()
for name in "${order[@]}"; do
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
  if [[ "$have" != "install ok installed ${want[$name]}" ]]; then
    missing+=("$name")
  fi
done

# crun (the second runtime handler) refuses a hybrid cgroup layout unless the
# hugetlb controller is mounted as v1 at exactly this path; the tests run
# crun too, so this is part of the machine's setup, before any test.
if [[ $(id -u) == 0 && -d /sys/fs/cgroup/unified ]] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb ||
    echo "setup: cannot mount the hugetlb cgroup at /sys/fs/cgroup/hugetlb: crun will refuse this host" >&2
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#order[@]} pinned packages are installed${fetch[*]:+, ${#fetch[@]} fetched}"
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  echo "setup: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${#missing[@]} pinned packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

# Name the package whose pinned version the archive cannot give, before apt
# fails with a long resolver message.
for name in "${missing[@]}"; do
  if ! apt-cache madison "$name" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
    grep -qxF -- "${want[$name]}"; then
    available=$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/{print $2}')
    echo "setup: pinned package $name=${want[$name]} is not available" \
      "(the archive offers: ${available:-nothing}); update third_party/debian-packages.lock" >&2
    exit 1
  fi
done

specs=()
for name in "${missing[@]}"; do specs+=("$name=${want[$name]}"); done
apt-get install -y -qq --no-install-recommends --allow-downgrades "${specs[@]}" >/dev/null
echo "setup: done"
