// The libcurl functions the registry client calls, resolved from
// libcurl.so.<N> the first time one is needed: an idle ocid maps neither
// libcurl nor the TLS, Kerberos and LDAP libraries it brings.
#ifndef OCID_PKG_IMAGE_CURL_API_H_
#define OCID_PKG_IMAGE_CURL_API_H_

#include <curl/curl.h>

#include "absl/status/statusor.h"

namespace ocid {

// Each member has the type curl.h declares for curl_<member>. Calls through
// it skip curl's compile-time checks of setopt/getinfo arguments (they are
// macros around the linked functions), so pass the types curl documents.
struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// The table, with curl_global_init done; loaded once, thread-safe.
// FailedPrecondition "libcurl.so.4 cannot be loaded: ..." (or naming a
// missing symbol) when libcurl is not installed as the build expects.
absl::StatusOr<const CurlApi*> LoadCurl();

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_CURL_API_H_
