#!/usr/bin/env bash
# ocid's relative relocations are packed (DT_RELR, cmd/ocid/relr_abi.cc), and
# the loader accepts the binary: without the GLIBC_ABI_DT_RELR need it would
# refuse to start it.
set -euo pipefail
ocid=$1
readelf --dynamic "$ocid" | grep -q '(RELR)' || { echo "$ocid has no DT_RELR" >&2; exit 1; }
relative=$(readelf --relocs "$ocid" | grep -c R_X86_64_RELATIVE || true)
if ((relative > 100)); then
  echo "$ocid still has $relative R_X86_64_RELATIVE relocations in .rela.dyn" >&2
  exit 1
fi
"$ocid" --help >/dev/null || { echo "$ocid does not start" >&2; exit 1; }
