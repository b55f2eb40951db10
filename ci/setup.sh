#!/usr/bin/env bash
# Installs exactly the Debian packages pinned in third_party/debian-packages.lock.
# Idempotent: when every pinned version is already installed it only checks
# (well under 5 s) and touches nothing.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$top/third_party/debian-packages.lock"

declare -A want=()
order=()
while read -r name version _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  want[$name]=$version
  order+=("$name")
done <"$lock"

missing=()
for name in "${order[@]}"; do
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
  if [[ "$have" != "install ok installed ${want[$name]}" ]]; then
    missing+=("$name")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#order[@]} pinned packages are installed"
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
