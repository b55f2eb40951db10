#!/usr/bin/env bash
# ocid must not link the libraries it loads on first use (libcurl, libarchive,
# gpgme, civetweb, OpenSSL: docs/ARCHITECTURE.md, "Build"), directly, through
# another library or from a static archive, nor any shared library but glibc's, nor export the static
# archives' symbols, nor contain the image puller, which runs in ocid-pull.
set -euo pipefail
ocid=$1
needed=$(readelf --dynamic "$ocid" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[[ -n $needed ]] || { echo "no NEEDED entries read from $ocid" >&2; exit 1; }
loaded=$(ldd "$ocid")
status=0
for lib in libcurl libarchive libgpgme libcivetweb libcrypto libssl; do
  if grep -q "^$lib\." <<<"$needed" || grep -q "$lib\." <<<"$loaded"; then
    echo "$ocid links $lib; it must be loaded on first use instead" >&2
    status=1
  fi
done
for lib in $needed; do
  case $lib in
    libc.so.6 | libm.so.6 | ld-linux-x86-64.so.2) ;;
    *)
      echo "$ocid needs $lib; only glibc's libraries may be shared" >&2
      status=1
      ;;
  esac
done
exported=$(readelf --wide --dyn-syms "$ocid" | awk '$7 != "UND" && $7 != "Ndx" && $8 != ""' | wc -l)
if ((exported > 50)); then
  echo "$ocid exports $exported symbols; the static archives' must stay local (--exclude-libs)" >&2
  status=1
fi
# Linked statically, OpenSSL's tables would still be relocated at every start.
# (No grep -q below: nm would die of SIGPIPE and pipefail hide the match.)
if nm "$ocid" | grep -E ' (OPENSSL_init_crypto|EVP_DigestInit_ex|SSL_CTX_new)$' >/dev/null; then
  echo "$ocid contains OpenSSL; it must be loaded on first use (pkg/crypto)" >&2
  status=1
fi
# Pulls run in ocid-pull (docs/ARCHITECTURE.md, "Images"): ocid must not
# even contain the puller.
if nm -C "$ocid" | grep ' ocid::ImagePuller::' >/dev/null; then
  echo "$ocid contains ImagePuller; pulls belong to ocid-pull" >&2
  status=1
fi
exit $status
